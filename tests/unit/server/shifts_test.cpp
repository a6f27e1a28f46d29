#include "server/core/shifts.hpp"

#include <gtest/gtest.h>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

int64_t t(const char* iso) { return *parse_iso8601(iso); }

ShiftCalendar uk() { return *ShiftCalendar::parse("07:00,14:00,22:00", "GMT0BST,M3.5.0/1,M10.5.0"); }

// UK summer time 2026: from Sunday 29 March 01:00 UTC to Sunday 25 October
// 01:00 UTC (the last Sundays of those months; checked on a calendar).
TEST(PosixTz, UkSummerTimeSwitchesOnTheLastSundays) {
  auto tz = *PosixTz::parse("GMT0BST,M3.5.0/1,M10.5.0");
  EXPECT_EQ(tz.offset_ms(t("2026-03-29T00:59:59.000Z")), 0);
  EXPECT_EQ(tz.offset_ms(t("2026-03-29T01:00:00.000Z")), 3'600'000);
  EXPECT_EQ(tz.offset_ms(t("2026-10-25T00:59:59.000Z")), 3'600'000);
  EXPECT_EQ(tz.offset_ms(t("2026-10-25T01:00:00.000Z")), 0);
  EXPECT_EQ(tz.offset_ms(t("2026-11-22T10:00:00.000Z")), 0);
  auto utc = *PosixTz::parse("UTC0");
  EXPECT_EQ(utc.offset_ms(t("2026-07-01T00:00:00.000Z")), 0);
  // Central Europe, to check an offset east of Greenwich: CET-1CEST.
  auto cet = *PosixTz::parse("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_EQ(cet.offset_ms(t("2026-01-10T12:00:00.000Z")), 3'600'000);
  EXPECT_EQ(cet.offset_ms(t("2026-07-10T12:00:00.000Z")), 7'200'000);
}

TEST(PosixTz, RefusesWhatItDoesNotUnderstand) {
  EXPECT_FALSE(PosixTz::parse(""));
  EXPECT_FALSE(PosixTz::parse("Europe/London"));
  EXPECT_FALSE(PosixTz::parse("GMT0BST,J60,J300"));
  EXPECT_FALSE(PosixTz::parse("GMT0BST,M13.5.0,M10.5.0"));
  EXPECT_FALSE(PosixTz::parse("GMT0BST,M3.5.0/1,M10.5.0junk"));
}

TEST(ShiftCalendar, WinterDayShiftIsSevenToTwoUtc) {
  Shift s = uk().at(t("2026-11-22T10:00:00.000Z"));
  EXPECT_EQ(s.start_ms, t("2026-11-22T07:00:00.000Z"));
  EXPECT_EQ(s.end_ms, t("2026-11-22T14:00:00.000Z"));
  EXPECT_EQ(s.label, "2026-11-22 07:00");
  // A boundary instant belongs to the shift it starts.
  EXPECT_EQ(uk().at(t("2026-11-22T14:00:00.000Z")).start_ms, t("2026-11-22T14:00:00.000Z"));
}

TEST(ShiftCalendar, SummerNightShiftIsInLocalTime) {
  // 05:30 UTC on 1 July is 06:30 BST: the night shift from 22:00 BST on 30 June.
  Shift s = uk().at(t("2026-07-01T05:30:00.000Z"));
  EXPECT_EQ(s.start_ms, t("2026-06-30T21:00:00.000Z"));
  EXPECT_EQ(s.end_ms, t("2026-07-01T06:00:00.000Z"));
  EXPECT_EQ(s.label, "2026-06-30 22:00");
}

TEST(ShiftCalendar, NightShiftOverTheClockChangeIsAnHourShorter) {
  Shift s = uk().at(t("2026-03-29T03:00:00.000Z"));
  EXPECT_EQ(s.start_ms, t("2026-03-28T22:00:00.000Z"));
  EXPECT_EQ(s.end_ms, t("2026-03-29T06:00:00.000Z"));  // 07:00 BST
  EXPECT_EQ(s.end_ms - s.start_ms, 8 * 3'600'000);
}

TEST(ShiftCalendar, BetweenListsEveryOverlappingShift) {
  auto v = uk().between(t("2026-11-22T00:00:00.000Z"), t("2026-11-23T00:00:00.000Z"));
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].start_ms, t("2026-11-21T22:00:00.000Z"));
  EXPECT_EQ(v[1].start_ms, t("2026-11-22T07:00:00.000Z"));
  EXPECT_EQ(v[2].start_ms, t("2026-11-22T14:00:00.000Z"));
  EXPECT_EQ(v[3].start_ms, t("2026-11-22T22:00:00.000Z"));
  for (size_t i = 1; i < v.size(); ++i) EXPECT_EQ(v[i].start_ms, v[i - 1].end_ms);
  EXPECT_TRUE(uk().between(5, 5).empty());
}

TEST(ShiftCalendar, BadBoundariesAreRefusedWithAReason) {
  std::string err;
  EXPECT_FALSE(ShiftCalendar::parse("7:00,14:00", "UTC0", &err));
  EXPECT_NE(err.find("HH:MM"), std::string::npos);
  EXPECT_FALSE(ShiftCalendar::parse("14:00,07:00", "UTC0", &err));
  EXPECT_NE(err.find("ascend"), std::string::npos);
  EXPECT_FALSE(ShiftCalendar::parse("", "UTC0", &err));
  EXPECT_FALSE(ShiftCalendar::parse("07:00", "London", &err));
  auto one = ShiftCalendar::parse("06:00", "UTC0");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->at(t("2026-11-22T05:00:00.000Z")).start_ms, t("2026-11-21T06:00:00.000Z"));
}

}  // namespace
}  // namespace pm
