#include "geo/coverage.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

namespace pm::geo {
namespace {

// Comparisons against visit_merge_s and koper_min_s allow for the rounding of
// interval ends computed from fractions of a segment.
constexpr double kEps_ms = 1e-3;
// See the header: pieces shorter than this along a moving segment are dropped.
constexpr double kMinPiece_m = 1e-3;

bool finite(XY p) { return std::isfinite(p.x) && std::isfinite(p.y); }

// Calls emit(area, start_ms, end_ms) for every inside interval of the segment
// a->b (which must form a segment). The one place segments become intervals:
// the live and the historical path both come through here.
template <class Emit>
void clip_segment(const AreaIndex& index, const TimedXY& a, const TimedXY& b, std::vector<std::uint32_t>& candidates,
                  std::vector<std::pair<double, double>>& pieces, Emit&& emit) {
  Box box;
  box.extend(a.p);
  box.extend(b.p);
  index.areas_near(box, candidates);
  if (candidates.empty()) return;
  const auto t0 = static_cast<double>(a.t_ms);
  const auto dt = static_cast<double>(b.t_ms - a.t_ms);
  const double ddx = b.p.x - a.p.x;
  const double ddy = b.p.y - a.p.y;
  const double len = std::sqrt(ddx * ddx + ddy * ddy);
  for (const std::uint32_t area : candidates) {
    index.inside_intervals(area, a.p, b.p, pieces);
    for (const auto& [u0, u1] : pieces) {
      // A piece shorter than kMinPiece_m is a touch, not a visit (a track
      // through a corner, give or take the rounding of the projection).
      if (len > 0 && (u1 - u0) * len < kMinPiece_m) continue;
      // u == 1 maps exactly to b.t_ms: t0 + dt is exact for millisecond times.
      const double s = t0 + u0 * dt;
      const double e = u1 == 1.0 ? static_cast<double>(b.t_ms) : t0 + u1 * dt;
      if (e > s) emit(area, s, e);
    }
  }
}

// Clips the intervals to [from, to), dropping what falls outside or has no length.
void clip_to_window(std::vector<InsideInterval>& v, double from, double to) {
  std::size_t n = 0;
  for (const InsideInterval& iv : v) {
    const double s = std::max(iv.start_ms, from);
    const double e = std::min(iv.end_ms, to);
    if (e > s) v[n++] = {iv.unit, s, e};
  }
  v.resize(n);
}

// Calls visit(unit, start, end) for each visit of `v` (clipped; sorted by
// unit, and by start within a unit): intervals of one unit at most
// visit_merge_s apart merge.
template <class F>
void for_each_visit(const std::vector<InsideInterval>& v, const CoverageParams& params, F&& visit) {
  if (v.empty()) return;
  const double merge_ms = params.visit_merge_s * 1000.0 + kEps_ms;
  double vs = v.front().start_ms;
  double ve = v.front().end_ms;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i].unit == v[i - 1].unit && v[i].start_ms - ve <= merge_ms) {
      ve = std::max(ve, v[i].end_ms);
      continue;
    }
    visit(v[i - 1].unit, vs, ve);
    vs = v[i].start_ms;
    ve = v[i].end_ms;
  }
  visit(v.back().unit, vs, ve);
}

bool is_koper(double start_ms, double end_ms, const CoverageParams& params) {
  return end_ms - start_ms >= params.koper_min_s * 1000.0 - kEps_ms;
}

void sort_by_start(std::vector<InsideInterval>& v) {
  std::sort(v.begin(), v.end(), [](const InsideInterval& x, const InsideInterval& y) {
    return x.start_ms != y.start_ms ? x.start_ms < y.start_ms : x.end_ms < y.end_ms;
  });
}

void sort_by_unit(std::vector<InsideInterval>& v) {
  std::stable_sort(v.begin(), v.end(),
                   [](const InsideInterval& x, const InsideInterval& y) { return x.unit < y.unit; });
}

}  // namespace

