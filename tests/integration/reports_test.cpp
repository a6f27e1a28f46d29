// Management reports on the real server (SPEC 7, issue 7): incidents,
// assignments and arrivals made through the dispatch API and pings, a drive
// sent through ingest, a rota through POST /api/v1/rota; then each report's
// JSON and CSV checked against figures this test works out itself from what
// it sent (median and nearest-rank p90 of the response times it caused, legs
// of the drive by Karney's geodesic, hours of the day it used). Roles, bad
// parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "geo/geodesic.hpp"
#include "server/core/time_format.hpp"
#include "tests/integration/harness.hpp"

namespace pm::itest {
namespace {

constexpr EpochMs kSec = 1000, kMin = 60 * kSec;
const geo::LonLat kCentre{-1.1352, 52.6345};  // Leicester clock tower

EpochMs at(const char* iso) { return *parse_iso8601(iso); }

geo::LonLat place(int i) { return geo::geodesic_destination(kCentre, 90, 1000.0 * i); }  // incidents 1 km apart

struct Reports : TestServer {
  explicit Reports(Overrides config = {}) : TestServer(std::move(config)) {
    admin = token(Role::admin);
    dispatcher = token(Role::dispatcher);
    manager = token(Role::manager);
    gateway = token(Role::gateway);
    for (const char* u : {"NA21", "NA22", "NA23", "NA24"}) {
      put_unit(u);
      put_device(std::string("AVL-") + u, u);
    }
  }
  HttpResponse post(const std::string& target, const std::string& body) {
    return request("POST", target, body, dispatcher);
  }
  HttpResponse get(const std::string& target, const std::string& tok = {}) {
    return request("GET", target, {}, tok.empty() ? manager : tok);
  }
  uint64_t create(int grade, geo::LonLat p) {
    char buf[160];
    std::snprintf(buf, sizeof buf, R"({"grade":%d,"type":"assault","lat":%.9f,"lon":%.9f})", grade, p.lat, p.lon);
    auto r = post("/api/v1/incidents", buf);
    EXPECT_EQ(r.status, 201) << r.body;
    return parse_json(r.body)["id"].GetUint64();
  }
  void assign(uint64_t id, const std::string& unit, bool force = false) {
    auto r = post("/api/v1/incidents/" + std::to_string(id) + "/assign",
                  R"({"unit":")" + unit + R"(","force":)" + (force ? "true" : "false") + "}");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  void pings(const std::vector<Ping>& ps) {
    auto r = post_pings(gateway, pings_json(ps));
    ASSERT_EQ(r.status, 202) << r.body;
    ASSERT_EQ(ingest_answer(r).accepted, static_cast<int>(ps.size())) << r.body;
  }
  std::string admin, dispatcher, manager, gateway;
};

// The nearest-rank percentile and the median, written out again here.
double nearest_rank(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(v.size()))) - 1];
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The day, all on Sunday 22 November 2026 (GMT, so local time = UTC):
//   08:00 I1 grade 1, NA21 assigned, on scene (reported) 08:05: 300 s, met.
//   08:10 I2 grade 1, NA22 assigned, NA21 sent too (forced: it is on scene at
//         I1); NA22's fix at I2 at 08:30: 1200 s, breach (target 900 s).
//   08:40 I3 grade 2; NA23, never assigned, arrives at 08:50: self-deployed, 600 s.
//   09:00 I4 grade 1, closed at 09:02 with nobody there: cancelled.
//   09:15 I5 grade 2, never attended: at 11:00 a breach (6300 s, target 3600 s).
//   10:55 I6 grade 1, open at 11:00: pending.
//   09:00-09:13 NA24 drives (mileage); NA25 is on the rota 07:00-14:00 and sends nothing.
struct Day {
  uint64_t i1, i2, i3, i4, i5, i6;
  std::vector<Ping> drive;
};

Day run_day(Reports& s) {
  Day d;
  auto csv = s.request("POST", "/api/v1/rota",
                       "officer,issi,unit,start,end,skills\n"
                       "PC 5 Idle,,NA25,2026-11-22T07:00:00Z,2026-11-22T14:00:00Z,\n",
                       s.admin);
  EXPECT_EQ(csv.status, 200) << csv.body;
  s.clock().set(at("2026-11-22T08:00:00Z"));
  d.i1 = s.create(1, place(1));
  s.assign(d.i1, "NA21");
  s.clock().set(at("2026-11-22T08:05:00Z"));
  EXPECT_EQ(s.post("/api/v1/incidents/" + std::to_string(d.i1) + "/events", R"({"unit":"NA21","kind":"on_scene"})")
                .status,
            200);
  s.clock().set(at("2026-11-22T08:10:00Z"));
  d.i2 = s.create(1, place(2));
  s.assign(d.i2, "NA22");
  s.assign(d.i2, "NA21", true);
  s.clock().set(at("2026-11-22T08:30:01Z"));
  s.pings({{"AVL-NA22", at("2026-11-22T08:30:00Z"), place(2).lat, place(2).lon, {}, {}}});
  s.clock().set(at("2026-11-22T08:40:00Z"));
  d.i3 = s.create(2, place(3));
  s.clock().set(at("2026-11-22T08:50:01Z"));
  s.pings({{"AVL-NA23", at("2026-11-22T08:50:00Z"), place(3).lat, place(3).lon, {}, {}}});
  s.clock().set(at("2026-11-22T09:00:00Z"));
  d.i4 = s.create(1, place(4));
  s.clock().set(at("2026-11-22T09:02:00Z"));
  EXPECT_EQ(s.post("/api/v1/incidents/" + std::to_string(d.i4) + "/close", "").status, 200);
  // NA24, 5 km south of everything: 20 legs north of ~100 m every 10 s, 30
  // fixes parked with ~3 m of jitter (290 s), 20 legs east of ~100 m.
  const geo::LonLat start = geo::geodesic_destination(kCentre, 180, 5000);
  EpochMs t = at("2026-11-22T09:00:00Z");
  for (int i = 0; i <= 20; ++i, t += 10 * kSec) d.drive.push_back({"AVL-NA24", t, start.lat + 0.0009 * i, start.lon, {}, {}});
  const double plat = start.lat + 0.0009 * 21;
  for (int i = 0; i < 30; ++i, t += 10 * kSec)
    d.drive.push_back({"AVL-NA24", t, plat + (i % 2 ? 0.00003 : -0.00003), start.lon, {}, {}});
  for (int i = 1; i <= 20; ++i, t += 10 * kSec) d.drive.push_back({"AVL-NA24", t, plat, start.lon + 0.0015 * i, {}, {}});
  s.clock().set(t);
  s.pings(d.drive);
  s.clock().set(at("2026-11-22T09:15:00Z"));
  d.i5 = s.create(2, place(5));
  s.clock().set(at("2026-11-22T10:55:00Z"));
  d.i6 = s.create(1, place(6));
  s.clock().set(at("2026-11-22T11:00:00Z"));
  return d;
}

const std::string kWindow = "from=2026-11-22T07:00:00Z&to=2026-11-22T14:00:00Z";

std::vector<std::string> csv_lines(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t e = body.find("\r\n", pos);
    EXPECT_NE(e, std::string::npos) << "every CSV line ends with CRLF";
    if (e == std::string::npos) break;
    out.push_back(body.substr(pos, e - pos));
    pos = e + 2;
  }
  return out;
}

