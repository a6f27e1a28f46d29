// The device channels end to end over real sockets on 127.0.0.1: NMEA over
// TCP and UDP, TETRA PEI over TCP, LIP over UDP, OsmAnd over HTTP, then the
// unit's position through the API. Expected values come from gpsd's own
// decode (.chk), from the LIP values checked in shared/data/README.md, and
// from payloads and checksums built independently in this file.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/support/nmea_sentence.hpp"
#include "tests/support/data_dir.hpp"

namespace pm::itest {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using test::nmea;

void send_tcp(uint16_t port, const std::string& bytes, unsigned seed) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  // Arbitrary split points, as a serial line or a TCP stream delivers them.
  std::mt19937 rng(seed);
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t n = std::min(bytes.size() - pos, static_cast<size_t>(1 + rng() % 97));
    ASSERT_EQ(::send(fd, bytes.data() + pos, n, MSG_NOSIGNAL), static_cast<ssize_t>(n));
    pos += n;
  }
  ::close(fd);
}

void send_udp(uint16_t port, const std::string& datagram) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
            static_cast<ssize_t>(datagram.size()));
  ::close(fd);
}

// Polls GET /api/v1/units until `pred(unit)` holds for unit `id` or 10 s pass.
template <class Pred>
bool wait_for_unit(TestServer& s, const std::string& token, const std::string& id, Pred pred,
                   rapidjson::Document* last = nullptr) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = s.request("GET", "/api/v1/units", "", token);
    auto d = parse_json(r.body);
    if (d.IsObject() && d.HasMember("units"))
      for (const auto& u : d["units"].GetArray())
        if (u["id"].GetString() == id && pred(u)) {
          if (last) last->CopyFrom(u, last->GetAllocator());
          return true;
        }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

double metric_or_zero(TestServer& s, const std::string& series) { return metric(s.metrics_page(), series).value_or(0); }

TEST(Channels, NmeaOverTcpMatchesGpsdAndMovesTheUnit) {
  TestServer s{{"ingest.registration", "auto"}, {"ingest.too_old_s", "0"}};
  const std::string dir = test::data_dir() + "/nmea/";
  // gpsd's last reported fix of the capture is where the unit must end up.
  double want_lat = 0, want_lon = 0;
  size_t tpv = 0;
  std::istringstream chk(slurp(dir + "haicom-305N.log.chk"));
  for (std::string line; std::getline(chk, line);) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("class") || std::string(d["class"].GetString()) != "TPV")
      continue;
    if (!d.HasMember("mode") || d["mode"].GetInt() < 2 || !d.HasMember("lat") || !d.HasMember("time")) continue;
    want_lat = d["lat"].GetDouble();
    want_lon = d["lon"].GetDouble();
    ++tpv;
  }
  ASSERT_GT(tpv, 50u);
  std::string stream = nmea("PGID,HAICOM-1");
  std::istringstream log(slurp(dir + "haicom-305N.log"));
  for (std::string line; std::getline(log, line);)
    if (!line.empty() && line[0] != '#') stream += line + "\n";
  send_tcp(s.app().nmea_port(), stream, 11);
  auto dispatcher = s.token(Role::dispatcher);
  rapidjson::Document u;
  ASSERT_TRUE(wait_for_unit(
      s, dispatcher, "HAICOM-1", [&](const auto& x) { return !x["lat"].IsNull() && std::abs(x["lat"].GetDouble() - want_lat) < 1e-6; }, &u))
      << "unit never reached gpsd's last fix " << want_lat << "," << want_lon;
  EXPECT_NEAR(u["lon"].GetDouble(), want_lon, 1e-6);
  EXPECT_STREQ(u["source"].GetString(), "nmea_tcp");
  EXPECT_EQ(metric_or_zero(s, "patrolmap_pings_accepted_total{channel=\"nmea_tcp\"}"), 67);  // gpsd: 67 fixes
  EXPECT_EQ(metric_or_zero(s, "patrolmap_pings_rejected_total{channel=\"nmea_tcp\",reason=\"no_fix\"}"), 7);
}

