// The simulator's core: what it encodes decodes, through the daemon's own
// decoders, to the same device, position, time, speed and heading; units move
// along their routes at their speeds; the crime CSV counts match an
// independent count; the same seed gives the same pings.
#include "tools/sim/sim_core.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "geo/osm_roads.hpp"
#include "server/ingest/json_pings.hpp"
#include "server/ingest/lip.hpp"
#include "server/ingest/nmea.hpp"
#include "server/ingest/osmand.hpp"
#include "tests/support/data_dir.hpp"
#include "tests/support/seed.hpp"

namespace {

using namespace pm::sim;

// 2026-11-22T10:15:03.250Z
constexpr EpochMs kT = 1795342503250;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

WireFix fix_at(double lat, double lon, double speed, double heading, EpochMs t = kT) {
  WireFix f;
  f.device = "AVL-RU11";
  f.t = t;
  f.lat = lat;
  f.lon = lon;
  f.speed_mps = speed;
  f.heading_deg = heading;
  f.accuracy_m = 5;
  return f;
}

// Rutland, plus points in every quadrant of the globe (signs of the encodings).
std::vector<WireFix> sample_fixes() {
  std::vector<WireFix> v;
  std::mt19937_64 rng(pm::test::seed_from_env(20261122));
  std::uniform_real_distribution<double> lat(52.52, 52.76), lon(-0.82, -0.43), sp(0, 45), hd(0, 359.9);
  for (int i = 0; i < 200; ++i) v.push_back(fix_at(lat(rng), lon(rng), sp(rng), hd(rng), kT + i * 1237));
  v.push_back(fix_at(-37.899131, 145.142012, 3, 10));
  v.push_back(fix_at(55.7339323, 37.6503289, 0, 0));
  v.push_back(fix_at(-33.9, -70.6, 30, 355));
  return v;
}

// ------------------------------------------------------------------ encoders

TEST(SimEncoders, JsonPingRoundTrips) {
  for (const auto& f : sample_fixes()) {
    std::string body = "[" + encode_json_ping(f) + "]";
    pm::JsonPingBatch b;
    ASSERT_FALSE(pm::decode_json_pings(body, 10, b).has_value());
    ASSERT_EQ(b.pings.size(), 1u) << body;
    const auto& p = b.pings[0];
    EXPECT_EQ(p.device, f.device);
    EXPECT_EQ(p.t, f.t);
    EXPECT_NEAR(p.lat, f.lat, 1e-7);
    EXPECT_NEAR(p.lon, f.lon, 1e-7);
    // RapidJSON's writer cuts (does not round) at the 2 decimals asked for.
    EXPECT_NEAR(p.speed_mps, f.speed_mps, 0.01 + 1e-6);
    EXPECT_NEAR(p.heading_deg, f.heading_deg, 0.01 + 1e-6);
    EXPECT_NEAR(p.accuracy_m, 5.0, 1e-6);
  }
}

TEST(SimEncoders, NmeaDatagramRoundTrips) {
  for (const auto& f : sample_fixes()) {
    std::string d = encode_nmea(f);
    // Every line has a checksum the decoder accepts.
    std::istringstream lines(d);
    for (std::string l; std::getline(lines, l);) EXPECT_TRUE(pm::nmea_checksum_ok(l)) << l;
    pm::DecodedPings out;
    pm::decode_nmea_datagram(d, out);
    ASSERT_EQ(out.pings.size(), 1u) << d;
    ASSERT_TRUE(out.rejections.empty()) << d;
    const auto& p = out.pings[0];
    EXPECT_EQ(p.device, f.device);
    EXPECT_EQ(p.t, f.t);              // hhmmss.sss: to the millisecond
    EXPECT_NEAR(p.lat, f.lat, 1e-7);  // minutes to 6 decimals: 2e-8 degrees
    EXPECT_NEAR(p.lon, f.lon, 1e-7);
    EXPECT_NEAR(p.speed_mps, f.speed_mps, 0.005 * 1852.0 / 3600.0 + 1e-6);  // knots to 2 decimals
    EXPECT_NEAR(p.heading_deg, f.heading_deg, 0.05 + 1e-6);
    EXPECT_NEAR(p.accuracy_m, 5.0, 1e-3);  // HDOP 1.0 x 5 m
  }
}

// LIP resolution: longitude 360/2^25, latitude 180/2^24 degrees; half a step after rounding.
constexpr double kLonStep = 360.0 / 33554432.0, kLatStep = 180.0 / 16777216.0;

double lip_speed_tolerance(double mps) {
  double kmh = mps * 3.6;
  // Up to 28 km/h whole km/h; above, a 3.8 % ladder (half a step either way).
  return kmh < 28.5 ? 0.5 / 3.6 + 1e-6 : mps * 0.019 + 1e-6;
}

double angle_diff(double a, double b) {
  double d = std::fmod(std::fabs(a - b), 360.0);
  return d > 180 ? 360 - d : d;
}

TEST(SimEncoders, LipShortReportRoundTripsOverUdp) {
  const EpochMs now = kT + 777;
  for (auto f : sample_fixes()) {
    f.device = "2351002";
    std::string hex = encode_lip_short(f, 129);
    EXPECT_EQ(hex.size(), 22u);  // 84 bits padded to 11 octets
    pm::DecodedPings out;
    pm::decode_lip_datagram(lip_datagram(f.device, hex), now, out);
    ASSERT_EQ(out.pings.size(), 1u) << hex;
    const auto& p = out.pings[0];
    EXPECT_EQ(p.device, "2351002");
    EXPECT_EQ(p.t, now);  // "< 5 s" elapsed: the time of receipt
    EXPECT_NEAR(p.lat, f.lat, kLatStep / 2 + 1e-12);
    EXPECT_NEAR(p.lon, f.lon, kLonStep / 2 + 1e-12);
    EXPECT_NEAR(p.speed_mps, f.speed_mps, lip_speed_tolerance(f.speed_mps));
    EXPECT_LE(angle_diff(p.heading_deg, f.heading_deg), 11.25 + 1e-6);
    EXPECT_FLOAT_EQ(p.accuracy_m, 20.f);  // 5 m: class "< 20 m"
    EXPECT_FALSE(p.emergency);
    auto r = pm::decode_lip(hex);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->reason, 129);
  }
}

