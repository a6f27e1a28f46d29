#pragma once
// Decodes the OsmAnd protocol, as sent by the OsmAnd app's online tracking and
// by Traccar Client (GET or POST /osmand): one ping per request.
//
//   DecodedPings out;
//   // GET /osmand?id=123456&timestamp=1609459200&lat=52.6703&lon=-0.7277&speed=10.0&bearing=270
//   decode_osmand_query("id=123456&timestamp=1609459200&lat=52.6703&lon=-0.7277&speed=10.0", now, out);
//   // out.pings[0]: device "123456", t 1609459200000, speed_mps 5.144 (the app sends knots)
//
//   // Traccar Client 9+ POSTs the JSON of its background-location SDK instead:
//   std::string body = R"({"location":{"timestamp":"2021-01-01T00:00:00.000Z",
//                          "coords":{"latitude":52.67,"longitude":-0.73,"speed":5.1}},"device_id":"48241179"})";
//   if (auto err = decode_traccar_json(body, out)) { /* 400 with err->text() */ }
//
//   // Or let the request decide, as Traccar's server does:
//   auto err = decode_osmand_request(target_query, body, now, out);
//
// Wire facts (Traccar's OsmAnd documentation and OsmAndProtocolDecoder, Traccar
// Client's ProtocolFormatter and location template):
// - `id` or `deviceid` names the device; `lat`+`lon` or `location=lat,lon`;
//   `timestamp` is epoch seconds when below 2^31-1, else epoch milliseconds, or
//   ISO 8601, or "yyyy-MM-dd HH:mm:ss" (a time without a zone is taken as UTC);
//   `speed` is in knots; `bearing` or `heading` in degrees; `accuracy` in metres
//   (Traccar Client sends 0 for GPS fixes, meaning "not reported");
//   `valid=false|0` means no fix; `alarm=sos` is the app's SOS button.
// - The JSON form has `device_id` at the root and `location` (one object, or an
//   array when the SDK batches) with an ISO `timestamp` and `coords` whose
//   `speed` is already m/s; -1 means "unknown" for speed, heading and accuracy.
//   The SOS button puts `"alarm":"sos"` in `location.extras`.
// Parameters this server has no use for (altitude, batt, hdop, cell, wifi, ...)
// are ignored, so a garbled battery level never costs a position fix.
#include <optional>
#include <string>
#include <string_view>

#include "server/core/clock.hpp"
#include "server/core/errors.hpp"
#include "server/ingest/decoded.hpp"

namespace pm {

// Speed conversion of the query form: 1 knot = 1852 m per hour.
constexpr double kMpsPerKnot = 1852.0 / 3600.0;

// One request's parameters ("a=1&b=2", a leading '?' allowed; the query string
// or an application/x-www-form-urlencoded body). Appends exactly one item to
// `out`: a ping or a rejection. `now` stands in for a missing timestamp, as in
// Traccar (OsmAnd lets users edit the URL template and some drop {2}).
void decode_osmand_query(std::string_view query, EpochMs now, DecodedPings& out);

// Traccar Client's JSON body. Parses in place (`body` is modified; device ids
// are copied into `out`). Appends one item per location; returns an error,
// appending nothing, only when the body is not a JSON object or holds more than
// `max_batch` locations.
[[nodiscard]] std::optional<Error> decode_traccar_json(std::string& body, DecodedPings& out, size_t max_batch = 5000);

// Chooses the form like Traccar: a body starting with '{' is the JSON form;
// otherwise the query string when it has parameters, else the body as a form.
// A request carrying neither is one rejection (missing_field).
[[nodiscard]] std::optional<Error> decode_osmand_request(std::string_view query, std::string& body, EpochMs now,
                                                         DecodedPings& out, size_t max_batch = 5000);

}  // namespace pm