AreaCoverage summarise_area(std::uint32_t area, std::vector<InsideInterval>& v, std::int64_t from_ms,
                            std::int64_t to_ms, const CoverageParams& params) {
  AreaCoverage c;
  c.area = area;
  if (to_ms <= from_ms) return c;
  const auto from = static_cast<double>(from_ms);
  const auto to = static_cast<double>(to_ms);
  clip_to_window(v, from, to);
  if (v.empty()) {
    c.longest_gap_seconds = (to - from) / 1000.0;
    return c;
  }

  // Time order: sums, union and gaps. Ties have identical values whatever the
  // unit, so the result does not depend on how units were numbered.
  sort_by_start(v);
  double unit_ms = 0;
  double presence_ms = 0;
  double longest_gap_ms = 0;
  double cur_s = v.front().start_ms;
  double cur_e = v.front().end_ms;
  longest_gap_ms = cur_s - from;
  double last_end = -std::numeric_limits<double>::infinity();
  for (const InsideInterval& iv : v) {
    unit_ms += iv.end_ms - iv.start_ms;
    last_end = std::max(last_end, iv.end_ms);
    if (iv.start_ms > cur_e) {
      presence_ms += cur_e - cur_s;
      longest_gap_ms = std::max(longest_gap_ms, iv.start_ms - cur_e);
      cur_s = iv.start_ms;
      cur_e = iv.end_ms;
    } else {
      cur_e = std::max(cur_e, iv.end_ms);
    }
  }
  presence_ms += cur_e - cur_s;
  longest_gap_ms = std::max(longest_gap_ms, to - cur_e);

  // Per unit: visits.
  sort_by_unit(v);
  std::uint32_t visits = 0;
  std::uint32_t koper = 0;
  for_each_visit(v, params, [&](std::uint32_t, double vs, double ve) {
    ++visits;
    if (is_koper(vs, ve, params)) ++koper;
  });

  c.unit_seconds = unit_ms / 1000.0;
  c.presence_seconds = presence_ms / 1000.0;
  c.visits = visits;
  c.koper_visits = koper;
  c.last_visit_end_ms = last_end;
  c.longest_gap_seconds = longest_gap_ms / 1000.0;
  return c;
}

std::vector<Visit> list_visits(std::vector<InsideInterval>& v, std::int64_t from_ms, std::int64_t to_ms,
                               const CoverageParams& params) {
  std::vector<Visit> out;
  if (to_ms <= from_ms) return out;
  clip_to_window(v, static_cast<double>(from_ms), static_cast<double>(to_ms));
  sort_by_start(v);
  sort_by_unit(v);
  for_each_visit(v, params, [&](std::uint32_t unit, double vs, double ve) {
    out.push_back({unit, vs, ve, is_koper(vs, ve, params)});
  });
  return out;
}

namespace {

// How many threads the historical report uses: `threads`, or (0) one per
// 200,000 fixes, at most one per core; never more than there are units.
unsigned worker_count(std::span<const UnitTrack> tracks, unsigned threads) {
  std::size_t want = threads;
  if (threads == 0) {
    constexpr std::size_t kFixesPerThread = 200'000;  // below this a thread costs more than it saves
    std::size_t total = 0;
    for (const auto& t : tracks) total += t.fixes.size();
    want = std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), total / kFixesPerThread);
  }
  return static_cast<unsigned>(std::max<std::size_t>(1, std::min(want, tracks.size())));
}

