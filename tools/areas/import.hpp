#pragma once
// import-areas' pure part: boundaries read from OSM or KML as the daemon's
// area features (server/areas/geojson.hpp), ready to write as GeoJSON.
//
//   auto parishes = geo::read_osm_boundaries(pbf, {.admin_level = "10"});
//   auto areas = pm::areas::from_osm(*parishes, "neighbourhood");
//   pm::areas::set_target(areas, geo::PatrolTarget{.visits = 2});
#include <optional>
#include <string_view>
#include <vector>

#include "geo/coverage.hpp"
#include "geo/osm_areas.hpp"
#include "server/areas/geojson.hpp"
#include "tools/areas/kml.hpp"

namespace pm::areas {

// id: ref:gss, else "r" + the relation id; name: name; in input order.
std::vector<AreaFeature> from_osm(const geo::OsmBoundaries& boundaries, std::string_view kind);

// id: the Placemark's id attribute, else an ExtendedData field id, ref:gss
// or code, else its name (the police.uk files name each neighbourhood by its
// code); name: <name>, else an ExtendedData field name.
std::vector<AreaFeature> from_kml(const Kml& kml, std::string_view kind);

// Every feature gets `target` (the --target-* options); a hot spot without
// max_gap_minutes gets kHotspotMaxGapMinutes, as the daemon does.
void set_target(std::vector<AreaFeature>& features, const geo::PatrolTarget& target);

}  // namespace pm::areas
