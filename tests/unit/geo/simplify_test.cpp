// Douglas-Peucker on hand-computed polylines, plus its defining property on a
// seeded random walk: every dropped vertex lies within the tolerance of the
// simplified segment that spans it.
#include "geo/simplify.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tests/support/seed.hpp"

namespace pm::geo {
namespace {

using Idx = std::vector<std::size_t>;

TEST(PointSegmentDistance, PerpendicularEndsAndDegenerate) {
  EXPECT_DOUBLE_EQ(point_segment_distance_m({5, 4}, {0, 0}, {10, 0}), 4);    // foot inside the segment
  EXPECT_DOUBLE_EQ(point_segment_distance_m({13, 4}, {0, 0}, {10, 0}), 5);   // past b: 3-4-5 to b, not 4
  EXPECT_DOUBLE_EQ(point_segment_distance_m({-3, -4}, {0, 0}, {10, 0}), 5);  // before a
  EXPECT_DOUBLE_EQ(point_segment_distance_m({3, 4}, {0, 0}, {0, 0}), 5);     // a == b: distance to the point
}

TEST(DouglasPeucker, ShortLinesComeBackWhole) {
  const std::vector<XY> none, one{{1, 1}}, two{{0, 0}, {1, 1}};
  EXPECT_EQ(douglas_peucker(none, 5), Idx{});
  EXPECT_EQ(douglas_peucker(one, 5), (Idx{0}));
  EXPECT_EQ(douglas_peucker(two, 5), (Idx{0, 1}));
}

TEST(DouglasPeucker, CollinearVerticesGo) {
  const std::vector<XY> line{{0, 0}, {2.5, 0}, {5, 0}, {10, 0}};
  EXPECT_EQ(douglas_peucker(line, 0), (Idx{0, 3}));
  EXPECT_EQ(douglas_peucker(line, 1), (Idx{0, 3}));
}

TEST(DouglasPeucker, SpikeKeptOnlyAboveTheTolerance) {
  const std::vector<XY> line{{0, 0}, {5, 3}, {10, 0}};  // the spike is 3 m off the base
  EXPECT_EQ(douglas_peucker(line, 2.9), (Idx{0, 1, 2}));
  EXPECT_EQ(douglas_peucker(line, 3.0), (Idx{0, 2}));  // "more than" the tolerance
  EXPECT_EQ(douglas_peucker(line, 3.1), (Idx{0, 2}));
}

// A(0,0) B(2,1) C(4,0) D(6,4) E(8,0). Against A-E: B 1, C 0, D 4 -> D first.
// Against A-D (length sqrt(52)): B |2*4-1*6|/sqrt(52) = 0.277, C |4*4-0*6|/sqrt(52) = 2.219.
// Against A-C: B 1. D-E has nothing between.
TEST(DouglasPeucker, NestedSplitsByHand) {
  const std::vector<XY> line{{0, 0}, {2, 1}, {4, 0}, {6, 4}, {8, 0}};
  EXPECT_EQ(douglas_peucker(line, 0.5), (Idx{0, 1, 2, 3, 4}));
  EXPECT_EQ(douglas_peucker(line, 1.5), (Idx{0, 2, 3, 4}));  // B (1 m from A-C) goes
  EXPECT_EQ(douglas_peucker(line, 2.5), (Idx{0, 3, 4}));     // C (2.219 m from A-D) goes
  EXPECT_EQ(douglas_peucker(line, 4.5), (Idx{0, 4}));        // D (4 m from A-E) goes
}

// A closed ring (first == last): the vertex farthest from the start is kept
// first, then each half is refined like a line.
TEST(DouglasPeucker, ClosedRing) {
  // Square with a 0.2 m bump on its south side.
  const std::vector<XY> ring{{0, 0}, {5, 0.2}, {10, 0}, {10, 10}, {0, 10}, {0, 0}};
  EXPECT_EQ(douglas_peucker(ring, 1), (Idx{0, 2, 3, 4, 5}));
  EXPECT_EQ(douglas_peucker(ring, 0.1), (Idx{0, 1, 2, 3, 4, 5}));
  // A ring smaller than the tolerance collapses to its closing pair.
  EXPECT_EQ(douglas_peucker(ring, 20), (Idx{0, 5}));
}

TEST(DouglasPeucker, DroppedVerticesStayWithinTolerance) {
  const unsigned seed = test::seed_from_env(20261122);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::normal_distribution<double> step(0, 3);
  std::vector<XY> walk{{0, 0}};
  for (int i = 0; i < 20000; ++i) walk.push_back({walk.back().x + 2 + step(rng), walk.back().y + step(rng)});
  for (double tol : {1.0, 5.0, 20.0}) {
    const auto keep = douglas_peucker(walk, tol);
    ASSERT_GE(keep.size(), 2u);
    EXPECT_EQ(keep.front(), 0u);
    EXPECT_EQ(keep.back(), walk.size() - 1);
    EXPECT_LT(keep.size(), walk.size());
    for (std::size_t k = 0; k + 1 < keep.size(); ++k) {
      ASSERT_LT(keep[k], keep[k + 1]);
      for (std::size_t i = keep[k] + 1; i < keep[k + 1]; ++i)
        ASSERT_LE(point_segment_distance_m(walk[i], walk[keep[k]], walk[keep[k + 1]]), tol) << "vertex " << i;
    }
  }
}

}  // namespace
}  // namespace pm::geo