TEST(SimEncoders, LipLongReportCarriesTheTimeOfPosition) {
  for (auto f : sample_fixes()) {
    f.device = "2351003";
    f.t = f.t / 1000 * 1000;  // the report has whole seconds
    std::string hex = encode_lip_long(f, 129);
    pm::DecodedPings out;
    // Received 40 s later: the fix keeps its own time.
    pm::decode_lip_datagram(lip_datagram(f.device, hex), f.t + 40'000, out);
    ASSERT_EQ(out.pings.size(), 1u) << hex;
    const auto& p = out.pings[0];
    EXPECT_EQ(p.t, f.t);
    EXPECT_NEAR(p.lat, f.lat, kLatStep / 2 + 1e-12);
    EXPECT_NEAR(p.lon, f.lon, kLonStep / 2 + 1e-12);
    EXPECT_NEAR(p.speed_mps, f.speed_mps, lip_speed_tolerance(f.speed_mps));
    EXPECT_LE(angle_diff(p.heading_deg, f.heading_deg), 360.0 / 512 + 1e-6);
    EXPECT_FLOAT_EQ(p.accuracy_m, 20.f);
  }
}

TEST(SimEncoders, LipEmergencyAndVelocityCodes) {
  auto f = fix_at(52.67, -0.73, 10, 90);
  f.emergency = true;
  auto r = pm::decode_lip(encode_lip_short(f));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->emergency);
  // The velocity ladder, both regimes and the ends, against the decoder.
  for (double kmh : {0.0, 1.0, 27.9, 28.6, 40.0, 80.0, 112.0, 160.0, 200.0}) {
    auto g = fix_at(52.67, -0.73, kmh / 3.6, 0);
    auto d = pm::decode_lip(encode_lip_short(g));
    ASSERT_TRUE(d);
    EXPECT_NEAR(d->speed_mps, g.speed_mps, lip_speed_tolerance(g.speed_mps)) << kmh;
  }
  EXPECT_EQ(lip_velocity_code(std::nan("")), 127);
  EXPECT_EQ(lip_position_error_code(1.0), 0);
  EXPECT_EQ(lip_position_error_code(5.0), 1);
  EXPECT_EQ(lip_position_error_code(150.0), 2);
}

