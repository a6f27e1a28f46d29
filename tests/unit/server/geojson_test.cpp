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
}

}  // namespace
}  // namespace pm
