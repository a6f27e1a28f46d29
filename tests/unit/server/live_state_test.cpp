#include "server/state/live_state.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "geo/geodesic.hpp"

namespace pm {
namespace {

LiveState make_live() { return LiveState(*geo::Projection::create("EPSG:27700"), LonLatBox{}); }

RawPing ping(std::string_view dev, EpochMs t, double lat, double lon) {
  RawPing p;
  p.device = dev;
  p.t = t;
  p.lat = lat;
  p.lon = lon;
  return p;
}

struct Resolved {
  std::vector<Fix> fixes;
  std::vector<uint32_t> pos;
  std::vector<Rejection> rej;
  NewRecords created;
};

Resolved resolve(LiveState& live, const std::vector<RawPing>& pings, bool auto_register) {
  Resolved r;
  std::vector<uint32_t> positions(pings.size());
  for (uint32_t i = 0; i < pings.size(); ++i) positions[i] = i;
  ResolveOptions opt;
  opt.auto_register = auto_register;
  live.resolve(pings, positions, Channel::json, opt, r.fixes, r.pos, r.rej, r.created);
  return r;
}

TEST(LiveState, UnknownDevicesRejectedUnlessAutoRegistering) {
  LiveState live = make_live();
  auto r = resolve(live, {ping("AVL-1", 1000, 52.6, -1.1)}, false);
  EXPECT_TRUE(r.fixes.empty());
  ASSERT_EQ(r.rej.size(), 1u);
  EXPECT_EQ(r.rej[0].code, Errc::unknown_device);

  r = resolve(live, {ping("AVL-1", 1000, 52.6, -1.1), ping("AVL-1", 2000, 52.61, -1.1)}, true);
  ASSERT_EQ(r.fixes.size(), 2u);
  EXPECT_TRUE(r.rej.empty());
  ASSERT_EQ(r.created.devices.size(), 1u);  // registered once, listed once
  ASSERT_EQ(r.created.units.size(), 1u);
  EXPECT_EQ(r.created.units[0].id, "AVL-1");
  EXPECT_EQ(r.fixes[0].device, r.fixes[1].device);
  EXPECT_EQ(r.fixes[0].unit, r.created.units[0].index);
  // Projected once: BNG coordinates of a Leicester-area point are in range.
  EXPECT_GT(r.fixes[0].xy.x, 400000);
  EXPECT_LT(r.fixes[0].xy.x, 500000);
}

TEST(LiveState, UnpersistedRecordsTravelWithTheNextBatchUntilApplied) {
  LiveState live = make_live();
  auto r1 = resolve(live, {ping("A", 1000, 52.6, -1.1)}, true);
  // The first batch never reached the store (e.g. 503): the next one carries the rows.
  auto r2 = resolve(live, {ping("A", 2000, 52.6, -1.1)}, true);
  EXPECT_EQ(r2.created.devices.size(), 1u);
  EXPECT_EQ(r2.created.units.size(), 1u);
  std::vector<uint8_t> stored(r2.fixes.size(), 1);
  live.apply(r2.fixes, stored, r2.created);
  auto r3 = resolve(live, {ping("A", 3000, 52.6, -1.1)}, true);
  EXPECT_TRUE(r3.created.empty());
}

TEST(LiveState, NeverMovesBackwards) {
  LiveState live = make_live();
  auto r = resolve(live, {ping("A", 2000, 52.60, -1.10), ping("A", 1000, 52.70, -1.20), ping("A", 2000, 52.80, -1.3)},
                   true);
  std::vector<uint8_t> stored = {1, 1, 1};
  live.apply(r.fixes, stored, r.created);
  auto u = live.unit(*live.find_unit("A"));
  ASSERT_TRUE(u->has_fix);
  EXPECT_EQ(u->last.t, 2000);
  EXPECT_DOUBLE_EQ(u->last.lat, 52.60);  // the out-of-order and the equal-time fix did not move it
  auto r2 = resolve(live, {ping("A", 3000, 52.65, -1.15)}, true);
  std::vector<uint8_t> dup = {0};  // a duplicate never moves a unit either
  live.apply(r2.fixes, dup, r2.created);
  EXPECT_EQ(live.unit(*live.find_unit("A"))->last.t, 2000);
}

TEST(LiveState, ChangedUnitsAreReportedOnce) {
  LiveState live = make_live();
  auto r = resolve(live, {ping("A", 1, 52.6, -1.1), ping("B", 1, 52.6, -1.2)}, true);
  std::vector<uint8_t> stored = {1, 1};
  live.apply(r.fixes, stored, r.created);
  EXPECT_EQ(live.take_changed_units().size(), 2u);
  EXPECT_TRUE(live.take_changed_units().empty());
}

TEST(LiveState, NearestUnitsMatchGeodesicBruteForce) {
  LiveState live = make_live();
  const unsigned seed = 20261122;
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::uniform_real_distribution<double> lon(-1.60, -0.66), lat(52.39, 52.98);
  std::vector<std::string> ids;
  std::vector<RawPing> pings;
  // snprintf, not "U" + std::to_string(i): GCC 12 at -O3 reports a false -Wrestrict there.
  for (int i = 0; i < 2000; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "U%d", i);
    ids.emplace_back(id);
  }
  for (int i = 0; i < 2000; ++i) pings.push_back(ping(ids[i], 1000, lat(rng), lon(rng)));
  auto r = resolve(live, pings, true);
  std::vector<uint8_t> stored(r.fixes.size(), 1);
  live.apply(r.fixes, stored, r.created);
  for (int q = 0; q < 50; ++q) {
    geo::LonLat c{lon(rng), lat(rng)};
    geo::XY cxy = live.projection().forward(c);
    // Only even-numbered units are eligible.
    auto got = live.nearest_units(cxy, 5, [](const UnitRecord& u) { return u.index % 2 == 0; });
    std::vector<std::pair<double, uint32_t>> brute;
    for (const auto& f : r.fixes)
      if (f.unit % 2 == 0) brute.emplace_back(geo::geodesic_distance_m(c, {f.lon, f.lat}), f.unit);
    std::sort(brute.begin(), brute.end());
    ASSERT_EQ(got.size(), 5u);
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(got[k].id % 2, 0u);
      // Grid distances are in BNG metres; within 0.5% of the geodesic (SPEC).
      EXPECT_NEAR(got[k].distance_m, brute[k].first, brute[k].first * 0.005 + 0.5);
    }
  }
}

}  // namespace
}  // namespace pm
