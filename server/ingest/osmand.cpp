#include "server/ingest/osmand.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

// Epoch milliseconds beyond this (year ~33658) are garbage, not a time; the
// bound keeps every later `t` arithmetic far from int64 overflow.
constexpr EpochMs kMaxEpochMs = 1'000'000'000'000'000;
// Traccar's rule: a whole number below Java's Integer.MAX_VALUE is seconds.
constexpr int64_t kSecondsBelow = 2147483647;
constexpr size_t kMaxDeviceLen = 64;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: '+' is a space, %HH a byte.
// A '%' without two hex digits makes the request undecodable (as in Netty's
// QueryStringDecoder, which Traccar uses).
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

// A decimal number as Java's Double.parseDouble reads the apps' values:
// surrounding blanks and a leading '+' allowed, nothing else around it.
bool parse_double(std::string_view s, double& out) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s.front() == '-') return false;
  }
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::general);
  return ec == std::errc() && end == s.data() + s.size();
}

// double -> float without relying on out-of-range conversion behaviour.
float to_float(double v) {
  if (std::isnan(v)) return kAbsent;
  constexpr double kMax = std::numeric_limits<float>::max();
  if (v > kMax) return std::numeric_limits<float>::infinity();
  if (v < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(v);
}

// The apps send -1 (iOS) or 0 (Traccar Client's accuracy for GPS fixes) for
// "not measured"; a negative speed or heading has no other meaning.
float non_negative_or_absent(double v) { return v >= 0.0 ? to_float(v) : kAbsent; }
float positive_or_absent(double v) { return v > 0.0 ? to_float(v) : kAbsent; }

std::optional<EpochMs> epoch_from_integer(int64_t v) {
  if (v < 0) return std::nullopt;
  EpochMs ms = v < kSecondsBelow ? v * 1000 : v;
  if (ms >= kMaxEpochMs) return std::nullopt;
  return ms;
}

// epoch seconds | epoch ms | ISO 8601 | "yyyy-MM-dd HH:mm:ss". A time without
// a zone is UTC: phones report UTC, and Traccar's own fallback uses the server
// zone, which a tracking server runs in UTC.
std::optional<EpochMs> parse_timestamp(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  bool all_digits = true;
  for (char c : s) all_digits = all_digits && c >= '0' && c <= '9';
  if (all_digits) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return epoch_from_integer(v);
  }
  if (auto t = parse_iso8601(s)) return t;
  if (s.size() > 40) return std::nullopt;
  std::string zoned(s);
  zoned.push_back('Z');
  return parse_iso8601(zoned);
}

// Same rule as the JSON ping channel: 1..64 bytes, no control characters.
const char* check_device(std::string_view id) {
  if (id.size() > kMaxDeviceLen) return "id must be 1..64 characters";
  for (char c : id)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "id has control characters";
  return nullptr;
}

struct QueryFields {
  std::string id, lat, lon, timestamp, speed, heading, accuracy, valid, alarm;
  bool has_id = false, has_lat = false, has_lon = false, has_timestamp = false, has_speed = false, has_heading = false,
       has_accuracy = false, has_valid = false, has_alarm = false, bad_location = false;
};

// Splits and decodes the parameters. Repeated keys: the last wins, as they
// overwrite one another in Traccar's decoder.
bool split_query(std::string_view q, QueryFields& f) {
  if (!q.empty() && q.front() == '?') q.remove_prefix(1);
  std::string key, value;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view raw_key = pair.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (!percent_decode(raw_key, key) || !percent_decode(raw_value, value)) return false;
    auto set = [&](std::string& field, bool& has) {
      field = value;
      has = true;
    };
    if (key == "id" || key == "deviceid") {
      set(f.id, f.has_id);
    } else if (key == "lat") {
      set(f.lat, f.has_lat);
    } else if (key == "lon") {
      set(f.lon, f.has_lon);
    } else if (key == "location") {
      size_t comma = value.find(',');
      if (comma == std::string::npos) {
        f.bad_location = true;
        continue;
      }
      size_t comma2 = value.find(',', comma + 1);  // anything after a second comma is ignored, as in Traccar
      f.lat = value.substr(0, comma);
      f.lon = value.substr(comma + 1, comma2 == std::string::npos ? std::string::npos : comma2 - comma - 1);
      f.has_lat = f.has_lon = true;
      f.bad_location = false;
    } else if (key == "timestamp") {
      set(f.timestamp, f.has_timestamp);
    } else if (key == "speed") {
      set(f.speed, f.has_speed);
    } else if (key == "bearing" || key == "heading") {
      set(f.heading, f.has_heading);
    } else if (key == "accuracy") {
      set(f.accuracy, f.has_accuracy);
    } else if (key == "valid") {
      set(f.valid, f.has_valid);
    } else if (key == "alarm") {
      set(f.alarm, f.has_alarm);
    }
  }
  return true;
}

