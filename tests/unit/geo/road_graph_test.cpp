// RoadGraph on graphs drawn in code (one-way sides, a fast detour, partial
// edges, bounds, snapping), and one-to-many drive times against pairwise
// routes on random points of the real Rutland network.
#include "geo/road_graph.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "geo/osm_roads.hpp"
#include "tests/support/data_dir.hpp"
#include "tests/support/seed.hpp"

namespace pm::geo {
namespace {

struct Drawing {
  std::vector<XY> nodes;
  std::vector<RoadEdgeInput> edges;
  std::vector<RoadWay> ways;
  std::uint32_t node(double x, double y) {
    nodes.push_back({x, y});
    return static_cast<std::uint32_t>(nodes.size() - 1);
  }
  // A road a -> b (and b -> a unless one-way) at kmh, labelled ref.
  void road(std::uint32_t a, std::uint32_t b, double kmh, bool oneway = false, const std::string& ref = "") {
    std::uint32_t way = kNoId;
    if (!ref.empty()) {
      way = static_cast<std::uint32_t>(ways.size());
      ways.push_back({ref, ref + " road"});
    }
    edges.push_back({a, b, kmh, RoadClass::primary, way});
    if (!oneway) edges.push_back({b, a, kmh, RoadClass::primary, way});
  }
  RoadGraph build() const {
    auto g = RoadGraph::build(nodes, edges, ways);
    if (!g) throw std::runtime_error(g.error());
    return std::move(*g);
  }
};

constexpr double k36 = 3.6;  // km/h per m/s

// 1 km square, 36 km/h (10 m/s) everywhere; the bottom side 0 -> 1 is one-way east.
//   3 ---- 2
//   |      |
//   0 ---> 1
RoadGraph square() {
  Drawing d;
  const auto n0 = d.node(0, 0), n1 = d.node(1000, 0), n2 = d.node(1000, 1000), n3 = d.node(0, 1000);
  d.road(n0, n1, 36, true);
  d.road(n1, n2, 36);
  d.road(n2, n3, 36);
  d.road(n3, n0, 36);
  return d.build();
}

TEST(RoadGraph, OneWaySideIsDrivenOneWayOnly) {
  const RoadGraph g = square();
  EXPECT_EQ(g.node_count(), 4u);
  EXPECT_EQ(g.edge_count(), 7u);
  EXPECT_EQ(g.segment_count(), 4u);
  const auto east = g.route({0, 0}, {1000, 0});
  ASSERT_TRUE(east.has_value());
  EXPECT_NEAR(east->time_s, 100, 1e-6);
  EXPECT_NEAR(east->length_m, 1000, 1e-6);
  const auto west = g.route({1000, 0}, {0, 0});  // the long way round
  ASSERT_TRUE(west.has_value());
  EXPECT_NEAR(west->time_s, 300, 1e-6);
  EXPECT_NEAR(west->length_m, 3000, 1e-6);
  EXPECT_EQ(west->polyline, (std::vector<XY>{{1000, 0}, {1000, 1000}, {0, 1000}, {0, 0}}));
}

TEST(RoadGraph, PartialEdgesCountAtBothEnds) {
  const RoadGraph g = square();
  // From the middle of the one-way side to the middle of the left side: east
  // to 1, round by 2 and 3, half-way down: 500 + 1000 + 1000 + 500 m.
  const auto r = g.route({500, -10}, {10, 500});
  ASSERT_TRUE(r.has_value());
  EXPECT_NEAR(r->from.distance_m, 10, 1e-9);
  EXPECT_NEAR(r->from.t, 0.5, 1e-12);
  EXPECT_NEAR(r->length_m, 3000, 1e-6);
  EXPECT_NEAR(r->time_s, 300, 1e-6);
  EXPECT_EQ(r->polyline, (std::vector<XY>{{500, 0}, {1000, 0}, {1000, 1000}, {0, 1000}, {0, 500}}));
  EXPECT_EQ(r->edges.size(), 4u);  // partial, full, full, partial
  // Along one segment: with the one-way direction directly, against it round the square.
  const auto along = g.route({200, 0}, {800, 0});
  ASSERT_TRUE(along.has_value());
  EXPECT_NEAR(along->length_m, 600, 1e-6);
  EXPECT_EQ(along->edges.size(), 1u);
  const auto against = g.route({800, 0}, {200, 0});
  ASSERT_TRUE(against.has_value());
  EXPECT_NEAR(against->length_m, 200 + 3000 + 200, 1e-6);
}

TEST(RoadGraph, PicksTheFasterRoadEvenIfLonger) {
  // A 2 km lane at 20 km/h, or a 2.83 km detour at 100 km/h.
  Drawing d;
  const auto a = d.node(0, 0), b = d.node(2000, 0), c = d.node(1000, 1000);
  d.road(a, b, 20, false, "B1");
  d.road(a, c, 100, false, "A1");
  d.road(c, b, 100, false, "A1");
  const RoadGraph g = d.build();
  const auto r = g.route({0, 0}, {2000, 0});
  ASSERT_TRUE(r.has_value());
  EXPECT_NEAR(r->length_m, 2 * std::hypot(1000.0, 1000.0), 1e-3);
  EXPECT_NEAR(r->time_s, 2 * std::hypot(1000.0, 1000.0) / (100 / k36), 1e-3);
  EXPECT_EQ(r->refs, (std::vector<std::string>{"A1"}));
  std::vector<double> t(1);
  const XY from[] = {{0, 0}};
  g.drive_times_to({2000, 0}, from, t, 1e9);
  EXPECT_NEAR(t[0], r->time_s, 1e-6);
}

TEST(RoadGraph, BoundIsRespected) {
  const RoadGraph g = square();
  RouteLimits lim;
  lim.max_s = 299;
  const auto r = g.route({1000, 0}, {0, 0}, lim);  // needs 300 s
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), RouteError::unreachable);
  lim.max_s = 301;
  EXPECT_TRUE(g.route({1000, 0}, {0, 0}, lim).has_value());
  // One-to-many: 100 s, 200 s, 300 s and 150 s from the target (0, 0).
  const std::vector<XY> from = {{0, 1000}, {1000, 1000}, {1000, 0}, {500, 1000}};
  std::vector<double> t(from.size());
  g.drive_times_to({0, 0}, from, t, 160);
  EXPECT_NEAR(t[0], 100, 1e-6);
  EXPECT_TRUE(std::isnan(t[1]));
  EXPECT_TRUE(std::isnan(t[2]));
  EXPECT_NEAR(t[3], 150, 1e-6);
  g.drive_times_to({0, 0}, from, t, 1e9);
  EXPECT_NEAR(t[1], 200, 1e-6);
  EXPECT_NEAR(t[2], 300, 1e-6);
}

