// The management reports' pure cores (server/reports/reports.hpp) against
// hand-worked numbers: percentiles, response times and breaches, deployments
// per shift, mileage of a track with a stop (legs by Karney's geodesic), and
// hours of week in GMT and BST; units on duty read from a real store (track
// chunks and the unchunked tail) against a plain scan of its fixes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "geo/geodesic.hpp"
#include "server/core/time_format.hpp"
#include "server/reports/report_store.hpp"
#include "server/reports/reports.hpp"
#include "server/store/store.hpp"
#include "tests/support/store_put.hpp"
#include "tests/support/temp_dir.hpp"

namespace pm::reports {
namespace {

constexpr EpochMs kS = 1000;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

EpochMs iso(const char* s) {
  auto t = parse_iso8601(s);
  EXPECT_TRUE(t) << s;
  return t.value_or(0);
}

TEST(Percentiles, MedianAndNearestRankByHand) {
  // 300, 420, 600, 900, 1500: median the 3rd; p90 rank ceil(4.5) = 5.
  std::vector<double> five = {300, 420, 600, 900, 1500};
  EXPECT_EQ(median_sorted(five), 600);
  EXPECT_EQ(percentile_sorted(five, 90), 1500);
  EXPECT_EQ(percentile_sorted(five, 50), 600);  // rank ceil(2.5) = 3
  EXPECT_EQ(percentile_sorted(five, 20), 300);  // rank ceil(1.0) = 1
  // Six: median (420 + 600) / 2; p90 rank ceil(5.4) = 6; p50 rank 3.
  std::vector<double> six = {200, 300, 420, 600, 900, 1500};
  EXPECT_EQ(median_sorted(six), 510);
  EXPECT_EQ(percentile_sorted(six, 90), 1500);
  EXPECT_EQ(percentile_sorted(six, 50), 420);
  std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(percentile_sorted(ten, 90), 9);  // rank 9 exactly
  EXPECT_EQ(median_sorted(std::vector<double>{7}), 7);
}

dispatch::Incident incident(uint64_t id, int grade, EpochMs created, int64_t target_s, EpochMs arrived = 0,
                            EpochMs closed = 0) {
  dispatch::Incident i;
  i.id = id;
  i.spec.grade = grade;
  i.created = created;
  i.deadline = target_s ? created + target_s * kS : 0;
  i.first_on_scene = arrived;
  i.closed = closed;
  return i;
}

TEST(ResponseTimes, GradeOneByHand) {
  const EpochMs from = iso("2026-11-20T00:00:00Z"), to = iso("2026-11-22T00:00:00Z");
  const EpochMs now = iso("2026-11-21T12:00:00Z");
  const EpochMs c = iso("2026-11-21T08:00:00Z");
  std::vector<dispatch::Incident> v = {
      incident(1, 1, c, 900, c + 300 * kS),                       // met, 300 s
      incident(2, 1, c + 60 * kS, 900, c + 660 * kS),             // met, 600 s
      incident(3, 1, c + 120 * kS, 900, c + 540 * kS),            // met, 420 s
      incident(4, 1, c + 180 * kS, 900, c + 1380 * kS),           // breach, 1200 s
      incident(5, 1, c + 240 * kS, 900, c + 1740 * kS),           // breach, 1500 s
      incident(6, 1, c + 300 * kS, 900, 0, c + 500 * kS),         // closed unattended before its target: cancelled
      incident(7, 1, now - 1000 * kS, 900),                       // open 1000 s, target passed: breach
      incident(8, 1, now - 100 * kS, 900),                        // open 100 s: pending
      incident(9, 1, from - kS, 900, from + 60 * kS),             // before the window
      incident(10, 1, to, 900, to + 60 * kS),                     // at its end: outside
      incident(11, 3, c, 0, c + 7200 * kS),                       // grade 3, no appointment: not judged
      incident(12, 3, c, 3600, 0, c + 4000 * kS),                 // grade 3, window missed, closed: breach
      incident(13, 2, c, 3600, c + 3600 * kS),                    // exactly on target: met
  };
  std::vector<const dispatch::Incident*> ptrs;
  for (const auto& i : v) ptrs.push_back(&i);
  auto r = response_times(ptrs, from, to, now);
  ASSERT_EQ(r.size(), 3u);
  const auto& g1 = r[0];
  EXPECT_EQ(g1.grade, 1);
  EXPECT_EQ(g1.incidents, 8u);
  EXPECT_EQ(g1.attended, 5u);
  EXPECT_EQ(g1.cancelled, 1u);
  EXPECT_EQ(g1.pending, 1u);
  EXPECT_EQ(g1.met, 3u);
  EXPECT_EQ(g1.judged, 6u);
  // Sorted responses 300, 420, 600, 1200, 1500.
  EXPECT_EQ(*g1.median_s, 600);
  EXPECT_EQ(*g1.p90_s, 1500);
  EXPECT_DOUBLE_EQ(*g1.share_within_target, 0.5);
  ASSERT_EQ(g1.breaches.size(), 3u);
  EXPECT_EQ(g1.breaches[0].incident, 4u);
  EXPECT_EQ(g1.breaches[0].seconds, 1200);
  EXPECT_EQ(g1.breaches[0].arrived, c + 1380 * kS);
  EXPECT_EQ(g1.breaches[1].incident, 5u);
  EXPECT_EQ(g1.breaches[2].incident, 7u);
  EXPECT_EQ(g1.breaches[2].arrived, 0);
  EXPECT_FALSE(g1.breaches[2].closed);
  EXPECT_EQ(g1.breaches[2].seconds, 1000);

  const auto& g2 = r[1];
  EXPECT_EQ(g2.incidents, 1u);
  EXPECT_EQ(g2.met, 1u);
  EXPECT_DOUBLE_EQ(*g2.share_within_target, 1.0);
  EXPECT_EQ(*g2.median_s, 3600);

  const auto& g3 = r[2];
  EXPECT_EQ(g3.incidents, 2u);
  EXPECT_EQ(g3.attended, 1u);
  EXPECT_EQ(g3.judged, 1u);
  EXPECT_EQ(g3.met, 0u);
  EXPECT_DOUBLE_EQ(*g3.share_within_target, 0.0);
  ASSERT_EQ(g3.breaches.size(), 1u);
  EXPECT_TRUE(g3.breaches[0].closed);
  EXPECT_EQ(g3.breaches[0].seconds, 4000);
  EXPECT_EQ(*g3.median_s, 7200);
}

TEST(ResponseTimes, EmptyGradesHaveNoFigures) {
  auto r = response_times({}, 0, 1000, 1000);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_FALSE(r[0].median_s);
  EXPECT_FALSE(r[0].p90_s);
  EXPECT_FALSE(r[0].share_within_target);
}

dispatch::Assignment as(const char* unit, EpochMs at, bool forced = false, bool self = false, EpochMs cleared = 0) {
  dispatch::Assignment a;
  a.unit_id = unit;
  a.assigned = at;
  a.forced = forced;
  a.self_deployed = self;
  a.cleared = cleared;
  return a;
}

TEST(Deployments, PerShiftByHand) {
  auto cal = ShiftCalendar::parse("07:00,14:00,22:00", "UTC0");
  ASSERT_TRUE(cal);
  const EpochMs from = iso("2026-11-21T07:00:00Z"), to = iso("2026-11-21T22:00:00Z");
  auto shifts = cal->between(from, to);
  ASSERT_EQ(shifts.size(), 2u);  // 07:00-14:00 and 14:00-22:00
  const EpochMs c = iso("2026-11-21T08:00:00Z");
  std::vector<dispatch::Incident> v = {
      incident(1, 1, c, 900), incident(2, 2, c + 3600 * kS, 3600), incident(3, 1, iso("2026-11-21T15:00:00Z"), 900),
      incident(4, 2, iso("2026-11-21T15:30:00Z"), 3600), incident(5, 1, iso("2026-11-21T06:59:59Z"), 900)};
  v[0].assignments = {as("NA21", c + 10 * kS), as("NA22", c + 20 * kS, true)};  // two units, one forced
  v[1].assignments = {as("NA23", c + 3700 * kS, false, true)};                   // self-deployed
  v[2].assignments = {as("NA21", iso("2026-11-21T15:01:00Z"))};                  // ordinary
  // The same unit twice (cleared, then sent back): one distinct unit.
  v[3].assignments = {as("NA24", iso("2026-11-21T15:31:00Z"), false, false, iso("2026-11-21T15:40:00Z")),
                      as("NA24", iso("2026-11-21T15:50:00Z"))};
  v[4].assignments = {as("NA21", c), as("NA22", c)};  // before the window
  std::vector<const dispatch::Incident*> ptrs;
  for (const auto& i : v) ptrs.push_back(&i);
  auto d = deployments(ptrs, shifts, from, to);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].incidents, 2u);
  EXPECT_EQ(d[0].deployments, 3u);
  EXPECT_EQ(d[0].multi_unit, 1u);
  EXPECT_EQ(d[0].forced, 1u);
  EXPECT_EQ(d[0].self_deployed, 1u);
  ASSERT_EQ(d[0].notable.size(), 2u);
  EXPECT_EQ(d[0].notable[0].incident, 1u);
  ASSERT_EQ(d[0].notable[0].units.size(), 2u);
  EXPECT_EQ(d[0].notable[0].units[1].unit, "NA22");
  EXPECT_EQ(d[0].notable[0].units[1].how, How::forced);
  EXPECT_EQ(d[0].notable[1].units[0].how, How::self);
  EXPECT_EQ(d[1].incidents, 2u);
  EXPECT_EQ(d[1].deployments, 3u);
  EXPECT_EQ(d[1].multi_unit, 0u);
  EXPECT_TRUE(d[1].notable.empty());
}

