// Replay, exports, import, audit and retention on the real server (SPEC 7
// and 9, issue 7): fixes go in through the normal ingest and come back from
// GET /api/v1/tracks unchanged; stops, trips and simplification on a track
// worked out by hand; every export read by GDAL's ogrinfo with feature
// counts worked out here; positions at T interpolated by hand with the
// dispatch status then; the real GPX drive imported and read back (parsed
// independently by the harness); audit rows; retention deleting old fixes
// while ingest goes on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "geo/geodesic.hpp"
#include "server/core/time_format.hpp"
#include "tests/integration/harness.hpp"
#include "tests/support/data_dir.hpp"
#include "tests/support/seed.hpp"

namespace pm::itest {
namespace {

constexpr EpochMs kSec = 1000;
const EpochMs kT0 = kNow - 3600 * kSec;  // 09:00, an hour before the test clock
constexpr double kLat0 = 52.600, kLon = -1.0, kStep = 0.001;

std::string iso(EpochMs t) { return format_iso8601(t); }

Ping ping(const std::string& device, EpochMs t, double lat, double lon) {
  Ping p;
  p.device = device;
  p.t = t;
  p.lat = lat;
  p.lon = lon;
  return p;
}

// The hand-built track of NA21 (fix every 10 s from kT0):
//   fixes 0..5   drive north 0.001 deg per fix (52.600 -> 52.605)
//   fixes 6..18  stand at 52.605 (t = 60..180 s)
//   fixes 19..23 drive on (52.606 -> 52.610, t = 190..230 s)
// Stop rule (30 m of the run's first fix, >= 120 s): fixes 5..18, from
// t = 50 s to 180 s (130 s), centre 52.605. Trips: fixes 0..5 and 18..23,
// 50 s each, 0.005 degrees of meridian each.
std::vector<Ping> hand_track() {
  std::vector<Ping> out;
  for (int i = 0; i < 24; ++i) {
    double lat = i <= 5 ? kLat0 + i * kStep : i <= 18 ? kLat0 + 5 * kStep : kLat0 + (i - 13) * kStep;
    Ping p = ping("AVL-21", kT0 + i * 10 * kSec, lat, kLon);
    p.speed_mps = i <= 5 || i > 18 ? 11.1 : 0.0;
    out.push_back(p);
  }
  return out;
}

struct Replay : TestServer {
  Replay(std::initializer_list<std::pair<const std::string, std::string>> o = {}) : TestServer(Overrides(o)) {
    sergeant = token(Role::sergeant);
    gateway = token(Role::gateway);
    admin = token(Role::admin);
    put_unit("NA21");
    put_device("AVL-21", "NA21");
    put_unit("NA22");
    put_device("AVL-22", "NA22");
  }
  HttpResponse get(const std::string& target, const std::string& tok = {}) {
    return request("GET", target, {}, tok.empty() ? sergeant : tok);
  }
  void send(const std::vector<Ping>& ps) {
    auto r = post_pings(gateway, pings_json(ps));
    ASSERT_EQ(r.status, 202) << r.body;
    ASSERT_EQ(ingest_answer(r).accepted, static_cast<int>(ps.size())) << r.body;
  }
  std::string tracks_url(const std::string& units, EpochMs from, EpochMs to, const std::string& extra = {}) {
    return "/api/v1/tracks?" + units + "&from=" + iso(from) + "&to=" + iso(to) + extra;
  }
  std::string sergeant, gateway, admin;
};

// ogrinfo -ro -al -so: layer name -> feature count.
std::map<std::string, int> ogr_counts(const std::string& path, const std::string& options, std::string* out = nullptr) {
  std::map<std::string, int> counts;
  std::string cmd = "ogrinfo -ro -al -so " + options + " '" + path + "' 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return counts;
  std::string text;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) text.append(buf, n);
  EXPECT_EQ(::pclose(f), 0) << cmd << "\n" << text;
  std::string current;
  std::istringstream in(text);
  const std::string layer = "Layer name: ", count = "Feature Count: ";
  for (std::string line; std::getline(in, line);) {
    if (auto p = line.find(layer); p != std::string::npos) current = line.substr(p + layer.size());
    else if (auto q = line.find(count); q != std::string::npos) counts[current] = std::stoi(line.substr(q + count.size()));
  }
  if (out) *out = text;
  return counts;
}

bool have_ogrinfo() { return std::system("command -v ogrinfo > /dev/null 2>&1") == 0; }

TEST(ReplayApi, TrackReadsBackWhatWasSentFromChunksAndTail) {
  Replay s({{"store.track_chunk_s", "1"}});
  // 300 fixes of NA22 at 7 s, positions from a seeded walk (full double
  // precision sent), half before a chunk pass, half after it.
  const unsigned seed = test::seed_from_env(20261122);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> step(-0.0004, 0.0004);
  std::vector<Ping> sent;
  double lat = 52.63, lon = -1.13;
  for (int i = 0; i < 300; ++i) {
    lat += step(rng);
    lon += step(rng);
    sent.push_back(ping("AVL-22", kT0 + i * 7 * kSec, lat, lon));
  }
  s.send({sent.begin(), sent.begin() + 150});
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // packed into chunks
  s.send({sent.begin() + 150, sent.end()});
  // A second fix at an already stored time (another device of the unit): the first stored wins.
  s.put_device("RADIO-22", "NA22", "radio");
  s.send({ping("RADIO-22", kT0 + 70 * kSec, 50.0, 0.5)});
  DbView db(s.data_dir());
  EXPECT_GT(db.scalar("SELECT COUNT(*) FROM track_chunks"), 0) << "seed " << seed;

  auto r = s.get(s.tracks_url("unit=NA22", kT0, kT0 + 3600 * kSec));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto doc = parse_json(r.body);
  ASSERT_EQ(doc["units"].Size(), 1u);
  const auto& u = doc["units"][0];
  EXPECT_STREQ(u["unit"].GetString(), "NA22");
  EXPECT_EQ(u["fix_count"].GetUint64(), sent.size());
  ASSERT_EQ(u["fixes"].Size(), sent.size()) << "seed " << seed;
  for (size_t i = 0; i < sent.size(); ++i) {
    const auto& f = u["fixes"][static_cast<rapidjson::SizeType>(i)];
    EXPECT_EQ(f["time"].GetString(), iso(sent[i].t)) << i;
    EXPECT_NEAR(f["lat"].GetDouble(), sent[i].lat, 0.6e-7) << i << " seed " << seed;
    EXPECT_NEAR(f["lon"].GetDouble(), sent[i].lon, 0.6e-7) << i << " seed " << seed;
    EXPECT_TRUE(f["speed_mps"].IsNull());
    EXPECT_STREQ(f["source"].GetString(), "json");
  }
  // The window is inclusive at both ends.
  auto edge = parse_json(s.get(s.tracks_url("unit=NA22", sent[10].t, sent[20].t)).body);
  EXPECT_EQ(edge["units"][0]["fix_count"].GetInt(), 11);
}

TEST(ReplayApi, StopsTripsAndSimplificationWorkedByHand) {
  Replay s;
  s.send(hand_track());
  auto r = s.get(s.tracks_url("unit=NA21&unit=NA22", kT0, kT0 + 3600 * kSec));
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  ASSERT_EQ(doc["units"].Size(), 2u);
  const auto& u = doc["units"][0];
  EXPECT_EQ(u["fix_count"].GetInt(), 24);
  EXPECT_DOUBLE_EQ(u["fixes"][0]["speed_mps"].GetDouble(), 11.1);
  ASSERT_EQ(u["stops"].Size(), 1u);
  const auto& stop = u["stops"][0];
  EXPECT_EQ(stop["start"].GetString(), iso(kT0 + 50 * kSec));
  EXPECT_EQ(stop["end"].GetString(), iso(kT0 + 180 * kSec));
  EXPECT_DOUBLE_EQ(stop["duration_s"].GetDouble(), 130);
  EXPECT_NEAR(stop["lat"].GetDouble(), 52.605, 1e-7);
  EXPECT_NEAR(stop["lon"].GetDouble(), kLon, 1e-7);
  ASSERT_EQ(u["trips"].Size(), 2u);
  const double leg = geo::geodesic_distance_m({kLon, 52.600}, {kLon, 52.605});  // ~556 m
  const double leg2 = geo::geodesic_distance_m({kLon, 52.605}, {kLon, 52.610});
  EXPECT_EQ(u["trips"][0]["start"].GetString(), iso(kT0));
  EXPECT_EQ(u["trips"][0]["end"].GetString(), iso(kT0 + 50 * kSec));
  EXPECT_NEAR(u["trips"][0]["distance_m"].GetDouble(), leg, 0.1);
  EXPECT_EQ(u["trips"][1]["start"].GetString(), iso(kT0 + 180 * kSec));
  EXPECT_EQ(u["trips"][1]["end"].GetString(), iso(kT0 + 230 * kSec));
  EXPECT_DOUBLE_EQ(u["trips"][1]["duration_s"].GetDouble(), 50);
  EXPECT_NEAR(u["trips"][1]["distance_m"].GetDouble(), leg2, 0.1);
  // NA22 has no fixes: listed with empty arrays.
  EXPECT_STREQ(doc["units"][1]["unit"].GetString(), "NA22");
  EXPECT_EQ(doc["units"][1]["fixes"].Size(), 0u);
  EXPECT_EQ(doc["units"][1]["stops"].Size(), 0u);

  // Simplified at 10 m: a straight line keeps its ends, and every fix of
  // the stop stays: 0, 5..18, 23 = 16 fixes; fix_count still counts 24.
  auto simp = parse_json(s.get(s.tracks_url("unit=NA21", kT0, kT0 + 3600 * kSec, "&simplify_m=10")).body);
  const auto& su = simp["units"][0];
  EXPECT_EQ(su["fix_count"].GetInt(), 24);
  ASSERT_EQ(su["fixes"].Size(), 16u);
  EXPECT_EQ(su["fixes"][0]["time"].GetString(), iso(kT0));
  EXPECT_EQ(su["fixes"][1]["time"].GetString(), iso(kT0 + 50 * kSec));
  EXPECT_EQ(su["fixes"][14]["time"].GetString(), iso(kT0 + 180 * kSec));
  EXPECT_EQ(su["fixes"][15]["time"].GetString(), iso(kT0 + 230 * kSec));
  EXPECT_DOUBLE_EQ(simp["simplify_m"].GetDouble(), 10);
}

TEST(ReplayApi, ExportsOpenInGdal) {
  if (!have_ogrinfo()) GTEST_SKIP() << "ogrinfo (gdal-bin) not installed";
  Replay s;
  s.send(hand_track());
  s.send({ping("AVL-22", kT0 + 100 * kSec, 52.62, -1.01)});  // one fix: a track point, no line
  TempDir tmp;
  auto fetch = [&](const std::string& format, const std::string& type) {
    auto r = s.get(s.tracks_url("unit=NA21&unit=NA22", kT0, kT0 + 3600 * kSec, "&format=" + format));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), type);
    EXPECT_NE(r.header("content-disposition").find("tracks." + format), std::string::npos);
    const std::string path = tmp.path() + "/tracks." + format;
    std::ofstream(path, std::ios::binary) << r.body;
    return path;
  };
  // GPX: one trk per unit with fixes (2), 24 + 1 track points, one waypoint per stop (1).
  auto gpx = ogr_counts(fetch("gpx", "application/gpx+xml"), "");
  EXPECT_EQ(gpx["tracks"], 2);
  EXPECT_EQ(gpx["track_points"], 25);
  EXPECT_EQ(gpx["waypoints"], 1);
  // GeoJSON: NA21's line and its stop; NA22 (one fix) has no line.
  std::string text;
  auto gj = ogr_counts(fetch("geojson", "application/geo+json"), "", &text);
  ASSERT_EQ(gj.size(), 1u) << text;
  EXPECT_EQ(gj.begin()->second, 2) << text;
  // Coordinates are numbers GDAL reads: the line runs up the meridian from 52.600 to 52.610.
  EXPECT_NE(text.find("Extent: (-1.000000, 52.600000) - (-1.000000, 52.610000)"), std::string::npos) << text;
  // CSV: one row per fix, points from the lon/lat columns.
  auto csv = ogr_counts(fetch("csv", "text/csv; charset=utf-8"), "-oo X_POSSIBLE_NAMES=lon -oo Y_POSSIBLE_NAMES=lat",
                        &text);
  ASSERT_EQ(csv.size(), 1u) << text;
  EXPECT_EQ(csv.begin()->second, 25) << text;
  EXPECT_NE(text.find("Geometry: Point"), std::string::npos) << text;
}

