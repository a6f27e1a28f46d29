// The dispatch endpoints (SPEC sections 4 and 11): incidents, recommendations,
// assignment, unit reports, flagged locations, alerts. Every change is a
// command for the dispatch engine; the answer goes out after its events are
// committed.
#include <charconv>
#include <cmath>

#include "server/api/api.hpp"
#include "server/api/api_util.hpp"
#include "server/core/time_format.hpp"
#include "server/dispatch/json.hpp"

namespace pm {

namespace {

using api_util::parse_object;
using api_util::query_param;
namespace dp = dispatch;

// A time given as ISO 8601 or epoch milliseconds.
std::optional<EpochMs> json_time(const rapidjson::Value& v) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsString()) return parse_iso8601({v.GetString(), v.GetStringLength()});
  return std::nullopt;
}

// Reads an array of short words (skills, flags); nullopt when malformed.
std::optional<std::vector<std::string>> words(const rapidjson::Value& doc, const char* key) {
  std::vector<std::string> out;
  auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || it->value.IsNull()) return out;
  if (!it->value.IsArray() || it->value.Size() > 32) return std::nullopt;
  for (const auto& s : it->value.GetArray()) {
    if (!s.IsString() || !valid_id({s.GetString(), s.GetStringLength()})) return std::nullopt;
    out.emplace_back(s.GetString(), s.GetStringLength());
  }
  return out;
}

// An optional string member of at most `max` bytes; nullopt when malformed.
std::optional<std::string> text(const rapidjson::Value& doc, const char* key, size_t max) {
  auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || it->value.IsNull()) return std::string();
  if (!it->value.IsString() || it->value.GetStringLength() > max) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

bool lat_lon(const rapidjson::Value& doc, double& lat, double& lon) {
  if (!doc.HasMember("lat") || !doc.HasMember("lon") || !doc["lat"].IsNumber() || !doc["lon"].IsNumber()) return false;
  lat = doc["lat"].GetDouble();
  lon = doc["lon"].GetDouble();
  return std::isfinite(lat) && std::isfinite(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;
}

size_t query_size(const Request& req, std::string_view name, size_t dflt, size_t max) {
  std::string_view s = query_param(req.target(), name);
  size_t v = dflt;
  if (!s.empty()) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) v = dflt;
  }
  return std::min(std::max<size_t>(v, 1), max);
}

// {"<key>":[...]} with `fill` writing the elements under the dispatch lock.
Response list_response(const Request& req, const dp::DispatchService& d, const char* key,
                       const std::function<void(dp::JsonWriter&, const dp::Engine&, EpochMs)>& fill) {
  rapidjson::StringBuffer sb;
  dp::JsonWriter w(sb);
  w.StartObject();
  w.Key(key);
  w.StartArray();
  d.read([&](const dp::Engine& e, EpochMs now, const LiveState&) {
    fill(w, e, now);
    return 0;
  });
  w.EndArray();
  w.EndObject();
  return json_response(200, sb.GetString(), req.version(), req.keep_alive());
}

}  // namespace

bool Api::device_may_act_for(const Principal& who, uint32_t unit) const {
  if (who.role != Role::device) return true;
  auto d = d_.live.find_device(who.device);
  return d && d_.live.device(*d)->unit == unit;
}

void Api::run_dispatch(
    const Request& req, dp::Command c, unsigned ok_status,
    std::function<void(dp::JsonWriter&, const dp::Engine&, EpochMs, const std::vector<dp::Event>&)> render,
    Respond respond) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  d_.dispatch->execute(std::move(c), [this, v, ka, ok_status, render = std::move(render),
                                      respond = std::move(respond)](dp::Outcome&& r) {
    if (!r) return respond(failed(r.error(), v, ka));
    rapidjson::StringBuffer sb;
    dp::JsonWriter w(sb);
    d_.dispatch->read([&](const dp::Engine& e, EpochMs now, const LiveState&) {
      render(w, e, now, *r);
      return 0;
    });
    respond(json_response(ok_status, sb.GetString(), v, ka));
  });
}