TEST(Channels, NmeaOverUdpIsOneDatagramPerBurst) {
  TestServer s{{"ingest.registration", "auto"}};
  // 2026-11-22 09:59:30 UTC, 52 deg 40.0200' N, 0 deg 43.6620' W, 12.5 knots, course 81.3.
  std::string d = nmea("PGID,VAN-7") + nmea("GNRMC,095930.00,A,5240.0200,N,00043.6620,W,12.5,81.3,221126,,,A") +
                  nmea("GNGGA,095930.00,5240.0200,N,00043.6620,W,1,09,0.9,112.0,M,47.0,M,,");
  send_udp(s.app().nmea_port(), d);
  send_udp(s.app().nmea_port(), nmea("PGID,VAN-8") + "$GNRMC,095930.00,A,5240.0200,N,00043.6620,W,1,1,221126,,,A*00\r\n");
  auto dispatcher = s.token(Role::dispatcher);
  rapidjson::Document u;
  ASSERT_TRUE(wait_for_unit(s, dispatcher, "VAN-7", [](const auto& x) { return !x["lat"].IsNull(); }, &u));
  EXPECT_NEAR(u["lat"].GetDouble(), 52.0 + 40.02 / 60.0, 1e-9);
  EXPECT_NEAR(u["lon"].GetDouble(), -(43.662 / 60.0), 1e-9);
  EXPECT_NEAR(u["speed_mps"].GetDouble(), 12.5 * 1852.0 / 3600.0, 1e-3);
  EXPECT_NEAR(u["heading_deg"].GetDouble(), 81.3, 1e-3);
  EXPECT_STREQ(u["fix_time"].GetString(), "2026-11-22T09:59:30.000Z");
  EXPECT_STREQ(u["source"].GetString(), "nmea_udp");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (metric_or_zero(s, "patrolmap_pings_rejected_total{channel=\"nmea_udp\",reason=\"bad_checksum\"}") < 1 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(metric_or_zero(s, "patrolmap_pings_rejected_total{channel=\"nmea_udp\",reason=\"bad_checksum\"}"), 1);
}

// Builds a LIP short location report bit by bit (ETSI TS 100 392-18-1).
std::string lip_short(int32_t lon_raw, int32_t lat_raw, unsigned pos_err, unsigned velocity, unsigned direction,
                      unsigned reason) {
  std::vector<int> bits;
  auto put = [&](uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) bits.push_back(static_cast<int>((v >> i) & 1));
  };
  put(0x0A, 8);                                              // protocol identifier: LIP
  put(0, 2);                                                 // PDU type: short location report
  put(0, 2);                                                 // time elapsed: < 5 s
  put(static_cast<uint32_t>(lon_raw) & ((1u << 25) - 1), 25);  // two's complement
  put(static_cast<uint32_t>(lat_raw) & ((1u << 24) - 1), 24);
  put(pos_err, 3);
  put(velocity, 7);
  put(direction, 4);
  put(0, 1);  // additional data is a reason for sending
  put(reason, 8);
  while (bits.size() % 4) bits.push_back(0);
  std::string hex;
  for (size_t i = 0; i < bits.size(); i += 4)
    hex.push_back("0123456789ABCDEF"[bits[i] * 8 + bits[i + 1] * 4 + bits[i + 2] * 2 + bits[i + 3]]);
  return hex;
}

TEST(Channels, LipOverUdpWithTheReadmeValuesAndAnEmergency) {
  TestServer s{{"ingest.registration", "auto"}};
  // shared/data/README.md: longitude raw 3509265 -> 37.6503289, latitude raw 5194779 -> 55.7339323.
  // Position error 1 (< 20 m), velocity code 20 (20 km/h), direction 4 (90 deg), reason 2 (emergency).
  send_udp(s.app().lip_port(), "16777001," + lip_short(3509265, 5194779, 1, 20, 4, 2) + "\r\n");
  auto dispatcher = s.token(Role::dispatcher);
  rapidjson::Document u;
  ASSERT_TRUE(wait_for_unit(s, dispatcher, "16777001", [](const auto& x) { return !x["lat"].IsNull(); }, &u));
  EXPECT_NEAR(u["lat"].GetDouble(), 55.7339323, 1e-7);
  EXPECT_NEAR(u["lon"].GetDouble(), 37.6503289, 1e-7);
  EXPECT_NEAR(u["speed_mps"].GetDouble(), 20.0 / 3.6, 1e-3);
  EXPECT_NEAR(u["heading_deg"].GetDouble(), 90.0, 1e-6);
  EXPECT_TRUE(u["emergency"].GetBool());
  EXPECT_STREQ(u["source"].GetString(), "lip_udp");
  EXPECT_STREQ(u["fix_time"].GetString(), "2026-11-22T10:00:00.000Z");  // the server clock: < 5 s elapsed
}

