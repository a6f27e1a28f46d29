#include "server/ingest/rota.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

constexpr EpochMs kHour = 3'600'000;

EpochMs utc(std::string_view iso) { return parse_iso8601(iso).value(); }

std::vector<RotaRow> parse(std::string_view text, std::vector<RotaProblem>& problems) {
  problems.clear();
  return parse_rota_csv(text, problems);
}

std::string describe(const std::vector<RotaProblem>& problems) {
  std::string s;
  for (const auto& p : problems) s += "line " + std::to_string(p.line) + ": " + p.message + "\n";
  return s;
}

// BST start and end (UTC, seconds) per year, taken from the IANA tz database
// (Europe/London) rather than from the rule the code implements.
struct BstYear {
  int year;
  int64_t start_s, end_s;
};
constexpr BstYear kBst[] = {
    {1996, 828234000, 846378000},   {1997, 859683600, 877827600},   {1998, 891133200, 909277200},
    {1999, 922582800, 941331600},   {2000, 954032400, 972781200},   {2001, 985482000, 1004230800},
    {2002, 1017536400, 1035680400}, {2003, 1048986000, 1067130000}, {2004, 1080435600, 1099184400},
    {2005, 1111885200, 1130634000}, {2006, 1143334800, 1162083600}, {2007, 1174784400, 1193533200},
    {2008, 1206838800, 1224982800}, {2009, 1238288400, 1256432400}, {2010, 1269738000, 1288486800},
    {2011, 1301187600, 1319936400}, {2012, 1332637200, 1351386000}, {2013, 1364691600, 1382835600},
    {2014, 1396141200, 1414285200}, {2015, 1427590800, 1445734800}, {2016, 1459040400, 1477789200},
    {2017, 1490490000, 1509238800}, {2018, 1521939600, 1540688400}, {2019, 1553994000, 1572138000},
    {2020, 1585443600, 1603587600}, {2021, 1616893200, 1635642000}, {2022, 1648342800, 1667091600},
    {2023, 1679792400, 1698541200}, {2024, 1711846800, 1729990800}, {2025, 1743296400, 1761440400},
    {2026, 1774746000, 1792890000}, {2027, 1806195600, 1824944400}, {2028, 1837645200, 1856394000},
    {2029, 1869094800, 1887843600}, {2030, 1901149200, 1919293200}, {2031, 1932598800, 1950742800},
    {2032, 1964048400, 1982797200}, {2033, 1995498000, 2014246800}, {2034, 2026947600, 2045696400},
    {2035, 2058397200, 2077146000}, {2036, 2090451600, 2108595600}, {2037, 2121901200, 2140045200},
    {2038, 2153350800, 2172099600}, {2039, 2184800400, 2203549200}, {2040, 2216250000, 2234998800},
};

TEST(UkTime, GmtAndBst) {
  EXPECT_EQ(uk_local_to_utc(2026, 7, 1, 7, 0, 0), utc("2026-07-01T06:00:00Z"));    // BST: UTC+1
  EXPECT_EQ(uk_local_to_utc(2026, 11, 22, 7, 0, 0), utc("2026-11-22T07:00:00Z"));  // GMT
  EXPECT_EQ(uk_local_to_utc(2026, 1, 1, 0, 0, 0), utc("2026-01-01T00:00:00Z"));
  EXPECT_EQ(uk_local_to_utc(2024, 2, 29, 23, 59, 59), utc("2024-02-29T23:59:59Z"));
}

// 2026: the last Sunday of March is the 29th, of October the 25th. Clocks go
// 01:00 GMT -> 02:00 BST in March and 02:00 BST -> 01:00 GMT in October.
TEST(UkTime, MarchChangeDay) {
  EXPECT_EQ(uk_local_to_utc(2026, 3, 28, 7, 0, 0), utc("2026-03-28T07:00:00Z"));  // the Saturday: GMT
  EXPECT_EQ(uk_local_to_utc(2026, 3, 29, 0, 59, 59), utc("2026-03-29T00:59:59Z"));
  EXPECT_EQ(uk_local_to_utc(2026, 3, 29, 2, 0, 0), utc("2026-03-29T01:00:00Z"));
  EXPECT_EQ(uk_local_to_utc(2026, 3, 29, 7, 0, 0), utc("2026-03-29T06:00:00Z"));
  // 01:00-01:59 never shows on a UK clock that day: read with the GMT offset
  // in force before the change (01:30 "GMT" is 02:30 BST).
  EXPECT_EQ(uk_local_to_utc(2026, 3, 29, 1, 0, 0), utc("2026-03-29T01:00:00Z"));
  EXPECT_EQ(uk_local_to_utc(2026, 3, 29, 1, 30, 0), utc("2026-03-29T01:30:00Z"));
}