TEST(RoadGraph, SnapsToTheNearestSegmentWithinTheLimit) {
  const RoadGraph g = square();
  const auto s = g.snap({300, 40});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->point, (XY{300, 0}));
  EXPECT_NEAR(s->distance_m, 40, 1e-9);
  const auto& seg = g.segment(s->segment);
  EXPECT_EQ(g.node_xy(seg.a), (XY{0, 0}));
  EXPECT_EQ(seg.edge_ba, kNoId);                      // the one-way side
  EXPECT_FALSE(g.snap({500, 500}, 400).has_value());  // 500 m from every side
  EXPECT_TRUE(g.snap({500, 500}, 500).has_value());
  EXPECT_FALSE(g.snap({5000, 5000}).has_value());
  const auto far = g.snap({-3000, 500}, 1e4);  // outside the grid
  ASSERT_TRUE(far.has_value());
  EXPECT_EQ(far->point, (XY{0, 500}));
  EXPECT_FALSE(g.snap({NAN, 0}).has_value());
  // Off the network: NaN, and a route error naming the end.
  std::vector<double> t(2);
  const XY from[] = {{5000, 5000}, {0, 0}};
  g.drive_times_to({0, 1000}, from, t, 1e9);
  EXPECT_TRUE(std::isnan(t[0]));
  EXPECT_NEAR(t[1], 100, 1e-6);
  g.drive_times_to({5000, 5000}, from, t, 1e9);
  EXPECT_TRUE(std::isnan(t[1]));
  EXPECT_EQ(g.route({5000, 5000}, {0, 0}).error(), RouteError::from_off_network);
  EXPECT_EQ(g.route({0, 0}, {5000, 5000}).error(), RouteError::to_off_network);
}

TEST(RoadGraph, FragmentsOffTheMainNetworkAreNotSnapTargets) {
  // The square plus a one-way stub 1 -> 4 (no way back) and an island 5-6.
  Drawing d;
  const auto n0 = d.node(0, 0), n1 = d.node(1000, 0), n2 = d.node(1000, 1000), n3 = d.node(0, 1000);
  d.road(n0, n1, 36);
  d.road(n1, n2, 36);
  d.road(n2, n3, 36);
  d.road(n3, n0, 36);
  const auto n4 = d.node(1600, 0);
  d.road(n1, n4, 36, true);
  const auto n5 = d.node(3000, 0), n6 = d.node(3000, 400);
  d.road(n5, n6, 36);
  const RoadGraph g = d.build();
  EXPECT_EQ(g.main_component_nodes(), 4u);
  EXPECT_FALSE(g.on_main_network(n4));
  EXPECT_FALSE(g.on_main_network(n5));
  const auto s = g.snap({1500, 10}, 1000);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->point, (XY{1000, 10}));
  EXPECT_FALSE(g.snap({3000, 200}, 1000).has_value());
}

