#include "server/ingest/json_pings.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

using Value = rapidjson::Value;

// Optional numeric member: absent or null -> stays NaN. Wrong type -> false.
bool optional_number(const Value& obj, const char* name, float& out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return true;
  if (!it->value.IsNumber()) return false;
  out = static_cast<float>(it->value.GetDouble());
  return true;
}

Rejection decode_item(const Value& v, RawPing& p) {
  auto fail = [](Errc c, std::string_view why) { return Rejection{0, c, why}; };
  if (!v.IsObject()) return fail(Errc::bad_format, "item is not an object");
  auto dev = v.FindMember("device");
  if (dev == v.MemberEnd() || dev->value.IsNull()) return fail(Errc::missing_field, "device is required");
  if (!dev->value.IsString()) return fail(Errc::bad_format, "device must be a string");
  p.device = std::string_view(dev->value.GetString(), dev->value.GetStringLength());
  if (p.device.empty() || p.device.size() > 64) return fail(Errc::bad_format, "device must be 1..64 characters");
  for (char c : p.device)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return fail(Errc::bad_format, "device has control characters");

  auto t = v.FindMember("t");
  if (t == v.MemberEnd() || t->value.IsNull()) return fail(Errc::missing_field, "t is required");
  if (t->value.IsString()) {
    auto ms = parse_iso8601(std::string_view(t->value.GetString(), t->value.GetStringLength()));
    if (!ms) return fail(Errc::bad_format, "t is not an ISO 8601 UTC time");
    p.t = *ms;
  } else if (t->value.IsInt64()) {
    p.t = t->value.GetInt64();
  } else if (t->value.IsNumber()) {
    double d = t->value.GetDouble();
    if (!(d > -1e15 && d < 1e15)) return fail(Errc::bad_format, "t out of range");
    p.t = static_cast<EpochMs>(d);
  } else {
    return fail(Errc::bad_format, "t must be ISO 8601 or epoch milliseconds");
  }

  for (auto [name, out] : {std::pair{"lat", &p.lat}, std::pair{"lon", &p.lon}}) {
    auto m = v.FindMember(name);
    if (m == v.MemberEnd() || m->value.IsNull()) return fail(Errc::missing_field, "lat and lon are required");
    if (!m->value.IsNumber()) return fail(Errc::bad_format, "lat and lon must be numbers");
    *out = m->value.GetDouble();
  }
  if (!optional_number(v, "speed_mps", p.speed_mps)) return fail(Errc::bad_format, "speed_mps must be a number");
  if (!optional_number(v, "heading_deg", p.heading_deg)) return fail(Errc::bad_format, "heading_deg must be a number");
  if (!optional_number(v, "accuracy_m", p.accuracy_m)) return fail(Errc::bad_format, "accuracy_m must be a number");
  auto em = v.FindMember("emergency");
  if (em != v.MemberEnd() && !em->value.IsNull()) {
    if (!em->value.IsBool()) return fail(Errc::bad_format, "emergency must be true or false");
    p.emergency = em->value.GetBool();
  }
  return Rejection{0, Errc::kCount, {}};  // kCount: decoded
}

}  // namespace

std::optional<Error> decode_json_pings(std::string& body, size_t max_batch, JsonPingBatch& out) {
  out.clear();
  rapidjson::Document doc;
  // In-situ parsing: strings stay in `body`, no copies. Depth is bounded by
  // RapidJSON's iterative parser, so a hostile nesting cannot blow the stack.
  body.push_back('\0');
  // Not kParseFullPrecisionFlag: in Debian's RapidJSON 1.1.0 it reaches
  // DiyFp::Normalize with a zero mantissa ("0E82" -> clz(0), undefined
  // behaviour, found by the json_pings fuzz target). The default parser is
  // within one ULP, far below a millimetre.
  doc.ParseInsitu<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(body.data());
  if (doc.HasParseError())
    return Error{Errc::bad_format, std::string("body is not JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                                       " at offset " + std::to_string(doc.GetErrorOffset())};
  auto one = [&](const Value& v, uint32_t pos) {
    RawPing p;
    Rejection r = decode_item(v, p);
    if (r.code == Errc::kCount) {
      out.pings.push_back(p);
      out.positions.push_back(pos);
    } else {
      r.index = pos;
      out.rejections.push_back(r);
    }
  };
  if (doc.IsArray()) {
    if (doc.Size() > max_batch)
      return Error{Errc::batch_too_large, std::to_string(doc.Size()) + " pings; the limit is " + std::to_string(max_batch)};
    out.items = doc.Size();
    out.pings.reserve(doc.Size());
    out.positions.reserve(doc.Size());
    uint32_t i = 0;
    for (const auto& v : doc.GetArray()) one(v, i++);
  } else if (doc.IsObject()) {
    out.items = 1;
    one(doc, 0);
  } else {
    return Error{Errc::bad_format, "body must be a ping object or an array of them"};
  }
  return std::nullopt;
}

}  // namespace pm
