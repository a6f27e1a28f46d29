// PointIndex against brute force over many random points, through moves and
// removes, with and without predicates and distance limits.
#include "geo/point_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "tests/support/seed.hpp"

namespace pm::geo {
namespace {

using Neighbor = PointIndex::Neighbor;

// Leicestershire in EPSG:27700 (approximately).
const Box kCounty{430000, 280000, 495000, 345000};

struct Brute {
  std::vector<std::optional<XY>> pos;
  template <class Pred>
  std::vector<Neighbor> nearest(XY q, std::size_t k, Pred accept, double max_d) const {
    std::vector<std::pair<double, std::uint32_t>> all;
    for (std::uint32_t id = 0; id < pos.size(); ++id) {
      if (!pos[id] || !accept(id)) continue;
      const double dx = pos[id]->x - q.x, dy = pos[id]->y - q.y;
      const double d2 = dx * dx + dy * dy;
      if (d2 <= max_d * max_d) all.emplace_back(d2, id);
    }
    std::sort(all.begin(), all.end());
    std::vector<Neighbor> out;
    for (std::size_t i = 0; i < std::min(k, all.size()); ++i) {
      out.push_back({all[i].second, std::sqrt(all[i].first)});
    }
    return out;
  }
};

void check_against_brute(const PointIndex& idx, const Brute& brute, std::mt19937_64& rng,
                         int queries) {
  // Queries mostly inside the extent, some well outside it.
  std::uniform_real_distribution<double> qx(kCounty.min_x - 20000, kCounty.max_x + 20000);
  std::uniform_real_distribution<double> qy(kCounty.min_y - 20000, kCounty.max_y + 20000);
  std::vector<Neighbor> got;
  got.reserve(64);
  auto every_third = [](std::uint32_t id) { return id % 3 == 0; };
  auto rare = [](std::uint32_t id) { return id % 997 == 1; };
  for (int i = 0; i < queries; ++i) {
    const XY q{qx(rng), qy(rng)};
    for (std::size_t k : {std::size_t{1}, std::size_t{5}, std::size_t{20}}) {
      idx.nearest(q, k, got);
      ASSERT_EQ(got, brute.nearest(
                         q, k, [](std::uint32_t) { return true; }, PointIndex::kInf))
          << "k=" << k << " q=" << q.x << "," << q.y;
      idx.nearest(q, k, every_third, got);
      ASSERT_EQ(got, brute.nearest(q, k, every_third, PointIndex::kInf)) << "k=" << k;
      idx.nearest(q, k, rare, got);
      ASSERT_EQ(got, brute.nearest(q, k, rare, PointIndex::kInf)) << "k=" << k;
      idx.nearest(q, k, every_third, got, 800.0);
      ASSERT_EQ(got, brute.nearest(q, k, every_third, 800.0)) << "k=" << k;
    }
  }
}

TEST(PointIndex, NearestMatchesBruteForceThroughMovesAndRemoves) {
  std::mt19937_64 rng(test::seed_from_env(123456789));
  PointIndex idx(kCounty);
  Brute brute;
  constexpr std::uint32_t kUnits = 12000;
  brute.pos.resize(kUnits);
  std::uniform_real_distribution<double> x(kCounty.min_x, kCounty.max_x),
      y(kCounty.min_y, kCounty.max_y);
  std::normal_distribution<double> city(0, 3000);  // a dense cluster, like Leicester
  for (std::uint32_t id = 0; id < kUnits; ++id) {
    XY p = (id % 2 == 0) ? XY{x(rng), y(rng)} : XY{458000 + city(rng), 304000 + city(rng)};
    if (id % 500 == 0) p.x += 100000;  // a few far outside the extent
    ASSERT_TRUE(idx.upsert(id, p));
    brute.pos[id] = p;
  }
  ASSERT_EQ(idx.size(), kUnits);
  check_against_brute(idx, brute, rng, 150);

  // Moves (small drifts and long jumps) and removes.
  std::uniform_int_distribution<std::uint32_t> pick(0, kUnits - 1);
  std::normal_distribution<double> drift(0, 60);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 20000; ++i) {
      const std::uint32_t id = pick(rng);
      const int action = i % 10;
      if (action == 0) {
        idx.remove(id);
        brute.pos[id].reset();
      } else {
        XY p = brute.pos[id].value_or(XY{x(rng), y(rng)});
        p = action < 8 ? XY{p.x + drift(rng), p.y + drift(rng)} : XY{x(rng), y(rng)};
        ASSERT_TRUE(idx.upsert(id, p));
        brute.pos[id] = p;
      }
    }
    std::size_t live = 0;
    for (std::uint32_t id = 0; id < kUnits; ++id) {
      live += brute.pos[id].has_value();
      ASSERT_EQ(idx.position(id), brute.pos[id]) << id;
      ASSERT_EQ(idx.contains(id), brute.pos[id].has_value());
    }
    ASSERT_EQ(idx.size(), live);
    check_against_brute(idx, brute, rng, 100);
  }
}

