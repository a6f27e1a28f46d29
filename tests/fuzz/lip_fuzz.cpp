// libFuzzer target: LIP payload decoding and the UDP datagram form.
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/lip_fuzz.cpp \
//     server/ingest/lip.cpp server/core/errors.cpp server/core/time_format.cpp -o /tmp/lip_fuzz
//   /tmp/lip_fuzz -max_total_time=600 -rss_limit_mb=2048 corpus/
//
// The input is used as it is (hex or garbage) for decode_lip and as a datagram;
// every decoded report also goes through lip_to_ping at a few `now` values
// around month and year ends, where the time-of-position arithmetic wraps.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/ingest/lip.hpp"

namespace {

// 2026-11-30T23:59:59.999Z, 2027-01-01T00:00:00.000Z, 2028-02-29T12:00:00.000Z, 1970-01-01
constexpr pm::EpochMs kNows[] = {1796083199999, 1798761600000, 1835438400000, 0};

void check(const pm::LipReport& r) {
  // Decoded values must be in range whatever the bits were.
  if (!(r.lat >= -90.0 && r.lat < 90.0) || !(r.lon >= -180.0 && r.lon < 180.0)) std::abort();
  if (!std::isnan(r.heading_deg) && !(r.heading_deg >= 0.f && r.heading_deg < 360.f)) std::abort();
  if (!std::isnan(r.speed_mps) && !(r.speed_mps >= 0.f)) std::abort();
  if (!std::isnan(r.accuracy_m) && !(r.accuracy_m > 0.f)) std::abort();
  if (r.emergency && r.reason != 2) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  (void)pm::classify_lip(input);
  auto report = pm::decode_lip(input);
  if (report) {
    check(*report);
    for (pm::EpochMs now : kNows) {
      pm::EpochMs t = pm::lip_fix_time(*report, now);
      // Never more than a day ahead, never more than ~3 months back.
      if (t > now + 86'400'000 || t < now - 93LL * 86'400'000) std::abort();
      pm::DecodedPings out;
      pm::lip_to_ping(*report, "2001234", now, out);
      if (out.items != 1) std::abort();
    }
  }

  pm::DecodedPings out;
  pm::decode_lip_datagram(input, kNows[0], out);
  if (out.items != 1 || out.pings.size() + out.rejections.size() != 1) std::abort();
  return 0;
}
