// The live map feed (SPEC section 6) over a real WebSocket on 127.0.0.1:
// snapshot then deltas, coalescing per unit, viewport filtering and
// `removed`, incidents and alerts as they change, the Origin check, and a
// client that stops reading (disconnected; the others keep their latency).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "tests/integration/harness.hpp"

namespace pm::itest {
namespace {

constexpr EpochMs kSec = 1000;
using Clock = std::chrono::steady_clock;

// Frames as parsed documents, read until `done` says so or `timeout` passes.
struct Feed {
  explicit Feed(uint16_t port, int receive_buffer = 0) : ws(port, "127.0.0.1", receive_buffer) {}
  bool hello(const std::string& token, const std::string& bbox = {}) {
    if (!ws.handshake("/api/v1/live")) return false;
    std::string msg = R"({"op":"hello","token":")" + token + "\"";
    if (!bbox.empty()) msg += R"(,"bbox":)" + bbox;
    return ws.send_text(msg + "}");
  }
  // The next frame, or a null document (kNullType) on timeout or close.
  rapidjson::Document next(std::chrono::milliseconds timeout = 10s) {
    auto m = ws.read(timeout);
    last = m;
    rapidjson::Document d;
    if (!m.ok) return d;
    d.Parse(m.text.c_str());
    EXPECT_FALSE(d.HasParseError()) << m.text;
    if (d.IsObject() && d.HasMember("seq")) {
      uint64_t seq = d["seq"].GetUint64();
      EXPECT_EQ(seq, last_seq + 1) << "frames are numbered one by one";
      last_seq = seq;
    }
    return d;
  }
  // Reads frames until done(frame) is true; false on timeout or close.
  bool until(const std::function<bool(const rapidjson::Document&)>& done, std::chrono::milliseconds timeout = 10s) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      auto d = next(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()) + 1ms);
      if (!d.IsObject()) return false;
      if (done(d)) return true;
    }
    return false;
  }
  test::WsClient ws;
  test::WsClient::Message last;
  uint64_t last_seq = 0;
};

const rapidjson::Value* find_unit(const rapidjson::Document& d, const std::string& id) {
  if (!d.IsObject() || !d.HasMember("units")) return nullptr;
  for (const auto& u : d["units"].GetArray())
    if (id == u["id"].GetString()) return &u;
  return nullptr;
}

std::set<std::string> ids(const rapidjson::Document& d, const char* key) {
  std::set<std::string> out;
  if (d.IsObject() && d.HasMember(key))
    for (const auto& v : d[key].GetArray()) out.insert(v.IsString() ? v.GetString() : v["id"].GetString());
  return out;
}

// Two places in Leicester about 8 km apart, and a box around the first.
constexpr double kInLat = 52.636, kInLon = -1.135;
constexpr double kOutLat = 52.700, kOutLon = -1.080;
const std::string kBoxAroundIn = "[-1.16,52.62,-1.11,52.65]";

