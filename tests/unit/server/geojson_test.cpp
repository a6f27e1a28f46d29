#include "server/areas/geojson.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/data_dir.hpp"

namespace pm {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing real data file " << path << " (set PATROLMAP_DATA)";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(GeoJson, RutlandParishesLoadWithGssCodes) {
  std::vector<AreaProblem> problems;
  auto areas = read_area_features(slurp(test::data_dir() + "/boundaries/rutland-parishes.geojson"), "neighbourhood", problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(areas.size(), 57u);  // shared/data/README.md
  for (const auto& a : areas) {
    EXPECT_EQ(a.input.id.rfind("E04", 0), 0u) << a.input.id;  // parish GSS codes
    EXPECT_FALSE(a.name.empty());
    EXPECT_EQ(a.kind, "neighbourhood");
    EXPECT_FALSE(a.input.polygons.empty());
  }
  auto index = geo::AreaIndex::build([&] {
    std::vector<geo::AreaInput> in;
    for (const auto& a : areas) in.push_back(a.input);
    return in;
  }(), *geo::Projection::create("EPSG:27700"), nullptr);
  EXPECT_EQ(index.size(), 57u);
}

TEST(GeoJson, WardLinesUseOnsCodes) {
  std::vector<AreaProblem> problems;
  auto areas = read_area_features(slurp(test::data_dir() + "/boundaries/leicester-city/E05010463_Castle.geojsonl"), "microbeat",
                                  problems);
  ASSERT_EQ(areas.size(), 1u);
  EXPECT_EQ(areas[0].input.id, "E05010463");
  EXPECT_EQ(areas[0].name, "Castle");
}

TEST(GeoJson, BadFeaturesAreReportedOthersLoad) {
  std::string fc = R"({"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"id":"ok","kind":"hotspot","parent":"p1"},
     "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
    {"type":"Feature","properties":{"id":"pt"},"geometry":{"type":"Point","coordinates":[0,0]}},
    {"type":"Feature","properties":{"name":"no geometry"}},
    {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
    {"type":"Feature","properties":{"id":"bad"},"geometry":{"type":"Polygon","coordinates":[[["a",0]]]}}]})";
  std::vector<AreaProblem> problems;
  auto areas = read_area_features(fc, "neighbourhood", problems);
  ASSERT_EQ(areas.size(), 1u);
  EXPECT_EQ(areas[0].kind, "hotspot");
  EXPECT_EQ(areas[0].parent, "p1");
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].index, 1u);
  EXPECT_NE(problems[0].message.find("Point"), std::string::npos);
  EXPECT_EQ(problems[3].index, 4u);
  // Stable codes for the API's `rejected` list.
  EXPECT_EQ(problems[0].code, "unsupported_geometry");
  EXPECT_EQ(problems[0].id, "pt");
  EXPECT_EQ(problems[1].code, "unsupported_geometry");
  EXPECT_EQ(problems[2].code, "missing_id");
  EXPECT_EQ(problems[3].code, "invalid_geometry");
}

// A square feature with the given properties (JSON object text).
std::string square(const std::string& props) {
  return R"({"type":"Feature","properties":)" + props +
         R"(,"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}})";
}

