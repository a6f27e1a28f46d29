// Patrol coverage endpoints (SPEC 5 and 7, docs/api.md "Patrol coverage"):
// GET /api/v1/shifts, GET /api/v1/reports/coverage[/visits]. The reports run
// on a StoreReader thread (they may read the store), never on an I/O thread.
#include <cmath>

#include "server/api/api.hpp"
#include "server/api/api_util.hpp"
#include "server/api/report_util.hpp"
#include "server/core/time_format.hpp"
#include "server/coverage/service.hpp"

namespace pm {

using api_util::query_param;
using api_util::query_params;
using api_util::url_decode;
using api_util::write_sv;
using Writer = api_util::Writer;
using report_util::csv_field;
using report_util::num;
using report_util::write_time;

namespace {

// Seconds rounded to the millisecond (interval ends fall between fixes).
double secs(double s) { return std::round(s * 1000.0) / 1000.0; }

void write_shift(Writer& w, const Shift& s) {
  w.StartObject();
  w.Key("start"); write_time(w, s.start_ms);
  w.Key("end"); write_time(w, s.end_ms);
  w.Key("label"); write_sv(w, s.label);
  w.EndObject();
}

std::string coverage_json(const CoverageAnswer& a, const CoverageQuery& q, const geo::CoverageParams& p) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("from"); write_time(w, q.from_ms);
  w.Key("to"); write_time(w, q.to_ms);
  w.Key("source"); w.String(a.live ? "live" : "store");
  w.Key("params"); w.StartObject();
  w.Key("max_gap_s"); w.Double(p.max_gap_s);
  w.Key("visit_merge_s"); w.Double(p.visit_merge_s);
  w.Key("koper_min_s"); w.Double(p.koper_min_s);
  w.EndObject();
  w.Key("areas"); w.StartArray();
  for (const auto& r : a.rows) {
    const auto& c = r.coverage;
    w.StartObject();
    w.Key("id"); write_sv(w, r.feature->input.id);
    w.Key("name"); write_sv(w, r.feature->name);
    w.Key("kind"); write_sv(w, r.feature->kind);
    w.Key("unit_seconds"); w.Double(secs(c.unit_seconds));
    w.Key("presence_seconds"); w.Double(secs(c.presence_seconds));
    w.Key("visits"); w.Uint(c.visits);
    w.Key("koper_visits"); w.Uint(c.koper_visits);
    w.Key("last_visit_end");
    if (c.last_visit_end_ms) write_time(w, static_cast<int64_t>(std::floor(*c.last_visit_end_ms)));
    else w.Null();
    w.Key("longest_gap_seconds"); w.Double(secs(c.longest_gap_seconds));
    w.Key("target");
    if (const auto& t = r.feature->target) {
      w.StartObject();
      w.Key("visits"); w.Uint(t->visits);
      w.Key("minutes"); w.Double(t->minutes);
      w.Key("max_gap_minutes");
      if (t->max_gap_minutes) w.Double(*t->max_gap_minutes);
      else w.Null();
      w.EndObject();
    } else {
      w.Null();
    }
    w.Key("target_met");
    if (r.target) w.Bool(r.target->met);
    else w.Null();
    w.Key("target_parts");
    if (r.target) {
      w.StartObject();
      w.Key("visits"); w.Bool(r.target->visits_met);
      w.Key("minutes"); w.Bool(r.target->minutes_met);
      w.Key("gap"); w.Bool(r.target->gap_met);
      w.EndObject();
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string coverage_csv(const CoverageAnswer& a) {
  std::string out =
      "id,name,kind,unit_seconds,presence_seconds,visits,koper_visits,last_visit_end,longest_gap_seconds,"
      "target_visits,target_minutes,target_max_gap_minutes,target_met\r\n";
  for (const auto& r : a.rows) {
    const auto& c = r.coverage;
    csv_field(out, r.feature->input.id);
    out.push_back(',');
    csv_field(out, r.feature->name);
    out.push_back(',');
    csv_field(out, r.feature->kind);
    // Appended piece by piece: "," + std::string trips GCC 12's -O3 -Wrestrict false positive.
    for (const std::string& f : {num(secs(c.unit_seconds)), num(secs(c.presence_seconds)), std::to_string(c.visits),
                                 std::to_string(c.koper_visits)}) {
      out.push_back(',');
      out += f;
    }
    out.push_back(',');
    if (c.last_visit_end_ms) out += format_iso8601(static_cast<int64_t>(std::floor(*c.last_visit_end_ms)));
    out.push_back(',');
    out += num(secs(c.longest_gap_seconds));
    out.push_back(',');
    if (const auto& t = r.feature->target) {
      out += std::to_string(t->visits) + "," + num(t->minutes) + ",";
      if (t->max_gap_minutes) out += num(*t->max_gap_minutes);
      out += std::string(",") + (r.target && r.target->met ? "true" : "false");
    } else {
      out += ",,,";
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace

// from/to of a report: given, or the current shift up to now. nullopt with
// `error` set when a parameter is wrong.
std::optional<std::pair<int64_t, int64_t>> Api::report_window(const Request& req, std::string& error) const {
  const std::string from_s = url_decode(query_param(req.target(), "from"));
  const std::string to_s = url_decode(query_param(req.target(), "to"));
  const int64_t now = d_.clock.now_ms();
  int64_t from = 0, to = now;
  if (from_s.empty()) {
    if (!to_s.empty()) {
      error = "from is required with to";
      return std::nullopt;
    }
    from = d_.coverage->shifts().at(now).start_ms;
  } else {
    auto f = api_util::parse_time_param(from_s);
    if (!f) {
      error = "from: ISO 8601 UTC time or epoch milliseconds";
      return std::nullopt;
    }
    from = *f;
  }
  if (!to_s.empty()) {
    auto t = api_util::parse_time_param(to_s);
    if (!t) {
      error = "to: ISO 8601 UTC time or epoch milliseconds";
      return std::nullopt;
    }
    to = *t;
  }
  if (!report_util::window_ok(from, to, error)) return std::nullopt;
  const std::string source = url_decode(query_param(req.target(), "source"));
  if (!source.empty() && source != "auto" && source != "store") {
    error = "source: auto or store";
    return std::nullopt;
  }
  return std::pair{from, to};
}

Response Api::get_shifts(const Request& req) const {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  if (!d_.coverage) return failed(Error{Errc::not_found, "coverage is not running"}, v, ka);
  const int64_t now = d_.clock.now_ms();
  std::string err;
  auto window = report_util::week_window(req.target(), now, err);
  if (!window) return bad_request(req, err);
  auto [from, to] = *window;
  const auto& cal = d_.coverage->shifts();
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("current"); write_shift(w, cal.at(now));
  w.Key("shifts"); w.StartArray();
  for (const auto& s : cal.between(from, to)) write_shift(w, s);
  w.EndArray();
  w.EndObject();
  return json_response(200, std::string(sb.GetString(), sb.GetSize()), v, ka);
}

std::optional<std::pair<int64_t, int64_t>> Api::coverage_window(const Request& req, const Respond& respond) const {
  if (!d_.coverage || !d_.reader) {
    respond(failed(Error{Errc::not_found, "coverage is not running"}, req.version(), req.keep_alive()));
    return std::nullopt;
  }
  std::string err;
  auto window = report_window(req, err);
  if (!window) respond(bad_request(req, err));
  return window;
}

void Api::get_coverage(const Request& req, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  auto window = coverage_window(req, respond);
  if (!window) return;
  const std::string format = url_decode(query_param(req.target(), "format"));
  if (!format.empty() && format != "json" && format != "csv") return respond(bad_request(req, "format: json or csv"));
  CoverageQuery q;
  q.from_ms = window->first;
  q.to_ms = window->second;
  q.kind = url_decode(query_param(req.target(), "kind"));
  q.from_store = query_param(req.target(), "source") == "store";
  for (auto a : query_params(req.target(), "area")) q.area_ids.push_back(url_decode(a));
  if (q.area_ids.size() > 10'000) return respond(bad_request(req, "at most 10000 area parameters"));
  const bool csv = format == "csv";
  CoverageService* cov = d_.coverage;
  Metrics* metrics = &d_.metrics;
  auto job = [cov, metrics, q = std::move(q), csv, v, ka, respond](sql::Db& db) {
    CoverageAnswer a = cov->report(db, q);
    if (!a.unknown_areas.empty()) {
      metrics->error(Errc::not_found);
      return respond(error_response(Error{Errc::not_found, "no area " + a.unknown_areas.front()}, v, ka));
    }
    if (!csv) return respond(json_response(200, coverage_json(a, q, cov->params()), v, ka));
    Response res = json_response(200, coverage_csv(a), v, ka);
    res.set(http::field::content_type, "text/csv; charset=utf-8");
    res.set(http::field::content_disposition, "attachment; filename=\"coverage.csv\"");
    respond(std::move(res));
  };
  if (!d_.reader->submit(std::move(job))) respond(failed(Error{Errc::overloaded, "report queue full"}, v, ka));
}

void Api::get_coverage_visits(const Request& req, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  auto window = coverage_window(req, respond);
  if (!window) return;
  std::string area = url_decode(query_param(req.target(), "area"));
  if (area.empty()) return respond(bad_request(req, "area is required"));
  CoverageService* cov = d_.coverage;
  Metrics* metrics = &d_.metrics;
  const bool from_store = query_param(req.target(), "source") == "store";
  auto job = [cov, metrics, area = std::move(area), from = window->first, to = window->second, from_store, v, ka,
              respond](sql::Db& db) {
    auto visits = cov->visits(db, area, from, to, from_store);
    if (!visits) {
      metrics->error(Errc::not_found);
      return respond(error_response(Error{Errc::not_found, "no area " + area}, v, ka));
    }
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("area"); write_sv(w, area);
    w.Key("from"); write_time(w, from);
    w.Key("to"); write_time(w, to);
    w.Key("visits"); w.StartArray();
    for (const auto& x : *visits) {
      w.StartObject();
      w.Key("unit"); write_sv(w, x.unit);
      w.Key("start"); write_time(w, static_cast<int64_t>(std::floor(x.start_ms)));
      w.Key("end"); write_time(w, static_cast<int64_t>(std::floor(x.end_ms)));
      w.Key("seconds"); w.Double(secs((x.end_ms - x.start_ms) / 1000.0));
      w.Key("koper"); w.Bool(x.koper);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    respond(json_response(200, std::string(sb.GetString(), sb.GetSize()), v, ka));
  };
  if (!d_.reader->submit(std::move(job))) respond(failed(Error{Errc::overloaded, "report queue full"}, v, ka));
}

}  // namespace pm
