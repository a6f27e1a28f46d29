// The offline basemap: the tag rules, a hand-made .osm file whose every
// feature is known (tests/data/osm/basemap.osm), and the real Rutland extract
// checked against facts found outside this code: where Oakham and Uppingham
// are, that the A6003 and the A1 cross the county, and that Rutland Water
// (about 12.5 km^2) covers the middle of its main basin.
#include "geo/osm_basemap.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <osmium/io/pbf_input.hpp>
#include <osmium/osm/box.hpp>
#include <set>
#include <string>
#include <vector>

#include "geo/geodesic.hpp"
#include "tests/support/data_dir.hpp"

namespace pm::geo {
namespace {

const Projection& bng() {
  static const Projection p = *Projection::create();
  return p;
}

const BasemapLayer& layer(const Basemap& m, const std::string& name) {
  for (const auto& l : m.layers)
    if (l.name == name) return l;
  throw std::runtime_error("no layer " + name);
}

std::string prop(const BasemapFeature& f, const std::string& key) {
  for (const auto& [k, v] : f.properties)
    if (k == key) return v;
  return "";
}

const BasemapFeature* named(const BasemapLayer& l, const std::string& name) {
  for (const auto& f : l.features)
    if (prop(f, "name") == name) return &f;
  return nullptr;
}

// Shoelace area of a ring in the metric projection (m^2, positive).
double ring_area_m2(const std::vector<LonLat>& ring) {
  double twice = 0;
  for (std::size_t i = 0; i + 1 < ring.size(); ++i) {
    const XY a = bng().forward(ring[i]), b = bng().forward(ring[i + 1]);
    twice += a.x * b.y - b.x * a.y;
  }
  return std::fabs(twice) / 2;
}

double polygon_area_m2(const std::vector<std::vector<LonLat>>& polygon) {
  double a = ring_area_m2(polygon.at(0));
  for (std::size_t i = 1; i < polygon.size(); ++i) a -= ring_area_m2(polygon[i]);
  return a;
}

// Even-odd ray casting in lon/lat: inside the outer ring and no hole.
bool in_ring(const std::vector<LonLat>& ring, LonLat p) {
  bool inside = false;
  for (std::size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
    const LonLat a = ring[i], b = ring[j];
    if ((a.lat > p.lat) != (b.lat > p.lat) && p.lon < (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon)
      inside = !inside;
  }
  return inside;
}
bool in_polygon(const std::vector<std::vector<LonLat>>& polygon, LonLat p) {
  if (!in_ring(polygon.at(0), p)) return false;
  for (std::size_t i = 1; i < polygon.size(); ++i)
    if (in_ring(polygon[i], p)) return false;
  return true;
}

// ---------------------------------------------------------------- tag rules

TEST(BasemapTagRules, RoadLayersAndClasses) {
  struct Row {
    const char* highway;
    bool major;
    const char* cls;
  };
  for (const Row& r :
       {Row{"motorway", true, "motorway"}, Row{"motorway_link", true, "motorway"}, Row{"trunk", true, "trunk"},
        Row{"trunk_link", true, "trunk"}, Row{"primary", true, "primary"}, Row{"primary_link", true, "primary"},
        Row{"secondary", true, "secondary"}, Row{"secondary_link", true, "secondary"},
        Row{"tertiary", false, "tertiary"}, Row{"tertiary_link", false, "tertiary"},
        Row{"unclassified", false, "minor"}, Row{"residential", false, "residential"},
        Row{"living_street", false, "residential"}, Row{"service", false, "service"}}) {
    const auto c = basemap_road_class(r.highway);
    ASSERT_TRUE(c.has_value()) << r.highway;
    EXPECT_EQ(c->major, r.major) << r.highway;
    EXPECT_EQ(c->name, r.cls) << r.highway;
  }
  for (const char* no :
       {"footway", "track", "path", "cycleway", "bridleway", "steps", "pedestrian", "construction", "proposed", ""}) {
    EXPECT_FALSE(basemap_road_class(no).has_value()) << no;
  }
  for (const char* no : {"parking_aisle", "driveway", "drive-through"}) {
    EXPECT_FALSE(basemap_road_class("service", no).has_value()) << no;
  }
  EXPECT_TRUE(basemap_road_class("service", "alley").has_value());
}

TEST(BasemapTagRules, WaterAndPlaces) {
  EXPECT_TRUE(is_water_area("water", "", "", ""));
  EXPECT_TRUE(is_water_area("", "reservoir", "", ""));
  EXPECT_TRUE(is_water_area("", "", "reservoir", ""));
  EXPECT_TRUE(is_water_area("", "", "", "riverbank"));
  EXPECT_FALSE(is_water_area("wood", "", "grass", "river"));
  EXPECT_FALSE(is_water_area("", "", "", ""));
  for (const char* p : {"city", "town", "village", "hamlet", "suburb"}) EXPECT_TRUE(is_basemap_place(p)) << p;
  for (const char* p : {"locality", "farm", "isolated_dwelling", "county", ""}) EXPECT_FALSE(is_basemap_place(p)) << p;
}

TEST(Basemap, MissingFileIsAnError) {
  const auto m = read_basemap("/nonexistent/map.osm.pbf", bng());
  ASSERT_FALSE(m.has_value());
  EXPECT_NE(m.error().find("/nonexistent/map.osm.pbf"), std::string::npos) << m.error();
}

// ---------------------------------------------------------------- hand-made file

const Basemap& hand() {
  static const Basemap m = [] {
    auto r = read_basemap(PATROLMAP_SOURCE_DIR "/tests/data/osm/basemap.osm", bng());
    if (!r) throw std::runtime_error(r.error());
    return std::move(*r);
  }();
  return m;
}

TEST(BasemapHandMade, LayersInOrderWithTheirZooms) {
  ASSERT_EQ(hand().layers.size(), 4u);
  const std::vector<std::pair<std::string, int>> want = {
      {"roads_major", 0}, {"roads_minor", 13}, {"water", 0}, {"places", 0}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(hand().layers[i].name, want[i].first);
    EXPECT_EQ(hand().layers[i].min_zoom, want[i].second);
  }
  // No <bounds> in the file: the features' extent.
  EXPECT_DOUBLE_EQ(hand().bbox[0], -0.75);
  EXPECT_DOUBLE_EQ(hand().bbox[1], 52.65);
  EXPECT_DOUBLE_EQ(hand().bbox[2], -0.72);
  EXPECT_DOUBLE_EQ(hand().bbox[3], 52.683);
}

TEST(BasemapHandMade, RoadsClassifiedAndSimplified) {
  const auto& major = layer(hand(), "roads_major").features;
  ASSERT_EQ(major.size(), 1u);
  EXPECT_EQ(major[0].type, BasemapGeometry::line_string);
  EXPECT_EQ(prop(major[0], "class"), "primary");
  EXPECT_EQ(prop(major[0], "ref"), "A1");
  EXPECT_EQ(prop(major[0], "name"), "Great North Road");
  // Node 2, 3.3 m off the line, is within the 10 m tolerance.
  EXPECT_EQ(major[0].parts.at(0).at(0), (std::vector<LonLat>{{-0.7300, 52.6600}, {-0.7200, 52.6600}}));

  const auto& minor = layer(hand(), "roads_minor");
  ASSERT_EQ(minor.features.size(), 2u);  // not the footway, not the parking aisle
  const BasemapFeature* lane = named(minor, "Church Lane");
  ASSERT_NE(lane, nullptr);
  EXPECT_EQ(prop(*lane, "class"), "residential");  // living_street
  EXPECT_EQ(prop(*lane, "ref"), "");
  EXPECT_EQ(lane->parts.at(0).at(0).size(), 3u);  // the V's tip is 220 m off
  const BasemapFeature* field = named(minor, "Field Road");
  ASSERT_NE(field, nullptr);
  EXPECT_EQ(prop(*field, "class"), "minor");  // unclassified
}

TEST(BasemapHandMade, WaterAreasHolesAndRivers) {
  const auto& water = layer(hand(), "water");
  // Square Pond, Test Water, River Test; the 10 m pond is under the tolerance.
  ASSERT_EQ(water.features.size(), 3u);

  const BasemapFeature* pond = named(water, "Square Pond");
  ASSERT_NE(pond, nullptr);
  EXPECT_EQ(pond->type, BasemapGeometry::multi_polygon);
  EXPECT_EQ(prop(*pond, "class"), "water");
  ASSERT_EQ(pond->parts.size(), 1u);
  ASSERT_EQ(pond->parts[0].size(), 1u);
  EXPECT_EQ(pond->parts[0][0].size(), 5u);  // closed square
  EXPECT_EQ(pond->parts[0][0].front(), pond->parts[0][0].back());

  const BasemapFeature* lake = named(water, "Test Water");
  ASSERT_NE(lake, nullptr);
  ASSERT_EQ(lake->parts.size(), 1u);
  ASSERT_EQ(lake->parts[0].size(), 2u);  // outer ring and the island
  const std::vector<LonLat> outer{
      {-0.7500, 52.6800}, {-0.7450, 52.6800}, {-0.7450, 52.6830}, {-0.7500, 52.6830}, {-0.7500, 52.6800}};
  const std::vector<LonLat> island{
      {-0.7490, 52.6810}, {-0.7470, 52.6810}, {-0.7470, 52.6820}, {-0.7490, 52.6820}, {-0.7490, 52.6810}};
  EXPECT_NEAR(polygon_area_m2(lake->parts[0]), ring_area_m2(outer) - ring_area_m2(island), 1.0);
  EXPECT_TRUE(in_polygon(lake->parts[0], {-0.7460, 52.6815}));   // open water east of the island
  EXPECT_FALSE(in_polygon(lake->parts[0], {-0.7480, 52.6815}));  // on the island
  EXPECT_FALSE(in_polygon(lake->parts[0], {-0.7440, 52.6815}));  // east of the shore

  const BasemapFeature* river = named(water, "River Test");
  ASSERT_NE(river, nullptr);
  EXPECT_EQ(river->type, BasemapGeometry::line_string);
  EXPECT_EQ(prop(*river, "class"), "river");
  EXPECT_EQ(river->parts.at(0).at(0).size(), 3u);
}

TEST(BasemapHandMade, NamedPlacesOnly) {
  const auto& places = layer(hand(), "places");
  ASSERT_EQ(places.features.size(), 2u);  // not the locality, not the nameless village
  const BasemapFeature* town = named(places, "Testtown");
  ASSERT_NE(town, nullptr);
  EXPECT_EQ(town->type, BasemapGeometry::point);
  EXPECT_EQ(prop(*town, "place"), "town");
  EXPECT_EQ(town->parts.at(0).at(0).at(0), (LonLat{-0.7300, 52.6650}));
  ASSERT_NE(named(places, "Testvillage"), nullptr);
  EXPECT_EQ(prop(*named(places, "Testvillage"), "place"), "village");
}

// ---------------------------------------------------------------- Rutland

const Basemap& rutland() {
  static const Basemap m = [] {
    const std::string pbf = test::data_dir() + "/osm/rutland-latest.osm.pbf";
    const auto t0 = std::chrono::steady_clock::now();
    auto r = read_basemap(pbf, bng());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r) throw std::runtime_error(r.error());
    std::printf("  read_basemap(%s): %.2f s, %zu vertices read, %zu kept\n", pbf.c_str(), s, r->vertices_read,
                r->vertices_kept);
    for (const auto& l : r->layers) std::printf("  %-12s %zu features\n", l.name.c_str(), l.features.size());
    return std::move(*r);
  }();
  return m;
}

TEST(BasemapRutland, TownsWhereTheyAre) {
  const auto& places = layer(rutland(), "places");
  // Independent positions: Oakham 52.670N 0.728W, Uppingham 52.587N 0.723W.
  const std::vector<std::pair<std::string, LonLat>> towns = {{"Oakham", {-0.728, 52.670}},
                                                             {"Uppingham", {-0.723, 52.587}}};
  for (const auto& [name, where] : towns) {
    const BasemapFeature* f = named(places, name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(prop(*f, "place"), "town") << name;
    EXPECT_LT(geodesic_distance_m(f->parts.at(0).at(0).at(0), where), 1000) << name;
  }
  std::set<std::string> kinds;
  for (const auto& f : places.features) kinds.insert(prop(f, "place"));
  for (const auto& k : kinds) EXPECT_TRUE(is_basemap_place(k)) << k;
  EXPECT_TRUE(kinds.count("village"));
  EXPECT_GT(places.features.size(), 40u);  // Rutland has some fifty villages
}

TEST(BasemapRutland, MajorRoadsCarryTheirRefs) {
  const auto& major = layer(rutland(), "roads_major");
  std::set<std::string> refs, classes;
  for (const auto& f : major.features) {
    refs.insert(prop(f, "ref"));
    classes.insert(prop(f, "class"));
    EXPECT_GE(f.parts.at(0).at(0).size(), 2u);
  }
  EXPECT_TRUE(refs.count("A6003"));  // Oakham - Uppingham - Corby
  EXPECT_TRUE(refs.count("A1"));     // the Great North Road along the county's east side
  EXPECT_TRUE(refs.count("A606"));
  EXPECT_TRUE(refs.count("A47"));
  for (const auto& c : classes) EXPECT_TRUE(c == "motorway" || c == "trunk" || c == "primary" || c == "secondary") << c;
  EXPECT_TRUE(classes.count("trunk"));
}

TEST(BasemapRutland, MinorRoadClasses) {
  const auto& minor = layer(rutland(), "roads_minor");
  std::set<std::string> classes;
  for (const auto& f : minor.features) classes.insert(prop(f, "class"));
  EXPECT_EQ(classes, (std::set<std::string>{"tertiary", "minor", "residential", "service"}));
}

TEST(BasemapRutland, RutlandWaterIsOneBigPolygon) {
  const auto& water = layer(rutland(), "water");
  // In the main basin, north of Edith Weston and south-east of Hambleton.
  const LonLat basin{-0.640, 52.648};
  const BasemapFeature* found = nullptr;
  std::vector<std::vector<LonLat>> polygon;
  for (const auto& f : water.features) {
    if (f.type != BasemapGeometry::multi_polygon) continue;
    for (const auto& p : f.parts)
      if (in_polygon(p, basin)) {
        found = &f;
        polygon = p;
      }
  }
  ASSERT_NE(found, nullptr) << "no water polygon covers the middle of Rutland Water";
  const double km2 = polygon_area_m2(polygon) / 1e6;
  std::printf("  polygon over the basin: name '%s', %.2f km^2, %zu rings\n", prop(*found, "name").c_str(), km2,
              polygon.size());
  EXPECT_GT(km2, 10.0);
  EXPECT_LT(km2, 15.0);
}

// The extract's own box, from its header (read here with libosmium directly).
TEST(BasemapRutland, BoxCoversTheExtractAndEveryFeature) {
  const std::string pbf = test::data_dir() + "/osm/rutland-latest.osm.pbf";
  osmium::io::Reader reader{pbf, osmium::osm_entity_bits::nothing};
  const osmium::Box header = reader.header().box();
  reader.close();
  ASSERT_TRUE(header.valid());
  const auto& b = rutland().bbox;
  std::printf("  header box %.6f %.6f %.6f %.6f\n  basemap box %.6f %.6f %.6f %.6f\n", header.bottom_left().lon(),
              header.bottom_left().lat(), header.top_right().lon(), header.top_right().lat(), b[0], b[1], b[2], b[3]);
  // Rutland: about 0.43W..0.82W, 52.52N..52.77N.
  EXPECT_LT(b[0], -0.82);
  EXPECT_GT(b[2], -0.43);
  EXPECT_LT(b[1], 52.53);
  EXPECT_GT(b[3], 52.76);
  // At least the header's box; beyond it only by the stubs of ways that
  // cross the extract's edge (kept whole), well under 0.05 deg (~3-5 km).
  EXPECT_LE(b[0], header.bottom_left().lon());
  EXPECT_LE(b[1], header.bottom_left().lat());
  EXPECT_GE(b[2], header.top_right().lon());
  EXPECT_GE(b[3], header.top_right().lat());
  EXPECT_GT(b[0], header.bottom_left().lon() - 0.05);
  EXPECT_GT(b[1], header.bottom_left().lat() - 0.05);
  EXPECT_LT(b[2], header.top_right().lon() + 0.05);
  EXPECT_LT(b[3], header.top_right().lat() + 0.05);
  std::size_t outside = 0, beyond_header = 0, total = 0;
  for (const auto& l : rutland().layers)
    for (const auto& f : l.features)
      for (const auto& part : f.parts)
        for (const auto& ring : part)
          for (const LonLat& p : ring) {
            ++total;
            if (p.lon < b[0] || p.lon > b[2] || p.lat < b[1] || p.lat > b[3]) ++outside;
            if (!header.contains(osmium::Location{p.lon, p.lat})) ++beyond_header;
          }
  EXPECT_EQ(outside, 0u) << "of " << total;
  std::printf("  %zu of %zu vertices beyond the header box\n", beyond_header, total);
  EXPECT_LT(beyond_header, total / 100);
  EXPECT_LT(rutland().vertices_kept, rutland().vertices_read);
}

}  // namespace
}  // namespace pm::geo