TEST(Reports, ResponseTimesFromTheDispatchLog) {
  Reports s;
  Day d = run_day(s);
  auto r = s.get("/api/v1/reports/response-times?" + kWindow);
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  EXPECT_STREQ(doc["generated"].GetString(), "2026-11-22T11:00:00.000Z");
  const auto& g1 = doc["grades"][0];
  EXPECT_EQ(g1["grade"].GetInt(), 1);
  EXPECT_EQ(g1["incidents"].GetInt(), 4);  // I1, I2, I4, I6
  EXPECT_EQ(g1["attended"].GetInt(), 2);
  EXPECT_EQ(g1["cancelled"].GetInt(), 1);
  EXPECT_EQ(g1["pending"].GetInt(), 1);
  const std::vector<double> g1_times = {300, 1200};
  EXPECT_DOUBLE_EQ(g1["median_s"].GetDouble(), median(g1_times));
  EXPECT_DOUBLE_EQ(g1["p90_s"].GetDouble(), nearest_rank(g1_times, 90));
  EXPECT_DOUBLE_EQ(g1["share_within_target"].GetDouble(), 1.0 / 2.0);
  ASSERT_EQ(g1["breaches"].Size(), 1u);
  EXPECT_EQ(g1["breaches"][0]["incident"].GetUint64(), d.i2);
  EXPECT_STREQ(g1["breaches"][0]["arrived"].GetString(), "2026-11-22T08:30:00.000Z");
  EXPECT_STREQ(g1["breaches"][0]["target"].GetString(), "2026-11-22T08:25:00.000Z");
  EXPECT_DOUBLE_EQ(g1["breaches"][0]["seconds"].GetDouble(), 1200);

  const auto& g2 = doc["grades"][1];
  EXPECT_EQ(g2["incidents"].GetInt(), 2);  // I3, I5
  EXPECT_EQ(g2["attended"].GetInt(), 1);
  EXPECT_EQ(g2["judged"].GetInt(), 2);
  EXPECT_DOUBLE_EQ(g2["median_s"].GetDouble(), 600);
  EXPECT_DOUBLE_EQ(g2["share_within_target"].GetDouble(), 0.5);
  ASSERT_EQ(g2["breaches"].Size(), 1u);
  EXPECT_EQ(g2["breaches"][0]["incident"].GetUint64(), d.i5);
  EXPECT_TRUE(g2["breaches"][0]["arrived"].IsNull());
  EXPECT_DOUBLE_EQ(g2["breaches"][0]["seconds"].GetDouble(), (at("2026-11-22T11:00:00Z") - at("2026-11-22T09:15:00Z")) / 1000.0);
  EXPECT_EQ(doc["grades"][2]["incidents"].GetInt(), 0);
  EXPECT_TRUE(doc["grades"][2]["median_s"].IsNull());

  auto csv = s.get("/api/v1/reports/response-times?format=csv&" + kWindow);
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.headers["content-type"], "text/csv; charset=utf-8");
  EXPECT_EQ(csv.headers["content-disposition"], "attachment; filename=\"response-times.csv\"");
  auto lines = csv_lines(csv.body);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "grade,incidents,attended,cancelled,pending,met,judged,median_s,p90_s,share_within_target,breaches");
  EXPECT_EQ(lines[1], "1,4,2,1,1,1,2,750,1200,0.5,1");
  EXPECT_EQ(lines[2], "2,2,1,0,0,1,2,600,600,0.5,1");
  EXPECT_EQ(lines[3], "3,0,0,0,0,0,0,,,,0");
  auto breaches = csv_lines(s.get("/api/v1/reports/response-times?format=csv&rows=breaches&" + kWindow).body);
  ASSERT_EQ(breaches.size(), 3u);
  EXPECT_EQ(breaches[1], std::to_string(d.i2) +
                             ",1,2026-11-22T08:10:00.000Z,2026-11-22T08:25:00.000Z,2026-11-22T08:30:00.000Z,false,1200");
  EXPECT_EQ(breaches[2], std::to_string(d.i5) + ",2,2026-11-22T09:15:00.000Z,2026-11-22T10:15:00.000Z,,false,6300");

  // A window that ends before I2 was created sees I1 only.
  auto early = parse_json(s.get("/api/v1/reports/response-times?from=2026-11-22T07:00:00Z&to=2026-11-22T08:10:00Z").body);
  EXPECT_EQ(early["grades"][0]["incidents"].GetInt(), 1);
  EXPECT_DOUBLE_EQ(early["grades"][0]["median_s"].GetDouble(), 300);
}