TEST(Live, SnapshotThenDeltasWithTheLatestStateOfChangedUnits) {
  TestServer s({{"ingest.registration", "auto"}, {"live.flush_ms", "50"}});
  auto gw = s.token(Role::gateway);
  ASSERT_EQ(s.post_pings(gw, pings_json({{"L-A", kNow - 60 * kSec, kInLat, kInLon, {}, {}},
                                          {"L-B", kNow - 60 * kSec, kInLat + 0.001, kInLon, {}, {}}}))
                .status,
            202);
  Feed f(s.port());
  ASSERT_TRUE(f.hello(s.token(Role::dispatcher))) << f.ws.error();
  auto snap = f.next();
  ASSERT_TRUE(snap.IsObject()) << f.last.error;
  EXPECT_STREQ(snap["type"].GetString(), "snapshot");
  EXPECT_EQ(ids(snap, "units"), (std::set<std::string>{"L-A", "L-B"}));

  // One unit moves: the delta carries it, not the other, at its new place.
  ASSERT_EQ(s.post_pings(gw, ping_json({"L-A", kNow - 50 * kSec, kInLat + 0.002, kInLon + 0.003, {}, 7.5})).status,
            202);
  auto d = f.next();
  ASSERT_TRUE(d.IsObject()) << f.last.error;
  EXPECT_STREQ(d["type"].GetString(), "delta");
  EXPECT_EQ(ids(d, "units"), std::set<std::string>{"L-A"});
  const auto* a = find_unit(d, "L-A");
  ASSERT_NE(a, nullptr);
  EXPECT_NEAR((*a)["lat"].GetDouble(), kInLat + 0.002, 1e-9);
  EXPECT_NEAR((*a)["lon"].GetDouble(), kInLon + 0.003, 1e-9);
  EXPECT_DOUBLE_EQ((*a)["speed_mps"].GetDouble(), 7.5);
  EXPECT_STREQ((*a)["fix_time"].GetString(), "2026-11-22T09:59:10.000Z");
  EXPECT_TRUE(d["removed"].IsArray() && d["removed"].Empty());

  // An out-of-order fix is stored but never moves the unit back: no delta shows it there.
  ASSERT_EQ(s.post_pings(gw, ping_json({"L-A", kNow - 55 * kSec, kOutLat, kOutLon, {}, {}})).status, 202);
  ASSERT_EQ(s.post_pings(gw, ping_json({"L-B", kNow - 40 * kSec, kInLat, kInLon + 0.001, {}, {}})).status, 202);
  ASSERT_TRUE(f.until([](const auto& fr) { return find_unit(fr, "L-B") != nullptr; })) << f.last.error;
  EXPECT_GT(metric(s.metrics_page(), "patrolmap_websocket_frames_total"), 2);
}

// Many pings of one unit within one flush interval give one update with the
// latest state; many units changed together travel in one frame.
TEST(Live, UpdatesCoalescePerUnitWithinAFlush) {
  TestServer s({{"ingest.registration", "auto"}, {"live.flush_ms", "1500"}});
  auto gw = s.token(Role::gateway);
  std::vector<Ping> start;
  for (int u = 0; u < 20; ++u) start.push_back({"C-" + std::to_string(u), kNow - 600 * kSec, kInLat, kInLon, {}, {}});
  ASSERT_EQ(s.post_pings(gw, pings_json(start)).status, 202);
  Feed f(s.port());
  ASSERT_TRUE(f.hello(s.token(Role::dispatcher)));
  ASSERT_TRUE(f.next().IsObject());  // snapshot
  // 10 separate requests (10 commits) for C-0 and one batch moving all 20.
  auto sent = Clock::now();
  for (int i = 1; i <= 10; ++i)
    ASSERT_EQ(s.post_pings(gw, ping_json({"C-0", kNow - 600 * kSec + i * kSec, kInLat + 0.0001 * i, kInLon, {}, {}}))
                  .status,
              202);
  std::vector<Ping> all;
  for (int u = 0; u < 20; ++u)
    all.push_back({"C-" + std::to_string(u), kNow - 500 * kSec, kInLat + 0.002, kInLon + 0.0001 * u, {}, {}});
  ASSERT_EQ(s.post_pings(gw, pings_json(all)).status, 202);
  auto posted = Clock::now();

  int c0_updates = 0, frames = 0;
  std::map<std::string, double> last_lat;
  std::vector<Clock::time_point> arrivals;
  ASSERT_TRUE(f.until([&](const rapidjson::Document& d) {
    ++frames;
    arrivals.push_back(Clock::now());
    for (const auto& u : d["units"].GetArray()) {
      last_lat[u["id"].GetString()] = u["lat"].GetDouble();
      if (std::string(u["id"].GetString()) == "C-0") ++c0_updates;
    }
    return last_lat.size() == 20 && std::abs(last_lat["C-0"] - (kInLat + 0.002)) < 1e-9;
  }));
  // Everything was posted well within one flush interval (1.5 s), so at most
  // the tick that fell inside the posting splits it in two.
  if (posted - sent < 1s) {
    EXPECT_LE(frames, 2);
    EXPECT_LE(c0_updates, 2) << "11 pings of C-0 coalesced";
  }
  for (const auto& [id, lat] : last_lat) EXPECT_NEAR(lat, kInLat + 0.002, 1e-9) << id;
  for (size_t i = 1; i < arrivals.size(); ++i)
    EXPECT_GE(arrivals[i] - arrivals[i - 1], 1000ms) << "frames no more often than live.flush_ms (less jitter)";
}