TrackPoint at(int64_t t_s, double lat, double lon) {
  return {.t = t_s * 1000, .lat_e7 = to_e7(lat), .lon_e7 = to_e7(lon), .speed_mps = kNaN, .heading_deg = kNaN,
          .accuracy_m = kNaN};
}
double geodesic(const TrackPoint& a, const TrackPoint& b) {
  return geo::geodesic_distance_m({a.lon(), a.lat()}, {b.lon(), b.lat()});
}

TEST(Mileage, StopAddsNothingLegsAddUp) {
  // Fixes 0..5 drive north 0.0009 deg (~100 m) every 10 s; 6..35 wait 290 s
  // jittering +-0.00003 deg (~3 m); 36..40 drive on east 0.0015 deg (~100 m).
  const double lat0 = 52.6345, lon0 = -1.1352;
  std::vector<TrackPoint> p;
  int64_t t = 0;
  for (int i = 0; i <= 5; ++i, t += 10) p.push_back(at(t, lat0 + 0.0009 * i, lon0));
  const double slat = lat0 + 0.0009 * 6;
  for (int i = 0; i < 30; ++i, t += 10) p.push_back(at(t, slat + (i % 2 ? 0.00003 : -0.00003), lon0));
  for (int i = 1; i <= 5; ++i, t += 10) p.push_back(at(t, slat, lon0 + 0.0015 * i));
  // Trip 1: fixes 0..6 (into the stop's first fix); trip 2: fix 35..40.
  double want = 0;
  for (size_t k = 0; k < 6; ++k) want += geodesic(p[k], p[k + 1]);
  for (size_t k = 35; k < 40; ++k) want += geodesic(p[k], p[k + 1]);
  auto s = summarise_track(p, StopRules{});
  EXPECT_EQ(s.fixes, 41u);
  EXPECT_EQ(s.stops, 1u);
  EXPECT_NEAR(s.distance_m, want, want * 1e-5);
  EXPECT_GT(want, 1000);  // 6 x 100 m north + 5 x ~100 m east, roughly
  EXPECT_LT(want, 1150);
  EXPECT_EQ(s.moving_ms, (60 + 50) * 1000);  // t 0..60 and t 350..400

  Shift shift{0, 8 * 3600 * kS, "x"};
  auto row = mileage_row("NA21", shift, p, false, StopRules{}, 5);
  ASSERT_TRUE(row);
  EXPECT_TRUE(row->barely_used);  // ~1.1 km < 5 km
  EXPECT_FALSE(mileage_row("NA21", shift, p, false, StopRules{}, 1)->barely_used);
  EXPECT_FALSE(mileage_row("NA22", shift, {}, false, StopRules{}, 5));  // no fixes, not on the rota: no row
  auto idle = mileage_row("NA22", shift, {}, true, StopRules{}, 5);
  ASSERT_TRUE(idle);
  EXPECT_EQ(idle->track.distance_m, 0);
  EXPECT_TRUE(idle->barely_used);

  std::vector<DutySpan> rota = {{"NA22", 3600 * kS, 7200 * kS}};
  EXPECT_TRUE(on_duty(rota, "NA22", 0, 3601 * kS));
  EXPECT_FALSE(on_duty(rota, "NA22", 0, 3600 * kS));  // ends as it starts: no overlap
  EXPECT_FALSE(on_duty(rota, "NA21", 0, 7200 * kS));
}

