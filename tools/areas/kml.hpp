#pragma once
// A small KML reader for boundary files, as data.police.uk publishes
// neighbourhood boundaries: each Placemark's name, its id attribute, its
// ExtendedData fields (SimpleData, Data/value: what ogr2ogr writes), and its
// Polygon geometry or the Polygons of a MultiGeometry. Polygon rings come
// from outerBoundaryIs / innerBoundaryIs LinearRing coordinates: tuples
// "lon,lat[,alt]" separated by any whitespace (altitude ignored). Element
// names are matched without a namespace prefix (kml:Polygon == Polygon).
//
//   auto kml = pm::areas::parse_kml(text);
//   if (!kml) die(kml.error());                          // not well-formed XML
//   for (const auto& p : kml->placemarks) use(p.name, p.polygons);
//   for (const auto& why : kml->problems) warn(why);    // placemarks left out
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "geo/area_index.hpp"
#include "geo/expected.hpp"

namespace pm::areas {

struct KmlPlacemark {
  std::size_t index = 0;  // position among the file's Placemarks
  std::string id;         // the id attribute, if any
  std::string name;
  std::vector<std::pair<std::string, std::string>> fields;  // ExtendedData
  std::vector<geo::PolygonRings> polygons;
  std::string_view field(std::string_view key) const {
    for (const auto& [k, v] : fields)
      if (k == key) return v;
    return {};
  }
};

struct KmlProblem {
  std::size_t index;  // the Placemark's position
  std::string name;
  std::string message;
};

struct Kml {
  std::vector<KmlPlacemark> placemarks;  // those with at least one polygon
  std::vector<KmlProblem> problems;      // placemarks left out, and why
};

// Fails (with expat's message and line) when the text is not well-formed XML.
[[nodiscard]] Expected<Kml, std::string> parse_kml(std::string_view text);

}  // namespace pm::areas
