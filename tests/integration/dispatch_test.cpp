// Dispatch over HTTP (SPEC sections 4 and 11), the whole lifecycle on the real
// server: create with flags and recommendations, assign (409 and forced),
// auto on-scene from pings, self-deployment, predicted breach, flagged
// locations, close, the event log surviving a restart, and roles.
// Expected rankings and distances come from the Karney geodesic computed here.
#include <gtest/gtest.h>

#include "geo/geodesic.hpp"
#include "geo/osm_roads.hpp"
#include "geo/projection.hpp"
#include "tests/integration/harness.hpp"
#include "tests/support/data_dir.hpp"

namespace pm::itest {
namespace {

constexpr EpochMs kSec = 1000;
const geo::LonLat kCentre{-1.1352, 52.6345};  // Leicester clock tower

struct Dispatch : TestServer {
  explicit Dispatch(Overrides overrides = {}) : TestServer(std::move(overrides)) {
    admin = token(Role::admin);
    dispatcher = token(Role::dispatcher);
    gateway = token(Role::gateway);
  }
  // A unit with a device of the same id, `metres` from the centre on `bearing`.
  void unit_at(const std::string& id, double bearing, double metres, const std::string& body = R"({"type":"car"})",
               geo::LonLat centre = kCentre) {
    put_unit(id, body);
    put_device("AVL-" + id, id);
    move(id, geo::geodesic_destination(centre, bearing, metres));
  }
  void move(const std::string& id, geo::LonLat p, bool emergency = false) {
    // 1 s before the clock, plus a millisecond per ping so no two are duplicates.
    Ping ping{"AVL-" + id, clock().now_ms() - kSec + seq++, p.lat, p.lon, {}, {}};
    if (emergency) ping.emergency = true;
    auto r = post_pings(gateway, ping_json(ping));
    ASSERT_EQ(r.status, 202) << r.body;
    ASSERT_EQ(ingest_answer(r).accepted, 1) << r.body;
  }
  HttpResponse post(const std::string& target, const std::string& body, const std::string& tok = {}) {
    return request("POST", target, body, tok.empty() ? dispatcher : tok);
  }
  HttpResponse get(const std::string& target) { return request("GET", target, {}, dispatcher); }
  static std::string incident_body(int grade, geo::LonLat p, const std::string& extra = {}) {
    char buf[160];
    std::snprintf(buf, sizeof buf, R"({"grade":%d,"type":"assault","lat":%.9f,"lon":%.9f)", grade, p.lat, p.lon);
    return buf + extra + "}";
  }
  std::string unit_status(const std::string& id) {
    rapidjson::Document d;
    auto u = units(d);
    return u.count(id) ? (*u[id])["status"].GetString() : "";
  }
  std::string admin, dispatcher, gateway;
  EpochMs seq = 0;
};

std::vector<std::string> rec_units(const rapidjson::Value& recs) {
  std::vector<std::string> out;
  for (const auto& r : recs.GetArray()) out.emplace_back(r["unit"].GetString());
  return out;
}

TEST(Dispatch, CreateRanksAssignsAndCloses) {
  Dispatch s;
  s.unit_at("NA21", 90, 1200, R"({"type":"car","skills":["taser"]})");
  s.unit_at("NA22", 0, 500);
  s.unit_at("NA23", 200, 800);
  s.unit_at("NA24", 300, 300, R"({"type":"car","status":"off_duty"})");
  auto created = s.post("/api/v1/incidents", Dispatch::incident_body(1, kCentre, R"(,"caller_ref":"C-1")"));
  ASSERT_EQ(created.status, 201) << created.body;
  auto inc = parse_json(created.body);
  const uint64_t id = inc["id"].GetUint64();
  EXPECT_STREQ(inc["status"].GetString(), "open");
  EXPECT_EQ(inc["flags"]["repeat_location"]["count"].GetInt(), 0);
  EXPECT_STREQ(inc["target"].GetString(), "2026-11-22T10:15:00.000Z");  // grade 1 urban: 15 min
  // Nearest first: NA24 is off duty.
  EXPECT_EQ(rec_units(inc["recommendations"]), (std::vector<std::string>{"NA22", "NA23", "NA21"}));
  const auto& first = inc["recommendations"][0];
  double d22 = geo::geodesic_distance_m(geo::geodesic_destination(kCentre, 0, 500), kCentre);
  EXPECT_NEAR(first["distance_m"].GetDouble(), d22, 0.1);
  EXPECT_NEAR(first["eta_s"].GetDouble(), d22 / 11.0, 0.1);
  EXPECT_STREQ(first["method"].GetString(), "straight_line");
  EXPECT_NEAR(first["fix_age_s"].GetDouble(), 1.0, 0.01);

  // Required skill: only NA21 has a taser.
  auto recs = s.get("/api/v1/incidents/" + std::to_string(id) + "/recommendations?k=2");
  ASSERT_EQ(recs.status, 200) << recs.body;
  EXPECT_EQ(rec_units(parse_json(recs.body)["recommendations"]), (std::vector<std::string>{"NA22", "NA23"}));
  auto taser = s.post("/api/v1/incidents", Dispatch::incident_body(2, kCentre, R"(,"required_skills":["taser"])"));
  ASSERT_EQ(taser.status, 201) << taser.body;
  auto taser_doc = parse_json(taser.body);
  EXPECT_EQ(rec_units(taser_doc["recommendations"]), (std::vector<std::string>{"NA21"}));
  const uint64_t id2 = taser_doc["id"].GetUint64();
  // The same place and caller again: a repeat.
  EXPECT_EQ(taser_doc["flags"]["repeat_location"]["count"].GetInt(), 1);
  EXPECT_EQ(taser_doc["flags"]["repeat_location"]["ids"][0].GetUint64(), id);

  // Assign NA22; assigning it elsewhere needs force and is a multiple deployment.
  const std::string base = "/api/v1/incidents/" + std::to_string(id);
  const std::string base2 = "/api/v1/incidents/" + std::to_string(id2);
  auto a = s.post(base + "/assign", R"({"unit":"NA22"})");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_STREQ(parse_json(a.body)["status"].GetString(), "assigned");
  EXPECT_EQ(s.unit_status("NA22"), "assigned");
  auto refused = s.post(base2 + "/assign", R"({"unit":"NA22"})");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(error_code(refused), "conflict");
  auto forced = s.post(base2 + "/assign", R"({"unit":"NA22","force":true})");
  ASSERT_EQ(forced.status, 200) << forced.body;
  EXPECT_TRUE(parse_json(forced.body)["assignments"][0]["multiple_deployment"].GetBool());
  EXPECT_EQ(s.post(base + "/assign", R"({"unit":"NOPE"})").status, 404);
  EXPECT_EQ(s.post(base + "/assign", R"({"unit":"NA21","force":"yes"})").status, 400);

  // En route by the dispatcher, then on scene from NA22's own pings, 3 minutes later.
  ASSERT_EQ(s.post(base + "/events", R"({"unit":"NA22","kind":"en_route"})").status, 200);
  EXPECT_EQ(s.unit_status("NA22"), "en_route");
  s.clock().advance(180 * kSec);
  s.move("NA22", geo::geodesic_destination(kCentre, 0, 100));  // 100 m: not yet
  EXPECT_STREQ(parse_json(s.get(base).body)["status"].GetString(), "assigned");
  s.move("NA22", geo::geodesic_destination(kCentre, 0, 40));  // within 75 m
  auto on = parse_json(s.get(base).body);
  EXPECT_STREQ(on["status"].GetString(), "on_scene");
  EXPECT_TRUE(on["assignments"][0]["auto_on_scene"].GetBool());
  EXPECT_NEAR(on["response_s"].GetDouble(), 179.0, 0.01);  // the fix was taken 1 s before the clock
  EXPECT_EQ(s.unit_status("NA22"), "on_scene");

  // NA23 drives there without being assigned: self-deployed.
  s.move("NA23", geo::geodesic_destination(kCentre, 180, 20));
  auto self = parse_json(s.get(base).body);
  ASSERT_EQ(self["assignments"].Size(), 2u);
  EXPECT_STREQ(self["assignments"][1]["unit"].GetString(), "NA23");
  EXPECT_TRUE(self["assignments"][1]["self_deployed"].GetBool());

  // Reports from a device token only for its own unit.
  auto dev = s.token(Role::device, "AVL-NA23");
  EXPECT_EQ(s.post(base + "/events", R"({"unit":"NA22","kind":"cleared"})", dev).status, 403);
  EXPECT_EQ(s.post(base + "/events", R"({"unit":"NA23","kind":"cleared"})", dev).status, 200);
  EXPECT_EQ(s.unit_status("NA23"), "available");
  EXPECT_EQ(s.post(base + "/events", R"({"unit":"NA23","kind":"sideways"})").status, 400);

  // Close: NA22 goes back to its other incident (it is still deployed there).
  auto closed = s.post(base + "/close", "");
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_STREQ(parse_json(closed.body)["status"].GetString(), "closed");
  EXPECT_EQ(s.unit_status("NA22"), "assigned");
  EXPECT_EQ(s.post(base + "/close", "").status, 409);
  EXPECT_EQ(s.get("/api/v1/incidents/999").status, 404);
  EXPECT_EQ(s.get("/api/v1/incidents/abc").status, 404);

  auto open = parse_json(s.get("/api/v1/incidents?status=active").body);
  ASSERT_EQ(open["incidents"].Size(), 1u);
  EXPECT_EQ(open["incidents"][0]["id"].GetUint64(), id2);
  EXPECT_EQ(parse_json(s.get("/api/v1/incidents?status=closed").body)["incidents"].Size(), 1u);
  EXPECT_EQ(s.get("/api/v1/incidents?status=sideways").status, 400);

  // Everything above is in the event log: a restart rebuilds the same picture.
  auto before = s.get("/api/v1/incidents").body;
  auto alerts_before = s.get("/api/v1/alerts?active=false").body;
  s.restart();
  EXPECT_EQ(s.get("/api/v1/incidents").body, before);
  EXPECT_EQ(s.get("/api/v1/alerts?active=false").body, alerts_before);
  EXPECT_EQ(s.unit_status("NA22"), "assigned");
  auto next = s.post("/api/v1/incidents", Dispatch::incident_body(3, kCentre));
  ASSERT_EQ(next.status, 201);
  EXPECT_EQ(parse_json(next.body)["id"].GetUint64(), id2 + 1);  // ids continue after a restart
}

TEST(Dispatch, PredictedBreachAndBreachAlerts) {
  Dispatch s;
  // 20 km away: 20000 / 11 = 1818 s, beyond the 900 s of a grade 1 urban target.
  s.unit_at("FAR1", 45, 20000);
  auto created = s.post("/api/v1/incidents", Dispatch::incident_body(1, kCentre));
  ASSERT_EQ(created.status, 201) << created.body;
  auto inc = parse_json(created.body);
  EXPECT_TRUE(inc["breach_predicted"].GetBool());
  auto alerts = parse_json(s.get("/api/v1/alerts").body);
  ASSERT_EQ(alerts["alerts"].Size(), 1u);
  const auto& a = alerts["alerts"][0];
  EXPECT_STREQ(a["kind"].GetString(), "predicted_breach");
  EXPECT_EQ(a["incident"].GetUint64(), inc["id"].GetUint64());
  EXPECT_NEAR(a["eta_s"].GetDouble(), 20000 / 11.0, 1.0);
  EXPECT_DOUBLE_EQ(a["time_left_s"].GetDouble(), 900.0);
  // Grade 2 (60 min) is reachable: no alert.
  auto g2 = parse_json(s.post("/api/v1/incidents", Dispatch::incident_body(2, kCentre)).body);
  EXPECT_FALSE(g2["breach_predicted"].GetBool());
  // 15 minutes later with nobody there, the target passes: a breach (the timer ticks every second).
  s.clock().advance(15 * 60 * kSec + 1);
  s.move("FAR1", geo::geodesic_destination(kCentre, 45, 20000));  // still reporting: its fix stays fresh
  std::string kinds;
  for (int i = 0; i < 100 && kinds.rfind("breach,", 0) != 0; ++i) {  // newest first
    std::this_thread::sleep_for(50ms);
    kinds.clear();
    auto doc = parse_json(s.get("/api/v1/alerts").body);
    for (const auto& x : doc["alerts"].GetArray()) kinds += std::string(x["kind"].GetString()) + ",";
  }
  EXPECT_EQ(kinds, "breach,predicted_breach,");  // and none for the grade 2 FAR1 can still reach
  EXPECT_TRUE(
      parse_json(s.get("/api/v1/incidents/" + std::to_string(inc["id"].GetUint64())).body)["breached"].GetBool());
}

TEST(Dispatch, FlaggedLocationsAndOfficerEmergency) {
  Dispatch s;
  s.unit_at("NA21", 90, 300);
  s.unit_at("NA22", 270, 600);
  s.unit_at("NA23", 0, 900, R"({"type":"car","status":"unavailable"})");
  auto loc =
      s.post("/api/v1/locations",
             R"({"lat":52.6345,"lon":-1.1352,"radius_m":100,"flags":["vulnerable"],"note":"carer visits daily"})");
  ASSERT_EQ(loc.status, 201) << loc.body;
  EXPECT_EQ(s.post("/api/v1/locations", R"({"lat":52.6,"lon":-1.1,"radius_m":-1,"flags":["x"]})").status, 400);
  EXPECT_EQ(s.post("/api/v1/locations", R"({"lat":52.6,"lon":-1.1,"radius_m":10})").status, 400);
  auto inside = parse_json(
      s.post("/api/v1/incidents", Dispatch::incident_body(2, geo::geodesic_destination(kCentre, 10, 90))).body);
  ASSERT_EQ(inside["flags"]["locations"].Size(), 1u);
  EXPECT_STREQ(inside["flags"]["locations"][0]["flags"][0].GetString(), "vulnerable");
  EXPECT_STREQ(inside["flags"]["locations"][0]["note"].GetString(), "carer visits daily");
  auto outside = parse_json(
      s.post("/api/v1/incidents", Dispatch::incident_body(2, geo::geodesic_destination(kCentre, 10, 110))).body);
  EXPECT_EQ(outside["flags"]["locations"].Size(), 0u);

  // NA21 presses the emergency button: every dispatcher sees it with the nearest available units.
  s.move("NA21", geo::geodesic_destination(kCentre, 90, 300), /*emergency=*/true);
  auto alerts = parse_json(s.get("/api/v1/alerts").body);
  const rapidjson::Value* em = nullptr;
  for (const auto& a : alerts["alerts"].GetArray())
    if (std::string(a["kind"].GetString()) == "officer_emergency") em = &a;
  ASSERT_NE(em, nullptr);
  EXPECT_STREQ((*em)["unit"].GetString(), "NA21");
  EXPECT_EQ(rec_units((*em)["nearest"]), (std::vector<std::string>{"NA22"}));  // NA23 unavailable
  double d = geo::geodesic_distance_m(geo::geodesic_destination(kCentre, 90, 300),
                                      geo::geodesic_destination(kCentre, 270, 600));
  EXPECT_NEAR((*em)["nearest"][0]["distance_m"].GetDouble(), d, 0.1);
  // Raised by the API for a unit whose officer called it in by voice.
  auto api_em = s.post("/api/v1/units/NA22/emergency", "");
  ASSERT_EQ(api_em.status, 200) << api_em.body;
  EXPECT_STREQ(parse_json(api_em.body)["unit"].GetString(), "NA22");
  EXPECT_EQ(s.post("/api/v1/units/NOPE/emergency", "").status, 404);
}

TEST(Dispatch, GradeOneTargetIsRuralWhereTheAreaSaysSo) {
  Dispatch s;
  // A 2 km square around the centre marked rural; elsewhere no area says anything.
  auto sw = geo::geodesic_destination(geo::geodesic_destination(kCentre, 180, 1000), 270, 1000);
  auto ne = geo::geodesic_destination(geo::geodesic_destination(kCentre, 0, 1000), 90, 1000);
  char ring[512];
  std::snprintf(ring, sizeof ring, "[[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f]]", sw.lon, sw.lat,
                ne.lon, sw.lat, ne.lon, ne.lat, sw.lon, ne.lat, sw.lon, sw.lat);
  std::string path = s.data_dir() + "/areas.geojson";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(
        f,
        R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"R1","name":"Fields","urban":false},"geometry":{"type":"Polygon","coordinates":[%s]}}]})",
        ring);
    std::fclose(f);
  }
  ASSERT_EQ(s.app().load_areas_file(path, "neighbourhood"), 1u);
  auto rural = parse_json(s.post("/api/v1/incidents", Dispatch::incident_body(1, kCentre)).body);
  EXPECT_FALSE(rural["urban"].GetBool());
  EXPECT_STREQ(rural["target"].GetString(), "2026-11-22T10:20:00.000Z");
  auto urban = parse_json(
      s.post("/api/v1/incidents", Dispatch::incident_body(1, geo::geodesic_destination(kCentre, 0, 3000))).body);
  EXPECT_TRUE(urban["urban"].GetBool());
  EXPECT_STREQ(urban["target"].GetString(), "2026-11-22T10:15:00.000Z");
}

