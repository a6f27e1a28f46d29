// Live map fan-out: who gets what (server/live/fanout.hpp).
#include "server/live/fanout.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>

namespace pm::live {
namespace {

constexpr EpochMs kT0 = 1795342503250;  // 2026-11-22T10:15:03.250Z
// Around Leicester; Oakham (-0.73, 52.67) is outside it.
constexpr Bbox kCity{-1.25, 52.55, -1.05, 52.70};

UnitState unit(uint32_t i, double lon, double lat, EpochMs t = kT0) {
  UnitState u;
  u.index = i;
  u.id = "U" + std::to_string(i);
  u.type = "car";
  u.skills = {"taser"};
  u.has_fix = true;
  u.lon = lon;
  u.lat = lat;
  u.fix_time = t;
  return u;
}

std::string stringify(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// A parsed frame.
struct Frame {
  std::string type;
  uint64_t seq = 0;
  std::map<std::string, std::string> units;  // id -> unit JSON
  std::vector<std::string> removed;
  std::vector<std::string> incidents, alerts;  // JSON of each
};

Frame parse(const std::string& text) {
  Frame f;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str());
  EXPECT_FALSE(d.HasParseError()) << text;
  if (d.HasParseError() || !d.IsObject()) return f;
  f.type = d["type"].GetString();
  f.seq = d["seq"].GetUint64();
  for (const auto& u : d["units"].GetArray()) f.units[u["id"].GetString()] = stringify(u);
  EXPECT_EQ(f.units.size(), d["units"].GetArray().Size()) << "a unit twice in one frame: " << text;
  if (f.type == "delta")
    for (const auto& r : d["removed"].GetArray()) f.removed.push_back(r.GetString());
  else
    EXPECT_FALSE(d.HasMember("removed"));
  for (const auto& i : d["incidents"].GetArray()) f.incidents.push_back(stringify(i));
  for (const auto& a : d["alerts"].GetArray()) f.alerts.push_back(stringify(a));
  return f;
}

// What a browser shows after applying snapshot then deltas.
struct ClientView {
  std::map<std::string, std::string> units;
  void apply(const Frame& f) {
    if (f.type == "snapshot") units.clear();
    for (const auto& [id, json] : f.units) units[id] = json;
    for (const auto& id : f.removed) EXPECT_EQ(units.erase(id), 1u) << "removed a unit not shown: " << id;
  }
};

std::vector<std::string> ids(const std::map<std::string, std::string>& m) {
  std::vector<std::string> out;
  for (const auto& [id, json] : m) out.push_back(id);
  return out;
}

using Ids = std::vector<std::string>;

// One unit published and a client on kCity that has taken its snapshot.
SubscriberId client_after_snapshot(FanOut& fan, const UnitState& u) {
  fan.publish_units({&u, 1}, kT0);
  auto sub = fan.add_subscriber(kCity, kAllLayers, kT0);
  EXPECT_EQ(parse(fan.take_frame(sub, 1, kT0)).units.size(), kCity.contains(u.lon, u.lat) ? 1u : 0u);
  return sub;
}

TEST(FanOut, SnapshotHoldsOnlyUnitsInTheBbox) {
  FanOut fan;
  std::vector<UnitState> units{unit(0, -1.13, 52.63), unit(1, -0.73, 52.67), unit(2, -1.20, 52.60)};
  fan.publish_units(units, kT0);
  auto sub = fan.add_subscriber(kCity, kAllLayers, kT0);
  Frame f = parse(fan.take_frame(sub, 7, kT0));
  EXPECT_EQ(f.type, "snapshot");
  EXPECT_EQ(f.seq, 7u);
  EXPECT_EQ(ids(f.units), (Ids{"U0", "U2"}));
  EXPECT_EQ(f.units["U0"], unit_json(units[0]));
  EXPECT_EQ(fan.stats(sub).visible, 2u);
  EXPECT_EQ(fan.take_frame(sub, 8, kT0), "");  // nothing since
}

TEST(FanOut, UnitJsonHasTheSpecFields) {
  UnitState u = unit(3, -1.13, 52.63);
  u.status = UnitStatus::en_route;
  u.speed_mps = 12.5f;
  u.source = Channel::lip_udp;
  u.incident = 42;
  u.emergency = true;
  EXPECT_EQ(unit_json(u),
            R"({"id":"U3","type":"car","status":"en_route","skills":["taser"],"lat":52.63,"lon":-1.13,)"
            R"("speed_mps":12.5,"heading_deg":null,"fix_time":"2026-11-22T10:15:03.250Z","source":"lip_udp",)"
            R"("incident":42,"emergency":true})");
}

TEST(FanOut, ManyUpdatesOfOneUnitBeforeAFlushGiveOneEntryWithTheLastState) {
  FanOut fan;
  auto sub = fan.add_subscriber(kCity, kAllLayers, kT0);
  (void)fan.take_frame(sub, 1, kT0);
  UnitState last;
  for (int k = 0; k < 100; ++k) {
    last = unit(5, -1.20 + k * 0.001, 52.60, kT0 + k * 50);  // within max_lag_ms
    fan.publish_units({&last, 1}, kT0 + k * 50);
  }
  EXPECT_EQ(fan.stats(sub).pending, 1u);
  Frame f = parse(fan.take_frame(sub, 2, kT0 + 5'000));
  EXPECT_EQ(f.type, "delta");
  ASSERT_EQ(ids(f.units), (Ids{"U5"}));
  EXPECT_EQ(f.units["U5"], unit_json(last));
  EXPECT_NE(f.units["U5"].find("\"lon\":-1.101"), std::string::npos) << f.units["U5"];
  EXPECT_TRUE(f.removed.empty());
}

TEST(FanOut, UnitLeavingIsRemovedOnceAndComingBackIsSentAgain) {
  FanOut fan;
  UnitState u = unit(1, -1.13, 52.63);
  auto sub = client_after_snapshot(fan, u);

  u = unit(1, -0.73, 52.67);  // drives to Oakham
  fan.publish_units({&u, 1}, kT0);
  Frame f = parse(fan.take_frame(sub, 2, kT0));
  EXPECT_TRUE(f.units.empty());
  EXPECT_EQ(f.removed, (Ids{"U1"}));

  u = unit(1, -0.72, 52.66);  // moves on outside: nothing more
  fan.publish_units({&u, 1}, kT0);
  EXPECT_EQ(fan.take_frame(sub, 3, kT0), "");

  u = unit(1, -1.10, 52.62);  // back in
  fan.publish_units({&u, 1}, kT0);
  f = parse(fan.take_frame(sub, 3, kT0));
  EXPECT_EQ(f.units["U1"], unit_json(u));
  EXPECT_TRUE(f.removed.empty());
}

TEST(FanOut, OutAndBackBetweenFlushesIsOneUpdate) {
  FanOut fan;
  auto sub = client_after_snapshot(fan, unit(1, -1.13, 52.63));
  UnitState out = unit(1, -0.73, 52.67), back = unit(1, -1.12, 52.64);
  fan.publish_units({&out, 1}, kT0);
  fan.publish_units({&back, 1}, kT0);
  Frame f = parse(fan.take_frame(sub, 2, kT0));
  EXPECT_EQ(f.units["U1"], unit_json(back));
  EXPECT_TRUE(f.removed.empty());
}

TEST(FanOut, ViewportChangeSendsEnteringUnitsInFullAndRemovesLeavingOnes) {
  FanOut fan;
  std::vector<UnitState> units{unit(0, -1.20, 52.60),   // old window only
                               unit(1, -1.07, 52.65),   // both
                               unit(2, -0.95, 52.65)};  // new window only
  units[2].status = UnitStatus::on_scene;
  fan.publish_units(units, kT0);
  auto sub = fan.add_subscriber(kCity, kAllLayers, kT0);
  EXPECT_EQ(ids(parse(fan.take_frame(sub, 1, kT0)).units), (Ids{"U0", "U1"}));
  fan.set_viewport(sub, Bbox{-1.10, 52.55, -0.90, 52.70});
  Frame f = parse(fan.take_frame(sub, 2, kT0));
  EXPECT_EQ(ids(f.units), (Ids{"U2"}));
  EXPECT_EQ(f.units["U2"], unit_json(units[2]));
  EXPECT_EQ(f.removed, (Ids{"U0"}));
}

TEST(FanOut, AlertsReachASubscriberWhateverItsBbox) {
  FanOut fan;
  auto far = fan.add_subscriber(Bbox{-3.0, 51.0, -2.9, 51.1}, kAllLayers, kT0);  // Bristol
  auto no_alerts = fan.add_subscriber(Bbox{-3.0, 51.0, -2.9, 51.1}, kUnits | kIncidents, kT0);
  (void)fan.take_frame(far, 1, kT0);
  (void)fan.take_frame(no_alerts, 1, kT0);
  fan.publish_alert(9, R"({"id":9,"kind":"officer_emergency","lat":52.63,"lon":-1.13})", true, kT0);
  Frame f = parse(fan.take_frame(far, 2, kT0));
  ASSERT_EQ(f.alerts.size(), 1u);
  EXPECT_NE(f.alerts[0].find("officer_emergency"), std::string::npos);
  EXPECT_EQ(fan.take_frame(no_alerts, 2, kT0), "");
  // A new subscriber's snapshot holds the active alert; once cleared it is not.
  auto late = fan.add_subscriber(Bbox{0, 0, 0.1, 0.1}, kAllLayers, kT0);
  EXPECT_EQ(parse(fan.take_frame(late, 1, kT0)).alerts.size(), 1u);
  fan.publish_alert(9, R"({"id":9,"acknowledged":true})", false, kT0);
  EXPECT_EQ(parse(fan.take_frame(late, 2, kT0)).alerts.size(), 1u);  // the clearing itself
  EXPECT_TRUE(parse(fan.snapshot(late, 3, kT0)).alerts.empty());
}

TEST(FanOut, IncidentsAreRoutedByPosition) {
  FanOut fan;
  auto city = fan.add_subscriber(kCity, kAllLayers, kT0);
  auto oakham = fan.add_subscriber(Bbox{-0.8, 52.6, -0.7, 52.7}, kAllLayers, kT0);
  (void)fan.take_frame(city, 1, kT0);
  (void)fan.take_frame(oakham, 1, kT0);
  fan.publish_incident(4, R"({"id":4})", 52.63, -1.13, true, kT0);
  EXPECT_EQ(parse(fan.take_frame(city, 2, kT0)).incidents, (Ids{R"({"id":4})"}));
  EXPECT_EQ(fan.take_frame(oakham, 2, kT0), "");
  fan.set_viewport(oakham, kCity);  // the open incident enters its window
  EXPECT_EQ(parse(fan.take_frame(oakham, 3, kT0)).incidents, (Ids{R"({"id":4})"}));
}

TEST(FanOut, UnitsLayerOffGetsNoUnits) {
  FanOut fan;
  UnitState u = unit(0, -1.13, 52.63);
  fan.publish_units({&u, 1}, kT0);
  auto sub = fan.add_subscriber(kCity, kIncidents | kAlerts, kT0);
  Frame f = parse(fan.take_frame(sub, 1, kT0));
  EXPECT_TRUE(f.units.empty());
  u.lon = -1.14;
  fan.publish_units({&u, 1}, kT0);
  fan.set_viewport(sub, Bbox{-1.3, 52.5, -1.0, 52.8});
  EXPECT_EQ(fan.take_frame(sub, 2, kT0), "");
}

TEST(FanOut, PendingIsBoundedAndOverflowGivesASnapshot) {
  FanOut fan({.max_pending = 10, .max_lag_ms = 60'000});
  auto sub = fan.add_subscriber(kCity, kAllLayers, kT0);
  (void)fan.take_frame(sub, 1, kT0);
  std::vector<UnitState> units;
  for (uint32_t i = 0; i < 25; ++i) {
    units.push_back(unit(i, -1.2 + i * 0.001, 52.6));
    fan.publish_units({&units.back(), 1}, kT0);
    EXPECT_LE(fan.stats(sub).pending, 10u) << i;
  }
  auto st = fan.stats(sub);
  EXPECT_TRUE(st.needs_snapshot);
  EXPECT_EQ(st.overflows, 1u);
  EXPECT_EQ(st.pending, 0u);
  Frame f = parse(fan.take_frame(sub, 2, kT0));
  EXPECT_EQ(f.type, "snapshot");
  EXPECT_EQ(f.units.size(), 25u);
  EXPECT_FALSE(fan.stats(sub).needs_snapshot);
}

TEST(FanOut, AClientThatStopsReadingForTooLongGetsASnapshot) {
  FanOut fan({.max_pending = 1000, .max_lag_ms = 5'000});
  auto slow = fan.add_subscriber(kCity, kAllLayers, kT0);
  auto fast = fan.add_subscriber(kCity, kAllLayers, kT0);
  (void)fan.take_frame(slow, 1, kT0);
  (void)fan.take_frame(fast, 1, kT0);
  for (int s = 1; s <= 8; ++s) {
    UnitState u = unit(0, -1.2 + s * 0.001, 52.6);
    fan.publish_units({&u, 1}, kT0 + s * 1000);
    EXPECT_EQ(parse(fan.take_frame(fast, 1 + s, kT0 + s * 1000)).type, "delta");
  }
  EXPECT_TRUE(fan.stats(slow).needs_snapshot);
  EXPECT_FALSE(fan.stats(fast).needs_snapshot);
  EXPECT_EQ(parse(fan.take_frame(slow, 2, kT0 + 9000)).type, "snapshot");
}

TEST(FanOut, TwoSubscribersWithDifferentBboxesGetDifferentFrames) {
  FanOut fan;
  auto city = fan.add_subscriber(kCity, kAllLayers, kT0);
  auto oakham = fan.add_subscriber(Bbox{-0.8, 52.6, -0.7, 52.7}, kAllLayers, kT0);
  auto world = fan.add_subscriber(Bbox{}, kAllLayers, kT0);  // the "wide" list
  for (auto s : {city, oakham, world}) (void)fan.take_frame(s, 1, kT0);
  std::vector<UnitState> units{unit(0, -1.13, 52.63), unit(1, -0.73, 52.67)};
  fan.publish_units(units, kT0);
  EXPECT_EQ(ids(parse(fan.take_frame(city, 2, kT0)).units), (Ids{"U0"}));
  EXPECT_EQ(ids(parse(fan.take_frame(oakham, 2, kT0)).units), (Ids{"U1"}));
  EXPECT_EQ(ids(parse(fan.take_frame(world, 2, kT0)).units), (Ids{"U0", "U1"}));
  fan.remove_subscriber(city);
  EXPECT_EQ(fan.subscriber_count(), 2u);
  fan.publish_units(units, kT0);
  EXPECT_EQ(fan.take_frame(city, 3, kT0), "");
}

// Random units moving over the two counties, random windows, random flushes,
// viewport moves and a small pending bound: after every flush the client's
// picture equals the units inside its window, in their latest state.
TEST(FanOut, PropertyClientViewEqualsBruteForce) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("PATROLMAP_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "seed " << seed << " (PATROLMAP_SEED to repeat)\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto random_bbox = [&] {
    if (pick(8) == 0) return Bbox{};  // everything
    double w = uni(-1.7, -0.5), s = uni(52.3, 52.9);
    return Bbox{w, s, w + uni(0.02, 1.5), s + uni(0.02, 0.5)};
  };

  FanOut fan({.max_pending = 60, .max_lag_ms = 1'000'000});
  constexpr uint32_t kUnitsN = 300;
  std::vector<UnitState> latest;
  for (uint32_t i = 0; i < kUnitsN; ++i) {
    latest.push_back(unit(i, uni(-1.62, -0.40), uni(52.38, 52.99)));
    latest.back().has_fix = pick(20) != 0;
  }
  fan.publish_units(latest, kT0);

  struct Client {
    SubscriberId id;
    Bbox bbox;
    ClientView view;
    uint64_t seq = 0;
  };
  std::vector<Client> clients;
  for (int c = 0; c < 6; ++c) {
    Bbox b = random_bbox();
    clients.push_back({fan.add_subscriber(b, kAllLayers, kT0), b, {}, 0});
  }
  uint64_t overflows = 0;
  for (int round = 0; round < 400; ++round) {
    EpochMs now = kT0 + round * 200;
    std::vector<UnitState> batch;
    for (size_t n = pick(40); n > 0; --n) {
      UnitState& u = latest[pick(kUnitsN)];
      switch (pick(4)) {
        case 0:
          u.lon = uni(-1.62, -0.40), u.lat = uni(52.38, 52.99);
          break;  // jump
        case 1:
          u.status = static_cast<UnitStatus>(pick(6));
          break;  // status only
        default:
          u.lon += uni(-0.03, 0.03), u.lat += uni(-0.03, 0.03);
          break;  // drive
      }
      u.has_fix = true;
      u.fix_time = now;
      batch.push_back(u);
    }
    fan.publish_units(batch, now);
    for (auto& c : clients) {
      if (pick(30) == 0) fan.set_viewport(c.id, c.bbox = random_bbox());
      if (pick(3) != 0) continue;  // this client reads later
      std::string text = fan.take_frame(c.id, ++c.seq, now);
      if (!text.empty()) {
        Frame f = parse(text);
        ASSERT_EQ(f.seq, c.seq);
        c.view.apply(f);
      }
      std::map<std::string, std::string> expect;
      for (const auto& u : latest)
        if (u.has_fix && c.bbox.contains(u.lon, u.lat)) expect[u.id] = unit_json(u);
      ASSERT_EQ(c.view.units, expect) << "seed " << seed << " round " << round;
      ASSERT_LE(fan.stats(c.id).pending, 60u);
      EXPECT_EQ(fan.stats(c.id).visible, expect.size());
    }
  }
  for (auto& c : clients) overflows += fan.stats(c.id).overflows;
  std::cout << "overflows " << overflows << "\n";
}

// The daemon's path: one cut per tick for the ready subscribers. Twin fan-outs
// fed the same updates, one cut with cut_ready (subscribers marked ready
// again at random, several sharing a window), the other read one subscriber
// at a time with take_frame: every frame is the same text, identical
// subscribers share one body, and the picture equals the brute-force one.
TEST(FanOut, CutReadyGivesEachSubscriberTheFrameTakeFrameWouldAndSharesBodies) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("PATROLMAP_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "seed " << seed << " (PATROLMAP_SEED to repeat)\n";
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };

  const FanOutOptions opt{.max_pending = 80, .max_lag_ms = 1'000'000};
  FanOut a(opt), b(opt);
  constexpr uint32_t kUnitsN = 200;
  std::vector<UnitState> latest;
  for (uint32_t i = 0; i < kUnitsN; ++i) latest.push_back(unit(i, uni(-1.62, -0.40), uni(52.38, 52.99)));
  a.publish_units(latest, kT0);
  b.publish_units(latest, kT0);
  const std::vector<Bbox> windows = {Bbox{}, Bbox{}, Bbox{}, kCity, kCity, Bbox{-1.0, 52.5, -0.5, 52.9}};
  struct Client {
    SubscriberId ia, ib;
    Bbox bbox;
    ClientView view;
    uint64_t seq = 0;
    bool ready = true;
  };
  std::vector<Client> clients;
  for (const auto& w : windows)
    clients.push_back({a.add_subscriber(w, kAllLayers, kT0), b.add_subscriber(w, kAllLayers, kT0), w, {}, 0, true});
  size_t shared = 0, cuts = 0;
  for (int round = 0; round < 300; ++round) {
    EpochMs now = kT0 + round * 200;
    std::vector<UnitState> batch;
    for (size_t n = pick(60); n > 0; --n) {
      UnitState& u = latest[pick(kUnitsN)];
      u.lon += uni(-0.05, 0.05), u.lat += uni(-0.05, 0.05);
      u.fix_time = now;
      batch.push_back(u);
    }
    a.publish_units(batch, now);
    b.publish_units(batch, now);
    if (pick(5) == 0) {
      uint64_t id = 1 + pick(3);
      std::string json = R"({"id":)" + std::to_string(id) + R"(,"round":)" + std::to_string(round) + "}";
      a.publish_alert(id, json, true, now);
      b.publish_alert(id, json, true, now);
    }
    for (auto& c : clients)
      if (pick(40) == 0) {
        Bbox w = windows[pick(windows.size())];
        c.bbox = w;
        a.request_viewport(c.ia, w);
        b.request_viewport(c.ib, w);
      }
    auto got = a.cut_ready(now);
    std::map<SubscriberId, const FanOut::Cut*> by_sub;
    std::map<const std::string*, int> uses;
    for (const auto& cut : got) {
      by_sub[cut.sub] = &cut;
      ++uses[cut.body.get()];
    }
    for (auto& c : clients) {
      if (!c.ready) {
        ASSERT_EQ(by_sub.count(c.ia), 0u) << "a subscriber that is not ready was cut";
        continue;
      }
      auto it = by_sub.find(c.ia);
      std::string expect = b.take_frame(c.ib, c.seq + 1, now);
      if (it == by_sub.end()) {
        ASSERT_EQ(expect, "") << "seed " << seed << " round " << round;
        continue;
      }
      ++cuts;
      if (uses[it->second->body.get()] > 1) ++shared;
      std::string text = FanOut::frame_prefix(it->second->snapshot, ++c.seq) + *it->second->body;
      ASSERT_EQ(text, expect) << "seed " << seed << " round " << round;
      c.view.apply(parse(text));
      std::map<std::string, std::string> want;
      for (const auto& u : latest)
        if (c.bbox.contains(u.lon, u.lat)) want[u.id] = unit_json(u);
      ASSERT_EQ(c.view.units, want) << "seed " << seed << " round " << round;
      c.ready = false;
    }
    for (auto& c : clients)
      if (!c.ready && pick(3) != 0) {
        a.set_ready(c.ia);
        c.ready = true;
      }
  }
  std::cout << "cuts " << cuts << ", of them sharing a body " << shared << "\n";
  EXPECT_GT(shared, cuts / 10) << "identical subscribers should share bodies";
}

}  // namespace
}  // namespace pm::live
