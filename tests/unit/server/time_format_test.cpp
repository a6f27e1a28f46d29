#include "server/core/time_format.hpp"

#include <gtest/gtest.h>

namespace pm {
namespace {

// Reference values computed with GNU date: date -u -d '2026-11-22T10:15:03.250Z' +%s%3N
TEST(TimeFormat, ParsesUtcWithMilliseconds) {
  EXPECT_EQ(parse_iso8601("2026-11-22T10:15:03.250Z"), 1795342503250);
  EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601("2000-02-29T23:59:59.999Z"), 951868799999);
}

TEST(TimeFormat, OffsetsAreTheSameInstant) {
  EXPECT_EQ(parse_iso8601("2026-11-22T11:15:03.250+01:00"), parse_iso8601("2026-11-22T10:15:03.250Z"));
  EXPECT_EQ(parse_iso8601("2026-11-22T05:15:03.250-0500"), parse_iso8601("2026-11-22T10:15:03.250Z"));
  EXPECT_EQ(parse_iso8601("2026-11-22 10:15:03Z"), 1795342503000);
}

TEST(TimeFormat, FractionsBeyondMillisecondsTruncate) {
  EXPECT_EQ(parse_iso8601("2026-11-22T10:15:03.2509999Z"), 1795342503250);
  EXPECT_EQ(parse_iso8601("2026-11-22T10:15:03.2Z"), 1795342503200);
}

TEST(TimeFormat, RejectsMalformedAndImpossible) {
  for (const char* bad : {"", "2026-11-22", "2026-11-22T10:15:03", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
                          "2026-11-22T24:00:00Z", "2026-11-22T10:15:03.Z", "2026-11-22T10:15:03Zjunk",
                          "2026-11-22T10:15:03+25:00", "20261122T101503Z", "2026-11-22T10:15:03.250X"})
    EXPECT_FALSE(parse_iso8601(bad).has_value()) << bad;
}

TEST(TimeFormat, FormatRoundTrips) {
  EXPECT_EQ(format_iso8601(1795342503250), "2026-11-22T10:15:03.250Z");
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(-1), "1969-12-31T23:59:59.999Z");
  for (EpochMs t : {EpochMs{951868799999}, EpochMs{1795342503250}, EpochMs{4102444800000}})
    EXPECT_EQ(parse_iso8601(format_iso8601(t)), t);
}

}  // namespace
}  // namespace pm
