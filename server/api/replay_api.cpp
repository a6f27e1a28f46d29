// Replay, exports, import and audit (SPEC 7 and 9, docs/api.md "Replay,
// exports and audit"): GET /api/v1/tracks, GET /api/v1/positions,
// POST /api/v1/tracks/import, GET /api/v1/audit. Every request that shows or
// adds someone's movements first commits an audit row (store writer), then
// runs on a StoreReader worker; nothing here blocks an I/O thread.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "server/api/api.hpp"
#include "server/api/api_util.hpp"
#include "server/core/time_format.hpp"
#include "server/replay/gpx.hpp"
#include "server/replay/replay_query.hpp"
#include "server/store/audit.hpp"

namespace pm {

using api_util::query_param;
using api_util::query_params;
using api_util::url_decode;
using api_util::write_sv;
using Writer = api_util::Writer;

namespace {

constexpr size_t kMaxUnits = 50;
constexpr double kMaxSimplifyM = 1000;
constexpr size_t kMaxImportPoints = 1'000'000;

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

AuditRow audit_row(const Principal& who, EpochMs now, std::string action) {
  AuditRow row;
  row.t = now;
  row.token = who.name;
  row.role = std::string(role_name(who.role));
  row.action = std::move(action);
  return row;
}

}  // namespace

void Api::run_query(StoreReader::Job job, unsigned v, bool ka, const Respond& respond) {
  if (!d_.reader->submit(std::move(job))) respond(failed(Error{Errc::overloaded, "query queue full"}, v, ka));
}

void Api::audited_query(AuditRow row, StoreReader::Job job, unsigned v, bool ka, Respond respond) {
  // Nobody sees movements the log does not show: the row is committed
  // first; the query runs only after that.
  d_.store.submit(WriteJob{[row = std::move(row)](sql::Db& db) { return insert_audit_row(db, row); },
                           [this, job = std::move(job), v, ka, respond](const StoreResult& r) mutable {
                             if (!r.ok) return respond(failed(Error{Errc::store_failed, "audit not written"}, v, ka));
                             d_.metrics.audit_rows.fetch_add(1, std::memory_order_relaxed);
                             run_query(std::move(job), v, ka, respond);
                           }});
}

void Api::get_tracks(const Request& req, const Principal& who, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  if (!d_.reader) return respond(failed(Error{Errc::not_found, "replay is not running"}, v, ka));
  const auto target = req.target();
  TracksRequest r;
  auto raw_units = query_params(target, "unit");
  if (raw_units.empty()) return respond(bad_request(req, "unit is required (unit=A&unit=B)"));
  if (raw_units.size() > kMaxUnits) return respond(bad_request(req, "at most 50 unit parameters"));
  std::vector<std::string> ids;
  for (auto raw : raw_units) {
    std::string id = url_decode(raw);
    if (!valid_id(id)) return respond(bad_request(req, "unit: ids are 1-64 characters: letters, digits, - _ . :"));
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
    auto idx = d_.live.find_unit(id);
    auto rec = idx ? d_.live.unit(*idx) : std::nullopt;
    if (!rec || !(rec->persisted || rec->has_fix))
      return respond(failed(Error{Errc::not_found, "no unit " + id}, v, ka));
    r.units.push_back(UnitRef{*idx, id});
    ids.push_back(std::move(id));
  }
  std::optional<EpochMs> from, to;
  for (auto [name, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    const std::string s = url_decode(query_param(target, name));
    if (s.empty()) return respond(bad_request(req, std::string(name) + " is required"));
    *out = api_util::parse_time_param(s);
    if (!*out) return respond(bad_request(req, std::string(name) + ": ISO 8601 UTC time or epoch milliseconds"));
  }
  r.from = *from;
  r.to = *to;
  if (r.to < r.from) return respond(bad_request(req, "to is before from"));
  if (r.to - r.from > static_cast<int64_t>(d_.cfg.replay_max_window_h) * 3'600'000)
    return respond(bad_request(req, "the window (to - from) is at most " + std::to_string(d_.cfg.replay_max_window_h) +
                                        " hours (replay.max_window_h)"));
  if (auto s = url_decode(query_param(target, "simplify_m")); !s.empty()) {
    auto m = parse_double(s);
    if (!m || *m < 0 || *m > kMaxSimplifyM) return respond(bad_request(req, "simplify_m: metres from 0 to 1000"));
    r.simplify_m = *m;
  }
  auto format = parse_track_format(url_decode(query_param(target, "format")));
  if (!format) return respond(bad_request(req, "format: json, geojson, gpx or csv"));
  r.format = *format;
  r.rules = StopRules{d_.cfg.replay_stop_radius_m, d_.cfg.replay_stop_min_s};
  r.max_fixes = d_.cfg.replay_max_fixes;

  AuditRow row = audit_row(who, d_.clock.now_ms(), r.format == TrackFormat::json ? "tracks" : "export");
  row.units = std::move(ids);
  row.from = r.from;
  row.to = r.to;
  char simplify[32];
  std::snprintf(simplify, sizeof simplify, "%g", r.simplify_m);
  row.detail = "format=" + std::string(track_format_name(r.format)) + " simplify_m=" + simplify;
  Metrics* metrics = &d_.metrics;
  auto job = [r = std::move(r), metrics, v, ka, respond](sql::Db& db) {
    TracksResult res = run_tracks(db, r);
    if (res.error) {
      metrics->error(res.error->code);
      return respond(error_response(*res.error, v, ka));
    }
    Response out = json_response(200, std::move(res.body), v, ka);
    out.set(http::field::content_type, track_content_type(r.format));
    if (r.format != TrackFormat::json)
      out.set(http::field::content_disposition,
              "attachment; filename=\"tracks." + std::string(track_format_name(r.format)) + "\"");
    respond(std::move(out));
  };
  audited_query(std::move(row), std::move(job), v, ka, std::move(respond));
}

void Api::get_positions(const Request& req, const Principal& who, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  if (!d_.reader) return respond(failed(Error{Errc::not_found, "replay is not running"}, v, ka));
  const auto target = req.target();
  PositionsRequest r;
  const std::string at_s = url_decode(query_param(target, "at"));
  if (at_s.empty()) return respond(bad_request(req, "at is required"));
  auto at = api_util::parse_time_param(at_s);
  if (!at) return respond(bad_request(req, "at: ISO 8601 UTC time or epoch milliseconds"));
  r.at = *at;
  r.max_gap_s = d_.cfg.coverage_max_gap_s;
  const std::string bbox_s = url_decode(query_param(target, "bbox"));
  if (!bbox_s.empty()) {
    std::array<double, 4> b{};
    std::string_view rest = bbox_s;
    bool ok = true;
    for (int i = 0; i < 4 && ok; ++i) {
      size_t comma = rest.find(',');
      if ((i < 3) != (comma != std::string_view::npos)) ok = false;
      auto d = parse_double(rest.substr(0, comma));
      if (!d) ok = false;
      else b[static_cast<size_t>(i)] = *d;
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (!ok || !(b[0] < b[2] && b[1] < b[3]) || b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90)
      return respond(bad_request(req, "bbox: west,south,east,north in degrees (west < east, south < north)"));
    r.bbox = b;
  }
  d_.live.visit_all_units([&](const UnitRecord& u) {
    if (u.persisted || u.has_fix) r.units.push_back(UnitRef{u.index, u.id, u.fields.status});
  });
  AuditRow row = audit_row(who, d_.clock.now_ms(), "positions");
  row.from = r.at;
  row.to = r.at;
  if (r.bbox) row.detail = "bbox=" + bbox_s;
  Metrics* metrics = &d_.metrics;
  auto job = [r = std::move(r), metrics, v, ka, respond](sql::Db& db) {
    std::string error;
    std::string body = run_positions(db, r, error);
    if (!error.empty()) {
      metrics->error(Errc::store_failed);
      return respond(error_response(Error{Errc::store_failed, "positions query: " + error}, v, ka));
    }
    respond(json_response(200, std::move(body), v, ka));
  };
  audited_query(std::move(row), std::move(job), v, ka, std::move(respond));
}

void Api::post_track_import(Request&& req, const Principal& who, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  if (!d_.reader) return respond(failed(Error{Errc::not_found, "replay is not running"}, v, ka));
  std::string unit = url_decode(query_param(req.target(), "unit"));
  std::string device = url_decode(query_param(req.target(), "device"));
  if (unit.empty() || device.empty()) return respond(bad_request(req, "unit and device are required"));
  if (!valid_id(unit) || !valid_id(device))
    return respond(bad_request(req, "unit, device: ids are 1-64 characters: letters, digits, - _ . :"));
  if (auto d = d_.live.find_device(device)) {
    auto rec = d_.live.device(*d);
    auto u = d_.live.find_unit(unit);
    if (rec && rec->persisted && rec->unit != kNoIndex && (!u || rec->unit != *u))
      return respond(failed(Error{Errc::conflict, "device " + device + " is linked to another unit"}, v, ka));
  }
  AuditRow row = audit_row(who, d_.clock.now_ms(), "import");
  row.units = {unit};
  // The GPX is parsed on a read worker (it may be megabytes), then the
  // registry rows and the audit row commit together, then the fixes go
  // through the ingest pipeline's store path.
  auto body = std::make_shared<std::string>(std::move(req.body()));
  auto job = [this, body, unit = std::move(unit), device = std::move(device), row = std::move(row), v, ka,
              respond](sql::Db&) mutable {
    auto gpx = std::make_shared<GpxTrack>();
    if (auto err = parse_gpx(*body, *gpx, kMaxImportPoints))
      return respond(failed(Error{Errc::bad_request, "not a GPX track: " + *err}, v, ka));
    body.reset();
    if (gpx->points.empty() && gpx->skipped_no_time == 0)
      return respond(failed(Error{Errc::bad_request, "the GPX holds no track points"}, v, ka));
    if (!gpx->points.empty()) {
      row.from = gpx->points.front().t;
      row.to = gpx->points.back().t;
      for (const auto& p : gpx->points) {
        row.from = std::min(*row.from, p.t);
        row.to = std::max(*row.to, p.t);
      }
    }
    row.detail = "device=" + device + " points=" + std::to_string(gpx->points.size());
    const auto u_existing = d_.live.find_unit(unit);
    const bool new_unit = !u_existing || !d_.live.unit(*u_existing)->persisted;
    const uint32_t u = d_.live.reserve_unit(unit);
    const auto d_existing = d_.live.find_device(device);
    const bool link = !d_existing || !d_.live.device(*d_existing)->persisted || d_.live.device(*d_existing)->unit != u;
    const DeviceKind kind = d_existing ? d_.live.device(*d_existing)->kind : DeviceKind::app;
    const uint32_t d = d_.live.reserve_device(device, kind);
    UnitFields fields;
    auto write = [row, new_unit, u, unit, fields, link, d, device, kind](sql::Db& db) -> std::optional<std::string> {
      if (new_unit)
        if (auto e = upsert_unit_row(db, u, unit, fields)) return e;
      if (link)
        if (auto e = upsert_device_row(db, d, device, kind, u)) return e;
      return insert_audit_row(db, row);
    };
    auto done = [this, gpx, new_unit, u, unit, fields, link, d, device, kind, v, ka, respond](const StoreResult& r) {
      if (!r.ok) return respond(failed(Error{Errc::store_failed, {}}, v, ka));
      d_.metrics.audit_rows.fetch_add(1, std::memory_order_relaxed);
      if (new_unit) d_.live.set_unit_details(u, fields);
      if (link) d_.live.link_device(d, kind, u);
      std::vector<RawPing> pings(gpx->points.size());
      for (size_t i = 0; i < pings.size(); ++i) {
        const auto& p = gpx->points[i];
        pings[i].device = device;
        pings[i].t = p.t;
        pings[i].lat = p.lat;
        pings[i].lon = p.lon;
        pings[i].speed_mps = p.speed_mps;
        pings[i].heading_deg = p.heading_deg;
      }
      d_.pipeline.submit_import(pings, Channel::gpx, [gpx, unit, device, v, ka, respond](IngestOutcome&& o) {
        if (o.error) return respond(error_response(*o.error, v, ka));
        size_t duplicates = 0;
        for (const auto& rj : o.rejected) duplicates += rj.code == Errc::duplicate ? 1 : 0;
        rapidjson::StringBuffer sb;
        Writer w(sb);
        w.StartObject();
        w.Key("unit"); write_sv(w, unit);
        w.Key("device"); write_sv(w, device);
        w.Key("points"); w.Uint64(gpx->points.size() + gpx->skipped_no_time);
        w.Key("stored"); w.Uint64(o.accepted);
        w.Key("duplicates"); w.Uint64(duplicates);
        w.Key("rejected"); w.Uint64(o.rejected.size() - duplicates);
        w.Key("skipped_no_time"); w.Uint64(gpx->skipped_no_time);
        w.Key("ignored_waypoints"); w.Uint64(gpx->ignored_waypoints);
        w.EndObject();
        respond(json_response(200, std::string(sb.GetString(), sb.GetSize()), v, ka));
      });
    };
    d_.store.submit(WriteJob{std::move(write), std::move(done)});
  };
  run_query(std::move(job), v, ka, respond);
}

void Api::get_audit(const Request& req, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  if (!d_.reader) return respond(failed(Error{Errc::not_found, "audit is not available"}, v, ka));
  const auto target = req.target();
  int64_t from = 0, to = std::numeric_limits<int64_t>::max();
  for (auto [name, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    const std::string s = url_decode(query_param(target, name));
    if (s.empty()) continue;
    auto t = api_util::parse_time_param(s);
    if (!t) return respond(bad_request(req, std::string(name) + ": ISO 8601 UTC time or epoch milliseconds"));
    *out = *t;
  }
  if (to < from) return respond(bad_request(req, "to is before from"));
  size_t limit = 1000;
  if (auto s = url_decode(query_param(target, "limit")); !s.empty()) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), limit);
    if (ec != std::errc() || p != s.data() + s.size() || limit < 1 || limit > 10000)
      return respond(bad_request(req, "limit: 1 to 10000"));
  }
  Metrics* metrics = &d_.metrics;
  auto job = [from, to, limit, metrics, v, ka, respond](sql::Db& db) {
    std::vector<AuditRow> rows;
    std::string error;
    if (!read_audit(db, from, to, limit, rows, error)) {
      metrics->error(Errc::store_failed);
      return respond(error_response(Error{Errc::store_failed, "audit query: " + error}, v, ka));
    }
    rapidjson::StringBuffer sb;
    Writer w(sb);
    auto time = [&](int64_t ms) {
      char buf[24];
      format_iso8601(ms, buf);
      w.String(buf, 24);
    };
    w.StartObject();
    w.Key("audit"); w.StartArray();
    for (const auto& r : rows) {
      w.StartObject();
      w.Key("time"); time(r.t);
      w.Key("token"); write_sv(w, r.token);
      w.Key("role"); write_sv(w, r.role);
      w.Key("action"); write_sv(w, r.action);
      w.Key("units"); w.StartArray();
      for (const auto& u : r.units) write_sv(w, u);
      w.EndArray();
      w.Key("from");
      if (r.from) time(*r.from); else w.Null();
      w.Key("to");
      if (r.to) time(*r.to); else w.Null();
      w.Key("detail"); write_sv(w, r.detail);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    respond(json_response(200, std::string(sb.GetString(), sb.GetSize()), v, ka));
  };
  run_query(std::move(job), v, ka, respond);
}

}  // namespace pm
