#pragma once
// Patrol coverage in the daemon (SPEC 5, issue 6): live accounting of every
// accepted fix against the loaded areas, the coverage report (live or from
// the store), the per-area visit list, and the unvisited-hot-spot alert.
//
//   CoverageService cov(cfg, clock, live, metrics);
//   cov.set_areas(index, features);                  // at start and on every reload
//   pipeline hook: cov.on_fixes(fixes, stored);      // store writer thread: queues only
//   cov.start(data_dir);                             // rebuilds the last coverage.live_hours from the store
//   reader job: auto answer = cov.report(db, query); // db: a read-only store connection
//
// Threads: on_fixes only appends to a queue under a mutex (the writer never
// clips segments). One accounting thread applies the queue to the
// CoverageAccumulator under a write lock, prunes it, and checks hot spots
// against their max gap every coverage.alert_check_s. Reports take a read
// lock and run on the caller's thread (a StoreReader worker).
//
// Live or historical: a window that starts at or after live_since_ms() is
// answered from memory (the accumulator holds every fix since then);
// anything older is recomputed from the stored fixes with the same code
// (geo::compute_coverage / summarise_area), so both agree exactly.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "geo/coverage.hpp"
#include "server/areas/geojson.hpp"
#include "server/core/clock.hpp"
#include "server/core/config.hpp"
#include "server/core/metrics.hpp"
#include "server/core/shifts.hpp"
#include "server/ingest/fix.hpp"
#include "server/state/live_state.hpp"
#include "server/store/sqlite.hpp"

namespace pm {

struct CoverageQuery {
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  std::string kind;                   // empty: every kind
  std::vector<std::string> area_ids;  // empty: every area (of `kind`)
  bool from_store = false;            // recompute from the stored fixes even when memory could answer
};

struct CoverageRow {
  std::shared_ptr<const AreaFeature> feature;
  geo::AreaCoverage coverage;
  std::optional<geo::TargetResult> target;  // when the area has a target
};

struct CoverageAnswer {
  std::vector<CoverageRow> rows;
  std::vector<std::string> unknown_areas;  // asked for, not loaded
  bool live = false;                        // answered from memory
};

// One unit's visit to one area (SPEC 5 merge rule), with the unit's id.
struct UnitVisitRow {
  std::string unit;
  double start_ms = 0;
  double end_ms = 0;
  bool koper = false;
};

// A hot spot unvisited for longer than its max gap during the current shift.
struct PatrolGap {
  std::string area;
  std::string name;
  double lat = 0, lon = 0;  // where to look: the centre of the area's bounding box
  double unvisited_s = 0;
  double max_gap_minutes = 0;
  std::optional<double> last_visit_end_ms;
};

class CoverageService {
 public:
  CoverageService(const Config& cfg, const Clock& clock, LiveState& live, Metrics& metrics);
  ~CoverageService();
  CoverageService(const CoverageService&) = delete;
  CoverageService& operator=(const CoverageService&) = delete;

  // A new area set (any thread). The accumulator recomputes from its kept fixes.
  void set_areas(std::shared_ptr<const geo::AreaIndex> index, std::shared_ptr<const std::vector<AreaFeature>> features);

  // Store writer thread, after commit: queues the stored fixes of units.
  void on_fixes(std::span<const Fix> fixes, std::span<const uint8_t> stored);

  // Starts the accounting thread: it first replays the stored fixes of the
  // last coverage.live_hours (a read-only connection to data_dir's store),
  // then applies queued fixes. `on_gaps` gets the overdue hot spots (the
  // whole current set, possibly empty) every coverage.alert_check_s.
  void start(const std::string& data_dir, std::function<void(std::vector<PatrolGap>)> on_gaps);
  void stop();

  // The report for one window (any thread; `db` is a read-only store
  // connection, used only for windows older than the live horizon).
  CoverageAnswer report(sql::Db& db, const CoverageQuery& q) const;
  // Who was in `area` during [from, to), as visits (start order). nullopt:
  // no such area.
  std::optional<std::vector<UnitVisitRow>> visits(sql::Db& db, const std::string& area, int64_t from_ms,
                                                  int64_t to_ms, bool from_store = false) const;

  // Windows starting at or after this are answered from memory; INT64_MAX
  // until the start-up replay is done.
  int64_t live_since_ms() const { return live_since_.load(std::memory_order_acquire); }
  const ShiftCalendar& shifts() const { return shifts_; }
  const geo::CoverageParams& params() const { return params_; }
  // Overdue hot spots of the shift running at now_ms (what on_gaps gets).
  std::vector<PatrolGap> overdue(int64_t now_ms) const;

 private:
  struct Queued {
    uint32_t unit;
    int64_t t;
    geo::XY xy;
  };
  struct Areas {
    std::shared_ptr<const geo::AreaIndex> index;
    std::vector<std::shared_ptr<const AreaFeature>> by_handle;  // index handle -> its feature
  };
  std::shared_ptr<const Areas> areas() const;
  void run(std::string data_dir, std::function<void(std::vector<PatrolGap>)> on_gaps);
  void replay_store(const std::string& data_dir, int64_t since_ms);
  void apply(const std::vector<Queued>& batch);
  // Stored tracks over [from - max_gap, to + max_gap) per unit, in time order.
  std::vector<geo::UnitTrack> read_tracks(sql::Db& db, int64_t from_ms, int64_t to_ms) const;

  const Config& cfg_;
  const Clock& clock_;
  LiveState& live_;
  Metrics& metrics_;
  ShiftCalendar shifts_;
  geo::CoverageParams params_;

  mutable std::mutex areas_mu_;
  std::shared_ptr<const Areas> areas_;

  mutable std::shared_mutex acc_mu_;
  std::unique_ptr<geo::CoverageAccumulator> acc_;
  std::atomic<int64_t> live_since_{INT64_MAX};
  // Without areas nothing is accounted and no fixes are kept (memory);
  // loading the first areas moves live_since_ to that moment.
  std::atomic<bool> tracking_{false};
  bool started_ = false;  // the start-up replay is done (under acc_mu_)

  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::vector<Queued> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pm