TEST(GeoJson, TargetsAreParsedAndHotSpotsGetTheDefaultGap) {
  std::string fc = R"({"type":"FeatureCollection","features":[)" +
                   square(R"({"id":"a","target":{"visits":3,"minutes":45.5,"max_gap_minutes":90}})") + "," +
                   square(R"({"id":"b","target":{"visits":2}})") + "," +
                   square(R"({"id":"c","kind":"hotspot"})") + "," +
                   square(R"({"id":"d","kind":"hotspot","target":{"visits":1,"minutes":10}})") + "," +
                   square(R"({"id":"e","target":null})") + "," +
                   square(R"({"id":"f","kind":"hotspot","target":{"max_gap_minutes":30}})") + "]}";
  std::vector<AreaProblem> problems;
  auto areas = read_area_features(fc, "neighbourhood", problems);
  ASSERT_TRUE(problems.empty()) << problems[0].message;
  ASSERT_EQ(areas.size(), 6u);
  ASSERT_TRUE(areas[0].target);
  EXPECT_EQ(areas[0].target->visits, 3u);
  EXPECT_EQ(areas[0].target->minutes, 45.5);
  EXPECT_EQ(areas[0].target->max_gap_minutes, 90.0);
  ASSERT_TRUE(areas[1].target);
  EXPECT_EQ(areas[1].target->visits, 2u);
  EXPECT_EQ(areas[1].target->minutes, 0.0);
  EXPECT_FALSE(areas[1].target->max_gap_minutes);  // not a hot spot: no gap requirement
  ASSERT_TRUE(areas[2].target);                     // SPEC 5: a hot spot's max gap defaults to 120
  EXPECT_EQ(areas[2].target->visits, 0u);
  EXPECT_EQ(areas[2].target->max_gap_minutes, 120.0);
  EXPECT_EQ(areas[3].target->visits, 1u);
  EXPECT_EQ(areas[3].target->max_gap_minutes, 120.0);
  EXPECT_FALSE(areas[4].target);
  EXPECT_EQ(areas[5].target->max_gap_minutes, 30.0);

  // Written back by GET /api/v1/areas, read again: the same targets.
  std::vector<AreaProblem> again_problems;
  auto again = read_area_features(write_area_features(areas), "neighbourhood", again_problems);
  ASSERT_EQ(again.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    ASSERT_EQ(again[i].target.has_value(), areas[i].target.has_value()) << i;
    if (!areas[i].target) continue;
    EXPECT_EQ(again[i].target->visits, areas[i].target->visits) << i;
    EXPECT_EQ(again[i].target->minutes, areas[i].target->minutes) << i;
    EXPECT_EQ(again[i].target->max_gap_minutes, areas[i].target->max_gap_minutes) << i;
  }
}

TEST(GeoJson, BadTargetsAreThatFeaturesProblem) {
  const char* bad[] = {R"("target":3)",
                       R"("target":"often")",
                       R"("target":{"visits":-1})",
                       R"("target":{"visits":1.5})",
                       R"("target":{"minutes":"45"})",
                       R"("target":{"max_gap_minutes":-5})",
                       R"("target":{"minutes":1e9})",
                       R"("target":{"visit":3})"};
  std::string fc = R"({"type":"FeatureCollection","features":[)" + square(R"({"id":"good"})");
  for (size_t i = 0; i < std::size(bad); ++i) fc += "," + square("{\"id\":\"b" + std::to_string(i) + "\"," + bad[i] + "}");
  fc += "]}";
  std::vector<AreaProblem> problems;
  auto areas = read_area_features(fc, "neighbourhood", problems);
  ASSERT_EQ(areas.size(), 1u);
  EXPECT_EQ(areas[0].input.id, "good");
  ASSERT_EQ(problems.size(), std::size(bad));
  for (size_t i = 0; i < problems.size(); ++i) {
    EXPECT_EQ(problems[i].index, i + 1);
    EXPECT_EQ(problems[i].code, "invalid_target") << bad[i];
    EXPECT_EQ(problems[i].id, "b" + std::to_string(i));
  }
}

TEST(GeoJson, TellsGeoJsonFromOtherText) {
  auto why = [](std::string_view text) {
    std::vector<AreaProblem> problems;
    std::string not_geojson;
    read_area_features(text, "neighbourhood", problems, &not_geojson);
    return not_geojson;
  };
  EXPECT_NE(why(""), "");
  EXPECT_NE(why("hello"), "");
  EXPECT_NE(why("[1,2,3]"), "");
  EXPECT_NE(why(R"({"type":"Point","coordinates":[0,0]})"), "");
  EXPECT_NE(why(R"({"type":"FeatureCollection"})"), "");
  EXPECT_EQ(why(R"({"type":"FeatureCollection","features":[]})"), "");
  // A single Feature, pretty-printed over several lines, is one feature.
  std::vector<AreaProblem> problems;
  std::string not_geojson;
  std::string pretty = square(R"({"id":"p"})");
  for (size_t at = pretty.find(','); at != std::string::npos; at = pretty.find(',', at + 2)) pretty.insert(at + 1, "\n");
  auto one = read_area_features(pretty, "neighbourhood", problems, &not_geojson);
  EXPECT_EQ(not_geojson, "");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].input.id, "p");
  // GeoJSON lines with a broken line: the others load, the line is reported.
  std::string lines = square(R"({"id":"l1"})") + "\n{broken\n" + square(R"({"id":"l2"})") + "\n";
  problems.clear();
  auto two = read_area_features(lines, "neighbourhood", problems, &not_geojson);
  EXPECT_EQ(not_geojson, "");
  ASSERT_EQ(two.size(), 2u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].index, 1u);
}

}  // namespace
}  // namespace pm
