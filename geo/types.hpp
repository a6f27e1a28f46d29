#pragma once
// Strong coordinate types: WGS84 degrees and projected metres never mix.
//
//   pm::geo::LonLat ll{-1.1350, 52.6366};         // Leicester clock tower
//   pm::geo::XY p = projection.forward(ll);         // British National Grid metres
#include <cmath>
#include <limits>

namespace pm::geo {

// WGS84 longitude/latitude in degrees.
struct LonLat {
  double lon = 0;
  double lat = 0;
  friend bool operator==(const LonLat&, const LonLat&) = default;
};

// A point in the deployment's metric projection (metres).
struct XY {
  double x = 0;
  double y = 0;
  friend bool operator==(const XY&, const XY&) = default;
};

// Axis-aligned box in projected metres.
struct Box {
  double min_x = std::numeric_limits<double>::infinity();
  double min_y = std::numeric_limits<double>::infinity();
  double max_x = -std::numeric_limits<double>::infinity();
  double max_y = -std::numeric_limits<double>::infinity();
  void extend(XY p) {
    min_x = std::fmin(min_x, p.x); min_y = std::fmin(min_y, p.y);
    max_x = std::fmax(max_x, p.x); max_y = std::fmax(max_y, p.y);
  }
  bool contains(XY p) const { return p.x >= min_x && p.x <= max_x && p.y >= min_y && p.y <= max_y; }
};

// True when lon/lat are finite and within [-180,180] x [-90,90].
inline bool is_valid(LonLat p) {
  return std::isfinite(p.lon) && std::isfinite(p.lat) && p.lon >= -180.0 && p.lon <= 180.0 &&
         p.lat >= -90.0 && p.lat <= 90.0;
}

inline double planar_distance_m(XY a, XY b) { return std::hypot(a.x - b.x, a.y - b.y); }

}  // namespace pm::geo
