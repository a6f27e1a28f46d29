#pragma once
// Patrol coverage accounting (SPEC 5): how long, how often and how recently
// units were inside each area, from their fixes in projected metres.
//
//   auto areas = std::make_shared<const pm::geo::AreaIndex>(AreaIndex::build(...));
//   pm::geo::CoverageAccumulator live(areas);                 // SPEC defaults
//   live.add_fix("NA21", t_ms, projection.forward(lonlat));   // per accepted fix, any order
//   auto rows = live.report(hot_spots, shift_start_ms, now_ms);
//   for (const auto& r : rows) if (!pm::geo::evaluate_target(target, r).met) ...
//   auto late = live.overdue(gap_targets, shift_start_ms, now_ms);   // for the alert
//
//   // Historical: the same answer from stored tracks (sorted by time).
//   auto same = pm::geo::compute_coverage(*areas, tracks, hot_spots, from_ms, to_ms, {});
//
// Exact rules (also in docs/api.md, "Patrol coverage: exact rules"):
// - Segments: consecutive fixes of one unit (time order, duplicate timestamps
//   ignored: the first one kept) with 0 < t1 - t0 <= max_gap_s (inclusive)
//   form a segment; the unit moves linearly between them in the projection.
//   A longer gap contributes nothing, so does a lone fix.
// - Inside intervals: the parts of a segment inside an area (boundary counts
//   as inside, AreaIndex's rule), mapped to time in proportion to length; a
//   stationary segment is inside for its whole duration if its point is
//   covered. Pieces of a moving segment shorter than 1 mm (a track touching a
//   vertex, or running through a corner within the projection's rounding) are
//   touches, not presence: dropped, they create no visit.
// - Window [from, to): every inside interval is clipped to the window first;
//   everything below is computed from the clipped intervals only ("clip, then
//   merge"). A stop spanning the window's start counts as a visit in the
//   window with the clipped duration only, so a 15-minute stop split 7/8 by a
//   shift change is a visit in both shifts and a Koper visit in neither.
// - unit_seconds: sum of the clipped intervals; presence_seconds: length of
//   their union over all units.
// - visits: per unit, clipped intervals whose gap is <= visit_merge_s (to
//   within 1 us) merge; a visit runs from its first start to its last end.
//   koper_visits: visits lasting >= koper_min_s (to within 1 us).
// - last_visit_end_ms: the latest end of a clipped interval (<= to).
// - longest_gap_seconds: the longest stretch of [from, to] outside the union
//   of all clipped intervals, the window's ends counting as gap ends (nobody
//   inside in the whole window: to - from). Visit merging does not fill gaps.
// - overdue: unvisited = now - max(since, last presence end in [since, now]);
//   overdue when unvisited > max_gap_minutes (strictly); this equals the
//   trailing gap of report(since, now).
//
// Times are milliseconds since the epoch (int64 in, double for interval ends,
// which fall between fixes); durations out are seconds.
//
// Thread safety: compute_coverage and the free functions are reentrant. A
// CoverageAccumulator is not synchronised: its const methods may run
// concurrently with each other, add_fix/prune/set_areas need exclusive access
// (a reader-writer lock around it). Memory grows with the fixes kept: call
// prune(now - retention) now and then.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "geo/area_index.hpp"
#include "geo/types.hpp"

