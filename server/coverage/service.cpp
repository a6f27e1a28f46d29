#include "server/coverage/service.hpp"

#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <limits>
#include <unordered_map>

#include "server/core/log.hpp"
#include "server/store/track_query.hpp"

namespace pm {
namespace {

constexpr int64_t kHourMs = 3'600'000;

// The accumulator names units; the daemon's dense unit index is the name.
struct UnitName {
  char buf[12];
  std::string_view view;
  explicit UnitName(uint32_t unit) {
    auto r = std::to_chars(buf, buf + sizeof buf, unit);
    view = std::string_view(buf, static_cast<size_t>(r.ptr - buf));
  }
};

std::optional<uint32_t> unit_of_name(std::string_view s) {
  uint32_t u = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), u);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return u;
}

geo::CoverageParams params_of(const Config& c) {
  return {c.coverage_max_gap_s, c.coverage_visit_merge_s, c.coverage_koper_min_s};
}

// The centre of the area's bounding box, in degrees.
std::pair<double, double> centre_of(const AreaFeature& f) {
  double w = 180, s = 90, e = -180, n = -90;
  for (const auto& poly : f.input.polygons)
    for (const auto& ring : poly.rings)
      for (const auto& p : ring) {
        w = std::min(w, p.lon);
        e = std::max(e, p.lon);
        s = std::min(s, p.lat);
        n = std::max(n, p.lat);
      }
  return {(s + n) / 2, (w + e) / 2};
}

}  // namespace

CoverageService::CoverageService(const Config& cfg, const Clock& clock, LiveState& live, Metrics& metrics)
    : cfg_(cfg),
      clock_(clock),
      live_(live),
      metrics_(metrics),
      shifts_(*ShiftCalendar::parse(cfg.shift_boundaries, cfg.shift_timezone)),
      params_(params_of(cfg)),
      areas_(std::make_shared<const Areas>(Areas{std::make_shared<const geo::AreaIndex>(), {}})),
      acc_(std::make_unique<geo::CoverageAccumulator>(areas_->index, params_)) {}

CoverageService::~CoverageService() { stop(); }

void CoverageService::set_areas(std::shared_ptr<const geo::AreaIndex> index,
                                std::shared_ptr<const std::vector<AreaFeature>> features) {
  if (!index) index = std::make_shared<const geo::AreaIndex>();
  auto a = std::make_shared<Areas>();
  a->index = index;
  a->by_handle.resize(index->size());
  if (features) {
    // Share the features' storage: one allocation keeps the whole set alive.
    for (const AreaFeature& f : *features)
      if (auto h = index->find(f.input.id)) a->by_handle[*h] = std::shared_ptr<const AreaFeature>(features, &f);
  }
  {
    std::unique_lock lock(acc_mu_);  // recompute before anyone reads the new handles
    acc_->set_areas(index);
    const bool was = tracking_.exchange(index->size() > 0);
    // The first areas after running without: the fixes of that time were not
    // kept, so only windows from now on are answered from memory.
    if (!was && index->size() > 0 && started_) live_since_.store(clock_.now_ms(), std::memory_order_release);
    std::lock_guard al(areas_mu_);
    areas_ = std::move(a);
  }
}

std::shared_ptr<const CoverageService::Areas> CoverageService::areas() const {
  std::lock_guard lock(areas_mu_);
  return areas_;
}

void CoverageService::on_fixes(std::span<const Fix> fixes, std::span<const uint8_t> stored) {
  if (!tracking_.load(std::memory_order_relaxed)) return;  // no areas: nothing to account, nothing kept
  std::lock_guard lock(q_mu_);
  if (stopping_) return;  // stopped: nothing more is accounted
  const size_t before = queue_.size();
  for (size_t i = 0; i < fixes.size(); ++i) {
    const Fix& f = fixes[i];
    if (f.unit == kNoIndex || (i < stored.size() && !stored[i])) continue;
    queue_.push_back({f.unit, f.t, to_mm_grid(f.xy)});
  }
  if (queue_.size() != before) q_cv_.notify_one();
}

void CoverageService::start(const std::string& data_dir, std::function<void(std::vector<PatrolGap>)> on_gaps) {
  thread_ = std::thread([this, data_dir, on_gaps = std::move(on_gaps)] {
    pthread_setname_np(pthread_self(), "coverage");  // found by name in /proc (tools/load/coverage_load)
    run(data_dir, on_gaps);
  });
}

