#include "server/dispatch/service.hpp"

#include "server/core/log.hpp"
#include "server/dispatch/json.hpp"

namespace pm::dispatch {

DispatchService::DispatchService(const DispatchConfig& cfg, const Clock& clock, LiveState& live, Store& store,
                                 Metrics& metrics)
    : clock_(clock), live_(live), store_(store), metrics_(metrics), engine_(cfg) {}

std::optional<std::string> append_events(sql::Db& db, const std::vector<Event>& events) {
  auto st = db.prepare("INSERT INTO dispatch_events(t, kind, body) VALUES(?,?,?)");
  if (!st.ok()) return st.error();
  for (const auto& e : events) {
    st.bind(1, static_cast<int64_t>(e.t)).bind(2, event_kind(e)).bind(3, event_to_json(e));
    if (st.step() != SQLITE_DONE) return db.errmsg();
    st.reset();
  }
  // The registry row carries the current status, in the same transaction.
  auto up = db.prepare("UPDATE units SET status=? WHERE idx=?");
  if (!up.ok()) return up.error();
  for (const auto& e : events)
    if (auto* s = std::get_if<ev::UnitStatusChanged>(&e.body)) {
      up.bind(1, unit_status_name(s->to)).bind(2, static_cast<int64_t>(s->unit));
      if (up.step() != SQLITE_DONE) return db.errmsg();
      up.reset();
    }
  return std::nullopt;
}

void DispatchService::load(sql::Db& db) {
  auto st = db.prepare("SELECT seq, t, body FROM dispatch_events ORDER BY seq");
  if (!st.ok()) throw std::runtime_error("dispatch events: " + st.error());
  size_t n = 0, bad = 0;
  std::lock_guard lock(mu_);
  while (st.step() == SQLITE_ROW) {
    auto e = event_from_json(st.text(2), st.i64(1));
    if (!e) {
      ++bad;  // never silently: a row we cannot read is reported
      log::error("dispatch", "unreadable stored event skipped", {{"seq", std::to_string(st.i64(0))}});
      continue;
    }
    engine_.fold(*e);
    ++n;
  }
  log::info("dispatch", "event log folded", {{"events", std::to_string(n)}, {"unreadable", std::to_string(bad)}});
}

Outcome DispatchService::run_locked(const Command& c, EpochMs now) {
  auto r = engine_.decide(c, now, live_);
  if (!r) return r;
  for (const auto& e : *r) {
    engine_.fold(e);
    if (auto* s = std::get_if<ev::UnitStatusChanged>(&e.body)) live_.set_unit_status(s->unit, s->to);
  }
  return r;
}

void DispatchService::persist(std::vector<Event> events, std::function<void(Outcome&&)> done) {
  if (events.empty()) {
    if (done) done(Outcome(std::move(events)));
    return;
  }
  auto shared = std::make_shared<std::vector<Event>>(std::move(events));
  store_.submit(WriteJob{[shared](sql::Db& db) { return append_events(db, *shared); },
                         [this, shared, done = std::move(done)](const StoreResult& r) {
                           if (!r.ok) {
                             // Decided and shown, but not stored: the caller is told it failed.
                             log::error("dispatch", "events not stored", {{"error", r.error}});
                             metrics_.error(Errc::store_failed);
                             if (done) done(Unexpected<Error>{Error{Errc::store_failed, {}}});
                             return;
                           }
                           if (listener_) listener_(*shared);
                           if (done) done(Outcome(std::move(*shared)));
                         }});
}

void DispatchService::execute(Command c, std::function<void(Outcome&&)> done) {
  std::vector<Event> events;
  {
    std::lock_guard lock(mu_);
    const EpochMs now = clock_.now_ms();
    if (auto* ci = std::get_if<cmd::CreateIncident>(&c)) ci->spec.urban = urban_at(ci->spec.xy);
    auto r = run_locked(c, now);
    if (!r) {
      done(std::move(r));
      return;
    }
    events = std::move(*r);
    if (std::holds_alternative<cmd::CreateIncident>(c)) {  // the grade clock starts now, for this one
      auto t = run_locked(cmd::Tick{std::get<ev::IncidentCreated>(events.front().body).incident.id}, now);
      if (t)
        for (auto& e : *t) events.push_back(std::move(e));
    }
  }
  persist(std::move(events), std::move(done));
}

void DispatchService::on_fixes(std::span<const Fix> fixes, std::span<const uint8_t> stored) {
  std::vector<Event> events;
  {
    std::lock_guard lock(mu_);
    const EpochMs now = clock_.now_ms();
    for (size_t i = 0; i < fixes.size(); ++i) {
      const Fix& f = fixes[i];
      if (!stored[i] || f.unit == kNoIndex) continue;
      auto r = run_locked(cmd::Position{f.unit, f.t, f.lat, f.lon, f.xy, f.emergency}, now);
      if (r)
        for (auto& e : *r) events.push_back(std::move(e));
    }
  }
  persist(std::move(events), nullptr);
}

void DispatchService::emergency_without_fix(uint32_t unit) {
  std::vector<Event> events;
  {
    std::lock_guard lock(mu_);
    auto r = run_locked(cmd::Emergency{unit}, clock_.now_ms());
    if (r) events = std::move(*r);
  }
  persist(std::move(events), nullptr);
}

void DispatchService::patrol_gaps(cmd::PatrolGaps gaps) {
  std::vector<Event> events;
  {
    std::lock_guard lock(mu_);
    auto r = run_locked(std::move(gaps), clock_.now_ms());
    if (r) events = std::move(*r);
  }
  persist(std::move(events), nullptr);
}

void DispatchService::tick() {
  std::vector<Event> events;
  {
    std::lock_guard lock(mu_);
    auto r = run_locked(cmd::Tick{}, clock_.now_ms());
    if (r) events = std::move(*r);
  }
  persist(std::move(events), nullptr);
}

}  // namespace pm::dispatch