TEST(Reports, DeploymentsPerShift) {
  Reports s;
  Day d = run_day(s);
  auto r = s.get("/api/v1/reports/deployments?" + kWindow);
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  ASSERT_EQ(doc["shifts"].Size(), 1u);
  const auto& sh = doc["shifts"][0];
  EXPECT_STREQ(sh["label"].GetString(), "2026-11-22 07:00");
  EXPECT_EQ(sh["incidents"].GetInt(), 6);
  EXPECT_EQ(sh["deployments"].GetInt(), 4);  // NA21 to I1; NA22 and NA21 to I2; NA23 to I3
  EXPECT_EQ(sh["multi_unit_incidents"].GetInt(), 1);
  EXPECT_EQ(sh["forced"].GetInt(), 1);
  EXPECT_EQ(sh["self_deployed"].GetInt(), 1);
  const auto& listed = sh["incidents_listed"];
  ASSERT_EQ(listed.Size(), 2u);
  EXPECT_EQ(listed[0]["incident"].GetUint64(), d.i2);
  ASSERT_EQ(listed[0]["units"].Size(), 2u);
  EXPECT_STREQ(listed[0]["units"][0]["how"].GetString(), "dispatched");
  EXPECT_STREQ(listed[0]["units"][1]["unit"].GetString(), "NA21");
  EXPECT_STREQ(listed[0]["units"][1]["how"].GetString(), "forced");
  EXPECT_EQ(listed[1]["incident"].GetUint64(), d.i3);
  EXPECT_STREQ(listed[1]["units"][0]["unit"].GetString(), "NA23");
  EXPECT_STREQ(listed[1]["units"][0]["how"].GetString(), "self");
  EXPECT_STREQ(listed[1]["units"][0]["at"].GetString(), "2026-11-22T08:50:00.000Z");

  auto lines = csv_lines(s.get("/api/v1/reports/deployments?format=csv&" + kWindow).body);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "2026-11-22 07:00,2026-11-22T07:00:00.000Z,2026-11-22T14:00:00.000Z,6,4,1,1,1");
  auto rows = csv_lines(s.get("/api/v1/reports/deployments?format=csv&rows=deployments&" + kWindow).body);
  ASSERT_EQ(rows.size(), 4u);  // header, I2 x 2, I3
  EXPECT_EQ(rows[3], "2026-11-22 07:00," + std::to_string(d.i3) +
                         ",2,2026-11-22T08:40:00.000Z,NA23,2026-11-22T08:50:00.000Z,self");
}