// Decodes one request's parameters into `p`; Errc::kCount means decoded.
Rejection decode_query_item(std::string_view query, EpochMs now, DecodedPings& out, RawPing& p) {
  auto fail = [](Errc c, std::string_view why) { return Rejection{0, c, why}; };
  QueryFields f;
  if (!split_query(query, f)) return fail(Errc::bad_format, "query is not valid percent-encoding");
  if (!f.has_id || f.id.empty()) return fail(Errc::missing_field, "id is required");
  if (const char* why = check_device(f.id)) return fail(Errc::bad_format, why);

  if (f.has_valid) {
    if (iequals(trim(f.valid), "false") || trim(f.valid) == "0")
      return fail(Errc::no_fix, "the device reports valid=false");
    if (!iequals(trim(f.valid), "true") && trim(f.valid) != "1")
      return fail(Errc::bad_format, "valid must be true, false, 1 or 0");
  }
  if (f.has_timestamp) {
    auto t = parse_timestamp(f.timestamp);
    if (!t) return fail(Errc::bad_format, "timestamp is not epoch seconds, epoch milliseconds or ISO 8601");
    p.t = *t;
  } else {
    p.t = now;
  }
  if (f.bad_location) return fail(Errc::bad_format, "location must be lat,lon");
  if (!f.has_lat || !f.has_lon) return fail(Errc::missing_field, "lat and lon (or location) are required");
  if (!parse_double(f.lat, p.lat) || !parse_double(f.lon, p.lon))
    return fail(Errc::bad_format, "lat and lon must be decimal degrees");
  double v = 0;
  if (f.has_speed) {
    if (!parse_double(f.speed, v)) return fail(Errc::bad_format, "speed must be a number (knots)");
    p.speed_mps = v >= 0.0 ? to_float(v * kMpsPerKnot) : kAbsent;
  }
  if (f.has_heading) {
    if (!parse_double(f.heading, v)) return fail(Errc::bad_format, "bearing must be a number (degrees)");
    p.heading_deg = non_negative_or_absent(v);
  }
  if (f.has_accuracy) {
    if (!parse_double(f.accuracy, v)) return fail(Errc::bad_format, "accuracy must be a number (metres)");
    p.accuracy_m = positive_or_absent(v);
  }
  p.emergency = f.has_alarm && iequals(trim(f.alarm), "sos");
  p.device = out.keep(f.id);
  return Rejection{0, Errc::kCount, {}};  // kCount: decoded
}

using Value = rapidjson::Value;