TEST(RoadGraph, BuildRejectsBadInput) {
  const std::vector<XY> nodes = {{0, 0}, {100, 0}};
  EXPECT_FALSE(RoadGraph::build(nodes, {{0, 2, 50, RoadClass::primary, kNoId}}).has_value());
  EXPECT_FALSE(RoadGraph::build(nodes, {{0, 1, 0, RoadClass::primary, kNoId}}).has_value());
  EXPECT_FALSE(RoadGraph::build(nodes, {{0, 1, 50, RoadClass::primary, 0}}).has_value());  // no ways
  EXPECT_FALSE(RoadGraph::build({{0, 0}, {NAN, 0}}, {}).has_value());
  const auto loop =
      RoadGraph::build(nodes, {{0, 0, 50, RoadClass::primary, kNoId}, {0, 1, 50, RoadClass::primary, kNoId}});
  ASSERT_TRUE(loop.has_value());
  EXPECT_EQ(loop->edge_count(), 1u);  // the self-loop is dropped
  const auto empty = RoadGraph::build({}, {});
  ASSERT_TRUE(empty.has_value());
  EXPECT_FALSE(empty->snap({0, 0}).has_value());
}

// drive_times_to must equal route() from each source: checked over a grid of
// points around the square (every side, both directions, same segment).
TEST(RoadGraph, OneToManyEqualsPairwiseOnTheSquare) {
  const RoadGraph g = square();
  std::vector<XY> pts;
  for (double x = -50; x <= 1050; x += 125)
    for (double y = -50; y <= 1050; y += 125) pts.push_back({x, y});
  std::vector<double> t(pts.size());
  SearchWorkspace ws;
  for (XY to : pts) {
    g.drive_times_to(to, pts, t, 1e9, ws);
    for (std::size_t i = 0; i < pts.size(); ++i) {
      const auto r = g.route(pts[i], to);
      ASSERT_EQ(r.has_value(), std::isfinite(t[i])) << i;
      if (r) {
        EXPECT_NEAR(t[i], r->time_s, 1e-6);
      }
    }
  }
}

// ---------------------------------------------------------------- Rutland

class RutlandRoads : public ::testing::Test {
 protected:
  // Loaded once; a failure throws inside each test, which then fails.
  static const RoadGraph& graph() {
    static const RoadGraph g = [] {
      auto r = load_osm_roads(test::data_dir() + "/osm/rutland-latest.osm.pbf", *Projection::create());
      if (!r) throw std::runtime_error(r.error());
      return std::move(*r);
    }();
    return g;
  }
  // Random points near random graph nodes (up to 300 m away: some off the
  // network), and a few far outside it.
  static std::vector<XY> points(std::mt19937_64& rng, std::size_t n) {
    std::uniform_int_distribution<std::uint32_t> node(0, static_cast<std::uint32_t>(graph().node_count() - 1));
    std::uniform_real_distribution<double> off(-300, 300);
    std::vector<XY> v(n);
    for (std::size_t i = 0; i < n; ++i) {
      const XY p = graph().node_xy(node(rng));
      v[i] = i % 50 == 49 ? XY{p.x + 5000, p.y + 50000} : XY{p.x + off(rng), p.y + off(rng)};
    }
    return v;
  }
};

TEST_F(RutlandRoads, OneToManyEqualsPairwiseRoutes) {
  std::mt19937_64 rng(test::seed_from_env(20261122));
  SearchWorkspace ws;
  std::size_t finite = 0, total = 0;
  for (int target = 0; target < 4; ++target) {
    const auto to = points(rng, 1)[0];
    const auto from = points(rng, 150);
    const double bound = target % 2 == 0 ? std::numeric_limits<double>::infinity() : 600.0;
    std::vector<double> t(from.size());
    graph().drive_times_to(to, from, t, bound, ws);
    RouteLimits lim;
    lim.max_s = bound;
    for (std::size_t i = 0; i < from.size(); ++i) {
      const auto r = graph().route(from[i], to, lim);
      ASSERT_EQ(r.has_value(), std::isfinite(t[i]))
          << "target " << target << " source " << i << " (" << from[i].x << ", " << from[i].y << ")";
      if (r) {
        EXPECT_NEAR(t[i], r->time_s, 1e-6 * std::max(1.0, r->time_s));
        EXPECT_LE(t[i], bound);
        ++finite;
      }
      ++total;
    }
  }
  std::printf("  %zu of %zu drive times finite\n", finite, total);
  EXPECT_GT(finite, total / 2);  // the comparison is not vacuous
}

TEST_F(RutlandRoads, WorkspaceReuseAcrossGraphsGivesTheSameAnswers) {
  std::mt19937_64 rng(test::seed_from_env(7));
  const auto from = points(rng, 60);
  const XY to = from[0];
  std::vector<double> fresh(from.size()), reused(from.size()), small(4);
  {
    SearchWorkspace ws;
    graph().drive_times_to(to, from, fresh, 1e9, ws);
  }
  SearchWorkspace ws;
  const RoadGraph sq = square();
  const std::vector<XY> sq_from = {{0, 1000}, {1000, 1000}, {1000, 0}, {500, 1000}};
  for (int i = 0; i < 3; ++i) {
    graph().drive_times_to(to, from, reused, 1e9, ws);
    sq.drive_times_to({0, 0}, sq_from, small, 1e9, ws);
    EXPECT_NEAR(small[2], 300, 1e-6);
    for (std::size_t k = 0; k < from.size(); ++k) {
      EXPECT_TRUE(std::isnan(fresh[k]) ? std::isnan(reused[k]) : fresh[k] == reused[k]) << k;
    }
  }
}

}  // namespace
}  // namespace pm::geo
