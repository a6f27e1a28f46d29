#include "server/replay/track_analysis.hpp"

#include <cmath>
#include <numbers>

namespace pm {

double local_distance_m(double lat1, double lon1, double lat2, double lon2) {
  // WGS84 meridian (M) and prime-vertical (N) radii at the mean latitude.
  constexpr double a = 6378137.0, f = 1 / 298.257223563, e2 = f * (2 - f);
  constexpr double deg = std::numbers::pi / 180;
  const double phi = (lat1 + lat2) / 2 * deg;
  const double s = std::sin(phi);
  const double w = 1 - e2 * s * s;
  const double n = a / std::sqrt(w);
  const double m = a * (1 - e2) / (w * std::sqrt(w));
  const double dy = (lat2 - lat1) * deg * m;
  double dlon = lon2 - lon1;
  if (dlon > 180) dlon -= 360;
  if (dlon < -180) dlon += 360;
  const double dx = dlon * deg * n * std::cos(phi);
  // Not std::hypot: its overflow care costs a third of a mileage report, and
  // metres on one segment cannot overflow.
  return std::sqrt(dx * dx + dy * dy);
}

TrackAnalysis analyse_track(std::span<const TrackPoint> pts, const StopRules& rules) {
  TrackAnalysis out;
  const auto min_ms = static_cast<int64_t>(std::llround(rules.stop_min_s * 1000));
  for (size_t i = 0; i < pts.size();) {
    size_t j = i;
    while (j + 1 < pts.size() &&
           local_distance_m(pts[i].lat(), pts[i].lon(), pts[j + 1].lat(), pts[j + 1].lon()) <= rules.stop_radius_m)
      ++j;
    if (pts[j].t - pts[i].t >= min_ms) {
      TrackStop s{i, j, pts[i].t, pts[j].t, 0, 0};
      for (size_t k = i; k <= j; ++k) {
        s.lat += pts[k].lat();
        s.lon += pts[k].lon();
      }
      s.lat /= static_cast<double>(j - i + 1);
      s.lon /= static_cast<double>(j - i + 1);
      out.stops.push_back(s);
      i = j + 1;
    } else {
      ++i;
    }
  }
  auto add_trip = [&](size_t a, size_t b) {
    if (b <= a || pts[b].t == pts[a].t) return;
    TrackTrip t{a, b, pts[a].t, pts[b].t, 0};
    for (size_t k = a; k < b; ++k)
      t.distance_m += local_distance_m(pts[k].lat(), pts[k].lon(), pts[k + 1].lat(), pts[k + 1].lon());
    out.trips.push_back(t);
  };
  if (pts.empty()) return out;
  size_t from = 0;
  for (const auto& s : out.stops) {
    add_trip(from, s.first);
    from = s.last;
  }
  add_trip(from, pts.size() - 1);
  return out;
}

}  // namespace pm
