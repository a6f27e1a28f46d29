#pragma once
// GPX 1.0 / 1.1 track import (POST /api/v1/tracks/import), pure.
//
//   GpxTrack g;
//   if (auto err = parse_gpx(body, g)) -> 400 bad_request, *err
//   g.points: every trk/trkseg/trkpt with a valid <time>, in document order
//
// A small scanner, not a general XML parser: it reads `<trkpt lat=".." lon="..">`
// elements (attributes in either quote style, any order), their <time>, and
// GPX 1.0's <speed> (m/s) and <course> (degrees); <rtept> and <wpt> are only
// counted. Bounded: at most `max_points` points, every lookup stays inside
// the body; comments and CDATA are not interpreted (GPS exports have none
// inside track points).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/clock.hpp"

namespace pm {

struct GpxPoint {
  EpochMs t = 0;
  double lat = 0, lon = 0;
  float speed_mps;    // NaN when absent
  float heading_deg;  // NaN when absent
};

struct GpxTrack {
  std::vector<GpxPoint> points;
  size_t skipped_no_time = 0;  // trkpt without a parsable <time>
  size_t ignored_waypoints = 0;  // wpt + rtept
};

// nullopt on success; else what is wrong (for the 400 message).
std::optional<std::string> parse_gpx(std::string_view body, GpxTrack& out, size_t max_points = 1'000'000);

}  // namespace pm
