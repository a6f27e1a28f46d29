// Patrol coverage on the real server (SPEC 5 and 7, issue 6): the coverage
// report and visit list over HTTP, live and from the store agreeing, CSV,
// roles and errors, the rebuild after a restart, and the unvisited-hot-spot
// alert. Expected figures are worked out by hand from the pings sent.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "server/core/time_format.hpp"
#include "tests/integration/harness.hpp"

namespace pm::itest {
namespace {

constexpr EpochMs kSec = 1000;
constexpr double kLat = 52.6345, kLon = -1.1352;  // Leicester clock tower
constexpr double kHalfLat = 0.00045, kHalfLon = 0.00074;  // about 100 m x 100 m
// H1 at the clock tower, H2 and H3 on the same parallel 0.015 and 0.03 degrees east.
constexpr double kH2Lon = kLon + 0.015, kH3Lon = kLon + 0.03;

std::string square(const std::string& id, double lat, double lon, const std::string& target = {}) {
  char buf[640];
  std::snprintf(buf, sizeof buf,
                R"({"type":"Feature","properties":{"id":"%s","name":"Spot %s","kind":"hotspot"%s},)"
                R"("geometry":{"type":"Polygon","coordinates":[[[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f]]]}})",
                id.c_str(), id.c_str(), target.empty() ? "" : (R"(,"target":)" + target).c_str(), lon - kHalfLon, lat - kHalfLat, lon + kHalfLon, lat - kHalfLat,
                lon + kHalfLon, lat + kHalfLat, lon - kHalfLon, lat + kHalfLat, lon - kHalfLon, lat - kHalfLat);
  return buf;
}

struct Coverage : TestServer {
  // Track chunks packed every second: the store answer is read from chunks
  // (with their stored x/y) once packed, from the unchunked tail before.
  Coverage()
      : TestServer({{"ingest.registration", "auto"}, {"coverage.alert_check_s", "1"}, {"store.track_chunk_s", "1"}}) {
    sergeant = token(Role::sergeant);
    gateway = token(Role::gateway);
    dispatcher = token(Role::dispatcher);
    // The areas arrive at 09:30, before the fixes below (from 09:40): live
    // accounting answers windows from the moment it has areas.
    clock().set(kNow - 30 * 60 * 1000);
    load_areas();
    clock().set(kNow);
  }
  void load_areas() {
    const std::string path = data_dir() + "/spots.geojson";
    std::ofstream(path) << R"({"type":"FeatureCollection","features":[)" << square("H1", kLat, kLon) << ","
                        << square("H2", kLat, kH2Lon, R"({"visits":2,"minutes":7,"max_gap_minutes":30})") << "," << square("H3", kLat, kH3Lon) << "]}";
    ASSERT_EQ(app().load_areas_file(path, "hotspot"), 3u);
  }
  HttpResponse get(const std::string& target, const std::string& tok = {}) {
    return request("GET", target, {}, tok.empty() ? sergeant : tok);
  }
  std::string sergeant, gateway, dispatcher;
};

// NA21 stands at the clock tower (inside H1) for 11 minutes, a fix every
// 5 s; NA22 drives east along the parallel through H2 with fixes either
// side of it but none inside, 0.002 degrees per 10 s.
const EpochMs kT0 = kNow - 20 * 60 * kSec;

void send_tracks(Coverage& s) {
  std::vector<Ping> ps;
  for (EpochMs t = kT0; t <= kT0 + 660 * kSec; t += 5 * kSec) ps.push_back({"NA21", t, kLat, kLon, {}, {}});
  for (int i = 0; i < 4; ++i)
    ps.push_back({"NA22", kT0 + 100 * kSec + i * 10 * kSec, kLat, kH2Lon - 0.003 + 0.002 * i, {}, {}});
  auto r = s.post_pings(s.gateway, pings_json(ps));
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(ingest_answer(r).accepted, static_cast<int>(ps.size())) << r.body;
}

const rapidjson::Value* area(const rapidjson::Document& d, const char* id) {
  for (const auto& a : d["areas"].GetArray())
    if (std::string(a["id"].GetString()) == id) return &a;
  return nullptr;
}

std::string window_query() {
  return "from=" + format_iso8601(kT0 - 60 * kSec) + "&to=" + format_iso8601(kT0 + 720 * kSec);
}

// Polls until `pred` holds (the accounting thread applies fixes shortly after commit).
template <class F>
bool eventually(F&& pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

TEST(CoverageApi, ReportCountsPresenceVisitsAndGapsByHand) {
  Coverage s;
  send_tracks(s);
  rapidjson::Document d;
  ASSERT_TRUE(eventually([&] {
    auto r = s.get("/api/v1/reports/coverage?kind=hotspot&" + window_query());
    if (r.status != 200) return false;
    d = parse_json(r.body);
    return area(d, "H1") && (*area(d, "H1"))["visits"].GetUint() == 1 && (*area(d, "H2"))["visits"].GetUint() == 1;
  })) << "accounting did not catch up";
  EXPECT_STREQ(d["source"].GetString(), "live");
  const auto& h1 = *area(d, "H1");
  // Stationary inside for 660 s: every segment counts whole.
  EXPECT_DOUBLE_EQ(h1["unit_seconds"].GetDouble(), 660);
  EXPECT_DOUBLE_EQ(h1["presence_seconds"].GetDouble(), 660);
  EXPECT_EQ(h1["koper_visits"].GetUint(), 1u);  // 660 s >= 600 s
  EXPECT_STREQ(h1["last_visit_end"].GetString(), format_iso8601(kT0 + 660 * kSec).c_str());
  EXPECT_DOUBLE_EQ(h1["longest_gap_seconds"].GetDouble(), 60);  // 60 s before and 60 s after
  // A hot spot without a target gets the default gap of SPEC 5 (120 minutes) and nothing else.
  ASSERT_TRUE(h1["target"].IsObject());
  EXPECT_DOUBLE_EQ(h1["target"]["max_gap_minutes"].GetDouble(), 120);
  EXPECT_EQ(h1["target"]["visits"].GetUint(), 0u);
  EXPECT_TRUE(h1["target_met"].GetBool());
  // Crossed between two fixes: 0.00148 degrees of the 0.002 covered in 10 s.
  const auto& h2 = *area(d, "H2");
  EXPECT_NEAR(h2["presence_seconds"].GetDouble(), 7.4, 0.01);
  EXPECT_EQ(h2["koper_visits"].GetUint(), 0u);
  // Its target: 2 visits (1: not met), 7 minutes (7.4 s: not met), gaps of at
  // most 30 minutes (the longest, 118.7 s to the window's end at 720 s, is about 10: met).
  EXPECT_FALSE(h2["target_met"].GetBool());
  EXPECT_FALSE(h2["target_parts"]["visits"].GetBool());
  EXPECT_FALSE(h2["target_parts"]["minutes"].GetBool());
  EXPECT_TRUE(h2["target_parts"]["gap"].GetBool());
  const auto& h3 = *area(d, "H3");
  EXPECT_EQ(h3["visits"].GetUint(), 0u);
  EXPECT_DOUBLE_EQ(h3["presence_seconds"].GetDouble(), 0);
  EXPECT_TRUE(h3["last_visit_end"].IsNull());
  EXPECT_DOUBLE_EQ(h3["longest_gap_seconds"].GetDouble(), 780);

  // The same window recomputed from the stored fixes agrees exactly.
  auto stored = s.get("/api/v1/reports/coverage?kind=hotspot&source=store&" + window_query());
  ASSERT_EQ(stored.status, 200) << stored.body;
  auto ds = parse_json(stored.body);
  EXPECT_STREQ(ds["source"].GetString(), "store");
  EXPECT_TRUE(ds["areas"] == d["areas"]) << stored.body << "\nlive: " << s.get("/api/v1/reports/coverage?kind=hotspot&" + window_query()).body;
  // Again once every fix is packed into track chunks: still exactly the same.
  ASSERT_TRUE(eventually([&] {
    DbView db(s.data_dir());
    return db.scalar("SELECT (SELECT SUM(n) FROM track_chunks) = (SELECT COUNT(*) FROM fixes WHERE unit IS NOT NULL)"
                     " AND (SELECT COUNT(*) FROM fixes) > 0") == 1;
  })) << "the writer did not pack track chunks";
  auto chunked = parse_json(s.get("/api/v1/reports/coverage?kind=hotspot&source=store&" + window_query()).body);
  EXPECT_TRUE(chunked["areas"] == d["areas"]) << "from chunks differs from live";

  // One area, then CSV.
  auto one = parse_json(s.get("/api/v1/reports/coverage?area=H2&" + window_query()).body);
  ASSERT_EQ(one["areas"].Size(), 1u);
  EXPECT_STREQ(one["areas"][0]["id"].GetString(), "H2");
  auto csv = s.get("/api/v1/reports/coverage?format=csv&kind=hotspot&" + window_query());
  ASSERT_EQ(csv.status, 200);
  auto lines = split_lines(csv.body);
  ASSERT_EQ(lines.size(), 4u) << csv.body;
  EXPECT_EQ(lines[0].rfind("id,name,kind,unit_seconds,presence_seconds,visits,koper_visits,", 0), 0u);
  EXPECT_NE(csv.body.find("H1,Spot H1,hotspot,660,660,1,1," + format_iso8601(kT0 + 660 * kSec) + ",60,"),
            std::string::npos)
      << csv.body;
}

TEST(CoverageApi, VisitsListWhoWasThereAndWhen) {
  Coverage s;
  send_tracks(s);
  rapidjson::Document d;
  ASSERT_TRUE(eventually([&] {
    d = parse_json(s.get("/api/v1/reports/coverage/visits?area=H1&" + window_query()).body);
    return d.HasMember("visits") && d["visits"].Size() == 1;
  }));
  const auto& v = d["visits"][0];
  EXPECT_STREQ(v["unit"].GetString(), "NA21");
  EXPECT_STREQ(v["start"].GetString(), format_iso8601(kT0).c_str());
  EXPECT_STREQ(v["end"].GetString(), format_iso8601(kT0 + 660 * kSec).c_str());
  EXPECT_DOUBLE_EQ(v["seconds"].GetDouble(), 660);
  EXPECT_TRUE(v["koper"].GetBool());
  auto stored = parse_json(s.get("/api/v1/reports/coverage/visits?area=H1&source=store&" + window_query()).body);
  EXPECT_TRUE(stored["visits"] == d["visits"]);
  auto h2 = parse_json(s.get("/api/v1/reports/coverage/visits?area=H2&" + window_query()).body);
  ASSERT_EQ(h2["visits"].Size(), 1u);
  EXPECT_STREQ(h2["visits"][0]["unit"].GetString(), "NA22");
  EXPECT_FALSE(h2["visits"][0]["koper"].GetBool());
}

TEST(CoverageApi, RolesAndBadParametersGetClearErrors) {
  Coverage s;
  EXPECT_EQ(s.get("/api/v1/reports/coverage", s.dispatcher).status, 403);
  EXPECT_EQ(s.request("GET", "/api/v1/reports/coverage").status, 401);
  auto manager = s.token(Role::manager);
  EXPECT_EQ(s.get("/api/v1/reports/coverage", manager).status, 200);
  auto bad = s.get("/api/v1/reports/coverage?from=yesterday");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(error_code(bad), "bad_request");
  EXPECT_EQ(s.get("/api/v1/reports/coverage?to=" + format_iso8601(kNow)).status, 400);  // to without from
  EXPECT_EQ(s.get("/api/v1/reports/coverage?from=" + format_iso8601(kNow) + "&to=" + format_iso8601(kNow)).status,
            400);
  EXPECT_EQ(s.get("/api/v1/reports/coverage?from=" + format_iso8601(kNow - 40 * 86400 * kSec)).status, 400);
  EXPECT_EQ(s.get("/api/v1/reports/coverage?format=xml").status, 400);
  EXPECT_EQ(s.get("/api/v1/reports/coverage?source=guess").status, 400);
  auto missing = s.get("/api/v1/reports/coverage?area=NOPE");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(error_code(missing), "not_found");
  EXPECT_EQ(s.get("/api/v1/reports/coverage/visits").status, 400);
  EXPECT_EQ(s.get("/api/v1/reports/coverage/visits?area=NOPE").status, 404);
  // Default window: the current shift (07:00 UK time; 07:00Z in November) up to now.
  auto def = parse_json(s.get("/api/v1/reports/coverage").body);
  EXPECT_STREQ(def["from"].GetString(), "2026-11-22T07:00:00.000Z");
  EXPECT_STREQ(def["to"].GetString(), format_iso8601(kNow).c_str());
  auto shifts = parse_json(s.get("/api/v1/shifts").body);
  EXPECT_STREQ(shifts["current"]["label"].GetString(), "2026-11-22 07:00");
  EXPECT_STREQ(shifts["current"]["end"].GetString(), "2026-11-22T14:00:00.000Z");
  EXPECT_EQ(shifts["shifts"].Size(), 22u);  // 7 days x 3 shifts, plus the one running at from
}

TEST(CoverageApi, RestartRebuildsTodaysAccountingFromTheStore) {
  Coverage s;
  send_tracks(s);
  std::string before;
  ASSERT_TRUE(eventually([&] {
    auto d = parse_json(s.get("/api/v1/reports/coverage?kind=hotspot&" + window_query()).body);
    before = s.get("/api/v1/reports/coverage?kind=hotspot&" + window_query()).body;
    return area(d, "H1") && (*area(d, "H1"))["visits"].GetUint() == 1;
  }));
  s.restart();
  s.load_areas();
  rapidjson::Document after;
  ASSERT_TRUE(eventually([&] {
    after = parse_json(s.get("/api/v1/reports/coverage?kind=hotspot&" + window_query()).body);
    return std::string(after["source"].GetString()) == "live";
  }));
  EXPECT_TRUE(after["areas"] == parse_json(before)["areas"]);
}

// SPEC 5: a hot spot unvisited for longer than max_gap_minutes (default 120)
// during the shift raises an alert; a visit ends it; an acknowledged one is
// not raised again until somebody has been there.
TEST(CoverageApi, UnvisitedHotSpotsRaiseAlertsThatVisitsEnd) {
  Coverage s;
  auto gap_alerts = [&](bool active_only) {
    std::map<std::string, std::pair<uint64_t, bool>> out;  // area -> (alert id, active)
    auto d = parse_json(s.get(std::string("/api/v1/alerts") + (active_only ? "" : "?active=false")).body);
    for (const auto& a : d["alerts"].GetArray())
      if (std::string(a["kind"].GetString()) == "patrol_gap")
        out[a["area"].GetString()] = {a["id"].GetUint64(), a["active"].GetBool()};
    return out;
  };
  // 07:00 to 10:00 with nobody there: all three are overdue.
  ASSERT_TRUE(eventually([&] { return gap_alerts(true).size() == 3; })) << s.get("/api/v1/alerts").body;
  auto d = parse_json(s.get("/api/v1/alerts").body);
  for (const auto& a : d["alerts"].GetArray()) {
    EXPECT_DOUBLE_EQ(a["unvisited_s"].GetDouble(), 3 * 3600);
    // H2's own target says 30 minutes; the others have the default.
    EXPECT_DOUBLE_EQ(a["max_gap_minutes"].GetDouble(), std::string(a["area"].GetString()) == "H2" ? 30 : 120);
    EXPECT_NEAR(a["lat"].GetDouble(), kLat, 1e-6);
  }
  send_tracks(s);  // H1 and H2 visited within the last 20 minutes
  ASSERT_TRUE(eventually([&] { return gap_alerts(true).size() == 1; })) << s.get("/api/v1/alerts").body;
  auto all = gap_alerts(false);
  EXPECT_FALSE(all["H1"].second);
  EXPECT_FALSE(all["H2"].second);
  ASSERT_TRUE(all["H3"].second);
  auto ack = s.request("POST", "/api/v1/alerts/" + std::to_string(all["H3"].first) + "/ack", "{}", s.sergeant);
  ASSERT_EQ(ack.status, 200) << ack.body;
  std::this_thread::sleep_for(2500ms);  // two more checks
  EXPECT_TRUE(gap_alerts(true).empty()) << s.get("/api/v1/alerts").body;
}

}  // namespace
}  // namespace pm::itest
