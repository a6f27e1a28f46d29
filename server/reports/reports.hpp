#pragma once
// Management reports (SPEC 7, issue 7; exact rules in docs/api.md "Management
// reports"), pure: incidents as the dispatch engine folded them, tracks as
// TrackQuery read them, shifts and local time from server/core/shifts. No
// store, no clock: `now` is a parameter. server/reports/report_store.* feeds
// these from the store on a StoreReader worker.
//
//   auto r = response_times(incidents, from, to, now);        // per grade 1, 2, 3
//   auto d = deployments(incidents, calendar.between(from, to), from, to);
//   auto s = summarise_track(points, StopRules{});           // one unit, one shift
//   auto m = demand(created, unit_hours, tz, from, to);        // hours of week
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "server/core/shifts.hpp"
#include "server/dispatch/model.hpp"
#include "server/replay/track_analysis.hpp"

namespace pm::reports {

// Median of sorted values: the middle one, or the mean of the two middle ones.
double median_sorted(std::span<const double> sorted);
// Nearest-rank percentile of sorted values: the value at 1-based rank ceil(p/100 * n).
double percentile_sorted(std::span<const double> sorted, double p);

// ------------------------------------------------------------ response times

struct Breach {
  uint64_t incident = 0;
  int grade = 0;
  EpochMs created = 0, deadline = 0;
  EpochMs arrived = 0;    // 0: nobody arrived
  bool closed = false;    // closed without anyone arriving
  double seconds = 0;     // response, or (closed or now) - created when nobody arrived
};

struct GradeResponse {
  int grade = 0;
  size_t incidents = 0;  // created in the window
  size_t attended = 0;   // a unit arrived (the response times below)
  size_t cancelled = 0;  // closed with nobody arriving, before its target passed (or with none)
  size_t pending = 0;    // open, nobody arrived, target not passed (or none)
  size_t met = 0;        // arrived by the target
  size_t judged = 0;     // met + breaches: the denominator of share_within_target
  std::optional<double> median_s, p90_s;
  std::optional<double> share_within_target;
  std::vector<Breach> breaches;  // by creation time
};

// Incidents created in [from, to), as of `now`. Always three rows, grades 1-3.
std::vector<GradeResponse> response_times(std::span<const dispatch::Incident* const> incidents, EpochMs from,
                                          EpochMs to, EpochMs now);

// --------------------------------------------------------------- deployments

enum class How : uint8_t { dispatched, forced, self };
std::string_view how_name(How h);

struct Deployment {
  std::string unit;
  EpochMs at = 0;  // assigned, or arrival for a self-deployment
  How how = How::dispatched;
};

struct IncidentDeployments {
  uint64_t incident = 0;
  int grade = 0;
  EpochMs created = 0;
  std::vector<Deployment> units;  // in deployment order
};

struct ShiftDeployments {
  Shift shift;
  size_t incidents = 0;         // created in this shift and the window
  size_t deployments = 0;       // units sent or self-deployed to them
  size_t multi_unit = 0;        // incidents with more than one distinct unit
  size_t forced = 0;            // deployments of a unit that was not available (SPEC 4)
  size_t self_deployed = 0;     // deployments by arriving unassigned (SPEC 4)
  // Incidents with more than one distinct unit, a forced or a self deployment.
  std::vector<IncidentDeployments> notable;
};

// One row per shift in `shifts` (in order); incidents created in [from, to)
// go to the shift they were created in.
std::vector<ShiftDeployments> deployments(std::span<const dispatch::Incident* const> incidents,
                                          std::span<const Shift> shifts, EpochMs from, EpochMs to);

// ------------------------------------------------------------------- mileage

struct TrackSummary {
  size_t fixes = 0;
  size_t stops = 0;
  double distance_m = 0;  // sum of trip distances (stops add nothing)
  int64_t moving_ms = 0;  // sum of trip durations
};
TrackSummary summarise_track(std::span<const TrackPoint> pts, const StopRules& rules);

struct MileageRow {
  std::string unit;
  Shift shift;
  TrackSummary track;
  bool on_rota = false;
  bool barely_used = false;  // km below the threshold
};

// Rota rows, reduced to what the reports need.
struct DutySpan {
  std::string unit;
  EpochMs start = 0, end = 0;  // [start, end)
};
bool on_duty(std::span<const DutySpan> rota, std::string_view unit, EpochMs from, EpochMs to);

// A row for a unit's shift when it has fixes in it or the rota has it on duty
// for part of it; nullopt otherwise.
std::optional<MileageRow> mileage_row(std::string unit, const Shift& shift, std::span<const TrackPoint> pts,
                                      bool on_rota, const StopRules& rules, double barely_used_km);

// -------------------------------------------------------------------- demand

struct UnitHour {
  int64_t hour = 0;  // UTC hour index: floor(t / 3,600,000)
  uint32_t unit = 0;
  auto operator<=>(const UnitHour&) const = default;
};

struct HourCell {
  int slots = 0;  // clock hours of this kind overlapping the window
  int grade1 = 0, grade2 = 0;
  int64_t unit_hours = 0;  // sum over those slots of the units on duty
  int incidents() const { return grade1 + grade2; }
  double incidents_per_slot() const { return slots ? incidents() / static_cast<double>(slots) : 0; }
  double units_per_slot() const { return slots ? static_cast<double>(unit_hours) / slots : 0; }
};

struct Demand {
  std::array<HourCell, 168> week{};  // [day * 24 + hour], day 0 = Sunday, local time
  std::array<HourCell, 24> sun_thu{}, fri_sat{};
};

// `created`: (creation time, grade) of incidents; grades other than 1 and 2
// and times outside [from, to) are ignored. `unit_hours`: units on duty by UTC
// hour (duplicates allowed). A slot is a UTC clock hour overlapping [from, to),
// filed under the local day and hour its start falls in.
Demand demand(std::span<const std::pair<EpochMs, int>> created, std::vector<UnitHour> unit_hours,
              const PosixTz& tz, EpochMs from, EpochMs to);
// Adds the UTC hours overlapping [start, end) within [from, to).
void add_hours(std::vector<UnitHour>& out, uint32_t unit, EpochMs start, EpochMs end, EpochMs from, EpochMs to);

constexpr int64_t kHourMs = 3'600'000;
// Floor division for hours before 1970 too.
constexpr int64_t hour_of(EpochMs t) { return t >= 0 ? t / kHourMs : -((-t + kHourMs - 1) / kHourMs); }

}  // namespace pm::reports
