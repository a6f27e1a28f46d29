#pragma once
// Applies the duty rota to the registry (SPEC sections 2 and 4): during a
// shift the officer's radio (ISSI) is linked to the unit and the unit carries
// the on-duty officers' skills; a rota unit with no running shift is off_duty
// and goes back to available when a shift starts. Links end at shift end.
//
// Each tick reconciles the registry with RotaPlan::effect_at(now) rather than
// replaying transitions, so it is right after a restart or a missed tick.
// Changes are persisted through the store writer and applied to memory in
// commit order, like every other registry change.
//
//   RotaService rota(clock, live, store);
//   rota.load(load_rota_rows(db));                 // startup
//   rota.add_csv(body, [](RotaLoadResult r){...}); // POST /api/v1/rota
//   rota.tick();                                   // every few seconds (app timer)
#include <atomic>
#include <functional>
#include <mutex>

#include "server/state/live_state.hpp"
#include "server/state/rota_plan.hpp"
#include "server/store/store.hpp"

namespace pm {

struct RotaLoadResult {
  size_t loaded = 0;
  std::vector<RotaProblem> problems;
  std::optional<std::string> store_error;
};

class RotaService {
 public:
  // `set_status` changes an existing unit's status (the dispatch engine, which
  // refuses to take a deployed unit off duty; the next tick tries again).
  using StatusSetter = std::function<void(uint32_t unit, UnitStatus status)>;
  RotaService(const Clock& clock, LiveState& live, Store& store, StatusSetter set_status)
      : clock_(clock), live_(live), store_(store), set_status_(std::move(set_status)) {}

  void load(const std::vector<RotaRow>& rows);
  // Parses, persists good rows, applies them; `done` runs on the store thread.
  void add_csv(std::string_view csv, std::function<void(RotaLoadResult&&)> done);
  // Reconciles the registry with the rota at the clock's now.
  void tick();
  RotaEffect effect_now() const;

 private:
  void reconcile(EpochMs now);

  const Clock& clock_;
  LiveState& live_;
  Store& store_;
  StatusSetter set_status_;
  mutable std::mutex mu_;
  RotaPlan plan_;
  std::atomic<bool> in_flight_{false};
};

}  // namespace pm
