// Micro-benchmarks for the road graph on the Rutland extract: building it
// from the .osm.pbf, snapping, one route, and one-to-many drive times (the
// dispatch `road` method) against the same answers by pairwise routes.
//
//   road_bench --benchmark_filter=DriveTimes      # PATROLMAP_DATA=<shared/data>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "geo/osm_roads.hpp"
#include "geo/road_graph.hpp"
#include "tests/support/data_dir.hpp"

namespace {

using namespace pm::geo;  // NOLINT(google-build-using-namespace): a benchmark file

// place=town nodes in the extract (see tests/unit/geo/osm_roads_test.cpp).
constexpr LonLat kOakham{-0.728462, 52.669935};
constexpr LonLat kUppingham{-0.723425, 52.588724};
constexpr double kMaxDrive_s = 3600;  // GraphRoadEta's default bound

const Projection& bng() {
  static const Projection p = *Projection::create();
  return p;
}

std::string pbf() { return pm::test::data_dir() + "/osm/rutland-latest.osm.pbf"; }

const RoadGraph& rutland() {
  static const RoadGraph g = [] {
    auto r = load_osm_roads(pbf(), bng());
    if (!r) throw std::runtime_error(r.error());
    return std::move(*r);
  }();
  return g;
}

// Units scattered over Rutland: random graph nodes, up to 100 m off the road.
std::vector<XY> scattered(std::size_t n, unsigned seed) {
  const RoadGraph& g = rutland();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::uint32_t> node(0, static_cast<std::uint32_t>(g.node_count() - 1));
  std::uniform_real_distribution<double> off(-100, 100);
  std::vector<XY> v(n);
  for (auto& p : v) {
    const XY q = g.node_xy(node(rng));
    p = {q.x + off(rng), q.y + off(rng)};
  }
  return v;
}

void BM_RoadGraphLoadRutlandPbf(benchmark::State& state) {
  std::size_t nodes = 0, edges = 0;
  for (auto _ : state) {
    auto g = load_osm_roads(pbf(), bng());
    if (!g) {
      state.SkipWithError(g.error().c_str());
      return;
    }
    nodes = g->node_count();
    edges = g->edge_count();
    benchmark::DoNotOptimize(g->segment_count());
  }
  state.counters["nodes"] = static_cast<double>(nodes);
  state.counters["edges"] = static_cast<double>(edges);
}
BENCHMARK(BM_RoadGraphLoadRutlandPbf)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The graph part alone (CSR, components, segments, snap grid) from arrays.
void BM_RoadGraphBuildFromArrays(benchmark::State& state) {
  const RoadGraph& g = rutland();
  std::vector<XY> nodes(g.node_count());
  for (std::uint32_t v = 0; v < nodes.size(); ++v) nodes[v] = g.node_xy(v);
  std::vector<RoadEdgeInput> edges(g.edge_count());
  for (std::uint32_t e = 0; e < edges.size(); ++e) {
    edges[e] = {g.edge_tail(e), g.edge_head(e), g.edge_length_m(e) / g.edge_time_s(e) * 3.6, g.edge_class(e), kNoId};
  }
  for (auto _ : state) {
    auto b = RoadGraph::build(nodes, edges);
    benchmark::DoNotOptimize(b->segment_count());
  }
}
BENCHMARK(BM_RoadGraphBuildFromArrays)->Unit(benchmark::kMillisecond);

void BM_RoadSnap(benchmark::State& state) {
  const RoadGraph& g = rutland();
  const auto pts = scattered(4096, 3);
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(g.snap(pts[i++ & 4095]));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RoadSnap);

void BM_RouteOakhamUppingham(benchmark::State& state) {
  const RoadGraph& g = rutland();
  const XY a = bng().forward(kOakham), b = bng().forward(kUppingham);
  SearchWorkspace ws;
  double time_s = 0, length_m = 0;
  for (auto _ : state) {
    auto r = g.route(a, b, {}, ws);
    time_s = r->time_s;
    length_m = r->length_m;
    benchmark::DoNotOptimize(r->edges.data());
  }
  state.counters["time_s"] = time_s;
  state.counters["length_m"] = length_m;
}
BENCHMARK(BM_RouteOakhamUppingham)->Unit(benchmark::kMicrosecond);

// One backward search from an incident to N units (64 incidents in turn).
void BM_DriveTimesTo(benchmark::State& state) {
  const RoadGraph& g = rutland();
  const auto units = scattered(static_cast<std::size_t>(state.range(0)), 1);
  const auto incidents = scattered(64, 2);
  std::vector<double> out(units.size());
  SearchWorkspace ws;
  std::size_t i = 0, finite = 0, total = 0;
  for (auto _ : state) {
    g.drive_times_to(incidents[i++ & 63], units, out, kMaxDrive_s, ws);
    for (double t : out) finite += std::isfinite(t) ? 1 : 0;
    total += out.size();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["finite_pct"] = total ? 100.0 * static_cast<double>(finite) / static_cast<double>(total) : 0;
}
BENCHMARK(BM_DriveTimesTo)->Arg(32)->Arg(100)->Arg(2000)->Unit(benchmark::kMicrosecond);

// What the engine asks: the 32 straight-line nearest of 2,000 units (its
// candidate net for k <= 8), so the search stops once those are settled.
void BM_DriveTimesToNearest32(benchmark::State& state) {
  const RoadGraph& g = rutland();
  const auto all = scattered(2000, 1);
  const auto incidents = scattered(64, 2);
  std::vector<std::vector<XY>> near(incidents.size());
  for (std::size_t q = 0; q < incidents.size(); ++q) {
    std::vector<std::pair<double, std::size_t>> by_d;
    for (std::size_t i = 0; i < all.size(); ++i) by_d.emplace_back(planar_distance_m(all[i], incidents[q]), i);
    std::partial_sort(by_d.begin(), by_d.begin() + 32, by_d.end());
    for (std::size_t i = 0; i < 32; ++i) near[q].push_back(all[by_d[i].second]);
  }
  std::vector<double> out(32);
  SearchWorkspace ws;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t q = i++ & 63;
    g.drive_times_to(incidents[q], near[q], out, kMaxDrive_s, ws);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_DriveTimesToNearest32)->Unit(benchmark::kMicrosecond);

// The same answers by one route() per unit, for comparison.
void BM_PairwiseRoutes(benchmark::State& state) {
  const RoadGraph& g = rutland();
  const auto units = scattered(static_cast<std::size_t>(state.range(0)), 1);
  const auto incidents = scattered(64, 2);
  SearchWorkspace ws;
  RouteLimits lim;
  lim.max_s = kMaxDrive_s;
  std::size_t i = 0;
  for (auto _ : state) {
    const XY to = incidents[i++ & 63];
    for (XY from : units) benchmark::DoNotOptimize(g.route(from, to, lim, ws).has_value());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PairwiseRoutes)->Arg(100)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
