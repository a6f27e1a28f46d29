#pragma once
// Reads areas from GeoJSON: a FeatureCollection, a single Feature, or
// GeoJSON-lines (one Feature per line, as the ONS ward files). Polygon and
// MultiPolygon geometries; properties `id`, `name`, `kind`, `parent`.
// Where `id`/`name` are absent, common boundary codes are used (ref:gss,
// wd19cd/wd19nm, ward_code/ward_name), so the public files load as they are.
//
//   std::vector<AreaProblem> problems;
//   auto areas = read_area_features(text, "neighbourhood", problems);
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
  std::optional<geo::PatrolTarget> target;  // the `target` property, where given (per shift)
};

struct AreaProblem {
  size_t index;  // feature position in the input
  std::string message;
};

std::vector<AreaFeature> read_area_features(std::string_view text, std::string_view default_kind,
                                            std::vector<AreaProblem>& problems);

// The features as a GeoJSON FeatureCollection (GET /api/v1/areas): properties
// id, name, kind, parent (when set), urban (when set); coordinates to 1e-7
// degrees. `kind` not empty: only features of that kind.
std::string write_area_features(const std::vector<AreaFeature>& features, std::string_view kind = {});

}  // namespace pm
