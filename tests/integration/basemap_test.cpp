// The offline basemap over HTTP (docs/api.md "Basemap") on the real server
// with the Rutland extract: the index, every layer as valid GeoJSON with
// 6-decimal coordinates, the gzip variant (inflated here with zlib) equal to
// the identity body, ETag revalidation, and the error cases.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "tests/integration/harness.hpp"
#include "tests/support/data_dir.hpp"
#include "tests/support/gunzip.hpp"

namespace pm::itest {
namespace {

using test::gunzip;

// Positions are [lon, lat] arrays of numbers with at most 6 decimals, inside `bbox`.
void check_positions(const rapidjson::Value& v, int depth, const double* bbox, size_t& count) {
  ASSERT_TRUE(v.IsArray());
  if (depth == 0) {
    ASSERT_EQ(v.Size(), 2u);
    const double lon = v[0].GetDouble(), lat = v[1].GetDouble();
    EXPECT_NEAR(lon * 1e6, std::round(lon * 1e6), 1e-3) << lon;
    EXPECT_NEAR(lat * 1e6, std::round(lat * 1e6), 1e-3) << lat;
    EXPECT_TRUE(lon >= bbox[0] && lon <= bbox[2] && lat >= bbox[1] && lat <= bbox[3]) << lon << "," << lat;
    ++count;
    return;
  }
  for (const auto& c : v.GetArray()) check_positions(c, depth - 1, bbox, count);
}

class BasemapServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ =
        new TestServer(TestServer::Overrides{{"basemap.osm_file", test::data_dir() + "/osm/rutland-latest.osm.pbf"}});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer& s() { return *server_; }
  static TestServer* server_;
};
TestServer* BasemapServer::server_ = nullptr;

TEST_F(BasemapServer, IndexListsTheLayers) {
  const auto r = s().request("GET", "/api/v1/basemap", {}, s().token(Role::dispatcher));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto doc = parse_json(r.body);
  ASSERT_TRUE(doc["bbox"].IsArray());
  ASSERT_EQ(doc["bbox"].Size(), 4u);
  const double w = doc["bbox"][0].GetDouble(), so = doc["bbox"][1].GetDouble(), e = doc["bbox"][2].GetDouble(),
               n = doc["bbox"][3].GetDouble();
  // Rutland lies within 0.43W..0.82W, 52.52N..52.77N.
  EXPECT_LT(w, -0.82);
  EXPECT_GT(e, -0.43);
  EXPECT_LT(so, 52.53);
  EXPECT_GT(n, 52.76);
  EXPECT_STREQ(doc["attribution"].GetString(), "\xC2\xA9 OpenStreetMap contributors");
  const std::vector<std::pair<std::string, int>> want = {
      {"roads_major", 0}, {"roads_minor", 13}, {"water", 0}, {"places", 0}};
  ASSERT_EQ(doc["layers"].Size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(doc["layers"][static_cast<rapidjson::SizeType>(i)]["name"].GetString(), want[i].first);
    EXPECT_EQ(doc["layers"][static_cast<rapidjson::SizeType>(i)]["min_zoom"].GetInt(), want[i].second);
  }
}

TEST_F(BasemapServer, EveryLayerIsGeoJsonAndGzipMatches) {
  const std::string token = s().token(Role::sergeant);
  auto index = parse_json(s().request("GET", "/api/v1/basemap", {}, token).body);
  const double bbox[4] = {index["bbox"][0].GetDouble(), index["bbox"][1].GetDouble(), index["bbox"][2].GetDouble(),
                          index["bbox"][3].GetDouble()};
  const std::map<std::string, std::set<std::string>> geometries = {{"roads_major", {"LineString"}},
                                                                   {"roads_minor", {"LineString"}},
                                                                   {"water", {"Polygon", "MultiPolygon", "LineString"}},
                                                                   {"places", {"Point"}}};
  for (const auto& [name, allowed] : geometries) {
    SCOPED_TRACE(name);
    HttpClient c = s().client();
    const auto plain = c.get("/api/v1/basemap/" + name, test::bearer(token));
    ASSERT_EQ(plain.status, 200) << plain.body.substr(0, 200);
    EXPECT_EQ(plain.header("content-type"), "application/geo+json");
    EXPECT_FALSE(plain.has_header("content-encoding"));
    EXPECT_EQ(plain.header("vary"), "Accept-Encoding");
    EXPECT_EQ(plain.header("cache-control"), "private, max-age=3600");
    ASSERT_FALSE(plain.header("etag").empty());
    auto doc = parse_json(plain.body);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_STREQ(doc["type"].GetString(), "FeatureCollection");
    const auto& features = doc["features"];
    ASSERT_TRUE(features.IsArray());
    EXPECT_GT(features.Size(), 0u);
    size_t positions = 0;
    for (const auto& f : features.GetArray()) {
      ASSERT_STREQ(f["type"].GetString(), "Feature");
      ASSERT_TRUE(f["properties"].IsObject());
      const std::string type = f["geometry"]["type"].GetString();
      ASSERT_TRUE(allowed.count(type)) << type;
      const int depth = type == "Point" ? 0 : type == "LineString" ? 1 : type == "Polygon" ? 2 : 3;
      check_positions(f["geometry"]["coordinates"], depth, bbox, positions);
      if (type == "LineString") {
        EXPECT_GE(f["geometry"]["coordinates"].Size(), 2u);
      }
      if (type == "Polygon") {
        const auto& outer = f["geometry"]["coordinates"][0];
        ASSERT_GE(outer.Size(), 4u);
        EXPECT_EQ(outer[0][0].GetDouble(), outer[outer.Size() - 1][0].GetDouble()) << "ring closed";
        EXPECT_EQ(outer[0][1].GetDouble(), outer[outer.Size() - 1][1].GetDouble()) << "ring closed";
      }
    }
    std::printf("  %-12s %u features, %zu positions, %zu bytes\n", name.c_str(), features.Size(), positions,
                plain.body.size());

    const auto gz = c.get("/api/v1/basemap/" + name,
                          {{"Authorization", "Bearer " + token}, {"Accept-Encoding", "br;q=1.0, gzip;q=0.8, *;q=0.1"}});
    ASSERT_EQ(gz.status, 200);
    EXPECT_EQ(gz.header("content-encoding"), "gzip");
    EXPECT_EQ(gz.header("content-type"), "application/geo+json");
    EXPECT_EQ(gz.header("vary"), "Accept-Encoding");
    EXPECT_NE(gz.header("etag"), plain.header("etag"));  // a different representation
    EXPECT_LT(gz.body.size(), plain.body.size() / 3);
    EXPECT_EQ(gunzip(gz.body), plain.body);

    // gzip refused explicitly: identity.
    const auto no_gz = c.get("/api/v1/basemap/" + name,
                             {{"Authorization", "Bearer " + token}, {"Accept-Encoding", "gzip;q=0, identity"}});
    EXPECT_FALSE(no_gz.has_header("content-encoding"));
    EXPECT_EQ(no_gz.body, plain.body);

    // Revalidation: the same ETag gets 304 and no body.
    const auto again = c.get("/api/v1/basemap/" + name,
                             {{"Authorization", "Bearer " + token}, {"If-None-Match", plain.header("etag")}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
  }
}

TEST_F(BasemapServer, RealPlacesAndRoadsArrive) {
  const auto r = s().request("GET", "/api/v1/basemap/places", {}, s().token(Role::manager));
  ASSERT_EQ(r.status, 200);
  auto doc = parse_json(r.body);
  std::map<std::string, std::string> kind;
  for (const auto& f : doc["features"].GetArray())
    kind[f["properties"]["name"].GetString()] = f["properties"]["place"].GetString();
  EXPECT_EQ(kind["Oakham"], "town");
  EXPECT_EQ(kind["Uppingham"], "town");
  const auto roads = s().request("GET", "/api/v1/basemap/roads_major", {}, s().token(Role::dispatcher));
  EXPECT_NE(roads.body.find(R"("ref":"A6003")"), std::string::npos);
}

TEST_F(BasemapServer, TokensRolesAndUnknownLayers) {
  EXPECT_EQ(s().request("GET", "/api/v1/basemap").status, 401);
  EXPECT_EQ(s().request("GET", "/api/v1/basemap/water").status, 401);
  EXPECT_EQ(s().request("GET", "/api/v1/basemap/water", {}, s().token(Role::gateway)).status, 403);
  const auto unknown = s().request("GET", "/api/v1/basemap/buildings", {}, s().token(Role::dispatcher));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(error_code(unknown), "not_found");
  EXPECT_EQ(s().request("POST", "/api/v1/basemap/water", "{}", s().token(Role::admin)).status, 405);
}

TEST(Basemap, NotConfiguredIsNotFound) {
  TestServer s;
  const std::string token = s.token(Role::dispatcher);
  for (const char* path : {"/api/v1/basemap", "/api/v1/basemap/roads_major"}) {
    const auto r = s.request("GET", path, {}, token);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(error_code(r), "not_found") << path;
  }
}

TEST(Basemap, UnreadableFileStopsTheStart) {
  try {
    TestServer s(TestServer::Overrides{{"basemap.osm_file", "/nonexistent/basemap.osm.pbf"}});
    ADD_FAILURE() << "the server started without its basemap";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("basemap.osm_file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pm::itest
