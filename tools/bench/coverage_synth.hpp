#pragma once
// Synthetic patrol-coverage data shaped like a city, shared by the micro-benchmark
// (tools/bench/coverage_bench.cpp) and the end-to-end driver (tools/load/coverage_load.cpp)
// so both measure the same shapes and tracks:
//   - hot spots: irregular star-shaped 12-gons of 75-250 m radius scattered over a 13 km
//     square around Leicester (EPSG:27700 metres);
//   - units: drive at 0-15 m/s with stops (about 30 % of the time stationary), one fix
//     every 5 s, bouncing off the square's sides.
// Everything is a pure function of its seed (std::mt19937_64).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "geo/coverage.hpp"

namespace pm::bench {

inline constexpr double kSynthMinX = 452000, kSynthMinY = 297000, kSynthSide = 13000;
inline constexpr std::int64_t kSynthStepMs = 5'000;  // one fix every 5 s

struct SynthArea {
  std::string id;              // prefix + index: "H0", "H1", ...
  std::vector<geo::XY> ring;   // closed (last point == first), EPSG:27700
};

// n hot spots; ids are `prefix` followed by the index.
inline std::vector<SynthArea> synth_hot_spots(int n, unsigned seed, char prefix = 'H') {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<SynthArea> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double cx = kSynthMinX + kSynthSide * u(rng), cy = kSynthMinY + kSynthSide * u(rng), r = 75 + 175 * u(rng);
    SynthArea a;
    a.id = std::to_string(i);
    a.id.insert(0, 1, prefix);  // not prefix + to_string: GCC 12 -O3 -Wrestrict false positive
    for (int k = 0; k < 12; ++k) {
      const double ang = 2 * M_PI * k / 12;
      const double rr = r * (0.7 + 0.3 * u(rng));  // irregular but star-shaped: valid
      a.ring.push_back({cx + rr * std::cos(ang), cy + rr * std::sin(ang)});
    }
    a.ring.push_back(a.ring.front());
    out.push_back(std::move(a));
  }
  return out;
}

// `units` tracks "U0".. from t0_ms for duration_ms inclusive, one fix per kSynthStepMs.
inline std::vector<geo::UnitTrack> synth_tracks(int units, std::int64_t t0_ms, std::int64_t duration_ms,
                                                unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<geo::UnitTrack> out;
  out.reserve(static_cast<std::size_t>(units));
  for (int k = 0; k < units; ++k) {
    geo::UnitTrack tr{std::to_string(k), {}};
    tr.unit.insert(0, 1, 'U');
    geo::XY p{kSynthMinX + kSynthSide * u(rng), kSynthMinY + kSynthSide * u(rng)};
    double heading = 2 * M_PI * u(rng), speed = 10;
    tr.fixes.reserve(static_cast<std::size_t>(duration_ms / kSynthStepMs) + 1);
    for (std::int64_t t = 0; t <= duration_ms; t += kSynthStepMs) {
      tr.fixes.push_back({t0_ms + t, p});
      if (u(rng) < 0.02) speed = u(rng) < 0.3 ? 0 : 15 * u(rng);  // stop or drive
      heading += 0.3 * (u(rng) - 0.5);
      p.x += speed * 5 * std::cos(heading);
      p.y += speed * 5 * std::sin(heading);
      if (p.x < kSynthMinX || p.x > kSynthMinX + kSynthSide) heading = M_PI - heading;
      if (p.y < kSynthMinY || p.y > kSynthMinY + kSynthSide) heading = -heading;
      p.x = std::clamp(p.x, kSynthMinX, kSynthMinX + kSynthSide);
      p.y = std::clamp(p.y, kSynthMinY, kSynthMinY + kSynthSide);
    }
    out.push_back(std::move(tr));
  }
  return out;
}

}  // namespace pm::bench