size_t cell(int day, int hour) { return static_cast<size_t>(day * 24 + hour); }

TEST(Demand, HoursOfWeekInSummerTime) {
  auto tz = PosixTz::parse("GMT0BST,M3.5.0/1,M10.5.0");
  ASSERT_TRUE(tz);
  // Sunday 5 July 2026 00:00 BST to Sunday 12 July 00:00 BST: 168 slots.
  const EpochMs from = iso("2026-07-04T23:00:00Z"), to = iso("2026-07-11T23:00:00Z");
  std::vector<std::pair<EpochMs, int>> created = {
      {iso("2026-07-10T21:30:00Z"), 1},  // Friday 22:30 BST
      {iso("2026-07-05T08:15:00Z"), 2},  // Sunday 09:15 BST
      {iso("2026-07-07T08:59:59Z"), 1},  // Tuesday 09:59 BST
      {iso("2026-07-07T08:30:00Z"), 3},  // grade 3: not demand
      {iso("2026-07-04T22:59:59Z"), 1},  // before the window
  };
  std::vector<UnitHour> hours = {
      {hour_of(iso("2026-07-05T08:00:00Z")), 1}, {hour_of(iso("2026-07-05T08:40:00Z")), 1},  // same hour twice
      {hour_of(iso("2026-07-05T08:10:00Z")), 2}, {hour_of(iso("2026-07-06T08:10:00Z")), 1},
      {hour_of(iso("2026-07-10T21:00:00Z")), 1}};
  auto d = demand(created, hours, *tz, from, to);
  int slots = 0;
  for (const auto& c : d.week) slots += c.slots;
  EXPECT_EQ(slots, 168);
  EXPECT_EQ(d.week[cell(5, 22)].grade1, 1);
  EXPECT_EQ(d.week[cell(0, 9)].grade2, 1);
  EXPECT_EQ(d.week[cell(2, 9)].grade1, 1);
  EXPECT_EQ(d.week[cell(0, 9)].unit_hours, 2);  // NA1 and NA2 on Sunday 09:00-10:00 BST
  EXPECT_EQ(d.week[cell(1, 9)].unit_hours, 1);
  EXPECT_EQ(d.week[cell(5, 22)].unit_hours, 1);
  // Sunday-Thursday 09:00: 5 slots, 2 incidents, 3 unit-hours.
  EXPECT_EQ(d.sun_thu[9].slots, 5);
  EXPECT_EQ(d.sun_thu[9].incidents(), 2);
  EXPECT_DOUBLE_EQ(d.sun_thu[9].incidents_per_slot(), 0.4);
  EXPECT_DOUBLE_EQ(d.sun_thu[9].units_per_slot(), 0.6);
  EXPECT_EQ(d.fri_sat[22].slots, 2);
  EXPECT_DOUBLE_EQ(d.fri_sat[22].incidents_per_slot(), 0.5);
  EXPECT_EQ(d.fri_sat[8].incidents(), 0);
}