TEST(UkTime, OctoberChangeDay) {
  EXPECT_EQ(uk_local_to_utc(2026, 10, 25, 0, 59, 59), utc("2026-10-24T23:59:59Z"));
  // 01:00-01:59 happens twice; the first (BST) is taken.
  EXPECT_EQ(uk_local_to_utc(2026, 10, 25, 1, 0, 0), utc("2026-10-25T00:00:00Z"));
  EXPECT_EQ(uk_local_to_utc(2026, 10, 25, 1, 30, 0), utc("2026-10-25T00:30:00Z"));
  EXPECT_EQ(uk_local_to_utc(2026, 10, 25, 1, 59, 59), utc("2026-10-25T00:59:59Z"));
  EXPECT_EQ(uk_local_to_utc(2026, 10, 25, 2, 0, 0), utc("2026-10-25T02:00:00Z"));
  EXPECT_EQ(uk_local_to_utc(2026, 10, 25, 7, 0, 0), utc("2026-10-25T07:00:00Z"));
  EXPECT_EQ(uk_local_to_utc(2026, 10, 26, 7, 0, 0), utc("2026-10-26T07:00:00Z"));
}

TEST(UkTime, AgreesWithTheTzDatabase1996To2040) {
  for (const auto& y : kBst) {
    const EpochMs start = y.start_s * 1000, end = y.end_s * 1000;
    std::string s = format_iso8601(start), e = format_iso8601(end);
    ASSERT_EQ(s.substr(11, 5), "01:00") << s;
    ASSERT_EQ(e.substr(11, 5), "01:00") << e;
    const int sd = std::stoi(s.substr(8, 2)), ed = std::stoi(e.substr(8, 2));
    ASSERT_EQ(s.substr(5, 2), "03");
    ASSERT_EQ(e.substr(5, 2), "10");
    EXPECT_EQ(uk_local_to_utc(y.year, 3, sd, 0, 59, 59), start - 1000) << y.year;
    EXPECT_EQ(uk_local_to_utc(y.year, 3, sd, 2, 0, 0), start) << y.year;
    EXPECT_EQ(uk_local_to_utc(y.year, 7, 1, 12, 0, 0) + kHour, days_from_civil(y.year, 7, 1) * 24 * kHour + 12 * kHour)
        << y.year;
    EXPECT_EQ(uk_local_to_utc(y.year, 10, ed, 0, 59, 59), end - kHour - 1000) << y.year;
    EXPECT_EQ(uk_local_to_utc(y.year, 10, ed, 2, 0, 0), end + kHour) << y.year;
  }
}

TEST(RotaTime, Forms) {
  const EpochMs seven_z = utc("2026-11-22T07:00:00Z");
  for (std::string_view s : {"2026-11-22T07:00:00Z", "2026-11-22T07:00:00+00:00", "2026-11-22T08:00:00+01:00",
                             "2026-11-22T02:00:00-0500", "2026-11-22T07:00Z", "2026-11-22 07:00", "2026-11-22T07:00",
                             "2026-11-22 07:00:00", " 22/11/2026 07:00 ", "2026-11-22T07:00:00.000Z"}) {
    auto t = parse_rota_time(s);
    ASSERT_TRUE(t.has_value()) << s;
    EXPECT_EQ(*t, seven_z) << s;
  }
  EXPECT_EQ(parse_rota_time("2026-07-01 07:00"), utc("2026-07-01T06:00:00Z"));  // local summer time
  EXPECT_EQ(parse_rota_time("01/07/2026 07:00"), utc("2026-07-01T06:00:00Z"));  // day first, as UK sheets write it
  EXPECT_EQ(parse_rota_time("2026-07-01T07:00:00Z"), utc("2026-07-01T07:00:00Z"));
  for (std::string_view s : {"", "2026-11-22", "07:00", "2026-11-22 7:00", "2026-02-29 07:00", "2026-11-22 24:00",
                             "2026-11-22 07:60", "2026-13-01 07:00", "2026-11-22T07:00:00+25:00",
                             "2026-11-22T07:00:00Q", "2026-11-22T07:00:00Z junk", "22-11-2026 07:00", "tomorrow"}) {
    EXPECT_FALSE(parse_rota_time(s).has_value()) << s;
  }
}

