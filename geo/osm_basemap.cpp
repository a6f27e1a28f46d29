#include "geo/osm_basemap.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <osmium/handler.hpp>
#include <osmium/handler/node_locations_for_ways.hpp>
#include <osmium/index/map/flex_mem.hpp>
#include <osmium/io/gzip_compression.hpp>
#include <osmium/io/pbf_input.hpp>
#include <osmium/io/xml_input.hpp>
#include <osmium/osm/area.hpp>
#include <osmium/osm/node.hpp>
#include <osmium/osm/way.hpp>
#include <osmium/relations/relations_manager.hpp>
#include <osmium/tags/tags_filter.hpp>
#include <osmium/visitor.hpp>
#include <utility>
#include <vector>

#include "geo/osm_rings.hpp"
#include "geo/simplify.hpp"

namespace pm::geo {

namespace {

struct RoadRow {
  std::string_view highway;
  BasemapRoadClass cls;
};
constexpr std::array<RoadRow, 16> kRoads = {{
    {"motorway", {true, "motorway"}},
    {"motorway_link", {true, "motorway"}},
    {"trunk", {true, "trunk"}},
    {"trunk_link", {true, "trunk"}},
    {"primary", {true, "primary"}},
    {"primary_link", {true, "primary"}},
    {"secondary", {true, "secondary"}},
    {"secondary_link", {true, "secondary"}},
    {"tertiary", {false, "tertiary"}},
    {"tertiary_link", {false, "tertiary"}},
    {"unclassified", {false, "minor"}},
    {"residential", {false, "residential"}},
    {"living_street", {false, "residential"}},
    {"service", {false, "service"}},
    {"road", {false, "minor"}},  // "unknown classification": still a road someone may be sent down
    {"busway", {false, "service"}},
}};

enum Layer : std::size_t { kMajor, kMinor, kWater, kPlaces, kLayerCount };

}  // namespace

std::optional<BasemapRoadClass> basemap_road_class(std::string_view highway, std::string_view service) {
  for (const RoadRow& r : kRoads) {
    if (r.highway != highway) continue;
    // Same exclusions as the road graph (geo/osm_roads.cpp): stubs that
    // clutter the map without helping anyone find a street.
    if (r.cls.name == "service" && (service == "parking_aisle" || service == "driveway" || service == "drive-through"))
      return std::nullopt;
    return r.cls;
  }
  return std::nullopt;
}

bool is_water_area(std::string_view natural, std::string_view water, std::string_view landuse,
                   std::string_view waterway) {
  return natural == "water" || !water.empty() || landuse == "reservoir" || waterway == "riverbank";
}

bool is_basemap_place(std::string_view place) {
  return place == "city" || place == "town" || place == "village" || place == "hamlet" || place == "suburb";
}

namespace {

class BasemapCollector : public osmium::handler::Handler {
 public:
  BasemapCollector(const Projection& projection, const BasemapOptions& options, Basemap& out)
      : projection_(projection), options_(options), out_(out) {}

  void node(const osmium::Node& n) {
    const char* place = n.tags().get_value_by_key("place", "");
    const char* name = n.tags().get_value_by_key("name", "");
    if (!is_basemap_place(place) || !*name || !n.location().valid()) return;
    BasemapFeature f;
    f.type = BasemapGeometry::point;
    f.parts = {{{LonLat{n.location().lon(), n.location().lat()}}}};
    f.properties = {{"name", name}, {"place", place}};
    ++out_.vertices_read;
    ++out_.vertices_kept;
    out_.layers[kPlaces].features.push_back(std::move(f));
  }

  void way(const osmium::Way& w) {
    const osmium::TagList& tags = w.tags();
    auto tag = [&](const char* key) { return std::string_view(tags.get_value_by_key(key, "")); };
    std::vector<std::pair<std::string, std::string>> props;
    Layer layer;
    double tolerance;
    if (const auto road = basemap_road_class(tag("highway"), tag("service")); road && tag("area") != "yes") {
      layer = road->major ? kMajor : kMinor;
      tolerance = road->major ? options_.major_tolerance_m : options_.minor_tolerance_m;
      props.emplace_back("class", road->name);
    } else if (options_.rivers && tag("waterway") == "river") {
      layer = kWater;
      tolerance = options_.water_tolerance_m;
      props.emplace_back("class", "river");
    } else {
      return;
    }
    if (!tag("name").empty()) props.emplace_back("name", tag("name"));
    if (!tag("ref").empty()) props.emplace_back("ref", tag("ref"));
    // A vertex missing from the extract breaks the way into separate lines.
    std::vector<LonLat> line;
    auto flush = [&] {
      if (line.size() >= 2) {
        auto kept = simplify(line, tolerance, 2);
        if (!kept.empty()) {
          BasemapFeature f;
          f.type = BasemapGeometry::line_string;
          f.parts = {{std::move(kept)}};
          f.properties = props;
          out_.layers[layer].features.push_back(std::move(f));
        }
      }
      line.clear();
    };
    for (const osmium::NodeRef& nr : w.nodes()) {
      if (!nr.location().valid()) {
        flush();
        continue;
      }
      const LonLat p{nr.location().lon(), nr.location().lat()};
      if (line.empty() || !(line.back() == p)) line.push_back(p);
    }
    flush();
  }

