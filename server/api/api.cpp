#include "server/api/api.hpp"

#include <charconv>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "server/api/api_util.hpp"
#include "server/api/basemap_api.hpp"
#include "server/areas/geojson.hpp"
#include "server/core/log.hpp"
#include "server/core/time_format.hpp"
#include "server/ingest/osmand.hpp"

namespace pm {

std::string api_util::url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

namespace {

using api_util::Parsed;
using api_util::parse_object;
using api_util::query_param;
using api_util::url_decode;
using api_util::Writer;
using api_util::write_sv;

// `engine` (read under the dispatch lock) adds the unit's incident and emergency.
void write_unit(Writer& w, const UnitRecord& u, const std::vector<DeviceRecord>* devices,
                const dispatch::Engine* engine) {
  w.StartObject();
  w.Key("id"); write_sv(w, u.id);
  w.Key("type"); write_sv(w, u.fields.type);
  w.Key("status"); write_sv(w, unit_status_name(u.fields.status));
  w.Key("skills"); w.StartArray();
  for (const auto& s : u.fields.skills) write_sv(w, s);
  w.EndArray();
  w.Key("home_area"); write_sv(w, u.fields.home_area);
  auto opt = [&](const char* k, float v) {
    w.Key(k);
    if (std::isnan(v)) w.Null(); else w.Double(static_cast<double>(v));
  };
  if (u.has_fix) {
    w.Key("lat"); w.Double(u.last.lat);
    w.Key("lon"); w.Double(u.last.lon);
    opt("speed_mps", u.last.speed_mps);
    opt("heading_deg", u.last.heading_deg);
    opt("accuracy_m", u.last.accuracy_m);
    char t[24];
    format_iso8601(u.last.t, t);
    w.Key("fix_time"); w.String(t, 24);
    w.Key("source"); write_sv(w, channel_name(u.last.channel));
  } else {
    for (const char* k : {"lat", "lon", "speed_mps", "heading_deg", "accuracy_m", "fix_time", "source"}) {
      w.Key(k);
      w.Null();
    }
  }
  // An officer emergency stays raised until a dispatcher acknowledges it.
  w.Key("emergency"); w.Bool(engine ? engine->unit_emergency(u.index) : u.has_fix && u.last.emergency);
  w.Key("incident");
  if (uint64_t inc = engine ? engine->unit_incident(u.index) : 0) w.Uint64(inc);
  else w.Null();
  if (devices) {
    w.Key("devices"); w.StartArray();
    for (const auto& d : *devices)
      if (d.unit == u.index) write_sv(w, d.id);
    w.EndArray();
  }
  w.EndObject();
}

}  // namespace

std::string_view api_util::query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    if (kv.size() > name.size() && kv.substr(0, name.size()) == name && kv[name.size()] == '=')
      return kv.substr(name.size() + 1);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
  }
  return {};
}

std::vector<std::string_view> api_util::query_params(std::string_view target, std::string_view name) {
  std::vector<std::string_view> out;
  auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    if (kv.size() > name.size() && kv.substr(0, name.size()) == name && kv[name.size()] == '=')
      out.push_back(kv.substr(name.size() + 1));
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
  }
  return out;
}

std::optional<EpochMs> api_util::parse_time_param(std::string_view decoded) {
  if (decoded.empty()) return std::nullopt;
  if (decoded.find_first_not_of("0123456789") == std::string_view::npos && decoded.size() <= 15) {
    EpochMs v = 0;
    auto [p, ec] = std::from_chars(decoded.data(), decoded.data() + decoded.size(), v);
    if (ec == std::errc() && p == decoded.data() + decoded.size()) return v;
    return std::nullopt;
  }
  return parse_iso8601(decoded);
}

