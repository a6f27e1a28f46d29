// The basemap's serving side as pure functions: GeoJSON text from hand-made
// features (rounding, repeats, degenerate geometry), the index, gzip, the
// Accept-Encoding rules and the response headers.
#include "server/api/basemap_api.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "tests/support/gunzip.hpp"

namespace pm {
namespace {

using geo::BasemapFeature;
using geo::BasemapGeometry;
using geo::LonLat;

using test::gunzip;

BasemapFeature line(std::vector<LonLat> pts, std::vector<std::pair<std::string, std::string>> props = {}) {
  return {BasemapGeometry::line_string, {{std::move(pts)}}, std::move(props)};
}

std::string one(const BasemapFeature& f) {
  geo::BasemapLayer l{"test", 0, {f}};
  return basemap_layer_geojson(l);
}

const std::string kEmpty = R"({"type":"FeatureCollection","features":[]})";

TEST(BasemapGeoJson, PointRoundedToSixDecimals) {
  const BasemapFeature town{
      BasemapGeometry::point, {{{{-0.72777777777, 52.6703333333}}}}, {{"name", "Oakham"}, {"place", "town"}}};
  EXPECT_EQ(one(town), R"({"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point",)"
                       R"("coordinates":[-0.727778,52.670333]},"properties":{"name":"Oakham","place":"town"}}]})");
}

TEST(BasemapGeoJson, LineRepeatsAfterRoundingGo) {
  // The 2nd vertex rounds onto the 1st (0.04 m apart): written once.
  EXPECT_EQ(one(line({{-0.5, 52.5}, {-0.50000004, 52.5}, {-0.49, 52.51}}, {{"class", "minor"}})),
            R"({"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString",)"
            R"("coordinates":[[-0.5,52.5],[-0.49,52.51]]},"properties":{"class":"minor"}}]})");
  // A line that collapses to one position is left out.
  EXPECT_EQ(one(line({{-0.5, 52.5}, {-0.5000001, 52.5000001}})), kEmpty);
  EXPECT_EQ(one(line({{-0.5, 52.5}})), kEmpty);
}

TEST(BasemapGeoJson, PolygonsAndMultiPolygons) {
  const std::vector<LonLat> sq{{0, 0}, {0.001, 0}, {0.001, 0.001}, {0, 0.001}, {0, 0}};
  const std::vector<LonLat> hole{{0.0002, 0.0002}, {0.0004, 0.0002}, {0.0004, 0.0004}, {0.0002, 0.0002}};
  std::vector<LonLat> far = sq;
  for (auto& p : far) p.lon += 1;
  const BasemapFeature lake{BasemapGeometry::multi_polygon, {{sq, hole}}, {{"class", "water"}}};
  EXPECT_EQ(one(lake), R"({"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon",)"
                       R"("coordinates":[[[0.0,0.0],[0.001,0.0],[0.001,0.001],[0.0,0.001],[0.0,0.0]],)"
                       R"([[0.0002,0.0002],[0.0004,0.0002],[0.0004,0.0004],[0.0002,0.0002]]]},)"
                       R"("properties":{"class":"water"}}]})");
  const BasemapFeature two{BasemapGeometry::multi_polygon, {{sq}, {far}}, {}};
  rapidjson::Document d;
  d.Parse(one(two).c_str());
  ASSERT_FALSE(d.HasParseError());
  const auto& g = d["features"][0]["geometry"];
  EXPECT_STREQ(g["type"].GetString(), "MultiPolygon");
  EXPECT_EQ(g["coordinates"].Size(), 2u);
  EXPECT_EQ(g["coordinates"][1][0][1][0].GetDouble(), 1.001);
  // A ring that rounds to fewer than 4 positions: the hole goes, the lake stays;
  // an outer ring that does takes its polygon with it.
  const std::vector<LonLat> speck{{0.0003, 0.0003}, {0.0003000001, 0.0003}, {0.0003, 0.0003000001}, {0.0003, 0.0003}};
  d.Parse(one({BasemapGeometry::multi_polygon, {{sq, speck}}, {}}).c_str());
  EXPECT_EQ(d["features"][0]["geometry"]["coordinates"].Size(), 1u);
  EXPECT_EQ(one({BasemapGeometry::multi_polygon, {{speck, sq}}, {}}), kEmpty);
}

TEST(BasemapGeoJson, PropertiesAreEscaped) {
  rapidjson::Document d;
  d.Parse(one(line({{0, 0}, {1, 1}}, {{"name", "St \"Mary's\" \\ Lane\n"}})).c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["features"][0]["properties"]["name"].GetString(), "St \"Mary's\" \\ Lane\n");
}

TEST(BasemapTiles, IndexAndLayers) {
  geo::Basemap map;
  map.bbox[0] = -0.8451234567;
  map.bbox[1] = 52.5;
  map.bbox[2] = -0.4;
  map.bbox[3] = 52.76;
  map.layers = {{"roads_major", 0, {line({{0, 0}, {1, 1}})}}, {"roads_minor", 13, {}}};
  const auto t = BasemapTiles::build(map);
  EXPECT_EQ(t.index().body,
            "{\"bbox\":[-0.845123,52.5,-0.4,52.76],\"attribution\":\"\xC2\xA9 OpenStreetMap contributors\","
            "\"layers\":[{\"name\":\"roads_major\",\"min_zoom\":0},{\"name\":\"roads_minor\",\"min_zoom\":13}]}");
  EXPECT_EQ(t.index().content_type, "application/json");
  EXPECT_TRUE(t.index().gzip.empty());
  ASSERT_NE(t.layer("roads_major"), nullptr);
  EXPECT_EQ(t.layer("roads_major")->features, 1u);
  EXPECT_EQ(t.layer("roads_major")->content_type, "application/geo+json");
  EXPECT_EQ(gunzip(t.layer("roads_major")->gzip), t.layer("roads_major")->body);
  EXPECT_EQ(t.layer("roads_minor")->body, kEmpty);
  EXPECT_EQ(t.layer("water"), nullptr);
  EXPECT_EQ(t.layer(""), nullptr);
  EXPECT_EQ(t.layer("roads_major")->etag.size(), 18u);  // "16 hex digits"
  EXPECT_NE(t.layer("roads_major")->etag, t.layer("roads_major")->gzip_etag);
  EXPECT_NE(t.layer("roads_major")->etag, t.layer("roads_minor")->etag);
}

TEST(Gzip, RoundTripsAndShrinksRepetition) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "[-0.727778,52.670333],";
  const std::string gz = gzip_compress(text);
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_LT(gz.size(), text.size() / 20);
  EXPECT_EQ(gunzip(gz), text);
  EXPECT_EQ(gunzip(gzip_compress("")), "");
}

TEST(AcceptEncoding, GzipUnlessRefused) {
  for (const char* yes : {"gzip", "GZIP", "x-gzip", "gzip, deflate, br", "deflate, gzip", "br;q=1.0, gzip;q=0.8",
                          "gzip;q=0.5", "*", "deflate, *;q=0.1", " gzip ; q=1"}) {
    EXPECT_TRUE(accepts_gzip(yes)) << yes;
  }
  for (const char* no :
       {"", "identity", "deflate, br", "gzip;q=0", "gzip; q=0.000", "*;q=0", "*, gzip;q=0", "gzipx", "gzip-like"}) {
    EXPECT_FALSE(accepts_gzip(no)) << no;
  }
}

TEST(BasemapResponse, EncodingValidatorsAndCaching) {
  geo::Basemap map;
  map.layers = {{"water", 0, {line({{0, 0}, {1, 1}})}}};
  const auto t = BasemapTiles::build(map);
  const BasemapBlob& b = *t.layer("water");
  Request req{http::verb::get, "/api/v1/basemap/water", 11};

  Response plain = basemap_response(b, req);
  EXPECT_EQ(plain.result_int(), 200u);
  EXPECT_EQ(plain.body(), b.body);
  EXPECT_EQ(plain[http::field::content_type], "application/geo+json");
  EXPECT_EQ(plain[http::field::content_encoding], "");
  EXPECT_EQ(plain[http::field::vary], "Accept-Encoding");
  EXPECT_EQ(plain[http::field::cache_control], "private, max-age=3600");
  EXPECT_EQ(plain[http::field::etag], b.etag);
  EXPECT_EQ(plain[http::field::content_length], std::to_string(b.body.size()));

  req.set(http::field::accept_encoding, "gzip, deflate");
  Response gz = basemap_response(b, req);
  EXPECT_EQ(gz.result_int(), 200u);
  EXPECT_EQ(gz.body(), b.gzip);
  EXPECT_EQ(gz[http::field::content_encoding], "gzip");
  EXPECT_EQ(gz[http::field::etag], b.gzip_etag);

  req.set(http::field::if_none_match, b.gzip_etag);
  Response same = basemap_response(b, req);
  EXPECT_EQ(same.result_int(), 304u);
  EXPECT_TRUE(same.body().empty());
  EXPECT_EQ(same[http::field::etag], b.gzip_etag);
  // The identity validator does not revalidate the gzip representation.
  req.set(http::field::if_none_match, b.etag);
  EXPECT_EQ(basemap_response(b, req).result_int(), 200u);
  req.set(http::field::if_none_match, "\"0000000000000000\", " + b.gzip_etag);
  EXPECT_EQ(basemap_response(b, req).result_int(), 304u);

  // The index is never compressed and varies on nothing.
  Response idx = basemap_response(t.index(), req);
  EXPECT_EQ(idx[http::field::content_encoding], "");
  EXPECT_EQ(idx[http::field::vary], "");
  EXPECT_EQ(idx[http::field::content_type], "application/json");
}

}  // namespace
}  // namespace pm