TEST(Channels, LipEmergencyWithoutAFixStillAlertsAtTheLastKnownPosition) {
  TestServer s;
  s.put_unit("NA21");
  s.put_unit("NA22");
  s.put_device("2001234", "NA21", "radio");
  s.put_device("AVL-22", "NA22");
  auto gateway = s.token(Role::gateway);
  ASSERT_EQ(s.post_pings(gateway, pings_json({{"2001234", kNow - 5000, 52.6345, -1.1352, {}, {}},
                                              {"AVL-22", kNow - 5000, 52.6390, -1.1352, {}, {}}}))
                .status,
            202);
  // Reason 2 (emergency) at 0,0: the radio has no GPS fix.
  send_udp(s.app().lip_port(), "2001234," + lip_short(0, 0, 7, 0, 0, 2));
  auto dispatcher = s.token(Role::dispatcher);
  rapidjson::Document d;
  const rapidjson::Value* alert = nullptr;
  for (int i = 0; i < 100 && !alert; ++i) {
    auto r = s.request("GET", "/api/v1/alerts", {}, dispatcher);
    d = parse_json(r.body);
    for (const auto& a : d["alerts"].GetArray())
      if (std::string(a["kind"].GetString()) == "officer_emergency") alert = &a;
    if (!alert) std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(alert, nullptr) << "no officer emergency alert";
  EXPECT_STREQ((*alert)["unit"].GetString(), "NA21");
  EXPECT_DOUBLE_EQ((*alert)["lat"].GetDouble(), 52.6345);  // the last known fix
  EXPECT_DOUBLE_EQ((*alert)["lon"].GetDouble(), -1.1352);
  ASSERT_EQ((*alert)["nearest"].Size(), 1u);
  EXPECT_STREQ((*alert)["nearest"][0]["unit"].GetString(), "NA22");
  // Nothing was stored for the position-less report, and it is counted as no_fix.
  EXPECT_EQ(metric_or_zero(s, "patrolmap_pings_rejected_total{channel=\"lip_udp\",reason=\"no_fix\"}"), 1);
}

TEST(Channels, PeiCaptureOverTcp) {
  TestServer s{{"ingest.registration", "auto"}};
  send_tcp(s.app().lip_port(), slurp(test::data_dir() + "/lip/pei-capture-part1.txt"), 5);
  auto dispatcher = s.token(Role::dispatcher);
  rapidjson::Document u;
  // Short reports carry no absolute time: with the clock fixed every report
  // of ISSI 1234567 has the same time, so the first one stands and the rest
  // are duplicates. Its position, decoded by hand from the capture's first
  // payload: lon 937110 * 360/2^25, lat 5024214 * 180/2^24.
  ASSERT_TRUE(wait_for_unit(s, dispatcher, "1234567", [](const auto& x) { return !x["lat"].IsNull(); }, &u));
  EXPECT_NEAR(u["lat"].GetDouble(), 5024214.0 * 180.0 / 16777216.0, 1e-7);
  EXPECT_NEAR(u["lon"].GetDouble(), 937110.0 * 360.0 / 33554432.0, 1e-7);
  EXPECT_STREQ(u["source"].GetString(), "pei_tcp");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto no_fix = [&] { return metric_or_zero(s, "patrolmap_pings_rejected_total{channel=\"pei_tcp\",reason=\"no_fix\"}"); };
  while (no_fix() < 161 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(no_fix(), 161);  // counted from the capture independently (payloads at 0,0)
  EXPECT_EQ(metric_or_zero(s, "patrolmap_pings_accepted_total{channel=\"pei_tcp\"}") +
                metric_or_zero(s, "patrolmap_pings_rejected_total{channel=\"pei_tcp\",reason=\"duplicate\"}"),
            108);
}

TEST(Channels, OsmandAppWithTokenInTheUrl) {
  TestServer s{{"ingest.registration", "auto"}};
  auto device = s.token(Role::device, "PHONE-12");
  // As the OsmAnd app sends it: epoch seconds, speed in knots.
  auto r = s.request("GET", "/osmand?id=PHONE-12&timestamp=1795341590&lat=52.6703&lon=-0.7277&speed=10&bearing=270"
                            "&altitude=120&accuracy=8&batt=77&token=" + device);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ingest_answer(r).accepted, 1);
  auto other = s.request("GET", "/osmand?id=PHONE-13&timestamp=1795341590&lat=52.6&lon=-0.7&token=" + device);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(error_code(other), "device_mismatch");
  EXPECT_EQ(s.request("GET", "/osmand?id=PHONE-12&lat=52&lon=-1&token=wrong").status, 401);
  auto dispatcher = s.token(Role::dispatcher);
  rapidjson::Document u;
  ASSERT_TRUE(wait_for_unit(s, dispatcher, "PHONE-12", [](const auto& x) { return !x["lat"].IsNull(); }, &u));
  EXPECT_NEAR(u["speed_mps"].GetDouble(), 10 * 1852.0 / 3600.0, 1e-4);
  EXPECT_STREQ(u["fix_time"].GetString(), "2026-11-22T09:59:50.000Z");
  EXPECT_STREQ(u["source"].GetString(), "osmand");
}

TEST(Channels, RotaLinksRadiosForTheShiftOnly) {
  TestServer s{{"ingest.registration", "required"}};
  auto admin = s.token(Role::admin);
  // Shift 07:00-14:00 UTC on 2026-11-22 (the server clock is 10:00Z); line 3 is bad.
  std::string csv =
      "officer,issi,unit,start,end,skills\n"
      "PC 1234 Smith,2001234,NA21,2026-11-22T07:00:00Z,2026-11-22T14:00:00Z,AFO;taser\n"
      "PC 99 Bad,notanissi,NA22,2026-11-22T07:00:00Z,2026-11-22T14:00:00Z,\n"
      "PC 77 Late,2001299,NA23,2026-11-22T14:00:00Z,2026-11-22T22:00:00Z,dog\n";
  auto r = s.request("POST", "/api/v1/rota", csv, admin);
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = parse_json(r.body);
  EXPECT_EQ(d["loaded"].GetInt(), 2);
  ASSERT_EQ(d["problems"].Size(), 1u);
  EXPECT_EQ(d["problems"][0]["line"].GetInt(), 3);
  auto dispatcher = s.token(Role::dispatcher);
  rapidjson::Document u;
  ASSERT_TRUE(wait_for_unit(s, dispatcher, "NA21", [](const auto& x) {
    return x["devices"].Size() == 1 && std::string(x["devices"][0].GetString()) == "2001234";
  }, &u));
  EXPECT_STREQ(u["status"].GetString(), "available");
  ASSERT_EQ(u["skills"].Size(), 2u);
  EXPECT_STREQ(u["skills"][0].GetString(), "afo");  // lower-cased
  ASSERT_TRUE(wait_for_unit(s, dispatcher, "NA23", [](const auto& x) {
    return std::string(x["status"].GetString()) == "off_duty";
  }));
  // The registered radio now reports over LIP and moves NA21.
  send_udp(s.app().lip_port(), "2001234," + lip_short(3509265, 5194779, 1, 0, 0, 0));
  ASSERT_TRUE(wait_for_unit(s, dispatcher, "NA21", [](const auto& x) { return !x["lat"].IsNull(); }));
  // At 14:00 the link ends and NA23's shift starts (applied by the next rota tick).
  s.clock().set(kNow + 4 * 3600 * 1000);
  EXPECT_TRUE(wait_for_unit(s, dispatcher, "NA21", [](const auto& x) {
    return x["devices"].Size() == 0 && std::string(x["status"].GetString()) == "off_duty";
  }));
  EXPECT_TRUE(wait_for_unit(s, dispatcher, "NA23", [](const auto& x) {
    return std::string(x["status"].GetString()) == "available" && x["devices"].Size() == 1;
  }));
}

}  // namespace
}  // namespace pm::itest