TEST(Live, ViewportFiltersUnitsAndSendsRemovedWhenTheyLeave) {
  TestServer s({{"ingest.registration", "auto"}, {"live.flush_ms", "50"}});
  auto gw = s.token(Role::gateway);
  EpochMs t = kNow - 300 * kSec;
  ASSERT_EQ(s.post_pings(gw, pings_json({{"V-IN", t, kInLat, kInLon, {}, {}}, {"V-OUT", t, kOutLat, kOutLon, {}, {}}}))
                .status,
            202);
  Feed f(s.port());
  ASSERT_TRUE(f.hello(s.token(Role::sergeant), kBoxAroundIn));
  auto snap = f.next();
  ASSERT_TRUE(snap.IsObject());
  EXPECT_EQ(ids(snap, "units"), std::set<std::string>{"V-IN"});

  // Movement outside the window sends nothing; V-OUT entering it is sent.
  ASSERT_EQ(s.post_pings(gw, ping_json({"V-OUT", t += kSec, kOutLat + 0.001, kOutLon, {}, {}})).status, 202);
  ASSERT_EQ(s.post_pings(gw, ping_json({"V-OUT", t += kSec, kInLat - 0.001, kInLon, {}, {}})).status, 202);
  auto d = f.next();
  ASSERT_TRUE(d.IsObject()) << f.last.error;
  EXPECT_EQ(ids(d, "units"), std::set<std::string>{"V-OUT"}) << f.last.text;
  EXPECT_TRUE(ids(d, "removed").empty());

  // V-IN leaves: removed.
  ASSERT_EQ(s.post_pings(gw, ping_json({"V-IN", t += kSec, kOutLat, kOutLon, {}, {}})).status, 202);
  d = f.next();
  ASSERT_TRUE(d.IsObject()) << f.last.error;
  EXPECT_TRUE(ids(d, "units").empty()) << f.last.text;
  EXPECT_EQ(ids(d, "removed"), std::set<std::string>{"V-IN"});

  // The window moves to where V-IN is now: V-IN enters, V-OUT is removed.
  ASSERT_TRUE(f.ws.send_text(R"({"op":"viewport","bbox":[-1.10,52.68,-1.05,52.72]})"));
  d = f.next();
  ASSERT_TRUE(d.IsObject()) << f.last.error;
  EXPECT_EQ(ids(d, "units"), std::set<std::string>{"V-IN"}) << f.last.text;
  EXPECT_EQ(ids(d, "removed"), std::set<std::string>{"V-OUT"});

  // A malformed viewport is refused with 1008.
  ASSERT_TRUE(f.ws.send_text(R"({"op":"viewport","bbox":[10,0,-10,1]})"));
  auto m = f.ws.read(10s);
  EXPECT_TRUE(m.closed);
  EXPECT_EQ(m.close_code, 1008);
}