TEST(SimEncoders, PeiStreamSplitAnywhereRoundTrips) {
  auto fixes = sample_fixes();
  std::string stream = "AT+CTSP=1,3,10\r\nOK\r\n";
  for (size_t i = 0; i < 20; ++i) stream += pei_report(std::to_string(2351010 + i), encode_lip_short(fixes[i], 129));
  pm::PeiStream pei;
  pm::DecodedPings out;
  // Split into 7-byte reads, as a serial port might deliver them.
  for (size_t at = 0; at < stream.size(); at += 7) pei.feed(std::string_view(stream).substr(at, 7), kT, out);
  ASSERT_EQ(out.pings.size(), 20u);
  EXPECT_EQ(pei.counters().length_mismatch, 0u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(out.pings[i].device, std::to_string(2351010 + i));
    EXPECT_NEAR(out.pings[i].lat, fixes[i].lat, kLatStep / 2 + 1e-12);
    EXPECT_NEAR(out.pings[i].lon, fixes[i].lon, kLonStep / 2 + 1e-12);
  }
}

TEST(SimEncoders, OsmandQueryRoundTrips) {
  for (auto f : sample_fixes()) {
    f.device = "APP-RP02";
    pm::DecodedPings out;
    pm::decode_osmand_query(encode_osmand_query(f), 0, out);
    ASSERT_EQ(out.pings.size(), 1u) << encode_osmand_query(f);
    const auto& p = out.pings[0];
    EXPECT_EQ(p.device, "APP-RP02");
    EXPECT_EQ(p.t, f.t / 1000 * 1000);  // epoch seconds, as Traccar Client sends
    pm::DecodedPings ms;
    pm::decode_osmand_query(encode_osmand_query(f, true), 0, ms);
    ASSERT_EQ(ms.pings.size(), 1u);
    EXPECT_EQ(ms.pings[0].t, f.t);  // epoch milliseconds, as OsmAnd sends
    EXPECT_NEAR(p.lat, f.lat, 1e-7);
    EXPECT_NEAR(p.lon, f.lon, 1e-7);
    EXPECT_NEAR(p.speed_mps, f.speed_mps, 0.005 * pm::kMpsPerKnot + 1e-6);
    EXPECT_NEAR(p.heading_deg, f.heading_deg, 0.05 + 1e-6);
    EXPECT_NEAR(p.accuracy_m, 5.0, 1e-6);
  }
}

// ------------------------------------------------------------------ movement

TEST(SimMovement, StraightPathTimesAndPositions) {
  // 500 m north-east-ish, then 600 m north, at 10 m/s: 110 s.
  Path p = straight_path({{0, 0}, {300, 400}, {300, 1000}}, 10.0);
  ASSERT_EQ(p.times_s.size(), 3u);
  EXPECT_DOUBLE_EQ(p.duration_s(), 110.0);
  auto m = position_at(p, 25);
  EXPECT_NEAR(m.xy.x, 150, 1e-9);
  EXPECT_NEAR(m.xy.y, 200, 1e-9);
  EXPECT_NEAR(m.speed_mps, 10, 1e-9);
  EXPECT_NEAR(m.heading_deg, std::atan2(300.0, 400.0) * 180 / M_PI, 1e-9);
  m = position_at(p, 80);
  EXPECT_NEAR(m.xy.x, 300, 1e-9);
  EXPECT_NEAR(m.xy.y, 700, 1e-9);
  EXPECT_NEAR(m.heading_deg, 0, 1e-9);
  m = position_at(p, 1e6);  // clamped at the end, standing
  EXPECT_EQ(m.xy, (pm::geo::XY{300, 1000}));
  EXPECT_EQ(m.speed_mps, 0);
}

