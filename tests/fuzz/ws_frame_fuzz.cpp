// libFuzzer target for the live map's WebSocket frame reader (client to
// server, 64 KiB message limit) and the permessage-deflate offer parser.
// The input is read twice, whole and in pieces whose sizes come from the
// input itself; both must give the same events, within the limits.
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/ws_frame_fuzz.cpp \
//     server/net/ws_frame.cpp -lz -o /tmp/ws_frame_fuzz
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/net/ws_frame.hpp"

namespace {

struct Seen {
  int kind;
  std::string payload;
  uint16_t code;
  bool compressed;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> read_all(std::string_view wire, size_t step, bool deflate) {
  pm::ws::FrameReader r({4096, deflate});  // small limit: the fuzzer reaches it
  std::vector<Seen> out;
  size_t k = 0;
  while (!wire.empty()) {
    size_t n = step ? std::min(wire.size(), 1 + (step * ++k) % 13) : wire.size();
    std::string_view in = wire.substr(0, n);
    wire.remove_prefix(n);
    for (auto ev = r.next(in); ev.kind != pm::ws::Event::need_more; ev = r.next(in)) {
      if (ev.kind == pm::ws::Event::message && ev.payload.size() > 4096) __builtin_trap();
      if ((ev.kind == pm::ws::Event::ping || ev.kind == pm::ws::Event::pong) && ev.payload.size() > 125) __builtin_trap();
      out.push_back({ev.kind, std::string(ev.payload), ev.code, ev.compressed});
      if (ev.kind == pm::ws::Event::error) return out;
    }
    if (!in.empty()) __builtin_trap();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool deflate = data[0] & 1;
  const size_t step = data[0] >> 1;
  std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (read_all(wire, 0, deflate) != read_all(wire, step + 1, deflate)) __builtin_trap();
  if (auto a = pm::ws::negotiate_deflate(wire)) {
    if (a->response.rfind("permessage-deflate; server_no_context_takeover", 0) != 0) __builtin_trap();
  }
  pm::ws::Inflater inflater;
  std::string out;
  (void)inflater.inflate(wire, 4096, out);
  if (out.size() > 4096 + 16384) __builtin_trap();
  return 0;
}
