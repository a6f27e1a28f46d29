#include "server/dispatch/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "geo/geodesic.hpp"

namespace pm::dispatch {

namespace {

constexpr std::string_view kIncidentStatus[] = {"open", "assigned", "on_scene", "closed"};
constexpr std::string_view kStage[] = {"en_route", "on_scene", "cleared"};
constexpr std::string_view kAlertKind[] = {"officer_emergency", "predicted_breach", "breach", "patrol_gap"};

template <class E, size_t N>
std::optional<E> parse_name(std::string_view s, const std::string_view (&names)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

double planar(geo::XY a, geo::XY b) { return std::hypot(a.x - b.x, a.y - b.y); }

Unexpected<Error> fail(Errc c, std::string msg) { return Unexpected<Error>{Error{c, std::move(msg)}}; }

bool has_skills(const UnitRecord& u, const std::vector<std::string>& required) {
  for (const auto& s : required)
    if (std::find(u.fields.skills.begin(), u.fields.skills.end(), s) == u.fields.skills.end()) return false;
  return true;
}

}  // namespace

std::string_view incident_status_name(IncidentStatus s) { return kIncidentStatus[static_cast<size_t>(s)]; }
std::optional<IncidentStatus> parse_incident_status(std::string_view s) {
  return parse_name<IncidentStatus>(s, kIncidentStatus);
}
std::string_view stage_name(Stage s) { return kStage[static_cast<size_t>(s)]; }
std::optional<Stage> parse_stage(std::string_view s) { return parse_name<Stage>(s, kStage); }
std::string_view alert_kind_name(AlertKind k) { return kAlertKind[static_cast<size_t>(k)]; }

template <class F>
void Engine::cells_around(geo::XY p, double r, double cell, F&& f) const {
  const auto x0 = static_cast<int64_t>(std::floor((p.x - r) / cell));
  const auto x1 = static_cast<int64_t>(std::floor((p.x + r) / cell));
  const auto y0 = static_cast<int64_t>(std::floor((p.y - r) / cell));
  const auto y1 = static_cast<int64_t>(std::floor((p.y + r) / cell));
  for (int64_t cx = x0; cx <= x1; ++cx)
    for (int64_t cy = y0; cy <= y1; ++cy) f(cell_key(cx, cy));
}

// ---- recommendation -------------------------------------------------------

std::vector<Recommendation> Engine::nearest_available(double lat, double lon, geo::XY xy, size_t k, EpochMs now,
                                                      const LiveState& live, uint32_t except) const {
  Incident probe;
  probe.spec.lat = lat;
  probe.spec.lon = lon;
  probe.spec.xy = xy;
  auto out = recommend(probe, k + (except != kNoIndex ? 1 : 0), now, live);
  std::erase_if(out, [&](const Recommendation& r) { return r.unit == except; });
  if (out.size() > k) out.resize(k);
  return out;
}

namespace {
// Planar (EPSG:27700) distance is the geodesic one times the projection's
// scale factor, which stays within 0.9996..1.0008 over Great Britain. So a
// candidate whose planar distance exceeds the k-th nearest's by more than
// this factor (> 1.0008 / 0.9996) is geodesically farther than all k of them
// and cannot be in the answer: only the few candidates inside it need a
// geodesic.
constexpr double kScaleSlack = 1.003;

bool by_eta(const Recommendation& a, const Recommendation& b) {
  if (a.eta_s != b.eta_s) return a.eta_s < b.eta_s;
  return a.unit_id < b.unit_id;
}
}  // namespace

Recommendation Engine::recommendation(const UnitRecord& u, const Incident& inc, EpochMs now) const {
  Recommendation r;
  r.unit = u.index;
  r.unit_id = u.id;
  r.distance_m = geo::geodesic_distance_m({u.last.lon, u.last.lat}, {inc.spec.lon, inc.spec.lat});
  r.eta_s = r.distance_m / cfg_.straight_line_speed_mps;
  r.fix_age_s = static_cast<double>(now - u.last.t) / 1000.0;
  r.skills = u.fields.skills;
  return r;
}

std::vector<Recommendation> Engine::recommend(const Incident& inc, size_t k, EpochMs now, const LiveState& live) const {
  std::vector<Recommendation> out;
  if (k == 0) return out;
  const EpochMs stale_ms = cfg_.stale_after_s * 1000;
  const auto& required = inc.spec.required_skills;
  auto eligible = [&](const UnitRecord& u) {
    return u.fields.status == UnitStatus::available && u.has_fix && now - u.last.t <= stale_ms &&
           has_skills(u, required);
  };
  if (road_) {
    // Drive time does not follow straight-line order: a wider net, re-ranked
    // by the road network where a unit is on it.
    std::vector<geo::XY> from;
    live.visit_nearest_units(inc.spec.xy, std::max<size_t>(k * 4, 32), eligible, [&](const auto& near, auto&& unit_at) {
      for (const auto& n : near) {
        const UnitRecord& u = unit_at(n.id);
        out.push_back(recommendation(u, inc, now));
        from.push_back(u.last.xy);
      }
    });
    std::vector<double> t(out.size(), std::numeric_limits<double>::quiet_NaN());
    if (!out.empty()) road_->drive_times(inc.spec.xy, from, t);
    for (size_t i = 0; i < out.size(); ++i)
      if (std::isfinite(t[i])) {
        out[i].eta_s = t[i];
        out[i].road = true;
      }
  } else {
    // Straight line: the planar k nearest plus those within kScaleSlack of
    // the k-th, re-ranked by geodesic distance; records are read in place
    // and only the answer is copied. When the search was cut inside the
    // slack band, it is repeated wider.
    for (size_t want = k + 4;; want *= 2) {
      bool cut = false;
      live.visit_nearest_units(inc.spec.xy, want, eligible, [&](const auto& near, auto&& unit_at) {
        size_t take = near.size();
        if (near.size() > k) {
          const double limit = near[k - 1].distance_m * kScaleSlack;
          take = k;
          while (take < near.size() && near[take].distance_m <= limit) ++take;
          cut = take == near.size() && near.size() == want;
        }
        if (cut) return;
        out.reserve(take);
        for (size_t i = 0; i < take; ++i) out.push_back(recommendation(unit_at(near[i].id), inc, now));
      });
      if (!cut) break;
    }
  }
  std::sort(out.begin(), out.end(), by_eta);
  if (out.size() > k) out.resize(k);
  return out;
}

// ---- queries ----------------------------------------------------------------

const Incident* Engine::incident(uint64_t id) const {
  auto it = incidents_.find(id);
  return it == incidents_.end() ? nullptr : &it->second;
}
Incident* Engine::incident_mut(uint64_t id) {
  auto it = incidents_.find(id);
  return it == incidents_.end() ? nullptr : &it->second;
}

std::vector<const Incident*> Engine::incidents(std::optional<IncidentStatus> status, bool open_only) const {
  std::vector<const Incident*> out;
  for (auto it = incidents_.rbegin(); it != incidents_.rend(); ++it) {
    const auto& inc = it->second;
    if (status && inc.status != *status) continue;
    if (open_only && inc.status == IncidentStatus::closed) continue;
    out.push_back(&inc);
  }
  return out;
}

std::vector<const Alert*> Engine::alerts(bool active_only) const {
  std::vector<const Alert*> out;
  for (auto it = alerts_.rbegin(); it != alerts_.rend(); ++it)
    if (!active_only || it->second.active) out.push_back(&it->second);
  return out;
}

std::vector<const FlaggedLocation*> Engine::locations() const {
  std::vector<const FlaggedLocation*> out;
  for (const auto& [id, l] : locations_) out.push_back(&l);
  return out;
}

uint64_t Engine::unit_incident(uint32_t unit) const {
  auto it = unit_active_.find(unit);
  return it == unit_active_.end() || it->second.empty() ? 0 : it->second.back();
}

bool Engine::unit_emergency(uint32_t unit) const { return unit_emergency_.contains(unit); }

// ---- decisions ----------------------------------------------------------------

Flags Engine::flags_for(const IncidentSpec& s, EpochMs now) const {
  Flags f;
  const EpochMs since = now - cfg_.repeat_window_days * 86400 * 1000;
  const double r = cfg_.repeat_radius_m;
  cells_around(s.xy, r, std::max(r, 1.0), [&](CellKey key) {
    auto it = repeat_cells_.find(key);
    if (it == repeat_cells_.end()) return;
    for (uint64_t id : it->second) {
      const Incident& other = incidents_.at(id);
      if (other.created >= since && planar(other.spec.xy, s.xy) <= r) f.repeat_location.push_back(id);
    }
  });
  std::sort(f.repeat_location.begin(), f.repeat_location.end());
  if (!s.caller_ref.empty())
    if (auto it = by_caller_.find(s.caller_ref); it != by_caller_.end())
      for (uint64_t id : it->second)
        if (incidents_.at(id).created >= since) f.repeat_caller.push_back(id);
  if (auto it = location_cells_.find(cell_key(static_cast<int64_t>(std::floor(s.xy.x / kLocationCell_m)),
                                              static_cast<int64_t>(std::floor(s.xy.y / kLocationCell_m))));
      it != location_cells_.end())
    for (uint64_t id : it->second) {
      const auto& l = locations_.at(id);
      if (planar(l.xy, s.xy) <= l.radius_m) f.locations.push_back(id);
    }
  std::sort(f.locations.begin(), f.locations.end());
  return f;
}

EpochMs Engine::deadline_for(const IncidentSpec& s, EpochMs created) const {
  switch (s.grade) {
    case 1:
      return created + (s.urban ? cfg_.grade1_urban_s : cfg_.grade1_rural_s) * 1000;
    case 2:
      return created + cfg_.grade2_s * 1000;
    default:
      return s.appointment_to;  // 0: no window, no target
  }
}

void Engine::status_event(const UnitRecord& u, UnitStatus to, uint64_t incident, EpochMs now,
                          std::vector<Event>& out) const {
  out.push_back({now, ev::UnitStatusChanged{u.index, u.id, u.fields.status, to, incident}});
}

Expected<std::vector<Event>, Error> Engine::decide(const Command& c, EpochMs now, const LiveState& live) const {
  std::vector<Event> out;
  auto unit_of = [&](uint32_t idx) { return live.unit(idx); };

  if (auto* ci = std::get_if<cmd::CreateIncident>(&c)) {
    const auto& s = ci->spec;
    if (s.grade < 1 || s.grade > 3) return fail(Errc::bad_request, "grade must be 1, 2 or 3");
    if (s.appointment_to && s.appointment_to <= s.appointment_from)
      return fail(Errc::bad_request, "appointment.to must be after appointment.from");
    Incident inc;
    inc.id = next_incident_;
    inc.spec = s;
    inc.created = now;
    inc.deadline = deadline_for(s, now);
    inc.flags = flags_for(s, now);
    out.push_back({now, ev::IncidentCreated{std::move(inc)}});
    return out;  // the caller ticks the grade clock right after folding it
  }

  if (auto* a = std::get_if<cmd::Assign>(&c)) {
    const Incident* inc = incident(a->incident);
    if (!inc) return fail(Errc::not_found, "no incident " + std::to_string(a->incident));
    auto u = unit_of(a->unit);
    if (!u) return fail(Errc::not_found, "no such unit");
    if (inc->status == IncidentStatus::closed) return fail(Errc::conflict, "incident is closed");
    if (inc->assignment_of(a->unit)) return fail(Errc::conflict, "unit " + u->id + " is already assigned to it");
    const bool available = u->fields.status == UnitStatus::available;
    if (!available && !a->force)
      return fail(Errc::conflict, "unit " + u->id + " is " + std::string(unit_status_name(u->fields.status)) +
                                      "; assign with force to deploy it anyway");
    out.push_back({now, ev::UnitAssigned{inc->id, u->index, u->id, !available}});
    status_event(*u, UnitStatus::assigned, inc->id, now, out);
    return out;
  }

  if (auto* r = std::get_if<cmd::Report>(&c)) {
    const Incident* inc = incident(r->incident);
    if (!inc) return fail(Errc::not_found, "no incident " + std::to_string(r->incident));
    auto u = unit_of(r->unit);
    if (!u) return fail(Errc::not_found, "no such unit");
    const Assignment* as = inc->assignment_of(r->unit);
    if (!as) return fail(Errc::conflict, "unit " + u->id + " is not assigned to incident " + std::to_string(inc->id));
    if (r->stage == Stage::en_route && (as->en_route || as->on_scene))
      return fail(Errc::conflict,
                  "unit " + u->id + " already reported " + std::string(as->on_scene ? "on_scene" : "en_route"));
    if (r->stage == Stage::on_scene && as->on_scene)
      return fail(Errc::conflict, "unit " + u->id + " is already on scene");
    out.push_back({now, ev::StageReached{inc->id, u->index, u->id, r->stage, false}});
    UnitStatus to = r->stage == Stage::en_route   ? UnitStatus::en_route
                    : r->stage == Stage::on_scene ? UnitStatus::on_scene
                                                  : UnitStatus::available;
    uint64_t next = inc->id;
    if (r->stage == Stage::cleared) {
      // Still deployed elsewhere (a multiple deployment): back to that one.
      next = 0;
      if (auto it = unit_active_.find(r->unit); it != unit_active_.end())
        for (uint64_t other : it->second)
          if (other != inc->id) next = other;
      if (next) {
        const Assignment* o = incidents_.at(next).assignment_of(r->unit);
        to = o->on_scene ? UnitStatus::on_scene : o->en_route ? UnitStatus::en_route : UnitStatus::assigned;
      }
    }
    if (u->fields.status != to) status_event(*u, to, next, now, out);
    return out;
  }

  if (auto* cl = std::get_if<cmd::Close>(&c)) {
    const Incident* inc = incident(cl->incident);
    if (!inc) return fail(Errc::not_found, "no incident " + std::to_string(cl->incident));
    if (inc->status == IncidentStatus::closed) return fail(Errc::conflict, "incident is already closed");
    // Clear every unit still deployed, as the dispatcher would one by one.
    for (const auto& as : inc->assignments) {
      if (!as.active()) continue;
      auto sub = decide(cmd::Report{inc->id, as.unit, Stage::cleared}, now, live);
      if (!sub) return sub;
      for (auto& e : *sub) out.push_back(std::move(e));
    }
    out.push_back({now, ev::IncidentClosed{inc->id}});
    for (int k = 0; k < 2; ++k)
      if (auto it = incident_alert_[k].find(inc->id); it != incident_alert_[k].end())
        out.push_back({now, ev::AlertEnded{it->second, false}});
    return out;
  }

  if (auto* st = std::get_if<cmd::SetStatus>(&c)) {
    auto u = unit_of(st->unit);
    if (!u) return fail(Errc::not_found, "no such unit");
    if (u->fields.status == st->status) return out;
    const uint64_t deployed = unit_incident(st->unit);
    const bool dispatch_status =
        st->status == UnitStatus::assigned || st->status == UnitStatus::en_route || st->status == UnitStatus::on_scene;
    if (dispatch_status && !deployed)
      return fail(Errc::conflict,
                  "status " + std::string(unit_status_name(st->status)) + " needs an incident: assign the unit to one");
    if (deployed && !dispatch_status)
      return fail(Errc::conflict, "unit " + u->id + " is deployed to incident " + std::to_string(deployed) +
                                      "; clear it from the incident first");
    if (deployed && dispatch_status) {  // the same as reporting the stage
      if (st->status == UnitStatus::assigned) return fail(Errc::conflict, "a deployed unit cannot go back to assigned");
      return decide(
          cmd::Report{deployed, st->unit, st->status == UnitStatus::en_route ? Stage::en_route : Stage::on_scene}, now,
          live);
    }
    status_event(*u, st->status, 0, now, out);
    return out;
  }

  if (auto* p = std::get_if<cmd::Position>(&c)) {
    decide_position(*p, now, live, out);
    return out;
  }

  if (auto* em = std::get_if<cmd::Emergency>(&c)) {
    auto u = unit_of(em->unit);
    if (!u) return fail(Errc::not_found, "no such unit");
    raise_emergency(em->unit, now, live, u->has_fix, u->last.lat, u->last.lon, u->last.xy, out);
    return out;
  }

  if (auto* ack = std::get_if<cmd::AckAlert>(&c)) {
    auto it = alerts_.find(ack->alert);
    if (it == alerts_.end()) return fail(Errc::not_found, "no alert " + std::to_string(ack->alert));
    if (!it->second.active) return fail(Errc::conflict, "alert is no longer active");
    out.push_back({now, ev::AlertEnded{ack->alert, true}});
    return out;
  }

  if (auto* fl = std::get_if<cmd::FlagLocation>(&c)) {
    FlaggedLocation l = fl->location;
    if (!(l.radius_m > 0 && l.radius_m <= kMaxLocationRadius_m))
      return fail(Errc::bad_request, "radius_m must be above 0 and at most 5000");
    l.id = next_location_;
    l.created = now;
    out.push_back({now, ev::LocationFlagged{std::move(l)}});
    return out;
  }

  if (auto* g = std::get_if<cmd::PatrolGaps>(&c)) {
    decide_patrol_gaps(*g, now, out);
    return out;
  }

  decide_tick(std::get<cmd::Tick>(c), now, live, out);
  return out;
}

// One alert per overdue hot spot; it ends when the spot is visited (no
// longer overdue). An acknowledged spot is not raised again in the same
// shift until somebody has been there after the acknowledgement.
void Engine::decide_patrol_gaps(const cmd::PatrolGaps& g, EpochMs now, std::vector<Event>& out) const {
  uint64_t next_alert = next_alert_;
  std::unordered_map<std::string_view, const cmd::PatrolGaps::Area*> overdue;
  for (const auto& a : g.overdue) overdue.emplace(a.id, &a);
  for (const auto& [area, alert] : area_gap_alert_)
    if (!overdue.contains(area)) out.push_back({now, ev::AlertEnded{alert, false}});
  for (const auto& a : g.overdue) {
    if (area_gap_alert_.contains(a.id)) continue;
    if (auto it = area_gap_acked_.find(a.id);
        it != area_gap_acked_.end() && it->second >= g.shift_start && a.last_visit_end <= it->second)
      continue;
    Alert al;
    al.id = next_alert++;
    al.kind = AlertKind::patrol_gap;
    al.t = now;
    al.has_position = true;
    al.lat = a.lat;
    al.lon = a.lon;
    al.area = a.id;
    al.area_name = a.name;
    al.unvisited_s = a.unvisited_s;
    al.max_gap_minutes = a.max_gap_minutes;
    out.push_back({now, ev::AlertRaised{std::move(al)}});
  }
}

void Engine::decide_position(const cmd::Position& p, EpochMs now, const LiveState& live,
                             std::vector<Event>& out) const {
  if (p.unit == kNoIndex) return;
  if (p.emergency && !unit_emergency_.contains(p.unit))
    raise_emergency(p.unit, now, live, true, p.lat, p.lon, p.xy, out);
  const double r = cfg_.arrival_radius_m;
  auto active = unit_active_.find(p.unit);
  if (active != unit_active_.end() && !active->second.empty()) {
    // Deployed: arriving at one of its incidents puts it on scene.
    for (uint64_t id : active->second) {
      const Incident& inc = incidents_.at(id);
      const Assignment* as = inc.assignment_of(p.unit);
      if (as && !as->on_scene && as->assigned <= p.t && planar(inc.spec.xy, p.xy) <= r) {
        auto u = live.unit(p.unit);
        if (!u) return;
        out.push_back({p.t, ev::StageReached{id, p.unit, u->id, Stage::on_scene, true}});
        status_event(*u, UnitStatus::on_scene, id, p.t, out);
        return;
      }
    }
    return;  // busy elsewhere: passing an incident on the way is not attending it
  }
  // Not deployed: arriving at an open incident is a self-deployment.
  uint64_t best = 0;
  double best_d = r;
  cells_around(p.xy, r, std::max(r, 1.0), [&](CellKey key) {
    auto it = open_cells_.find(key);
    if (it == open_cells_.end()) return;
    for (uint64_t id : it->second) {
      const Incident& inc = incidents_.at(id);
      if (inc.created > p.t) continue;  // a fix from before the call
      bool attended = false;            // cleared from it earlier: not a new arrival
      for (const auto& as : inc.assignments) attended = attended || as.unit == p.unit;
      if (attended) continue;
      double d = planar(inc.spec.xy, p.xy);
      if (d <= best_d && (!best || d < best_d || id < best)) {
        best = id;
        best_d = d;
      }
    }
  });
  if (!best) return;
  auto u = live.unit(p.unit);
  if (!u || u->fields.status == UnitStatus::off_duty) return;
  out.push_back({p.t, ev::SelfDeployed{best, p.unit, u->id}});
  status_event(*u, UnitStatus::on_scene, best, p.t, out);
}

void Engine::raise_emergency(uint32_t unit, EpochMs now, const LiveState& live, bool has_pos, double lat, double lon,
                             geo::XY xy, std::vector<Event>& out) const {
  if (unit_emergency_.contains(unit)) return;  // one active alert per officer; repeats add nothing
  auto u = live.unit(unit);
  Alert a;
  a.id = next_alert_;
  a.kind = AlertKind::officer_emergency;
  a.t = now;
  a.unit = unit;
  a.unit_id = u ? u->id : std::string();
  a.has_position = has_pos;
  if (has_pos) {
    a.lat = lat;
    a.lon = lon;
    a.nearest = nearest_available(lat, lon, xy, cfg_.emergency_k, now, live, unit);
  }
  out.push_back({now, ev::AlertRaised{std::move(a)}});
}

void Engine::decide_tick(const cmd::Tick& t, EpochMs now, const LiveState& live, std::vector<Event>& out) const {
  uint64_t next_alert = next_alert_;
  auto incident_alert = [&](AlertKind kind, const Incident& inc) {
    Alert a;
    a.id = next_alert++;
    a.kind = kind;
    a.t = now;
    a.incident = inc.id;
    a.has_position = true;
    a.lat = inc.spec.lat;
    a.lon = inc.spec.lon;
    return a;
  };
  const std::set<uint64_t> one = {t.only};
  for (uint64_t id : t.only ? one : open_) {
    if (!open_.contains(id)) continue;
    const Incident& inc = incidents_.at(id);
    if (inc.first_on_scene) {  // someone is there: the prediction is moot
      if (auto it = incident_alert_[0].find(id); it != incident_alert_[0].end())
        out.push_back({now, ev::AlertEnded{it->second, false}});
      continue;
    }
    if (!inc.deadline) continue;
    if (!inc.breached && now > inc.deadline) {
      out.push_back({now, ev::AlertRaised{incident_alert(AlertKind::breach, inc)}});
      continue;
    }
    if (inc.breach_predicted || inc.breached) continue;
    // Best ETA: a deployed unit on its way, or the best eligible one.
    double best = std::numeric_limits<double>::infinity();
    for (const auto& as : inc.assignments) {
      if (!as.active()) continue;
      auto u = live.unit(as.unit);
      if (!u || !u->has_fix) continue;
      best = std::min(best, geo::geodesic_distance_m({u->last.lon, u->last.lat}, {inc.spec.lon, inc.spec.lat}) /
                                cfg_.straight_line_speed_mps);
    }
    auto rec = recommend(inc, 1, now, live);
    if (!rec.empty()) best = std::min(best, rec.front().eta_s);
    const double left = static_cast<double>(inc.deadline - now) / 1000.0;
    if (best > left) {
      Alert a = incident_alert(AlertKind::predicted_breach, inc);
      a.eta_s = best;
      a.time_left_s = left;
      out.push_back({now, ev::AlertRaised{std::move(a)}});
    }
  }
}

Expected<std::vector<Event>, Error> Engine::run(const Command& c, EpochMs now, const LiveState& live) {
  auto r = decide(c, now, live);
  if (r)
    for (const auto& e : *r) fold(e);
  return r;
}

// ---- fold -----------------------------------------------------------------------

void Engine::index_open(const Incident& inc, bool add) {
  const double cell = std::max(cfg_.arrival_radius_m, 1.0);
  CellKey key = cell_key(static_cast<int64_t>(std::floor(inc.spec.xy.x / cell)),
                         static_cast<int64_t>(std::floor(inc.spec.xy.y / cell)));
  auto& v = open_cells_[key];
  if (add) {
    v.push_back(inc.id);
    open_.insert(inc.id);
  } else {
    open_.erase(inc.id);
    std::erase(v, inc.id);
    if (v.empty()) open_cells_.erase(key);
  }
}

void Engine::refresh_status(Incident& inc) {
  if (inc.closed) {
    inc.status = IncidentStatus::closed;
    return;
  }
  bool any = false, on_scene = false;
  for (const auto& as : inc.assignments) {
    if (!as.active()) continue;
    any = true;
    on_scene = on_scene || as.on_scene;
  }
  inc.status = on_scene ? IncidentStatus::on_scene : any ? IncidentStatus::assigned : IncidentStatus::open;
}

void Engine::fold(const Event& e) {
  auto add_active = [&](uint32_t unit, uint64_t id) {
    auto& v = unit_active_[unit];
    if (std::find(v.begin(), v.end(), id) == v.end()) v.push_back(id);
  };
  auto drop_active = [&](uint32_t unit, uint64_t id) {
    auto it = unit_active_.find(unit);
    if (it == unit_active_.end()) return;
    std::erase(it->second, id);
    if (it->second.empty()) unit_active_.erase(it);
  };
  auto on_scene_now = [&](Incident& inc, EpochMs t) {
    if (!inc.first_on_scene || t < inc.first_on_scene) inc.first_on_scene = t;
    if (inc.deadline && inc.first_on_scene > inc.deadline) inc.breached = true;
  };
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ev::IncidentCreated>) {
          Incident inc = b.incident;
          next_incident_ = std::max(next_incident_, inc.id + 1);
          const double r = std::max(cfg_.repeat_radius_m, 1.0);
          repeat_cells_[cell_key(static_cast<int64_t>(std::floor(inc.spec.xy.x / r)),
                                 static_cast<int64_t>(std::floor(inc.spec.xy.y / r)))]
              .push_back(inc.id);
          if (!inc.spec.caller_ref.empty()) by_caller_[inc.spec.caller_ref].push_back(inc.id);
          refresh_status(inc);
          auto& stored = incidents_[inc.id] = std::move(inc);
          if (stored.status != IncidentStatus::closed) index_open(stored, true);
        } else if constexpr (std::is_same_v<T, ev::UnitAssigned>) {
          Incident* inc = incident_mut(b.incident);
          if (!inc) return;
          Assignment as;
          as.unit = b.unit;
          as.unit_id = b.unit_id;
          as.assigned = e.t;
          as.forced = b.forced;
          inc->assignments.push_back(std::move(as));
          add_active(b.unit, b.incident);
          refresh_status(*inc);
        } else if constexpr (std::is_same_v<T, ev::StageReached>) {
          Incident* inc = incident_mut(b.incident);
          if (!inc) return;
          for (auto it = inc->assignments.rbegin(); it != inc->assignments.rend(); ++it) {
            if (it->unit != b.unit || !it->active()) continue;
            if (b.stage == Stage::en_route) it->en_route = e.t;
            if (b.stage == Stage::on_scene) {
              it->on_scene = e.t;
              it->auto_on_scene = b.automatic;
              on_scene_now(*inc, e.t);
            }
            if (b.stage == Stage::cleared) {
              it->cleared = e.t;
              drop_active(b.unit, b.incident);
            }
            break;
          }
          refresh_status(*inc);
        } else if constexpr (std::is_same_v<T, ev::SelfDeployed>) {
          Incident* inc = incident_mut(b.incident);
          if (!inc) return;
          Assignment as;
          as.unit = b.unit;
          as.unit_id = b.unit_id;
          as.assigned = e.t;
          as.on_scene = e.t;
          as.self_deployed = true;
          as.auto_on_scene = true;
          inc->assignments.push_back(std::move(as));
          on_scene_now(*inc, e.t);
          add_active(b.unit, b.incident);
          refresh_status(*inc);
        } else if constexpr (std::is_same_v<T, ev::IncidentClosed>) {
          Incident* inc = incident_mut(b.incident);
          if (!inc || inc->closed) return;
          inc->closed = e.t;
          for (auto& as : inc->assignments)
            if (as.active()) {
              as.cleared = e.t;
              drop_active(as.unit, inc->id);
            }
          index_open(*inc, false);
          refresh_status(*inc);
        } else if constexpr (std::is_same_v<T, ev::UnitStatusChanged>) {
          // Statuses live in the registry (LiveState); the caller applies them.
        } else if constexpr (std::is_same_v<T, ev::AlertRaised>) {
          const Alert& a = b.alert;
          next_alert_ = std::max(next_alert_, a.id + 1);
          alerts_[a.id] = a;
          if (a.kind == AlertKind::officer_emergency) unit_emergency_[a.unit] = a.id;
          if (a.kind == AlertKind::patrol_gap) area_gap_alert_[a.area] = a.id;
          if (Incident* inc = a.incident ? incident_mut(a.incident) : nullptr) {
            if (a.kind == AlertKind::predicted_breach) inc->breach_predicted = true;
            if (a.kind == AlertKind::breach) inc->breached = true;
            incident_alert_[a.kind == AlertKind::breach ? 1 : 0][a.incident] = a.id;
          }
        } else if constexpr (std::is_same_v<T, ev::AlertEnded>) {
          auto it = alerts_.find(b.alert);
          if (it == alerts_.end()) return;
          Alert& a = it->second;
          a.active = false;
          if (b.acknowledged) a.acknowledged = e.t;
          if (a.kind == AlertKind::officer_emergency) unit_emergency_.erase(a.unit);
          if (a.kind == AlertKind::patrol_gap) {
            area_gap_alert_.erase(a.area);
            if (b.acknowledged) area_gap_acked_[a.area] = e.t;
          }
          if (a.incident) incident_alert_[a.kind == AlertKind::breach ? 1 : 0].erase(a.incident);
        } else if constexpr (std::is_same_v<T, ev::LocationFlagged>) {
          const FlaggedLocation& l = b.location;
          next_location_ = std::max(next_location_, l.id + 1);
          locations_[l.id] = l;
          cells_around(l.xy, l.radius_m, kLocationCell_m, [&](CellKey key) { location_cells_[key].push_back(l.id); });
        }
      },
      e.body);
}

}  // namespace pm::dispatch
