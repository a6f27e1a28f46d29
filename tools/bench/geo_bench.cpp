// Micro-benchmarks for geo/: projection, geodesics, area lookup, and the live
// point index against the alternatives it was chosen over.
//
//   geo_bench --benchmark_filter=Knn      # PATROLMAP_DATA=<shared/data>
//
// Percentile benchmarks (…Percentiles) time 100,000 single queries each with
// steady_clock (its ~20 ns overhead is included) and report p50/p99/max in ns
// as counters; Google Benchmark's own figure for them is the whole loop.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <unordered_map>
#include <vector>

#include "geo/area_index.hpp"
#include "geo/geodesic.hpp"
#include "geo/point_index.hpp"
#include "geo/projection.hpp"
#include "tests/support/data_dir.hpp"
#include "tests/support/geojson_areas.hpp"

namespace {

using pm::geo::AreaIndex;
using pm::geo::Box;
using pm::geo::LonLat;
using pm::geo::PointIndex;
using pm::geo::Projection;
using pm::geo::XY;
using Neighbor = PointIndex::Neighbor;

const Box kCounty{430000, 280000, 495000, 345000};  // Leicestershire, EPSG:27700
constexpr std::uint32_t kUnits = 100000;
constexpr std::size_t kK = 5;

const Projection& bng() {
  static const Projection p = *Projection::create();
  return p;
}

std::vector<LonLat> random_lonlat(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> lon(-1.60, -0.66), lat(52.39, 52.98);
  std::vector<LonLat> v(n);
  for (auto& p : v) p = {lon(rng), lat(rng)};
  return v;
}

std::vector<XY> random_xy(std::size_t n, unsigned seed, bool clustered = false) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> x(kCounty.min_x, kCounty.max_x),
      y(kCounty.min_y, kCounty.max_y);
  std::normal_distribution<double> city(0, 3000);
  std::vector<XY> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    // Clustered: half the units within a few km of Leicester city centre.
    v[i] =
        (clustered && i % 2 == 0) ? XY{458900 + city(rng), 304500 + city(rng)} : XY{x(rng), y(rng)};
  }
  return v;
}

// ---------------------------------------------------------------- projection

