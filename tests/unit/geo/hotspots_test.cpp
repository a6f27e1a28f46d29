// Hot spots from crime points (geo/hotspots.hpp), on hand-placed points whose
// answer is worked out in the comments.
#include "geo/hotspots.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace pm::geo {
namespace {

// A: 10 crimes at (0,0) (indexes 0-9) and 3 at 100 m (10-12); (151,0) (13)
//    is 151 m from A's epicentre: not in A.  Count at (0,0): 13.
// B: 8 crimes at (300,0) (14-21), 300 m from A. Count there: 8 + (151,0) = 9.
// C: 10 crimes at (2000,0) (22-31) and one 120 m north (32). Count: 11.
// D: 2 crimes at (5000,5000) (33-34). Count: 2.
// (100,0) also counts 13 (10 at A, itself, (151,0), (0,100) at 141 m), but
// comes after index 0 and is 100 m from it.
std::vector<XY> points() {
  std::vector<XY> p(10, XY{0, 0});
  p.insert(p.end(), {XY{100, 0}, XY{0, 100}, XY{-100, 0}, XY{151, 0}});
  p.insert(p.end(), 8, XY{300, 0});
  p.insert(p.end(), 10, XY{2000, 0});
  p.push_back(XY{2000, 120});
  p.insert(p.end(), 2, XY{5000, 5000});
  return p;
}

TEST(Hotspots, EpicentresWithEnoughCrimesFarEnoughApart) {
  auto pts = points();
  // One month of data: at least 60 a year = at least 5 within 150 m.
  auto spots = find_hotspots(pts, {.radius_m = 150, .separation_m = 500, .min_per_year = 60, .months = 1});
  ASSERT_EQ(spots.size(), 2u);
  EXPECT_EQ(spots[0].epicentre, 0u);
  EXPECT_EQ(spots[0].members, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  EXPECT_DOUBLE_EQ(spots[0].radius_m, 100);
  EXPECT_DOUBLE_EQ(spots[0].per_year, 13 * 12);
  EXPECT_EQ(spots[1].epicentre, 22u);
  EXPECT_EQ(spots[1].members.size(), 11u);
  EXPECT_DOUBLE_EQ(spots[1].radius_m, 120);
  EXPECT_DOUBLE_EQ(spots[1].per_year, 11 * 12);
}

TEST(Hotspots, SeparationThresholdAndMaximumDecide) {
  auto pts = points();
  // 250 m apart: B (300 m from A) qualifies too; (151,0) counts 10 but is 151 m from A.
  auto spots = find_hotspots(pts, {.radius_m = 150, .separation_m = 250, .min_per_year = 60, .months = 1});
  ASSERT_EQ(spots.size(), 3u);
  EXPECT_EQ(spots[0].epicentre, 0u);
  EXPECT_EQ(spots[1].epicentre, 22u);
  EXPECT_EQ(spots[2].epicentre, 14u);
  EXPECT_EQ(spots[2].members.size(), 9u);
  // Twelve months of data: 13 a year at most, below 60: none.
  EXPECT_TRUE(find_hotspots(pts, {.min_per_year = 60, .months = 12}).empty());
  // At most one.
  EXPECT_EQ(find_hotspots(pts, {.min_per_year = 60, .months = 1, .max_spots = 1}).size(), 1u);
  // D alone is a hot spot when 2 crimes a month is enough; its radius is the minimum.
  auto low = find_hotspots(pts, {.min_per_year = 24, .months = 1});
  ASSERT_EQ(low.size(), 3u);
  EXPECT_EQ(low[2].epicentre, 33u);
  EXPECT_DOUBLE_EQ(low[2].radius_m, 25);
}

TEST(Hotspots, CircleRingIsClosedAndRound) {
  auto ring = circle_ring({1000, 2000}, 50, 32);
  ASSERT_EQ(ring.size(), 33u);
  EXPECT_EQ(ring.front(), ring.back());
  for (const auto& p : ring) EXPECT_NEAR(std::hypot(p.x - 1000, p.y - 2000), 50, 1e-9);
}

}  // namespace
}  // namespace pm::geo
