#pragma once
// Stops and trips of one unit's track (GET /api/v1/tracks, docs/api.md), pure.
//
//   auto a = analyse_track(points, {.stop_radius_m = 30, .stop_min_s = 120});
//   a.stops: stationary runs; a.trips: the movement between them.
//
// Rules (exact):
// - A stop is a maximal run of consecutive fixes i..j that all lie within
//   stop_radius_m of fix i (its anchor) and last t_j - t_i >= stop_min_s. Runs
//   are found greedily from the start: after a stop, the search continues at
//   j + 1; otherwise at i + 1. Its centre is the mean of its fixes.
// - A trip runs from the last fix of a stop (or the first fix of the track)
//   to the first fix of the next stop (or the last fix); trips with no
//   movement time (one fix) are dropped. Its distance is the sum of its
//   segment lengths; segments between fixes of a stop are never counted, so
//   jitter while parked is not mileage.
// - Distances are ellipsoidal (local WGS84 radii at the segment's mean
//   latitude): within 1e-5 relative of the geodesic for segments under 10 km.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "server/store/track_chunk.hpp"

namespace pm {

struct StopRules {
  double stop_radius_m = 30;
  double stop_min_s = 120;
};

struct TrackStop {
  size_t first = 0, last = 0;  // fix indexes, inclusive
  int64_t start = 0, end = 0;  // epoch ms
  double lat = 0, lon = 0;     // centre
};

struct TrackTrip {
  size_t first = 0, last = 0;
  int64_t start = 0, end = 0;
  double distance_m = 0;
};

struct TrackAnalysis {
  std::vector<TrackStop> stops;
  std::vector<TrackTrip> trips;
};

// Distance in metres between two nearby WGS84 points (see above).
double local_distance_m(double lat1, double lon1, double lat2, double lon2);

TrackAnalysis analyse_track(std::span<const TrackPoint> pts, const StopRules& rules);

}  // namespace pm
