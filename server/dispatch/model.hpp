#pragma once
// The dispatch domain (SPEC sections 2 and 4): incidents, assignments,
// flagged locations and alerts, as plain data. The engine (engine.hpp) is
// the only code that changes them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "geo/types.hpp"
#include "server/core/clock.hpp"
#include "server/state/live_state.hpp"

namespace pm::dispatch {

struct DispatchConfig {
  int64_t stale_after_s = 300;          // eligible units have a fix at most this old
  double straight_line_speed_mps = 11;  // ETA without a road network
  double arrival_radius_m = 75;         // auto on-scene and self-deployment
  double repeat_radius_m = 50;          // repeat-location flag
  int64_t repeat_window_days = 365;
  int64_t grade1_urban_s = 15 * 60;
  int64_t grade1_rural_s = 20 * 60;
  int64_t grade2_s = 60 * 60;
  size_t default_k = 5;
  size_t emergency_k = 5;  // nearest available units sent with an officer emergency
};

enum class IncidentStatus : uint8_t { open, assigned, on_scene, closed };
std::string_view incident_status_name(IncidentStatus s);
std::optional<IncidentStatus> parse_incident_status(std::string_view s);

enum class Stage : uint8_t { en_route, on_scene, cleared };
std::string_view stage_name(Stage s);
std::optional<Stage> parse_stage(std::string_view s);

struct Assignment {
  uint32_t unit = kNoIndex;
  std::string unit_id;
  EpochMs assigned = 0;  // 0: not reached
  EpochMs en_route = 0;
  EpochMs on_scene = 0;
  EpochMs cleared = 0;
  bool forced = false;         // the unit was not available: a multiple deployment
  bool self_deployed = false;  // arrived without being assigned
  bool auto_on_scene = false;  // on_scene came from its pings
  bool active() const { return cleared == 0; }
};

struct Flags {
  std::vector<uint64_t> repeat_location;  // earlier incidents within repeat_radius_m in the window
  std::vector<uint64_t> repeat_caller;    // earlier incidents with the same caller_ref in the window
  std::vector<uint64_t> locations;        // flagged locations covering the point
  bool any() const { return !repeat_location.empty() || !repeat_caller.empty() || !locations.empty(); }
};

struct IncidentSpec {
  int grade = 1;
  std::string type;
  double lat = 0, lon = 0;
  geo::XY xy;  // projected by the caller (the engine stays free of PROJ)
  std::string address;
  std::string caller_ref;
  std::vector<std::string> required_skills;
  EpochMs appointment_from = 0, appointment_to = 0;  // grade 3 window; 0 = none
  bool urban = true;                                 // from the areas at the point; decides the grade-1 target
};

struct Incident {
  uint64_t id = 0;
  IncidentSpec spec;
  EpochMs created = 0;
  EpochMs deadline = 0;  // response target; 0 = none (grade 3 without a window)
  IncidentStatus status = IncidentStatus::open;
  std::vector<Assignment> assignments;
  EpochMs first_on_scene = 0;
  EpochMs closed = 0;
  bool breach_predicted = false;
  bool breached = false;
  Flags flags;
  // Response time in ms (first on-scene - creation), or nullopt.
  std::optional<int64_t> response_ms() const {
    return first_on_scene ? std::optional<int64_t>(first_on_scene - created) : std::nullopt;
  }
  const Assignment* assignment_of(uint32_t unit) const {
    for (auto it = assignments.rbegin(); it != assignments.rend(); ++it)
      if (it->unit == unit && it->active()) return &*it;
    return nullptr;
  }
};

struct FlaggedLocation {
  uint64_t id = 0;
  double lat = 0, lon = 0;
  geo::XY xy;
  double radius_m = 0;
  std::vector<std::string> flags;  // vulnerable, hazard, ...
  std::string note;
  EpochMs created = 0;
};

enum class AlertKind : uint8_t { officer_emergency, predicted_breach, breach, patrol_gap };
std::string_view alert_kind_name(AlertKind k);

// A unit offered for an incident or an emergency.
struct Recommendation {
  uint32_t unit = kNoIndex;
  std::string unit_id;
  double distance_m = 0;
  double eta_s = 0;
  bool road = false;  // method: road or straight_line
  double fix_age_s = 0;
  std::vector<std::string> skills;
};

struct Alert {
  uint64_t id = 0;
  AlertKind kind = AlertKind::officer_emergency;
  EpochMs t = 0;
  uint64_t incident = 0;     // predicted_breach, breach
  uint32_t unit = kNoIndex;  // officer_emergency
  std::string unit_id;
  bool has_position = false;
  double lat = 0, lon = 0;
  double eta_s = 0;                     // predicted_breach: the best ETA
  double time_left_s = 0;               // predicted_breach
  std::vector<Recommendation> nearest;  // officer_emergency: nearest available units
  bool active = true;
  EpochMs acknowledged = 0;
  // patrol_gap: the hot spot unvisited for longer than its max gap (SPEC 5).
  std::string area, area_name;
  double unvisited_s = 0;
  double max_gap_minutes = 0;
};

}  // namespace pm::dispatch