TEST(Demand, WinterHoursPartialWindowAndTheClockChange) {
  auto tz = PosixTz::parse("GMT0BST,M3.5.0/1,M10.5.0");
  ASSERT_TRUE(tz);
  // Sunday 22 November 2026 is GMT: 10:30Z is 10:30 local. The window
  // 10:30-12:10 overlaps three clock hours: 10, 11 and 12.
  auto d = demand({{{iso("2026-11-22T10:45:00Z"), 1}}}, {}, *tz, iso("2026-11-22T10:30:00Z"),
                  iso("2026-11-22T12:10:00Z"));
  EXPECT_EQ(d.week[cell(0, 10)].slots, 1);
  EXPECT_EQ(d.week[cell(0, 11)].slots, 1);
  EXPECT_EQ(d.week[cell(0, 12)].slots, 1);
  EXPECT_EQ(d.week[cell(0, 13)].slots, 0);
  EXPECT_EQ(d.week[cell(0, 10)].grade1, 1);
  // Sunday 25 October 2026 (BST ends at 01:00 UTC): local 01:00 happens twice.
  auto fall = demand({}, {}, *tz, iso("2026-10-24T23:00:00Z"), iso("2026-10-26T00:00:00Z"));
  EXPECT_EQ(fall.week[cell(0, 1)].slots, 2);
  EXPECT_EQ(fall.week[cell(0, 0)].slots, 1);
  // Sunday 29 March 2026 (BST starts at 01:00 UTC): local 01:00 never happens.
  auto spring = demand({}, {}, *tz, iso("2026-03-29T00:00:00Z"), iso("2026-03-30T00:00:00Z"));
  EXPECT_EQ(spring.week[cell(0, 0)].slots, 1);
  EXPECT_EQ(spring.week[cell(0, 1)].slots, 0);
  EXPECT_EQ(spring.week[cell(0, 2)].slots, 1);
}