TEST(ReplayApi, EveryErrorHasItsCode) {
  Replay s({{"replay.max_fixes", "20"}});
  s.send(hand_track());
  const std::string w = "&from=" + iso(kT0) + "&to=" + iso(kT0 + 3600 * kSec);
  auto code = [&](const std::string& target, const std::string& tok = {}) {
    auto r = s.get(target, tok);
    return std::to_string(r.status) + " " + error_code(r);
  };
  EXPECT_EQ(code("/api/v1/tracks?from=" + iso(kT0) + "&to=" + iso(kT0 + 1)), "400 bad_request");  // no unit
  std::string many;
  for (int i = 0; i < 51; ++i) many += "unit=U" + std::to_string(i) + "&";
  EXPECT_EQ(code("/api/v1/tracks?" + many + w.substr(1)), "400 bad_request");
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21&to=" + iso(kT0)), "400 bad_request");  // no from
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21&from=yesterday&to=" + iso(kT0)), "400 bad_request");
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21&from=" + iso(kT0) + "&to=" + iso(kT0 - 1)), "400 bad_request");
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21&from=" + iso(kT0) + "&to=" + iso(kT0 + 48 * 3600 * kSec + 1)),
            "400 bad_request");
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21&simplify_m=-1" + w), "400 bad_request");
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21&simplify_m=1001" + w), "400 bad_request");
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21&format=kml" + w), "400 bad_request");
  EXPECT_EQ(code("/api/v1/tracks?unit=NOPE" + w), "404 not_found");
  // 24 fixes in the window, 20 allowed; 20 fixes fit.
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21" + w), "413 result_too_large");
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21&from=" + iso(kT0) + "&to=" + iso(kT0 + 190 * kSec)), "200 ");
  EXPECT_EQ(code("/api/v1/tracks?unit=NA21" + w, s.token(Role::dispatcher)), "403 forbidden");
  EXPECT_EQ(s.request("GET", "/api/v1/tracks?unit=NA21" + w).status, 401);
  EXPECT_EQ(code("/api/v1/positions"), "400 bad_request");
  EXPECT_EQ(code("/api/v1/positions?at=noon"), "400 bad_request");
  EXPECT_EQ(code("/api/v1/positions?at=" + iso(kT0) + "&bbox=1,2,3"), "400 bad_request");
  EXPECT_EQ(code("/api/v1/positions?at=" + iso(kT0) + "&bbox=3,2,1,4"), "400 bad_request");
  EXPECT_EQ(code("/api/v1/positions?at=" + iso(kT0), s.token(Role::device, "AVL-21")), "403 forbidden");
  EXPECT_EQ(code("/api/v1/audit"), "403 forbidden");
  EXPECT_EQ(code("/api/v1/audit?limit=0", s.admin), "400 bad_request");
  EXPECT_EQ(code("/api/v1/audit?limit=10001", s.admin), "400 bad_request");
  auto imp = [&](const std::string& target, const std::string& body, const std::string& tok) {
    auto r = s.request("POST", target, body, tok);
    return std::to_string(r.status) + " " + error_code(r);
  };
  EXPECT_EQ(imp("/api/v1/tracks/import?unit=X1", "<gpx/>", s.admin), "400 bad_request");
  EXPECT_EQ(imp("/api/v1/tracks/import?unit=X1&device=D1", "{\"not\":\"gpx\"}", s.admin), "400 bad_request");
  EXPECT_EQ(imp("/api/v1/tracks/import?unit=X1&device=D1", "<gpx version=\"1.1\"></gpx>", s.admin), "400 bad_request");
  EXPECT_EQ(imp("/api/v1/tracks/import?unit=NA22&device=AVL-21", "<gpx version=\"1.1\"></gpx>", s.admin),
            "409 conflict");
  EXPECT_EQ(imp("/api/v1/tracks/import?unit=X1&device=D1", "<gpx/>", s.sergeant), "403 forbidden");
  // Every error is counted.
  EXPECT_GE(metric(s.metrics_page(), "patrolmap_errors_total{code=\"result_too_large\"}").value_or(0), 1);
}

