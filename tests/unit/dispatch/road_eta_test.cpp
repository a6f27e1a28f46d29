// GraphRoadEta: the road graph behind the engine's RoadEta seam. Its one
// backward search must give the same drive times as independent pairwise
// routes, from several threads at once, and the engine must rank by them.
#include "server/dispatch/road_eta.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

namespace pm::dispatch {
namespace {

constexpr EpochMs kNow = 1795341600000;

struct Drawing {
  std::vector<geo::XY> nodes;
  std::vector<geo::RoadEdgeInput> edges;
  std::uint32_t node(geo::XY origin, double x, double y) {
    nodes.push_back({origin.x + x, origin.y + y});
    return static_cast<std::uint32_t>(nodes.size() - 1);
  }
  void road(std::uint32_t a, std::uint32_t b, double kmh, bool oneway = false) {
    edges.push_back({a, b, kmh, geo::RoadClass::residential, geo::kNoId});
    if (!oneway) edges.push_back({b, a, kmh, geo::RoadClass::residential, geo::kNoId});
  }
  std::shared_ptr<const geo::RoadGraph> build() const {
    auto g = geo::RoadGraph::build(nodes, edges);
    if (!g) throw std::runtime_error(g.error());
    return std::make_shared<const geo::RoadGraph>(std::move(*g));
  }
};

// A 6 x 6 street grid of 200 m blocks, 30 or 50 km/h, with one-way streets:
// x = 200 northbound, x = 600 southbound, y = 400 eastbound, y = 800 westbound.
std::shared_ptr<const geo::RoadGraph> town(geo::XY origin) {
  Drawing d;
  constexpr int kN = 6;
  std::uint32_t id[kN][kN];
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kN; ++j) id[i][j] = d.node(origin, 200.0 * i, 200.0 * j);
  for (int i = 0; i < kN; ++i) {
    const double kmh = i % 2 ? 30 : 50;
    for (int j = 0; j + 1 < kN; ++j) {
      if (i == 3) {
        d.road(id[i][j + 1], id[i][j], kmh, true);
      } else {
        d.road(id[i][j], id[i][j + 1], kmh, i == 1);
      }
      if (i == 4) {
        d.road(id[j + 1][i], id[j][i], kmh, true);
      } else {
        d.road(id[j][i], id[j + 1][i], kmh, i == 2);
      }
    }
  }
  return d.build();
}

TEST(GraphRoadEta, EqualsPairwiseRoutesOnAStreetGrid) {
  const auto g = town({0, 0});
  ASSERT_EQ(g->main_component_nodes(), 36u);
  const GraphRoadEta eta(g);
  const unsigned seed = std::random_device{}();
  std::printf("  seed %u\n", seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> coord(-100, 1100);
  std::vector<geo::XY> from(200);
  std::size_t finite = 0;
  for (int q = 0; q < 20; ++q) {
    for (auto& p : from) p = {coord(rng), coord(rng)};
    const geo::XY to{coord(rng), coord(rng)};
    std::vector<double> t(from.size());
    eta.drive_times(to, from, t);
    for (std::size_t i = 0; i < from.size(); ++i) {
      const auto r = g->route(from[i], to);
      ASSERT_EQ(r.has_value(), std::isfinite(t[i])) << "query " << q << " unit " << i;
      if (r) {
        EXPECT_NEAR(t[i], r->time_s, 1e-6 * std::max(1.0, r->time_s)) << "query " << q << " unit " << i;
        ++finite;
      }
    }
  }
  EXPECT_EQ(finite, 20 * from.size());  // points up to 141 m off the grid all snap
}

TEST(GraphRoadEta, ConcurrentCallsAgreeWithSequentialOnes) {
  const auto g = town({0, 0});
  const GraphRoadEta eta(g);
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> coord(0, 1000);
  std::vector<geo::XY> from(100), targets(40);
  for (auto& p : from) p = {coord(rng), coord(rng)};
  for (auto& p : targets) p = {coord(rng), coord(rng)};
  std::vector<std::vector<double>> want(targets.size(), std::vector<double>(from.size()));
  for (std::size_t q = 0; q < targets.size(); ++q) eta.drive_times(targets[q], from, want[q]);
  std::vector<std::vector<double>> got[2];
  auto worker = [&](int w) {
    got[w].assign(targets.size(), std::vector<double>(from.size()));
    for (int round = 0; round < 5; ++round)
      for (std::size_t q = 0; q < targets.size(); ++q) eta.drive_times(targets[q], from, got[w][q]);
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  for (int w = 0; w < 2; ++w) {
    for (std::size_t q = 0; q < targets.size(); ++q) {
      for (std::size_t i = 0; i < from.size(); ++i) {
        ASSERT_TRUE(std::isfinite(want[q][i]));
        EXPECT_EQ(got[w][q][i], want[q][i]) << "thread " << w << " query " << q << " unit " << i;
      }
    }
  }
}

TEST(GraphRoadEta, LimitsGiveNaN) {
  const auto g = town({0, 0});
  const GraphRoadEta eta(g, RoadEtaLimits{60, 50});
  const std::vector<geo::XY> from = {{0, 200}, {1000, 1000}, {0, -80}};
  std::vector<double> t(from.size());
  eta.drive_times({0, 0}, from, t);
  EXPECT_NEAR(t[0], 200 / (50 / 3.6), 1e-6);  // 14.4 s
  EXPECT_TRUE(std::isnan(t[1]));              // > 60 s away
  EXPECT_TRUE(std::isnan(t[2]));              // 80 m off the network, more than 50
}

// The engine ranks by drive time through the seam:
//
//   B            B is 800 m up a straight two-way road from the incident I.
//   |            A is 300 m away, but the street I -> A is one-way away from I,
//   |            so A drives 2 km south, 300 m west and 2 km north: 4.3 km.
//   I ---> A
//   |      |
//   F2 --- F1
TEST(GraphRoadEta, EngineRanksUnitsByDriveTime) {
  auto proj = *geo::Projection::create("EPSG:27700");
  const geo::LonLat centre{-1.1352, 52.6345};  // Leicester
  const geo::XY c = proj.forward(centre);
  Drawing d;
  const auto i = d.node(c, 0, 0), a = d.node(c, 300, 0), f1 = d.node(c, 300, -2000), f2 = d.node(c, 0, -2000),
             b = d.node(c, 0, 800);
  d.road(i, a, 50, true);
  d.road(a, f1, 50);
  d.road(f1, f2, 50);
  d.road(f2, i, 50);
  d.road(i, b, 50);
  const GraphRoadEta eta(d.build());

  LiveState live(proj, LonLatBox{});
  auto place = [&](const std::string& id, geo::XY xy) {
    Fix f;
    f.xy = xy;
    const geo::LonLat ll = proj.inverse(xy);
    f.lat = ll.lat;
    f.lon = ll.lon;
    f.t = kNow - 1000;
    f.unit = live.reserve_unit(id);
    live.set_unit(f.unit, UnitFields{"car", UnitStatus::available, {}, ""});
    live.apply(std::span<const Fix>(&f, 1), std::vector<uint8_t>{1}, NewRecords{});
  };
  place("A", {c.x + 300, c.y});
  place("B", {c.x, c.y + 800});
  Incident inc;
  inc.spec.lat = centre.lat;
  inc.spec.lon = centre.lon;
  inc.spec.xy = c;

  Engine engine(DispatchConfig{});
  const auto straight = engine.recommend(inc, 2, kNow, live);
  ASSERT_EQ(straight.size(), 2u);
  EXPECT_EQ(straight[0].unit_id, "A");
  EXPECT_FALSE(straight[0].road);

  engine.set_road(&eta);
  const auto road = engine.recommend(inc, 2, kNow, live);
  ASSERT_EQ(road.size(), 2u);
  EXPECT_EQ(road[0].unit_id, "B");
  EXPECT_EQ(road[1].unit_id, "A");
  EXPECT_TRUE(road[0].road && road[1].road);
  EXPECT_NEAR(road[0].eta_s, 800 / (50 / 3.6), 1e-3);
  EXPECT_NEAR(road[1].eta_s, 4300 / (50 / 3.6), 1e-3);
}

}  // namespace
}  // namespace pm::dispatch
