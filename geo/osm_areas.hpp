#pragma once
// Administrative (or any other) boundaries from an OpenStreetMap extract:
// type=boundary and type=multipolygon relations assembled into polygons with
// holes by libosmium's multipolygon assembler (target geo_osm).
//
//   auto parishes = pm::geo::read_osm_boundaries(data + "/osm/rutland-latest.osm.pbf", {.admin_level = "10"});
//   if (!parishes) throw std::runtime_error(parishes.error());
//   for (const auto& b : *parishes) use(b.relation_id, b.tag("name"), b.polygons);
//
// Relations whose ways are missing from the extract (cut at its edge) or do
// not close into rings are not assembled; they are counted in `incomplete`.
// The file is read twice: relations first, then nodes and ways.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "geo/area_index.hpp"
#include "geo/expected.hpp"

namespace pm::geo {

struct OsmBoundaryFilter {
  std::string boundary = "administrative";  // boundary=*; empty: any (or none)
  std::string admin_level;                  // admin_level=*; empty: any
};

struct OsmBoundary {
  std::int64_t relation_id = 0;
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<PolygonRings> polygons;  // lon/lat, outer ring then its holes
  std::string_view tag(std::string_view key) const {
    for (const auto& [k, v] : tags)
      if (k == key) return v;
    return {};
  }
};

struct OsmBoundaries {
  std::vector<OsmBoundary> areas;  // in the order the assembler completed them
  std::size_t incomplete = 0;      // matching relations libosmium could not assemble
};

// `progress` (when set) is called now and then with a line to show the user.
[[nodiscard]] Expected<OsmBoundaries, std::string> read_osm_boundaries(
    const std::string& path, const OsmBoundaryFilter& filter,
    const std::function<void(const std::string&)>& progress = {});

}  // namespace pm::geo
