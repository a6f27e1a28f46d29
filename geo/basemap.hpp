#pragma once
// A basemap for the dispatcher map when there is no internet: a few layers of
// simplified OpenStreetMap features in WGS84, ready to be written as GeoJSON.
// Built by read_basemap (geo/osm_basemap.hpp); served by server/api/basemap_api.
//
//   for (const BasemapLayer& l : map.layers)
//     for (const BasemapFeature& f : l.features)
//       if (f.type == BasemapGeometry::line_string) draw(f.parts[0][0]);
#include <string>
#include <utility>
#include <vector>

#include "geo/types.hpp"

namespace pm::geo {

enum class BasemapGeometry { point, line_string, multi_polygon };

struct BasemapFeature {
  BasemapGeometry type = BasemapGeometry::point;
  // point: parts[0][0] holds the one position; line_string: parts[0][0] is the
  // line; multi_polygon: parts[i] is polygon i, its ring 0 the outer ring
  // (closed: first == last), further rings its holes.
  std::vector<std::vector<std::vector<LonLat>>> parts;
  std::vector<std::pair<std::string, std::string>> properties;  // in output order
};

struct BasemapLayer {
  std::string name;  // roads_major, roads_minor, water, places
  int min_zoom = 0;  // the web map shows the layer from this zoom level on
  std::vector<BasemapFeature> features;
};

struct Basemap {
  // West, south, east, north in degrees: the features' extent, grown to the
  // extract's box from its header when the file has one.
  double bbox[4] = {0, 0, 0, 0};
  std::vector<BasemapLayer> layers;
  std::size_t vertices_read = 0;  // before simplification
  std::size_t vertices_kept = 0;  // after
};

}  // namespace pm::geo
