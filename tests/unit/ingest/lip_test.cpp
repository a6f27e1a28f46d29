// TETRA LIP and PEI decoding against independently known answers: the checked
// values of shared/data/README.md, payloads built field by field with a bit
// writer that shares no code with the decoder, reports decoded by hand from the
// real Motorola PEI capture, and ETSI table values quoted by third parties.
#include "server/ingest/lip.hpp"
#include "server/ingest/validate.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "server/core/time_format.hpp"
#include "tests/support/data_dir.hpp"

namespace pm {
namespace {

// 2026-11-22T10:15:03.250Z
const EpochMs kNow = *parse_iso8601("2026-11-22T10:15:03.250Z");

EpochMs iso(const char* s) { return *parse_iso8601(s); }

// MSB-first bit writer. Payloads are padded with zero bits to whole octets, as
// radios send them.
class Bits {
 public:
  Bits& put(uint64_t value, int n) {
    for (int i = n - 1; i >= 0; --i) bits_.push_back(i < 64 ? static_cast<int>((value >> i) & 1) : 0);
    return *this;
  }
  std::string hex() const {
    std::vector<int> b = bits_;
    while (b.size() % 8 != 0) b.push_back(0);
    static const char* kDigits = "0123456789ABCDEF";
    std::string out;
    for (size_t i = 0; i < b.size(); i += 4) out += kDigits[b[i] * 8 + b[i + 1] * 4 + b[i + 2] * 2 + b[i + 3]];
    return out;
  }