namespace {

void write_outcome(Writer& w, const IngestOutcome& o) {
  w.StartObject();
  w.Key("accepted"); w.Uint64(o.accepted);
  w.Key("rejected"); w.StartArray();
  for (const auto& r : o.rejected) {
    w.StartObject();
    w.Key("index"); w.Uint(r.index);
    w.Key("code"); write_sv(w, error_code(r.code));
    w.Key("message"); write_sv(w, r.detail.empty() ? error_info(r.code).message : r.detail);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

api_util::Parsed api_util::parse_object(const std::string& body) {
  Parsed p;
  p.doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (p.doc.HasParseError() || !p.doc.IsObject()) p.error = Error{Errc::bad_request, "body must be a JSON object"};
  return p;
}


Response json_response(unsigned status, std::string body, unsigned version, bool keep_alive) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response error_response(const Error& e, unsigned version, bool keep_alive) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code"); write_sv(w, error_code(e.code));
  w.Key("message"); write_sv(w, e.text());
  w.EndObject();
  w.EndObject();
  Response res = json_response(http_status(e.code), sb.GetString(), version, keep_alive);
  if (e.code == Errc::overloaded || e.code == Errc::store_failed || e.code == Errc::rate_limited)
    res.set(http::field::retry_after, "1");
  if (e.code == Errc::unauthorized) res.set(http::field::www_authenticate, "Bearer");
  return res;
}

Response Api::failed(const Error& e, unsigned version, bool keep_alive) const {
  d_.metrics.error(e.code);
  return error_response(e, version, keep_alive);
}

void Api::handle(Request&& req, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  auto fail = [&](Errc c, std::string msg = {}) {
    d_.metrics.error(c);
    respond(error_response(Error{c, std::move(msg)}, v, ka));
  };
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  const auto method = req.method();

  // Unauthenticated: the page shell and the health check.
  if (path == "/healthz" && method == http::verb::get) return respond(healthz(req));
  if (method == http::verb::get || method == http::verb::head)
    if (auto res = static_file(req, path)) return respond(std::move(*res));

  // Route table: path pattern -> allowed roles per method.
  struct Route {
    http::verb method;
    RoleSet roles;
  };
  std::string_view id;
  auto match_prefix = [&](std::string_view prefix, std::string_view suffix) {
    if (path.size() <= prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix) return false;
    if (path.substr(path.size() - suffix.size()) != suffix) return false;
    id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    return id.find('/') == std::string_view::npos;
  };
  enum class Ep {
    none, pings, osmand, rota, units, unit, unit_status, unit_emergency, devices, device, metrics,
    incidents, incident, recommendations, assign, incident_events, close, locations, alerts, alert_ack,
    basemap, basemap_layer, areas, shifts, coverage, coverage_visits, tracks, positions, track_import, audit
  } ep = Ep::none;
  constexpr RoleSet dispatcher = role_bit(Role::dispatcher);
  // The route table: exact paths, or prefix + {id} + suffix (first match wins).
  constexpr RoleSet admin = role_bit(Role::admin), sergeant = role_bit(Role::sergeant);
  constexpr RoleSet reports = sergeant | role_bit(Role::manager) | admin;
  constexpr auto get = http::verb::get, post = http::verb::post, put = http::verb::put;
  struct Entry {
    std::string_view prefix, suffix;  // suffix "" and exact: the whole path
    bool exact;
    Ep ep;
    std::initializer_list<Route> routes;
  };
  static const Entry kTable[] = {
      {"/api/v1/pings", "", true, Ep::pings, {{post, kSenders}}},
      {"/osmand", "", true, Ep::osmand, {{get, kSenders}, {post, kSenders}}},
      {"/api/v1/rota", "", true, Ep::rota, {{post, admin | sergeant}}},
      {"/api/v1/units", "", true, Ep::units, {{get, kStaff}}},
      {"/api/v1/devices", "", true, Ep::devices, {{get, admin}}},
      {"/metrics", "", true, Ep::metrics, {{get, admin}}},
      // devices and gateways act for their own unit only (checked by the handler)
      {"/api/v1/units/", "/status", false, Ep::unit_status, {{post, dispatcher | kSenders}}},
      {"/api/v1/units/", "/emergency", false, Ep::unit_emergency, {{post, dispatcher | kSenders}}},
      {"/api/v1/incidents", "", true, Ep::incidents, {{get, kStaff}, {post, dispatcher}}},
      {"/api/v1/incidents/", "/recommendations", false, Ep::recommendations, {{get, dispatcher}}},
      {"/api/v1/incidents/", "/assign", false, Ep::assign, {{post, dispatcher}}},
      {"/api/v1/incidents/", "/events", false, Ep::incident_events, {{post, dispatcher | kSenders}}},
      {"/api/v1/incidents/", "/close", false, Ep::close, {{post, dispatcher}}},
      {"/api/v1/incidents/", "", false, Ep::incident, {{get, kStaff}}},
      {"/api/v1/locations", "", true, Ep::locations, {{get, kStaff}, {post, dispatcher | admin}}},
      {"/api/v1/alerts", "", true, Ep::alerts, {{get, kStaff}}},
      {"/api/v1/alerts/", "/ack", false, Ep::alert_ack, {{post, dispatcher | sergeant}}},
      {"/api/v1/units/", "", false, Ep::unit, {{put, dispatcher | admin}}},
      {"/api/v1/devices/", "", false, Ep::device, {{put, admin}}},
      {"/api/v1/areas", "", true, Ep::areas, {{get, kStaff}, {post, admin | sergeant}}},
      {"/api/v1/basemap", "", true, Ep::basemap, {{get, kStaff}}},
      {"/api/v1/basemap/", "", false, Ep::basemap_layer, {{get, kStaff}}},
      {"/api/v1/shifts", "", true, Ep::shifts, {{get, kStaff}}},
      {"/api/v1/reports/coverage", "", true, Ep::coverage, {{get, reports}}},
      {"/api/v1/reports/coverage/visits", "", true, Ep::coverage_visits, {{get, reports}}},
      {"/api/v1/tracks", "", true, Ep::tracks, {{get, reports}}},
      {"/api/v1/tracks/import", "", true, Ep::track_import, {{post, admin}}},
      {"/api/v1/positions", "", true, Ep::positions, {{get, reports}}},
      {"/api/v1/audit", "", true, Ep::audit, {{get, admin}}},
  };
  std::initializer_list<Route> routes;
  for (const auto& e : kTable) {
    if (e.exact ? path == e.prefix : match_prefix(e.prefix, e.suffix)) {
      ep = e.ep;
      routes = e.routes;
      break;
    }
  }
  if (ep == Ep::none) return fail(Errc::not_found, "no such endpoint");
  const Route* route = nullptr;
  for (const auto& r : routes)
    if (r.method == method) route = &r;
  if (!route) {
    d_.metrics.error(Errc::method_not_allowed);
    Response res = error_response(Error{Errc::method_not_allowed, {}}, v, ka);
    std::string allow;
    for (const auto& r : routes) allow += (allow.empty() ? "" : ", ") + std::string(http::to_string(r.method));
    res.set(http::field::allow, allow);
    return respond(std::move(res));
  }

  auto who = d_.auth.authenticate(req[http::field::authorization]);
  // Phone tracking apps (OsmAnd, Traccar Client) cannot set headers; they put
  // the token in the URL they are given. Only this endpoint accepts that.
  if (!who && ep == Ep::osmand) who = d_.auth.authenticate_token(query_param(target, "token"));
  if (!who) return fail(Errc::unauthorized);
  if (!allows(who->role, route->roles))
    return fail(Errc::forbidden, "role " + std::string(role_name(who->role)) + " may not do that");
  if (!d_.auth.admit(*who, d_.clock.now_ms())) return fail(Errc::rate_limited);

  std::string decoded_id = url_decode(id);
  if ((ep == Ep::unit || ep == Ep::unit_status || ep == Ep::unit_emergency || ep == Ep::device) &&
      !valid_id(decoded_id))
    return fail(Errc::bad_request, "ids are 1-64 characters: letters, digits, - _ . :");
  uint64_t num_id = 0;
  if (ep == Ep::incident || ep == Ep::recommendations || ep == Ep::assign || ep == Ep::incident_events ||
      ep == Ep::close || ep == Ep::alert_ack) {
    auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), num_id);
    if (ec != std::errc() || p != id.data() + id.size() || num_id == 0)
      return fail(Errc::not_found, "no such " + std::string(ep == Ep::alert_ack ? "alert" : "incident"));
  }
  switch (ep) {
    case Ep::pings: return post_pings(std::move(req), *who, std::move(respond));
    case Ep::osmand: return osmand(std::move(req), *who, std::move(respond));
    case Ep::rota: return post_rota(req, std::move(respond));
    case Ep::units: return respond(get_units(req));
    case Ep::devices: return respond(get_devices(req));
    case Ep::metrics: {
      Response res{http::status::ok, v};
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.keep_alive(ka);
      res.body() = d_.metrics.render();
      res.prepare_payload();
      return respond(std::move(res));
    }
    case Ep::unit: return put_unit(req, decoded_id, std::move(respond));
    case Ep::unit_status: return post_unit_status(req, decoded_id, *who, std::move(respond));
    case Ep::device: return put_device(req, decoded_id, std::move(respond));
    case Ep::unit_emergency: return post_unit_emergency(req, decoded_id, *who, std::move(respond));
    case Ep::incidents:
      if (method == http::verb::post) return post_incident(req, std::move(respond));
      return respond(get_incidents(req));
    case Ep::incident: return respond(get_incident(req, num_id));
    case Ep::recommendations: return respond(get_recommendations(req, num_id));
    case Ep::assign: return post_assign(req, num_id, std::move(respond));
    case Ep::incident_events: return post_incident_event(req, num_id, *who, std::move(respond));
    case Ep::close: return post_close(req, num_id, std::move(respond));
    case Ep::locations:
      if (method == http::verb::post) return post_location(req, std::move(respond));
      return respond(get_locations(req));
    case Ep::alerts: return respond(get_alerts(req));
    case Ep::alert_ack: return post_alert_ack(req, num_id, std::move(respond));
    case Ep::areas: {
      if (method == http::verb::post) return post_areas(std::move(req), std::move(respond));
      // The loaded areas as GeoJSON (SPEC section 11), optionally of one kind.
      auto areas = d_.areas ? d_.areas() : nullptr;
      std::string body = areas ? write_area_features(*areas, url_decode(query_param(target, "kind")))
                               : std::string(R"({"type":"FeatureCollection","features":[]})");
      Response res = json_response(200, std::move(body), v, ka);
      res.set(http::field::content_type, "application/geo+json");
      return respond(std::move(res));
    }
    case Ep::basemap:
    case Ep::basemap_layer: {  // server/api/basemap_api.cpp
      if (!d_.basemap) return fail(Errc::not_found, "no basemap loaded (config basemap.osm_file)");
      const BasemapBlob* blob = ep == Ep::basemap ? &d_.basemap->index() : d_.basemap->layer(id);
      if (!blob) return fail(Errc::not_found, "no basemap layer " + std::string(id));
      return respond(basemap_response(*blob, req));
    }
    case Ep::shifts: return respond(get_shifts(req));
    case Ep::coverage: return get_coverage(req, std::move(respond));
    case Ep::coverage_visits: return get_coverage_visits(req, std::move(respond));
    case Ep::tracks: return get_tracks(req, *who, std::move(respond));
    case Ep::positions: return get_positions(req, *who, std::move(respond));
    case Ep::track_import: return post_track_import(std::move(req), *who, std::move(respond));
    case Ep::audit: return get_audit(req, std::move(respond));
    case Ep::none: break;
  }
  fail(Errc::internal);
}

