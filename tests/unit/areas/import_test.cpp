// import-areas' parts: the KML reader on hand-written KML with hand-known
// coordinates, and the boundary import on the real Rutland data, checked
// against areas computed independently (shoelace over the osmium export,
// and ogr2ogr's KML conversion of that export).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "geo/osm_areas.hpp"
#include "geo/projection.hpp"
#include "tests/support/data_dir.hpp"
#include "tests/support/geojson_areas.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/areas/import.hpp"
#include "tools/areas/kml.hpp"

namespace pm::areas {
namespace {


void expect_ring(const std::vector<geo::LonLat>& ring, std::vector<geo::LonLat> want) {
  ASSERT_EQ(ring.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(ring[i].lon, want[i].lon) << i;
    EXPECT_EQ(ring[i].lat, want[i].lat) << i;
  }
}

TEST(Kml, PolygonsHolesMultiGeometryAltitudeAndWhitespace) {
  const std::string kml = R"(<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Neighbourhoods</name>
<Folder><name>Rutland</name>
<Placemark id="NB1"><name> Oakham North
</name>
  <ExtendedData><Data name="force"><value>leicestershire</value></Data></ExtendedData>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>
     -0.73,52.67,0 -0.72,52.67,0
     -0.72,52.68,0	-0.73,52.68,0
     -0.73,52.67,0
  </coordinates></LinearRing></outerBoundaryIs>
  <innerBoundaryIs><LinearRing><coordinates>-0.728,52.672 -0.726,52.672 -0.726,52.674 -0.728,52.674 -0.728,52.672</coordinates></LinearRing></innerBoundaryIs>
  </Polygon></Placemark>
<Placemark><name>Two parts</name><MultiGeometry>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>1,2 3,2 3,4 1,2</coordinates></LinearRing></outerBoundaryIs></Polygon>
  <Point><coordinates>5,5</coordinates></Point>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>10.5,20.25,100.5
11, 20.25, 100.5
11,21,100.5   10.5,20.25,100.5</coordinates></LinearRing></outerBoundaryIs></Polygon>
</MultiGeometry></Placemark>
<Placemark><name>Only a point</name><Point><coordinates>1,1</coordinates></Point></Placemark>
<Placemark><name>Bad numbers</name><Polygon><outerBoundaryIs><LinearRing><coordinates>1;2 3;4</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
<Placemark><ExtendedData><SchemaData><SimpleData name="name">From data</SimpleData><SimpleData name="code">NC07</SimpleData></SchemaData></ExtendedData>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>+7,8 9,8 9,9 +7,8</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Folder></Document></kml>)";
  auto k = parse_kml(kml);
  ASSERT_TRUE(k) << k.error();
  ASSERT_EQ(k->placemarks.size(), 3u);
  const KmlPlacemark& a = k->placemarks[0];
  EXPECT_EQ(a.index, 0u);
  EXPECT_EQ(a.id, "NB1");
  EXPECT_EQ(a.name, "Oakham North");
  EXPECT_EQ(a.field("force"), "leicestershire");
  ASSERT_EQ(a.polygons.size(), 1u);
  ASSERT_EQ(a.polygons[0].rings.size(), 2u);
  expect_ring(a.polygons[0].rings[0], {{-0.73, 52.67}, {-0.72, 52.67}, {-0.72, 52.68}, {-0.73, 52.68}, {-0.73, 52.67}});
  expect_ring(a.polygons[0].rings[1],
              {{-0.728, 52.672}, {-0.726, 52.672}, {-0.726, 52.674}, {-0.728, 52.674}, {-0.728, 52.672}});

  const KmlPlacemark& b = k->placemarks[1];
  EXPECT_EQ(b.index, 1u);
  EXPECT_EQ(b.name, "Two parts");
  ASSERT_EQ(b.polygons.size(), 2u);  // the Point in the MultiGeometry is not an area
  expect_ring(b.polygons[0].rings[0], {{1, 2}, {3, 2}, {3, 4}, {1, 2}});
  expect_ring(b.polygons[1].rings[0], {{10.5, 20.25}, {11, 20.25}, {11, 21}, {10.5, 20.25}});

  const KmlPlacemark& c = k->placemarks[2];
  EXPECT_EQ(c.index, 4u);
  EXPECT_EQ(c.name, "");
  expect_ring(c.polygons[0].rings[0], {{7, 8}, {9, 8}, {9, 9}, {7, 8}});

  ASSERT_EQ(k->problems.size(), 2u);
  EXPECT_EQ(k->problems[0].index, 2u);
  EXPECT_EQ(k->problems[0].name, "Only a point");
  EXPECT_EQ(k->problems[1].index, 3u);

  // As areas: ids from the id attribute, else a code field, else the name.
  auto areas = from_kml(*k, "neighbourhood");
  ASSERT_EQ(areas.size(), 3u);
  EXPECT_EQ(areas[0].input.id, "NB1");
  EXPECT_EQ(areas[1].input.id, "Two parts");
  EXPECT_EQ(areas[2].input.id, "NC07");
  EXPECT_EQ(areas[2].name, "From data");
  EXPECT_EQ(areas[2].kind, "neighbourhood");
}

TEST(Kml, NamespacePrefixesAndBrokenXml) {
  auto k = parse_kml(R"(<kml:kml xmlns:kml="http://www.opengis.net/kml/2.2"><kml:Placemark><kml:name>P</kml:name>
    <kml:Polygon><kml:outerBoundaryIs><kml:LinearRing><kml:coordinates>0,0 1,0 1,1 0,0</kml:coordinates>
    </kml:LinearRing></kml:outerBoundaryIs></kml:Polygon></kml:Placemark></kml:kml>)");
  ASSERT_TRUE(k) << k.error();
  ASSERT_EQ(k->placemarks.size(), 1u);
  EXPECT_EQ(k->placemarks[0].name, "P");
  EXPECT_EQ(k->placemarks[0].polygons[0].rings[0].size(), 4u);

  auto broken = parse_kml("<kml><Placemark><name>x</Placemark></kml>");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().find("line 1"), std::string::npos) << broken.error();
  EXPECT_FALSE(parse_kml(""));
}

