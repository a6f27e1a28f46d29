#include "server/ingest/nmea.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/data_dir.hpp"

namespace pm {
namespace {

// ---------------------------------------------------------------- helpers

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Builds "$<body>*hh" with the checksum computed here, not by the decoder.
std::string sentence(const std::string& body) {
  unsigned sum = 0;
  for (unsigned char c : body) sum ^= c;
  char hh[3];
  std::snprintf(hh, sizeof hh, "%02X", sum);
  return "$" + body + "*" + hh;
}
std::string line(const std::string& body) { return sentence(body) + "\r\n"; }
std::string pgid(const std::string& device) { return line("PGID," + device); }

// A capture as a device would send it: a $PGID line, then the receiver's
// output without gpsd's '#' comment lines.
std::string capture_stream(const std::string& name, const std::string& device) {
  std::istringstream in(read_file(pm::test::data_dir() + "/nmea/" + name));
  std::string out = pgid(device), l;
  while (std::getline(in, l))
    if (!l.empty() && l[0] != '#') out += l + "\n";
  return out;
}

// Everything the decoder produced, in a comparable form.
std::string dump(const DecodedPings& d) {
  std::ostringstream o;
  o.precision(17);
  for (size_t i = 0; i < d.pings.size(); ++i) {
    const RawPing& p = d.pings[i];
    o << d.positions[i] << " " << p.device << " " << p.t << " " << p.lat << " " << p.lon << " " << p.speed_mps
      << " " << p.heading_deg << " " << p.accuracy_m << "\n";
  }
  for (const Rejection& r : d.rejections) o << "R " << r.index << " " << error_code(r.code) << " " << r.detail << "\n";
  o << "items " << d.items << "\n";
  return o.str();
}

DecodedPings decode_whole(const std::string& input) {
  DecodedPings out;
  NmeaStream s;
  s.feed(input, out);
  s.flush(out);
  return out;
}

size_t count_code(const DecodedPings& d, Errc code) {
  size_t n = 0;
  for (const Rejection& r : d.rejections) n += r.code == code;
  return n;
}

// gpsd's ISO time -> epoch ms, with libc's timegm: independent of the
// decoder's own calendar code.
int64_t iso_to_ms(const std::string& iso) {
  std::tm tm{};
  int ms = 0;
  int n = std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                      &tm.tm_min, &tm.tm_sec, &ms);
  if (n != 7) throw std::runtime_error("unexpected gpsd time " + iso);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

struct Tpv {
  std::string time;
  int64_t t_ms = 0;
  double lat = 0, lon = 0;
  bool has_speed = false, has_track = false;
  double speed = 0, track = 0;
};

// gpsd's expected output: the TPV reports with a 2D/3D fix and a time. gpsd
// reports after each sentence, so one fix epoch has up to three TPVs with the
// same time; the last of them holds the whole epoch (RMC and GGA merged).
std::vector<Tpv> expected_fixes(const std::string& chk_name, size_t& tpv_with_fix_no_time) {
  std::istringstream in(read_file(pm::test::data_dir() + "/nmea/" + chk_name));
  std::vector<Tpv> out;
  std::string l;
  tpv_with_fix_no_time = 0;
  while (std::getline(in, l)) {
    if (l.empty() || l[0] != '{') continue;  // gpsd echoes the sentences too
    rapidjson::Document doc;
    doc.Parse(l.c_str());
    if (doc.HasParseError() || !doc.IsObject()) throw std::runtime_error("bad JSON in " + chk_name + ": " + l);
    if (!doc.HasMember("class") || std::string(doc["class"].GetString()) != "TPV") continue;
    if (!doc.HasMember("mode") || doc["mode"].GetInt() < 2) continue;
    if (!doc.HasMember("time")) {
      ++tpv_with_fix_no_time;
      continue;
    }
    Tpv t;
    t.time = doc["time"].GetString();
    t.t_ms = iso_to_ms(t.time);
    t.lat = doc["lat"].GetDouble();
    t.lon = doc["lon"].GetDouble();
    if (doc.HasMember("speed")) t.has_speed = true, t.speed = doc["speed"].GetDouble();
    if (doc.HasMember("track")) t.has_track = true, t.track = doc["track"].GetDouble();
    if (!out.empty() && out.back().time == t.time) out.back() = t;
    else out.push_back(t);
  }
  return out;
}

// ---------------------------------------------------------------- captures

struct Capture {
  const char* name;
  // gpsd "corrects" dates it believes hit the 1024-week GPS rollover: for these
  // old captures (2007, 2010, 2011) its .chk times are exactly 1024 weeks
  // later than the receiver's RMC date (e.g. haicom 080407 -> 2026-11-22). We
  // report the date the device sent, so expected = gpsd time - this offset.
  int rollover_weeks;
  // Rejections we expect, from reading the log (see the comment per capture).
  size_t no_fix;
  size_t missing_field;
};

const Capture kCaptures[] = {
    // 74 epochs: 68 valid fixes, 6 without (5 RMC V + GGA 0, 1 RMC V alone).
    // One "valid" epoch, 095304.802, has GGA quality 1 with 0 satellites used:
    // gpsd reports no fix for it, and so do we (7 no_fix, 67 fixes).
    {"haicom-305N.log", 1024, 7, 0},
    // 16 epochs, GGA before RMC in each, all fixes. gpsd's three TPVs without
    // time come from the first GGA, before any RMC gave a date; we merge that
    // GGA with the RMC of the same epoch instead.
    {"nd-1005.log", 1024, 0, 0},
    // Starts without a fix: 37 epochs of "$GPGGA,,,,,,0" + "$GPRMC,,V" (no time
    // at all; each GGA/RMC pair is one epoch), then 187 fixes.
    {"telit-he910.log", 0, 37, 0},
    // 4 fixes (RMC A + GGA 1), then 24 RMC-only epochs with status V; one of
    // them arrives as "r$GPRMC,175804,V,..." (line noise before the '$').
    {"tomtom-mkII.log", 1024, 24, 0},
    // GNRMC + GNGGA multi-GNSS, 29 fixes.
    {"ublox-zed-f9p-nmea.log", 0, 0, 0},
};

class NmeaCapture : public ::testing::TestWithParam<Capture> {};

TEST_P(NmeaCapture, MatchesGpsdTpvReports) {
  const Capture& c = GetParam();
  size_t fix_no_time = 0;
  std::vector<Tpv> want = expected_fixes(std::string(c.name) + ".chk", fix_no_time);
  DecodedPings got = decode_whole(capture_stream(c.name, "CAP-1"));

  ASSERT_FALSE(want.empty());
  ASSERT_EQ(got.pings.size(), want.size()) << c.name;
  const int64_t offset_ms = int64_t{c.rollover_weeks} * 7 * 86'400'000;
  size_t speeds = 0, tracks = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const RawPing& p = got.pings[i];
    const Tpv& w = want[i];
    SCOPED_TRACE(std::string(c.name) + " fix " + std::to_string(i) + " gpsd time " + w.time);
    EXPECT_EQ(p.device, "CAP-1");
    EXPECT_EQ(p.t, w.t_ms - offset_ms);
    EXPECT_NEAR(p.lat, w.lat, 1e-6);
    EXPECT_NEAR(p.lon, w.lon, 1e-6);
    if (w.has_speed) {
      ++speeds;
      ASSERT_FALSE(std::isnan(p.speed_mps));
      EXPECT_NEAR(p.speed_mps, w.speed, 0.01);
    }
    if (w.has_track) {
      ++tracks;
      ASSERT_FALSE(std::isnan(p.heading_deg));
      EXPECT_NEAR(p.heading_deg, w.track, 0.01);
    }
  }
  std::cout << c.name << ": " << want.size() << " fixes matched gpsd (" << speeds << " speeds, " << tracks
            << " tracks compared; " << fix_no_time << " gpsd TPVs without time), rejections: " << got.rejections.size()
            << "\n";
  EXPECT_GT(speeds, 0u);
  EXPECT_EQ(count_code(got, Errc::no_fix), c.no_fix);
  EXPECT_EQ(count_code(got, Errc::missing_field), c.missing_field);
  EXPECT_EQ(got.rejections.size(), c.no_fix + c.missing_field) << dump(got);
}

// The same bytes cut anywhere decode the same: one byte at a time, random
// splits, and CRLF instead of LF line ends.
TEST_P(NmeaCapture, AnySplitDecodesTheSame) {
  const Capture& c = GetParam();
  const std::string input = capture_stream(c.name, "CAP-1");
  const std::string reference = dump(decode_whole(input));

  {
    DecodedPings out;
    NmeaStream s;
    for (char ch : input) {
      s.feed(std::string_view(&ch, 1), out);
      ASSERT_LE(s.buffered(), NmeaStream::kDefaultMaxLine);
    }
    s.flush(out);
    EXPECT_EQ(dump(out), reference) << "one byte at a time";
  }

  unsigned seed = std::random_device{}();
  if (const char* env = std::getenv("NMEA_TEST_SEED")) seed = static_cast<unsigned>(std::strtoul(env, nullptr, 10));
  std::cout << c.name << ": random split seed " << seed << " (NMEA_TEST_SEED=" << seed << " to replay)\n";
  std::mt19937 rng(seed);
  for (int round = 0; round < 20; ++round) {
    std::uniform_int_distribution<size_t> len(0, round < 10 ? 16 : 300);
    DecodedPings out;
    NmeaStream s;
    for (size_t at = 0; at < input.size();) {
      size_t n = std::min(len(rng), input.size() - at);
      s.feed(std::string_view(input).substr(at, n), out);
      at += n;
    }
    s.flush(out);
    ASSERT_EQ(dump(out), reference) << "seed " << seed << " round " << round;
  }

  std::string crlf;
  for (char ch : input) {
    if (ch == '\n' && (crlf.empty() || crlf.back() != '\r')) crlf += '\r';
    crlf += ch;
  }
  EXPECT_EQ(dump(decode_whole(crlf)), reference) << "CRLF line ends";
}

INSTANTIATE_TEST_SUITE_P(GpsdCaptures, NmeaCapture, ::testing::ValuesIn(kCaptures),
                         [](const ::testing::TestParamInfo<Capture>& param_info) {
                           std::string n = param_info.param.name;
                           n = n.substr(0, n.find(".log"));
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// ---------------------------------------------------------------- checksums

TEST(NmeaChecksum, RealSentences) {
  EXPECT_TRUE(nmea_checksum_ok("$GPRMC,110518.000,A,5709.8067,N,00207.2822,W,0.00,,140311,,,A*65"));
  EXPECT_TRUE(nmea_checksum_ok("$GNRMC,003956.00,A,4552.65403,S,17030.00668,E,0.025,,120419,,,A,V*07\r\n"));
  EXPECT_TRUE(nmea_checksum_ok("$GPRMC,,V,,,,,,,,,,N*53"));
  EXPECT_TRUE(nmea_checksum_ok("$GPGGA,,,,,,0,,,,M,,M,,*66"));
  // lower-case hex digits are accepted
  EXPECT_TRUE(nmea_checksum_ok("$GPRMC,175736,A,5125.8714,N,00524.2350,E,3.1865,276.241,200610,,*2a"));
  EXPECT_FALSE(nmea_checksum_ok("$GPRMC,110518.000,A,5709.8067,N,00207.2822,W,0.00,,140311,,,A*66"));
  EXPECT_FALSE(nmea_checksum_ok("$GPRMC,110518.000,A,5709.8067,N,00207.2822,W,0.00,,140311,,,A"));
  EXPECT_FALSE(nmea_checksum_ok("$GPRMC*6"));
  EXPECT_FALSE(nmea_checksum_ok("GPRMC*00"));
  EXPECT_FALSE(nmea_checksum_ok(""));
}

TEST(NmeaStream, ChecksumMismatchIsRejected) {
  std::string good = sentence("GPRMC,120000.00,A,5239.0000,N,00044.0000,W,0.0,,221126,,,A");
  std::string bad = good;
  bad[good.size() - 1] = bad[good.size() - 1] == '0' ? '1' : '0';
  DecodedPings out = decode_whole(pgid("X") + bad + "\r\n" + "$GPGGA,120000.00,5239.0000,N,00044.0000,W,1,08,1.0,,,,,,\r\n");
  EXPECT_TRUE(out.pings.empty());
  ASSERT_EQ(out.rejections.size(), 2u);
  EXPECT_EQ(out.rejections[0].code, Errc::bad_checksum);
  EXPECT_EQ(out.rejections[1].code, Errc::bad_checksum) << "a sentence without checksum";
}

// ---------------------------------------------------------------- decoding

TEST(NmeaStream, RmcAndGgaOfOneEpochMakeOnePing) {
  DecodedPings out;
  NmeaStream s;
  s.feed(pgid("AVL-0231") + line("GNRMC,003956.00,A,4552.65403,S,17030.00668,E,0.025,,120419,,,A,V") +
             line("GNGGA,003956.00,4552.65403,S,17030.00668,E,1,12,0.64,14.2,M,1.8,M,,"),
         out);
  // Both sentences seen: decided without waiting for the next epoch or flush.
  ASSERT_EQ(out.pings.size(), 1u);
  const RawPing& p = out.pings[0];
  EXPECT_EQ(p.device, "AVL-0231");
  EXPECT_EQ(p.t, 1555029596000);  // date -u -d 2019-04-12T00:39:56Z +%s%3N
  EXPECT_NEAR(p.lat, -(45 + 52.65403 / 60), 1e-12);
  EXPECT_NEAR(p.lon, 170 + 30.00668 / 60, 1e-12);
  EXPECT_NEAR(p.speed_mps, 0.025 * 1852 / 3600, 1e-6);
  EXPECT_TRUE(std::isnan(p.heading_deg));     // empty course field
  EXPECT_NEAR(p.accuracy_m, 0.64 * 5, 1e-5);  // HDOP x 5 m
  EXPECT_EQ(s.device(), "AVL-0231");
  EXPECT_EQ(s.counters().sentences, 3u);
}

TEST(NmeaStream, KnotsToMetresPerSecondAndCourse) {
  DecodedPings out = decode_whole(pgid("V") + line("GPRMC,081500,A,5240.2000,N,00043.8000,W,10.0,271.5,221126,,"));
  ASSERT_EQ(out.pings.size(), 1u);
  EXPECT_NEAR(out.pings[0].speed_mps, 5.144444, 1e-6);  // 10 knots = 18.52 km/h
  EXPECT_FLOAT_EQ(out.pings[0].heading_deg, 271.5f);
  EXPECT_TRUE(std::isnan(out.pings[0].accuracy_m));  // no GGA, no HDOP
}

TEST(NmeaStream, RmcStatusVIsNoFix) {
  DecodedPings out = decode_whole(pgid("V") + line("GPRMC,175740,V,5125.8697,N,00524.2288,E,2.5365,244.610,200610,,"));
  EXPECT_TRUE(out.pings.empty());
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].code, Errc::no_fix);
}

TEST(NmeaStream, NoFixVariants) {
  // GGA quality 0; GGA quality 1 with 0 satellites; RMC A with mode N; RMC A
  // with empty position; GGA quality 8 (simulator).
  DecodedPings out = decode_whole(pgid("V") + line("GPGGA,100000,5240.0,N,00043.0,W,0,00,,,,,,,") +
                                  line("GPGGA,100001,5240.0,N,00043.0,W,1,00,17.0,3.0,M,,,,") +
                                  line("GPRMC,100002,A,5240.0,N,00043.0,W,0.0,,221126,,,N") +
                                  line("GPRMC,100003,A,,,,,0.0,,221126,,,A") +
                                  line("GPGGA,100004,5240.0,N,00043.0,W,8,08,1.0,3.0,M,,,,"));
  EXPECT_TRUE(out.pings.empty());
  EXPECT_EQ(count_code(out, Errc::no_fix), 5u) << dump(out);
}

TEST(NmeaStream, DeadReckoningWithoutSatellitesIsAFix) {
  DecodedPings out = decode_whole(pgid("V") + line("GPRMC,100000,A,5240.0,N,00043.0,W,20.0,90.0,221126,,,E") +
                                  line("GPGGA,100000,5240.0,N,00043.0,W,6,00,,,,,,,"));
  ASSERT_EQ(out.pings.size(), 1u) << dump(out);
}

TEST(NmeaStream, MidnightCrossingTakesTheNextDay) {
  DecodedPings out;
  NmeaStream s;
  s.feed(pgid("N") + line("GPRMC,235959.50,A,5240.0,N,00043.0,W,1.0,0.0,311226,,,A") +
             line("GPGGA,235959.50,5240.0,N,00043.0,W,1,08,1.0,90.0,M,,,,") +
             // the receiver's RMC for this epoch was lost; GGA alone carries it
             line("GPGGA,000001.00,5240.1,N,00043.0,W,1,08,1.0,90.0,M,,,,"),
         out);
  s.flush(out);
  ASSERT_EQ(out.pings.size(), 2u) << dump(out);
  EXPECT_EQ(out.pings[0].t, 1798761599500);  // 2026-12-31T23:59:59.500Z
  EXPECT_EQ(out.pings[1].t, 1798761601000);  // 2027-01-01T00:00:01Z
  EXPECT_TRUE(std::isnan(out.pings[1].speed_mps));  // GGA has no speed
}

TEST(NmeaStream, TwoDigitYears) {
  auto t_of = [](const std::string& ddmmyy) {
    DecodedPings out = decode_whole(pgid("Y") + line("GPRMC,120000,A,5240.0,N,00043.0,W,,," + ddmmyy + ",,"));
    return out.pings.empty() ? int64_t{-1} : out.pings[0].t;
  };
  EXPECT_EQ(t_of("040799"), 931089600000);   // 1999-07-04T12:00:00Z
  EXPECT_EQ(t_of("060180") - 12 * 3600000, 315964800000);  // 1980-01-06
  EXPECT_EQ(t_of("311279") - 12 * 3600000, 3471206400000);  // 2079-12-31
  EXPECT_EQ(t_of("290224") - 3 * 3600000 - 1800000, 1709195400000);  // 2024-02-29, leap day
  DecodedPings bad = decode_whole(pgid("Y") + line("GPRMC,120000,A,5240.0,N,00043.0,W,,,290223,,"));
  EXPECT_EQ(count_code(bad, Errc::bad_format), 1u) << "29 February 2023 does not exist";
}

TEST(NmeaStream, GgaWithoutAnyRmcHasNoDate) {
  DecodedPings out = decode_whole(pgid("G") + line("GPGGA,100000,5240.0,N,00043.0,W,1,08,1.0,3.0,M,,,,") +
                                  line("GPGGA,100001,5240.0,N,00043.0,W,1,08,1.0,3.0,M,,,,"));
  EXPECT_TRUE(out.pings.empty());
  EXPECT_EQ(count_code(out, Errc::missing_field), 2u) << dump(out);
}

TEST(NmeaStream, AnyTalker) {
  std::string in = pgid("T");
  int sec = 0;
  for (const char* talker : {"GP", "GN", "GL", "GA", "BD", "GB", "QZ"}) {
    char tod[16];
    std::snprintf(tod, sizeof tod, "1000%02d", sec++);
    in += line(std::string(talker) + "RMC," + tod + ",A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A");
    in += line(std::string(talker) + "GGA," + tod + ",5240.0,N,00043.0,W,1,08,1.0,3.0,M,,,,");
  }
  DecodedPings out = decode_whole(in);
  EXPECT_EQ(out.pings.size(), 7u) << dump(out);
  EXPECT_TRUE(out.rejections.empty());
}

TEST(NmeaStream, OtherSentencesAreSkippedAndCounted) {
  DecodedPings out;
  NmeaStream s;
  s.feed(pgid("S") + "$GPGSV,3,3,12,24,58,220,,26,17,053,,29,20,063,,30,60,311,44*7F\r\n" +
             "$GPVTG,0.00,T,,,0.00,N,0.00,K,A*70\r\n" + "$GPGSA,A,1,,,,,,,,,,,,,0.0,0.0,0.0*30\r\n" +
             "$PGRME,0.00,M,0.00,M,29.40,M*21\r\n" + "$GPGLL,5709.8067,N,00207.2822,W,110518.000,A,A*4A\r\n" +
             line("GPTXT,01,01,02,ANTSTATUS=OK"),
         out);
  s.flush(out);
  EXPECT_TRUE(out.empty()) << dump(out);
  EXPECT_EQ(s.counters().skipped, 6u);
  EXPECT_EQ(s.counters().sentences, 7u);
}

TEST(NmeaStream, SentencesBeforeAnyPgidAreRejected) {
  DecodedPings out = decode_whole(line("GPRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A") + pgid("LATE") +
                                  line("GPRMC,100001,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A"));
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].code, Errc::missing_field);
  ASSERT_EQ(out.pings.size(), 1u);
  EXPECT_EQ(out.pings[0].device, "LATE");
}