 private:
  std::vector<int> bits_;
};

Bits lip_pid() { return Bits().put(0x0A, 8); }

struct Short {
  unsigned time_elapsed = 0;
  uint32_t lon = 937110;   // raw, 25 bits
  uint32_t lat = 5024214;  // raw, 24 bits
  unsigned error = 1;
  unsigned velocity = 10;
  unsigned direction = 0;
  unsigned data_type = 0;
  unsigned data = 0;
};

std::string short_hex(const Short& s) {
  return lip_pid()
      .put(0b00, 2)
      .put(s.time_elapsed, 2)
      .put(s.lon, 25)
      .put(s.lat, 24)
      .put(s.error, 3)
      .put(s.velocity, 7)
      .put(s.direction, 4)
      .put(s.data_type, 1)
      .put(s.data, 8)
      .hex();
}

// Long location report head: PID, PDU type 01, extension 0011.
Bits long_head() { return lip_pid().put(0b01, 2).put(0b0011, 4); }

LipReport decode_ok(const std::string& hex) {
  auto r = decode_lip(hex);
  EXPECT_TRUE(r.has_value()) << hex << ": " << (r ? "" : r.error().detail);
  return r ? *r : LipReport{};
}

LipError decode_fail(const std::string& hex) {
  auto r = decode_lip(hex);
  EXPECT_FALSE(r.has_value()) << hex;
  return r ? LipError{Errc::internal, "decoded"} : r.error();
}

std::string read_capture() {
  std::ifstream in(test::data_dir() + "/lip/pei-capture-part1.txt", std::ios::binary);
  EXPECT_TRUE(in) << "capture missing";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------- coordinates

TEST(LipDecode, CoordinatesMatchIndependentlyCheckedValues) {
  // shared/data/README.md: longitude raw 3509265 -> 37.6503289, latitude raw 5194779 -> 55.7339323
  Short s;
  s.lon = 3509265;
  s.lat = 5194779;
  LipReport r = decode_ok(short_hex(s));
  EXPECT_NEAR(r.lon, 37.6503289, 5e-8);
  EXPECT_NEAR(r.lat, 55.7339323, 5e-8);
  EXPECT_FALSE(r.no_fix);

  // latitude raw 0xCA1959 -> -37.899131 (negative: two's complement), longitude raw 0x0CE6C98 -> 145.142012
  s.lon = 0x0CE6C98;
  s.lat = 0xCA1959;
  r = decode_ok(short_hex(s));
  EXPECT_NEAR(r.lat, -37.899131, 5e-7);
  EXPECT_NEAR(r.lon, 145.142012, 5e-7);
}

TEST(LipDecode, CoordinateExtremes) {
  Short s;
  s.lon = 0x1000000;  // most negative 25-bit value: -2^24 x 360/2^25
  s.lat = 0x800000;   // most negative 24-bit value: -2^23 x 180/2^24
  LipReport r = decode_ok(short_hex(s));
  EXPECT_DOUBLE_EQ(r.lon, -180.0);
  EXPECT_DOUBLE_EQ(r.lat, -90.0);
  s.lon = 0xFFFFFF;  // +2^24 - 1
  s.lat = 0x7FFFFF;
  r = decode_ok(short_hex(s));
  EXPECT_NEAR(r.lon, 180.0 - 360.0 / 33554432.0, 1e-12);
  EXPECT_NEAR(r.lat, 90.0 - 180.0 / 16777216.0, 1e-12);
  s.lon = 0x1FFFFFF;  // -1 LSB
  r = decode_ok(short_hex(s));
  EXPECT_NEAR(r.lon, -360.0 / 33554432.0, 1e-15);
}

// ------------------------------------------------------------------- no fix

TEST(LipDecode, NoFixPayloadFromReadme) {
  // 0A | 00 11 | 25 x 0 | 24 x 0 | 111 | 1111111 | 1111 | 0 | 10000001 | 0000
  LipReport r = decode_ok("0A30000000000007FFE810");
  EXPECT_EQ(r.kind, LipReport::Kind::short_report);
  EXPECT_TRUE(r.no_fix);
  EXPECT_EQ(r.time_elapsed, 3);
  EXPECT_TRUE(std::isnan(r.accuracy_m));   // error code 7: not known
  EXPECT_TRUE(std::isnan(r.speed_mps));    // velocity 127: not known
  EXPECT_TRUE(std::isnan(r.heading_deg));  // direction 15 is filler without a speed
  EXPECT_EQ(r.reason, 129);

  DecodedPings out;
  lip_to_ping(r, "1234657", kNow, out);
  EXPECT_TRUE(out.pings.empty());
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].code, Errc::no_fix);
}

TEST(LipDecode, ZeroPositionIsNoFixWhateverTheErrorCode) {
  Short s;
  s.lon = 0;
  s.lat = 0;
  s.error = 2;
  EXPECT_TRUE(decode_ok(short_hex(s)).no_fix);
  s.lon = 1;  // one LSB off zero is a position, not the filler
  EXPECT_FALSE(decode_ok(short_hex(s)).no_fix);
}

TEST(LipDecode, EmergencyWithoutFixIsPassedOnToBeRejectedAsNoFixAndAlerted) {
  Short s;
  s.lon = 0;
  s.lat = 0;
  s.error = 7;
  s.data = 2;
  LipReport r = decode_ok(short_hex(s));
  EXPECT_TRUE(r.no_fix);
  EXPECT_TRUE(r.emergency);
  DecodedPings out;
  lip_to_ping(r, "2001234", kNow, out);
  ASSERT_EQ(out.pings.size(), 1u);  // not dropped by the decoder: the pipeline raises the emergency
  EXPECT_TRUE(out.pings[0].emergency);
  EXPECT_TRUE(out.pings[0].no_fix);
  EXPECT_EQ(out.pings[0].device, "2001234");
  auto rej = validate_ping(out.pings[0], kNow, IngestLimits{});
  ASSERT_TRUE(rej.has_value());  // nothing to store
  EXPECT_EQ(rej->code, Errc::no_fix);
  EXPECT_NE(rej->detail.find("emergency"), std::string_view::npos);
}

// ------------------------------------------------------- velocity, direction

TEST(LipDecode, HorizontalVelocityCodes) {
  // ETSI example table (km/h, rounded): linear to 28, then 16 x 1.038^(v-13).
  struct Case {
    unsigned code;
    double kmh;
  };
  const Case cases[] = {{0, 0}, {1, 1}, {28, 28}, {29, 29}, {33, 34}, {48, 59}, {50, 64}, {100, 410}, {125, 1043}};
  for (const Case& c : cases) {
    Short s;
    s.velocity = c.code;
    LipReport r = decode_ok(short_hex(s));
    double tolerance = c.code <= 28 ? 1e-4 : 0.5;  // the table rounds to whole km/h
    EXPECT_NEAR(r.speed_mps * 3.6, c.kmh, tolerance) << "code " << c.code;
  }
  // Code 40 exactly: 16 x 1.038^27 km/h = 16 x 2.73766... = 43.80 km/h = 12.17 m/s
  Short s;
  s.velocity = 40;
  EXPECT_NEAR(decode_ok(short_hex(s)).speed_mps, 16 * std::pow(1.038, 27) / 3.6, 1e-4);
  s.velocity = 127;
  EXPECT_TRUE(std::isnan(decode_ok(short_hex(s)).speed_mps));
}

TEST(LipDecode, DirectionOfTravelInSteps) {
  const std::pair<unsigned, float> cases[] = {{0, 0.f}, {1, 22.5f}, {4, 90.f}, {8, 180.f}, {12, 270.f}, {15, 337.5f}};
  for (auto [code, deg] : cases) {
    Short s;
    s.direction = code;
    EXPECT_FLOAT_EQ(decode_ok(short_hex(s)).heading_deg, deg) << code;
  }
  Short unknown_speed;
  unknown_speed.velocity = 127;
  unknown_speed.direction = 4;
  EXPECT_TRUE(std::isnan(decode_ok(short_hex(unknown_speed)).heading_deg));
}

TEST(LipDecode, PositionErrorMapsToUpperBound) {
  const float expected[] = {2.f, 20.f, 200.f, 2000.f, 20000.f, 200000.f, 2e6f};
  for (unsigned code = 0; code < 7; ++code) {
    Short s;
    s.error = code;
    EXPECT_FLOAT_EQ(decode_ok(short_hex(s)).accuracy_m, expected[code]) << code;
  }
  Short s;
  s.error = 7;
  EXPECT_TRUE(std::isnan(decode_ok(short_hex(s)).accuracy_m));
}

// --------------------------------------------------------- additional data

TEST(LipDecode, ReasonTwoIsAnEmergency) {
  Short s;
  s.data = 2;
  LipReport r = decode_ok(short_hex(s));
  EXPECT_EQ(r.reason, 2);
  EXPECT_TRUE(r.emergency);
  DecodedPings out;
  lip_to_ping(r, "2001234", kNow, out);
  ASSERT_EQ(out.pings.size(), 1u);
  EXPECT_TRUE(out.pings[0].emergency);
  EXPECT_EQ(out.pings[0].device, "2001234");

  s.data = 3;  // push-to-talk
  EXPECT_FALSE(decode_ok(short_hex(s)).emergency);

  // The same 8 bits as user-defined data are not a reason for sending.
  s.data_type = 1;
  s.data = 2;
  r = decode_ok(short_hex(s));
  EXPECT_FALSE(r.emergency);
  EXPECT_EQ(r.reason, -1);
  EXPECT_EQ(r.user_data, 2);
}

// -------------------------------------------------------------------- time

TEST(LipDecode, TimeElapsedUsesTheBucketLowerBound) {
  const std::pair<unsigned, EpochMs> cases[] = {{0, kNow}, {1, kNow - 5'000}, {2, kNow - 300'000}, {3, kNow}};
  for (auto [code, t] : cases) {
    Short s;
    s.time_elapsed = code;
    DecodedPings out;
    lip_to_ping(decode_ok(short_hex(s)), "1", kNow, out);
    ASSERT_EQ(out.pings.size(), 1u);
    EXPECT_EQ(out.pings[0].t, t) << code;
  }
}

std::string long_time_of_position(unsigned day, unsigned hour, unsigned minute, unsigned second) {
  return long_head()
      .put(0b10, 2)
      .put(day, 5)
      .put(hour, 5)
      .put(minute, 6)
      .put(second, 6)
      .put(1, 4)  // location point
      .put(937110, 25)
      .put(5024214, 24)
      .put(0, 3)  // no velocity
      .put(0, 1)
      .put(0, 1)
      .put(0, 8)
      .hex();
}

TEST(LipDecode, TimeOfPositionRelativeToNowsMonth) {
  struct Case {
    const char* now;
    unsigned day, hour, minute, second;
    const char* expected;
  };
  const Case cases[] = {
      {"2026-11-22T10:15:03.250Z", 22, 10, 14, 0, "2026-11-22T10:14:00Z"},
      {"2026-12-01T00:10:00Z", 30, 23, 59, 0, "2026-11-30T23:59:00Z"},   // fix before the month turned
      {"2026-11-30T23:59:50Z", 1, 0, 0, 5, "2026-12-01T00:00:05Z"},      // radio clock a little ahead
      {"2026-03-02T12:00:00Z", 31, 8, 0, 0, "2026-01-31T08:00:00Z"},     // February has no 31st
      {"2027-01-01T00:00:30Z", 31, 23, 59, 59, "2026-12-31T23:59:59Z"},  // year wrap
      {"2028-03-01T06:00:00Z", 29, 6, 0, 0, "2028-02-29T06:00:00Z"},     // leap day
  };
  for (const Case& c : cases) {
    LipReport r = decode_ok(long_time_of_position(c.day, c.hour, c.minute, c.second));
    EXPECT_EQ(r.time_kind, LipReport::TimeKind::time_of_position);
    EXPECT_EQ(format_iso8601(lip_fix_time(r, iso(c.now))), format_iso8601(iso(c.expected))) << c.now;
  }
  EXPECT_EQ(decode_fail(long_time_of_position(0, 1, 1, 1)).code, Errc::bad_format);   // day 0
  EXPECT_EQ(decode_fail(long_time_of_position(5, 24, 1, 1)).code, Errc::bad_format);  // hour 24
  EXPECT_EQ(decode_fail(long_time_of_position(5, 1, 60, 1)).code, Errc::bad_format);
  EXPECT_EQ(decode_fail(long_time_of_position(5, 1, 1, 60)).code, Errc::bad_format);
}

// ------------------------------------------------------------ long reports

TEST(LipDecode, LongCircleWithAltitudeThirdPartyVector) {
  // A published parser test vector: no time, circle with altitude at the
  // README's checked coordinates, uncertainty code 0 ("less than 1 m"), altitude
  // code 2047 ("11525 m or more"), velocity type 5 at 0 km/h heading 0, no ack,
  // reason 0 (power on).
  std::string hex = long_head()
                        .put(0b00, 2)
                        .put(5, 4)
                        .put(3509265, 25)
                        .put(5194779, 24)
                        .put(0, 6)
                        .put(0b011111111111, 12)
                        .put(0b101, 3)
                        .put(0, 7)
                        .put(0, 8)
                        .put(0, 1)
                        .put(0, 1)
                        .put(0, 8)
                        .hex();
  LipReport r = decode_ok(hex);
  EXPECT_EQ(r.kind, LipReport::Kind::long_report);
  EXPECT_EQ(r.time_kind, LipReport::TimeKind::none);
  EXPECT_EQ(r.location_shape, 5);
  EXPECT_NEAR(r.lon, 37.6503289, 5e-8);
  EXPECT_NEAR(r.lat, 55.7339323, 5e-8);
  EXPECT_LT(r.accuracy_m, 1.0f);
  EXPECT_GT(r.accuracy_m, 0.9f);
  EXPECT_FLOAT_EQ(r.altitude_m, 11525.f);
  EXPECT_FLOAT_EQ(r.speed_mps, 0.f);
  EXPECT_FLOAT_EQ(r.heading_deg, 0.f);
  EXPECT_FALSE(r.ack_requested);
  EXPECT_EQ(r.reason, 0);
  EXPECT_EQ(r.message_ref, -1);
  EXPECT_EQ(lip_fix_time(r, kNow), kNow);
}

TEST(LipDecode, LongPointWithUncertaintyCircleAndAcknowledgement) {
  // Uncertainty code 10: ETSI table "less than 26,8 m"; 63 is "best effort".
  auto circle = [](unsigned k, unsigned ack) {
    return long_head()
        .put(0b01, 2)
        .put(0b01, 2)  // time elapsed: < 5 min
        .put(2, 4)     // location circle
        .put(937110, 25)
        .put(5024214, 24)
        .put(k, 6)
        .put(1, 3)   // horizontal velocity only
        .put(20, 7)  // 20 km/h
        .put(ack, 1)
        .put(0, 1)
        .put(4, 8)     // reason: status
        .put(0x5A, 8)  // location message reference
        .hex();
  };
  LipReport r = decode_ok(circle(10, 1));
  EXPECT_NEAR(r.accuracy_m, 26.8f, 0.05f);
  EXPECT_NEAR(r.speed_mps, 20 / 3.6, 1e-5);
  EXPECT_TRUE(std::isnan(r.heading_deg));  // velocity type 1 has no direction
  EXPECT_TRUE(r.ack_requested);
  EXPECT_EQ(r.message_ref, 0x5A);
  EXPECT_EQ(r.reason, 4);
  EXPECT_EQ(lip_fix_time(r, kNow), kNow - 5'000);
  EXPECT_NEAR(decode_ok(circle(0, 0)).accuracy_m, 1.0f, 0.05f);  // "less than 1 m"
  EXPECT_EQ(decode_ok(circle(0, 0)).message_ref, -1);            // no ack: trailing bits are not a reference
  EXPECT_TRUE(std::isnan(decode_ok(circle(63, 0)).accuracy_m));
}

TEST(LipDecode, LongOtherShapesAndVelocityTypes) {
  auto with_shape = [](unsigned shape, auto&& shape_fields, unsigned vtype, auto&& velocity_fields) {
    Bits b = long_head().put(0, 2).put(shape, 4).put(937110, 25).put(5024214, 24);
    shape_fields(b);
    b.put(vtype, 3);
    velocity_fields(b);
    return b.put(0, 1).put(0, 1).put(2, 8).hex();  // reason 2: emergency
  };
  auto none = [](Bits&) {};

  // Point, no velocity: position only.
  LipReport r = decode_ok(with_shape(1, none, 0, none));
  EXPECT_NEAR(r.lat, 53.903968334, 1e-8);
  EXPECT_TRUE(std::isnan(r.accuracy_m));
  EXPECT_TRUE(std::isnan(r.speed_mps));
  EXPECT_TRUE(r.emergency);

  // Point and position error 1 (< 20 m).
  r = decode_ok(with_shape(
      10, [](Bits& b) { b.put(1, 3); }, 0, none));
  EXPECT_FLOAT_EQ(r.accuracy_m, 20.f);

  // Ellipse: half major axis code 10 (< 26.8 m), minor 2, angle 8, confidence 3.
  r = decode_ok(with_shape(
      3, [](Bits& b) { b.put(10, 6).put(2, 6).put(7, 8).put(1, 3); }, 0, none));
  EXPECT_NEAR(r.accuracy_m, 26.8f, 0.05f);

  // Ellipse with altitude and altitude uncertainty; altitude code 201 is 0 m.
  r = decode_ok(with_shape(
      8, [](Bits& b) { b.put(10, 6).put(2, 6).put(7, 8).put(201, 12).put(1, 3).put(1, 3); }, 0, none));
  EXPECT_NEAR(r.accuracy_m, 26.8f, 0.05f);
  EXPECT_FLOAT_EQ(r.altitude_m, 0.f);
  EXPECT_TRUE(r.emergency);  // the fields after the shape are where the layout says

  // Point with altitude: code 1300 is 1000 m + 99 x 2 m.
  r = decode_ok(with_shape(
      4, [](Bits& b) { b.put(1300, 12); }, 0, none));
  EXPECT_FLOAT_EQ(r.altitude_m, 1198.f);

  // Velocity type 7: speed 40 (43.8 km/h), uncertainty, vertical 8 + 3, direction 64 (90 deg), uncertainty.
  r = decode_ok(
      with_shape(1, none, 7, [](Bits& b) { b.put(40, 7).put(1, 3).put(5, 8).put(1, 3).put(64, 8).put(1, 3); }));
  EXPECT_NEAR(r.speed_mps, 16 * std::pow(1.038, 27) / 3.6, 1e-4);
  EXPECT_FLOAT_EQ(r.heading_deg, 90.f);
  EXPECT_TRUE(r.emergency);

  // Velocity type 6: direction 200 x 360/256 = 281.25 deg.
  r = decode_ok(with_shape(1, none, 6, [](Bits& b) { b.put(12, 7).put(1, 3).put(200, 8).put(1, 3); }));
  EXPECT_FLOAT_EQ(r.heading_deg, 281.25f);
  EXPECT_NEAR(r.speed_mps, 12 / 3.6, 1e-5);
}

TEST(LipDecode, LongShapesWithoutARadioPosition) {
  // "No shape": the radio has no position.
  LipReport r = decode_ok(long_head().put(0, 2).put(0, 4).put(0, 3).put(0, 1).put(0, 1).put(0, 8).hex());
  EXPECT_TRUE(r.no_fix);
  // Arc, reserved shapes and the shape extension are refused with a reason.
  for (unsigned shape : {9u, 11u, 12u, 15u}) {
    Bits b = long_head().put(0, 2).put(shape, 4);
    for (int i = 0; i < 16; ++i) b.put(0, 8);
    LipError e = decode_fail(b.hex());
    EXPECT_EQ(e.code, Errc::bad_format);
    EXPECT_NE(e.detail.find("shape"), std::string_view::npos) << e.detail;
  }
}

TEST(LipDecode, LongReportFromTheCapture) {
  // By hand, 0A then 4DD400000000000000005FE00023085 (the line is cut: 33 digits of 42):
  // 01 PDU type (extension) | 0011 long location report | 01 time elapsed | 11 not known
  // | 0101 circle with altitude | 25 x 0 longitude | 24 x 0 latitude | 000000 uncertainty
  // | 000000000000 altitude | 101 velocity with direction extended | 1111111 speed unknown
  // | 00000000 direction | 0 no ack | 0 reason follows | 00000100 reason 4 (status)
  LipReport r = decode_ok("0A4DD400000000000000005FE00023085");
  EXPECT_EQ(r.kind, LipReport::Kind::long_report);
  EXPECT_EQ(r.time_kind, LipReport::TimeKind::elapsed);
  EXPECT_EQ(r.time_elapsed, 3);
  EXPECT_EQ(r.location_shape, 5);
  EXPECT_TRUE(r.no_fix);
  EXPECT_TRUE(std::isnan(r.speed_mps));
  EXPECT_TRUE(std::isnan(r.altitude_m));  // altitude code 0 is reserved
  EXPECT_FALSE(r.ack_requested);
  EXPECT_EQ(r.reason, 4);
}

// ------------------------------------------------------------ malformed input

TEST(LipDecode, MalformedPayloads) {
  std::string good = short_hex(Short{});
  EXPECT_TRUE(decode_lip(good));
  std::string lower = good;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(decode_ok(lower).lat, decode_ok(good).lat);
  // 76 bits after the PID: 19 digits decode, 18 do not.
  EXPECT_TRUE(decode_lip(good.substr(0, 2 + 19)));
  EXPECT_EQ(decode_fail(good.substr(0, 2 + 18)).code, Errc::bad_format);

  EXPECT_EQ(decode_fail("").code, Errc::bad_format);
  EXPECT_EQ(decode_fail("0").code, Errc::bad_format);
  EXPECT_EQ(decode_fail("0A").code, Errc::bad_format);
  EXPECT_EQ(decode_fail("0A0072G4B2654EB2000810").code, Errc::bad_format);                 // G
  EXPECT_EQ(decode_fail("0A007264B2654EB2 00810").code, Errc::bad_format);                 // space
  EXPECT_EQ(decode_fail("82040102486921").code, Errc::bad_format);                         // text SDS, not LIP
  EXPECT_EQ(decode_fail(lip_pid().put(0b10, 2).put(0, 80).hex()).code, Errc::bad_format);  // reserved PDU type
  // A location report acknowledgement is LIP but no position.
  std::string ack = lip_pid().put(0b01, 2).put(0b0100, 4).put(0, 10).hex();
  EXPECT_EQ(decode_fail(ack).code, Errc::bad_format);
  EXPECT_EQ(classify_lip(ack), LipPdu::other);
  EXPECT_EQ(classify_lip(good), LipPdu::location_report);
  EXPECT_EQ(classify_lip("8004"), LipPdu::not_lip);
  EXPECT_EQ(classify_lip("0A"), LipPdu::location_report);  // broken LIP is rejected, not skipped
  // A long report cut inside its location data.
  EXPECT_EQ(decode_fail(long_head().put(0, 2).put(5, 4).put(0, 30).hex()).code, Errc::bad_format);
  EXPECT_EQ(decode_fail(long_head().put(0b11, 2).put(0, 90).hex()).code, Errc::bad_format);  // reserved time type
}

// ------------------------------------------------------------- UDP datagrams

TEST(LipDatagram, IssiCommaPayload) {
  DecodedPings out;
  decode_lip_datagram("2001234,0A007264B2654EB2000810\r\n", kNow, out);
  ASSERT_EQ(out.pings.size(), 1u);
  EXPECT_EQ(out.pings[0].device, "2001234");
  EXPECT_NEAR(out.pings[0].lat, 53.9039683342, 1e-9);
  EXPECT_NEAR(out.pings[0].lon, 10.0540995598, 1e-9);
  EXPECT_EQ(out.pings[0].t, kNow);

  decode_lip_datagram("0002001234,0A007264B2654EB2000810", kNow, out);  // same radio
  ASSERT_EQ(out.pings.size(), 2u);
  EXPECT_EQ(out.pings[1].device, "2001234");

  decode_lip_datagram("2001234,0A30000000000007FFE810\n", kNow, out);
  decode_lip_datagram("2001234 0A007264B2654EB2000810", kNow, out);
  decode_lip_datagram(",0A007264B2654EB2000810", kNow, out);
  decode_lip_datagram("ISSI9,0A007264B2654EB2000810", kNow, out);
  decode_lip_datagram("2001234,", kNow, out);
  decode_lip_datagram("2001234,8004", kNow, out);
  decode_lip_datagram("", kNow, out);
  const Errc expected[] = {Errc::no_fix,        Errc::bad_format, Errc::missing_field, Errc::bad_format,
                           Errc::missing_field, Errc::bad_format, Errc::bad_format};
  ASSERT_EQ(out.rejections.size(), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) EXPECT_EQ(out.rejections[i].code, expected[i]) << i;
  EXPECT_EQ(out.items, 9u);
}

// ------------------------------------------------------------- PEI stream

struct StreamResult {
  DecodedPings out;
  PeiStream::Counters counters;
};

StreamResult run_stream(const std::vector<std::string_view>& chunks) {
  StreamResult r;
  PeiStream s;
  for (std::string_view c : chunks) s.feed(c, kNow, r.out);
  r.counters = s.counters();
  return r;
}

StreamResult run_stream(std::string_view all) { return run_stream(std::vector<std::string_view>{all}); }

TEST(PeiCapture, CountsMatchTheCapture) {
  // Counted independently (grep/awk over the file): 595 non-blank lines; 291
  // "+CTSDSR:" lines of which 4 are cut off ("+CTSDSR: 12,1234657,0,9876543," x3,
  // "+CTSDSR: 12,63") and followed by a full header; 287 header + payload pairs;
  // 5 of them AI 13 status values (8003/8004); 282 LIP payloads: 266 complete
  // short reports (158 of them at 0,0 with error 7: 1234657 has no GPS; 108 fixes
  // from 1234567), 3 long reports at 0,0, and 13 cut-off payloads ("0A" x5,
  // "0A30000000" x2, "0A0071382A", "0A0070852A", "0A30000000000007FF" x4).
  // 17 other lines: +GMI, +GMM, +GMR, OK x9, +ENCR x3, "+CTSDS" x2.
  StreamResult r = run_stream(read_capture());
  const PeiStream::Counters& c = r.counters;
  EXPECT_EQ(c.lines, 595u);
  EXPECT_EQ(c.sds, 287u);
  EXPECT_EQ(c.bad_headers, 4u);
  EXPECT_EQ(c.non_lip_sds, 5u);
  EXPECT_EQ(c.lip, 282u);
  EXPECT_EQ(c.lip_other, 0u);
  EXPECT_EQ(c.orphan_headers, 0u);
  EXPECT_EQ(c.length_mismatch, 13u + 3u);  // the cut payloads and the 33-digit long reports
  EXPECT_EQ(c.other_lines, 17u);
  EXPECT_EQ(c.oversized, 0u);

  EXPECT_EQ(r.out.items, 282u);
  EXPECT_EQ(r.out.pings.size(), 108u);
  size_t no_fix = 0, bad_format = 0;
  for (const Rejection& j : r.out.rejections) {
    if (j.code == Errc::no_fix) ++no_fix;
    if (j.code == Errc::bad_format) ++bad_format;
  }
  EXPECT_EQ(no_fix, 158u + 3u);
  EXPECT_EQ(bad_format, 13u);
}

TEST(PeiCapture, PositionsVerifiedByHand) {
  StreamResult r = run_stream(read_capture());
  ASSERT_EQ(r.out.pings.size(), 108u);
  // First fix, "0A007264B2654EB2000810" from 1234567. Bits after 0A:
  //   00 | 00 | 0000011100100110010010110 | 010011001010100111010110 | 010 | 0000000 | 0000 | 0 | 10000001
  //   short | <5 s | lon 0x0E4C96 = 937110 | lat 0x4CA9D6 = 5024214 | <200 m | 0 km/h | N | reason | 129
  //   lon 937110 x 360 / 2^25 = 10.0540995598 deg, lat 5024214 x 180 / 2^24 = 53.9039683342 deg
  const RawPing& p0 = r.out.pings[0];
  EXPECT_EQ(p0.device, "1234567");
  EXPECT_NEAR(p0.lon, 10.0540995598, 1e-9);
  EXPECT_NEAR(p0.lat, 53.9039683342, 1e-9);
  EXPECT_FLOAT_EQ(p0.accuracy_m, 200.f);
  EXPECT_FLOAT_EQ(p0.speed_mps, 0.f);
  EXPECT_EQ(p0.t, kNow);
  EXPECT_FALSE(p0.emergency);

  // Tenth fix, "0A00725542653EDA604820":
  //   00 | 00 | 0000011100100101010101000 | 010011001010011111011011 | 010 | 0110000 | 0010 | 0 | 10000010
  //   lon 0x0E4AA8 = 936616 -> 10.0487995148 | lat 0x4CA7DB = 5023707 -> 53.8985288143
  //   speed 48 -> 16 x 1.038^35 = 59.024 km/h = 16.3955 m/s | direction 2 -> 45 deg | reason 130
  const RawPing& p9 = r.out.pings[9];
  EXPECT_NEAR(p9.lon, 10.0487995148, 1e-9);
  EXPECT_NEAR(p9.lat, 53.8985288143, 1e-9);
  EXPECT_NEAR(p9.speed_mps, 59.024 / 3.6, 1e-3);
  EXPECT_FLOAT_EQ(p9.heading_deg, 45.f);

  // Sixteenth fix, "0A0071E492652D9A736820":
  //   00 | 00 | 0000011100011110010010010 | 010011001010010110110011 | 010 | 0111001 | 1011 | 0 | 10000010
  //   lon 0x0E3C92 = 933010 -> 10.0101113319 | lat 0x4CA5B3 = 5023155 -> 53.8926064968
  //   speed 57 -> 16 x 1.038^44 = 82.566 km/h | direction 11 -> 247.5 deg
  const RawPing& p15 = r.out.pings[15];
  EXPECT_NEAR(p15.lon, 10.0101113319, 1e-9);
  EXPECT_NEAR(p15.lat, 53.8926064968, 1e-9);
  EXPECT_NEAR(p15.speed_mps, 82.566 / 3.6, 1e-3);
  EXPECT_FLOAT_EQ(p15.heading_deg, 247.5f);

  // Every fix is around Bad Segeberg (53.9 N, 10.1 E), from the one radio with GPS.
  for (const RawPing& p : r.out.pings) {
    EXPECT_EQ(p.device, "1234567");
    EXPECT_GT(p.lat, 53.8);
    EXPECT_LT(p.lat, 54.0);
    EXPECT_GT(p.lon, 9.8);
    EXPECT_LT(p.lon, 10.2);
    EXPECT_TRUE(p.accuracy_m == 20.f || p.accuracy_m == 200.f);
    EXPECT_EQ(p.t, kNow);
  }
}

bool same_float(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }

void expect_same(const StreamResult& a, const StreamResult& b) {
  ASSERT_EQ(a.out.pings.size(), b.out.pings.size());
  for (size_t i = 0; i < a.out.pings.size(); ++i) {
    const RawPing &x = a.out.pings[i], &y = b.out.pings[i];
    EXPECT_EQ(x.device, y.device);
    EXPECT_EQ(x.t, y.t);
    EXPECT_EQ(x.lat, y.lat);
    EXPECT_EQ(x.lon, y.lon);
    EXPECT_TRUE(same_float(x.accuracy_m, y.accuracy_m));
    EXPECT_TRUE(same_float(x.speed_mps, y.speed_mps));
    EXPECT_TRUE(same_float(x.heading_deg, y.heading_deg));
    EXPECT_EQ(x.emergency, y.emergency);
  }
  EXPECT_EQ(a.out.positions, b.out.positions);
  ASSERT_EQ(a.out.rejections.size(), b.out.rejections.size());
  for (size_t i = 0; i < a.out.rejections.size(); ++i) {
    EXPECT_EQ(a.out.rejections[i].index, b.out.rejections[i].index);
    EXPECT_EQ(a.out.rejections[i].code, b.out.rejections[i].code);
    EXPECT_EQ(a.out.rejections[i].detail, b.out.rejections[i].detail);
  }
  const PeiStream::Counters &c = a.counters, &d = b.counters;
  EXPECT_EQ(c.lines, d.lines);
  EXPECT_EQ(c.sds, d.sds);
  EXPECT_EQ(c.lip, d.lip);
  EXPECT_EQ(c.non_lip_sds, d.non_lip_sds);
  EXPECT_EQ(c.bad_headers, d.bad_headers);
  EXPECT_EQ(c.orphan_headers, d.orphan_headers);
  EXPECT_EQ(c.length_mismatch, d.length_mismatch);
  EXPECT_EQ(c.other_lines, d.other_lines);
}

TEST(PeiCapture, AnySplitGivesTheSameOutput) {
  const std::string capture = read_capture();
  StreamResult whole = run_stream(capture);

  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < capture.size(); ++i) bytes.push_back(std::string_view(capture).substr(i, 1));
  expect_same(whole, run_stream(bytes));

  unsigned seed = std::random_device{}();
  if (const char* env = std::getenv("PM_TEST_SEED")) seed = static_cast<unsigned>(std::strtoul(env, nullptr, 10));
  std::cout << "[ seed     ] PM_TEST_SEED=" << seed << "\n";
  SCOPED_TRACE("PM_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string_view> chunks;
    std::uniform_int_distribution<size_t> len(1, round % 2 ? 7 : 300);
    for (size_t i = 0; i < capture.size();) {
      size_t n = std::min(len(rng), capture.size() - i);
      chunks.push_back(std::string_view(capture).substr(i, n));
      i += n;
    }
    expect_same(whole, run_stream(chunks));
  }

  // Bare LF line ends (a gateway that strips CR) decode the same.
  std::string lf;
  for (char c : capture)
    if (c != '\r') lf += c;
  expect_same(whole, run_stream(lf));
}

TEST(PeiStream, HeaderWithoutPayloadThenAnotherHeader) {
  StreamResult r = run_stream(
      "+CTSDSR: 12,1111111,0,9876543,0,88\r\n"
      "+CTSDSR: 12,2001234,0,9876543,0,88\r\n"
      "0A007264B2654EB2000810\r\n"
      "+CTSDSR: 12,3333333,0,9876543,0,88\r\n"
      "OK\r\n"
      "0A007264B2654EB2000810\r\n");  // no header: not attributed to anyone
  ASSERT_EQ(r.out.pings.size(), 1u);
  EXPECT_EQ(r.out.pings[0].device, "2001234");
  EXPECT_EQ(r.counters.orphan_headers, 2u);
  EXPECT_EQ(r.counters.sds, 1u);
  EXPECT_EQ(r.counters.other_lines, 2u);
}

TEST(PeiStream, NonLipSdsIsSkippedAndCounted) {
  StreamResult r = run_stream(
      "+CTSDSR: 13,2001234,0,9876543,0,16\r\n0A12\r\n"            // status 0x0A12, not LIP
      "+CTSDSR: 12,2001234,0,9876543,0,56\r\n82040148656C6C\r\n"  // text SDS (PID 0x82)
      "+CTSDSR: 12,2001234,0,9876543,0,24\r\n0A5000\r\n"          // LIP acknowledgement PDU
      "+CTXD: 1,0,0,0,0,0,1\r\n"
      "AT+CTSDS=12,0,0,0,0\r\n"
      "+CTSDSR: 12,0002001234,0,9876543,0,88\r\n0a007264b2654eb2000810\r\n");
  EXPECT_EQ(r.counters.sds, 4u);
  EXPECT_EQ(r.counters.non_lip_sds, 2u);
  EXPECT_EQ(r.counters.lip_other, 1u);
  EXPECT_EQ(r.counters.lip, 1u);
  EXPECT_EQ(r.counters.other_lines, 2u);
  EXPECT_TRUE(r.out.rejections.empty());
  ASSERT_EQ(r.out.pings.size(), 1u);
  EXPECT_EQ(r.out.pings[0].device, "2001234");
}

TEST(PeiStream, BrokenReportsAreRejectedNotSkipped) {
  StreamResult r = run_stream(
      "+CTSDSR: 12,2001234,0,9876543,0,88\r\n0A0072G4B2654EB2000810\r\n"  // corrupt hex
      "+CTSDSR: 12,,0,9876543,0,88\r\n0A007264B2654EB2000810\r\n"         // source withheld
      "+CTSDSR: 12,2001234,0,9876543,0,88\r\n0A007264\r\n");              // cut short
  ASSERT_EQ(r.out.rejections.size(), 3u);
  EXPECT_EQ(r.out.rejections[0].code, Errc::bad_format);
  EXPECT_EQ(r.out.rejections[1].code, Errc::missing_field);
  EXPECT_EQ(r.out.rejections[2].code, Errc::bad_format);
  EXPECT_EQ(r.counters.lip, 3u);
  EXPECT_EQ(r.counters.length_mismatch, 1u);
}

TEST(PeiStream, OversizedLinesAreDroppedWithBoundedMemory) {
  std::string huge(200'000, 'A');
  std::string input = "+CTSDSR: 12,2001234,0,9876543,0,88\r\n" + huge + "\r\n" +
                      "+CTSDSR: 12,2001234,0,9876543,0,88\r\n0A007264B2654EB2000810\r\n";
  StreamResult r = run_stream(input);
  EXPECT_EQ(r.counters.oversized, 1u);
  EXPECT_EQ(r.counters.orphan_headers, 1u);
  ASSERT_EQ(r.out.pings.size(), 1u);
  EXPECT_TRUE(r.out.rejections.empty());

  // The limit itself: kMaxLine characters is a line, one more is not.
  std::string at_limit(PeiStream::kMaxLine, 'x');
  r = run_stream(at_limit + "\r\n" + at_limit + "y\r\nOK\r\n");
  EXPECT_EQ(r.counters.oversized, 1u);
  EXPECT_EQ(r.counters.other_lines, 2u);
  EXPECT_EQ(r.counters.lines, 3u);

  // Without any line end the stream keeps dropping, whatever arrives.
  PeiStream s;
  DecodedPings out;
  for (int i = 0; i < 100; ++i) s.feed(huge, kNow, out);
  s.feed("\r\n+CTSDSR: 12,2001234,0,9876543,0,88\r\n0A007264B2654EB2000810\r\n", kNow, out);
  EXPECT_EQ(s.counters().oversized, 1u);
  EXPECT_EQ(out.pings.size(), 1u);
}

TEST(PeiStream, HeaderVariants) {
  StreamResult r = run_stream(
      "+CTSDSR: 12, 2001234, 0, 9876543, 0, 88\r\n0A007264B2654EB2000810\r\n"  // spaces
      "+CTSDSR: 12,2001234,0,9876543,0,88,0\r\n0A007264B2654EB2000810\r\n"     // end-to-end encryption flag
      "+CTSDSR: 12,2001234,0,9876543,0\r\n"                                    // no length
      "+CTSDSR: 12,20012X4,0,9876543,0,88\r\n"                                 // not a number
      "+CTSDSR: 12,2001234,0,9876543,0,88,0,1\r\n");                           // too many fields
  EXPECT_EQ(r.out.pings.size(), 2u);
  EXPECT_EQ(r.counters.bad_headers, 3u);
}

}  // namespace
}  // namespace pm