void Api::post_areas(Request&& req, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  if (!d_.upload_areas) return respond(failed(Error{Errc::not_found, "areas cannot be loaded here"}, v, ka));
  std::string kind = url_decode(query_param(req.target(), "kind"));
  if (!kind.empty() && !valid_id(kind))
    return respond(bad_request(req, "kind is 1-64 characters: letters, digits, - _ . :"));
  // Parsing and GEOS checks run on the area worker, not on this I/O thread.
  bool queued = d_.upload_areas(std::move(req.body()), std::move(kind), [this, v, ka, respond](AreaUploadResult&& r) {
    if (r.error) return respond(failed(*r.error, v, ka));
    respond(json_response(200, write_area_plan(r.plan), v, ka));
  });
  if (!queued) respond(failed(Error{Errc::overloaded, "area uploads are queued already; try again"}, v, ka));
}

void Api::post_pings(Request&& req, const Principal& who, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  // The decoded pings view the body: keep it alive in this frame until the
  // pipeline has resolved them (resolve copies what it keeps).
  std::string body = std::move(req.body());
  JsonPingBatch batch;
  if (auto err = decode_json_pings(body, d_.cfg.ingest_max_batch, batch)) {
    if (err->code == Errc::bad_format) d_.metrics.ping_rejected(Channel::json, Errc::bad_format);
    d_.metrics.error(err->code);
    return respond(error_response(*err, v, ka));
  }
  submit_pings(batch.pings, batch.positions, std::move(batch.rejections), Channel::json, who, 202, v, ka,
               std::move(respond));
}

