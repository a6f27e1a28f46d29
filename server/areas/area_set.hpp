#pragma once
// Replacing a set of areas (POST /api/v1/areas, the demo's files, restart):
// the pure part. Given the areas loaded now and an upload, works out the new
// set, its index, what was rejected and why, and which kinds were replaced;
// the caller stores it and then publishes it (server/areas/area_service.hpp).
//
//   std::vector<AreaProblem> problems;
//   auto incoming = read_area_features(body, "hotspot", problems);
//   AreaPlan plan = plan_area_replace(*current, std::move(incoming), std::move(problems), "hotspot", projection);
//   store rows: delete plan.replaced_kinds, insert plan.stored; then publish plan.next
//
// Rules (docs/api.md, POST /api/v1/areas):
// - Replaced: every area whose kind is among the accepted features' kinds or
//   is `kind` (when not empty, even with no feature). Other kinds stay.
// - Rejected (left out, with a stable code): the parser's problems, an id
//   given twice in the upload (the second), an id that an area of a kind
//   not replaced already has (duplicate_id), and geometry GEOS finds invalid
//   (invalid_geometry, with GEOS's reason such as "Self-intersection[x y]").
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "geo/area_index.hpp"
#include "geo/projection.hpp"
#include "server/areas/geojson.hpp"
#include "server/core/errors.hpp"

namespace pm {

// A loaded set: features[i] is the area with handle i in index.
struct AreaSet {
  std::shared_ptr<const geo::AreaIndex> index;
  std::shared_ptr<const std::vector<AreaFeature>> features;
};

struct AreaPlan {
  AreaSet next;
  std::vector<std::string> replaced_kinds;  // sorted
  std::vector<AreaFeature> stored;          // the accepted features, to write
  std::vector<AreaProblem> rejected;        // ascending index
  std::size_t loaded = 0;                   // stored.size()
};

AreaPlan plan_area_replace(const std::vector<AreaFeature>& current, std::vector<AreaFeature> incoming,
                           std::vector<AreaProblem> problems, std::string_view kind, const geo::Projection& projection);

struct AreaUploadResult {
  std::optional<Error> error;  // bad_request (not GeoJSON), store_failed, overloaded (stopping)
  AreaPlan plan;               // when no error
};

// The answer to POST /api/v1/areas:
// {"loaded":n,"replaced_kinds":[..],"rejected":[{"index","id","code","reason"}]}.
std::string write_area_plan(const AreaPlan& plan);

}  // namespace pm
