#pragma once
// The offline basemap from an OpenStreetMap extract (libosmium, target
// geo_osm): major and minor roads, water and place names, simplified in the
// metric projection so the whole county fits in a few hundred kilobytes.
//
//   auto proj = pm::geo::Projection::create();                           // EPSG:27700
//   auto map = pm::geo::read_basemap(data + "/osm/rutland-latest.osm.pbf", *proj);
//   if (!map) throw std::runtime_error(map.error());                     // unreadable file
//   map->layers[0].name == "roads_major"
//
// Layers, in this order (docs/api.md "Basemap" has the table):
//   roads_major  LineString  highway motorway|trunk|primary|secondary (+_link); class, name, ref
//   roads_minor  LineString  tertiary (+_link), unclassified and road -> minor,
//                            residential, living_street -> residential, service and
//                            busway -> service (no car-park aisles, driveways,
//                            drive-throughs); class, name, ref
//   water        MultiPolygon natural=water, water=*, landuse=reservoir, waterway=riverbank
//                            (closed ways and multipolygon relations, assembled by
//                            libosmium); class "water", name. LineString waterway=river;
//                            class "river", name
//   places       Point       place=city|town|village|hamlet|suburb nodes with a name; name, place
// The file is read twice: relations first (which ways make up which
// multipolygon), then nodes and ways.
#include <optional>
#include <string>
#include <string_view>

#include "geo/basemap.hpp"
#include "geo/expected.hpp"
#include "geo/projection.hpp"

namespace pm::geo {

struct BasemapOptions {
  // Douglas-Peucker tolerances in projected metres, per layer. At zoom 13 a
  // pixel is ~19 m at Rutland's latitude, at zoom 16 ~2.4 m: minor roads are
  // drawn closest in, water is a backdrop.
  double major_tolerance_m = 10;
  double minor_tolerance_m = 5;
  double water_tolerance_m = 20;
  bool rivers = true;  // waterway=river lines in the water layer
};

struct BasemapRoadClass {
  bool major = false;     // roads_major, else roads_minor
  std::string_view name;  // the `class` property
};
// highway (and service) tags -> layer and class; nullopt for anything not drawn
// (footway, track, path, cycleway, construction, parking aisles, ...).
std::optional<BasemapRoadClass> basemap_road_class(std::string_view highway, std::string_view service = {});
// Whether an area with these tags is water ("" = tag absent).
bool is_water_area(std::string_view natural, std::string_view water, std::string_view landuse,
                   std::string_view waterway);
// The place types drawn as labels: city, town, village, hamlet, suburb.
bool is_basemap_place(std::string_view place);

// Fails with a message when the file cannot be read.
[[nodiscard]] Expected<Basemap, std::string> read_basemap(const std::string& path, const Projection& projection,
                                                          const BasemapOptions& options = {});

}  // namespace pm::geo