TEST(Reports, MileagePerUnitPerShift) {
  Reports s;
  Day d = run_day(s);
  // Trip 1: fixes 0..21 (into the first parked fix); trip 2: the last parked fix on.
  double want = 0;
  auto leg = [&](size_t k) {
    return geo::geodesic_distance_m({d.drive[k].lon, d.drive[k].lat}, {d.drive[k + 1].lon, d.drive[k + 1].lat});
  };
  for (size_t k = 0; k < 21; ++k) want += leg(k);
  for (size_t k = 50; k + 1 < d.drive.size(); ++k) want += leg(k);
  const double want_km = want / 1000;
  const double moving_min = (21 * 10 + 20 * 10) / 60.0;
  auto r = s.get("/api/v1/reports/mileage?" + kWindow);
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  std::map<std::string, const rapidjson::Value*> rows;
  for (const auto& row : doc["rows"].GetArray()) rows[row["unit"].GetString()] = &row;
  // NA21 sent nothing and is not on the rota; NA22 and NA23 sent one fix each.
  EXPECT_EQ(rows.count("NA21"), 0u);
  ASSERT_EQ(rows.count("NA24"), 1u);
  const auto& na24 = *rows["NA24"];
  EXPECT_NEAR(na24["km"].GetDouble(), want_km, 0.002);
  EXPECT_EQ(na24["fixes"].GetInt(), static_cast<int>(d.drive.size()));
  EXPECT_EQ(na24["stops"].GetInt(), 1);
  EXPECT_NEAR(na24["moving_minutes"].GetDouble(), moving_min, 0.001);
  EXPECT_TRUE(na24["barely_used"].GetBool());  // ~4 km < 5 km
  EXPECT_STREQ(na24["shift"]["label"].GetString(), "2026-11-22 07:00");
  ASSERT_EQ(rows.count("NA25"), 1u);
  EXPECT_TRUE((*rows["NA25"])["on_rota"].GetBool());
  EXPECT_EQ((*rows["NA25"])["fixes"].GetInt(), 0);
  EXPECT_TRUE((*rows["NA25"])["barely_used"].GetBool());
  EXPECT_EQ((*rows["NA22"])["fixes"].GetInt(), 1);
  EXPECT_EQ(doc["barely_used"].Size(), 4u);  // NA22, NA23, NA24, NA25

  // A lower threshold: NA24's ~4 km is enough.
  auto low = parse_json(s.get("/api/v1/reports/mileage?barely_used_km=3&" + kWindow).body);
  EXPECT_EQ(low["barely_used"].Size(), 3u);
  auto lines = csv_lines(s.get("/api/v1/reports/mileage?format=csv&" + kWindow).body);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "unit,shift,start,end,km,fixes,stops,moving_minutes,on_rota,barely_used");
  char want_line[200];
  std::snprintf(want_line, sizeof want_line, "NA24,2026-11-22 07:00,2026-11-22T07:00:00.000Z,2026-11-22T14:00:00.000Z,");
  EXPECT_EQ(lines[3].rfind(want_line, 0), 0u) << lines[3];
  EXPECT_NE(lines[3].find(",71,1,6.833,false,true"), std::string::npos) << lines[3];
}

