// The live map feed (SPEC section 6) over a real WebSocket on 127.0.0.1:
// snapshot then deltas, coalescing per unit, viewport filtering and
// `removed`, incidents and alerts as they change, the Origin check, and a
// client that stops reading (disconnected; the others keep their latency).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include <zlib.h>

#include "tests/integration/harness.hpp"
#include "tests/support/ws_deflate.hpp"

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

// permessage-deflate (RFC 7692) when the client offers it, as browsers do:
// the server answers server_no_context_takeover, sends every frame
// compressed (the metric counts what went on the wire) and reads the
// client's compressed messages; Beast's client inflates the frames.
TEST(Live, DeflateNegotiatedFramesArriveCompressedAndCorrect) {
  TestServer s({{"ingest.registration", "auto"}, {"live.flush_ms", "50"}});
  auto gw = s.token(Role::gateway);
  std::vector<Ping> start;
  for (int u = 0; u < 300; ++u)
    start.push_back({"Z-" + std::to_string(u), kNow - 600 * kSec, u < 200 ? kInLat : kOutLat,
                     (u < 200 ? kInLon : kOutLon) + 0.00001 * u, {}, 4.0});
  ASSERT_EQ(s.post_pings(gw, pings_json(start)).status, 202);
  Feed f(s.port());
  f.ws.offer_deflate();
  ASSERT_TRUE(f.hello(s.token(Role::dispatcher))) << f.ws.error();
  // Beast's client offers server_max_window_bits=15, which is echoed.
  EXPECT_EQ(f.ws.extensions(), "permessage-deflate; server_no_context_takeover; server_max_window_bits=15");
  auto snap = f.next();
  ASSERT_TRUE(snap.IsObject()) << f.last.error;
  EXPECT_STREQ(snap["type"].GetString(), "snapshot");
  EXPECT_EQ(ids(snap, "units").size(), 300u);
  size_t text_bytes = f.last.text.size();
  // Two compressed viewport messages (the second refers back into the first): units outside leave.
  ASSERT_TRUE(f.ws.send_text(R"({"op":"viewport","bbox":)" + kBoxAroundIn + "}"));
  ASSERT_TRUE(f.ws.send_text(R"({"op":"viewport","bbox":)" + kBoxAroundIn + "}"));
  auto d = f.next();
  ASSERT_TRUE(d.IsObject()) << f.last.error;
  EXPECT_EQ(ids(d, "removed").size(), 100u) << f.last.text;
  text_bytes += f.last.text.size();
  ASSERT_EQ(s.post_pings(gw, ping_json({"Z-7", kNow - 500 * kSec, kInLat + 0.001, kInLon + 0.002, {}, 6.5})).status,
            202);
  d = f.next();
  ASSERT_TRUE(d.IsObject()) << f.last.error;
  EXPECT_EQ(ids(d, "units"), std::set<std::string>{"Z-7"});
  const auto* u = find_unit(d, "Z-7");
  ASSERT_NE(u, nullptr);
  EXPECT_NEAR((*u)["lat"].GetDouble(), kInLat + 0.001, 1e-9);
  EXPECT_DOUBLE_EQ((*u)["speed_mps"].GetDouble(), 6.5);
  text_bytes += f.last.text.size();
  // On the wire: well under half the JSON (a 300-unit snapshot compresses several times).
  const double wire = *metric(s.metrics_page(), "patrolmap_websocket_frame_bytes_total");
  EXPECT_GT(wire, 0);
  EXPECT_LT(wire, 0.5 * static_cast<double>(text_bytes)) << "text " << text_bytes;
  EXPECT_EQ(metric(s.metrics_page(), "patrolmap_websocket_closed_refused_total"), 0);
}