// Dispatch changes reach the map: a created incident, the assigned unit's
// status, an officer emergency.
TEST(Live, IncidentsAlertsAndUnitStatusArriveAsDeltas) {
  TestServer s({{"ingest.registration", "auto"}, {"live.flush_ms", "50"}});
  auto gw = s.token(Role::gateway);
  auto disp = s.token(Role::dispatcher);
  ASSERT_EQ(s.post_pings(gw, ping_json({"D-1", kNow - 10 * kSec, kInLat, kInLon, {}, {}})).status, 202);
  Feed f(s.port());
  ASSERT_TRUE(f.hello(disp, kBoxAroundIn));
  auto snap = f.next();
  ASSERT_TRUE(snap.IsObject());
  EXPECT_TRUE(snap["incidents"].Empty());

  char body[160];
  std::snprintf(body, sizeof body, R"({"grade":1,"type":"assault","lat":%.6f,"lon":%.6f})", kInLat + 0.001, kInLon);
  auto created = s.request("POST", "/api/v1/incidents", body, disp);
  ASSERT_EQ(created.status, 201) << created.body;
  uint64_t id = parse_json(created.body)["id"].GetUint64();
  ASSERT_TRUE(f.until([&](const auto& d) {
    for (const auto& i : d["incidents"].GetArray())
      if (i["id"].GetUint64() == id) return std::string(i["status"].GetString()) == "open";
    return false;
  })) << f.last.text;

  ASSERT_EQ(s.request("POST", "/api/v1/incidents/" + std::to_string(id) + "/assign", R"({"unit":"D-1"})", disp).status,
            200);
  bool unit_assigned = false, incident_assigned = false;
  ASSERT_TRUE(f.until([&](const auto& d) {
    if (const auto* u = find_unit(d, "D-1"))
      unit_assigned = std::string((*u)["status"].GetString()) == "assigned" && (*u)["incident"].GetUint64() == id;
    for (const auto& i : d["incidents"].GetArray())
      if (i["id"].GetUint64() == id) incident_assigned = std::string(i["status"].GetString()) == "assigned";
    return unit_assigned && incident_assigned;
  })) << f.last.text;

  ASSERT_EQ(s.post_pings(gw, R"({"device":"D-1","t":)" + std::to_string(kNow - 5 * kSec) +
                                 R"(,"lat":52.6361,"lon":-1.135,"emergency":true})")
                .status,
            202);
  bool alert = false, flag = false;
  ASSERT_TRUE(f.until([&](const auto& d) {
    for (const auto& a : d["alerts"].GetArray())
      alert |= std::string(a["kind"].GetString()) == "officer_emergency" && std::string(a["unit"].GetString()) == "D-1";
    if (const auto* u = find_unit(d, "D-1")) flag = (*u)["emergency"].GetBool();
    return alert && flag;
  })) << f.last.text;

  ASSERT_EQ(s.request("POST", "/api/v1/incidents/" + std::to_string(id) + "/close", "{}", disp).status, 200);
  ASSERT_TRUE(f.until([&](const auto& d) {
    for (const auto& i : d["incidents"].GetArray())
      if (i["id"].GetUint64() == id) return std::string(i["status"].GetString()) == "closed";
    return false;
  })) << "a closed incident is sent once more, closed";
}

// Units that moved while nobody watched are shown where they are now.
TEST(Live, AFirstSubscriberSeesUnitsThatMovedWhileNobodyWatched) {
  TestServer s({{"ingest.registration", "auto"}, {"live.flush_ms", "50"}});
  auto gw = s.token(Role::gateway);
  auto disp = s.token(Role::dispatcher);
  {
    Feed f(s.port());
    ASSERT_TRUE(f.hello(disp));
    ASSERT_TRUE(f.next().IsObject());
  }
  ASSERT_EQ(s.post_pings(gw, ping_json({"N-1", kNow - 20 * kSec, kInLat, kInLon, {}, {}})).status, 202);
  ASSERT_EQ(s.post_pings(gw, ping_json({"N-1", kNow - 10 * kSec, kOutLat, kOutLon, {}, {}})).status, 202);
  // The first feed's session may still be closing: wait for the gauge.
  for (int i = 0; i < 100 && metric(s.metrics_page(), "patrolmap_websocket_clients") != 0; ++i)
    std::this_thread::sleep_for(20ms);
  ASSERT_EQ(s.post_pings(gw, ping_json({"N-1", kNow - 5 * kSec, kOutLat + 0.01, kOutLon, {}, {}})).status, 202);
  Feed g(s.port());
  ASSERT_TRUE(g.hello(disp));
  auto snap = g.next();
  const auto* u = find_unit(snap, "N-1");
  ASSERT_NE(u, nullptr) << g.last.text;
  EXPECT_NEAR((*u)["lat"].GetDouble(), kOutLat + 0.01, 1e-9);
}