  void area(const osmium::Area& a) {
    const osmium::TagList& tags = a.tags();
    auto tag = [&](const char* key) { return std::string_view(tags.get_value_by_key(key, "")); };
    if (!is_water_area(tag("natural"), tag("water"), tag("landuse"), tag("waterway"))) return;
    BasemapFeature f;
    f.type = BasemapGeometry::multi_polygon;
    for (const osmium::OuterRing& outer : a.outer_rings()) {
      auto ring = simplify(osm::ring_lonlat(outer), options_.water_tolerance_m, 4);
      if (ring.empty()) continue;  // smaller than the tolerance: not worth drawing
      std::vector<std::vector<LonLat>> polygon{std::move(ring)};
      for (const osmium::InnerRing& inner : a.inner_rings(outer)) {
        auto hole = simplify(osm::ring_lonlat(inner), options_.water_tolerance_m, 4);
        if (!hole.empty()) polygon.push_back(std::move(hole));
      }
      f.parts.push_back(std::move(polygon));
    }
    if (f.parts.empty()) return;
    f.properties.emplace_back("class", "water");
    if (!tag("name").empty()) f.properties.emplace_back("name", tag("name"));
    out_.layers[kWater].features.push_back(std::move(f));
  }

 private:
  // Douglas-Peucker in metres; returns the kept lon/lat vertices, or nothing
  // when fewer than `min_points` remain (a ring needs 4: closed triangle).
  std::vector<LonLat> simplify(const std::vector<LonLat>& pts, double tolerance, std::size_t min_points) {
    out_.vertices_read += pts.size();
    if (pts.size() < min_points) return {};
    xy_.resize(pts.size());
    projection_.forward(pts, xy_);
    for (const XY& p : xy_)
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) return {};
    const auto keep = douglas_peucker(xy_, tolerance);
    if (keep.size() < min_points) return {};
    std::vector<LonLat> kept;
    kept.reserve(keep.size());
    for (std::size_t i : keep) kept.push_back(pts[i]);
    out_.vertices_kept += kept.size();
    return kept;
  }

  const Projection& projection_;
  const BasemapOptions& options_;
  Basemap& out_;
  std::vector<XY> xy_;
};

}  // namespace

Expected<Basemap, std::string> read_basemap(const std::string& path, const Projection& projection,
                                            const BasemapOptions& options) {
  for (double t : {options.major_tolerance_m, options.minor_tolerance_m, options.water_tolerance_m}) {
    if (!(t >= 0) || !std::isfinite(t)) return Unexpected{std::string("basemap options: tolerances must be >= 0")};
  }
  Basemap map;
  map.layers = {{"roads_major", 0, {}}, {"roads_minor", 13, {}}, {"water", 0, {}}, {"places", 0, {}}};
  BasemapCollector collector(projection, options, map);
  osmium::Box header_box;
  try {
    osmium::TagsFilter water{false};
    water.add_rule(true, osmium::TagMatcher{"natural", "water"});
    water.add_rule(true, osmium::TagMatcher{"water"});
    water.add_rule(true, osmium::TagMatcher{"landuse", "reservoir"});
    water.add_rule(true, osmium::TagMatcher{"waterway", "riverbank"});
    osmium::area::MultipolygonManager<osmium::area::Assembler> areas{osmium::area::Assembler::config_type{}, water};
    const osmium::io::File file{path};
    osmium::relations::read_relations(file, areas);

    using Index = osmium::index::map::FlexMem<osmium::unsigned_object_id_type, osmium::Location>;
    Index index;
    osmium::handler::NodeLocationsForWays<Index> locations{index};
    locations.ignore_errors();  // a way vertex outside the extract: the collector breaks the line there
    osmium::io::Reader reader{file, osmium::osm_entity_bits::node | osmium::osm_entity_bits::way};
    header_box = reader.header().box();
    osmium::apply(reader, locations, collector,
                  areas.handler([&collector](osmium::memory::Buffer&& buffer) { osmium::apply(buffer, collector); }));
    reader.close();
  } catch (const std::exception& e) {
    return Unexpected{"reading " + path + ": " + e.what()};
  }
  // The features' extent, and at least the extract's box from its header: an
  // extract keeps whole ways, so roads crossing its edge reach a little beyond.
  double b[4] = {180, 90, -180, -90};
  if (header_box.valid()) {
    b[0] = header_box.bottom_left().lon();
    b[1] = header_box.bottom_left().lat();
    b[2] = header_box.top_right().lon();
    b[3] = header_box.top_right().lat();
  }
  for (const BasemapLayer& l : map.layers)
    for (const BasemapFeature& f : l.features)
      for (const auto& part : f.parts)
        for (const auto& ring : part)
          for (const LonLat& p : ring) {
            b[0] = std::min(b[0], p.lon);
            b[1] = std::min(b[1], p.lat);
            b[2] = std::max(b[2], p.lon);
            b[3] = std::max(b[3], p.lat);
          }
  if (b[0] <= b[2] && b[1] <= b[3]) std::copy(b, b + 4, map.bbox);
  return map;
}

}  // namespace pm::geo
