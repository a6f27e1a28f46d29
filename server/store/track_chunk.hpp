#pragma once
// Per-unit track storage (docs/ARCHITECTURE.md, "Track chunks"): the fixes of
// one unit packed into compact binary blobs so that a 12-hour track is a few
// dozen row reads instead of a scan of `fixes`, which has no (unit, t) index
// (it would cost ingest speed).
//
// Blob format (little-endian, version 1):
//   u8 version (=1), varint n, then n points, each:
//     zigzag varint  t - previous t        (ms; the first against 0)
//     zigzag varint  lat_e7 - previous     (int32 degrees x 1e7, rounded)
//     zigzag varint  lon_e7 - previous
//     varint         device index
//     u8             channel
//     u8             bits 0-2: speed, heading, accuracy present; bits 3-7: flags
//     f32 LE         speed_mps, heading_deg, accuracy_m -- only those present
// Points are in time order (equal times: store order). Decoding checks every
// bound and refuses a malformed blob instead of reading past it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  uint8_t flags = 0;  // the `fixes.flags` column (bit 0: emergency); at most 5 bits kept

  double lat() const { return lat_e7 * 1e-7; }
  double lon() const { return lon_e7 * 1e-7; }
};

// Degrees to the stored 1e-7 integer (round half away from zero).
int32_t to_e7(double deg);

// Appends the blob for `points` (already in time order) to `out`.
void encode_track_chunk(const std::vector<TrackPoint>& points, std::string& out);
// Appends the points of `blob` to `out`; false (and `out` unchanged) when the
// blob is malformed.
bool decode_track_chunk(std::string_view blob, std::vector<TrackPoint>& out);

}  // namespace pm