void Api::submit_pings(std::span<const RawPing> pings, std::span<const uint32_t> positions,
                       std::vector<Rejection> rejections, Channel channel, const Principal& who, unsigned ok_status,
                       unsigned v, bool ka, Respond respond) {
  if (who.role == Role::device) {
    for (const auto& p : pings)
      if (p.device != who.device) {
        d_.metrics.error(Errc::device_mismatch);
        return respond(error_response(Error{Errc::device_mismatch, {}}, v, ka));
      }
  }
  d_.pipeline.submit(pings, positions, std::move(rejections), channel,
                     [respond = std::move(respond), v, ka, ok_status](IngestOutcome&& o) {
                       if (o.error) return respond(error_response(*o.error, v, ka));
                       rapidjson::StringBuffer sb;
                       Writer w(sb);
                       write_outcome(w, o);
                       respond(json_response(ok_status, sb.GetString(), v, ka));
                     });
}

void Api::osmand(Request&& req, const Principal& who, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  DecodedPings decoded;
  std::string_view target = req.target();
  std::string_view content_type = req[http::field::content_type];
  std::string body = std::move(req.body());
  if (req.method() == http::verb::post && content_type.find("json") != std::string_view::npos) {
    // Newer Traccar Client versions post JSON.
    if (auto err = decode_traccar_json(body, decoded, d_.cfg.ingest_max_batch)) {
      if (err->code == Errc::bad_format) d_.metrics.ping_rejected(Channel::osmand, Errc::bad_format);
      d_.metrics.error(err->code);
      return respond(error_response(*err, v, ka));
    }
  } else {
    // Query string (GET, or POST with an empty body) or a form body.
    std::string_view params = !body.empty() ? std::string_view(body) : target.substr(std::min(target.size(), target.find('?') + 1));
    if (target.find('?') == std::string_view::npos && body.empty()) params = {};
    decode_osmand_query(params, d_.clock.now_ms(), decoded);
  }
  // The apps only look at the status: 200 means "sent", anything else is retried.
  submit_pings(decoded.pings, decoded.positions, std::move(decoded.rejections), Channel::osmand, who, 200, v, ka,
               std::move(respond));
}