// The inside intervals of the tracks' segments that can reach [from, to),
// per requested area (slot[area] = its position in the answer, -1: not
// asked), the units split over `n` threads; the summary sorts, so the
// answer does not depend on the split.
std::vector<std::vector<InsideInterval>> clip_tracks(const AreaIndex& index, std::span<const UnitTrack> tracks,
                                                     std::size_t n_areas, const std::vector<std::int32_t>& slot,
                                                     std::int64_t from_ms, std::int64_t to_ms,
                                                     const CoverageParams& params, unsigned n) {
  const double max_gap_ms = params.max_gap_s * 1000.0;
  using PerArea = std::vector<std::vector<InsideInterval>>;
  auto clip_units = [&](std::size_t u_begin, std::size_t u_end, PerArea& per_area) {
    std::vector<std::uint32_t> candidates;
    std::vector<std::pair<double, double>> pieces;
    for (std::size_t u = u_begin; u < u_end; ++u) {
      const auto& fixes = tracks[u].fixes;
      // The first segment that can reach the window starts at the last fix at
      // or before from (a segment ending at or before from adds nothing).
      auto it = std::upper_bound(fixes.begin(), fixes.end(), from_ms,
                                 [](std::int64_t t, const TimedXY& f) { return t < f.t_ms; });
      std::size_t i = it == fixes.begin() ? 0 : static_cast<std::size_t>(it - fixes.begin()) - 1;
      // Back to a usable fix, and to the first of equal timestamps (the live
      // path refuses invalid fixes and keeps the first of a duplicate).
      while (i > 0 && (!finite(fixes[i].p) || fixes[i - 1].t_ms == fixes[i].t_ms)) --i;
      const TimedXY* prev = nullptr;
      for (; i < fixes.size(); ++i) {
        const TimedXY& f = fixes[i];
        if (!finite(f.p)) continue;
        if (prev && f.t_ms == prev->t_ms) continue;  // duplicate: the first one counts
        if (prev && prev->t_ms >= to_ms) break;
        if (prev && static_cast<double>(f.t_ms - prev->t_ms) <= max_gap_ms) {
          clip_segment(index, *prev, f, candidates, pieces, [&](std::uint32_t area, double s, double e) {
            if (const std::int32_t k = slot[area]; k >= 0) {
              per_area[static_cast<std::size_t>(k)].push_back({static_cast<std::uint32_t>(u), s, e});
            }
          });
        }
        prev = &f;
      }
    }
  };

  // Split the units (by fix count) over the threads; each collects its own
  // intervals, concatenated afterwards. The summary sorts, so the answer does
  // not depend on the split.
  std::size_t total = 0;
  for (const auto& t : tracks) total += t.fixes.size();
  std::vector<PerArea> parts(n, PerArea(n_areas));
  if (n == 1) {
    clip_units(0, tracks.size(), parts[0]);
  } else {
    std::vector<std::size_t> cut{0};
    std::size_t acc = 0;
    for (std::size_t u = 0; u < tracks.size(); ++u) {
      acc += tracks[u].fixes.size();
      if (cut.size() < n && acc * n >= total * cut.size()) cut.push_back(u + 1);
    }
    while (cut.size() <= n) cut.push_back(tracks.size());
    std::vector<std::thread> pool;
    for (unsigned k = 1; k < n; ++k) pool.emplace_back(clip_units, cut[k], cut[k + 1], std::ref(parts[k]));
    clip_units(cut[0], cut[1], parts[0]);
    for (auto& t : pool) t.join();
    for (unsigned k = 1; k < n; ++k) {
      for (std::size_t i = 0; i < n_areas; ++i) {
        parts[0][i].insert(parts[0][i].end(), parts[k][i].begin(), parts[k][i].end());
      }
    }
  }
  return std::move(parts[0]);
}

}  // namespace

std::vector<InsideInterval> collect_intervals(const AreaIndex& index, std::span<const UnitTrack> tracks,
                                              std::uint32_t area, std::int64_t from_ms, std::int64_t to_ms,
                                              const CoverageParams& params) {
  if (area >= index.size()) return {};
  std::vector<std::int32_t> slot(index.size(), -1);
  slot[area] = 0;
  return std::move(clip_tracks(index, tracks, 1, slot, from_ms, to_ms, params, worker_count(tracks, 0))[0]);
}

