#include "geo/osm_areas.hpp"

#include <exception>
#include <osmium/handler/node_locations_for_ways.hpp>
#include <osmium/index/map/flex_mem.hpp>
#include <osmium/io/gzip_compression.hpp>
#include <osmium/io/pbf_input.hpp>
#include <osmium/io/xml_input.hpp>
#include <osmium/relations/relations_manager.hpp>
#include <osmium/tags/tags_filter.hpp>
#include <osmium/visitor.hpp>

#include "geo/osm_rings.hpp"

namespace pm::geo {

Expected<OsmBoundaries, std::string> read_osm_boundaries(const std::string& path, const OsmBoundaryFilter& filter,
                                                         const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  auto wanted = [&](const osmium::TagList& tags) {
    auto is = [&](const char* key, const std::string& want) {
      return want.empty() || want == tags.get_value_by_key(key, "");
    };
    return is("boundary", filter.boundary) && is("admin_level", filter.admin_level);
  };
  OsmBoundaries out;
  std::size_t emitted = 0;
  try {
    // The assembler's own filter is any-of: select by the most specific tag,
    // check both in the callback.
    osmium::TagsFilter select{false};
    if (!filter.admin_level.empty()) select.add_rule(true, osmium::TagMatcher{"admin_level", filter.admin_level});
    else if (!filter.boundary.empty()) select.add_rule(true, osmium::TagMatcher{"boundary", filter.boundary});
    else select.add_rule(true, osmium::TagMatcher{"type"});
    osmium::area::MultipolygonManager<osmium::area::Assembler> manager{osmium::area::Assembler::config_type{}, select};
    const osmium::io::File file{path};
    say("reading relations of " + path);
    osmium::relations::read_relations(file, manager);
    const std::size_t matched = manager.relations_database().count_relations();
    say(std::to_string(matched) + " relations match; assembling them from nodes and ways");

    using Index = osmium::index::map::FlexMem<osmium::unsigned_object_id_type, osmium::Location>;
    Index index;
    osmium::handler::NodeLocationsForWays<Index> locations{index};
    locations.ignore_errors();  // a member way cut at the extract's edge: that relation stays incomplete
    osmium::io::Reader reader{file, osmium::osm_entity_bits::node | osmium::osm_entity_bits::way};
    auto on_area = [&](const osmium::Area& a) {
      if (a.from_way()) return;  // a closed boundary way is not a boundary: its relation is
      ++emitted;
      if (!wanted(a.tags())) return;
      OsmBoundary b;
      b.relation_id = a.orig_id();
      for (const osmium::Tag& t : a.tags()) b.tags.emplace_back(t.key(), t.value());
      for (const osmium::OuterRing& outer : a.outer_rings()) {
        PolygonRings poly;
        poly.rings.push_back(osm::ring_lonlat(outer));
        for (const osmium::InnerRing& inner : a.inner_rings(outer)) poly.rings.push_back(osm::ring_lonlat(inner));
        b.polygons.push_back(std::move(poly));
      }
      if (b.polygons.empty()) {
        ++out.incomplete;  // the assembler gave up: rings that do not close
        return;
      }
      out.areas.push_back(std::move(b));
      if (out.areas.size() % 100 == 0) say(std::to_string(out.areas.size()) + " boundaries assembled");
    };
    osmium::apply(reader, locations, manager.handler([&](osmium::memory::Buffer&& buffer) {
                    for (const auto& a : buffer.select<osmium::Area>()) on_area(a);
                  }));
    reader.close();
    if (matched > emitted) out.incomplete += matched - emitted;
  } catch (const std::exception& e) {
    return Unexpected{"reading " + path + ": " + e.what()};
  }
  say(std::to_string(out.areas.size()) + " boundaries assembled, " + std::to_string(out.incomplete) + " incomplete");
  return out;
}

}  // namespace pm::geo