// The stop rule is the tracks' (replay.stop_*): NA24 parks for 290 s, so with
// stops of at least 300 s there is none and every leg is mileage.
TEST(Reports, MileageFollowsTheConfiguredStopRule) {
  Reports s(Reports::Overrides{{"replay.stop_min_s", "300"}});
  Day d = run_day(s);
  double all_legs = 0;
  for (size_t k = 0; k + 1 < d.drive.size(); ++k)
    all_legs += geo::geodesic_distance_m({d.drive[k].lon, d.drive[k].lat}, {d.drive[k + 1].lon, d.drive[k + 1].lat});
  auto doc = parse_json(s.get("/api/v1/reports/mileage?" + kWindow).body);
  EXPECT_DOUBLE_EQ(doc["stop_min_s"].GetDouble(), 300);
  EXPECT_DOUBLE_EQ(doc["stop_radius_m"].GetDouble(), 30);
  const rapidjson::Value* na24 = nullptr;
  for (const auto& row : doc["rows"].GetArray())
    if (std::string(row["unit"].GetString()) == "NA24") na24 = &row;
  ASSERT_NE(na24, nullptr);
  EXPECT_EQ((*na24)["stops"].GetInt(), 0);
  EXPECT_NEAR((*na24)["km"].GetDouble(), all_legs / 1000, 0.002);
}

