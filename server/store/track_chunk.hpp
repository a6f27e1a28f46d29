#pragma once
// Per-unit track storage (docs/ARCHITECTURE.md, "Track chunks"): the fixes of
// one unit packed into compact binary blobs so that a 12-hour track is a few
// dozen row reads instead of a scan of `fixes`, which has no (unit, t) index
// (it would cost ingest speed).
//
// Blob format (little-endian, version 2):
//   u8 version (=2), varint n, then n points, each:
//     zigzag varint  t - previous t        (ms; the first against 0)
//     zigzag varint  lat_e7 - previous     (int32 degrees x 1e7, rounded)
//     zigzag varint  lon_e7 - previous
//     varint         device index
//     u8             channel
//     u8             bits 0-2: speed, heading, accuracy present; bit 3: x/y
//                    present; bits 4-7: flags
//     zigzag varint  x_mm - previous x_mm, y_mm - previous y_mm -- if present
//                    (previous: the last point that had them; 0 at first)
//     f32 LE         speed_mps, heading_deg, accuracy_m -- only those present
// x_mm/y_mm are the fix projected into the deployment's metric CRS
// (geo::Projection, from the stored full-precision lat/lon) in whole
// millimetres, so the coverage report recomputed from the store needs no PROJ
// call per fix; live coverage accounting rounds to the same millimetre grid
// (to_mm_grid), so both see identical coordinates.
// Points are in time order (equal times: store order). Decoding checks every
// bound and refuses a malformed blob instead of reading past it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "geo/projection.hpp"
#include "server/core/channel.hpp"

namespace pm {

struct TrackPoint {
  int64_t t = 0;      // epoch ms
  int32_t lat_e7 = 0; // degrees x 1e7
  int32_t lon_e7 = 0;
  uint32_t device = 0;
  float speed_mps;    // NaN: not reported
  float heading_deg;
  float accuracy_m;
  uint8_t channel = 0;
  uint8_t flags = 0;  // the `fixes.flags` column (bit 0: emergency); at most 4 bits kept
  int64_t x_mm = kNoXY;  // projected metres x 1000 (to_mm); kNoXY: not projected
  int64_t y_mm = kNoXY;

  static constexpr int64_t kNoXY = INT64_MIN;
  bool has_xy() const { return x_mm != kNoXY; }
  // The projected position in metres (only when has_xy()): to_mm_grid's value.
  geo::XY xy() const { return {static_cast<double>(x_mm) / 1000.0, static_cast<double>(y_mm) / 1000.0}; }

  double lat() const { return lat_e7 * 1e-7; }
  double lon() const { return lon_e7 * 1e-7; }
};

// The longest fix time one chunk spans: packing splits there, and queries
// bound t_first by it (a chunk with fixes in [from, to] starts after from - it).
constexpr int64_t kChunkSpanMs = 3600 * 1000;

// Degrees to the stored 1e-7 integer (round half away from zero).
int32_t to_e7(double deg);
// Projected metres to whole millimetres (round half away from zero); kNoXY
// for a non-finite value or one beyond +-1e12 mm.
int64_t to_mm(double metres);
// `p` rounded to the millimetre grid the chunks store (NaN stays NaN): what
// live coverage accounting uses, so that it sees exactly what a report
// recomputed from the chunks sees.
geo::XY to_mm_grid(geo::XY p);
// Sets p.x_mm/y_mm from `xy`, the projection of the stored full-precision
// lon/lat (both kNoXY when either is unusable).
void set_projected(TrackPoint& p, geo::XY xy);

// LEB128 varints, shared by the blob formats of the store.
void put_varint(std::string& out, uint64_t v);
// Reads one at s[pos], advancing pos; false if it runs past the end.
bool get_varint(std::string_view s, size_t& pos, uint64_t& v);
// Appends the blob for `points` (already in time order) to `out`.
void encode_track_chunk(const std::vector<TrackPoint>& points, std::string& out);
// Appends the points of `blob` to `out`; false (and `out` unchanged) when the
// blob is malformed.
bool decode_track_chunk(std::string_view blob, std::vector<TrackPoint>& out);

}  // namespace pm