void CoverageService::stop() {
  {
    std::lock_guard lock(q_mu_);
    stopping_ = true;
  }
  q_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CoverageService::apply(const std::vector<Queued>& batch) {
  std::unique_lock lock(acc_mu_);
  for (const Queued& q : batch) {
    const UnitName name(q.unit);
    acc_->add_fix(name.view, q.t, q.xy);
  }
}

void CoverageService::replay_store(const std::string& data_dir, int64_t since_ms) {
  sql::Db db;
  const auto path = (std::filesystem::path(data_dir) / "patrolmap.db").string();
  if (auto e = db.open_readonly(path)) {
    log::error("coverage", "cannot read the store to rebuild coverage", {{"error", *e}});
    return;
  }
  // Each unit's fixes in time order (equal times: the first stored, as live
  // accounting kept it), x/y from the chunks: no PROJ call for what is packed.
  TrackQuery q(db, &live_.projection());
  size_t total = 0;
  const bool ok = q.load_all(since_ms, std::numeric_limits<int64_t>::max(),
                             [&](uint32_t u, std::vector<TrackPoint>& pts) {
                               const UnitName name(u);
                               std::unique_lock lock(acc_mu_);
                               for (const TrackPoint& p : pts)
                                 if (p.has_xy()) acc_->add_fix(name.view, p.t, p.xy());
                               total += pts.size();
                             });
  if (!ok) log::error("coverage", "cannot read the store to rebuild coverage", {{"error", q.error()}});
  log::info("coverage", "live accounting rebuilt from the store", {{"fixes", std::to_string(total)}});
}

void CoverageService::run(std::string data_dir, std::function<void(std::vector<PatrolGap>)> on_gaps) {
  const int64_t keep_ms = int64_t{cfg_.coverage_live_hours} * kHourMs;
  const int64_t since = clock_.now_ms() - keep_ms;
  {
    std::unique_lock lock(acc_mu_);
    acc_->prune(since);
  }
  const bool replayed = tracking_.load();
  if (replayed) replay_store(data_dir, since);
  {
    // No areas yet: nothing is kept, nothing answered from memory until areas
    // arrive (areas that arrived during the replay count from now).
    std::unique_lock lock(acc_mu_);
    if (replayed) live_since_.store(since, std::memory_order_release);
    else if (tracking_.load()) live_since_.store(clock_.now_ms(), std::memory_order_release);
    started_ = true;
  }

  using steady = std::chrono::steady_clock;
  auto next_check = steady::now();
  auto next_prune = steady::now() + std::chrono::minutes(10);
  std::vector<Queued> batch;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(q_mu_);
      q_cv_.wait_until(lock, next_check, [&] { return stopping_ || !queue_.empty(); });
      batch.swap(queue_);
      stop = stopping_;
    }
    if (!batch.empty()) apply(batch);
    batch.clear();
    if (stop) return;
    const auto now = steady::now();
    if (now >= next_prune) {
      // Windows older than the horizon are answered from the store, so the
      // horizon moves first: no report reads a half-pruned accumulator.
      const int64_t horizon = clock_.now_ms() - keep_ms;
      live_since_.store(std::max(live_since_.load(), horizon), std::memory_order_release);
      std::unique_lock lock(acc_mu_);
      acc_->prune(horizon);
      next_prune = now + std::chrono::minutes(10);
    }
    if (now >= next_check) {
      if (on_gaps) on_gaps(overdue(clock_.now_ms()));
      next_check = now + std::chrono::seconds(cfg_.coverage_alert_check_s);
    }
  }
}

std::vector<PatrolGap> CoverageService::overdue(int64_t now_ms) const {
  auto a = areas();
  const Shift shift = shifts_.at(now_ms);
  std::vector<geo::GapTarget> targets;
  for (uint32_t h = 0; h < a->by_handle.size(); ++h) {
    const auto& f = a->by_handle[h];
    if (!f || f->kind != "hotspot") continue;
    double gap = 120;  // SPEC 5 default for hot spots
    if (f->target && f->target->max_gap_minutes) gap = *f->target->max_gap_minutes;
    if (gap > 0) targets.push_back({h, gap});
  }
  std::vector<PatrolGap> out;
  if (targets.empty()) return out;
  std::vector<geo::OverdueArea> late;
  {
    std::shared_lock lock(acc_mu_);
    late = acc_->overdue(targets, shift.start_ms, now_ms);
  }
  for (const auto& o : late) {
    const AreaFeature& f = *a->by_handle[o.area];
    auto [lat, lon] = centre_of(f);
    double gap = 120;
    for (const auto& t : targets)
      if (t.area == o.area) gap = t.max_gap_minutes;
    out.push_back({f.input.id, f.name, lat, lon, o.unvisited_seconds, gap, o.last_presence_end_ms});
  }
  return out;
}

