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
#include "tools/bench/coverage_synth.hpp"

namespace {

using pm::geo::AreaIndex;
using pm::geo::AreaInput;
using pm::geo::CoverageAccumulator;
using pm::geo::LonLat;
using pm::geo::Projection;
using pm::geo::TimedXY;
using pm::geo::UnitTrack;
using pm::geo::XY;

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kHours8 = 8 * 3'600'000;

const Projection& bng() {
  static const Projection p = *Projection::create();
  return p;
}

std::shared_ptr<const AreaIndex> hot_spots(int n, unsigned seed) {
  std::vector<AreaInput> in;
  for (auto& s : pm::bench::synth_hot_spots(n, seed)) {
    AreaInput a;
    a.id = std::move(s.id);
    std::vector<LonLat> ring;
    for (const XY& p : s.ring) ring.push_back(bng().inverse(p));
    a.polygons.push_back({{ring}});
    in.push_back(std::move(a));
  }
  return std::make_shared<const AreaIndex>(AreaIndex::build(in, bng(), nullptr));
}

std::vector<UnitTrack> tracks(int units, std::int64_t duration_ms, unsigned seed) {
  return pm::bench::synth_tracks(units, kT0, duration_ms, seed);
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