std::vector<AreaCoverage> compute_coverage(const AreaIndex& index, std::span<const UnitTrack> tracks,
                                           std::span<const std::uint32_t> areas, std::int64_t from_ms,
                                           std::int64_t to_ms, const CoverageParams& params, unsigned threads) {
  // Only the requested areas collect intervals.
  std::vector<std::int32_t> slot(index.size(), -1);
  for (std::size_t i = 0; i < areas.size(); ++i) {
    if (areas[i] < index.size() && slot[areas[i]] < 0) slot[areas[i]] = static_cast<std::int32_t>(i);
  }
  // Clipping and summaries on the same number of threads.
  const unsigned n = worker_count(tracks, threads);
  auto per_area = clip_tracks(index, tracks, areas.size(), slot, from_ms, to_ms, params, n);

  std::vector<AreaCoverage> out(areas.size());
  auto summarise_range = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      if (areas[i] < index.size() && slot[areas[i]] == static_cast<std::int32_t>(i)) {
        out[i] = summarise_area(areas[i], per_area[i], from_ms, to_ms, params);
      }
    }
  };
  if (n == 1) {
    summarise_range(0, areas.size());
  } else {
    std::vector<std::thread> pool;
    for (unsigned k = 1; k < n; ++k) {
      pool.emplace_back(summarise_range, areas.size() * k / n, areas.size() * (k + 1) / n);
    }
    summarise_range(0, areas.size() / n);
    for (auto& t : pool) t.join();
  }
  // A repeated area: the same answer as its first occurrence.
  for (std::size_t i = 0; i < areas.size(); ++i) {
    if (areas[i] >= index.size()) {  // unknown: nobody inside, as the live report says
      std::vector<InsideInterval> none;
      out[i] = summarise_area(areas[i], none, from_ms, to_ms, params);
    } else if (const auto k = static_cast<std::size_t>(slot[areas[i]]); k != i) {
      out[i] = out[k];
    }
  }
  return out;
}

TargetResult evaluate_target(const PatrolTarget& target, const AreaCoverage& window) {
  TargetResult r;
  r.visits_met = window.visits >= target.visits;
  r.minutes_met = window.presence_seconds + kEps_ms / 1000.0 >= target.minutes * 60.0;
  r.gap_met =
      !target.max_gap_minutes || window.longest_gap_seconds <= *target.max_gap_minutes * 60.0 + kEps_ms / 1000.0;
  r.met = r.visits_met && r.minutes_met && r.gap_met;
  return r;
}

CoverageAccumulator::CoverageAccumulator(std::shared_ptr<const AreaIndex> areas, CoverageParams params)
    : areas_(std::move(areas)),
      params_(params),
      max_gap_ms_(params.max_gap_s * 1000.0),
      horizon_ms_(std::numeric_limits<std::int64_t>::min()) {
  by_area_.resize(areas_ ? areas_->size() : 0);
}

bool CoverageAccumulator::forms_segment(const TimedXY& a, const TimedXY& b) const {
  return b.t_ms > a.t_ms && static_cast<double>(b.t_ms - a.t_ms) <= max_gap_ms_;
}

void CoverageAccumulator::add_segment(std::uint32_t unit, const TimedXY& a, const TimedXY& b) {
  if (!areas_) return;
  clip_segment(*areas_, a, b, scratch_.candidates, scratch_.pieces, [&](std::uint32_t area, double s, double e) {
    auto& v = by_area_[area];
    const Stored st{s, e, unit, a.t_ms};
    auto less = [](const Stored& x, const Stored& y) {
      if (x.start_ms != y.start_ms) return x.start_ms < y.start_ms;
      if (x.unit != y.unit) return x.unit < y.unit;
      return x.segment_ms < y.segment_ms;
    };
    // Nearly always at or near the end: fixes arrive roughly in time order.
    if (v.empty() || less(v.back(), st)) {
      v.push_back(st);
    } else {
      v.insert(std::upper_bound(v.begin(), v.end(), st, less), st);
    }
  });
}