std::vector<geo::UnitTrack> CoverageService::read_tracks(sql::Db& db, int64_t from_ms, int64_t to_ms) const {
  std::vector<geo::UnitTrack> tracks;
  const auto gap_ms = static_cast<int64_t>(params_.max_gap_s * 1000.0) + 1;
  // Track chunks carry each fix's projected x/y on the millimetre grid live
  // accounting uses (to_mm_grid), and keep the first stored of equal times.
  TrackQuery q(db, &live_.projection());
  const bool ok = q.load_all(from_ms - gap_ms, to_ms + gap_ms - 1, [&](uint32_t u, std::vector<TrackPoint>& pts) {
    geo::UnitTrack track{std::to_string(u), {}};
    track.fixes.reserve(pts.size());
    for (const TrackPoint& p : pts)
      if (p.has_xy())
        track.fixes.push_back({p.t, p.xy()});
    tracks.push_back(std::move(track));
  });
  if (!ok) throw std::runtime_error("coverage: " + q.error());
  return tracks;
}

CoverageAnswer CoverageService::report(sql::Db& db, const CoverageQuery& q) const {
  CoverageAnswer ans;
  auto a = areas();
  std::vector<uint32_t> handles;
  if (q.area_ids.empty()) {
    for (uint32_t h = 0; h < a->by_handle.size(); ++h)
      if (a->by_handle[h] && (q.kind.empty() || a->by_handle[h]->kind == q.kind)) handles.push_back(h);
  } else {
    for (const auto& id : q.area_ids) {
      auto h = a->index->find(id);
      if (!h || !a->by_handle[*h]) {
        ans.unknown_areas.push_back(id);
        continue;
      }
      if (q.kind.empty() || a->by_handle[*h]->kind == q.kind) handles.push_back(*h);
    }
  }
  std::vector<geo::AreaCoverage> cov;
  if (!q.from_store && q.from_ms >= live_since_ms()) {
    std::shared_lock lock(acc_mu_);
    // The accumulator may have been given newer areas than `a` meanwhile:
    // only answer from it when both are the same set.
    if (areas().get() == a.get()) {
      cov = acc_->report(handles, q.from_ms, q.to_ms);
      ans.live = true;
    }
  }
  if (!ans.live) {
    const auto tracks = read_tracks(db, q.from_ms, q.to_ms);
    cov = geo::compute_coverage(*a->index, tracks, handles, q.from_ms, q.to_ms, params_);
  }
  ans.rows.reserve(handles.size());
  for (size_t i = 0; i < handles.size(); ++i) {
    CoverageRow row{a->by_handle[handles[i]], cov[i], std::nullopt};
    if (row.feature->target) row.target = geo::evaluate_target(*row.feature->target, row.coverage);
    ans.rows.push_back(std::move(row));
  }
  return ans;
}

std::optional<std::vector<UnitVisitRow>> CoverageService::visits(sql::Db& db, const std::string& area, int64_t from_ms,
                                                                 int64_t to_ms, bool from_store) const {
  auto a = areas();
  auto h = a->index->find(area);
  if (!h || !a->by_handle[*h]) return std::nullopt;
  std::vector<geo::InsideInterval> intervals;
  std::vector<std::string> names;  // by the intervals' unit numbers
  bool done = false;
  if (!from_store && from_ms >= live_since_ms()) {
    std::shared_lock lock(acc_mu_);
    if (areas().get() == a.get()) {
      intervals = acc_->intervals(*h, from_ms, to_ms);
      for (const auto& iv : intervals) {
        if (iv.unit >= names.size()) names.resize(iv.unit + 1);
        if (names[iv.unit].empty()) names[iv.unit] = acc_->unit_name(iv.unit);
      }
      done = true;
    }
  }
  if (!done) {
    const auto tracks = read_tracks(db, from_ms, to_ms);
    intervals = geo::collect_intervals(*a->index, tracks, *h, from_ms, to_ms, params_);
    for (const auto& t : tracks) names.push_back(t.unit);
  }
  std::vector<UnitVisitRow> out;
  for (const geo::Visit& v : geo::list_visits(intervals, from_ms, to_ms, params_)) {
    std::string id = v.unit < names.size() ? names[v.unit] : std::string();
    if (auto u = unit_of_name(id))
      if (auto rec = live_.unit(*u)) id = rec->id;
    out.push_back({std::move(id), v.start_ms, v.end_ms, v.koper});
  }
  std::sort(out.begin(), out.end(), [](const UnitVisitRow& x, const UnitVisitRow& y) {
    return x.start_ms != y.start_ms ? x.start_ms < y.start_ms : x.unit < y.unit;
  });
  return out;
}

}  // namespace pm
