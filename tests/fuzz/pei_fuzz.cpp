// libFuzzer target: the PEI stream decoder fed in pieces.
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/pei_fuzz.cpp \
//     server/ingest/lip.cpp server/core/errors.cpp server/core/time_format.cpp -o /tmp/pei_fuzz
//   /tmp/pei_fuzz -max_total_time=600 -rss_limit_mb=2048 corpus/
//
// The first two bytes seed the split sizes, the rest is the stream. Checks that
// the output does not depend on how the bytes were split (the stream is fed
// again whole and compared) and that every LIP report gave exactly one item.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/ingest/lip.hpp"

namespace {

constexpr pm::EpochMs kNow = 1795342503250;  // 2026-11-22T10:15:03.250Z

bool same(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }
// An emergency without a fix carries NaN lat/lon (RawPing::no_fix).
bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t state = (uint32_t{data[0]} << 8 | data[1]) * 2654435761u + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  pm::PeiStream split;
  pm::DecodedPings split_out;
  for (size_t i = 0; i < stream.size();) {
    state = state * 1664525u + 1013904223u;
    // Mostly short pieces (a serial port's reads), sometimes long ones.
    size_t n = (state >> 28) == 0 ? (state >> 8) % 2048 + 1 : (state >> 8) % 9 + 1;
    if (n > stream.size() - i) n = stream.size() - i;
    split.feed(stream.substr(i, n), kNow, split_out);
    i += n;
  }

  pm::PeiStream whole;
  pm::DecodedPings whole_out;
  whole.feed(stream, kNow, whole_out);

  const auto& a = split.counters();
  const auto& b = whole.counters();
  if (a.lines != b.lines || a.sds != b.sds || a.lip != b.lip || a.non_lip_sds != b.non_lip_sds ||
      a.oversized != b.oversized || a.bad_headers != b.bad_headers || a.orphan_headers != b.orphan_headers ||
      a.other_lines != b.other_lines || a.lip_other != b.lip_other || a.length_mismatch != b.length_mismatch)
    std::abort();
  if (split_out.items != a.lip || whole_out.items != b.lip) std::abort();
  if (split_out.pings.size() != whole_out.pings.size() || split_out.rejections.size() != whole_out.rejections.size())
    std::abort();
  for (size_t i = 0; i < split_out.pings.size(); ++i) {
    const pm::RawPing &x = split_out.pings[i], &y = whole_out.pings[i];
    if (x.device != y.device || x.t != y.t || !same(x.lat, y.lat) || !same(x.lon, y.lon) || !same(x.speed_mps, y.speed_mps) ||
        !same(x.heading_deg, y.heading_deg) || !same(x.accuracy_m, y.accuracy_m) || x.emergency != y.emergency ||
        x.no_fix != y.no_fix)
      std::abort();
    if (x.device.empty() || x.device.size() > 20) std::abort();
  }
  for (size_t i = 0; i < split_out.rejections.size(); ++i)
    if (split_out.rejections[i].code != whole_out.rejections[i].code ||
        split_out.rejections[i].index != whole_out.rejections[i].index)
      std::abort();
  return 0;
}