void CoverageAccumulator::remove_segment(std::uint32_t unit, const TimedXY& a, const TimedXY& b) {
  if (!areas_) return;
  // The segment's intervals start within [a.t, b.t] in the areas near it; find
  // them by (unit, segment start) rather than by recomputed values.
  Box box;
  box.extend(a.p);
  box.extend(b.p);
  areas_->areas_near(box, scratch_.candidates);
  const auto t0 = static_cast<double>(a.t_ms);
  const auto t1 = static_cast<double>(b.t_ms);
  for (const std::uint32_t area : scratch_.candidates) {
    auto& v = by_area_[area];
    auto first = std::lower_bound(v.begin(), v.end(), t0, [](const Stored& x, double t) { return x.start_ms < t; });
    auto last = first;
    while (last != v.end() && last->start_ms <= t1) ++last;
    auto keep_end =
        std::remove_if(first, last, [&](const Stored& x) { return x.unit == unit && x.segment_ms == a.t_ms; });
    v.erase(keep_end, last);
  }
}

CoverageAccumulator::AddResult CoverageAccumulator::add_fix(std::string_view unit, std::int64_t t_ms, XY p) {
  if (!finite(p)) return AddResult::invalid;
  if (t_ms < horizon_ms_) return AddResult::too_old;
  std::uint32_t u;
  if (auto it = unit_ids_.find(unit); it != unit_ids_.end()) {
    u = it->second;
  } else {
    u = static_cast<std::uint32_t>(units_.size());
    unit_ids_.emplace(std::string(unit), u);
    units_.push_back({std::string(unit), {}});
  }
  auto& fixes = units_[u].fixes;
  const TimedXY f{t_ms, p};
  // In-order arrival is the common case: compare with the last fix first.
  auto pos = fixes.end();
  if (!fixes.empty() && fixes.back().t_ms >= t_ms) {
    pos =
        std::lower_bound(fixes.begin(), fixes.end(), t_ms, [](const TimedXY& x, std::int64_t t) { return x.t_ms < t; });
    if (pos != fixes.end() && pos->t_ms == t_ms) return AddResult::duplicate;
  }
  const bool has_prev = pos != fixes.begin();
  const bool has_next = pos != fixes.end();
  if (has_prev && has_next && forms_segment(*(pos - 1), *pos)) remove_segment(u, *(pos - 1), *pos);
  pos = fixes.insert(pos, f);
  if (has_prev && forms_segment(*(pos - 1), *pos)) add_segment(u, *(pos - 1), *pos);
  if (has_next && forms_segment(*pos, *(pos + 1))) add_segment(u, *pos, *(pos + 1));
  return AddResult::added;
}

void CoverageAccumulator::gather(std::uint32_t area, std::int64_t from_ms, std::int64_t to_ms,
                                 std::vector<InsideInterval>& out) const {
  out.clear();
  if (area >= by_area_.size()) return;
  const auto& v = by_area_[area];
  // An interval lies within one segment, so it starts at most max_gap before
  // its end: nothing starting earlier than from - max_gap reaches the window.
  const double lo = static_cast<double>(from_ms) - max_gap_ms_;
  const auto to = static_cast<double>(to_ms);
  auto it = std::lower_bound(v.begin(), v.end(), lo, [](const Stored& x, double t) { return x.start_ms < t; });
  for (; it != v.end() && it->start_ms < to; ++it) out.push_back({it->unit, it->start_ms, it->end_ms});
}

std::vector<InsideInterval> CoverageAccumulator::intervals(std::uint32_t area, std::int64_t from_ms,
                                                           std::int64_t to_ms) const {
  std::vector<InsideInterval> v;
  gather(area, from_ms, to_ms, v);
  return v;
}

