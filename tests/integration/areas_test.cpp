// POST /api/v1/areas on the real daemon: per-feature rejections with GEOS's
// reasons, targets served back, replacement by kind, roles, a restart on the
// same data directory, bad bodies, and readers never seeing half a set.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/support/data_dir.hpp"
#include "tests/support/geojson_areas.hpp"

namespace pm::itest {
namespace {

std::string square(const std::string& props, int dx = 0) { return test::square_feature(props, dx); }

std::string collection(const std::vector<std::string>& features) {
  std::string s = R"({"type":"FeatureCollection","features":[)";
  for (size_t i = 0; i < features.size(); ++i) s += (i ? "," : "") + features[i];
  return s + "]}";
}

// n hot spots HS-<tag>-0.. at distinct places.
std::string hotspots(int n, const std::string& tag) {
  std::vector<std::string> f;
  for (int i = 0; i < n; ++i) f.push_back(square(R"({"id":"HS-)" + tag + "-" + std::to_string(i) + R"(","kind":"hotspot"})", i));
  return collection(f);
}

std::string parishes_text() { return test::read_text(test::data_dir() + "/boundaries/rutland-parishes.geojson"); }

// kind -> count in GET /api/v1/areas.
std::map<std::string, int> kinds(TestServer& s, const std::string& token) {
  auto r = s.request("GET", "/api/v1/areas", {}, token);
  EXPECT_EQ(r.status, 200) << r.body;
  std::map<std::string, int> out;
  auto d = parse_json(r.body);
  if (!d.IsObject() || !d.HasMember("features")) return out;
  for (const auto& f : d["features"].GetArray()) ++out[f["properties"]["kind"].GetString()];
  return out;
}

TEST(Areas, ValidFeaturesLoadAndTheOthersAreRejectedWithReasons) {
  TestServer s;
  auto sergeant = s.token(Role::sergeant);
  // A bow tie whose edges cross at (-0.715, 52.665), and a feature with no id or name.
  const std::string bow = R"({"type":"Feature","properties":{"id":"bow"},"geometry":{"type":"Polygon",)"
                          R"("coordinates":[[[-0.72,52.66],[-0.71,52.67],[-0.71,52.66],[-0.72,52.67],[-0.72,52.66]]]}})";
  auto r = s.request("POST", "/api/v1/areas?kind=hotspot",
                     collection({square(R"({"id":"HS-1","name":"Market Place","target":{"visits":2,"minutes":30}})"),
                                 bow, square(R"({"parent":"x"})", 3)}),
                     sergeant);
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = parse_json(r.body);
  EXPECT_EQ(d["loaded"].GetInt(), 1);
  ASSERT_EQ(d["replaced_kinds"].Size(), 1u);
  EXPECT_STREQ(d["replaced_kinds"][0].GetString(), "hotspot");
  ASSERT_EQ(d["rejected"].Size(), 2u);
  EXPECT_EQ(d["rejected"][0]["index"].GetInt(), 1);
  EXPECT_STREQ(d["rejected"][0]["id"].GetString(), "bow");
  EXPECT_STREQ(d["rejected"][0]["code"].GetString(), "invalid_geometry");
  EXPECT_EQ(std::string(d["rejected"][0]["reason"].GetString()).rfind("Self-intersection", 0), 0u) << r.body;
  EXPECT_EQ(d["rejected"][1]["index"].GetInt(), 2);
  EXPECT_STREQ(d["rejected"][1]["code"].GetString(), "missing_id");

  // Served back with its target; a hot spot's max gap defaults to 120 minutes (SPEC 5).
  auto g = parse_json(s.request("GET", "/api/v1/areas?kind=hotspot", {}, sergeant).body);
  ASSERT_EQ(g["features"].Size(), 1u);
  const auto& p = g["features"][0]["properties"];
  EXPECT_STREQ(p["id"].GetString(), "HS-1");
  EXPECT_STREQ(p["kind"].GetString(), "hotspot");
  EXPECT_EQ(p["target"]["visits"].GetInt(), 2);
  EXPECT_EQ(p["target"]["minutes"].GetDouble(), 30.0);
  EXPECT_EQ(p["target"]["max_gap_minutes"].GetDouble(), 120.0);

  // Stored (read independently of the server code), and counted.
  DbView db(s.data_dir());
  auto rows = db.rows("SELECT id, kind, target FROM areas");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "HS-1");
  EXPECT_EQ(rows[0][1], "hotspot");
  auto page = s.metrics_page();
  EXPECT_EQ(metric(page, "patrolmap_areas_rejected_total"), 2);
  EXPECT_EQ(metric(page, "patrolmap_areas_loaded_total"), 1);
}

TEST(Areas, ReplacingAKindKeepsTheOthersAndSurvivesARestart) {
  TestServer s;
  auto admin = s.token(Role::admin);
  auto r = s.request("POST", "/api/v1/areas?kind=neighbourhood", parishes_text(), admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse_json(r.body)["loaded"].GetInt(), 57);
  ASSERT_EQ(s.request("POST", "/api/v1/areas", hotspots(3, "a"), admin).status, 200);
  EXPECT_EQ(kinds(s, admin), (std::map<std::string, int>{{"neighbourhood", 57}, {"hotspot", 3}}));
  // Another set of hot spots replaces the first, the parishes stay.
  r = s.request("POST", "/api/v1/areas", hotspots(2, "b"), admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(kinds(s, admin), (std::map<std::string, int>{{"neighbourhood", 57}, {"hotspot", 2}}));
  // A microbeat whose id a parish has: rejected, nothing replaced by it.
  r = s.request("POST", "/api/v1/areas?kind=microbeat", collection({square(R"({"id":"E04000641"})")}), admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ(parse_json(r.body)["rejected"][0]["code"].GetString(), "duplicate_id");

  s.restart();
  EXPECT_EQ(kinds(s, admin), (std::map<std::string, int>{{"neighbourhood", 57}, {"hotspot", 2}}));
  auto g = parse_json(s.request("GET", "/api/v1/areas?kind=hotspot", {}, admin).body);
  std::set<std::string> ids;
  for (const auto& f : g["features"].GetArray()) {
    ids.insert(f["properties"]["id"].GetString());
    EXPECT_EQ(f["properties"]["target"]["max_gap_minutes"].GetDouble(), 120.0);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"HS-b-0", "HS-b-1"}));

  // An empty collection of a kind clears that kind, stored too.
  r = s.request("POST", "/api/v1/areas?kind=hotspot", R"({"type":"FeatureCollection","features":[]})", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse_json(r.body)["loaded"].GetInt(), 0);
  s.restart();
  EXPECT_EQ(kinds(s, admin), (std::map<std::string, int>{{"neighbourhood", 57}}));
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT count(*) FROM areas"), 57);
}

// The demo loads its files at every start: a restart neither loses POSTed
// areas of other kinds nor duplicates the file's.
TEST(Areas, DemoFileLoadsDoNotDuplicateAcrossRestarts) {
  TestServer s;
  auto admin = s.token(Role::admin);
  ASSERT_EQ(s.request("POST", "/api/v1/areas", hotspots(4, "p"), admin).status, 200);
  const std::string path = test::data_dir() + "/boundaries/rutland-parishes.geojson";
  EXPECT_EQ(s.app().load_areas_file(path, "neighbourhood"), 61u);
  s.restart();
  EXPECT_EQ(s.app().load_areas_file(path, "neighbourhood"), 61u);
  EXPECT_EQ(kinds(s, admin), (std::map<std::string, int>{{"neighbourhood", 57}, {"hotspot", 4}}));
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT count(*) FROM areas"), 61);
}

TEST(Areas, RolesAndBadBodies) {
  TestServer s({{"http.body_limit_bytes", "4096"}});
  const std::string body = hotspots(1, "r");
  EXPECT_EQ(s.request("POST", "/api/v1/areas", body).status, 401);
  EXPECT_EQ(s.request("POST", "/api/v1/areas", body, s.token(Role::dispatcher)).status, 403);
  EXPECT_EQ(s.request("POST", "/api/v1/areas", body, s.token(Role::manager)).status, 403);
  EXPECT_EQ(s.request("POST", "/api/v1/areas", body, s.token(Role::gateway)).status, 403);
  auto sergeant = s.token(Role::sergeant);
  for (std::string bad : {std::string("not json at all"), std::string(R"({"foo":1})"), std::string("[1,2]"),
                          std::string(""), std::string(R"({"type":"FeatureCollection"})")}) {
    auto r = s.request("POST", "/api/v1/areas", bad, sergeant);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_EQ(error_code(r), "bad_request") << r.body;
  }
  auto kind = s.request("POST", "/api/v1/areas?kind=a%20b", body, sergeant);
  EXPECT_EQ(kind.status, 400) << kind.body;
  auto big = s.request("POST", "/api/v1/areas", hotspots(40, "big"), sergeant);  // > 4096 bytes
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_TRUE(kinds(s, sergeant).empty());  // nothing of the refused bodies loaded
  EXPECT_EQ(s.request("POST", "/api/v1/areas", body, sergeant).status, 200);
  auto page = s.metrics_page();
  EXPECT_EQ(metric(page, "patrolmap_errors_total{code=\"bad_request\"}"), 6);
}

// Readers during replacements see the old set or the new one, never a mix.
TEST(Areas, ReadersNeverSeeHalfASet) {
  TestServer s;
  auto admin = s.token(Role::admin);
  ASSERT_EQ(s.request("POST", "/api/v1/areas?kind=neighbourhood", parishes_text(), admin).status, 200);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, mixed{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto k = kinds(s, admin);
      ++reads;
      if (k["neighbourhood"] != 57 || (k["hotspot"] != 0 && k["hotspot"] != 3 && k["hotspot"] != 5)) ++mixed;
    }
  });
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(s.request("POST", "/api/v1/areas", i % 2 ? hotspots(3, "x") : hotspots(5, "y"), admin).status, 200);
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(mixed.load(), 0);
}

}  // namespace
}  // namespace pm::itest