// A client that offers nothing gets plain text frames: exactly the JSON plus
// a frame header per frame on the wire.
TEST(Live, WithoutDeflateFramesArePlainText) {
  TestServer s({{"ingest.registration", "auto"}, {"live.flush_ms", "50"}});
  auto gw = s.token(Role::gateway);
  std::vector<Ping> start;
  for (int u = 0; u < 300; ++u) start.push_back({"P-" + std::to_string(u), kNow - 600 * kSec, kInLat, kInLon, {}, {}});
  ASSERT_EQ(s.post_pings(gw, pings_json(start)).status, 202);
  Feed f(s.port());
  ASSERT_TRUE(f.hello(s.token(Role::dispatcher))) << f.ws.error();
  EXPECT_EQ(f.ws.extensions(), "");
  auto header = [](size_t n) { return n < 126 ? 2 : n < 65536 ? 4 : 10; };
  auto snap = f.next();
  ASSERT_TRUE(snap.IsObject()) << f.last.error;
  EXPECT_EQ(ids(snap, "units").size(), 300u);
  double want = static_cast<double>(f.last.text.size() + header(f.last.text.size()));
  ASSERT_EQ(s.post_pings(gw, ping_json({"P-3", kNow - 500 * kSec, kInLat + 0.001, kInLon, {}, {}})).status, 202);
  ASSERT_TRUE(f.next().IsObject()) << f.last.error;
  want += static_cast<double>(f.last.text.size() + header(f.last.text.size()));
  double wire = 0;
  for (auto t0 = Clock::now(); Clock::now() - t0 < 5s && wire != want; std::this_thread::sleep_for(20ms))
    wire = *metric(s.metrics_page(), "patrolmap_websocket_frame_bytes_total");
  EXPECT_EQ(wire, want);
}

