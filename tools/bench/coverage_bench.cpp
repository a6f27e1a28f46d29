// Patrol coverage accounting (geo/coverage.hpp): the historical report and
// the live cost per fix, at the scale issue 6 asks for.
//
//   coverage_bench                                  # all
//   coverage_bench --benchmark_filter=Historical    # 1,000 areas, 500 units, 8 h at 5 s
//
// Synthetic but shaped like a city: hot spots are 12-gons of 75-250 m radius
// scattered over a 13 km square around Leicester (EPSG:27700); units drive at
// 0-15 m/s with stops, one fix every 5 s. Seeds are fixed.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "geo/area_index.hpp"
#include "geo/coverage.hpp"
#include "geo/projection.hpp"

namespace {

using pm::geo::AreaIndex;
using pm::geo::AreaInput;
using pm::geo::CoverageAccumulator;
using pm::geo::LonLat;
using pm::geo::Projection;
using pm::geo::TimedXY;
using pm::geo::UnitTrack;
using pm::geo::XY;

constexpr double kMinX = 452000, kMinY = 297000, kSide = 13000;
constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kStep = 5'000;  // 5 s
constexpr std::int64_t kHours8 = 8 * 3'600'000;

const Projection& bng() {
  static const Projection p = *Projection::create();
  return p;
}

std::shared_ptr<const AreaIndex> hot_spots(int n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<AreaInput> in;
  for (int i = 0; i < n; ++i) {
    const double cx = kMinX + kSide * u(rng), cy = kMinY + kSide * u(rng), r = 75 + 175 * u(rng);
    AreaInput a;
    a.id = std::to_string(i);
    a.id.insert(0, 1, 'H');  // not "H" + to_string: GCC 12 -O3 -Wrestrict false positive
    std::vector<LonLat> ring;
    for (int k = 0; k < 12; ++k) {
      const double ang = 2 * M_PI * k / 12;
      const double rr = r * (0.7 + 0.3 * u(rng));  // irregular but star-shaped: valid
      ring.push_back(bng().inverse({cx + rr * std::cos(ang), cy + rr * std::sin(ang)}));
    }
    ring.push_back(ring.front());
    a.polygons.push_back({{ring}});
    in.push_back(std::move(a));
  }
  return std::make_shared<const AreaIndex>(AreaIndex::build(in, bng(), nullptr));
}

std::vector<UnitTrack> tracks(int units, std::int64_t duration_ms, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<UnitTrack> out;
  for (int k = 0; k < units; ++k) {
    UnitTrack tr{std::to_string(k), {}};
    tr.unit.insert(0, 1, 'U');
    XY p{kMinX + kSide * u(rng), kMinY + kSide * u(rng)};
    double heading = 2 * M_PI * u(rng), speed = 10;
    tr.fixes.reserve(static_cast<std::size_t>(duration_ms / kStep) + 1);
    for (std::int64_t t = 0; t <= duration_ms; t += kStep) {
      tr.fixes.push_back({kT0 + t, p});
      if (u(rng) < 0.02) speed = u(rng) < 0.3 ? 0 : 15 * u(rng);  // stop or drive
      heading += 0.3 * (u(rng) - 0.5);
      p.x += speed * 5 * std::cos(heading);
      p.y += speed * 5 * std::sin(heading);
      if (p.x < kMinX || p.x > kMinX + kSide) heading = M_PI - heading;
      if (p.y < kMinY || p.y > kMinY + kSide) heading = -heading;
      p.x = std::clamp(p.x, kMinX, kMinX + kSide);
      p.y = std::clamp(p.y, kMinY, kMinY + kSide);
    }
    out.push_back(std::move(tr));
  }
  return out;
}

std::vector<std::uint32_t> all(const AreaIndex& idx) {
  std::vector<std::uint32_t> v(idx.size());
  for (std::uint32_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

// The benchmark: 1,000 areas, 500 units, 8 hours at 5 s (2.9 M fixes).
void BM_HistoricalReport(benchmark::State& state) {
  static const auto idx = hot_spots(1000, 1);
  static const auto trs = tracks(500, kHours8, 2);
  const auto areas = all(*idx);
  std::size_t fixes = 0;
  for (const auto& t : trs) fixes += t.fixes.size();
  std::uint64_t visits = 0;
  const auto threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    auto r = pm::geo::compute_coverage(*idx, trs, areas, kT0, kT0 + kHours8, {}, threads);
    visits = 0;
    for (const auto& a : r) visits += a.visits;
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["fixes"] = static_cast<double>(fixes);
  state.counters["visits"] = static_cast<double>(visits);
  state.counters["fixes_per_s"] =
      benchmark::Counter(static_cast<double>(fixes), benchmark::Counter::kIsIterationInvariantRate);
}
// Arg: threads. CPU time is the whole process's (all threads).
BENCHMARK(BM_HistoricalReport)
    ->Arg(1)
    ->Arg(2)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3);

// Live: fixes of 500 units in arrival (time) order into an accumulator with
// 2,000 areas; the figure is per fix. `late` of every 100 fixes arrive 1-60 s
// late (out of order), splitting a stored segment.
void BM_LiveAddFix(benchmark::State& state) {
  static const auto idx = hot_spots(2000, 3);
  static const auto trs = tracks(500, 3'600'000, 4);
  const int late = static_cast<int>(state.range(0));
  struct Arrival {
    const std::string* unit;
    TimedXY f;
  };
  std::vector<Arrival> arrivals;
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> pct(0, 99);
  std::vector<std::pair<std::int64_t, Arrival>> keyed;
  for (const auto& t : trs) {
    for (const auto& f : t.fixes) {
      std::int64_t arrive = f.t_ms;
      if (pct(rng) < late) arrive += 1'000 + static_cast<std::int64_t>(pct(rng)) * 600;
      keyed.push_back({arrive, {&t.unit, f}});
    }
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& k : keyed) arrivals.push_back(k.second);
  auto acc = std::make_unique<CoverageAccumulator>(idx);
  std::size_t i = 0;
  for (auto _ : state) {
    if (i == arrivals.size()) {
      state.PauseTiming();
      acc = std::make_unique<CoverageAccumulator>(idx);
      i = 0;
      state.ResumeTiming();
    }
    const Arrival& a = arrivals[i++];
    benchmark::DoNotOptimize(acc->add_fix(*a.unit, a.f.t_ms, a.f.p));
  }
  state.counters["intervals"] = static_cast<double>(acc->interval_count());
}
BENCHMARK(BM_LiveAddFix)->Arg(0)->Arg(10)->Unit(benchmark::kNanosecond);

// Live report and overdue check over a filled accumulator (8 h, 500 units,
// 1,000 areas): what a dashboard refresh or the alert timer costs.
struct LiveFixture {
  std::shared_ptr<const AreaIndex> idx = hot_spots(1000, 1);
  CoverageAccumulator acc{idx};
  LiveFixture() {
    const auto trs = tracks(500, kHours8, 2);
    for (std::size_t k = 0; k < trs.front().fixes.size(); ++k)
      for (const auto& t : trs) acc.add_fix(t.unit, t.fixes[k].t_ms, t.fixes[k].p);
  }
};
const LiveFixture& live() {
  static const LiveFixture f;
  return f;
}

void BM_LiveReportAllAreas8h(benchmark::State& state) {
  const auto& f = live();
  const auto areas = all(*f.idx);
  for (auto _ : state) {
    auto r = f.acc.report(areas, kT0, kT0 + kHours8);
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["intervals"] = static_cast<double>(f.acc.interval_count());
}
BENCHMARK(BM_LiveReportAllAreas8h)->Unit(benchmark::kMillisecond);

void BM_LiveOverdueAllAreas(benchmark::State& state) {
  const auto& f = live();
  std::vector<pm::geo::GapTarget> targets;
  for (std::uint32_t a = 0; a < f.idx->size(); ++a) targets.push_back({a, 30});
  std::size_t n = 0;
  for (auto _ : state) {
    auto r = f.acc.overdue(targets, kT0, kT0 + kHours8);
    n = r.size();
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["overdue"] = static_cast<double>(n);
}
BENCHMARK(BM_LiveOverdueAllAreas)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