TEST(SimMovement, RoadPathUsesEachEdgeSpeed) {
  // An L of two roads: 1000 m at 36 km/h (10 m/s), then 1000 m at 72 km/h (20 m/s).
  std::vector<pm::geo::XY> nodes{{0, 0}, {1000, 0}, {1000, 1000}};
  std::vector<pm::geo::RoadEdgeInput> edges{{0, 1, 36, pm::geo::RoadClass::residential, pm::geo::kNoId},
                                            {1, 0, 36, pm::geo::RoadClass::residential, pm::geo::kNoId},
                                            {1, 2, 72, pm::geo::RoadClass::primary, pm::geo::kNoId},
                                            {2, 1, 72, pm::geo::RoadClass::primary, pm::geo::kNoId}};
  auto g = pm::geo::RoadGraph::build(nodes, edges);
  ASSERT_TRUE(g) << g.error();
  auto r = g->route({0, 0}, {1000, 1000});
  ASSERT_TRUE(r);
  Path p = road_path(*g, *r);
  EXPECT_NEAR(p.duration_s(), 150.0, 1e-3);
  EXPECT_NEAR(p.duration_s(), r->time_s, 1e-3);
  auto m = position_at(p, 50);  // halfway down the slow road
  EXPECT_NEAR(m.xy.x, 500, 1e-3);
  EXPECT_NEAR(m.xy.y, 0, 1e-3);
  EXPECT_NEAR(m.speed_mps, 10, 1e-3);
  m = position_at(p, 125);  // halfway up the fast one
  EXPECT_NEAR(m.xy.x, 1000, 1e-3);
  EXPECT_NEAR(m.xy.y, 500, 1e-3);
  EXPECT_NEAR(m.speed_mps, 20, 1e-3);
  // Every sampled position lies on the route (x = 0..1000 on y = 0, or x = 1000).
  for (double t = 0; t <= 150; t += 0.5) {
    auto q = position_at(p, t).xy;
    EXPECT_TRUE(std::fabs(q.y) < 1e-6 || std::fabs(q.x - 1000) < 1e-6) << t;
  }
}

Scenario one_walker() {
  auto sc = parse_scenario(R"({"units":[{"id":"RF01","type":"foot","home":{"points":[[-0.7270,52.6705]]},
      "devices":[{"id":"2351002","channel":"lip_udp","interval_s":30}]}]})");
  EXPECT_TRUE(sc) << sc.error();
  return *sc;
}

