#pragma once
// Reads areas from GeoJSON: a FeatureCollection, a single Feature, or
// GeoJSON-lines (one Feature per line, as the ONS ward files). Polygon and
// MultiPolygon geometries; properties `id`, `name`, `kind`, `parent`,
// `urban`, `target` ({visits, minutes, max_gap_minutes}, SPEC 2).
// Where `id`/`name` are absent, common boundary codes are used (ref:gss,
// wd19cd/wd19nm, ward_code/ward_name), so the public files load as they are.
//
//   std::vector<AreaProblem> problems;
//   auto areas = read_area_features(text, "neighbourhood", problems);
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "geo/area_index.hpp"
#include "geo/coverage.hpp"

namespace pm {

struct AreaFeature {
  geo::AreaInput input;  // input.id is the area id
  std::string name;
  std::string kind;
  std::string parent;
  std::optional<bool> urban;  // the `urban` property, where given (grade-1 targets)
  // The `target` property. A `hotspot` always has one: without it, or without
  // its max_gap_minutes, max_gap_minutes is kHotspotMaxGapMinutes (SPEC 5).
  std::optional<geo::PatrolTarget> target;
  std::size_t source = 0;  // position in the input it was read from
};

constexpr double kHotspotMaxGapMinutes = 120;

// Why a feature was left out. `code` is a stable API string (docs/api.md,
// POST /api/v1/areas): not_a_feature, missing_id, duplicate_id,
// unsupported_geometry, invalid_geometry, invalid_target.
struct AreaProblem {
  size_t index;  // feature position in the input
  std::string message;  // the reason, without the id
  std::string code = "not_a_feature";
  std::string id;  // where known
};

// `not_geojson` (when not null) is set to why the text as a whole is not
// GeoJSON (not JSON; JSON but neither a FeatureCollection, a Feature nor
// Feature lines); it stays empty otherwise, even when every feature failed.
std::vector<AreaFeature> read_area_features(std::string_view text, std::string_view default_kind,
                                            std::vector<AreaProblem>& problems, std::string* not_geojson = nullptr);

// One feature's geometry alone, as GeoJSON (the store's `geometry` column),
// and back: an error message when `json` is not a Polygon/MultiPolygon.
std::string write_area_geometry(const geo::AreaInput& area);
std::optional<std::string> read_area_geometry(std::string_view json, geo::AreaInput& area);

// A target as a JSON object, and back (the store's `target` column): an
// error message when `json` is not an object of non-negative numbers.
std::string write_target(const geo::PatrolTarget& target);
std::optional<std::string> read_target(std::string_view json, geo::PatrolTarget& target);

// The features as a GeoJSON FeatureCollection (GET /api/v1/areas): properties
// id, name, kind, parent (when set), urban (when set), target (when set:
// visits, minutes, max_gap_minutes when set); coordinates to 1e-7
// degrees. `kind` not empty: only features of that kind.
std::string write_area_features(const std::vector<AreaFeature>& features, std::string_view kind = {});

}  // namespace pm