const Value* member(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string_view str(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

// Optional measurement in `coords`: absent/null stays absent; -1 (unknown) too.
bool json_measure(const Value& coords, const char* name, bool zero_is_absent, float& out) {
  const Value* v = member(coords, name);
  if (!v) return true;
  if (!v->IsNumber()) return false;
  double d = v->GetDouble();
  out = zero_is_absent ? positive_or_absent(d) : non_negative_or_absent(d);
  return true;
}

Rejection decode_json_location(const Value& loc, RawPing& p) {
  auto fail = [](Errc c, std::string_view why) { return Rejection{0, c, why}; };
  if (!loc.IsObject()) return fail(Errc::bad_format, "location must be an object");
  const Value* ts = member(loc, "timestamp");
  if (!ts) return fail(Errc::missing_field, "location.timestamp is required");
  std::optional<EpochMs> t;
  if (ts->IsString()) {
    t = parse_timestamp(str(*ts));
  } else if (ts->IsInt64()) {
    t = epoch_from_integer(ts->GetInt64());
  }
  if (!t) return fail(Errc::bad_format, "location.timestamp must be ISO 8601");
  p.t = *t;

  const Value* coords = member(loc, "coords");
  if (!coords) return fail(Errc::missing_field, "location.coords is required");
  if (!coords->IsObject()) return fail(Errc::bad_format, "location.coords must be an object");
  const Value* lat = member(*coords, "latitude");
  const Value* lon = member(*coords, "longitude");
  if (!lat || !lon) return fail(Errc::missing_field, "coords.latitude and coords.longitude are required");
  if (!lat->IsNumber() || !lon->IsNumber())
    return fail(Errc::bad_format, "coords.latitude and longitude must be numbers");
  p.lat = lat->GetDouble();
  p.lon = lon->GetDouble();
  // The SDK reports speed in m/s (not knots as the query form does).
  if (!json_measure(*coords, "speed", false, p.speed_mps))
    return fail(Errc::bad_format, "coords.speed must be a number");
  if (!json_measure(*coords, "heading", false, p.heading_deg))
    return fail(Errc::bad_format, "coords.heading must be a number");
  if (!json_measure(*coords, "accuracy", true, p.accuracy_m))
    return fail(Errc::bad_format, "coords.accuracy must be a number");

  if (const Value* extras = member(loc, "extras"); extras && extras->IsObject()) {
    const Value* alarm = member(*extras, "alarm");
    p.emergency = alarm && alarm->IsString() && iequals(trim(str(*alarm)), "sos");
  }
  return Rejection{0, Errc::kCount, {}};
}

}  // namespace

void decode_osmand_query(std::string_view query, EpochMs now, DecodedPings& out) {
  RawPing p;
  Rejection r = decode_query_item(query, now, out, p);
  if (r.code == Errc::kCount) {
    out.add(p);
  } else {
    out.reject(r.code, r.detail);
  }
}

std::optional<Error> decode_traccar_json(std::string& body, DecodedPings& out, size_t max_batch) {
  rapidjson::Document doc;
  // In-situ parsing as the JSON ping channel does; the iterative parser keeps
  // hostile nesting off the stack.
  body.push_back('\0');
  doc.ParseInsitu<rapidjson::kParseIterativeFlag>(body.data());
  if (doc.HasParseError())
    return Error{Errc::bad_format, std::string("body is not JSON: ") +
                                       rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                                       std::to_string(doc.GetErrorOffset())};
  if (!doc.IsObject()) return Error{Errc::bad_format, "body must be a Traccar Client location object"};
  const Value* loc = member(doc, "location");
  if (loc && loc->IsArray() && loc->Size() > max_batch)
    return Error{Errc::batch_too_large,
                 std::to_string(loc->Size()) + " locations; the limit is " + std::to_string(max_batch)};

  // The device id is shared by every location of the body.
  std::string id_text;
  Rejection device_problem{0, Errc::kCount, {}};
  const Value* dev = member(doc, "device_id");
  if (!dev) {
    device_problem = {0, Errc::missing_field, "device_id is required"};
  } else if (dev->IsString()) {
    id_text.assign(dev->GetString(), dev->GetStringLength());
  } else if (dev->IsUint64()) {  // a numeric id from a hand-written client; the id's text is what matters
    id_text = std::to_string(dev->GetUint64());
  } else {
    device_problem = {0, Errc::bad_format, "device_id must be a string"};
  }
  if (device_problem.code == Errc::kCount) {
    if (id_text.empty()) {
      device_problem = {0, Errc::missing_field, "device_id is required"};
    } else if (const char* why = check_device(id_text)) {
      device_problem = {0, Errc::bad_format, why};
    }
  }

  auto one = [&](const Value& v) {
    if (device_problem.code != Errc::kCount) {
      out.reject(device_problem.code, device_problem.detail);
      return;
    }
    RawPing p;
    Rejection r = decode_json_location(v, p);
    if (r.code != Errc::kCount) {
      out.reject(r.code, r.detail);
      return;
    }
    p.device = out.keep(id_text);
    out.add(p);
  };
  if (!loc) {
    out.reject(Errc::missing_field, "location is required");
  } else if (loc->IsArray()) {
    for (const auto& v : loc->GetArray()) one(v);
  } else {
    one(*loc);
  }
  return std::nullopt;
}

std::optional<Error> decode_osmand_request(std::string_view query, std::string& body, EpochMs now, DecodedPings& out,
                                           size_t max_batch) {
  std::string_view b = trim(body);
  if (!b.empty() && b.front() == '{') return decode_traccar_json(body, out, max_batch);
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  if (!query.empty()) {
    decode_osmand_query(query, now, out);
  } else if (!b.empty()) {
    decode_osmand_query(b, now, out);
  } else {
    out.reject(Errc::missing_field, "request has no parameters");
  }
  return std::nullopt;
}

}  // namespace pm
