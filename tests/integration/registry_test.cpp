// Units and devices over HTTP: PUT /api/v1/units/{id}, PUT /api/v1/devices/{id},
// POST /api/v1/units/{id}/status, GET /api/v1/units and /api/v1/devices, how
// links route pings to units, and that all of it survives an App restart.
#include <gtest/gtest.h>

#include "tests/integration/harness.hpp"

namespace pm::itest {
namespace {

constexpr EpochMs kSec = 1000;

struct Registry : TestServer {
  Registry() {
    admin = token(Role::admin);
    dispatcher = token(Role::dispatcher);
    gateway = token(Role::gateway);
  }
  HttpResponse put(const std::string& target, const std::string& body, const std::string& tok = {}) {
    return request("PUT", target, body, tok.empty() ? admin : tok);
  }
  HttpResponse status(const std::string& unit, const std::string& body) {
    return request("POST", "/api/v1/units/" + unit + "/status", body, dispatcher);
  }
  int ping(const std::string& device, EpochMs t, size_t point, bool emergency = false) {
    const auto& p = crime_points()[point];
    Ping ping{device, t, p.lat, p.lon, {}, {}};
    if (emergency) ping.emergency = true;
    auto r = post_pings(gateway, ping_json(ping));
    if (r.status != 202) return -r.status;
    return ingest_answer(r).accepted;
  }
  std::vector<std::string> device_list() {
    auto r = request("GET", "/api/v1/devices", {}, admin);
    EXPECT_EQ(r.status, 200);
    std::vector<std::string> out;
    auto d = parse_json(r.body);
    for (const auto& x : d["devices"].GetArray())
      out.push_back(std::string(x["id"].GetString()) + ":" + x["kind"].GetString() + ":" +
                    (x["unit"].IsNull() ? "-" : x["unit"].GetString()));
    return out;
  }
  std::string admin, dispatcher, gateway;
};

void expect_at(const rapidjson::Value& u, size_t point) {
  ASSERT_TRUE(u["lat"].IsNumber()) << "unit " << u["id"].GetString() << " has no position";
  EXPECT_NEAR(u["lat"].GetDouble(), crime_points()[point].lat, 1e-9) << u["id"].GetString();
  EXPECT_NEAR(u["lon"].GetDouble(), crime_points()[point].lon, 1e-9) << u["id"].GetString();
}

std::vector<std::string> strings(const rapidjson::Value& a) {
  std::vector<std::string> out;
  for (const auto& x : a.GetArray()) out.emplace_back(x.GetString());
  return out;
}

TEST(Registry, PutUnitCreatesThenUpdatesAndKeepsOmittedFields) {
  Registry s;
  auto r1 = s.put("/api/v1/units/NA21",
                  R"({"type":"van","skills":["taser","first_aid"],"home_area":"Oakham","status":"off_duty"})");
  ASSERT_EQ(r1.status, 201) << r1.body;
  auto b1 = parse_json(r1.body);
  EXPECT_STREQ(b1["id"].GetString(), "NA21");
  EXPECT_STREQ(b1["type"].GetString(), "van");
  EXPECT_STREQ(b1["status"].GetString(), "off_duty");
  EXPECT_EQ(strings(b1["skills"]), (std::vector<std::string>{"taser", "first_aid"}));
  EXPECT_STREQ(b1["home_area"].GetString(), "Oakham");
  EXPECT_TRUE(b1["lat"].IsNull());

  auto r2 = s.put("/api/v1/units/NA21", R"({"status":"available"})", s.dispatcher);
  ASSERT_EQ(r2.status, 200) << r2.body;
  auto b2 = parse_json(r2.body);
  EXPECT_STREQ(b2["type"].GetString(), "van");
  EXPECT_STREQ(b2["status"].GetString(), "available");
  EXPECT_EQ(strings(b2["skills"]), (std::vector<std::string>{"taser", "first_aid"}));

  // Refused bodies change nothing.
  for (std::string bad : {R"({"type":5})", R"({"status":"flying"})", R"({"skills":"taser"})",
                          R"({"skills":["has space"]})", "not json", "[]"}) {
    auto r = s.put("/api/v1/units/NA21", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_EQ(error_code(r), "bad_request") << bad;
  }
  auto bad_id = s.put("/api/v1/units/NA%2021", R"({"type":"car"})");
  EXPECT_EQ(bad_id.status, 400) << bad_id.body;

  rapidjson::Document d;
  auto units = s.units(d);
  ASSERT_EQ(units.size(), 1u);
  const auto& u = *units["NA21"];
  EXPECT_STREQ(u["type"].GetString(), "van");
  EXPECT_STREQ(u["status"].GetString(), "available");
  EXPECT_EQ(strings(u["skills"]), (std::vector<std::string>{"taser", "first_aid"}));
  EXPECT_STREQ(u["home_area"].GetString(), "Oakham");
  EXPECT_TRUE(u["lat"].IsNull());
  EXPECT_TRUE(u["fix_time"].IsNull());
  EXPECT_EQ(strings(u["devices"]), std::vector<std::string>{});
}

TEST(Registry, DeviceLinksRoutePingsToUnits) {
  Registry s;
  ASSERT_EQ(s.put("/api/v1/units/NA21", R"({"type":"car"})").status, 201);
  ASSERT_EQ(s.put("/api/v1/units/NA22", R"({"type":"dog"})").status, 201);
  auto r = s.put("/api/v1/devices/AVL-0231", R"({"kind":"avl","unit":"NA21"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body, R"({"id":"AVL-0231","kind":"avl","unit":"NA21"})");
  EXPECT_EQ(s.put("/api/v1/devices/AVL-0231", R"({"kind":"avl","unit":"NA21"})").status, 200);
  ASSERT_EQ(s.put("/api/v1/devices/2351234", R"({"kind":"radio","unit":"NA21"})").status, 201);
  EXPECT_EQ(s.device_list(), (std::vector<std::string>{"AVL-0231:avl:NA21", "2351234:radio:NA21"}));

  // The unit is where its freshest fix from any linked device is.
  EXPECT_EQ(s.ping("AVL-0231", kNow - 60 * kSec, 1000), 1);
  {
    rapidjson::Document d;
    auto units = s.units(d);
    expect_at(*units["NA21"], 1000);
    EXPECT_TRUE((*units["NA22"])["lat"].IsNull());
    EXPECT_EQ(strings((*units["NA21"])["devices"]), (std::vector<std::string>{"AVL-0231", "2351234"}));
  }
  EXPECT_EQ(s.ping("2351234", kNow - 50 * kSec, 1001), 1);
  EXPECT_EQ(s.ping("AVL-0231", kNow - 55 * kSec, 1002), 1);  // older than the radio's
  {
    rapidjson::Document d;
    auto units = s.units(d);
    expect_at(*units["NA21"], 1001);
    EXPECT_STREQ((*units["NA21"])["fix_time"].GetString(), "2026-11-22T09:59:10.000Z");
  }
  // Relink the AVL to NA22: its next fix moves NA22, not NA21.
  EXPECT_EQ(s.put("/api/v1/devices/AVL-0231", R"({"unit":"NA22"})").status, 200);
  EXPECT_EQ(s.ping("AVL-0231", kNow - 40 * kSec, 1003), 1);
  {
    rapidjson::Document d;
    auto units = s.units(d);
    expect_at(*units["NA21"], 1001);
    expect_at(*units["NA22"], 1003);
  }
  // Unlinked: its fixes are stored but move no unit.
  EXPECT_EQ(s.put("/api/v1/devices/AVL-0231", R"({"unit":null})").status, 200);
  EXPECT_EQ(s.ping("AVL-0231", kNow - 30 * kSec, 1004), 1);
  {
    rapidjson::Document d;
    auto units = s.units(d);
    expect_at(*units["NA21"], 1001);
    expect_at(*units["NA22"], 1003);
  }
  EXPECT_EQ(s.device_list(), (std::vector<std::string>{"AVL-0231:avl:-", "2351234:radio:NA21"}));
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 5);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes WHERE unit IS NULL"), 1);
}

TEST(Registry, DeviceForAMissingUnitIs404AndNotCreated) {
  Registry s;
  auto r = s.put("/api/v1/devices/AVL-9", R"({"kind":"avl","unit":"NOPE"})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(error_code(r), "not_found");
  auto k = s.put("/api/v1/devices/AVL-9", R"({"kind":"bike"})");
  EXPECT_EQ(k.status, 400) << k.body;
  EXPECT_EQ(error_code(k), "bad_request");
  EXPECT_EQ(s.device_list(), std::vector<std::string>{});
  // Still unregistered: its pings are unknown_device.
  EXPECT_EQ(s.ping("AVL-9", kNow - kSec, 1), 0);
  // PUT by a dispatcher is not allowed for devices.
  EXPECT_EQ(s.put("/api/v1/devices/AVL-9", R"({"kind":"avl"})", s.dispatcher).status, 403);
}

TEST(Registry, UnitStatusValidAndInvalid) {
  Registry s;
  ASSERT_EQ(s.put("/api/v1/units/NA21", R"({"type":"car"})").status, 201);
  auto ok = s.status("NA21", R"({"status":"unavailable"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_STREQ(parse_json(ok.body)["status"].GetString(), "unavailable");
  // Deployment statuses need an incident (POST /api/v1/incidents/{id}/assign).
  auto deploy = s.status("NA21", R"({"status":"en_route"})");
  EXPECT_EQ(deploy.status, 409) << deploy.body;
  EXPECT_EQ(error_code(deploy), "conflict");
  for (std::string bad : {R"({"status":"flying"})", R"({"status":3})", R"({})", "nope"}) {
    auto r = s.status("NA21", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_EQ(error_code(r), "bad_request") << bad;
  }
  auto missing = s.status("NA99", R"({"status":"available"})");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(error_code(missing), "not_found");
  rapidjson::Document d;
  auto units = s.units(d);
  EXPECT_STREQ((*units["NA21"])["status"].GetString(), "unavailable");
  EXPECT_EQ(units.count("NA99"), 0u);
}

TEST(Registry, StateSurvivesAnAppRestart) {
  Registry s;
  ASSERT_EQ(s.put("/api/v1/units/NA21", R"({"type":"van","skills":["taser"],"home_area":"Oakham"})").status, 201);
  ASSERT_EQ(s.put("/api/v1/units/NA22", R"({"type":"arv","skills":["afo","advanced_driver"]})").status, 201);
  ASSERT_EQ(s.put("/api/v1/units/NA23", R"({"type":"foot"})").status, 201);  // never gets a fix
  ASSERT_EQ(s.put("/api/v1/devices/AVL-1", R"({"kind":"avl","unit":"NA21"})").status, 201);
  ASSERT_EQ(s.put("/api/v1/devices/2350001", R"({"kind":"radio","unit":"NA22"})").status, 201);
  ASSERT_EQ(s.put("/api/v1/devices/APP-3", R"({"kind":"app","unit":null})").status, 201);
  ASSERT_EQ(s.status("NA22", R"({"status":"unavailable"})").status, 200);
  ASSERT_EQ(s.status("NA23", R"({"status":"off_duty"})").status, 200);
  EXPECT_EQ(s.ping("AVL-1", kNow - 30 * kSec, 2000), 1);
  EXPECT_EQ(s.ping("AVL-1", kNow - 10 * kSec, 2001), 1);
  EXPECT_EQ(s.ping("AVL-1", kNow - 20 * kSec, 2002), 1);  // out of order
  EXPECT_EQ(s.ping("2350001", kNow - 15 * kSec, 2003, /*emergency=*/true), 1);
  EXPECT_EQ(s.ping("APP-3", kNow - 5 * kSec, 2004), 1);

  auto before_units = s.request("GET", "/api/v1/units", {}, s.admin);
  auto before_devices = s.request("GET", "/api/v1/devices", {}, s.admin);
  ASSERT_EQ(before_units.status, 200);
  {
    auto d = parse_json(before_units.body);
    ASSERT_EQ(d["units"].Size(), 3u);
  }

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("restart " + std::to_string(round + 1));
    s.restart();
    auto after_units = s.request("GET", "/api/v1/units", {}, s.admin);
    EXPECT_EQ(after_units.body, before_units.body);
    EXPECT_EQ(s.request("GET", "/api/v1/devices", {}, s.admin).body, before_devices.body);
    rapidjson::Document d;
    auto units = s.units(d);
    ASSERT_EQ(units.size(), 3u);
    const auto& na21 = *units["NA21"];
    expect_at(na21, 2001);
    EXPECT_STREQ(na21["fix_time"].GetString(), "2026-11-22T09:59:50.000Z");
    EXPECT_STREQ(na21["type"].GetString(), "van");
    EXPECT_STREQ(na21["home_area"].GetString(), "Oakham");
    EXPECT_EQ(strings(na21["skills"]), std::vector<std::string>{"taser"});
    const auto& na22 = *units["NA22"];
    expect_at(na22, 2003);
    EXPECT_STREQ(na22["status"].GetString(), "unavailable");
    EXPECT_TRUE(na22["emergency"].GetBool());
    EXPECT_STREQ(na22["source"].GetString(), "json");
    EXPECT_EQ(strings(na22["skills"]), (std::vector<std::string>{"afo", "advanced_driver"}));
    EXPECT_STREQ((*units["NA23"])["status"].GetString(), "off_duty");
    EXPECT_TRUE((*units["NA23"])["lat"].IsNull());
    EXPECT_EQ(s.device_list(),
              (std::vector<std::string>{"AVL-1:avl:NA21", "2350001:radio:NA22", "APP-3:app:-"}));
  }
  // Tokens, links and the duplicate rule still hold after the restart.
  EXPECT_EQ(s.ping("AVL-1", kNow - 10 * kSec, 2005), 0);  // duplicate of a stored fix
  EXPECT_EQ(s.ping("AVL-1", kNow - 1 * kSec, 2006), 1);
  rapidjson::Document d;
  auto units = s.units(d);
  expect_at(*units["NA21"], 2006);
}

// Stored tokens must work as soon as a restarted server accepts connections.
// Today the store writer loads them on its first wake-up, up to 1 s after
// App::start() returned (server/store/store.cpp Store::run): see the report.
TEST(Registry, StoredTokensWorkRightAfterARestart) {
  Registry s;
  s.put_unit("NA21");
  s.restart(/*wait_for_tokens=*/false);
  auto r = s.request("GET", "/api/v1/units", {}, s.dispatcher);
  EXPECT_EQ(r.status, 200) << r.body;
  auto waited = wait_until_token_works(s.port(), s.dispatcher);
  ASSERT_TRUE(waited.has_value());
}

}  // namespace
}  // namespace pm::itest
