#include "server/ingest/validate.hpp"

#include <gtest/gtest.h>

namespace pm {
namespace {

constexpr EpochMs kNow = 1795342503250;

RawPing ping(double lat, double lon, EpochMs t = kNow) {
  RawPing p;
  p.device = "A";
  p.lat = lat;
  p.lon = lon;
  p.t = t;
  return p;
}

std::optional<Errc> code(const RawPing& p, IngestLimits l = {}) {
  auto r = validate_ping(p, kNow, l);
  return r ? std::optional(r->code) : std::nullopt;
}

TEST(Validate, Coordinates) {
  EXPECT_EQ(code(ping(52.67, -0.73)), std::nullopt);
  EXPECT_EQ(code(ping(90, 180)), std::nullopt);
  EXPECT_EQ(code(ping(90.0001, 0.1)), Errc::bad_coordinate);
  EXPECT_EQ(code(ping(1, -180.5)), Errc::bad_coordinate);
  EXPECT_EQ(code(ping(0, 0)), Errc::bad_coordinate);
  EXPECT_EQ(code(ping(std::nan(""), 1)), Errc::bad_coordinate);
  EXPECT_EQ(code(ping(1, INFINITY)), Errc::bad_coordinate);
  EXPECT_EQ(code(ping(0, 0.0001)), std::nullopt);  // on the equator is fine, only exactly 0,0 is no-fix
}

TEST(Validate, TimeWindowEdges) {
  IngestLimits l{60, 86400};
  EXPECT_EQ(code(ping(1, 1, kNow + 60000), l), std::nullopt);  // exactly the limit is allowed
  EXPECT_EQ(code(ping(1, 1, kNow + 60001), l), Errc::future_time);
  EXPECT_EQ(code(ping(1, 1, kNow - 86400000), l), std::nullopt);
  EXPECT_EQ(code(ping(1, 1, kNow - 86400001), l), Errc::too_old);
  l.too_old_s = 0;  // disabled: replaying a 2008 capture
  EXPECT_EQ(code(ping(1, 1, 1199145600000), l), std::nullopt);
}

TEST(Validate, OptionalMeasurements) {
  RawPing p = ping(1, 1);
  p.speed_mps = -1;
  EXPECT_EQ(code(p), Errc::bad_format);
  p.speed_mps = 30;
  p.heading_deg = 361;
  EXPECT_EQ(code(p), Errc::bad_format);
  p.heading_deg = 360;
  EXPECT_EQ(code(p), std::nullopt);
  p.accuracy_m = -3;
  EXPECT_EQ(code(p), Errc::bad_format);
}

}  // namespace
}  // namespace pm