void Api::post_incident(const Request& req, Respond respond) {
  auto p = parse_object(req.body());
  if (p.error) return respond(failed(*p.error, req.version(), req.keep_alive()));
  const auto& doc = p.doc;
  dp::IncidentSpec s;
  if (!doc.HasMember("grade") || !doc["grade"].IsInt() || doc["grade"].GetInt() < 1 || doc["grade"].GetInt() > 3)
    return respond(bad_request(req, "grade must be 1, 2 or 3"));
  s.grade = doc["grade"].GetInt();
  auto type = text(doc, "type", 64);
  if (!type || type->empty()) return respond(bad_request(req, "type is required: a short string such as assault"));
  s.type = *type;
  if (!lat_lon(doc, s.lat, s.lon)) return respond(bad_request(req, "lat and lon are required WGS84 degrees"));
  auto address = text(doc, "address", 256);
  auto caller = text(doc, "caller_ref", 128);
  auto skills = words(doc, "required_skills");
  if (!address) return respond(bad_request(req, "address must be a string of at most 256 bytes"));
  if (!caller) return respond(bad_request(req, "caller_ref must be a string of at most 128 bytes"));
  if (!skills) return respond(bad_request(req, "required_skills must be an array of short words such as afo"));
  s.address = *address;
  s.caller_ref = *caller;
  s.required_skills = *skills;
  if (doc.HasMember("appointment") && !doc["appointment"].IsNull()) {
    const auto& a = doc["appointment"];
    std::optional<EpochMs> from, to;
    if (a.IsObject() && a.HasMember("from") && a.HasMember("to")) {
      from = json_time(a["from"]);
      to = json_time(a["to"]);
    }
    if (!from || !to || *to <= *from)
      return respond(
          bad_request(req, "appointment must be {\"from\",\"to\"} times (ISO 8601 or epoch ms), to after from"));
    s.appointment_from = *from;
    s.appointment_to = *to;
  }
  s.xy = d_.live.projection().forward({s.lon, s.lat});
  const size_t k =
      d_.dispatch->read([](const dp::Engine& e, EpochMs, const LiveState&) { return e.config().default_k; });
  run_dispatch(
      req, dp::cmd::CreateIncident{std::move(s)}, 201,
      [k, &live = d_.live](dp::JsonWriter& w, const dp::Engine& e, EpochMs now, const std::vector<dp::Event>& evs) {
        const auto& created = std::get<dp::ev::IncidentCreated>(evs.front().body).incident;
        const dp::Incident* inc = e.incident(created.id);
        auto recs = e.recommend(*inc, k, now, live);
        dp::write_incident(w, *inc, {now, &e}, &recs);
      },
      std::move(respond));
}

Response Api::get_incidents(const Request& req) const {
  std::string_view status = query_param(req.target(), "status");
  std::optional<dp::IncidentStatus> want;
  bool active_only = false;
  if (status == "active") {
    active_only = true;
  } else if (!status.empty()) {
    want = dp::parse_incident_status(status);
    if (!want) return bad_request(req, "status must be open, assigned, on_scene, closed or active");
  }
  const size_t limit = query_size(req, "limit", 1000, 100000);
  return list_response(req, *d_.dispatch, "incidents", [&](dp::JsonWriter& w, const dp::Engine& e, EpochMs now) {
    size_t n = 0;
    for (const auto* inc : e.incidents(want, active_only)) {
      if (n++ == limit) break;
      dp::write_incident(w, *inc, {now, &e});
    }
  });
}

Response Api::get_incident(const Request& req, uint64_t id) const {
  rapidjson::StringBuffer sb;
  dp::JsonWriter w(sb);
  bool found = d_.dispatch->read([&](const dp::Engine& e, EpochMs now, const LiveState&) {
    const dp::Incident* inc = e.incident(id);
    if (inc) dp::write_incident(w, *inc, {now, &e});
    return inc != nullptr;
  });
  if (!found)
    return failed(Error{Errc::not_found, "no incident " + std::to_string(id)}, req.version(), req.keep_alive());
  return json_response(200, sb.GetString(), req.version(), req.keep_alive());
}