// The real GPSBabel drive (16.7 km near Wokingham, data README) as NA30's
// fixes, moved to 08:00 on the test's day. The stop rule of docs/api.md is applied here
// again, straightforwardly, with Karney's geodesic for distances.
TEST(Reports, MileageOfTheRealGpxDrive) {
  Reports s;
  s.put_unit("NA30");
  s.put_device("AVL-NA30", "NA30");
  const auto& gpx = gpx_track();
  ASSERT_GT(gpx.size(), 900u);
  // The recording is two sessions 16 h apart (2010-05-28 and -29): the second
  // is moved to start 10 minutes after the first ended, so both fit one shift.
  EpochMs shift_by = at("2026-11-22T08:00:00Z") - gpx.front().t;
  struct P {
    EpochMs t;
    double lat, lon;
  };
  std::vector<P> pts;  // as stored: 1e-7 degrees, one fix per time (the first)
  std::vector<Ping> ps;
  for (const auto& g : gpx) {
    if (!pts.empty() && g.t + shift_by - pts.back().t > 3600 * kSec) shift_by = pts.back().t + 10 * kMin - g.t;
    if (!pts.empty() && g.t + shift_by <= pts.back().t) continue;
    pts.push_back({g.t + shift_by, std::round(g.lat * 1e7) / 1e7, std::round(g.lon * 1e7) / 1e7});
    ps.push_back({"AVL-NA30", pts.back().t, pts.back().lat, pts.back().lon, {}, {}});
  }
  ASSERT_LT(pts.back().t, at("2026-11-22T14:00:00Z"));
  s.clock().set(pts.back().t + kSec);
  for (size_t i = 0; i < ps.size(); i += 500)
    s.pings(std::vector<Ping>(ps.begin() + static_cast<long>(i), ps.begin() + static_cast<long>(std::min(ps.size(), i + 500))));
  auto dist = [&](size_t a, size_t b) { return geo::geodesic_distance_m({pts[a].lon, pts[a].lat}, {pts[b].lon, pts[b].lat}); };
  // Stops: from each fix, the longest run within 30 m of it; a stop when it lasts 120 s.
  std::vector<std::pair<size_t, size_t>> stops;
  for (size_t i = 0; i < pts.size();) {
    size_t j = i;
    while (j + 1 < pts.size() && dist(i, j + 1) <= 30) ++j;
    if (pts[j].t - pts[i].t >= 120 * kSec) {
      stops.emplace_back(i, j);
      i = j + 1;
    } else {
      ++i;
    }
  }
  double metres = 0;
  EpochMs moving = 0;
  size_t from = 0;
  auto trip = [&](size_t a, size_t b) {
    if (b <= a) return;
    for (size_t k = a; k < b; ++k) metres += dist(k, k + 1);
    moving += pts[b].t - pts[a].t;
  };
  for (auto [a, b] : stops) {
    trip(from, a);
    from = b;
  }
  trip(from, pts.size() - 1);
  auto doc = parse_json(s.get("/api/v1/reports/mileage?" + kWindow).body);
  const rapidjson::Value* row = nullptr;
  for (const auto& r : doc["rows"].GetArray())
    if (std::string(r["unit"].GetString()) == "NA30") row = &r;
  ASSERT_NE(row, nullptr);
  std::printf("[ gpx ] %zu fixes, %zu stops, %.3f km, %.1f moving minutes\n", pts.size(), stops.size(), metres / 1000,
              static_cast<double>(moving) / 60000.0);
  EXPECT_EQ((*row)["fixes"].GetInt(), static_cast<int>(pts.size()));
  EXPECT_EQ((*row)["stops"].GetInt(), static_cast<int>(stops.size()));
  EXPECT_NEAR((*row)["km"].GetDouble(), metres / 1000, 0.002);
  EXPECT_NEAR((*row)["moving_minutes"].GetDouble(), static_cast<double>(moving) / 60000.0, 0.001);
  // 164 of the 958 points repeat the second of the point before (a fix per
  // device and time is kept: the duplicate rule), which takes the README's
  // 16.7 km over all points down to about 12.6 km; the stops hide a little more.
  EXPECT_GT(metres, 12000);
  EXPECT_LT(metres, 12600);
  EXPECT_FALSE((*row)["barely_used"].GetBool());
}

