#pragma once
// The dispatch engine in the daemon: one mutex around the engine, every
// decision folded at once (so the next command sees it) and its events
// appended to the store's `dispatch_events` log by the writer thread; an API
// answer is sent only after that commit, so what a dispatcher was told
// survives kill -9. On start the log is folded again (SPEC section 8).
//
//   DispatchService d(cfg, clock, live, store, metrics);
//   store.read([&](sql::Db& db) { d.load(db); });          // before serving
//   d.execute(cmd::Assign{7, unit, false}, [](auto&& r) { answer r });
//   d.on_fixes(fixes, stored);                               // pipeline, after commit
//   d.tick();                                                // timer: grade clock
#include <functional>
#include <mutex>
#include <shared_mutex>

#include "server/core/metrics.hpp"
#include "server/dispatch/engine.hpp"
#include "server/store/store.hpp"

namespace pm::dispatch {

using Outcome = Expected<std::vector<Event>, Error>;

class DispatchService {
 public:
  DispatchService(const DispatchConfig& cfg, const Clock& clock, LiveState& live, Store& store, Metrics& metrics);

  // Folds the stored event log. Call before the store starts.
  void load(sql::Db& db);
  // Where grade-1 targets are urban (default: everywhere). Set before serving.
  void set_urban(std::function<bool(geo::XY)> urban_at) { urban_at_ = std::move(urban_at); }
  // Drive-time ETAs (method `road`); `road` must outlive the service. Before serving.
  void set_road(const RoadEta* road) {
    std::lock_guard lock(mu_);
    engine_.set_road(road);
  }
  bool urban_at(geo::XY p) const { return urban_at_ ? urban_at_(p) : true; }
  // Called with every batch of committed events, in commit order, on the
  // store thread (the live feed's hook).
  void set_listener(std::function<void(const std::vector<Event>&)> f) { listener_ = std::move(f); }

  // Decides and folds now; `done` runs after the events are committed (or at
  // once with the error). A creation also runs the grade clock at once.
  void execute(Command c, std::function<void(Outcome&&)> done);
  // Accepted fixes (store thread, after commit): auto arrival, self
  // deployment, officer emergencies. Events are persisted asynchronously.
  void on_fixes(std::span<const Fix> fixes, std::span<const uint8_t> stored);
  // An emergency from a device that sent no usable position.
  void emergency_without_fix(uint32_t unit);
  void tick();
  // The overdue hot spots now (patrol coverage): raises and ends patrol_gap alerts.
  void patrol_gaps(cmd::PatrolGaps gaps);

  // Consistent reads under the lock: f(engine, now, live).
  template <class F>
  auto read(F&& f) const {
    std::shared_lock lock(mu_);
    return f(engine_, clock_.now_ms(), static_cast<const LiveState&>(live_));
  }

 private:
  // Under mu_: decide, fold, apply statuses; returns the events (maybe empty).
  Outcome run_locked(const Command& c, EpochMs now);
  void persist(std::vector<Event> events, std::function<void(Outcome&&)> done);

  const Clock& clock_;
  LiveState& live_;
  Store& store_;
  Metrics& metrics_;
  mutable std::shared_mutex mu_;
  Engine engine_;
  std::function<bool(geo::XY)> urban_at_;
  std::function<void(const std::vector<Event>&)> listener_;
};

// The stored log (table dispatch_events).
std::optional<std::string> append_events(sql::Db& db, const std::vector<Event>& events);

}  // namespace pm::dispatch