TEST(PointIndex, WithinMatchesBruteForce) {
  std::mt19937_64 rng(test::seed_from_env(987654321));
  PointIndex idx(kCounty, 300);
  std::vector<std::optional<XY>> pos(15000);
  std::uniform_real_distribution<double> x(kCounty.min_x - 5000, kCounty.max_x + 5000);
  std::uniform_real_distribution<double> y(kCounty.min_y - 5000, kCounty.max_y + 5000);
  for (std::uint32_t id = 0; id < pos.size(); ++id) {
    pos[id] = XY{x(rng), y(rng)};
    idx.upsert(id, *pos[id]);
  }
  for (std::uint32_t id = 0; id < pos.size(); id += 7) {
    idx.remove(id);
    pos[id].reset();
  }
  std::uniform_real_distribution<double> size(10, 20000);
  for (int i = 0; i < 300; ++i) {
    const double x0 = x(rng), y0 = y(rng);
    const Box box{x0, y0, x0 + size(rng), y0 + size(rng)};
    std::vector<std::uint32_t> got, want;
    idx.within(box, [&](std::uint32_t id, XY p) {
      got.push_back(id);
      EXPECT_EQ(p, *pos[id]);
    });
    for (std::uint32_t id = 0; id < pos.size(); ++id) {
      if (pos[id] && box.contains(*pos[id])) want.push_back(id);
    }
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, want) << "box " << i;
  }
  // The whole plane, and an empty box.
  std::size_t n = 0;
  idx.within(Box{-1e9, -1e9, 1e9, 1e9}, [&](std::uint32_t, XY) { ++n; });
  EXPECT_EQ(n, idx.size());
  n = 0;
  idx.within(Box{}, [&](std::uint32_t, XY) { ++n; });
  EXPECT_EQ(n, 0u);
}

TEST(PointIndex, TiesAreBrokenById) {
  PointIndex idx(kCounty);
  const XY p{450000, 300000};
  for (std::uint32_t id : {9u, 3u, 7u, 1u, 5u}) idx.upsert(id, p);
  idx.upsert(2, {450000 + 250, 300000});  // next cell over, same distance as 4
  idx.upsert(4, {450000 - 250, 300000});
  std::vector<Neighbor> got;
  idx.nearest({450000, 300000}, 3, got);
  EXPECT_EQ(got, (std::vector<Neighbor>{{1, 0}, {3, 0}, {5, 0}}));
  idx.nearest({450000, 300000}, 7, got);
  EXPECT_EQ(got,
            (std::vector<Neighbor>{{1, 0}, {3, 0}, {5, 0}, {7, 0}, {9, 0}, {2, 250}, {4, 250}}));
  idx.nearest({450000, 300000}, 6, got);
  EXPECT_EQ(got.back(), (Neighbor{2, 250}));
}

