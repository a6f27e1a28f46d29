#pragma once
// Distances on the WGS84 ellipsoid (Karney's algorithm, PROJ's geodesic.h):
// accurate to nanometres at any distance, ~1 us a call. Use it where a
// distance must not depend on the deployment's projection.
//
//   double d = pm::geo::geodesic_distance_m({-1.1352, 52.6345}, {-0.7296, 52.6700});
//   pm::geo::LonLat p = pm::geo::geodesic_destination({-1.1352, 52.6345}, 90.0, 500.0);
//
// Thread-safe: pure functions over a constant ellipsoid.
#include "geo/types.hpp"

namespace pm::geo {

// Shortest distance along the WGS84 ellipsoid, metres. NaN if either point is
// not is_valid().
double geodesic_distance_m(LonLat a, LonLat b);

// The point reached from `from` travelling `distance_m` metres with initial
// azimuth `azimuth_deg` (clockwise from north). Longitude is in [-180, 180].
// NaNs if `from` is not is_valid() or the arguments are not finite.
LonLat geodesic_destination(LonLat from, double azimuth_deg, double distance_m);

}  // namespace pm::geo