Response Api::get_recommendations(const Request& req, uint64_t id) const {
  rapidjson::StringBuffer sb;
  dp::JsonWriter w(sb);
  bool found = d_.dispatch->read([&](const dp::Engine& e, EpochMs now, const LiveState& live) {
    const dp::Incident* inc = e.incident(id);
    if (!inc) return false;
    const size_t k = query_size(req, "k", e.config().default_k, 100);
    w.StartObject();
    w.Key("incident");
    w.Uint64(id);
    w.Key("recommendations");
    dp::write_recommendations(w, e.recommend(*inc, k, now, live));
    w.EndObject();
    return true;
  });
  if (!found)
    return failed(Error{Errc::not_found, "no incident " + std::to_string(id)}, req.version(), req.keep_alive());
  return json_response(200, sb.GetString(), req.version(), req.keep_alive());
}

namespace {
// The unit named in a body's "unit" member, registered and persisted, or the
// not_found error to answer.
Expected<uint32_t, Error> body_unit(const LiveState& live, const rapidjson::Value& doc) {
  Error missing{Errc::not_found, "unit is required: the id of a registered unit"};
  if (!doc.HasMember("unit") || !doc["unit"].IsString()) return Unexpected{missing};
  auto u = live.find_unit({doc["unit"].GetString(), doc["unit"].GetStringLength()});
  if (!u || !live.unit(*u)->persisted) return Unexpected{missing};
  return *u;
}

void render_incident(dp::JsonWriter& w, const dp::Engine& e, EpochMs now, uint64_t id) {
  if (const dp::Incident* inc = e.incident(id)) dp::write_incident(w, *inc, {now, &e});
}
}  // namespace

void Api::post_assign(const Request& req, uint64_t id, Respond respond) {
  auto p = parse_object(req.body());
  if (p.error) return respond(failed(*p.error, req.version(), req.keep_alive()));
  auto u = body_unit(d_.live, p.doc);
  if (!u) return respond(failed(u.error(), req.version(), req.keep_alive()));
  bool force = false;
  if (p.doc.HasMember("force")) {
    if (!p.doc["force"].IsBool()) return respond(bad_request(req, "force must be true or false"));
    force = p.doc["force"].GetBool();
  }
  run_dispatch(
      req, dp::cmd::Assign{id, *u, force}, 200,
      [id](dp::JsonWriter& w, const dp::Engine& e, EpochMs now, const std::vector<dp::Event>&) {
        render_incident(w, e, now, id);
      },
      std::move(respond));
}

void Api::post_incident_event(const Request& req, uint64_t id, const Principal& who, Respond respond) {
  auto p = parse_object(req.body());
  if (p.error) return respond(failed(*p.error, req.version(), req.keep_alive()));
  auto u = body_unit(d_.live, p.doc);
  if (!u) return respond(failed(u.error(), req.version(), req.keep_alive()));
  auto stage =
      p.doc.HasMember("kind") && p.doc["kind"].IsString() ? dp::parse_stage(p.doc["kind"].GetString()) : std::nullopt;
  if (!stage) return respond(bad_request(req, "kind must be en_route, on_scene or cleared"));
  if (!device_may_act_for(who, *u))
    return respond(failed(Error{Errc::device_mismatch, "this device is not linked to that unit"}, req.version(),
                          req.keep_alive()));
  run_dispatch(
      req, dp::cmd::Report{id, *u, *stage}, 200,
      [id](dp::JsonWriter& w, const dp::Engine& e, EpochMs now, const std::vector<dp::Event>&) {
        render_incident(w, e, now, id);
      },
      std::move(respond));
}