TEST(PointIndex, HandExample) {
  // An ASCII map, 100 m per character, origin at the bottom-left:
  //   y=2  . B . . C
  //   y=1  . . . . .
  //   y=0  A . q . D
  PointIndex idx(Box{0, 0, 400, 200}, 150);
  idx.upsert(0, {0, 0});      // A
  idx.upsert(1, {100, 200});  // B
  idx.upsert(2, {400, 200});  // C
  idx.upsert(3, {400, 0});    // D
  std::vector<Neighbor> got;
  idx.nearest({200, 0}, 2, got);
  EXPECT_EQ(got, (std::vector<Neighbor>{{0, 200}, {3, 200}}));
  idx.nearest(
      {200, 0}, 3, [](std::uint32_t id) { return id != 0; }, got);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], (Neighbor{3, 200}));
  EXPECT_EQ(got[1].id, 1u);
  EXPECT_NEAR(got[1].distance_m, std::hypot(100, 200), 1e-9);
  EXPECT_EQ(got[2].id, 2u);
  idx.nearest({200, 0}, 5, got, 199.0);
  EXPECT_TRUE(got.empty());
  idx.nearest({200, 0}, 5, got, 200.0);  // the limit is inclusive
  EXPECT_EQ(got.size(), 2u);
}

TEST(PointIndex, BasicsAndEdgeCases) {
  PointIndex idx(kCounty);
  std::vector<Neighbor> got{{1, 1}};
  idx.nearest({450000, 300000}, 5, got);
  EXPECT_TRUE(got.empty());
  EXPECT_FALSE(idx.upsert(1, {std::nan(""), 0}));
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_TRUE(idx.upsert(1000, {450000, 300000}));
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_FALSE(idx.position(999).has_value());
  EXPECT_FALSE(idx.position(123456).has_value());
  idx.remove(999);     // absent: no-op
  idx.remove(123456);  // beyond the table: no-op
  EXPECT_EQ(idx.size(), 1u);
  idx.upsert(1000, {450001, 300001});  // move
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_EQ(idx.position(1000), (XY{450001, 300001}));
  idx.nearest({450000, 300000}, 0, got);
  EXPECT_TRUE(got.empty());
  idx.nearest({std::nan(""), 300000}, 3, got);
  EXPECT_TRUE(got.empty());
  idx.remove(1000);
  EXPECT_EQ(idx.size(), 0u);
  idx.upsert(5, {1, 2});
  idx.clear();
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_FALSE(idx.contains(5));

  // A degenerate extent still works (one cell).
  PointIndex one(Box{});
  one.upsert(1, {5, 5});
  one.upsert(2, {-5, -5});
  one.nearest({4, 4}, 1, got);
  EXPECT_EQ(got, (std::vector<Neighbor>{{1, std::hypot(1, 1)}}));
}

TEST(PointIndex, QueriesDoNotAllocateWithCapacity) {
  PointIndex idx(kCounty);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> x(kCounty.min_x, kCounty.max_x),
      y(kCounty.min_y, kCounty.max_y);
  for (std::uint32_t id = 0; id < 5000; ++id) idx.upsert(id, {x(rng), y(rng)});
  std::vector<Neighbor> got;
  got.reserve(5);
  const auto* data = got.data();
  for (int i = 0; i < 1000; ++i) {
    idx.nearest({x(rng), y(rng)}, 5, got);
    ASSERT_EQ(got.size(), 5u);
    ASSERT_EQ(got.data(), data);
  }
}

TEST(PointIndex, HugeExtentIsCapped) {
  // All of Great Britain at 1 m cells would be ~10^12 cells: the cell grows.
  PointIndex idx(Box{0, 0, 700000, 1300000}, 1.0);
  EXPECT_GE(idx.cell_size_m(), 400.0);
  idx.upsert(1, {123456, 654321});
  std::vector<Neighbor> got;
  idx.nearest({0, 0}, 1, got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, 1u);
}

}  // namespace
}  // namespace pm::geo