TEST(Demand, AddHoursClipsToTheWindow) {
  std::vector<UnitHour> out;
  const EpochMs h = kHourMs;
  add_hours(out, 7, 2 * h + 1, 5 * h, 3 * h, 10 * h);  // 02:00:00.001-05:00 within 03:00-10:00: hours 3, 4
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].hour, 3);
  EXPECT_EQ(out[1].hour, 4);
  out.clear();
  add_hours(out, 7, 5 * h, 5 * h, 0, 10 * h);
  EXPECT_TRUE(out.empty());
}

// Units on duty by hour, as demand_report reads them from track chunks and the
// unchunked tail, equal a plain scan of `fixes` (every stored fix with a unit),
// on random windows.
void expect_unit_hours_equal_scan(const std::string& dir, EpochMs t0, EpochMs t1, std::mt19937& rng, const char* when) {
  sql::Db db;
  ASSERT_FALSE(open_store_db(db, dir, SyncMode::normal).has_value());
  auto tz = PosixTz::parse("UTC0");
  std::uniform_int_distribution<int64_t> any(t0 - 2 * kHourMs, t1 + 2 * kHourMs);
  int64_t nonzero = 0;
  for (int q = 0; q < 25; ++q) {
    EpochMs a = any(rng), b = any(rng);
    if (q == 0) a = t0 - kHourMs, b = t1 + kHourMs;
    if (a > b) std::swap(a, b);
    if (a == b) continue;
    std::vector<UnitHour> want;
    auto st = db.prepare("SELECT DISTINCT unit, t / 3600000 FROM fixes WHERE unit IS NOT NULL AND t >= ? AND t < ?");
    st.bind(1, hour_of(a) * kHourMs).bind(2, (hour_of(b - 1) + 1) * kHourMs);
    while (st.step() == SQLITE_ROW) want.push_back({st.i64(1), static_cast<uint32_t>(st.i64(0))});
    ReportQuery rq;
    rq.from = a;
    rq.to = b;
    rq.tz = &*tz;
    auto got = demand_report(db, rq);
    ASSERT_TRUE(std::holds_alternative<Demand>(got)) << std::get<std::string>(got);
    const Demand expected = demand({}, want, *tz, a, b);
    for (size_t i = 0; i < 168; ++i) {
      ASSERT_EQ(std::get<Demand>(got).week[i].unit_hours, expected.week[i].unit_hours) << when << " cell " << i;
      ASSERT_EQ(std::get<Demand>(got).week[i].slots, expected.week[i].slots) << when << " cell " << i;
      nonzero += expected.week[i].unit_hours;
    }
  }
  EXPECT_GT(nonzero, 50) << when;  // the comparison was not vacuous
}

TEST(ReportStore, UnitsOnDutyFromChunksAndTailEqualAScanOfFixes) {
  test::TempDir dir;
  std::mt19937 rng(11);
  std::printf("seed 11\n");
  const EpochMs t0 = iso("2026-11-20T06:00:00Z"), t1 = t0 + 10 * kHourMs;
  // Sparse fixes (a few per hour per unit), so some unit-hours are empty and a
  // chunk's first and last fix often fall in different clock hours.
  auto pings = [&](int n, bool late) {
    std::vector<RawPing> v;
    std::uniform_int_distribution<int64_t> tt(t0, t1);
    for (int i = 0; i < n; ++i) {
      RawPing p;
      p.device = "U" + std::to_string(rng() % 5);
      p.t = late ? tt(rng) : t0 + static_cast<int64_t>(i) * (t1 - t0) / n + static_cast<int64_t>(rng() % 1000);
      p.lat = 52.6 + static_cast<double>(rng() % 1000) * 1e-5;
      p.lon = -0.8;
      v.push_back(p);
    }
    return v;
  };
  StoreOptions o;
  o.data_dir = dir.path();
  o.track_chunk_s = 0;  // chunks only at stop: the test decides what is tail
  {
    Metrics metrics;
    LiveState live{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
    auto store = Store::open(o, metrics);
    store->load(live);
    store->start(live, [](sql::Db&) {});
    test::store_put(*store, live, pings(60, false));
    store->stop();  // packs everything into chunks
  }
  expect_unit_hours_equal_scan(dir.path(), t0, t1, rng, "chunks");
  {
    Metrics metrics;
    LiveState live{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
    auto store = Store::open(o, metrics);
    store->load(live);
    store->start(live, [](sql::Db&) {});
    test::store_put(*store, live, pings(40, true));  // late fixes: the unchunked tail
    expect_unit_hours_equal_scan(dir.path(), t0, t1, rng, "chunks and tail");
    store->stop();
  }
  expect_unit_hours_equal_scan(dir.path(), t0, t1, rng, "after restart");
}

}  // namespace
}  // namespace pm::reports
