#pragma once
// The dispatch engine (SPEC section 4): every dispatch state change is a
// command decided by pure code into events, and events are the only thing
// that changes the state. The HTTP layer, ingest (auto arrival from pings),
// the grade-clock tick and tests all drive it the same way; the service
// stores the events, so folding a day's events rebuilds the same state.
//
//   Engine engine(cfg);
//   auto r = engine.decide(cmd::Assign{incident, unit, false}, now, live);
//   if (!r) answer r.error();              // 404 / 409 with a stable code
//   store(*r); for (auto& e : *r) engine.fold(e);
//
// The engine never writes unit statuses itself: UnitStatusChanged events say
// what the caller applies to LiveState (the registry owns statuses). It reads
// units (status, skills, freshest fix) from a LiveState, which tests build in
// memory as the daemon does.
#include <functional>
#include <map>
#include <set>
#include <span>
#include <unordered_map>
#include <variant>

#include "geo/expected.hpp"
#include "server/core/errors.hpp"
#include "server/dispatch/model.hpp"

namespace pm::dispatch {

// The seam for drive-time ETAs (the road graph of the simulator issue):
// drive time in seconds from each unit position to `to`, NaN where a unit is
// not on the network. One backward search from the incident answers all.
class RoadEta {
 public:
  virtual ~RoadEta() = default;
  virtual void drive_times(geo::XY to, std::span<const geo::XY> from, std::span<double> out_s) const = 0;
};

namespace cmd {
struct CreateIncident {
  IncidentSpec spec;
};
struct Assign {
  uint64_t incident = 0;
  uint32_t unit = kNoIndex;
  bool force = false;
};
struct Report {
  uint64_t incident = 0;
  uint32_t unit = kNoIndex;
  Stage stage = Stage::en_route;
};  // dispatcher or device
struct Close {
  uint64_t incident = 0;
};
struct SetStatus {
  uint32_t unit = kNoIndex;
  UnitStatus status = UnitStatus::available;
};
// A unit's accepted fix (auto on-scene, self-deployment, emergency flag).
struct Position {
  uint32_t unit = kNoIndex;
  EpochMs t = 0;
  double lat = 0, lon = 0;
  geo::XY xy;
  bool emergency = false;
};
// An officer emergency without a usable fix (LIP reason 2 at 0,0) or from the API.
struct Emergency {
  uint32_t unit = kNoIndex;
};
struct AckAlert {
  uint64_t alert = 0;
};
struct FlagLocation {
  FlaggedLocation location;
};
struct Tick {
  uint64_t only = 0;  // one incident (just created), or 0: every open incident
};                    // grade clock: predicted breaches and breaches
// Hot spots overdue for a visit now (the whole set; from patrol coverage).
struct PatrolGaps {
  struct Area {
    std::string id, name;
    double lat = 0, lon = 0;
    double unvisited_s = 0;
    double max_gap_minutes = 0;
    EpochMs last_visit_end = 0;  // 0: nobody this shift
  };
  std::vector<Area> overdue;
  EpochMs shift_start = 0;
};
}  // namespace cmd
using Command = std::variant<cmd::CreateIncident, cmd::Assign, cmd::Report, cmd::Close, cmd::SetStatus, cmd::Position,
                             cmd::Emergency, cmd::AckAlert, cmd::FlagLocation, cmd::Tick, cmd::PatrolGaps>;

namespace ev {
struct IncidentCreated {
  Incident incident;
};
struct UnitAssigned {
  uint64_t incident = 0;
  uint32_t unit = kNoIndex;
  std::string unit_id;
  bool forced = false;
};
struct StageReached {
  uint64_t incident = 0;
  uint32_t unit = kNoIndex;
  std::string unit_id;
  Stage stage = Stage::en_route;
  bool automatic = false;  // from the unit's pings
};
struct SelfDeployed {
  uint64_t incident = 0;
  uint32_t unit = kNoIndex;
  std::string unit_id;
};
struct IncidentClosed {
  uint64_t incident = 0;
};
struct UnitStatusChanged {
  uint32_t unit = kNoIndex;
  std::string unit_id;
  UnitStatus from{}, to{};
  uint64_t incident = 0;
};
struct AlertRaised {
  Alert alert;
};
struct AlertEnded {
  uint64_t alert = 0;
  bool acknowledged = false;
};
struct LocationFlagged {
  FlaggedLocation location;
};
}  // namespace ev
using EventBody =
    std::variant<ev::IncidentCreated, ev::UnitAssigned, ev::StageReached, ev::SelfDeployed, ev::IncidentClosed,
                 ev::UnitStatusChanged, ev::AlertRaised, ev::AlertEnded, ev::LocationFlagged>;
struct Event {
  EpochMs t = 0;
  EventBody body;
};

class Engine {
 public:
  explicit Engine(DispatchConfig cfg) : cfg_(cfg) {}
  const DispatchConfig& config() const { return cfg_; }
  void set_road(const RoadEta* road) { road_ = road; }