void Api::post_rota(const Request& req, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  d_.rota.add_csv(req.body(), [respond = std::move(respond), v, ka](RotaLoadResult&& r) {
    if (r.store_error) return respond(error_response(Error{Errc::store_failed, {}}, v, ka));
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("loaded"); w.Uint64(r.loaded);
    w.Key("problems"); w.StartArray();
    for (const auto& p : r.problems) {
      w.StartObject();
      w.Key("line"); w.Uint64(p.line);
      w.Key("message"); write_sv(w, p.message);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    respond(json_response(200, sb.GetString(), v, ka));
  });
}

Response Api::get_units(const Request& req) const {
  auto devices = d_.live.devices_view();
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("units");
  w.StartArray();
  with_engine([&](const dispatch::Engine* engine) {
    for (const auto& u : d_.live.units_view())
      if (u.persisted || u.has_fix) write_unit(w, u, &devices, engine);
  });
  w.EndArray();
  w.EndObject();
  return json_response(200, sb.GetString(), req.version(), req.keep_alive());
}

Response Api::get_devices(const Request& req) const {
  auto devices = d_.live.devices_view();
  auto units = d_.live.units_view();
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("devices");
  w.StartArray();
  for (const auto& d : devices) {
    if (!d.persisted) continue;
    w.StartObject();
    w.Key("id"); write_sv(w, d.id);
    w.Key("kind"); write_sv(w, device_kind_name(d.kind));
    w.Key("unit");
    if (d.unit == kNoIndex) w.Null(); else write_sv(w, units[d.unit].id);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return json_response(200, sb.GetString(), req.version(), req.keep_alive());
}

std::optional<Response> Api::static_file(const Request& req, std::string_view path) const {
  // The API's own prefixes never fall through to a file.
  for (std::string_view api : {"/api/", "/osmand", "/metrics", "/healthz"})
    if (path.substr(0, api.size()) == api) return std::nullopt;
  const StaticFile* f = d_.static_files ? d_.static_files->find(path) : nullptr;
  std::string_view body, type, etag;
  if (f) {
    body = f->body;
    type = f->content_type;
    etag = f->etag;
  } else if (path == "/" || path == "/index.html") {
    body = d_.index_html;  // the built-in page when no web root holds one
    type = "text/html; charset=utf-8";
  } else {
    return std::nullopt;
  }
  const bool head = req.method() == http::verb::head;
  const bool not_modified = !etag.empty() && req[http::field::if_none_match] == etag;
  Response res{not_modified ? http::status::not_modified : http::status::ok, req.version()};
  res.keep_alive(req.keep_alive());
  res.set(http::field::content_type, type);
  // File names carry no content hash: revalidate every time (cheap with the ETag).
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  if (!etag.empty()) res.set(http::field::etag, etag);
  if (not_modified) return res;
  if (head) {
    res.content_length(body.size());
    return res;
  }
  res.body() = std::string(body);
  res.prepare_payload();
  return res;
}

Response Api::healthz(const Request& req) const {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("status"); w.String("ok");
  w.Key("live_units"); w.Uint64(d_.live.units_with_fix());
  w.Key("store_queue_pings"); w.Uint64(d_.store.queued_pings());
  w.EndObject();
  return json_response(200, sb.GetString(), req.version(), req.keep_alive());
}

namespace {

// Runs a registry write through the store, then applies it in memory on the
// writer thread (so memory and store change in commit order), then answers.
void store_then(Store& store, std::function<std::optional<std::string>(sql::Db&)> write, std::function<void()> apply,
                std::function<void(const StoreResult&)> answer) {
  store.submit(WriteJob{std::move(write), [apply = std::move(apply), answer = std::move(answer)](const StoreResult& r) {
                          if (r.ok) apply();
                          answer(r);
                        }});
}

}  // namespace

void Api::put_unit(const Request& req, std::string_view id, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  auto p = parse_object(req.body());
  if (p.error) return respond(failed(*p.error, v, ka));
  const auto& doc = p.doc;
  auto existing_idx = d_.live.find_unit(id);
  std::optional<UnitRecord> existing = existing_idx ? d_.live.unit(*existing_idx) : std::nullopt;
  UnitFields f = existing && existing->persisted ? existing->fields : UnitFields{};
  auto bad = [&](std::string m) { respond(failed(Error{Errc::bad_request, std::move(m)}, v, ka)); };
  if (doc.HasMember("type")) {
    if (!doc["type"].IsString() || doc["type"].GetStringLength() == 0 || doc["type"].GetStringLength() > 32)
      return bad("type must be a short string such as car, van, foot");
    f.type = doc["type"].GetString();
  }
  if (doc.HasMember("status")) {
    auto s = doc["status"].IsString() ? parse_unit_status(doc["status"].GetString()) : std::nullopt;
    if (!s) return bad("status must be one of off_duty, available, assigned, en_route, on_scene, unavailable");
    f.status = *s;
  }
  if (doc.HasMember("skills")) {
    if (!doc["skills"].IsArray()) return bad("skills must be an array of strings");
    f.skills.clear();
    for (const auto& s : doc["skills"].GetArray()) {
      if (!s.IsString() || !valid_id(s.GetString())) return bad("each skill must be a short word such as taser");
      f.skills.emplace_back(s.GetString());
    }
  }
  if (doc.HasMember("home_area")) {
    if (!doc["home_area"].IsString() && !doc["home_area"].IsNull()) return bad("home_area must be a string");
    f.home_area = doc["home_area"].IsString() ? doc["home_area"].GetString() : "";
  }
  uint32_t idx = d_.live.reserve_unit(id);
  bool created = !(existing && existing->persisted);
  std::string uid(id);
  auto write = [this, idx, uid, f, created, v, ka, respond] {
    store_then(
        d_.store,
        [idx, uid, f](sql::Db& db) { return upsert_unit_row(db, idx, uid, f); },
        [this, idx, f] { d_.live.set_unit_details(idx, f); },
        [this, idx, created, v, ka, respond](const StoreResult& r) {
          if (!r.ok) return respond(failed(Error{Errc::store_failed, {}}, v, ka));
          rapidjson::StringBuffer sb;
          Writer w(sb);
          with_engine([&](const dispatch::Engine* e) { write_unit(w, *d_.live.unit(idx), nullptr, e); });
          respond(json_response(created ? 201 : 200, sb.GetString(), v, ka));
        });
  };
  // A status change of an existing unit is a dispatch decision (deployment
  // rules, event log); the other fields follow once it is committed.
  if (!created && f.status != existing->fields.status) {
    return d_.dispatch->execute(dispatch::cmd::SetStatus{idx, f.status},
                                [this, write, v, ka, respond](dispatch::Outcome&& r) {
                                  if (!r) return respond(failed(r.error(), v, ka));
                                  write();
                                });
  }
  write();
}

void Api::post_unit_status(const Request& req, std::string_view id, const Principal& who, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  auto p = parse_object(req.body());
  if (p.error) return respond(failed(*p.error, v, ka));
  auto idx = d_.live.find_unit(id);
  if (!idx || !d_.live.unit(*idx)->persisted)
    return respond(failed(Error{Errc::not_found, "no unit " + std::string(id)}, v, ka));
  if (!device_may_act_for(who, *idx))
    return respond(failed(Error{Errc::device_mismatch, "this device is not linked to that unit"}, v, ka));
  auto s = p.doc.HasMember("status") && p.doc["status"].IsString() ? parse_unit_status(p.doc["status"].GetString())
                                                                   : std::nullopt;
  if (!s)
    return respond(failed(
        Error{Errc::bad_request, "status must be one of off_duty, available, assigned, en_route, on_scene, unavailable"},
        v, ka));
  // Statuses change through the dispatch engine (deployment rules, event log).
  const uint32_t u = *idx;
  run_dispatch(
      req, dispatch::cmd::SetStatus{u, *s}, 200,
      [this, u](dispatch::JsonWriter& w, const dispatch::Engine& e, EpochMs, const std::vector<dispatch::Event>&) {
        write_unit(w, *d_.live.unit(u), nullptr, &e);
      },
      std::move(respond));
}

void Api::put_device(const Request& req, std::string_view id, Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  auto p = parse_object(req.body());
  if (p.error) return respond(failed(*p.error, v, ka));
  const auto& doc = p.doc;
  auto existing = d_.live.find_device(id);
  std::optional<DeviceRecord> rec = existing ? d_.live.device(*existing) : std::nullopt;
  DeviceKind kind = rec ? rec->kind : DeviceKind::avl;
  if (doc.HasMember("kind")) {
    auto k = doc["kind"].IsString() ? parse_device_kind(doc["kind"].GetString()) : std::nullopt;
    if (!k) return respond(failed(Error{Errc::bad_request, "kind must be avl, radio or app"}, v, ka));
    kind = *k;
  }
  uint32_t unit = rec ? rec->unit : kNoIndex;
  if (doc.HasMember("unit")) {
    if (doc["unit"].IsNull()) {
      unit = kNoIndex;
    } else if (doc["unit"].IsString()) {
      auto u = d_.live.find_unit(doc["unit"].GetString());
      if (!u || !d_.live.unit(*u)->persisted)
        return respond(failed(
            Error{Errc::not_found, "no unit " + std::string(doc["unit"].GetString()) + "; create it with PUT /api/v1/units/{id}"},
            v, ka));
      unit = *u;
    } else {
      return respond(failed(Error{Errc::bad_request, "unit must be a unit id or null"}, v, ka));
    }
  }
  uint32_t idx = d_.live.reserve_device(id, kind);
  bool created = !(rec && rec->persisted);
  std::string did(id);
  store_then(
      d_.store,
      [idx, did, kind, unit](sql::Db& db) { return upsert_device_row(db, idx, did, kind, unit); },
      [this, idx, kind, unit] { d_.live.link_device(idx, kind, unit); },
      [this, did, kind, unit, created, v, ka, respond](const StoreResult& r) {
        if (!r.ok) return respond(failed(Error{Errc::store_failed, {}}, v, ka));
        rapidjson::StringBuffer sb;
        Writer w(sb);
        w.StartObject();
        w.Key("id"); write_sv(w, did);
        w.Key("kind"); write_sv(w, device_kind_name(kind));
        w.Key("unit");
        if (unit == kNoIndex) w.Null(); else write_sv(w, d_.live.unit(unit)->id);
        w.EndObject();
        respond(json_response(created ? 201 : 200, sb.GetString(), v, ka));
      });
}

}  // namespace pm
