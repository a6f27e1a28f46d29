// libFuzzer target for the GPX import scanner (POST /api/v1/tracks/import
// bodies, hostile like any other socket input). Checks that an accepted body
// yields only points with lat/lon in range and a time, never more than the
// point limit, and that the counts it reports are bounded by the body.
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/gpx_fuzz.cpp \
//     server/replay/gpx.cpp server/core/errors.cpp server/core/time_format.cpp -o /tmp/gpx_fuzz
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/replay/gpx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMaxPoints = 64;
  pm::GpxTrack g;
  const auto err = pm::parse_gpx(body, g, kMaxPoints);
  if (err && err->empty()) __builtin_trap();  // a refusal always says why
  if (!err && g.points.empty()) __builtin_trap();
  if (g.points.size() > kMaxPoints) __builtin_trap();
  // Each point, skipped point and waypoint comes from its own tag of >= 6 bytes.
  if ((g.points.size() + g.skipped_no_time + g.ignored_waypoints) * 6 > size) __builtin_trap();
  for (const auto& p : g.points) {
    if (!(p.lat >= -90 && p.lat <= 90 && p.lon >= -180 && p.lon <= 180)) __builtin_trap();
    if (p.t < -100'000'000'000'000 || p.t > 300'000'000'000'000) __builtin_trap();
    if (!std::isnan(p.speed_mps) && !std::isfinite(p.speed_mps)) __builtin_trap();
  }
  return 0;
}
