#include "server/ingest/json_datagram.hpp"

namespace pm {

bool is_json_datagram(std::string_view d) {
  for (char c : d) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

void JsonDatagramDecoder::decode(std::string_view datagram, DecodedPings& out) {
  body_.assign(datagram);
  if (auto err = decode_json_pings(body_, max_batch_, batch_)) {
    // The HTTP answer would carry err's message; a datagram has nobody to
    // answer, so it is one counted rejection with a fixed text.
    out.reject(Errc::bad_format, err->code == Errc::batch_too_large ? "datagram holds more pings than ingest.max_batch"
                                                                    : "datagram is not a JSON ping or array of pings");
    return;
  }
  const uint32_t base = out.items;
  for (size_t i = 0; i < batch_.pings.size(); ++i) {
    RawPing p = batch_.pings[i];
    p.device = out.keep(p.device);  // the view into body_ dies with the next datagram
    out.pings.push_back(p);
    out.positions.push_back(base + batch_.positions[i]);
  }
  for (Rejection r : batch_.rejections) {
    r.index += base;
    out.rejections.push_back(r);
  }
  out.items = base + static_cast<uint32_t>(batch_.items);
}

}  // namespace pm