TEST(NmeaStream, DeviceChangeClosesThePendingEpoch) {
  DecodedPings out = decode_whole(pgid("A") + line("GPRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A") +
                                  pgid("B") + line("GPRMC,100000,A,5241.0,N,00043.0,W,1.0,10.0,221126,,,A"));
  ASSERT_EQ(out.pings.size(), 2u) << dump(out);
  EXPECT_EQ(out.pings[0].device, "A");
  EXPECT_EQ(out.pings[1].device, "B");
  EXPECT_EQ(out.pings[0].t, out.pings[1].t);
}

TEST(NmeaStream, SecondTalkerOfTheSameEpochIsNotADuplicate) {
  DecodedPings out;
  NmeaStream s;
  s.feed(pgid("D") + line("GPGGA,100000,5240.0,N,00043.0,W,1,08,1.0,3.0,M,,,,") +
             line("GLGGA,100000,5240.0,N,00043.0,W,1,04,1.5,3.0,M,,,,") +
             line("GPRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A") +
             line("GNRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A"),
         out);
  s.flush(out);
  ASSERT_EQ(out.pings.size(), 1u) << dump(out);
  EXPECT_NEAR(out.pings[0].accuracy_m, 5.0, 1e-6);  // the first GGA's HDOP
  EXPECT_EQ(s.counters().merged, 2u);
}