// Server frames as bytes: {opcode, payload} (server frames are never masked).
std::vector<std::pair<int, std::string>> server_frames(std::string_view b) {
  std::vector<std::pair<int, std::string>> out;
  while (b.size() >= 2) {
    uint64_t len = static_cast<uint8_t>(b[1]) & 0x7f;
    size_t at = 2;
    if (len == 126) len = (uint64_t{static_cast<uint8_t>(b[2])} << 8) | static_cast<uint8_t>(b[3]), at = 4;
    else if (len == 127) {
      len = 0;
      for (size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(b[i]);
      at = 10;
    }
    if (b.size() < at + len) break;
    out.emplace_back(static_cast<uint8_t>(b[0]), std::string(b.substr(at, len)));
    b.remove_prefix(at + len);
  }
  return out;
}

std::string masked(int first_byte, std::string_view payload) {  // payload < 126 bytes
  std::string f{static_cast<char>(first_byte), static_cast<char>(0x80 | payload.size())};
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

// The framing by hand: a ping is answered with its payload, an unmasked
// frame closes the connection with 1002; an offer the server cannot honour
// (a smaller server window) is answered without compression.
TEST(Live, PingsArePongedAndProtocolErrorsCloseWith1002) {
  TestServer s({{"live.flush_ms", "50"}});
  test::RawConnection c(s.port());
  ASSERT_TRUE(c.send("GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\r\n"));
  auto head = c.read_response(5s);
  ASSERT_EQ(head.data.rfind("HTTP/1.1 101", 0), 0u) << head.data;
  // RFC 6455 1.3's example key and its accept value.
  EXPECT_NE(head.data.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << head.data;
  EXPECT_EQ(head.data.find("Sec-WebSocket-Extensions"), std::string::npos) << head.data;
  std::string hello = R"({"op":"hello","token":")" + s.token(Role::dispatcher) + "\"}";
  ASSERT_LT(hello.size(), 126u);
  ASSERT_TRUE(c.send(masked(0x81, hello) + masked(0x89, "abc")));
  std::this_thread::sleep_for(300ms);  // the snapshot goes out at the next flush
  ASSERT_TRUE(c.send(std::string("\x81\x02hi", 4)));  // not masked
  auto rest = c.read_until_close(5s);
  EXPECT_TRUE(rest.closed);
  auto frames = server_frames(rest.data);
  ASSERT_GE(frames.size(), 3u) << rest.data;
  auto snapshot = std::find_if(frames.begin(), frames.end(), [](const auto& fr) { return fr.first == 0x81; });
  ASSERT_NE(snapshot, frames.end()) << "a plain text frame";
  EXPECT_EQ(snapshot->second.rfind(R"({"type":"snapshot","seq":1)", 0), 0u) << snapshot->second;
  EXPECT_NE(std::find(frames.begin(), frames.end(), std::make_pair(0x8A, std::string("abc"))), frames.end());
  EXPECT_EQ(frames.back().first, 0x88);
  ASSERT_GE(frames.back().second.size(), 2u);
  EXPECT_EQ((static_cast<uint8_t>(frames.back().second[0]) << 8) | static_cast<uint8_t>(frames.back().second[1]), 1002);
  EXPECT_EQ(metric(s.metrics_page(), "patrolmap_websocket_closed_refused_total"), 1);
}

// A message as a client compresses it with no context takeover.
std::string client_deflate(std::string_view text) { return test::ClientDeflater().message(text); }

// The browser's side with real zlib (what Chromium runs): compressed client
// messages with client_no_context_takeover, and every server frame (RSV1)
// inflated by one zlib context kept across messages.
TEST(Live, DeflateWithZlibOnTheClientAndClientNoContextTakeover) {
  TestServer s({{"ingest.registration", "auto"}, {"live.flush_ms", "50"}});
  std::vector<Ping> start;
  for (int u = 0; u < 300; ++u)
    start.push_back({"Y-" + std::to_string(u), kNow - 600 * kSec, u < 200 ? kInLat : kOutLat,
                     (u < 200 ? kInLon : kOutLon) + 0.00001 * u, {}, {}});
  ASSERT_EQ(s.post_pings(s.token(Role::gateway), pings_json(start)).status, 202);
  test::RawConnection c(s.port());
  ASSERT_TRUE(c.send("GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n\r\n"));
  auto head = c.read_response(5s);
  ASSERT_EQ(head.data.rfind("HTTP/1.1 101", 0), 0u) << head.data;
  EXPECT_NE(head.data.find("permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"),
            std::string::npos)
      << head.data;
  std::string hello = client_deflate(R"({"op":"hello","token":")" + s.token(Role::dispatcher) + "\"}");
  std::string viewport = client_deflate(R"({"op":"viewport","bbox":)" + kBoxAroundIn + "}");
  ASSERT_LT(hello.size(), 126u);
  ASSERT_TRUE(c.send(masked(0xC1, hello)));
  std::this_thread::sleep_for(400ms);  // the snapshot
  ASSERT_TRUE(c.send(masked(0xC1, viewport)));
  std::this_thread::sleep_for(400ms);  // the viewport's delta
  ASSERT_TRUE(c.send(masked(0x88, std::string("\x03\xe8", 2))));  // close 1000
  auto rest = c.read_until_close(5s);
  EXPECT_TRUE(rest.closed);
  auto frames = server_frames(rest.data);
  ASSERT_GE(frames.size(), 3u);
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, -15), Z_OK);
  std::vector<std::string> texts;
  for (auto& [op, payload] : frames) {
    if (op != 0xC1) continue;
    payload += std::string("\0\0\xff\xff", 4);
    z.next_in = reinterpret_cast<Bytef*>(payload.data());
    z.avail_in = static_cast<uInt>(payload.size());
    std::string out(1 << 20, '\0');
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&z, Z_SYNC_FLUSH), Z_OK);
    EXPECT_EQ(z.avail_in, 0u);
    out.resize(out.size() - z.avail_out);
    texts.push_back(out);
  }
  inflateEnd(&z);
  ASSERT_EQ(texts.size(), 2u) << "snapshot and the viewport's delta, both compressed";
  rapidjson::Document snap, delta;
  snap.Parse(texts[0].c_str());
  delta.Parse(texts[1].c_str());
  ASSERT_TRUE(snap.IsObject()) << texts[0].substr(0, 200);
  ASSERT_TRUE(delta.IsObject()) << texts[1].substr(0, 200);
  EXPECT_EQ(snap["seq"].GetUint64(), 1u);
  EXPECT_EQ(ids(snap, "units").size(), 300u);
  EXPECT_EQ(delta["seq"].GetUint64(), 2u);
  EXPECT_EQ(ids(delta, "removed").size(), 100u);
  // The close handshake: the server echoes 1000 and closes.
  EXPECT_EQ(frames.back(), std::make_pair(0x88, std::string("\x03\xe8", 2)));
  EXPECT_EQ(metric(s.metrics_page(), "patrolmap_websocket_closed_refused_total"), 0);
}

// Keepalive: a client that sends nothing is pinged after half of
// live.keepalive_s and disconnected (no pong) by the end of the next half.
TEST(Live, ASilentClientIsPingedThenDisconnected) {
  TestServer s({{"live.flush_ms", "50"}, {"live.keepalive_s", "1"}});
  test::RawConnection c(s.port());
  ASSERT_TRUE(c.send("GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  ASSERT_EQ(c.read_response(5s).data.rfind("HTTP/1.1 101", 0), 0u);
  ASSERT_TRUE(c.send(masked(0x81, R"({"op":"hello","token":")" + s.token(Role::dispatcher) + "\"}")));
  auto rest = c.read_until_close(10s);
  EXPECT_TRUE(rest.closed);
  EXPECT_LT(rest.elapsed, 4s) << "closed within 1.5 keepalive periods (plus scheduling)";
  EXPECT_GE(rest.elapsed, 900ms);
  auto frames = server_frames(rest.data);
  EXPECT_NE(std::find(frames.begin(), frames.end(), std::make_pair(0x89, std::string())), frames.end())
      << "a ping before the disconnect";
}

}  // namespace
}  // namespace pm::itest