namespace pm::geo {

struct CoverageParams {
  double max_gap_s = 180;     // longest gap between fixes that still forms a segment
  double visit_merge_s = 60;  // inside intervals this close merge into one visit
  double koper_min_s = 600;   // a visit this long is a Koper visit
};

struct TimedXY {
  std::int64_t t_ms = 0;
  XY p;
};

// One unit's fixes, ascending by t_ms (equal timestamps: the first is used).
struct UnitTrack {
  std::string unit;
  std::vector<TimedXY> fixes;
};

// The answer for one area over one window.
struct AreaCoverage {
  std::uint32_t area = 0;
  double unit_seconds = 0;
  double presence_seconds = 0;
  std::uint32_t visits = 0;
  std::uint32_t koper_visits = 0;
  std::optional<double> last_visit_end_ms;  // none when nobody was inside
  double longest_gap_seconds = 0;
  friend bool operator==(const AreaCoverage&, const AreaCoverage&) = default;
};

// One unit's inside interval in one area (unit: any dense id).
struct InsideInterval {
  std::uint32_t unit = 0;
  double start_ms = 0;
  double end_ms = 0;
};

// The summary of one area's inside
// intervals (any order, all units) over [from_ms, to_ms). Sorts `intervals`.
// Shared by the live and the historical path so that both agree exactly.
AreaCoverage summarise_area(std::uint32_t area, std::vector<InsideInterval>& intervals, std::int64_t from_ms,
                            std::int64_t to_ms, const CoverageParams& params);

// Historical report: the tracks' segments clipped against `areas`, summarised
// per area over [from_ms, to_ms), in the order of `areas`. The units are
// split over `threads` threads (0: one per 200,000 fixes, at most one per
// core); the answer does not depend on it. An area handle out of range
// reads as never visited (as in CoverageAccumulator::report).
std::vector<AreaCoverage> compute_coverage(const AreaIndex& index, std::span<const UnitTrack> tracks,
                                           std::span<const std::uint32_t> areas, std::int64_t from_ms,
                                           std::int64_t to_ms, const CoverageParams& params, unsigned threads = 0);

// One unit's visit (SPEC 5 merge rule) within a window.
struct Visit {
  std::uint32_t unit = 0;
  double start_ms = 0;
  double end_ms = 0;
  bool koper = false;
};

// The visits of `intervals` (any order, all units) clipped to [from_ms,
// to_ms), by unit then start: what summarise_area counts as visits and
// koper_visits. Clips and reorders `intervals`.
std::vector<Visit> list_visits(std::vector<InsideInterval>& intervals, std::int64_t from_ms, std::int64_t to_ms,
                               const CoverageParams& params);

// Historical: the inside intervals of one area from the tracks' segments
// that can reach [from_ms, to_ms) (unit = the track's position in
// `tracks`), unclipped: list_visits clips.
std::vector<InsideInterval> collect_intervals(const AreaIndex& index, std::span<const UnitTrack> tracks,
                                              std::uint32_t area, std::int64_t from_ms, std::int64_t to_ms,
                                              const CoverageParams& params);

// A per-shift target (SPEC 2 "Area"). A zero or absent field is no requirement.
struct PatrolTarget {
  std::uint32_t visits = 0;
  double minutes = 0;                     // of presence (presence_seconds, the union)
  std::optional<double> max_gap_minutes;  // longest_gap_seconds must not exceed it
};

struct TargetResult {
  bool met = false;  // all three below
  bool visits_met = false;
  bool minutes_met = false;
  bool gap_met = false;
};

TargetResult evaluate_target(const PatrolTarget& target, const AreaCoverage& window);

struct GapTarget {
  std::uint32_t area = 0;
  double max_gap_minutes = 120;
};

struct OverdueArea {
  std::uint32_t area = 0;
  double unvisited_seconds = 0;
  std::optional<double> last_presence_end_ms;  // within [since, now]; none if nobody came
};

// Live accounting: fixes in any order, each updating the affected areas'
// inside intervals without rescanning history.
class CoverageAccumulator {
 public:
  enum class AddResult { added, duplicate, too_old, invalid };

  explicit CoverageAccumulator(std::shared_ptr<const AreaIndex> areas, CoverageParams params = {});

  // Inserts the fix in the unit's time order. A fix between two earlier ones
  // replaces their segment by the two new ones. Non-finite positions are
  // `invalid`; a timestamp the unit already has is a `duplicate`; a fix
  // before the prune horizon is `too_old`. Nothing changes in those cases.
  AddResult add_fix(std::string_view unit, std::int64_t t_ms, XY p);

  std::vector<AreaCoverage> report(std::span<const std::uint32_t> areas, std::int64_t from_ms,
                                   std::int64_t to_ms) const;
  // The inside intervals of one area that can reach [from_ms, to_ms),
  // unclipped (for list_visits); unit numbers name units via unit_name().
  std::vector<InsideInterval> intervals(std::uint32_t area, std::int64_t from_ms, std::int64_t to_ms) const;
  const std::string& unit_name(std::uint32_t unit) const { return units_[unit].name; }
  AreaCoverage report(std::uint32_t area, std::int64_t from_ms, std::int64_t to_ms) const;

  // Areas unvisited for longer than their max gap, measured within
  // [since_ms, now_ms] (since: the shift's start). Cost per area: a few
  // intervals near `now`, not the whole window.
  std::vector<OverdueArea> overdue(std::span<const GapTarget> targets, std::int64_t since_ms,
                                   std::int64_t now_ms) const;

  // Forgets what cannot matter to windows starting at or after before_ms:
  // intervals ending before it and fixes before it (each unit keeps its last
  // one before it, so the next segment still forms). Later fixes older than
  // before_ms are refused as too_old.
  void prune(std::int64_t before_ms);

  // New areas (a reload): recomputes every interval from the kept fixes.
  void set_areas(std::shared_ptr<const AreaIndex> areas);

  const CoverageParams& params() const { return params_; }
  std::size_t fix_count() const;
  std::size_t interval_count() const;

 private:
  struct Stored {
    double start_ms;
    double end_ms;
    std::uint32_t unit;
    std::int64_t segment_ms;  // start of the segment it came from
  };
  struct Unit {
    std::string name;
    std::deque<TimedXY> fixes;  // ascending t_ms
  };
  struct Scratch {
    std::vector<std::uint32_t> candidates;
    std::vector<std::pair<double, double>> pieces;
  };

  bool forms_segment(const TimedXY& a, const TimedXY& b) const;
  void add_segment(std::uint32_t unit, const TimedXY& a, const TimedXY& b);
  void remove_segment(std::uint32_t unit, const TimedXY& a, const TimedXY& b);
  void gather(std::uint32_t area, std::int64_t from_ms, std::int64_t to_ms, std::vector<InsideInterval>& out) const;

  std::shared_ptr<const AreaIndex> areas_;
  CoverageParams params_;
  double max_gap_ms_;
  std::int64_t horizon_ms_;
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::uint32_t, NameHash, std::equal_to<>> unit_ids_;
  std::vector<Unit> units_;
  std::vector<std::vector<Stored>> by_area_;  // per area, ascending (start, unit, segment)
  Scratch scratch_;
};

}  // namespace pm::geo