TEST(NmeaStream, RmcOnlyDeviceIsNotKeptWaiting) {
  // After one RMC-only epoch the stream knows the device sends no GGA and
  // decides each RMC at once (no flush, no next sentence needed).
  DecodedPings out;
  NmeaStream s;
  s.feed(pgid("R") + line("GPRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A"), out);
  EXPECT_TRUE(out.pings.empty()) << "first epoch: a GGA may still follow";
  s.feed(line("GPRMC,100030,A,5240.1,N,00043.0,W,1.0,10.0,221126,,,A"), out);
  EXPECT_EQ(out.pings.size(), 2u);
  s.feed(line("GPRMC,100100,A,5240.2,N,00043.0,W,1.0,10.0,221126,,,A"), out);
  EXPECT_EQ(out.pings.size(), 3u);
}

TEST(NmeaStream, MalformedAndOutOfRangeFields) {
  DecodedPings out = decode_whole(pgid("F") +
                                  line("GPRMC,100000,A,9100.0000,N,00043.0,W,1.0,10.0,221126,,,A") +  // lat 91
                                  line("GPRMC,100001,A,5260.0000,N,00043.0,W,1.0,10.0,221126,,,A") +  // 60 minutes
                                  line("GPRMC,100002,A,18100.0,N,18100.0,E,1.0,10.0,221126,,,A") +    // lon 181
                                  line("GPRMC,100003,A,52a0.0,N,00043.0,W,1.0,10.0,221126,,,A") +
                                  line("GPRMC,100004,A,5240.0,X,00043.0,W,1.0,10.0,221126,,,A") +
                                  line("GPRMC,100005,A,5240.0,N,00043.0,W,-1.0,10.0,221126,,,A") +
                                  line("GPRMC,100006,A,5240.0,N,00043.0,W,1.0,361,221126,,,A") +
                                  line("GPRMC,250000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A") +
                                  line("GPRMC,100008,A,5240.0,N,00043.0,W,1.0,10.0,321126,,,A") +
                                  line("GPRMC,100009,A,5240.0,N,00043.0,W,1e3,10.0,221126,,,A") +
                                  line("GPRMC,100010,A,5240.0,N") + line("GPGGA,100011,5240.0,N,00043.0,W,x,08") +
                                  "garbage without a dollar\r\n" + line("PGID,") + line("PGID,a,b"));
  EXPECT_TRUE(out.pings.empty()) << dump(out);
  EXPECT_EQ(count_code(out, Errc::bad_coordinate), 3u) << dump(out);
  EXPECT_EQ(count_code(out, Errc::bad_format), 12u) << dump(out);
  EXPECT_EQ(out.rejections.size(), 15u);
}