  // Decides; changes nothing. Errors: not_found (incident, unit), conflict.
  Expected<std::vector<Event>, Error> decide(const Command& c, EpochMs now, const LiveState& live) const;
  // Applies one event (decided now or read back from the store).
  void fold(const Event& e);
  // decide + fold, for tests and replays that need no storage in between.
  Expected<std::vector<Event>, Error> run(const Command& c, EpochMs now, const LiveState& live);

  // Ranked eligible units for a point (SPEC section 4).
  std::vector<Recommendation> recommend(const Incident& inc, size_t k, EpochMs now, const LiveState& live) const;
  // Nearest available units with a fresh fix to a point, any skills.
  std::vector<Recommendation> nearest_available(double lat, double lon, geo::XY xy, size_t k, EpochMs now,
                                                const LiveState& live, uint32_t except = kNoIndex) const;

  const Incident* incident(uint64_t id) const;
  // Incidents, newest first; `status` filters; `open_only` = not closed.
  std::vector<const Incident*> incidents(std::optional<IncidentStatus> status, bool open_only) const;
  std::vector<const Alert*> alerts(bool active_only) const;
  const Alert* alert(uint64_t id) const {
    auto it = alerts_.find(id);
    return it == alerts_.end() ? nullptr : &it->second;
  }
  std::vector<const FlaggedLocation*> locations() const;
  // The incident a unit is deployed to (latest active assignment), or 0.
  uint64_t unit_incident(uint32_t unit) const;
  bool unit_emergency(uint32_t unit) const;
  uint64_t next_incident_id() const { return next_incident_; }

 private:
  using CellKey = int64_t;
  static CellKey cell_key(int64_t cx, int64_t cy) { return (cx << 32) ^ (cy & 0xffffffff); }
  template <class F>
  void cells_around(geo::XY p, double r, double cell, F&& f) const;

  Flags flags_for(const IncidentSpec& s, EpochMs now) const;
  EpochMs deadline_for(const IncidentSpec& s, EpochMs created) const;
  void decide_position(const cmd::Position& p, EpochMs now, const LiveState& live, std::vector<Event>& out) const;
  void decide_tick(const cmd::Tick& t, EpochMs now, const LiveState& live, std::vector<Event>& out) const;
  void decide_patrol_gaps(const cmd::PatrolGaps& g, EpochMs now, std::vector<Event>& out) const;
  void raise_emergency(uint32_t unit, EpochMs now, const LiveState& live, bool has_pos, double lat, double lon,
                       geo::XY xy, std::vector<Event>& out) const;
  void status_event(const UnitRecord& u, UnitStatus to, uint64_t incident, EpochMs now, std::vector<Event>& out) const;
  Incident* incident_mut(uint64_t id);
  void refresh_status(Incident& inc);
  void index_open(const Incident& inc, bool add);
  // One unit's straight-line recommendation for an incident.
  Recommendation recommendation(const UnitRecord& u, const Incident& inc, EpochMs now) const;

  DispatchConfig cfg_;
  const RoadEta* road_ = nullptr;
  std::map<uint64_t, Incident> incidents_;
  uint64_t next_incident_ = 1;
  std::map<uint64_t, Alert> alerts_;
  uint64_t next_alert_ = 1;
  std::map<uint64_t, FlaggedLocation> locations_;
  uint64_t next_location_ = 1;
  // Indexes (rebuilt by fold, never scanned in full on the hot path).
  std::unordered_map<uint32_t, std::vector<uint64_t>> unit_active_;   // unit -> incidents with an active assignment
  std::unordered_map<uint32_t, uint64_t> unit_emergency_;             // unit -> active emergency alert
  std::set<uint64_t> open_;                                           // incidents not closed
  std::unordered_map<CellKey, std::vector<uint64_t>> open_cells_;     // open incidents by arrival cell
  std::unordered_map<CellKey, std::vector<uint64_t>> repeat_cells_;   // every incident by repeat cell (time order)
  std::unordered_map<std::string, std::vector<uint64_t>> by_caller_;  // caller_ref -> incidents (time order)
  std::unordered_map<CellKey, std::vector<uint64_t>> location_cells_;
  std::unordered_map<uint64_t, uint64_t> incident_alert_[2];
  std::unordered_map<std::string, uint64_t> area_gap_alert_;  // hot spot -> active patrol_gap alert
  std::unordered_map<std::string, EpochMs> area_gap_acked_;   // hot spot -> when its last gap alert was acknowledged  // incident -> active predicted/breach alert
  static constexpr double kLocationCell_m = 250;
  static constexpr double kMaxLocationRadius_m = 5000;
};

}  // namespace pm::dispatch