TEST(SimMovement, DispatchedWalkerArrivesWhenItsSpeedSays) {
  auto proj = pm::geo::Projection::create();
  ASSERT_TRUE(proj);
  FleetOptions opt;
  opt.on_scene_min_s = opt.on_scene_max_s = 120;
  Fleet fleet(one_walker(), nullptr, *proj, 5, kT, opt);
  // 2100 m due grid-north of the start; urgent walking is 1.5 x 1.4 m/s = 2.1 m/s: 1000 s.
  auto start = proj->forward({-0.7270, 52.6705});
  auto target = proj->inverse({start.x, start.y + 2100});
  ASSERT_TRUE(fleet.dispatch(0, 42, target, kT));
  std::vector<PingOut> pings;
  std::vector<FleetEvent> events;
  for (EpochMs t = kT; t <= kT + 1300'000; t += 1000) {
    fleet.step(t, pings);
    for (auto& e : fleet.take_events()) events.push_back(e);
    if (t == kT + 500'000) {
      auto at = proj->forward(fleet.position(0, t));
      EXPECT_NEAR(at.x, start.x, 1e-6);
      EXPECT_NEAR(at.y, start.y + 1050, 1e-6);
    }
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, FleetEvent::Kind::arrived);
  EXPECT_EQ(events[0].incident, 42);
  EXPECT_NEAR(static_cast<double>(events[0].t - kT), 1000'000, 1);
  EXPECT_EQ(events[1].kind, FleetEvent::Kind::job_done);
  EXPECT_NEAR(static_cast<double>(events[1].t - events[0].t), 120'000, 1);
  EXPECT_EQ(fleet.mode(0), UnitMode::patrol);
  // A radio every 30 s (less dropouts and outages).
  EXPECT_GT(pings.size(), 30u);
  EXPECT_LE(pings.size(), 44u);
}

// ------------------------------------------------------------------ scenario

TEST(SimScenario, TheRutlandScenarioParses) {
  auto sc = parse_scenario(slurp(std::string(PATROLMAP_SOURCE_DIR) + "/tools/sim/scenarios/rutland.json"));
  ASSERT_TRUE(sc) << sc.error();
  EXPECT_EQ(sc->units.size(), 30u);
  std::set<std::string> types, channels;
  for (const auto& u : sc->units) {
    types.insert(u.type);
    for (const auto& d : u.devices) channels.insert(std::string(to_string(d.channel)));
  }
  EXPECT_EQ(types, (std::set<std::string>{"car", "van", "arv", "dog", "foot", "pcso", "motorcycle"}));
  EXPECT_EQ(channels, (std::set<std::string>{"json", "nmea_udp", "nmea_tcp", "lip_udp", "pei_tcp", "osmand"}));
}

TEST(SimScenario, BadScenariosAreRefusedWithAReason) {
  EXPECT_FALSE(parse_scenario("[]"));
  EXPECT_FALSE(parse_scenario(R"({"units":[]})"));
  auto r = parse_scenario(
      R"({"units":[{"id":"A","home":{"center":[-0.7,52.6]},"devices":[{"id":"0123","channel":"lip_udp"}]}]})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("ISSI"), std::string::npos);
  r = parse_scenario(
      R"({"units":[{"id":"A","home":{"center":[-0.7,52.6]},"devices":[{"id":"X","channel":"smoke"}]}]})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("smoke"), std::string::npos);
  r = parse_scenario(
      R"({"units":[{"id":"A","shift":{"start":"7am","end":"17:00"},"home":{"center":[-0.7,52.6]},"devices":[{"id":"X"}]}]})");
  ASSERT_FALSE(r);
}

TEST(SimScenario, ShiftsPastMidnight) {
  UnitSpec u;
  u.shift_start_min = 22 * 60;
  u.shift_end_min = 7 * 60;
  const EpochMs day = 1795305600000;  // 2026-11-22T00:00:00Z
  EXPECT_TRUE(u.on_shift(day + 23 * 3'600'000));
  EXPECT_TRUE(u.on_shift(day + 6 * 3'600'000));
  EXPECT_FALSE(u.on_shift(day + 7 * 3'600'000));
  EXPECT_FALSE(u.on_shift(day + 12 * 3'600'000));
}

// ------------------------------------------------------------------ crime CSV

TEST(SimCrime, CountsOnTheRealFile) {
  std::string text = slurp(pm::test::data_dir() + "/crime/2022-10-leicestershire-street.csv");
  // Independently, with awk (the file has no quoted fields):
  //   awk -F, 'NR>1{n++; if($5==""||$6=="") e++; else if ($5>=-0.83 && $5<=-0.42 &&
  //            $6>=52.52 && $6<=52.77) r++} END{print n, e, r}' 2022-10-leicestershire-street.csv
  //   -> 9802 402 190
  CrimeStats all;
  auto every = read_crime_csv(text, all);
  EXPECT_EQ(all.rows, 9802u);
  EXPECT_EQ(all.no_coordinates, 402u);
  EXPECT_EQ(all.kept, 9400u);
  EXPECT_EQ(every.size(), 9400u);
  CrimeStats box;
  auto rutland = read_crime_csv(text, box, [](pm::geo::LonLat ll) {
    return ll.lon >= -0.83 && ll.lon <= -0.42 && ll.lat >= 52.52 && ll.lat <= 52.77;
  });
  EXPECT_EQ(box.rows, 9802u);
  EXPECT_EQ(box.no_coordinates, 402u);
  EXPECT_EQ(box.kept, 190u);
  EXPECT_EQ(box.outside, 9400u - 190u);
  EXPECT_EQ(every[0].category, "Criminal damage and arson");
  EXPECT_EQ(every[0].location, "On or near Lancelot Close");
  EXPECT_DOUBLE_EQ(every[0].ll.lon, -1.215560);
}

TEST(SimCrime, CsvQuotesAndTypes) {
  std::vector<std::string> f;
  EXPECT_TRUE(split_csv_line(R"(a,"b, c","d ""e""",)", f));
  EXPECT_EQ(f, (std::vector<std::string>{"a", "b, c", "d \"e\"", ""}));
  EXPECT_FALSE(split_csv_line(R"(a,"b)", f));
  EXPECT_EQ(incident_type_for("Violence and sexual offences"), "violence");
  EXPECT_EQ(incident_type_for("Anti-social behaviour"), "asb");
  EXPECT_EQ(incident_type_for("Something New & Odd"), "something_new_odd");
}

TEST(SimIncidents, RhythmAndGradeMix) {
  // Friday 2026-11-20 22:00 UTC is a busy night; Tuesday 04:00 the quietest.
  const EpochMs fri22 = 1795305600000 - 2 * 86'400'000 + 22 * 3'600'000;
  const EpochMs tue04 = 1795305600000 + 2 * 86'400'000 + 4 * 3'600'000;
  EXPECT_GT(IncidentGenerator::rhythm(fri22), 2.0);
  EXPECT_LT(IncidentGenerator::rhythm(tue04), 0.5);
  std::vector<CrimePoint> crimes{{{-0.72, 52.67}, "Burglary", "On or near High Street"}};
  IncidentGenerator gen(crimes, 9, 10.0, {0.2, 0.5, 0.3});
  int grades[4] = {};
  EpochMs t = 1795305600000;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    auto p = gen.next(t);
    EXPECT_GT(p.t, t);
    t = p.t;
    ++grades[p.grade];
    EXPECT_EQ(p.type, "burglary");
  }
  // 4000 incidents at 10 an hour (x the weekly mean of the rhythm, ~1.1) take ~2-3 weeks.
  double hours = static_cast<double>(t - 1795305600000) / 3'600'000.0;
  EXPECT_GT(n / hours, 8.0);
  EXPECT_LT(n / hours, 14.0);
  EXPECT_NEAR(grades[1] / double(n), 0.2, 0.03);
  EXPECT_NEAR(grades[2] / double(n), 0.5, 0.03);
  EXPECT_NEAR(grades[3] / double(n), 0.3, 0.03);
}

// ------------------------------------------------------------------ determinism

struct Rutland {
  pm::geo::Projection proj = *pm::geo::Projection::create();
  pm::geo::RoadGraph graph = *pm::geo::load_osm_roads(pm::test::data_dir() + "/osm/rutland-latest.osm.pbf", proj);
  Scenario scenario = *parse_scenario(slurp(std::string(PATROLMAP_SOURCE_DIR) + "/tools/sim/scenarios/rutland.json"));
};
const Rutland& rutland() {
  static Rutland r;
  return r;
}

// Thirty simulated minutes of the demo scenario, with one dispatch, as wire payloads.
std::vector<std::string> dry_run(uint64_t seed) {
  const auto& r = rutland();
  FleetOptions opt;
  opt.lip_long = true;
  Fleet fleet(r.scenario, &r.graph, r.proj, seed, kT, opt);
  std::vector<PingOut> pings;
  std::vector<std::string> out;
  for (EpochMs t = kT; t <= kT + 1800'000; t += 1000) {
    if (t == kT + 300'000) fleet.dispatch(0, 1, {-0.5540, 52.6280}, t);  // RU11 to Ketton
    pings.clear();
    fleet.step(t, pings);
    for (const auto& p : pings) out.push_back(std::string(to_string(p.channel)) + " " + p.payload);
    for (const auto& e : fleet.take_events())
      out.push_back("event " + std::to_string(static_cast<int>(e.kind)) + " " + std::to_string(e.unit) + " " +
                    std::to_string(e.t));
  }
  return out;
}

TEST(SimDeterminism, SameSeedSamePingsOtherSeedOthers) {
  const uint64_t seed = pm::test::seed_from_env(7);
  auto a = dry_run(seed), b = dry_run(seed), c = dry_run(seed + 1);
  // 30 units for 30 minutes: 16 AVLs every 5 s (one every 3 s), 5 apps every 5-10 s,
  // 25 radios every 30-60 s: ~8,100 before dropouts (2 %) and outages (1-5 min).
  EXPECT_GT(a.size(), 6500u);
  EXPECT_LT(a.size(), 8200u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // RU11 drove to Ketton (about 14 km from Oakham) and arrived within the half hour.
  bool arrived = std::any_of(a.begin(), a.end(), [](const std::string& s) { return s.rfind("event 0 0 ", 0) == 0; });
  EXPECT_TRUE(arrived);
}

TEST(SimFleet, VehiclesStayOnTheRoads) {
  const auto& r = rutland();
  Fleet fleet(r.scenario, &r.graph, r.proj, 11, kT, FleetOptions{});
  std::vector<PingOut> pings;
  for (EpochMs t = kT; t <= kT + 1200'000; t += 1000) fleet.step(t, pings);
  size_t checked = 0;
  double max_speed = 0;
  for (const auto& p : pings) {
    if (fleet.spec(p.unit).mobility() != Mobility::drive || p.channel != SimChannel::json) continue;
    auto xy = r.proj.forward({p.fix.lon, p.fix.lat});
    auto s = r.graph.snap(xy, 1000);
    ASSERT_TRUE(s);
    // 5 m sigma of noise per axis: 40 m is eight sigmas.
    EXPECT_LT(s->distance_m, 40.0) << fleet.spec(p.unit).id;
    max_speed = std::max(max_speed, p.fix.speed_mps);
    ++checked;
  }
  EXPECT_GT(checked, 1000u);
  EXPECT_GT(max_speed, 15.0);  // someone drove on an A road
  EXPECT_LT(max_speed, 40.0);  // nobody faster than 0.8 x 70 mph (25 m/s)... plus margin for 5 m of noise
}

// Hot spots join the beats: F1 (foot, Oakham) takes H1 although car C1 patrols
// 70 m from it, because F1 is within 3 km (1.8 km); H2, 11-20 km from every
// beat, goes to the nearest beat of any unit (C1, 11 km); H3 is 100 m from F2.
TEST(SimHotspots, EachJoinsTheBeatThatPatrolsNearest) {
  auto proj = pm::geo::Projection::create();
  ASSERT_TRUE(proj) << proj.error();
  Scenario sc;
  auto unit = [](const char* id, const char* type, pm::geo::LonLat beat) {
    UnitSpec u;
    u.id = id;
    u.type = type;
    u.beat_points = {beat};
    return u;
  };
  sc.units = {unit("F1", "foot", {-0.727, 52.670}), unit("C1", "car", {-0.700, 52.670}),
              unit("F2", "pcso", {-0.723, 52.587})};
  UnitSpec roaming;  // centre and radius, no beat: never given hot spots
  roaming.id = "R1";
  roaming.type = "car";
  roaming.center = pm::geo::LonLat{-0.701, 52.670};
  roaming.radius_m = 2000;
  sc.units.push_back(roaming);
  const pm::geo::LonLat h1{-0.701, 52.670}, h2{-0.600, 52.750}, h3{-0.724, 52.588};
  EXPECT_EQ(assign_hotspots(sc, {h1, h2, h3}, *proj), 3u);
  EXPECT_EQ(sc.units[0].beat_points, (std::vector<pm::geo::LonLat>{{-0.727, 52.670}, h1}));
  EXPECT_EQ(sc.units[1].beat_points, (std::vector<pm::geo::LonLat>{{-0.700, 52.670}, h2}));
  EXPECT_EQ(sc.units[2].beat_points, (std::vector<pm::geo::LonLat>{{-0.723, 52.587}, h3}));
  EXPECT_TRUE(sc.units[3].beat_points.empty());
}

TEST(SimHotspots, AreaCentresAreTheMeanOfTheOuterRing) {
  auto c = read_area_centres(R"({"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}},
    {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[5,5]}},
    {"type":"Feature","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[[[[10,10],[12,10],[11,13],[10,10]]]]}}]})");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_DOUBLE_EQ(c[0].lon, 1);
  EXPECT_DOUBLE_EQ(c[0].lat, 1);
  EXPECT_DOUBLE_EQ(c[1].lon, 11);
  EXPECT_DOUBLE_EQ(c[1].lat, 11);
  EXPECT_TRUE(read_area_centres("not json").empty());
}

}  // namespace