TEST(Rota, HeaderIsDetected) {
  std::vector<RotaProblem> problems;
  auto rows = parse(
      "officer,issi,unit,start,end,skills\n"
      "PC 1234 Smith,2001234,NA21,2026-11-22 07:00,2026-11-22 17:00,afo;taser\n"
      "PC 2345 Jones,2001235,NA22,2026-11-22T07:00:00Z,2026-11-22T19:00:00Z,first_aid\n",
      problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].officer, "PC 1234 Smith");
  EXPECT_EQ(rows[0].issi, "2001234");
  EXPECT_EQ(rows[0].unit, "NA21");
  EXPECT_EQ(rows[0].start, utc("2026-11-22T07:00:00Z"));
  EXPECT_EQ(rows[0].end, utc("2026-11-22T17:00:00Z"));
  EXPECT_EQ(rows[0].skills, (std::vector<std::string>{"afo", "taser"}));
  EXPECT_EQ(rows[0].line, 2u);
  EXPECT_EQ(rows[1].line, 3u);

  // Without a header the first line is data.
  rows = parse("PC 1234 Smith,2001234,NA21,2026-11-22 07:00,2026-11-22 17:00,afo\n", problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].line, 1u);
}

TEST(Rota, HeaderOrderCaseAndExtraColumns) {
  std::vector<RotaProblem> problems;
  auto rows = parse(
      "Unit, Officer ,ISSI,Start,End,Notes,Skills\n"
      "NA21,PC Smith,2001234,2026-11-22 07:00,2026-11-22 17:00,\"spare car, keys at desk\",dog\n"
      "NA22,PC Jones,,2026-11-22 07:00,2026-11-22 17:00,,\n",
      problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].unit, "NA21");
  EXPECT_EQ(rows[0].officer, "PC Smith");
  EXPECT_EQ(rows[0].skills, (std::vector<std::string>{"dog"}));
  EXPECT_EQ(rows[1].issi, "");  // no radio this shift
  EXPECT_TRUE(rows[1].skills.empty());

  rows = parse("officer,unit,start,end\nPC Smith,NA21,2026-11-22 07:00,2026-11-22 17:00\n", problems);
  EXPECT_TRUE(rows.empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 1u);
  EXPECT_NE(problems[0].message.find("header"), std::string::npos);
}

TEST(Rota, Rfc4180Quoting) {
  std::vector<RotaProblem> problems;
  auto rows = parse(
      "officer,issi,unit,start,end,skills,notes\n"
      "\"Smith, John \"\"Jack\"\"\",2001234,NA21,2026-11-22 07:00,2026-11-22 17:00,\"afo; taser\",\"two\nlines\"\n"
      "  \"Jones\" ,2001235,NA22,2026-11-22 07:00,2026-11-22 17:00,,\n",
      problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].officer, "Smith, John \"Jack\"");
  EXPECT_EQ(rows[0].skills, (std::vector<std::string>{"afo", "taser"}));
  EXPECT_EQ(rows[0].line, 2u);
  EXPECT_EQ(rows[1].officer, "Jones");
  EXPECT_EQ(rows[1].line, 4u);  // the quoted line break took line 3
}

TEST(Rota, BadRowsAreReportedByLineAndGoodRowsLoad) {
  std::vector<RotaProblem> problems;
  auto rows = parse(
      "officer,issi,unit,start,end,skills\n"                                   // 1
      "PC Good,2001234,NA21,2026-11-22 07:00,2026-11-22 17:00,afo\n"           // 2
      "PC Letters,20O1234,NA22,2026-11-22 07:00,2026-11-22 17:00,\n"           // 3
      "PC Big,16777216,NA23,2026-11-22 07:00,2026-11-22 17:00,\n"              // 4
      "PC Long,123456789,NA24,2026-11-22 07:00,2026-11-22 17:00,\n"            // 5
      "PC Space,2001235,NA 25,2026-11-22 07:00,2026-11-22 17:00,\n"            // 6
      "PC Backwards,2001236,NA26,2026-11-22 17:00,2026-11-22 07:00,\n"         // 7
      "PC Marathon,2001237,NA27,2026-11-22 07:00,2026-11-23 07:01,\n"          // 8
      "PC Vague,2001238,NA28,next tuesday,2026-11-22 17:00,\n"                 // 9
      ",2001239,NA29,2026-11-22 07:00,2026-11-22 17:00,\n"                     // 10
      "PC O\"Brien,2001240,NA30,2026-11-22 07:00,2026-11-22 17:00,\n"          // 11
      "PC Extra,2001241,NA31,2026-11-22 07:00,2026-11-22 17:00,afo,surplus\n"  // 12
      "PC NoUnit,2001242,,2026-11-22 07:00,2026-11-22 17:00,\n"                // 13
      "\"PC Trailing\"x,2001243,NA33,2026-11-22 07:00,2026-11-22 17:00,\n"     // 14
      "PC Max,16777215,NA34,2026-11-22 07:00,2026-11-23 07:00,\n"              // 15
      "PC Zeros,0012345,a-b_c.d:e,2026-11-22 07:00,2026-11-22 17:00,\n",       // 16
      problems);
  std::vector<size_t> bad_lines;
  for (const auto& p : problems) bad_lines.push_back(p.line);
  EXPECT_EQ(bad_lines, (std::vector<size_t>{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})) << describe(problems);
  for (const auto& p : problems) EXPECT_FALSE(p.message.empty());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].officer, "PC Good");
  EXPECT_EQ(rows[1].officer, "PC Max");  // 16777215 and exactly 24 h are allowed
  EXPECT_EQ(rows[1].end - rows[1].start, 24 * kHour);
  EXPECT_EQ(rows[2].issi, "12345");  // the ISSI the radio channels decode, without padding
  EXPECT_EQ(rows[2].unit, "a-b_c.d:e");
  EXPECT_EQ(rows[2].line, 16u);
}