TEST(Reports, DemandByHourOfWeek) {
  Reports s;
  run_day(s);
  // Sunday 22 November 2026, GMT: local hours are UTC hours.
  auto r = s.get("/api/v1/reports/demand?from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  const auto& sun = doc["profiles"]["sun_thu"];
  ASSERT_EQ(sun.Size(), 24u);
  // Hour 8: I1, I2 (grade 1), I3 (grade 2); on duty: NA22 and NA23 (fixes), NA25 (rota).
  EXPECT_EQ(sun[8]["grade1"].GetInt(), 2);
  EXPECT_EQ(sun[8]["grade2"].GetInt(), 1);
  EXPECT_EQ(sun[8]["slots"].GetInt(), 1);
  EXPECT_DOUBLE_EQ(sun[8]["incidents_per_day"].GetDouble(), 3);
  EXPECT_DOUBLE_EQ(sun[8]["units_on_duty"].GetDouble(), 3);
  // Hour 9: I4 (grade 1), I5 (grade 2); NA24 (fixes), NA25.
  EXPECT_EQ(sun[9]["incidents"].GetInt(), 2);
  EXPECT_DOUBLE_EQ(sun[9]["units_on_duty"].GetDouble(), 2);
  EXPECT_EQ(sun[10]["grade1"].GetInt(), 1);       // I6
  EXPECT_DOUBLE_EQ(sun[7]["units_on_duty"].GetDouble(), 1);   // NA25 only
  EXPECT_DOUBLE_EQ(sun[14]["units_on_duty"].GetDouble(), 0);  // the rota ends at 14:00
  EXPECT_EQ(doc["profiles"]["fri_sat"][8]["slots"].GetInt(), 0);
  ASSERT_EQ(doc["week"].Size(), 168u);
  EXPECT_STREQ(doc["week"][8]["day"].GetString(), "Sun");
  EXPECT_EQ(doc["week"][8]["incidents"].GetInt(), 3);

  auto lines = csv_lines(s.get("/api/v1/reports/demand?format=csv&from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z").body);
  ASSERT_EQ(lines.size(), 49u);
  EXPECT_EQ(lines[0], "profile,hour,slots,grade1,grade2,incidents,incidents_per_day,units_on_duty");
  EXPECT_EQ(lines[9], "sun_thu,8,1,2,1,3,3,3");
  EXPECT_EQ(lines[25 + 8], "fri_sat,8,0,0,0,0,0,0");
  auto week = csv_lines(
      s.get("/api/v1/reports/demand?format=csv&rows=week&from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z").body);
  ASSERT_EQ(week.size(), 169u);
  EXPECT_EQ(week[10], "Sun,9,1,1,1,2,2,2");
}

TEST(Reports, RolesAndBadParameters) {
  Reports s;
  const std::string base = "/api/v1/reports/";
  for (const char* which : {"response-times", "mileage", "deployments", "demand"}) {
    EXPECT_EQ(s.get(base + which).status, 200) << which;  // default: the last 7 days
    EXPECT_EQ(s.get(base + which, s.token(Role::sergeant)).status, 200) << which;
    EXPECT_EQ(s.get(base + which, s.admin).status, 200) << which;
    auto forbidden = s.get(base + which, s.dispatcher);
    EXPECT_EQ(forbidden.status, 403) << which;
    EXPECT_EQ(error_code(forbidden), "forbidden");
    EXPECT_EQ(s.get(base + which, s.gateway).status, 403) << which;
    EXPECT_EQ(s.get(base + which, s.token(Role::device, "AVL-NA21")).status, 403) << which;
    EXPECT_EQ(s.request("GET", base + which).status, 401) << which;
    EXPECT_EQ(s.request("POST", base + which, "", s.manager).status, 405) << which;
    for (const char* bad : {"from=yesterday", "from=2026-11-22T10:00:00Z&to=2026-11-22T09:00:00Z",
                            "from=2026-10-01T00:00:00Z&to=2026-11-22T00:00:00Z", "format=xml", "rows=nonsense"}) {
      auto r = s.get(base + which + "?" + bad);
      EXPECT_EQ(r.status, 400) << which << " " << bad;
      EXPECT_EQ(error_code(r), "bad_request") << which << " " << bad;
    }
  }
  EXPECT_EQ(s.get(base + "mileage?barely_used_km=-1").status, 400);
  EXPECT_EQ(s.get(base + "mileage?barely_used_km=5km").status, 400);
  EXPECT_EQ(s.get(base + "speeding").status, 404);
  auto page = s.metrics_page();
  EXPECT_GE(metric(page, "patrolmap_errors_total{code=\"bad_request\"}").value_or(0), 22);
}

}  // namespace
}  // namespace pm::itest
