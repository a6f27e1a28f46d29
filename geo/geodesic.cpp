#include "geo/geodesic.hpp"

#include <geodesic.h>

#include <cmath>
#include <limits>

namespace pm::geo {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kWgs84A = 6378137.0;
constexpr double kWgs84F = 1.0 / 298.257223563;

// geod_inverse/geod_direct only read the struct, so one shared constant
// instance is safe from any thread; a function-local static gives thread-safe
// one-time initialisation.
const geod_geodesic& wgs84() {
  static const geod_geodesic g = [] {
    geod_geodesic init{};
    geod_init(&init, kWgs84A, kWgs84F);
    return init;
  }();
  return g;
}

}  // namespace

double geodesic_distance_m(LonLat a, LonLat b) {
  if (!is_valid(a) || !is_valid(b)) return kNaN;
  double s12 = 0;
  geod_inverse(&wgs84(), a.lat, a.lon, b.lat, b.lon, &s12, nullptr, nullptr);
  return s12;
}

LonLat geodesic_destination(LonLat from, double azimuth_deg, double distance_m) {
  if (!is_valid(from) || !std::isfinite(azimuth_deg) || !std::isfinite(distance_m)) {
    return {kNaN, kNaN};
  }
  double lat = 0;
  double lon = 0;
  geod_direct(&wgs84(), from.lat, from.lon, azimuth_deg, distance_m, &lat, &lon, nullptr);
  // geod_direct reduces longitude to [-180, 180] already (no GEOD_LONG_UNROLL).
  return {lon, lat};
}

}  // namespace pm::geo