TEST(Rota, SkillsAreSplitTrimmedAndLowerCased) {
  std::vector<RotaProblem> problems;
  auto rows = parse("PC A,1,NA21,2026-11-22 07:00,2026-11-22 17:00, AFO ; taser;;First_Aid ;afo; \n", problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].skills, (std::vector<std::string>{"afo", "taser", "first_aid"}));

  std::string many;
  for (int i = 0; i < 33; ++i) {  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "s" + to_string
    many += 's';
    many += std::to_string(i);
    many += ';';
  }
  rows = parse("PC A,1,NA21,2026-11-22 07:00,2026-11-22 17:00," + many + "\n", problems);
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(problems.size(), 1u);
}

TEST(Rota, CrlfBomBlankLinesAndNoFinalNewline) {
  std::vector<RotaProblem> problems;
  auto rows = parse(
      "\xEF\xBB\xBFofficer,issi,unit,start,end,skills\r\n"
      "\r\n"
      "PC A,2001234,NA21,2026-11-22 07:00,2026-11-22 17:00,afo\r\n"
      ",,,,,\r\n"
      "PC B,2001235,NA22,2026-11-22 07:00,2026-11-22 17:00,taser",
      problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].skills, (std::vector<std::string>{"afo"}));  // no stray '\r'
  EXPECT_EQ(rows[0].line, 3u);
  EXPECT_EQ(rows[1].skills, (std::vector<std::string>{"taser"}));
  EXPECT_EQ(rows[1].line, 5u);
}

TEST(Rota, UnterminatedQuoteIsReportedWhereItStarts) {
  std::vector<RotaProblem> problems;
  auto rows = parse(
      "PC A,2001234,NA21,2026-11-22 07:00,2026-11-22 17:00,afo\n"
      "\"PC B,2001235,NA22,2026-11-22 07:00,2026-11-22 17:00,\n"
      "PC C,2001236,NA23,2026-11-22 07:00,2026-11-22 17:00,\n",
      problems);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2u);
}

// A night shift across the October change lasts an hour longer than the wall
// clock suggests: 22:00 BST to 07:00 GMT is 10 hours.
TEST(Rota, NightShiftOverTheClockChange) {
  std::vector<RotaProblem> problems;
  auto rows = parse(
      "PC Night,2001234,NA21,2026-10-24 22:00,2026-10-25 07:00,\n"
      "PC Spring,2001235,NA22,2026-03-28 22:00,2026-03-29 07:00,\n",
      problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].start, utc("2026-10-24T21:00:00Z"));
  EXPECT_EQ(rows[0].end - rows[0].start, 10 * kHour);
  EXPECT_EQ(rows[1].end - rows[1].start, 8 * kHour);
}

TEST(Rota, ProblemListIsBounded) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "bad row\n";
  std::vector<RotaProblem> problems;
  auto rows = parse(text, problems);
  EXPECT_TRUE(rows.empty());
  ASSERT_EQ(problems.size(), kMaxRotaProblems + 1);
  EXPECT_EQ(problems.back().line, 0u);
  EXPECT_NE(problems.back().message.find("300 more"), std::string::npos) << problems.back().message;
}

TEST(Rota, TenThousandRows) {
  std::string text = "officer,issi,unit,start,end,skills\n";
  for (int i = 0; i < 10000; ++i) {
    int day = 1 + i % 28, hour = (i % 3) * 8;
    char row[160];
    std::snprintf(row, sizeof row,
                  "\"PC %d, Officer\",%d,NA%d,2026-%02d-%02d %02d:00,2026-%02d-%02d %02d:30,afo;taser\r\n", i,
                  2000000 + i, i % 500, 1 + i % 12, day, hour, 1 + i % 12, day, hour + 7);
    text += row;
  }
  std::vector<RotaProblem> problems;
  auto rows = parse(text, problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  ASSERT_EQ(rows.size(), 10000u);
  EXPECT_EQ(rows.back().line, 10001u);
  EXPECT_EQ(rows.back().officer, "PC 9999, Officer");
  EXPECT_EQ(rows.back().issi, "2009999");
  for (const auto& r : rows) ASSERT_EQ(r.end - r.start, 7 * kHour + 30 * 60'000) << r.line;
}

}  // namespace
}  // namespace pm
