#pragma once
// The replay queries behind GET /api/v1/tracks and GET /api/v1/positions
// (docs/api.md "Replay, exports and audit"): plain functions of a read
// connection, run on a StoreReader worker (and by the benchmarks directly).
//
//   TracksRequest r{.units = {{7, "NA21"}}, .from = a, .to = b, .format = TrackFormat::gpx};
//   TracksResult res = run_tracks(db, r);      // res.error (413, 503) or res.body
//
//   PositionsRequest p{.at = t, .max_gap_s = 180, .units = ...};
//   std::string json = run_positions(db, p, error);
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/errors.hpp"
#include "server/replay/track_analysis.hpp"
#include "server/state/live_state.hpp"
#include "server/store/sqlite.hpp"

namespace pm {

enum class TrackFormat : uint8_t { json, geojson, gpx, csv };
std::optional<TrackFormat> parse_track_format(std::string_view s);
std::string_view track_format_name(TrackFormat f);
std::string_view track_content_type(TrackFormat f);

struct UnitRef {
  uint32_t idx = 0;
  std::string id;
  UnitStatus status_now = UnitStatus::available;  // positions: the status when the log says nothing
};

struct TracksRequest {
  std::vector<UnitRef> units;
  int64_t from = 0, to = 0;  // inclusive
  double simplify_m = 0;     // Douglas-Peucker tolerance; 0 = every fix
  TrackFormat format = TrackFormat::json;
  StopRules rules;
  size_t max_fixes = 2'000'000;  // over this many fixes read: result_too_large
};

struct TracksResult {
  std::optional<Error> error;
  std::string body;
  size_t fixes = 0;    // read, before simplification
  size_t written = 0;  // points written
};

TracksResult run_tracks(sql::Db& db, const TracksRequest& r);

// Indexes of `pts` to write: Douglas-Peucker at `tolerance_m` (metres, in a
// local tangent plane of the track), plus every fix of every stop. Every
// index when tolerance_m <= 0.
std::vector<size_t> simplify_track(std::span<const TrackPoint> pts, const TrackAnalysis& a, double tolerance_m);

struct PositionsRequest {
  int64_t at = 0;
  double max_gap_s = 180;
  std::vector<UnitRef> units;
  std::optional<std::array<double, 4>> bbox;  // west, south, east, north
};

// The JSON answer; on a store error, "" with `error` set.
std::string run_positions(sql::Db& db, const PositionsRequest& r, std::string& error);

}  // namespace pm
