// Patrol coverage accounting (SPEC 5). Hand-made beats near Leicester with
// answers worked out by hand in the comments; then properties: shuffled
// arrival equals in-order equals the historical batch, and the real Leicester
// wards against a brute-force recomputation by dense time sampling with an
// independent point-in-polygon test.
#include "geo/coverage.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/data_dir.hpp"
#include "tests/support/geojson_areas.hpp"
#include "tests/support/seed.hpp"

namespace pm::geo {
namespace {

// Local origin in British National Grid (Leicester city centre): the beats
// below are given in metres from it.
constexpr double kX0 = 458000;
constexpr double kY0 = 304000;
constexpr std::int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z, ms
constexpr std::int64_t kSec = 1000;

const Projection& bng() {
  static const Projection p = [] {
    auto r = Projection::create();
    if (!r) throw std::runtime_error(r.error());
    return *r;
  }();
  return p;
}

XY at(double x, double y) { return {kX0 + x, kY0 + y}; }

// A ring given in local metres, closed, as lon/lat for AreaIndex::build.
std::vector<LonLat> ring(std::vector<std::pair<double, double>> pts) {
  std::vector<LonLat> r;
  for (auto [x, y] : pts) r.push_back(bng().inverse(at(x, y)));
  r.push_back(r.front());
  return r;
}

std::vector<LonLat> square_ring(double x, double y, double side) {
  return ring({{x, y}, {x + side, y}, {x + side, y + side}, {x, y + side}});
}

AreaInput square(std::string id, double x, double y, double side) {
  AreaInput a;
  a.id = std::move(id);
  a.polygons.push_back({{square_ring(x, y, side)}});
  return a;
}

std::shared_ptr<const AreaIndex> build(const std::vector<AreaInput>& inputs) {
  std::vector<AreaError> errors;
  auto idx = std::make_shared<const AreaIndex>(AreaIndex::build(inputs, bng(), &errors));
  EXPECT_TRUE(errors.empty()) << errors.front().reason;
  return idx;
}

// The 100 m beat [0,100] x [0,100] used by most cases.
std::shared_ptr<const AreaIndex> beat() { return build({square("beat", 0, 0, 100)}); }

struct Fix {
  const char* unit;
  double t_s;  // seconds after kT0
  double x, y;
};

// Feeds fixes to a live accumulator and returns its report on area 0 over
// [from, to) seconds after kT0; also checks the historical batch agrees.
AreaCoverage run(const std::shared_ptr<const AreaIndex>& idx, const std::vector<Fix>& fixes, double from_s, double to_s,
                 CoverageParams params = {}) {
  CoverageAccumulator live(idx, params);
  std::vector<UnitTrack> tracks;
  for (const Fix& f : fixes) {
    const auto t = kT0 + static_cast<std::int64_t>(std::llround(f.t_s * kSec));
    EXPECT_EQ(live.add_fix(f.unit, t, at(f.x, f.y)), CoverageAccumulator::AddResult::added);
    auto it = std::find_if(tracks.begin(), tracks.end(), [&](const UnitTrack& u) { return u.unit == f.unit; });
    if (it == tracks.end()) {
      tracks.push_back({f.unit, {}});
      it = tracks.end() - 1;
    }
    it->fixes.push_back({t, at(f.x, f.y)});
  }
  const auto from = kT0 + static_cast<std::int64_t>(std::llround(from_s * kSec));
  const auto to = kT0 + static_cast<std::int64_t>(std::llround(to_s * kSec));
  AreaCoverage r = live.report(0, from, to);
  const std::uint32_t area0 = 0;
  auto batch = compute_coverage(*idx, tracks, std::span(&area0, 1), from, to, params);
  EXPECT_EQ(batch.at(0), r) << "live and historical disagree";
  return r;
}

double end_s(const AreaCoverage& c) { return (*c.last_visit_end_ms - static_cast<double>(kT0)) / 1000.0; }

constexpr double kTol = 1e-6;  // seconds; the beats' corners round-trip PROJ to ~1e-9 m

TEST(Coverage, DiagonalCrossingCountsTheDiagonalShare) {
  // (-60,-60) -> (140,140) in 160 s: 200*sqrt2 m long; the beat's diagonal
  // (0,0)-(100,100) is 100*sqrt2 of it. Enters at 60/200 = 0.3 (48 s), leaves
  // at 160/200 = 0.8 (128 s): 80 s inside. Window [0,160): gaps 48 and 32.
  auto r = run(beat(), {{"A", 0, -60, -60}, {"A", 160, 140, 140}}, 0, 160);
  EXPECT_NEAR(r.unit_seconds, 80, kTol);
  EXPECT_NEAR(r.presence_seconds, 80, kTol);
  EXPECT_EQ(r.visits, 1u);
  EXPECT_EQ(r.koper_visits, 0u);
  EXPECT_NEAR(end_s(r), 128, kTol);
  EXPECT_NEAR(r.longest_gap_seconds, 48, kTol);
}

TEST(Coverage, GapOfExactlyMaxGapCountsLongerContributesNothing) {
  // Stationary inside at (50,50): 0 -> 180 s is a segment (180 <= 180).
  auto r = run(beat(), {{"A", 0, 50, 50}, {"A", 180, 50, 50}}, 0, 200);
  EXPECT_NEAR(r.unit_seconds, 180, kTol);
  EXPECT_EQ(r.visits, 1u);
  EXPECT_NEAR(r.longest_gap_seconds, 20, kTol);  // 180..200
  // 0 -> 180.001 s is not: nothing, the whole window is a gap.
  auto none = run(beat(), {{"A", 0, 50, 50}, {"A", 180.001, 50, 50}}, 0, 200);
  EXPECT_EQ(none.unit_seconds, 0);
  EXPECT_EQ(none.visits, 0u);
  EXPECT_FALSE(none.last_visit_end_ms);
  EXPECT_NEAR(none.longest_gap_seconds, 200, kTol);
}

TEST(Coverage, OverlappingUnitsPresenceIsTheUnionUnitSecondsTheSum) {
  // A inside 0..100 s, B inside 60..160 s: sum 200, union 0..160 = 160.
  auto r = run(beat(), {{"A", 0, 10, 10}, {"A", 50, 20, 20}, {"A", 100, 30, 30}, {"B", 60, 90, 90}, {"B", 160, 80, 80}},
               0, 300);
  EXPECT_NEAR(r.unit_seconds, 200, kTol);
  EXPECT_NEAR(r.presence_seconds, 160, kTol);
  EXPECT_EQ(r.visits, 2u);
  EXPECT_NEAR(end_s(r), 160, kTol);
  EXPECT_NEAR(r.longest_gap_seconds, 140, kTol);  // 160..300
}

// Inside at (50,50) 0..30 s; out to (150,50) by 40 s crossing x=100 halfway
// (35 s); waits outside; from (150,50) at `back` s to (50,50) at back+10,
// entering halfway (back+5); stays to back+40. Gap = back + 5 - 35.
std::vector<Fix> out_and_back(double back) {
  return {{"A", 0, 50, 50},     {"A", 30, 50, 50},        {"A", 40, 150, 50},
          {"A", back, 150, 50}, {"A", back + 10, 50, 50}, {"A", back + 40, 50, 50}};
}

TEST(Coverage, VisitsMergeAtExactlyVisitMergeSeconds) {
  // back = 90: re-enters at 95, gap 95 - 35 = 60 s: one visit 0..130 s.
  auto r = run(beat(), out_and_back(90), 0, 200);
  EXPECT_EQ(r.visits, 1u);
  EXPECT_NEAR(r.unit_seconds, 35 + 35, kTol);  // 0..35 and 95..130
  EXPECT_NEAR(end_s(r), 130, kTol);
  // back = 90.001: gap 60.001 s: two visits.
  auto two = run(beat(), out_and_back(90.001), 0, 200);
  EXPECT_EQ(two.visits, 2u);
  EXPECT_NEAR(two.longest_gap_seconds, 200 - 130.001, kTol);  // 130.001..200 beats 60.001
}

TEST(Coverage, VisitListMergesLikeTheCount) {
  // Unit 0 inside 0-35 s and 95-130 s (gap 60 s: one visit); unit 1 inside
  // 10-20 s and 81-90 s (gap 61 s: two visits); window [5, 200) clips unit 0's start.
  std::vector<InsideInterval> iv{{0, 95'000, 130'000}, {1, 81'000, 90'000}, {0, 0, 35'000}, {1, 10'000, 20'000}};
  const auto v = list_visits(iv, 5'000, 200'000, {});
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].unit, 0u);
  EXPECT_DOUBLE_EQ(v[0].start_ms, 5'000);
  EXPECT_DOUBLE_EQ(v[0].end_ms, 130'000);
  EXPECT_EQ(v[1].unit, 1u);
  EXPECT_DOUBLE_EQ(v[1].end_ms, 20'000);
  EXPECT_DOUBLE_EQ(v[2].start_ms, 81'000);
  EXPECT_FALSE(v[0].koper);
  std::vector<InsideInterval> stop{{4, 0, 600'000}};
  EXPECT_TRUE(list_visits(stop, 0, 700'000, {}).at(0).koper);
  EXPECT_TRUE(list_visits(stop, 0, 0, {}).empty());
}

TEST(Coverage, TenMinuteStopIsAKoperVisitNineFiftyNineIsNot) {
  std::vector<Fix> stop;
  for (int t = 0; t <= 600; t += 60) stop.push_back({"A", static_cast<double>(t), 40, 60});
  auto r = run(beat(), stop, 0, 3600);
  EXPECT_NEAR(r.unit_seconds, 600, kTol);
  EXPECT_EQ(r.visits, 1u);
  EXPECT_EQ(r.koper_visits, 1u);
  stop.back().t_s = 599;  // 0..540 then 599: 599 s
  auto short_stop = run(beat(), stop, 0, 3600);
  EXPECT_NEAR(short_stop.unit_seconds, 599, kTol);
  EXPECT_EQ(short_stop.visits, 1u);
  EXPECT_EQ(short_stop.koper_visits, 0u);
}

TEST(Coverage, StationarySegmentInsideOutsideAndOnTheBoundary) {
  EXPECT_NEAR(run(beat(), {{"A", 0, 50, 50}, {"A", 100, 50, 50}}, 0, 100).unit_seconds, 100, kTol);
  EXPECT_EQ(run(beat(), {{"A", 0, 150, 50}, {"A", 100, 150, 50}}, 0, 100).unit_seconds, 0);
  // On an edge and on a corner: the boundary is inside.
  EXPECT_NEAR(run(beat(), {{"A", 0, 100, 50}, {"A", 100, 100, 50}}, 0, 100).unit_seconds, 100, kTol);
  EXPECT_NEAR(run(beat(), {{"A", 0, 100, 100}, {"A", 100, 100, 100}}, 0, 100).unit_seconds, 100, kTol);
}

TEST(Coverage, PolygonWithAHole) {
  // 300 m square with the hole [100,200]^2. Along y=150 from x=-50 to 350
  // (400 m) in 100 s: inside x in [0,100] and [200,300]: 12.5..37.5 and
  // 62.5..87.5 s, 50 s; gap 25 s merges them into one visit.
  AreaInput a;
  a.id = "holed";
  a.polygons.push_back({{square_ring(0, 0, 300), square_ring(100, 100, 100)}});
  auto r = run(build({a}), {{"A", 0, -50, 150}, {"A", 100, 350, 150}}, 0, 100);
  EXPECT_NEAR(r.unit_seconds, 50, kTol);
  EXPECT_NEAR(r.presence_seconds, 50, kTol);
  EXPECT_EQ(r.visits, 1u);
  EXPECT_NEAR(r.longest_gap_seconds, 25, kTol);  // 12.5, 25, 12.5
  // Standing in the hole is outside.
  EXPECT_EQ(run(build({a}), {{"A", 0, 150, 150}, {"A", 100, 150, 150}}, 0, 100).unit_seconds, 0);
}

TEST(Coverage, MultiPolygon) {
  // Parts [0,100]^2 and [200,300]x[0,100]; along y=50 from x=-100 to 400
  // (500 m) in 250 s... too long for one segment, so two fixes a side of
  // x=150: (-100,50)@0 -> (150,50)@125 -> (400,50)@250 (2 m/s). Inside
  // x in [0,100]: 50..100 s; x in [200,300]: 150..200 s. 100 s, gap 50 s:
  // one visit 50..200.
  AreaInput a;
  a.id = "two";
  a.polygons.push_back({{square_ring(0, 0, 100)}});
  a.polygons.push_back({{square_ring(200, 0, 100)}});
  auto r = run(build({a}), {{"A", 0, -100, 50}, {"A", 125, 150, 50}, {"A", 250, 400, 50}}, 0, 250);
  EXPECT_NEAR(r.unit_seconds, 100, kTol);
  EXPECT_EQ(r.visits, 1u);
  EXPECT_NEAR(end_s(r), 200, kTol);
  EXPECT_NEAR(r.longest_gap_seconds, 50, kTol);  // 0..50, 100..150, 200..250
}

TEST(Coverage, SegmentTouchingAVertexIsNoVisit) {
  // y = x + 100 from (-100,0) to (100,200) meets the beat only at (0,100).
  auto r = run(beat(), {{"A", 0, -100, 0}, {"A", 100, 100, 200}}, 0, 100);
  EXPECT_EQ(r.unit_seconds, 0);
  EXPECT_EQ(r.visits, 0u);
  // 0.1 um lower it cuts the corner for 0.14 um (< 1 mm): still a touch. A
  // slow 2.8 m crawl, so the piece (5 us) is above the time resolution.
  auto graze = run(beat(), {{"A", 0, -1, 99 - 1e-7}, {"A", 100, 1, 101 - 1e-7}}, 0, 100);
  EXPECT_EQ(graze.visits, 0u);
  // 1 cm lower it cuts 1.41 cm of 282.8 m: 5 ms at 50 s, a (short) visit.
  auto cut = run(beat(), {{"A", 0, -100, -0.01}, {"A", 100, 100, 199.99}}, 0, 100);
  EXPECT_EQ(cut.visits, 1u);
  EXPECT_NEAR(cut.unit_seconds, 0.005, 1e-6);
}

TEST(Coverage, SegmentAlongAnEdgeIsInside) {
  // Along y=0 from x=-50 to 150 (200 m) in 100 s: on the edge for x in
  // [0,100], i.e. 25..75 s.
  auto r = run(beat(), {{"A", 0, -50, 0}, {"A", 100, 150, 0}}, 0, 100);
  EXPECT_NEAR(r.unit_seconds, 50, kTol);
  EXPECT_EQ(r.visits, 1u);
  EXPECT_NEAR(end_s(r), 75, kTol);
}

TEST(Coverage, WindowClipsThenMerges) {
  // A 15-minute stop 0..900 s. Window [420, 3600): 480 s, one visit, not
  // Koper (clipped). Window [0, 420): 420 s, one visit, not Koper either.
  std::vector<Fix> stop;
  for (int t = 0; t <= 900; t += 60) stop.push_back({"A", static_cast<double>(t), 40, 60});
  auto late = run(beat(), stop, 420, 3600);
  EXPECT_NEAR(late.unit_seconds, 480, kTol);
  EXPECT_EQ(late.visits, 1u);
  EXPECT_EQ(late.koper_visits, 0u);
  EXPECT_NEAR(late.longest_gap_seconds, 2700, kTol);  // 900..3600
  auto early = run(beat(), stop, 0, 420);
  EXPECT_NEAR(early.unit_seconds, 420, kTol);
  EXPECT_EQ(early.visits, 1u);
  EXPECT_NEAR(early.longest_gap_seconds, 0, kTol);
  EXPECT_NEAR(end_s(early), 420, kTol);
  auto whole = run(beat(), stop, 0, 3600);
  EXPECT_EQ(whole.koper_visits, 1u);
}

TEST(Coverage, TargetsAndOverdue) {
  // Inside 0..300 s and 3000..3300 s; shift window [0, 3600).
  auto idx = beat();
  CoverageAccumulator live(idx);
  for (int t : {0, 60, 120, 180, 240, 300, 3000, 3060, 3120, 3180, 3240, 3300}) {
    live.add_fix("A", kT0 + t * kSec, at(50, 50));
  }
  auto r = live.report(0, kT0, kT0 + 3600 * kSec);
  EXPECT_EQ(r.visits, 2u);
  EXPECT_NEAR(r.presence_seconds, 600, kTol);
  EXPECT_NEAR(r.longest_gap_seconds, 2700, kTol);    // 300..3000
  EXPECT_TRUE(evaluate_target({2, 10, 45}, r).met);  // 2 visits, 10 min, gap 45 min = 2700 s
  EXPECT_FALSE(evaluate_target({3, 10, 45}, r).met);
  EXPECT_FALSE(evaluate_target({2, 10.5, 45}, r).minutes_met);
  EXPECT_FALSE(evaluate_target({2, 10, 44.9}, r).gap_met);
  EXPECT_TRUE(evaluate_target({0, 0, std::nullopt}, r).met);

  // At 3300 + 7200 s the last presence (3300) is exactly 120 min old: not
  // overdue (strictly longer); one second later it is.
  const GapTarget g{0, 120};
  EXPECT_TRUE(live.overdue(std::span(&g, 1), kT0, kT0 + (3300 + 7200) * kSec).empty());
  auto late = live.overdue(std::span(&g, 1), kT0, kT0 + (3300 + 7201) * kSec);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_NEAR(late[0].unvisited_seconds, 7201, kTol);
  EXPECT_EQ(*late[0].last_presence_end_ms, static_cast<double>(kT0 + 3300 * kSec));
  // A shift starting after the last visit counts from its start.
  auto fresh = live.overdue(std::span(&g, 1), kT0 + 4000 * kSec, kT0 + (4000 + 7201) * kSec);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_FALSE(fresh[0].last_presence_end_ms);
  EXPECT_NEAR(fresh[0].unvisited_seconds, 7201, kTol);
  // overdue agrees with the report's trailing gap.
  auto w = live.report(0, kT0, kT0 + 5000 * kSec);
  EXPECT_NEAR(w.longest_gap_seconds, 2700, kTol);
  const GapTarget tight{0, 1};
  auto o = live.overdue(std::span(&tight, 1), kT0, kT0 + 5000 * kSec);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_NEAR(o[0].unvisited_seconds, 1700, kTol);  // 3300..5000
}

TEST(Coverage, DuplicatesInvalidAndTooOldAreRefused) {
  CoverageAccumulator live(beat());
  using R = CoverageAccumulator::AddResult;
  EXPECT_EQ(live.add_fix("A", kT0, at(50, 50)), R::added);
  EXPECT_EQ(live.add_fix("A", kT0, at(500, 500)), R::duplicate);
  EXPECT_EQ(live.add_fix("A", kT0 + kSec, {NAN, 0}), R::invalid);
  EXPECT_EQ(live.add_fix("A", kT0 + 60 * kSec, at(50, 50)), R::added);
  EXPECT_NEAR(live.report(0, kT0, kT0 + 60 * kSec).unit_seconds, 60, kTol);  // the first (50,50) kept
  live.prune(kT0 + 30 * kSec);
  EXPECT_EQ(live.add_fix("A", kT0 + 10 * kSec, at(50, 50)), R::too_old);
  EXPECT_NEAR(live.report(0, kT0 + 30 * kSec, kT0 + 60 * kSec).unit_seconds, 30, kTol);
}

// Random patrol tracks in a box: drives, stops and radio silences (gaps over
// max_gap), fix intervals 1-240 s.
std::vector<UnitTrack> random_tracks(std::mt19937_64& rng, int units, int fixes_per_unit, Box box) {
  std::uniform_real_distribution<double> ux(box.min_x, box.max_x), uy(box.min_y, box.max_y), u01(0, 1);
  std::vector<UnitTrack> tracks;
  for (int u = 0; u < units; ++u) {
    UnitTrack tr{"U" + std::to_string(u), {}};
    std::int64_t t = kT0 + static_cast<std::int64_t>(u01(rng) * 600'000);
    XY p{ux(rng), uy(rng)};
    for (int i = 0; i < fixes_per_unit; ++i) {
      tr.fixes.push_back({t, p});
      const double r = u01(rng);
      std::int64_t dt = r < 0.05 ? 181'000 + static_cast<std::int64_t>(u01(rng) * 300'000)
                                 : 1'000 + static_cast<std::int64_t>(u01(rng) * 120'000);
      if (u01(rng) < 0.02) dt = 180'000;  // exactly max_gap
      t += dt;
      if (u01(rng) < 0.3) continue;  // stopped
      const double speed = 15 * u01(rng);
      const double heading = 2 * M_PI * u01(rng);
      const double d = speed * static_cast<double>(dt) / 1000.0;
      p = {std::clamp(p.x + d * std::cos(heading), box.min_x, box.max_x),
           std::clamp(p.y + d * std::sin(heading), box.min_y, box.max_y)};
    }
    tracks.push_back(std::move(tr));
  }
  return tracks;
}

std::vector<std::uint32_t> all_areas(const AreaIndex& idx) {
  std::vector<std::uint32_t> v(idx.size());
  for (std::uint32_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

TEST(Coverage, ShuffledArrivalEqualsInOrderEqualsHistorical) {
  std::mt19937_64 rng(test::seed_from_env(20261122));
  // 30 random beats (50-400 m squares) in a 3 km box.
  std::uniform_real_distribution<double> pos(0, 2600), side(50, 400);
  std::vector<AreaInput> beats;
  for (int i = 0; i < 30; ++i) beats.push_back(square("B" + std::to_string(i), pos(rng), pos(rng), side(rng)));
  auto idx = build(beats);
  const auto areas = all_areas(*idx);
  for (int round = 0; round < 20; ++round) {
    auto tracks = random_tracks(rng, 8, 150, {kX0, kY0, kX0 + 3000, kY0 + 3000});
    struct Arrival {
      std::string unit;
      TimedXY f;
    };
    std::vector<Arrival> arrivals;
    for (const auto& tr : tracks)
      for (const auto& f : tr.fixes) arrivals.push_back({tr.unit, f});
    CoverageAccumulator ordered(idx);
    for (const auto& a : arrivals) ordered.add_fix(a.unit, a.f.t_ms, a.f.p);
    std::shuffle(arrivals.begin(), arrivals.end(), rng);
    CoverageAccumulator shuffled(idx);
    for (const auto& a : arrivals)
      ASSERT_EQ(shuffled.add_fix(a.unit, a.f.t_ms, a.f.p), CoverageAccumulator::AddResult::added);
    // Redelivered fixes change nothing.
    for (std::size_t i = 0; i < arrivals.size(); i += 7) {
      ASSERT_EQ(shuffled.add_fix(arrivals[i].unit, arrivals[i].f.t_ms, arrivals[i].f.p),
                CoverageAccumulator::AddResult::duplicate);
    }
    EXPECT_EQ(ordered.interval_count(), shuffled.interval_count());
    std::uniform_int_distribution<std::int64_t> when(kT0 - 600'000, kT0 + 6 * 3600'000);
    for (int w = 0; w < 5; ++w) {
      std::int64_t from = when(rng), to = when(rng);
      if (from > to) std::swap(from, to);
      if (w == 0) {
        from = kT0 - 3600'000;
        to = kT0 + 48 * 3600'000;  // everything
      }
      const auto a = ordered.report(areas, from, to);
      const auto b = shuffled.report(areas, from, to);
      const auto c = compute_coverage(*idx, tracks, areas, from, to, {});
      const auto d = compute_coverage(*idx, tracks, areas, from, to, {}, 3);  // split over threads
      ASSERT_EQ(a.size(), areas.size());
      for (std::size_t i = 0; i < areas.size(); ++i) {
        EXPECT_EQ(a[i], b[i]) << "round " << round << " window " << w << " area " << i;
        EXPECT_EQ(a[i], c[i]) << "round " << round << " window " << w << " area " << i;
        EXPECT_EQ(a[i], d[i]) << "round " << round << " window " << w << " area " << i;
      }
    }
    // Visit lists: the live intervals and the historical ones give the same
    // visits (by unit name), as many as the summary counts.
    for (std::size_t i = 0; i < areas.size(); i += 3) {
      const std::int64_t from = kT0, to = kT0 + 3 * 3600'000;
      auto live_iv = ordered.intervals(areas[i], from, to);
      auto hist_iv = collect_intervals(*idx, tracks, areas[i], from, to, {});
      const auto lv = list_visits(live_iv, from, to, {});
      const auto hv = list_visits(hist_iv, from, to, {});
      const auto sum = ordered.report(areas[i], from, to);
      ASSERT_EQ(lv.size(), sum.visits);
      ASSERT_EQ(static_cast<std::uint32_t>(std::count_if(lv.begin(), lv.end(), [](const Visit& v) { return v.koper; })),
                sum.koper_visits);
      auto named = [&](const std::vector<Visit>& vs, auto name_of) {
        std::vector<std::tuple<std::string, double, double, bool>> out;
        for (const auto& v : vs) out.emplace_back(name_of(v.unit), v.start_ms, v.end_ms, v.koper);
        std::sort(out.begin(), out.end());
        return out;
      };
      EXPECT_EQ(named(lv, [&](std::uint32_t u) { return ordered.unit_name(u); }),
                named(hv, [&](std::uint32_t u) { return tracks[u].unit; }))
          << "area " << i;
    }
    // After pruning, windows from the horizon on are unchanged.
    const std::int64_t horizon = kT0 + 3600'000;
    shuffled.prune(horizon);
    const auto after = shuffled.report(areas, horizon, kT0 + 48 * 3600'000);
    const auto batch = compute_coverage(*idx, tracks, areas, horizon, kT0 + 48 * 3600'000, {});
    for (std::size_t i = 0; i < areas.size(); ++i) EXPECT_EQ(after[i], batch[i]) << "pruned, area " << i;
  }
}

// ---- Real wards against brute force ----------------------------------------

// Independent oracle: projected rings and an even-odd ray cast with its own
// bounding box (no AreaIndex code involved).
struct OracleArea {
  std::vector<std::vector<XY>> rings;
  Box box;
  bool contains(XY p) const {
    if (!box.contains(p)) return false;
    bool in = false;
    for (const auto& r : rings) {
      for (std::size_t i = 0, j = r.size() - 1; i < r.size(); j = i++) {
        if ((r[i].y > p.y) != (r[j].y > p.y) && p.x < (r[j].x - r[i].x) * (p.y - r[i].y) / (r[j].y - r[i].y) + r[i].x) {
          in = !in;
        }
      }
    }
    return in;
  }
};

std::vector<AreaInput> leicester_wards() { return test::load_ward_files(test::data_dir() + "/boundaries/leicester-city"); }

TEST(Coverage, LeicesterWardsAgreeWithDenseSampling) {
  const auto wards = leicester_wards();
  ASSERT_EQ(wards.size(), 21u);
  auto idx = build(wards);
  ASSERT_EQ(idx->size(), 21u);
  std::vector<OracleArea> oracle(idx->size());
  for (std::uint32_t a = 0; a < idx->size(); ++a) {
    for (const auto& poly : wards[idx->source_index(a)].polygons) {
      for (const auto& r : poly.rings) {
        std::vector<XY> xy;
        for (const auto& ll : r) {
          xy.push_back(bng().forward(ll));
          oracle[a].box.extend(xy.back());
        }
        oracle[a].rings.push_back(std::move(xy));
      }
    }
  }
  std::mt19937_64 rng(test::seed_from_env(52636));
  const Box ext = idx->extent();
  // Units start near the middle of the city so they cross many wards.
  const Box box{ext.min_x + 1500, ext.min_y + 1500, ext.max_x - 1500, ext.max_y - 1500};
  const int kUnits = 6;
  const auto tracks = random_tracks(rng, kUnits, 120, box);

  // Window [kT0 + 5 min, kT0 + 2 h); samples at the middle of 0.1 s bins.
  const std::int64_t from = kT0 + 300'000, to = kT0 + 7'200'000;
  const std::int64_t bin_ms = 100;
  const auto bins = static_cast<std::size_t>((to - from) / bin_ms);
  // inside[area][unit][bin]
  std::vector<std::vector<std::vector<std::uint8_t>>> inside(
      idx->size(), std::vector<std::vector<std::uint8_t>>(kUnits, std::vector<std::uint8_t>(bins, 0)));
  for (int u = 0; u < kUnits; ++u) {
    const auto& f = tracks[static_cast<std::size_t>(u)].fixes;
    for (std::size_t i = 0; i + 1 < f.size(); ++i) {
      const std::int64_t dt = f[i + 1].t_ms - f[i].t_ms;
      if (dt > 180'000) continue;
      // Bins whose middle falls in [t_i, t_i+1).
      const double lo = std::ceil(static_cast<double>(f[i].t_ms - from - bin_ms / 2) / bin_ms);
      const double hi = std::ceil(static_cast<double>(f[i + 1].t_ms - from - bin_ms / 2) / bin_ms);
      const auto b0 = static_cast<std::size_t>(std::clamp(lo, 0.0, static_cast<double>(bins)));
      const auto b1 = static_cast<std::size_t>(std::clamp(hi, 0.0, static_cast<double>(bins)));
      for (std::size_t b = b0; b < b1; ++b) {
        const double t = static_cast<double>(from + static_cast<std::int64_t>(b) * bin_ms) + bin_ms / 2.0;
        if (t < static_cast<double>(f[i].t_ms) || t >= static_cast<double>(f[i + 1].t_ms)) continue;
        const double s = (t - static_cast<double>(f[i].t_ms)) / static_cast<double>(dt);
        const XY p{f[i].p.x + s * (f[i + 1].p.x - f[i].p.x), f[i].p.y + s * (f[i + 1].p.y - f[i].p.y)};
        for (std::size_t a = 0; a < oracle.size(); ++a) {
          if (oracle[a].contains(p)) inside[a][static_cast<std::size_t>(u)][b] = 1;
        }
      }
    }
  }

  const auto areas = all_areas(*idx);
  const auto got = compute_coverage(*idx, tracks, areas, from, to, {});
  CoverageAccumulator live(idx);
  for (const auto& tr : tracks)
    for (const auto& f : tr.fixes) live.add_fix(tr.unit, f.t_ms, f.p);
  const auto got_live = live.report(areas, from, to);

  int visited_areas = 0, visit_counts_compared = 0;
  for (std::size_t a = 0; a < areas.size(); ++a) {
    EXPECT_EQ(got[a], got_live[a]) << "area " << a;
    // Brute force: runs of inside bins per unit, merged by the visit rule.
    std::size_t unit_bins = 0, union_bins = 0, runs = 0, longest_gap = 0, gap = 0;
    std::uint32_t visits = 0, koper = 0;
    bool ambiguous = false;  // a gap or a duration within sampling error of a threshold
    for (std::size_t b = 0; b < bins; ++b) {
      bool any = false;
      for (int u = 0; u < kUnits; ++u) any = any || inside[a][static_cast<std::size_t>(u)][b];
      if (any) {
        ++union_bins;
        longest_gap = std::max(longest_gap, gap);
        gap = 0;
      } else {
        ++gap;
      }
    }
    longest_gap = std::max(longest_gap, gap);
    for (int u = 0; u < kUnits; ++u) {
      const auto& in = inside[a][static_cast<std::size_t>(u)];
      long vs = -1, ve = -1;  // current visit, in bins
      auto close = [&] {
        if (vs < 0) return;
        ++visits;
        const double dur = static_cast<double>(ve - vs) * 0.1;
        if (dur >= 600) ++koper;
        if (std::fabs(dur - 600) < 0.5) ambiguous = true;
      };
      for (std::size_t b = 0; b < bins; ++b) {
        if (!in[b]) continue;
        ++unit_bins;
        const auto bl = static_cast<long>(b);
        if (b == 0 || !in[b - 1]) {
          ++runs;
          if (vs >= 0) {
            const double g = static_cast<double>(bl - ve) * 0.1;
            if (std::fabs(g - 60) < 0.5) ambiguous = true;
            if (g > 60) {
              close();
              vs = bl;
            }
          } else {
            vs = bl;
          }
        }
        ve = bl + 1;
      }
      close();
    }
    const double tol = 0.1 * static_cast<double>(runs) + 0.01;
    EXPECT_NEAR(got[a].unit_seconds, static_cast<double>(unit_bins) * 0.1, tol + 0.002 * got[a].unit_seconds)
        << "area " << idx->id(static_cast<std::uint32_t>(a));
    EXPECT_NEAR(got[a].presence_seconds, static_cast<double>(union_bins) * 0.1, tol + 0.002 * got[a].presence_seconds)
        << "area " << idx->id(static_cast<std::uint32_t>(a));
    EXPECT_NEAR(got[a].longest_gap_seconds, static_cast<double>(longest_gap) * 0.1, 0.2)
        << "area " << idx->id(static_cast<std::uint32_t>(a));
    if (!ambiguous) {
      ++visit_counts_compared;
      EXPECT_EQ(got[a].visits, visits) << "area " << idx->id(static_cast<std::uint32_t>(a));
      EXPECT_EQ(got[a].koper_visits, koper) << "area " << idx->id(static_cast<std::uint32_t>(a));
    }
    if (unit_bins > 0) ++visited_areas;
  }
  std::printf("  %d of %zu wards visited, visit counts compared in %d\n", visited_areas, areas.size(),
              visit_counts_compared);
  EXPECT_GE(visited_areas, 8);  // the test must exercise the accounting
  EXPECT_GE(visit_counts_compared, static_cast<int>(areas.size()) - 3);
}

TEST(Coverage, InsideIntervalsSumToInsideFractionOnWards) {
  auto idx = build(leicester_wards());
  std::mt19937_64 rng(test::seed_from_env(777));
  const Box e = idx->extent();
  std::uniform_real_distribution<double> ux(e.min_x, e.max_x), uy(e.min_y, e.max_y), step(-3000, 3000);
  std::vector<std::pair<double, double>> pieces;
  std::vector<std::uint32_t> near;
  for (int i = 0; i < 5000; ++i) {
    const XY a{ux(rng), uy(rng)};
    const XY b{a.x + step(rng), a.y + step(rng)};
    Box box;
    box.extend(a);
    box.extend(b);
    idx->areas_near(box, near);
    for (std::uint32_t area = 0; area < idx->size(); ++area) {
      idx->inside_intervals(area, a, b, pieces);
      double sum = 0;
      for (std::size_t k = 0; k < pieces.size(); ++k) {
        ASSERT_LT(pieces[k].first, pieces[k].second);
        if (k) {
          ASSERT_LT(pieces[k - 1].second, pieces[k].first);  // disjoint, adjacent joined
        }
        sum += pieces[k].second - pieces[k].first;
      }
      EXPECT_NEAR(sum, idx->inside_fraction(area, a, b), 1e-12);
      // A segment inside an area's bounds is always among the candidates.
      if (sum > 0) {
        EXPECT_TRUE(std::binary_search(near.begin(), near.end(), area));
      }
    }
  }
}

}  // namespace
}  // namespace pm::geo