void BM_ProjectionForward(benchmark::State& state) {
  const auto pts = random_lonlat(1024, 1);
  const Projection& p = bng();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(p.forward(pts[i++ & 1023]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProjectionForward);

void BM_ProjectionForwardBatch(benchmark::State& state) {
  const auto pts = random_lonlat(static_cast<std::size_t>(state.range(0)), 1);
  std::vector<XY> out(pts.size());
  const Projection& p = bng();
  for (auto _ : state) {
    p.forward(pts, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ProjectionForwardBatch)->Arg(1024);

void BM_ProjectionInverse(benchmark::State& state) {
  const auto ll = random_lonlat(1024, 1);
  std::vector<XY> pts(ll.size());
  bng().forward(ll, pts);
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(bng().inverse(pts[i++ & 1023]));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProjectionInverse);

void BM_GeodesicDistance(benchmark::State& state) {
  const auto pts = random_lonlat(1024, 2);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pm::geo::geodesic_distance_m(pts[i & 1023], pts[(i + 1) & 1023]));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GeodesicDistance);

void BM_PlanarDistance(benchmark::State& state) {
  const auto pts = random_xy(1024, 2);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pm::geo::planar_distance_m(pts[i & 1023], pts[(i + 1) & 1023]));
    ++i;
  }
}
BENCHMARK(BM_PlanarDistance);

// --------------------------------------------------------------------- areas

// The 151 county wards and the 21 city wards: the whole force area.
const AreaIndex& wards() {
  static const AreaIndex idx = [] {
    const std::string dir = pm::test::data_dir() + "/boundaries";
    auto in = pm::test::load_areas(dir + "/leicestershire-county-wards.geojson", "ward_code");
    for (const char* f : {"E05010458_Abbey",
                          "E05010459_Aylestone",
                          "E05010460_Beaumont_Leys",
                          "E05010461_Belgrave",
                          "E05010462_Braunstone_Park_and_Rowley_Fields",
                          "E05010463_Castle",
                          "E05010464_Evington",
                          "E05010465_Eyres_Monsell",
                          "E05010466_Fosse",
                          "E05010467_Humberstone_and_Hamilton",
                          "E05010468_Knighton",
                          "E05010469_North_Evington",
                          "E05010470_Rushey_Mead",
                          "E05010471_Saffron",
                          "E05010472_Spinney_Hills",
                          "E05010473_Stoneygate",
                          "E05010474_Thurncourt",
                          "E05010475_Troon",
                          "E05010476_Westcotes",
                          "E05010477_Western",
                          "E05010478_Wycliffe"}) {
      auto w = pm::test::load_areas(dir + "/leicester-city/" + f + ".geojsonl", "wd19cd");
      in.insert(in.end(), w.begin(), w.end());
    }
    std::vector<pm::geo::AreaError> errors;
    AreaIndex built = AreaIndex::build(in, bng(), &errors);
    std::fprintf(stderr, "area index: %zu areas loaded, %zu rejected\n", built.size(),
                 errors.size());
    for (const auto& e : errors) std::fprintf(stderr, "  %s: %s\n", e.id.c_str(), e.reason.c_str());
    return built;
  }();
  return idx;
}

std::vector<XY> points_in_extent(const Box& e, std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> x(e.min_x, e.max_x), y(e.min_y, e.max_y);
  std::vector<XY> v(n);
  for (auto& p : v) p = {x(rng), y(rng)};
  return v;
}

void BM_AreasContaining(benchmark::State& state) {
  const AreaIndex& idx = wards();
  const auto pts = points_in_extent(idx.extent(), 4096, 3);
  std::vector<std::uint32_t> hits;
  hits.reserve(16);
  std::size_t i = 0, found = 0;
  for (auto _ : state) {
    idx.areas_containing(pts[i++ & 4095], hits);
    found += hits.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_rate"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_AreasContaining);

void BM_AreaContainsSame(benchmark::State& state) {
  // The hot path of patrol accounting: "is the unit still in its area?"
  const AreaIndex& idx = wards();
  const auto pts = points_in_extent(idx.extent(), 4096, 4);
  std::vector<std::pair<std::uint32_t, XY>> cases;
  std::vector<std::uint32_t> hits;
  for (const XY& p : pts) {
    idx.areas_containing(p, hits);
    if (!hits.empty()) cases.emplace_back(hits[0], XY{p.x + 40, p.y - 30});
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& c = cases[i++ % cases.size()];
    benchmark::DoNotOptimize(idx.contains(c.first, c.second));
  }
}
BENCHMARK(BM_AreaContainsSame);

void BM_InsideFraction300m(benchmark::State& state) {
  const AreaIndex& idx = wards();
  const auto pts = points_in_extent(idx.extent(), 4096, 5);
  std::vector<std::pair<std::uint32_t, std::pair<XY, XY>>> cases;
  std::vector<std::uint32_t> hits;
  for (const XY& p : pts) {
    idx.areas_containing(p, hits);
    if (!hits.empty()) cases.push_back({hits[0], {p, XY{p.x + 240, p.y + 180}}});
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& c = cases[i++ % cases.size()];
    benchmark::DoNotOptimize(idx.inside_fraction(c.first, c.second.first, c.second.second));
  }
}
BENCHMARK(BM_InsideFraction300m);

void BM_AreaIndexBuild(benchmark::State& state) {
  const std::string dir = pm::test::data_dir() + "/boundaries";
  const auto in = pm::test::load_areas(dir + "/leicestershire-county-wards.geojson", "ward_code");
  for (auto _ : state) {
    auto idx = AreaIndex::build(in, bng(), nullptr);
    benchmark::DoNotOptimize(idx.size());
  }
}
BENCHMARK(BM_AreaIndexBuild)->Unit(benchmark::kMillisecond);

// -------------------------------------------------------------- point index

// Alternative 1: a uniform grid with hashed cells (no fixed extent), same
// ring search. Alternative 2: a linear scan. Both answer exactly like
// PointIndex (ties by id), so only speed differs.
class HashedGrid {
 public:
  explicit HashedGrid(double cell) : cell_(cell), inv_(1 / cell) {}
  void upsert(std::uint32_t id, XY p) {
    const std::uint64_t key = key_of(cx(p.x), cy(p.y));
    if (id >= slots_.size()) slots_.resize(id + 1, {kNone, 0});
    auto& s = slots_[id];
    if (s.first == key) {
      auto& e = cells_[key][s.second];
      e.x = p.x;
      e.y = p.y;
      return;
    }
    if (s.first != kNone) remove(id);
    auto& v = cells_[key];
    s = {key, static_cast<std::uint32_t>(v.size())};
    v.push_back({p.x, p.y, id});
    min_cx_ = std::min(min_cx_, cx(p.x));
    max_cx_ = std::max(max_cx_, cx(p.x));
    min_cy_ = std::min(min_cy_, cy(p.y));
    max_cy_ = std::max(max_cy_, cy(p.y));
  }
  void remove(std::uint32_t id) {
    auto& s = slots_[id];
    auto& v = cells_[s.first];
    v[s.second] = v.back();
    slots_[v.back().id].second = s.second;
    v.pop_back();
    s.first = kNone;
  }
  void nearest(XY q, std::size_t k, std::vector<Neighbor>& out) const {
    out.clear();
    auto worse = [](const Neighbor& a, const Neighbor& b) {
      return a.distance_m < b.distance_m || (a.distance_m == b.distance_m && a.id < b.id);
    };
    const std::int64_t x0 = cx(q.x), y0 = cy(q.y);
    const double margin = std::min(
        {q.x - x0 * cell_, (x0 + 1) * cell_ - q.x, q.y - y0 * cell_, (y0 + 1) * cell_ - q.y});
    auto scan = [&](std::int64_t x, std::int64_t y) {
      auto it = cells_.find(key_of(x, y));
      if (it == cells_.end()) return;
      for (const auto& e : it->second) {
        const double dx = e.x - q.x, dy = e.y - q.y;
        const Neighbor c{e.id, dx * dx + dy * dy};
        if (out.size() == k && !worse(c, out.front())) continue;
        if (out.size() == k) {
          std::pop_heap(out.begin(), out.end(), worse);
          out.back() = c;
        } else {
          out.push_back(c);
        }
        std::push_heap(out.begin(), out.end(), worse);
      }
    };
    for (std::int64_t r = 0;; ++r) {
      for (std::int64_t x = x0 - r; x <= x0 + r; ++x) {
        scan(x, y0 - r);
        if (r) scan(x, y0 + r);
      }
      for (std::int64_t y = y0 - r + 1; y <= y0 + r - 1; ++y) {
        scan(x0 - r, y);
        scan(x0 + r, y);
      }
      const double bound = static_cast<double>(r) * cell_ + margin;
      if (out.size() == k && out.front().distance_m < bound * bound) break;
      if (x0 - r <= min_cx_ && x0 + r >= max_cx_ && y0 - r <= min_cy_ && y0 + r >= max_cy_) break;
    }
    std::sort_heap(out.begin(), out.end(), worse);
    for (auto& n : out) n.distance_m = std::sqrt(n.distance_m);
  }

 private:
  struct Entry {
    double x, y;
    std::uint32_t id;
  };
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};
  std::int64_t cx(double x) const { return static_cast<std::int64_t>(std::floor(x * inv_)); }
  std::int64_t cy(double y) const { return static_cast<std::int64_t>(std::floor(y * inv_)); }
  static std::uint64_t key_of(std::int64_t x, std::int64_t y) {
    return (static_cast<std::uint64_t>(x) << 32) ^ (static_cast<std::uint64_t>(y) & 0xffffffffu);
  }
  double cell_, inv_;
  std::unordered_map<std::uint64_t, std::vector<Entry>> cells_;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> slots_;
  std::int64_t min_cx_ = INT64_MAX, max_cx_ = INT64_MIN, min_cy_ = INT64_MAX, max_cy_ = INT64_MIN;
};

class LinearScan {
 public:
  void upsert(std::uint32_t id, XY p) {
    if (id >= pos_.size()) pos_.resize(id + 1);
    pos_[id] = p;
  }
  void nearest(XY q, std::size_t k, std::vector<Neighbor>& out) const {
    out.clear();
    auto worse = [](const Neighbor& a, const Neighbor& b) {
      return a.distance_m < b.distance_m || (a.distance_m == b.distance_m && a.id < b.id);
    };
    for (std::uint32_t id = 0; id < pos_.size(); ++id) {
      const double dx = pos_[id].x - q.x, dy = pos_[id].y - q.y;
      const Neighbor c{id, dx * dx + dy * dy};
      if (out.size() == k && !worse(c, out.front())) continue;
      if (out.size() == k) {
        std::pop_heap(out.begin(), out.end(), worse);
        out.back() = c;
      } else {
        out.push_back(c);
      }
      std::push_heap(out.begin(), out.end(), worse);
    }
    std::sort_heap(out.begin(), out.end(), worse);
    for (auto& n : out) n.distance_m = std::sqrt(n.distance_m);
  }

 private:
  std::vector<XY> pos_;
};

template <class Index>
void fill(Index& idx, bool clustered) {
  const auto pts = random_xy(kUnits, 10, clustered);
  for (std::uint32_t id = 0; id < kUnits; ++id) idx.upsert(id, pts[id]);
}

// Times each of 100,000 queries and reports p50/p99/max in ns.
template <class Query>
void percentiles(benchmark::State& state, Query&& query) {
  const auto qs = random_xy(100000, 11);
  std::vector<double> ns(qs.size());
  for (auto _ : state) {
    for (std::size_t i = 0; i < qs.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      query(qs[i]);
      const auto t1 = std::chrono::steady_clock::now();
      ns[i] = std::chrono::duration<double, std::nano>(t1 - t0).count();
    }
  }
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = ns[ns.size() / 2];
  state.counters["p99_ns"] = ns[ns.size() * 99 / 100];
  state.counters["max_ns"] = ns.back();
}

void BM_PointIndexKnn(benchmark::State& state) {
  PointIndex idx(kCounty, static_cast<double>(state.range(0)));
  fill(idx, state.range(1) != 0);
  const auto qs = random_xy(4096, 11);
  std::vector<Neighbor> out;
  out.reserve(kK);
  std::size_t i = 0;
  for (auto _ : state) {
    idx.nearest(qs[i++ & 4095], kK, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
// Args: cell size (m), clustered (0 uniform, 1 half around Leicester).
BENCHMARK(BM_PointIndexKnn)
    ->ArgsProduct({{100, 175, 250, 350, 500, 1000}, {0, 1}})
    ->ArgNames({"cell", "clustered"});

void BM_PointIndexKnnPercentiles(benchmark::State& state) {
  PointIndex idx(kCounty, static_cast<double>(state.range(0)));
  fill(idx, state.range(1) != 0);
  std::vector<Neighbor> out;
  out.reserve(kK);
  percentiles(state, [&](XY q) {
    idx.nearest(q, kK, out);
    benchmark::DoNotOptimize(out.data());
  });
}
BENCHMARK(BM_PointIndexKnnPercentiles)
    ->ArgsProduct({{250}, {0, 1}})
    ->ArgNames({"cell", "clustered"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_PointIndexKnnFiltered(benchmark::State& state) {
  // A skill filter passing 1 unit in `range(0)` (e.g. dog units).
  PointIndex idx(kCounty);
  fill(idx, false);
  const auto every = static_cast<std::uint32_t>(state.range(0));
  const auto qs = random_xy(4096, 11);
  std::vector<Neighbor> out;
  out.reserve(kK);
  std::size_t i = 0;
  for (auto _ : state) {
    idx.nearest(
        qs[i++ & 4095], kK, [&](std::uint32_t id) { return id % every == 0; }, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_PointIndexKnnFiltered)->Arg(10)->Arg(1000)->Arg(20000);

void BM_PointIndexUpsert(benchmark::State& state) {
  // range(0): typical drift per update in metres (10: a car between 1 s pings
  // stays in its cell; 2000: a jump to a random nearby cell).
  PointIndex idx(kCounty);
  fill(idx, false);
  std::vector<XY> pos = random_xy(kUnits, 10);
  std::mt19937_64 rng(12);
  std::normal_distribution<double> drift(0, static_cast<double>(state.range(0)));
  std::vector<std::pair<std::uint32_t, XY>> moves(65536);
  for (auto& m : moves) {
    const auto id = static_cast<std::uint32_t>(rng() % kUnits);
    pos[id] = {std::clamp(pos[id].x + drift(rng), kCounty.min_x, kCounty.max_x),
               std::clamp(pos[id].y + drift(rng), kCounty.min_y, kCounty.max_y)};
    m = {id, pos[id]};
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& m = moves[i++ & 65535];
    idx.upsert(m.first, m.second);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PointIndexUpsert)->Arg(10)->Arg(2000);

void BM_HashedGridKnn(benchmark::State& state) {
  HashedGrid idx(static_cast<double>(state.range(0)));
  fill(idx, state.range(1) != 0);
  const auto qs = random_xy(4096, 11);
  std::vector<Neighbor> out;
  out.reserve(kK);
  std::size_t i = 0;
  for (auto _ : state) {
    idx.nearest(qs[i++ & 4095], kK, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashedGridKnn)->ArgsProduct({{250, 500}, {0, 1}})->ArgNames({"cell", "clustered"});

void BM_HashedGridKnnPercentiles(benchmark::State& state) {
  HashedGrid idx(250);
  fill(idx, state.range(0) != 0);
  std::vector<Neighbor> out;
  out.reserve(kK);
  percentiles(state, [&](XY q) {
    idx.nearest(q, kK, out);
    benchmark::DoNotOptimize(out.data());
  });
}
BENCHMARK(BM_HashedGridKnnPercentiles)
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_HashedGridUpsert(benchmark::State& state) {
  HashedGrid idx(250);
  fill(idx, false);
  std::vector<XY> pos = random_xy(kUnits, 10);
  std::mt19937_64 rng(12);
  std::normal_distribution<double> drift(0, static_cast<double>(state.range(0)));
  std::vector<std::pair<std::uint32_t, XY>> moves(65536);
  for (auto& m : moves) {
    const auto id = static_cast<std::uint32_t>(rng() % kUnits);
    pos[id] = {pos[id].x + drift(rng), pos[id].y + drift(rng)};
    m = {id, pos[id]};
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& m = moves[i++ & 65535];
    idx.upsert(m.first, m.second);
  }
}
BENCHMARK(BM_HashedGridUpsert)->Arg(10)->Arg(2000);

void BM_LinearScanKnn(benchmark::State& state) {
  LinearScan idx;
  fill(idx, false);
  const auto qs = random_xy(4096, 11);
  std::vector<Neighbor> out;
  out.reserve(kK);
  std::size_t i = 0;
  for (auto _ : state) {
    idx.nearest(qs[i++ & 4095], kK, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_LinearScanKnn)->Unit(benchmark::kMicrosecond);

void BM_PointIndexWithinViewport(benchmark::State& state) {
  // A 5 km x 3 km dispatcher viewport.
  PointIndex idx(kCounty);
  fill(idx, false);
  const auto qs = random_xy(4096, 13);
  std::size_t i = 0, seen = 0;
  for (auto _ : state) {
    const XY q = qs[i++ & 4095];
    idx.within(Box{q.x, q.y, q.x + 5000, q.y + 3000}, [&](std::uint32_t, XY) { ++seen; });
  }
  benchmark::DoNotOptimize(seen);
  state.counters["units"] = static_cast<double>(seen) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_PointIndexWithinViewport);

}  // namespace

BENCHMARK_MAIN();
