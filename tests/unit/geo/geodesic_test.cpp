// Geodesics on WGS84, against hand-known values and an independent
// spherical (haversine) computation; and the SPEC's 0.5% rule for distances
// measured in the projection.
#include "geo/geodesic.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>

#include "geo/projection.hpp"

namespace pm::geo {
namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

double haversine_m(LonLat a, LonLat b) {
  constexpr double kMeanRadius = 6371008.8;  // IUGG mean radius of WGS84
  const double dlat = (b.lat - a.lat) * kDeg, dlon = (b.lon - a.lon) * kDeg;
  const double h = std::pow(std::sin(dlat / 2), 2) + std::cos(a.lat * kDeg) *
                                                         std::cos(b.lat * kDeg) *
                                                         std::pow(std::sin(dlon / 2), 2);
  return 2 * kMeanRadius * std::asin(std::sqrt(h));
}

TEST(Geodesic, OneDegreeOfLatitudeAtTheEquator) {
  // Meridian arc 0..1 degree on WGS84: 110574.389 m (e.g. Karney's GeodSolve).
  EXPECT_NEAR(geodesic_distance_m({0, 0}, {0, 1}), 110574.389, 0.001);
}

TEST(Geodesic, OneDegreeAlongTheEquator) {
  // Along the equator the geodesic is the equator: a * pi / 180 exactly.
  EXPECT_NEAR(geodesic_distance_m({0, 0}, {1, 0}), 6378137.0 * kDeg, 1e-6);
}

TEST(Geodesic, LeicesterToOakhamAgreesWithHaversine) {
  const LonLat leicester{-1.1352, 52.6345}, oakham{-0.7296, 52.6700};
  const double d = geodesic_distance_m(leicester, oakham);
  const double h = haversine_m(leicester, oakham);
  std::printf("  geodesic %.3f m, haversine %.3f m\n", d, h);
  EXPECT_NEAR(d, 27700, 1500);  // ~28 km on the map
  EXPECT_NEAR(d / h, 1.0, 0.005);
  EXPECT_DOUBLE_EQ(geodesic_distance_m(oakham, leicester), d);
  EXPECT_EQ(geodesic_distance_m(oakham, oakham), 0.0);
}

TEST(Geodesic, DestinationInvertsDistance) {
  const unsigned seed = 4242;
  std::printf("  seed %u\n", seed);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> az(-180, 180), dist(0, 50000);
  const LonLat from{-1.1352, 52.6345};
  for (int i = 0; i < 500; ++i) {
    const double a = az(rng), d = dist(rng);
    const LonLat to = geodesic_destination(from, a, d);
    EXPECT_NEAR(geodesic_distance_m(from, to), d, 1e-6);
  }
  // Due north 1 degree of arc from the equator.
  const LonLat n = geodesic_destination({0, 0}, 0, 110574.389);
  EXPECT_NEAR(n.lat, 1.0, 1e-8);
  EXPECT_NEAR(n.lon, 0.0, 1e-12);
  // Longitude is wrapped into [-180, 180].
  EXPECT_NEAR(geodesic_destination({179.99, 0}, 90, 0.02 * 6378137.0 * kDeg).lon, -179.99, 1e-9);
}

TEST(Geodesic, InvalidInputGivesNaN) {
  EXPECT_TRUE(std::isnan(geodesic_distance_m({std::nan(""), 0}, {0, 0})));
  EXPECT_TRUE(std::isnan(geodesic_distance_m({0, 91}, {0, 0})));
  EXPECT_TRUE(std::isnan(geodesic_destination({0, 0}, std::nan(""), 10).lat));
}

// SPEC section 4: straight-line distances in the metric projection must be
// within 0.5% of the true distance. Over Leicestershire and Rutland in BNG
// the point scale factor is 0.99960..0.99975, so the error is ~0.04%.
TEST(Geodesic, ProjectedDistanceWithinHalfAPercentInLeicestershire) {
  auto proj = Projection::create();
  ASSERT_TRUE(proj.has_value()) << proj.error();
  const unsigned seed = 1337;
  std::printf("  seed %u\n", seed);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> lon(-1.60, -0.66), lat(52.39, 52.98);
  std::uniform_real_distribution<double> az(0, 360), near(20, 5000);
  double worst = 0;
  for (int i = 0; i < 5000; ++i) {
    const LonLat a{lon(rng), lat(rng)};
    // Half long pairs across the county, half dispatch-sized hops.
    const LonLat b =
        (i % 2 == 0) ? LonLat{lon(rng), lat(rng)} : geodesic_destination(a, az(rng), near(rng));
    const double g = geodesic_distance_m(a, b);
    const double p = planar_distance_m(proj->forward(a), proj->forward(b));
    const double rel = std::fabs(p / g - 1);
    worst = std::max(worst, rel);
    ASSERT_LT(rel, 0.005) << a.lon << "," << a.lat << " -> " << b.lon << "," << b.lat;
  }
  std::printf("  worst relative error %.5f%%\n", worst * 100);
  // Tighter than the SPEC, to notice a wrong CRS early.
  EXPECT_LT(worst, 0.001);
}

}  // namespace
}  // namespace pm::geo