TEST(ReplayApi, PositionsAtTInterpolatedWithTheStatusThen) {
  Replay s;
  auto dispatcher = s.token(Role::dispatcher);
  s.send(hand_track());
  // NA22: two fixes 300 s apart (more than coverage.max_gap_s = 180): untracked between them.
  s.send({ping("AVL-22", kT0 + 1000 * kSec, 52.62, -1.02), ping("AVL-22", kT0 + 1300 * kSec, 52.63, -1.03)});
  // At 09:40 NA21 is assigned to an incident (status assigned), at 09:50 it clears (available).
  s.clock().set(kT0 + 40 * 60 * kSec);
  char body[160];
  std::snprintf(body, sizeof body, R"({"grade":2,"type":"theft","lat":52.61,"lon":-1.0})");
  auto inc = s.request("POST", "/api/v1/incidents", body, dispatcher);
  ASSERT_EQ(inc.status, 201) << inc.body;
  const uint64_t id = parse_json(inc.body)["id"].GetUint64();
  auto as = s.request("POST", "/api/v1/incidents/" + std::to_string(id) + "/assign", R"({"unit":"NA21"})", dispatcher);
  ASSERT_EQ(as.status, 200) << as.body;
  s.clock().set(kT0 + 50 * 60 * kSec);
  auto st = s.request("POST", "/api/v1/incidents/" + std::to_string(id) + "/events",
                      R"({"unit":"NA21","kind":"cleared"})", dispatcher);
  ASSERT_EQ(st.status, 200) << st.body;
  s.clock().set(kNow);

  auto units_at = [&](EpochMs at, const std::string& extra = {}) {
    auto r = s.get("/api/v1/positions?at=" + iso(at) + extra);
    EXPECT_EQ(r.status, 200) << r.body;
    auto doc = parse_json(r.body);
    EXPECT_EQ(doc["at"].GetString(), iso(at));
    std::map<std::string, rapidjson::Document> out;
    for (const auto& u : doc["units"].GetArray()) {
      rapidjson::Document d;
      d.CopyFrom(u, d.GetAllocator());
      out[u["unit"].GetString()] = std::move(d);
    }
    return out;
  };
  // 4 s after kT0: 4/10 of the way from 52.600 to 52.601.
  auto a = units_at(kT0 + 4 * kSec);
  ASSERT_EQ(a.count("NA21"), 1u);
  EXPECT_TRUE(a["NA21"]["interpolated"].GetBool());
  EXPECT_NEAR(a["NA21"]["lat"].GetDouble(), 52.6004, 1e-9);
  EXPECT_NEAR(a["NA21"]["lon"].GetDouble(), -1.0, 1e-9);
  EXPECT_EQ(a["NA21"]["fix_before"].GetString(), iso(kT0));
  EXPECT_EQ(a["NA21"]["fix_after"].GetString(), iso(kT0 + 10 * kSec));
  EXPECT_STREQ(a["NA21"]["status"].GetString(), "available");  // before the assignment
  EXPECT_TRUE(a["NA21"]["incident"].IsNull());
  EXPECT_TRUE(a["NA22"]["position"].IsNull());
  EXPECT_TRUE(a["NA22"]["last_fix"].IsNull());
  // 197 s: between fix 19 (190 s, 52.606) and fix 20 (200 s, 52.607): 52.6067.
  auto b = units_at(kT0 + 197 * kSec);
  EXPECT_NEAR(b["NA21"]["lat"].GetDouble(), 52.6067, 1e-9);
  EXPECT_EQ(b["NA21"]["fix_before"].GetString(), iso(kT0 + 190 * kSec));
  // A fix exactly at T is used as is.
  auto c = units_at(kT0 + 50 * kSec);
  EXPECT_FALSE(c["NA21"]["interpolated"].GetBool());
  EXPECT_NEAR(c["NA21"]["lat"].GetDouble(), 52.605, 1e-9);
  EXPECT_TRUE(c["NA21"]["fix_after"].IsNull());
  // NA22 between fixes 300 s apart: no position, its last fix before T.
  auto d = units_at(kT0 + 1100 * kSec);
  EXPECT_TRUE(d["NA22"]["position"].IsNull());
  EXPECT_EQ(d["NA22"]["last_fix"].GetString(), iso(kT0 + 1000 * kSec));
  // NA21 after its last fix (230 s): untracked, last fix 230 s; statuses after the events.
  auto e = units_at(kT0 + 45 * 60 * kSec);
  EXPECT_TRUE(e["NA21"]["position"].IsNull());
  EXPECT_EQ(e["NA21"]["last_fix"].GetString(), iso(kT0 + 230 * kSec));
  EXPECT_STREQ(e["NA21"]["status"].GetString(), "assigned");
  ASSERT_TRUE(e["NA21"]["incident"].IsUint64());
  EXPECT_EQ(e["NA21"]["incident"].GetUint64(), id);
  auto f = units_at(kT0 + 55 * 60 * kSec);
  EXPECT_STREQ(f["NA21"]["status"].GetString(), "available");
  EXPECT_TRUE(f["NA21"]["incident"].IsNull());
  // bbox keeps units with a position inside it.
  auto g = units_at(kT0 + 4 * kSec, "&bbox=-1.1,52.5,-0.9,52.7");
  EXPECT_EQ(g.size(), 1u);
  EXPECT_EQ(g.count("NA21"), 1u);
  EXPECT_EQ(units_at(kT0 + 4 * kSec, "&bbox=0,50,1,51").size(), 0u);
}