// Independent of the importer: the osmium export of the same 57 parishes read
// by the test helper (RapidJSON), each ring projected and measured by the shoelace formula
// (outer minus holes). Name -> m2.
std::map<std::string, double> shoelace_areas(const geo::Projection& projection) {
  std::map<std::string, double> out;
  for (const auto& area : test::load_areas(test::data_dir() + "/boundaries/rutland-parishes.geojson", "name")) {
    for (const auto& polygon : area.polygons)
      for (size_t r = 0; r < polygon.rings.size(); ++r) {
        std::vector<geo::XY> xy(polygon.rings[r].size());
        projection.forward(polygon.rings[r], xy);
        double twice = 0;
        for (size_t i = 0; i + 1 < xy.size(); ++i) twice += xy[i].x * xy[i + 1].y - xy[i + 1].x * xy[i].y;
        out[area.id] += (r == 0 ? 1 : -1) * std::abs(twice) / 2;
      }
  }
  return out;
}

// The importer's side: GEOS's area of each feature as the daemon indexes it.
std::map<std::string, double> indexed_areas(const std::vector<AreaFeature>& features, const geo::Projection& projection) {
  std::vector<geo::AreaInput> inputs;
  for (const auto& f : features) inputs.push_back(f.input);
  std::vector<geo::AreaError> errors;
  auto index = geo::AreaIndex::build(inputs, projection, &errors);
  for (const auto& e : errors) ADD_FAILURE() << e.id << ": " << e.reason;
  std::map<std::string, double> out;
  for (uint32_t a = 0; a < index.size(); ++a) out[features[index.source_index(a)].name] += index.area_m2(a);
  return out;
}

double total(const std::map<std::string, double>& m) {
  double t = 0;
  for (const auto& [k, v] : m) t += v;
  return t;
}

TEST(ImportAreas, RutlandParishesFromThePbf) {
  const auto projection = *geo::Projection::create();
  std::vector<std::string> lines;
  auto b = geo::read_osm_boundaries(test::data_dir() + "/osm/rutland-latest.osm.pbf", {.admin_level = "10"},
                                    [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(b) << b.error();
  EXPECT_FALSE(lines.empty());  // progress was reported
  auto areas = from_osm(*b, "neighbourhood");
  ASSERT_EQ(areas.size(), 57u);  // shared/data/README.md: 57 civil parishes
  // Neighbouring parishes whose ways the extract cut are not assembled (the
  // osmium export has none of them either: the name sets below are equal).
  std::printf("relations incomplete in the extract: %zu\n", b->incomplete);
  std::set<std::string> names, ids;
  for (const auto& f : areas) {
    names.insert(f.name);
    ids.insert(f.input.id);
    EXPECT_EQ(f.kind, "neighbourhood");
  }
  EXPECT_EQ(ids.size(), 57u);
  EXPECT_TRUE(names.contains("Oakham"));
  EXPECT_TRUE(names.contains("Uppingham"));
  EXPECT_TRUE(names.contains("Essendine"));

  const auto want = shoelace_areas(projection);
  ASSERT_EQ(want.size(), 57u);
  const auto got = indexed_areas(areas, projection);
  std::set<std::string> want_names;
  for (const auto& [n, m2] : want) want_names.insert(n);
  EXPECT_EQ(names, want_names);
  // Rutland is ~382 km2 (ONS); the parishes cover it.
  EXPECT_GT(total(want), 370e6);
  EXPECT_LT(total(want), 400e6);
  EXPECT_NEAR(total(got), total(want), 0.01 * total(want));
  // Oakham's id is its GSS code, as in the export.
  for (const auto& f : areas)
    if (f.name == "Oakham") {
      EXPECT_EQ(f.input.id.rfind("E04", 0), 0u) << f.input.id;
    }
}

TEST(ImportAreas, KmlWrittenByOgr2OgrGivesTheSameParishes) {
  if (std::system("command -v ogr2ogr >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "ogr2ogr missing (Debian gdal-bin, scripts/install-deps.sh)";
  test::TempDir dir;
  const std::string kml = dir.path() + "/parishes.kml";
  const std::string cmd = "ogr2ogr -f KML '" + kml + "' '" + test::data_dir() +
                          "/boundaries/rutland-parishes.geojson' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto k = parse_kml(test::read_text(kml));
  ASSERT_TRUE(k) << k.error();
  EXPECT_TRUE(k->problems.empty());
  auto areas = from_kml(*k, "neighbourhood");
  ASSERT_EQ(areas.size(), 57u);
  const auto projection = *geo::Projection::create();
  const auto want = shoelace_areas(projection);
  const auto got = indexed_areas(areas, projection);
  ASSERT_EQ(got.size(), 57u);
  for (const auto& [name, m2] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << name;
    EXPECT_NEAR(it->second, m2, 0.001 * m2) << name;
  }
}

}  // namespace
}  // namespace pm::areas