TEST(Dispatch, DevicesReportStatusForTheirOwnUnitOnly) {
  Dispatch s;
  s.unit_at("NA21", 0, 100);
  s.unit_at("NA22", 0, 200);
  auto dev = s.token(Role::device, "AVL-NA21");
  auto own = s.post("/api/v1/units/NA21/status", R"({"status":"unavailable"})", dev);
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(s.unit_status("NA21"), "unavailable");
  auto other = s.post("/api/v1/units/NA22/status", R"({"status":"unavailable"})", dev);
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(s.unit_status("NA22"), "available");
}

TEST(Dispatch, RolesAndBadInput) {
  Dispatch s;
  auto sergeant = s.token(Role::sergeant);
  EXPECT_EQ(s.post("/api/v1/incidents", Dispatch::incident_body(1, kCentre), s.gateway).status, 403);
  EXPECT_EQ(s.post("/api/v1/incidents", Dispatch::incident_body(1, kCentre), sergeant).status, 403);
  EXPECT_EQ(s.request("POST", "/api/v1/incidents", Dispatch::incident_body(1, kCentre)).status, 401);
  EXPECT_EQ(s.request("GET", "/api/v1/incidents", {}, sergeant).status, 200);
  for (
      std::string bad :
      {R"({"grade":4,"type":"x","lat":52.6,"lon":-1.1})", R"({"grade":1,"lat":52.6,"lon":-1.1})",
       R"({"grade":1,"type":"x","lat":95,"lon":-1.1})", R"({"grade":1,"type":"x"})",
       R"({"grade":1,"type":"x","lat":52.6,"lon":-1.1,"required_skills":"afo"})",
       R"({"grade":3,"type":"x","lat":52.6,"lon":-1.1,"appointment":{"from":"2026-11-22T12:00:00Z","to":"2026-11-22T11:00:00Z"}})",
       "[]", "nope"}) {
    auto r = s.post("/api/v1/incidents", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_EQ(error_code(r), "bad_request") << bad;
  }
  auto g3 = s.post(
      "/api/v1/incidents",
      R"({"grade":3,"type":"burglary","lat":52.6,"lon":-1.1,"appointment":{"from":"2026-11-22T12:00:00Z","to":1795352400000}})");
  ASSERT_EQ(g3.status, 201) << g3.body;
  auto d = parse_json(g3.body);
  EXPECT_STREQ(d["target"].GetString(), "2026-11-22T13:00:00.000Z");
  EXPECT_STREQ(d["appointment"]["from"].GetString(), "2026-11-22T12:00:00.000Z");
}

// With `roads.osm_file`, ETAs are drive times on the road network (method
// `road`), ranked by them. Expected times come from an A* route computed here on
// a graph of the same extract (the server answers with one backward search).
TEST(Dispatch, RoadNetworkGivesDriveTimeEtas) {
  const std::string pbf = test::data_dir() + "/osm/rutland-latest.osm.pbf";
  Dispatch s(TestServer::Overrides{{"roads.osm_file", pbf}});
  const geo::LonLat oakham{-0.7296, 52.6706};
  const std::vector<std::pair<std::string, std::pair<double, double>>> placed = {
      {"OK1", {20, 1500}}, {"OK2", {110, 2500}}, {"OK3", {200, 900}}, {"OK4", {290, 3000}}};
  for (const auto& [id, where] : placed) s.unit_at(id, where.first, where.second, R"({"type":"car"})", oakham);
  auto created = s.post("/api/v1/incidents", Dispatch::incident_body(2, oakham));
  ASSERT_EQ(created.status, 201) << created.body;
  auto doc = parse_json(created.body);
  auto recs = doc["recommendations"].GetArray();
  ASSERT_EQ(recs.Size(), 4u);

  auto proj = *geo::Projection::create("EPSG:27700");
  auto graph = geo::load_osm_roads(pbf, proj);
  ASSERT_TRUE(graph) << graph.error();
  // A unit with no road within 500 m keeps the straight-line ETA (11 m/s).
  std::map<std::string, std::pair<std::string, double>> expect;
  size_t on_roads = 0;
  for (const auto& [id, where] : placed) {
    const geo::LonLat at = geo::geodesic_destination(oakham, where.first, where.second);
    auto r = graph->route(proj.forward(at), proj.forward(oakham));
    if (r) {
      expect[id] = {"road", r->time_s};
      ++on_roads;
    } else {
      ASSERT_EQ(r.error(), geo::RouteError::from_off_network) << id;
      expect[id] = {"straight_line", geo::geodesic_distance_m(at, oakham) / 11.0};
    }
  }
  ASSERT_GE(on_roads, 3u);
  double previous = 0;
  for (const auto& r : recs) {
    const std::string id = r["unit"].GetString();
    EXPECT_EQ(r["method"].GetString(), expect.at(id).first) << id;
    EXPECT_NEAR(r["eta_s"].GetDouble(), expect.at(id).second, 0.5) << id;
    EXPECT_GE(r["eta_s"].GetDouble(), previous) << "ranked by ETA";
    previous = r["eta_s"].GetDouble();
  }
}

// A configured road network that cannot be read stops the start with a reason.
TEST(Dispatch, UnreadableRoadNetworkStopsTheStart) {
  try {
    Dispatch s(TestServer::Overrides{{"roads.osm_file", "/nonexistent/roads.osm.pbf"}});
    ADD_FAILURE() << "the server started without its road network";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("roads.osm_file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pm::itest
