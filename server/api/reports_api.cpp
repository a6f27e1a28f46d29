// Management reports (SPEC 7, issue 7; docs/api.md "Management reports"):
// GET /api/v1/reports/{response-times,mileage,deployments,demand}, json or
// csv. Each runs on a StoreReader worker (it reads the store and folds the
// dispatch log), never on an I/O thread; the figures come from the pure cores
// in server/reports/reports.hpp.
#include <cmath>

#include "server/api/api.hpp"
#include "server/api/api_util.hpp"
#include "server/api/report_util.hpp"
#include "server/core/time_format.hpp"
#include "server/reports/report_store.hpp"

namespace pm {

using api_util::query_param;
using api_util::url_decode;
using api_util::write_sv;
using report_util::csv_field;
using report_util::num;
using report_util::write_time;
using Writer = api_util::Writer;

namespace {

double r3(double v) { return std::round(v * 1000.0) / 1000.0; }

void write_opt(Writer& w, const std::optional<double>& v) {
  if (v) w.Double(r3(*v));
  else w.Null();
}

void write_time_or_null(Writer& w, EpochMs t) {
  if (t) write_time(w, t);
  else w.Null();
}

std::string iso_or_empty(EpochMs t) { return t ? format_iso8601(t) : std::string(); }
std::string opt_num(const std::optional<double>& v) { return v ? num(*v) : std::string(); }

// One CSV line from already formatted fields.
void csv_row(std::string& out, std::initializer_list<std::string_view> fields) {
  bool first = true;
  for (auto f : fields) {
    if (!first) out.push_back(',');
    first = false;
    csv_field(out, f);
  }
  out += "\r\n";
}

void write_window(Writer& w, const reports::ReportQuery& q) {
  w.Key("from"); write_time(w, q.from);
  w.Key("to"); write_time(w, q.to);
  w.Key("generated"); write_time(w, q.now);
}

void write_shift_fields(Writer& w, const Shift& s) {
  w.Key("start"); write_time(w, s.start_ms);
  w.Key("end"); write_time(w, s.end_ms);
  w.Key("label"); write_sv(w, s.label);
}

std::string done(rapidjson::StringBuffer& sb) { return {sb.GetString(), sb.GetSize()}; }

// ------------------------------------------------------------ response times

std::string response_json(const std::vector<reports::GradeResponse>& grades, const reports::ReportQuery& q) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  write_window(w, q);
  w.Key("grades"); w.StartArray();
  for (const auto& g : grades) {
    w.StartObject();
    w.Key("grade"); w.Int(g.grade);
    w.Key("incidents"); w.Uint64(g.incidents);
    w.Key("attended"); w.Uint64(g.attended);
    w.Key("cancelled"); w.Uint64(g.cancelled);
    w.Key("pending"); w.Uint64(g.pending);
    w.Key("met"); w.Uint64(g.met);
    w.Key("judged"); w.Uint64(g.judged);
    w.Key("median_s"); write_opt(w, g.median_s);
    w.Key("p90_s"); write_opt(w, g.p90_s);
    w.Key("share_within_target"); write_opt(w, g.share_within_target);
    w.Key("breaches"); w.StartArray();
    for (const auto& b : g.breaches) {
      w.StartObject();
      w.Key("incident"); w.Uint64(b.incident);
      w.Key("grade"); w.Int(b.grade);
      w.Key("created"); write_time(w, b.created);
      w.Key("target"); write_time(w, b.deadline);
      w.Key("arrived"); write_time_or_null(w, b.arrived);
      w.Key("closed_unattended"); w.Bool(b.closed);
      w.Key("seconds"); w.Double(r3(b.seconds));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return done(sb);
}

std::string response_csv(const std::vector<reports::GradeResponse>& grades, bool breaches) {
  std::string out;
  if (breaches) {
    csv_row(out, {"incident", "grade", "created", "target", "arrived", "closed_unattended", "seconds"});
    for (const auto& g : grades)
      for (const auto& b : g.breaches)
        csv_row(out, {std::to_string(b.incident), std::to_string(b.grade), format_iso8601(b.created),
                      format_iso8601(b.deadline), iso_or_empty(b.arrived), b.closed ? "true" : "false",
                      num(b.seconds)});
    return out;
  }
  csv_row(out, {"grade", "incidents", "attended", "cancelled", "pending", "met", "judged", "median_s", "p90_s",
                "share_within_target", "breaches"});
  for (const auto& g : grades)
    csv_row(out, {std::to_string(g.grade), std::to_string(g.incidents), std::to_string(g.attended),
                  std::to_string(g.cancelled), std::to_string(g.pending), std::to_string(g.met),
                  std::to_string(g.judged), opt_num(g.median_s), opt_num(g.p90_s), opt_num(g.share_within_target),
                  std::to_string(g.breaches.size())});
  return out;
}

// --------------------------------------------------------------- deployments

std::string deployments_json(const std::vector<reports::ShiftDeployments>& shifts, const reports::ReportQuery& q) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  write_window(w, q);
  w.Key("shifts"); w.StartArray();
  for (const auto& s : shifts) {
    w.StartObject();
    write_shift_fields(w, s.shift);
    w.Key("incidents"); w.Uint64(s.incidents);
    w.Key("deployments"); w.Uint64(s.deployments);
    w.Key("multi_unit_incidents"); w.Uint64(s.multi_unit);
    w.Key("forced"); w.Uint64(s.forced);
    w.Key("self_deployed"); w.Uint64(s.self_deployed);
    w.Key("incidents_listed"); w.StartArray();
    for (const auto& d : s.notable) {
      w.StartObject();
      w.Key("incident"); w.Uint64(d.incident);
      w.Key("grade"); w.Int(d.grade);
      w.Key("created"); write_time(w, d.created);
      w.Key("units"); w.StartArray();
      for (const auto& u : d.units) {
        w.StartObject();
        w.Key("unit"); write_sv(w, u.unit);
        w.Key("at"); write_time(w, u.at);
        w.Key("how"); write_sv(w, reports::how_name(u.how));
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return done(sb);
}

std::string deployments_csv(const std::vector<reports::ShiftDeployments>& shifts, bool rows) {
  std::string out;
  if (rows) {
    csv_row(out, {"shift", "incident", "grade", "created", "unit", "at", "how"});
    for (const auto& s : shifts)
      for (const auto& d : s.notable)
        for (const auto& u : d.units)
          csv_row(out, {s.shift.label, std::to_string(d.incident), std::to_string(d.grade),
                        format_iso8601(d.created), u.unit, format_iso8601(u.at), reports::how_name(u.how)});
    return out;
  }
  csv_row(out, {"shift", "start", "end", "incidents", "deployments", "multi_unit_incidents", "forced",
                "self_deployed"});
  for (const auto& s : shifts)
    csv_row(out, {s.shift.label, format_iso8601(s.shift.start_ms), format_iso8601(s.shift.end_ms),
                  std::to_string(s.incidents), std::to_string(s.deployments), std::to_string(s.multi_unit),
                  std::to_string(s.forced), std::to_string(s.self_deployed)});
  return out;
}

// ------------------------------------------------------------------- mileage

double km(const reports::MileageRow& r) { return r3(r.track.distance_m / 1000.0); }
double moving_minutes(const reports::MileageRow& r) { return r3(static_cast<double>(r.track.moving_ms) / 60000.0); }

void write_mileage_row(Writer& w, const reports::MileageRow& r) {
  w.StartObject();
  w.Key("unit"); write_sv(w, r.unit);
  w.Key("shift"); w.StartObject(); write_shift_fields(w, r.shift); w.EndObject();
  w.Key("km"); w.Double(km(r));
  w.Key("fixes"); w.Uint64(r.track.fixes);
  w.Key("stops"); w.Uint64(r.track.stops);
  w.Key("moving_minutes"); w.Double(moving_minutes(r));
  w.Key("on_rota"); w.Bool(r.on_rota);
  w.Key("barely_used"); w.Bool(r.barely_used);
  w.EndObject();
}

std::string mileage_json(const reports::MileageReport& m, const reports::ReportQuery& q) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  write_window(w, q);
  w.Key("barely_used_km"); w.Double(q.barely_used_km);
  w.Key("stop_radius_m"); w.Double(q.stops.stop_radius_m);
  w.Key("stop_min_s"); w.Double(q.stops.stop_min_s);
  w.Key("rows"); w.StartArray();
  for (const auto& r : m.rows) write_mileage_row(w, r);
  w.EndArray();
  w.Key("barely_used"); w.StartArray();
  for (const auto& r : m.rows)
    if (r.barely_used) write_mileage_row(w, r);
  w.EndArray();
  w.EndObject();
  return done(sb);
}

std::string mileage_csv(const reports::MileageReport& m) {
  std::string out;
  csv_row(out, {"unit", "shift", "start", "end", "km", "fixes", "stops", "moving_minutes", "on_rota", "barely_used"});
  for (const auto& r : m.rows)
    csv_row(out, {r.unit, r.shift.label, format_iso8601(r.shift.start_ms), format_iso8601(r.shift.end_ms),
                  num(km(r)), std::to_string(r.track.fixes), std::to_string(r.track.stops), num(moving_minutes(r)),
                  r.on_rota ? "true" : "false", r.barely_used ? "true" : "false"});
  return out;
}

// -------------------------------------------------------------------- demand

constexpr std::string_view kDays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

void write_cell(Writer& w, const reports::HourCell& c) {
  w.Key("slots"); w.Int(c.slots);
  w.Key("grade1"); w.Int(c.grade1);
  w.Key("grade2"); w.Int(c.grade2);
  w.Key("incidents"); w.Int(c.incidents());
  w.Key("incidents_per_day"); w.Double(r3(c.incidents_per_slot()));
  w.Key("units_on_duty"); w.Double(r3(c.units_per_slot()));
}

std::string demand_json(const reports::Demand& d, const reports::ReportQuery& q, std::string_view tz) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  write_window(w, q);
  w.Key("timezone"); write_sv(w, tz);
  w.Key("profiles"); w.StartObject();
  for (auto [name, cells] : {std::pair{"sun_thu", &d.sun_thu}, std::pair{"fri_sat", &d.fri_sat}}) {
    w.Key(name); w.StartArray();
    for (int h = 0; h < 24; ++h) {
      w.StartObject();
      w.Key("hour"); w.Int(h);
      write_cell(w, (*cells)[static_cast<size_t>(h)]);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  w.Key("week"); w.StartArray();
  for (size_t i = 0; i < d.week.size(); ++i) {
    w.StartObject();
    w.Key("day"); write_sv(w, kDays[i / 24]);
    w.Key("hour"); w.Int(static_cast<int>(i % 24));
    write_cell(w, d.week[i]);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return done(sb);
}

void cell_csv(std::string& out, std::string_view key, int hour, const reports::HourCell& c) {
  csv_row(out, {key, std::to_string(hour), std::to_string(c.slots), std::to_string(c.grade1), std::to_string(c.grade2),
                std::to_string(c.incidents()), num(c.incidents_per_slot()), num(c.units_per_slot())});
}

std::string demand_csv(const reports::Demand& d, bool week) {
  std::string out;
  csv_row(out, {week ? "day" : "profile", "hour", "slots", "grade1", "grade2", "incidents", "incidents_per_day",
                "units_on_duty"});
  if (week) {
    for (size_t i = 0; i < d.week.size(); ++i) cell_csv(out, kDays[i / 24], static_cast<int>(i % 24), d.week[i]);
    return out;
  }
  for (int h = 0; h < 24; ++h) cell_csv(out, "sun_thu", h, d.sun_thu[static_cast<size_t>(h)]);
  for (int h = 0; h < 24; ++h) cell_csv(out, "fri_sat", h, d.fri_sat[static_cast<size_t>(h)]);
  return out;
}

}  // namespace

void Api::get_report(const Request& req, std::string_view which, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  if (!d_.reader) return respond(failed(Error{Errc::not_found, "reports need the store reader"}, v, ka));
  const std::string_view target = req.target();
  std::string err;
  auto window = report_util::week_window(target, d_.clock.now_ms(), err);
  if (!window) return respond(bad_request(req, err));
  const std::string format = url_decode(query_param(target, "format"));
  if (!format.empty() && format != "json" && format != "csv") return respond(bad_request(req, "format: json or csv"));
  const bool csv = format == "csv";
  // rows= picks the CSV table where a report has two (docs/api.md): the first by default.
  struct Tables {
    std::string_view report, first, second;
  };
  static constexpr Tables kTables[] = {{"response-times", "grades", "breaches"},
                                       {"mileage", "units", ""},
                                       {"deployments", "shifts", "deployments"},
                                       {"demand", "profiles", "week"}};
  const Tables* tables = nullptr;
  for (const auto& t : kTables)
    if (t.report == which) tables = &t;
  if (!tables) return respond(failed(Error{Errc::not_found, "no such report"}, v, ka));
  const std::string rows = url_decode(query_param(target, "rows"));
  if (!rows.empty() && rows != tables->first && (tables->second.empty() || rows != tables->second))
    return respond(bad_request(req, "rows: " + std::string(tables->first) +
                                        (tables->second.empty() ? "" : " or " + std::string(tables->second))));
  const bool alt = !rows.empty() && rows == tables->second;

  auto q = std::make_shared<reports::ReportQuery>();
  q->from = window->first;
  q->to = window->second;
  q->now = d_.clock.now_ms();
  q->stops = StopRules{d_.cfg.replay_stop_radius_m, d_.cfg.replay_stop_min_s};  // as the tracks' stops
  const std::string km_s = url_decode(query_param(target, "barely_used_km"));
  if (!km_s.empty()) {
    char* end = nullptr;
    q->barely_used_km = std::strtod(km_s.c_str(), &end);
    if (end != km_s.c_str() + km_s.size() || !(q->barely_used_km >= 0 && q->barely_used_km <= 10000))
      return respond(bad_request(req, "barely_used_km: a number from 0 to 10000"));
  }
  auto cal = ShiftCalendar::parse(d_.cfg.shift_boundaries, d_.cfg.shift_timezone);
  auto tz = PosixTz::parse(d_.cfg.shift_timezone);
  if (!cal || !tz) return respond(failed(Error{Errc::internal, "shift.boundaries or shift.timezone unreadable"}, v, ka));
  Metrics* metrics = &d_.metrics;
  std::string tz_name = d_.cfg.shift_timezone;
  std::string name(which);
  auto job = [q, cal = *cal, tz = *tz, tz_name = std::move(tz_name), name = std::move(name), csv, alt, v, ka, metrics,
              respond](sql::Db& db) {
    q->shifts = &cal;
    q->tz = &tz;
    std::string body, error;
    auto render = [&](const auto& result, auto to_json, auto to_csv) {
      if (auto* e = std::get_if<std::string>(&result)) {
        error = *e;
        return;
      }
      const auto& r = std::get<0>(result);
      body = csv ? to_csv(r) : to_json(r);
    };
    if (name == "response-times")
      render(reports::response_report(db, *q), [&](const auto& r) { return response_json(r, *q); },
             [&](const auto& r) { return response_csv(r, alt); });
    else if (name == "deployments")
      render(reports::deployment_report(db, *q), [&](const auto& r) { return deployments_json(r, *q); },
             [&](const auto& r) { return deployments_csv(r, alt); });
    else if (name == "mileage")
      render(reports::mileage_report(db, *q), [&](const auto& r) { return mileage_json(r, *q); },
             [&](const auto& r) { return mileage_csv(r); });
    else
      render(reports::demand_report(db, *q), [&](const auto& r) { return demand_json(r, *q, tz_name); },
             [&](const auto& r) { return demand_csv(r, alt); });
    if (!error.empty()) {
      metrics->error(Errc::internal);
      return respond(error_response(Error{Errc::internal, "report failed: " + error}, v, ka));
    }
    Response res = json_response(200, std::move(body), v, ka);
    if (csv) {
      res.set(http::field::content_type, "text/csv; charset=utf-8");
      res.set(http::field::content_disposition, "attachment; filename=\"" + name + ".csv\"");
    }
    respond(std::move(res));
  };
  if (!d_.reader->submit(std::move(job))) respond(failed(Error{Errc::overloaded, "report queue full"}, v, ka));
}

}  // namespace pm