TEST(NmeaStream, HdopInvalidMarkerLeavesAccuracyAbsent) {
  DecodedPings out = decode_whole(pgid("H") + line("GPRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A") +
                                  line("GPGGA,100000,5240.0,N,00043.0,W,1,08,99.99,3.0,M,,,,"));
  ASSERT_EQ(out.pings.size(), 1u);
  EXPECT_TRUE(std::isnan(out.pings[0].accuracy_m));
}

TEST(NmeaStream, NoiseAndTagBlockBeforeDollarAreIgnored) {
  DecodedPings out = decode_whole(pgid("N") + "\\s:rcv1*00\\" + line("GPRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A") +
                                  "\r\n\r\n  \r\n");
  ASSERT_EQ(out.pings.size(), 1u) << dump(out);
  EXPECT_TRUE(out.rejections.empty());
}

TEST(NmeaStream, OversizedLineIsDroppedWithBoundedMemory) {
  DecodedPings out;
  NmeaStream s(128);
  s.feed(pgid("O"), out);
  std::string junk(1000, 'A');
  for (int i = 0; i < 100; ++i) {  // 100 kB without a line end
    s.feed(junk, out);
    ASSERT_LE(s.buffered(), 128u);
  }
  s.feed("A*00\r\n" + line("GPRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A"), out);
  s.flush(out);
  ASSERT_EQ(out.rejections.size(), 1u) << dump(out);
  EXPECT_EQ(out.rejections[0].code, Errc::bad_format);
  EXPECT_EQ(s.counters().oversized_lines, 1u);
  ASSERT_EQ(out.pings.size(), 1u) << "the next line decodes";

  // A line of exactly max_line bytes is not oversized.
  std::string body = "GPTXT,01,01,02,";
  std::string l = sentence(body + std::string(128 - body.size() - 4, 'x'));
  ASSERT_EQ(l.size(), 128u);
  NmeaStream exact(128);
  DecodedPings out2;
  exact.feed(l + "\n", out2);
  EXPECT_TRUE(out2.rejections.empty());
  EXPECT_EQ(exact.counters().skipped, 1u);
}