void Api::post_close(const Request& req, uint64_t id, Respond respond) {
  run_dispatch(
      req, dp::cmd::Close{id}, 200,
      [id](dp::JsonWriter& w, const dp::Engine& e, EpochMs now, const std::vector<dp::Event>&) {
        render_incident(w, e, now, id);
      },
      std::move(respond));
}

void Api::post_location(const Request& req, Respond respond) {
  auto p = parse_object(req.body());
  if (p.error) return respond(failed(*p.error, req.version(), req.keep_alive()));
  const auto& doc = p.doc;
  dp::FlaggedLocation l;
  if (!lat_lon(doc, l.lat, l.lon)) return respond(bad_request(req, "lat and lon are required WGS84 degrees"));
  if (!doc.HasMember("radius_m") || !doc["radius_m"].IsNumber())
    return respond(bad_request(req, "radius_m is required: metres, above 0 and at most 5000"));
  l.radius_m = doc["radius_m"].GetDouble();
  auto flags = words(doc, "flags");
  if (!flags || flags->empty())
    return respond(bad_request(req, "flags must be a non-empty array of words such as vulnerable"));
  l.flags = *flags;
  auto note = text(doc, "note", 1024);
  if (!note) return respond(bad_request(req, "note must be a string of at most 1024 bytes"));
  l.note = *note;
  l.xy = d_.live.projection().forward({l.lon, l.lat});
  run_dispatch(
      req, dp::cmd::FlagLocation{std::move(l)}, 201,
      [](dp::JsonWriter& w, const dp::Engine&, EpochMs, const std::vector<dp::Event>& evs) {
        dp::write_location(w, std::get<dp::ev::LocationFlagged>(evs.front().body).location);
      },
      std::move(respond));
}

Response Api::get_locations(const Request& req) const {
  return list_response(req, *d_.dispatch, "locations", [](dp::JsonWriter& w, const dp::Engine& e, EpochMs) {
    for (const auto* l : e.locations()) dp::write_location(w, *l);
  });
}

Response Api::get_alerts(const Request& req) const {
  const bool all = query_param(req.target(), "active") == "false";
  const size_t limit = query_size(req, "limit", 1000, 100000);
  return list_response(req, *d_.dispatch, "alerts", [&](dp::JsonWriter& w, const dp::Engine& e, EpochMs) {
    size_t n = 0;
    for (const auto* a : e.alerts(!all)) {
      if (n++ == limit) break;
      dp::write_alert(w, *a, &e);
    }
  });
}

void Api::post_alert_ack(const Request& req, uint64_t id, Respond respond) {
  run_dispatch(
      req, dp::cmd::AckAlert{id}, 200,
      [id](dp::JsonWriter& w, const dp::Engine& e, EpochMs, const std::vector<dp::Event>&) {
        for (const auto* a : e.alerts(false))
          if (a->id == id) dp::write_alert(w, *a, &e);
      },
      std::move(respond));
}

void Api::post_unit_emergency(const Request& req, std::string_view unit, const Principal& who, Respond respond) {
  auto u = d_.live.find_unit(unit);
  if (!u || !d_.live.unit(*u)->persisted)
    return respond(failed(Error{Errc::not_found, "no unit " + std::string(unit)}, req.version(), req.keep_alive()));
  if (!device_may_act_for(who, *u))
    return respond(failed(Error{Errc::device_mismatch, "this device is not linked to that unit"}, req.version(),
                          req.keep_alive()));
  const uint32_t idx = *u;
  run_dispatch(
      req, dp::cmd::Emergency{idx}, 200,
      [idx](dp::JsonWriter& w, const dp::Engine& e, EpochMs, const std::vector<dp::Event>&) {
        // The unit's active alert: the one just raised, or the one already open.
        for (const auto* a : e.alerts(true))
          if (a->kind == dp::AlertKind::officer_emergency && a->unit == idx) return dp::write_alert(w, *a, &e);
        w.Null();
      },
      std::move(respond));
}

}  // namespace pm