TEST(Live, BrowsersMayOpenTheFeedOnlyFromAnAllowedOrigin) {
  TestServer s({{"live.allowed_origins", "https://control.example.police.uk"}});
  auto host = "127.0.0.1:" + std::to_string(s.port());
  struct Case {
    std::string origin;
    int status;
  };
  for (const auto& c : std::vector<Case>{{"http://" + host, 101},
                                         {"https://control.example.police.uk", 101},
                                         {"http://evil.example", 403},
                                         {"http://127.0.0.1:1", 403}}) {
    SCOPED_TRACE(c.origin);
    test::WsClient ws(s.port());
    int status = 0;
    bool ok = ws.handshake("/api/v1/live", 5s, &status, {{"Origin", c.origin}});
    EXPECT_EQ(ok, c.status == 101) << ws.error();
    EXPECT_EQ(status, c.status);
  }
}

// A client that stops reading is cut off after live.stall_close_s; while it
// stalls, ingest goes on and another client keeps getting its frames.
TEST(Live, AStalledReaderIsDisconnectedAndDoesNotSlowOthers) {
  TestServer s({{"ingest.registration", "auto"},
                {"live.flush_ms", "50"},
                {"live.stall_close_s", "2"},
                {"live.max_pending", "200"}});
  auto gw = s.token(Role::gateway);
  auto disp = s.token(Role::dispatcher);
  constexpr int kUnits = 1000;
  auto round = [&](int r) {
    std::vector<Ping> ps;
    for (int u = 0; u < kUnits; ++u)
      ps.push_back({"S-" + std::to_string(u), kNow - 3600 * kSec + r * kSec, kInLat + 0.00001 * r,
                    kInLon + 0.00001 * u, {}, 3.0});
    return s.post_pings(gw, pings_json(ps)).status;
  };
  ASSERT_EQ(round(0), 202);
  Feed stalled(s.port(), 4096);
  ASSERT_TRUE(stalled.hello(disp));  // and never reads

  Feed healthy(s.port());
  ASSERT_TRUE(healthy.hello(disp));
  std::atomic<int> seen_round{-1};
  std::thread reader([&] {
    healthy.until(
        [&](const auto& d) {
          if (const auto* u = find_unit(d, "S-0"))
            seen_round = static_cast<int>(std::lround(((*u)["lat"].GetDouble() - kInLat) / 0.00001));
          return seen_round.load() >= 1000;
        },
        60s);
  });
  int r = 1;
  auto start = Clock::now();
  // Rounds of 1,000 pings (about 220 KB of frames each) until the stalled one is cut off.
  while (metric(s.metrics_page(), "patrolmap_websocket_closed_slow_total") < 1 && Clock::now() - start < 40s) {
    ASSERT_EQ(round(r), 202);
    ++r;
  }
  EXPECT_EQ(metric(s.metrics_page(), "patrolmap_websocket_closed_slow_total"), 1) << "after " << r << " rounds";
  // The healthy client got the latest round quickly.
  int last = r - 1;
  auto posted = Clock::now();
  while (seen_round.load() < last && Clock::now() - posted < 5s) std::this_thread::sleep_for(5ms);
  EXPECT_GE(seen_round.load(), last) << "the healthy client fell behind";
  EXPECT_LT(Clock::now() - posted, 3s);
  seen_round = 1000;  // let the reader finish
  ASSERT_EQ(round(1000), 202);
  reader.join();
  EXPECT_EQ(metric(s.metrics_page(), "patrolmap_websocket_clients"), 1);
}

}  // namespace
}  // namespace pm::itest