TEST(NmeaStream, UdpDatagramWithSeveralSentences) {
  // No line end after the last sentence: flush() decodes it.
  std::string dgram = pgid("UDP-7") + line("GPRMC,101500,A,5240.2000,N,00043.8000,W,12.0,45.0,221126,,,A") +
                      line("GPGGA,101500,5240.2000,N,00043.8000,W,2,09,0.9,95.0,M,47.0,M,,") +
                      "$GPGSA,A,3,14,30,29,31,,,,,,,,,7.6,3.4,6.8*35\r\n" +
                      line("GPRMC,101501,A,5240.2100,N,00043.8000,W,12.0,45.0,221126,,,A") +
                      sentence("GPGGA,101501,5240.2100,N,00043.8000,W,2,09,0.9,95.0,M,47.0,M,,");
  DecodedPings out;
  decode_nmea_datagram(dgram, out);
  ASSERT_EQ(out.pings.size(), 2u) << dump(out);
  EXPECT_TRUE(out.rejections.empty());
  EXPECT_EQ(out.pings[0].device, "UDP-7");
  EXPECT_EQ(out.pings[1].t - out.pings[0].t, 1000);
  EXPECT_NEAR(out.pings[0].lat, 52 + 40.2 / 60, 1e-9);
  EXPECT_NEAR(out.pings[0].lon, -(43.8 / 60), 1e-9);
  EXPECT_EQ(out.positions, (std::vector<uint32_t>{0, 1}));
}

TEST(NmeaStream, ResetForgetsTheDevice) {
  DecodedPings out;
  NmeaStream s;
  s.feed(pgid("A") + "$GPRMC,1000", out);
  s.reset();
  EXPECT_EQ(s.device(), "");
  EXPECT_EQ(s.buffered(), 0u);
  s.feed(line("GPRMC,100000,A,5240.0,N,00043.0,W,1.0,10.0,221126,,,A"), out);
  s.flush(out);
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].code, Errc::missing_field);
}

}  // namespace
}  // namespace pm
