#include "server/reports/reports.hpp"

#include <algorithm>
#include <cmath>

namespace pm::reports {

double median_sorted(std::span<const double> v) {
  if (v.empty()) return 0;
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile_sorted(std::span<const double> v, double p) {
  if (v.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

std::vector<GradeResponse> response_times(std::span<const dispatch::Incident* const> incidents, EpochMs from,
                                          EpochMs to, EpochMs now) {
  std::vector<GradeResponse> out(3);
  std::vector<std::vector<double>> times(3);
  for (int g = 0; g < 3; ++g) out[g].grade = g + 1;
  for (const dispatch::Incident* inc : incidents) {
    if (inc->created < from || inc->created >= to || inc->spec.grade < 1 || inc->spec.grade > 3) continue;
    const int g = inc->spec.grade - 1;
    GradeResponse& r = out[g];
    ++r.incidents;
    Breach b{inc->id, inc->spec.grade, inc->created, inc->deadline, 0, false, 0};
    if (inc->first_on_scene) {
      ++r.attended;
      const double s = static_cast<double>(inc->first_on_scene - inc->created) / 1000.0;
      times[g].push_back(s);
      if (!inc->deadline) continue;
      ++r.judged;
      if (inc->first_on_scene <= inc->deadline) {
        ++r.met;
        continue;
      }
      b.arrived = inc->first_on_scene;
      b.seconds = s;
      r.breaches.push_back(b);
      continue;
    }
    // Nobody arrived: a breach once the target passed while it was open.
    const EpochMs until = inc->closed ? inc->closed : now;
    if (inc->deadline && until > inc->deadline) {
      ++r.judged;
      b.closed = inc->closed != 0;
      b.seconds = static_cast<double>(until - inc->created) / 1000.0;
      r.breaches.push_back(b);
    } else if (inc->closed) {
      ++r.cancelled;
    } else {
      ++r.pending;
    }
  }
  for (int g = 0; g < 3; ++g) {
    auto& t = times[g];
    std::sort(t.begin(), t.end());
    if (!t.empty()) {
      out[g].median_s = median_sorted(t);
      out[g].p90_s = percentile_sorted(t, 90);
    }
    if (out[g].judged) out[g].share_within_target = static_cast<double>(out[g].met) / static_cast<double>(out[g].judged);
    std::sort(out[g].breaches.begin(), out[g].breaches.end(), [](const Breach& a, const Breach& b) {
      return a.created != b.created ? a.created < b.created : a.incident < b.incident;
    });
  }
  return out;
}

std::string_view how_name(How h) {
  switch (h) {
    case How::forced: return "forced";
    case How::self: return "self";
    default: return "dispatched";
  }
}

std::vector<ShiftDeployments> deployments(std::span<const dispatch::Incident* const> incidents,
                                          std::span<const Shift> shifts, EpochMs from, EpochMs to) {
  std::vector<ShiftDeployments> out(shifts.size());
  for (size_t i = 0; i < shifts.size(); ++i) out[i].shift = shifts[i];
  std::vector<const dispatch::Incident*> sorted(incidents.begin(), incidents.end());
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
    return a->created != b->created ? a->created < b->created : a->id < b->id;
  });
  for (const dispatch::Incident* inc : sorted) {
    if (inc->created < from || inc->created >= to) continue;
    auto it = std::upper_bound(shifts.begin(), shifts.end(), inc->created,
                               [](EpochMs t, const Shift& s) { return t < s.start_ms; });
    if (it == shifts.begin()) continue;
    --it;
    if (inc->created >= it->end_ms) continue;
    ShiftDeployments& s = out[static_cast<size_t>(it - shifts.begin())];
    ++s.incidents;
    IncidentDeployments d{inc->id, inc->spec.grade, inc->created, {}};
    std::vector<std::string_view> distinct;
    bool notable = false;
    for (const auto& as : inc->assignments) {
      const How how = as.self_deployed ? How::self : as.forced ? How::forced : How::dispatched;
      d.units.push_back({as.unit_id, as.assigned, how});
      ++s.deployments;
      if (how == How::forced) ++s.forced;
      if (how == How::self) ++s.self_deployed;
      notable = notable || how != How::dispatched;
      if (std::find(distinct.begin(), distinct.end(), as.unit_id) == distinct.end()) distinct.push_back(as.unit_id);
    }
    if (distinct.size() > 1) ++s.multi_unit;
    if (notable || distinct.size() > 1) s.notable.push_back(std::move(d));
  }
  return out;
}

TrackSummary summarise_track(std::span<const TrackPoint> pts, const StopRules& rules) {
  TrackSummary s;
  s.fixes = pts.size();
  const TrackAnalysis a = analyse_track(pts, rules);
  s.stops = a.stops.size();
  for (const auto& t : a.trips) {
    s.distance_m += t.distance_m;
    s.moving_ms += t.end - t.start;
  }
  return s;
}

bool on_duty(std::span<const DutySpan> rota, std::string_view unit, EpochMs from, EpochMs to) {
  return std::any_of(rota.begin(), rota.end(),
                     [&](const DutySpan& d) { return d.unit == unit && d.start < to && d.end > from; });
}

std::optional<MileageRow> mileage_row(std::string unit, const Shift& shift, std::span<const TrackPoint> pts,
                                      bool on_rota, const StopRules& rules, double barely_used_km) {
  if (pts.empty() && !on_rota) return std::nullopt;
  MileageRow r{std::move(unit), shift, summarise_track(pts, rules), on_rota, false};
  r.barely_used = r.track.distance_m < barely_used_km * 1000.0;
  return r;
}

void add_hours(std::vector<UnitHour>& out, uint32_t unit, EpochMs start, EpochMs end, EpochMs from, EpochMs to) {
  start = std::max(start, from);
  end = std::min(end, to);
  if (end <= start) return;
  for (int64_t h = hour_of(start); h <= hour_of(end - 1); ++h) out.push_back({h, unit});
}

Demand demand(std::span<const std::pair<EpochMs, int>> created, std::vector<UnitHour> unit_hours, const PosixTz& tz,
              EpochMs from, EpochMs to) {
  Demand d;
  if (to <= from) return d;
  constexpr int64_t kDayMs = 24 * kHourMs;
  auto cell_of = [&](int64_t hour) -> size_t {
    const int64_t start = hour * kHourMs;
    const int64_t local = start + tz.offset_ms(start);
    const int64_t day = local >= 0 ? local / kDayMs : -((-local + kDayMs - 1) / kDayMs);
    const auto weekday = static_cast<size_t>(((day + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
    const auto hour_of_day = static_cast<size_t>((local - day * kDayMs) / kHourMs);
    return weekday * 24 + hour_of_day;
  };
  const int64_t first = hour_of(from), last = hour_of(to - 1);
  for (int64_t h = first; h <= last; ++h) ++d.week[cell_of(h)].slots;
  for (auto [t, grade] : created) {
    if (t < from || t >= to || (grade != 1 && grade != 2)) continue;
    HourCell& c = d.week[cell_of(hour_of(t))];
    ++(grade == 1 ? c.grade1 : c.grade2);
  }
  std::sort(unit_hours.begin(), unit_hours.end());
  unit_hours.erase(std::unique(unit_hours.begin(), unit_hours.end()), unit_hours.end());
  for (const auto& uh : unit_hours)
    if (uh.hour >= first && uh.hour <= last) ++d.week[cell_of(uh.hour)].unit_hours;
  for (size_t day = 0; day < 7; ++day)
    for (size_t h = 0; h < 24; ++h) {
      const HourCell& c = d.week[day * 24 + h];
      HourCell& p = day >= 5 ? d.fri_sat[h] : d.sun_thu[h];
      p.slots += c.slots;
      p.grade1 += c.grade1;
      p.grade2 += c.grade2;
      p.unit_hours += c.unit_hours;
    }
  return d;
}

}  // namespace pm::reports