std::string read_gpx() { return read_file(test::data_dir() + "/gpx/gpsbabel_garmin_xt_strk.gpx"); }

// The file holds 958 track points in two <trk>; the second repeats 164 points
// of the first exactly (GPSBabel test data). Fixes are unique by device and
// time, so 794 are stored and 164 reported as duplicates; the track read back
// is the file's points with the repeats dropped (first wins).
TEST(ReplayApi, ImportedGpxDriveReadsBackTheSamePoints) {
  Replay s;
  const auto& all = gpx_track();  // the harness's own line scanner of the file
  ASSERT_EQ(all.size(), 958u);
  std::vector<TrackPoint> want;
  std::map<EpochMs, TrackPoint> by_time;
  for (const auto& p : all) {
    auto [it, fresh] = by_time.emplace(p.t, p);
    if (fresh) {
      want.push_back(p);
    } else {  // a repeat is the same point, not another position at that time
      EXPECT_EQ(it->second.lat, p.lat);
      EXPECT_EQ(it->second.lon, p.lon);
    }
  }
  std::sort(want.begin(), want.end(), [](const TrackPoint& a, const TrackPoint& b) { return a.t < b.t; });
  ASSERT_EQ(want.size(), 794u);
  auto r = s.request("POST", "/api/v1/tracks/import?unit=GPX1&device=GPX-DEV", read_gpx(), s.admin);
  ASSERT_EQ(r.status, 200) << r.body;
  auto ans = parse_json(r.body);
  EXPECT_EQ(ans["points"].GetInt(), 958);
  EXPECT_EQ(ans["stored"].GetInt(), 794);
  EXPECT_EQ(ans["duplicates"].GetInt(), 164);
  EXPECT_EQ(ans["rejected"].GetInt(), 0);
  auto again = parse_json(s.request("POST", "/api/v1/tracks/import?unit=GPX1&device=GPX-DEV", read_gpx(), s.admin).body);
  EXPECT_EQ(again["stored"].GetInt(), 0);
  EXPECT_EQ(again["duplicates"].GetInt(), 958);

  auto t = s.get(s.tracks_url("unit=GPX1", want.front().t, want.back().t));
  ASSERT_EQ(t.status, 200) << t.body;
  auto doc = parse_json(t.body);
  const auto& fixes = doc["units"][0]["fixes"];
  ASSERT_EQ(fixes.Size(), want.size());
  EXPECT_EQ(fixes[0]["time"].GetString(), iso(all.front().t));
  EXPECT_NEAR(fixes[0]["lat"].GetDouble(), all.front().lat, 0.6e-7);
  for (rapidjson::SizeType i = 0; i < fixes.Size(); ++i) {
    EXPECT_EQ(fixes[i]["time"].GetString(), iso(want[i].t)) << i;
    EXPECT_NEAR(fixes[i]["lat"].GetDouble(), want[i].lat, 0.6e-7) << i;
    EXPECT_NEAR(fixes[i]["lon"].GetDouble(), want[i].lon, 0.6e-7) << i;
    EXPECT_STREQ(fixes[i]["source"].GetString(), "gpx");
  }
  EXPECT_EQ(fixes[fixes.Size() - 1]["time"].GetString(), iso(want.back().t));
  // Trips add up to the drive's length (Karney's geodesic over the file's
  // points) less the segments inside the stops the answer lists.
  const auto& u = doc["units"][0];
  ASSERT_GT(u["stops"].Size(), 0u);
  double want_m = 0, got_m = 0;
  for (size_t i = 1; i < want.size(); ++i) {
    bool in_stop = false;
    for (const auto& st : u["stops"].GetArray())
      in_stop |= iso(want[i - 1].t) >= st["start"].GetString() && iso(want[i].t) <= st["end"].GetString();
    if (!in_stop) want_m += geo::geodesic_distance_m({want[i - 1].lon, want[i - 1].lat}, {want[i].lon, want[i].lat});
  }
  for (const auto& trip : u["trips"].GetArray()) got_m += trip["distance_m"].GetDouble();
  EXPECT_NEAR(got_m, want_m, want_m * 1e-5 + 0.05 * u["trips"].Size());
  EXPECT_GT(got_m, 10'000);  // most of the 16.7 km drive is movement
}

TEST(ReplayApi, AuditRecordsEveryReadAndImport) {
  Replay s;
  s.send(hand_track());
  ASSERT_EQ(s.get(s.tracks_url("unit=NA21&unit=NA22", kT0, kT0 + 60 * kSec)).status, 200);
  ASSERT_EQ(s.get(s.tracks_url("unit=NA21", kT0, kT0 + 60 * kSec, "&format=gpx&simplify_m=5")).status, 200);
  ASSERT_EQ(s.get("/api/v1/positions?at=" + iso(kT0) + "&bbox=-2,52,0,53").status, 200);
  s.clock().set(kNow + 60 * kSec);
  ASSERT_EQ(s.request("POST", "/api/v1/tracks/import?unit=GPX1&device=GPX-DEV", read_gpx(), s.admin).status, 200);
  // A refused request (bad parameters) shows nobody's movements: no row.
  ASSERT_EQ(s.get("/api/v1/tracks?unit=NA21").status, 400);

  auto r = s.get("/api/v1/audit", s.admin);
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = parse_json(r.body);
  const auto& rows = doc["audit"];
  ASSERT_EQ(rows.Size(), 4u) << r.body;
  // Newest first.
  EXPECT_STREQ(rows[0]["action"].GetString(), "import");
  EXPECT_STREQ(rows[0]["token"].GetString(), "test-admin");
  EXPECT_STREQ(rows[0]["role"].GetString(), "admin");
  EXPECT_EQ(rows[0]["time"].GetString(), iso(kNow + 60 * kSec));
  EXPECT_STREQ(rows[0]["units"][0].GetString(), "GPX1");
  EXPECT_EQ(rows[0]["from"].GetString(), iso(gpx_track().front().t));
  EXPECT_EQ(rows[0]["to"].GetString(), iso(gpx_track().back().t));
  EXPECT_STREQ(rows[1]["action"].GetString(), "positions");
  EXPECT_EQ(rows[1]["units"].Size(), 0u);  // every unit
  EXPECT_EQ(rows[1]["from"].GetString(), iso(kT0));
  EXPECT_STREQ(rows[1]["detail"].GetString(), "bbox=-2,52,0,53");
  EXPECT_STREQ(rows[2]["action"].GetString(), "export");
  EXPECT_STREQ(rows[2]["detail"].GetString(), "format=gpx simplify_m=5");
  EXPECT_STREQ(rows[3]["action"].GetString(), "tracks");
  EXPECT_STREQ(rows[3]["token"].GetString(), "test-sergeant");
  EXPECT_STREQ(rows[3]["role"].GetString(), "sergeant");
  ASSERT_EQ(rows[3]["units"].Size(), 2u);
  EXPECT_STREQ(rows[3]["units"][1].GetString(), "NA22");
  EXPECT_EQ(rows[3]["from"].GetString(), iso(kT0));
  EXPECT_EQ(rows[3]["to"].GetString(), iso(kT0 + 60 * kSec));
  // limit and window.
  EXPECT_EQ(parse_json(s.get("/api/v1/audit?limit=1", s.admin).body)["audit"].Size(), 1u);
  EXPECT_EQ(parse_json(s.get("/api/v1/audit?from=" + iso(kNow + 1), s.admin).body)["audit"].Size(), 1u);
  EXPECT_EQ(metric(s.metrics_page(), "patrolmap_audit_rows_total"), 4);
}

TEST(ReplayApi, RetentionDeletesOldFixesWhileIngestGoesOn) {
  Replay s({{"store.retention_days", "1"}, {"store.retention_check_s", "1"}, {"store.retention_batch_rows", "50"},
            {"store.track_chunk_s", "1"}});
  // An audit row from 10 days ago (the clock set back for one request).
  s.clock().set(kNow - 10 * 86400 * kSec);
  ASSERT_EQ(s.get("/api/v1/positions?at=" + iso(kT0)).status, 200);
  s.clock().set(kNow);
  // The GPX drive (2010) is far older than a day; NA21's fixes are an hour old.
  s.send(hand_track());
  ASSERT_EQ(s.request("POST", "/api/v1/tracks/import?unit=GPX1&device=GPX-DEV", read_gpx(), s.admin).status, 200);
  // Ingest keeps going while retention deletes the 794 old fixes in batches of 50.
  std::vector<Ping> live;
  for (int i = 0; i < 40; ++i) {
    Ping p = ping("AVL-22", kNow - 600 * kSec + i * 5 * kSec, 52.62 + i * 1e-4, -1.02);
    auto r = s.post_pings(s.gateway, pings_json({p}));
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(ingest_answer(r).accepted, 1);
    live.push_back(p);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  DbView db(s.data_dir());
  const EpochMs cutoff = kNow - 86400 * kSec;
  for (int i = 0; i < 100 && db.scalar("SELECT COUNT(*) FROM fixes WHERE t < " + std::to_string(cutoff)) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes WHERE t < " + std::to_string(cutoff)), 0);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 24 + 40);
  for (int i = 0; i < 50 && db.scalar("SELECT COUNT(*) FROM track_chunks WHERE t_last < " + std::to_string(cutoff)) > 0;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM track_chunks WHERE t_last < " + std::to_string(cutoff)), 0);
  EXPECT_EQ(metric(s.metrics_page(), "patrolmap_retention_deleted_fixes_total"), 794);  // the distinct points
  // Replays agree: the drive is gone, the recent tracks are whole.
  const auto& g = gpx_track();
  EXPECT_EQ(parse_json(s.get(s.tracks_url("unit=GPX1", g.front().t, g.back().t)).body)["units"][0]["fix_count"].GetInt(),
            0);
  EXPECT_EQ(parse_json(s.get(s.tracks_url("unit=NA21", kT0, kNow)).body)["units"][0]["fix_count"].GetInt(), 24);
  EXPECT_EQ(parse_json(s.get(s.tracks_url("unit=NA22", kT0, kNow)).body)["units"][0]["fix_count"].GetInt(), 40);
  // The audit log is never deleted: the 10-day-old row is still there.
  auto audit = parse_json(s.get("/api/v1/audit?to=" + iso(kNow - 9 * 86400 * kSec), s.admin).body);
  ASSERT_EQ(audit["audit"].Size(), 1u);
  EXPECT_STREQ(audit["audit"][0]["action"].GetString(), "positions");
}

}  // namespace
}  // namespace pm::itest