AreaCoverage CoverageAccumulator::report(std::uint32_t area, std::int64_t from_ms, std::int64_t to_ms) const {
  std::vector<InsideInterval> v;
  gather(area, from_ms, to_ms, v);
  return summarise_area(area, v, from_ms, to_ms, params_);
}

std::vector<AreaCoverage> CoverageAccumulator::report(std::span<const std::uint32_t> areas, std::int64_t from_ms,
                                                      std::int64_t to_ms) const {
  std::vector<AreaCoverage> out;
  out.reserve(areas.size());
  std::vector<InsideInterval> v;
  for (const std::uint32_t a : areas) {
    gather(a, from_ms, to_ms, v);
    out.push_back(summarise_area(a, v, from_ms, to_ms, params_));
  }
  return out;
}

std::vector<OverdueArea> CoverageAccumulator::overdue(std::span<const GapTarget> targets, std::int64_t since_ms,
                                                      std::int64_t now_ms) const {
  std::vector<OverdueArea> out;
  const auto since = static_cast<double>(since_ms);
  const auto now = static_cast<double>(now_ms);
  for (const GapTarget& g : targets) {
    double best = -std::numeric_limits<double>::infinity();
    if (g.area < by_area_.size()) {
      const auto& v = by_area_[g.area];
      auto it = std::lower_bound(v.begin(), v.end(), now, [](const Stored& x, double t) { return x.start_ms < t; });
      while (it != v.begin()) {
        --it;
        // Earlier intervals end by start + max_gap: none can beat `best` or
        // reach past `since` once that bound falls below them.
        const double bound = it->start_ms + max_gap_ms_;
        if (bound < best || bound <= since) break;
        const double s = std::max(it->start_ms, since);
        const double e = std::min(it->end_ms, now);
        if (e > s) best = std::max(best, e);
      }
    }
    const bool seen = std::isfinite(best);
    const double unvisited_ms = now - (seen ? best : since);
    if (unvisited_ms / 1000.0 > g.max_gap_minutes * 60.0) {
      OverdueArea o;
      o.area = g.area;
      o.unvisited_seconds = unvisited_ms / 1000.0;
      if (seen) o.last_presence_end_ms = best;
      out.push_back(o);
    }
  }
  return out;
}

void CoverageAccumulator::prune(std::int64_t before_ms) {
  if (before_ms <= horizon_ms_) return;
  horizon_ms_ = before_ms;
  for (Unit& u : units_) {
    while (u.fixes.size() >= 2 && u.fixes[1].t_ms <= before_ms) u.fixes.pop_front();
  }
  const auto before = static_cast<double>(before_ms);
  for (auto& v : by_area_) {
    auto end = std::lower_bound(v.begin(), v.end(), before, [](const Stored& x, double t) { return x.start_ms < t; });
    auto keep_end = std::remove_if(v.begin(), end, [&](const Stored& x) { return x.end_ms < before; });
    v.erase(keep_end, end);
  }
}

void CoverageAccumulator::set_areas(std::shared_ptr<const AreaIndex> areas) {
  areas_ = std::move(areas);
  by_area_.assign(areas_ ? areas_->size() : 0, {});
  for (std::uint32_t u = 0; u < units_.size(); ++u) {
    const auto& fixes = units_[u].fixes;
    for (std::size_t i = 1; i < fixes.size(); ++i) {
      if (forms_segment(fixes[i - 1], fixes[i])) add_segment(u, fixes[i - 1], fixes[i]);
    }
  }
}

std::size_t CoverageAccumulator::fix_count() const {
  std::size_t n = 0;
  for (const Unit& u : units_) n += u.fixes.size();
  return n;
}

std::size_t CoverageAccumulator::interval_count() const {
  std::size_t n = 0;
  for (const auto& v : by_area_) n += v.size();
  return n;
}

}  // namespace pm::geo
