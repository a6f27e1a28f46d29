#pragma once
// JSON ping datagrams: the NMEA UDP port also takes a datagram holding the
// body of POST /api/v1/pings (one ping object or an array of them), for
// gateways that speak JSON but not HTTP. Pure: no socket, no clock.
//
//   JsonDatagramDecoder json(cfg.ingest_max_batch);   // one per UDP socket: reuses its buffers
//   if (is_json_datagram(d)) json.decode(d, out);      // else decode_nmea_datagram(d, out)
//
// Items are decoded exactly as the HTTP body (same fields, same reasons). A
// datagram that is not JSON, not an object or array, or holds more than
// max_batch pings is one `bad_format` rejection: there is nobody to answer.
#include <string>
#include <string_view>

#include "server/ingest/decoded.hpp"
#include "server/ingest/json_pings.hpp"

namespace pm {

// True when the first byte that is not a space, tab, CR or LF is '{' or '['
// (an NMEA datagram starts with '$', '!' or a '\' tag block).
[[nodiscard]] bool is_json_datagram(std::string_view datagram);

class JsonDatagramDecoder {
 public:
  explicit JsonDatagramDecoder(size_t max_batch) : max_batch_(max_batch) {}
  // Appends the datagram's pings and rejections to `out`, positions counting
  // on from out.items; device ids are copied into `out`.
  void decode(std::string_view datagram, DecodedPings& out);

 private:
  size_t max_batch_;
  std::string body_;     // in-situ parse buffer, reused across datagrams
  JsonPingBatch batch_;  // reused across datagrams
};

}  // namespace pm
