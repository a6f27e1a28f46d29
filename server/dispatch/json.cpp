#include "server/dispatch/json.hpp"

#include <rapidjson/document.h>

#include <cmath>

#include "server/core/time_format.hpp"

namespace pm::dispatch {

namespace {

using Value = rapidjson::Value;

void str(JsonWriter& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void key(JsonWriter& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
void iso_or_null(JsonWriter& w, EpochMs t) {
  if (!t) return (void)w.Null();
  char buf[24];
  format_iso8601(t, buf);
  w.String(buf, 24);
}
void num_or_null(JsonWriter& w, double v) {
  if (std::isfinite(v))
    w.Double(v);
  else
    w.Null();
}
void strings(JsonWriter& w, const std::vector<std::string>& v) {
  w.StartArray();
  for (const auto& s : v) str(w, s);
  w.EndArray();
}
void ids(JsonWriter& w, const std::vector<uint64_t>& v) {
  w.StartArray();
  for (auto id : v) w.Uint64(id);
  w.EndArray();
}
// Rounded for people: 0.1 m, 0.1 s.
double r1(double v) { return std::round(v * 10.0) / 10.0; }

// ---- reading back (store format) ----
struct Reader {
  const Value& v;
  bool ok = true;
  int64_t i64(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsInt64()) return ok = false, 0;
    return it->value.GetInt64();
  }
  uint64_t u64(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsUint64()) return ok = false, 0;
    return it->value.GetUint64();
  }
  double dbl(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsNumber()) return ok = false, 0.0;
    return it->value.GetDouble();
  }
  double dbl_or_inf(const char* k) {
    auto it = v.FindMember(k);
    if (it != v.MemberEnd() && it->value.IsNull()) return std::numeric_limits<double>::infinity();
    return dbl(k);
  }
  bool boolean(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsBool()) return ok = false, false;
    return it->value.GetBool();
  }
  std::string string(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsString()) return ok = false, std::string();
    return {it->value.GetString(), it->value.GetStringLength()};
  }
  std::vector<std::string> strings(const char* k) {
    std::vector<std::string> out;
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsArray()) return ok = false, out;
    for (const auto& s : it->value.GetArray()) {
      if (!s.IsString()) return ok = false, out;
      out.emplace_back(s.GetString(), s.GetStringLength());
    }
    return out;
  }
  std::vector<uint64_t> id_list(const char* k) {
    std::vector<uint64_t> out;
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsArray()) return ok = false, out;
    for (const auto& s : it->value.GetArray()) {
      if (!s.IsUint64()) return ok = false, out;
      out.push_back(s.GetUint64());
    }
    return out;
  }
  const Value* object(const char* k) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || !it->value.IsObject()) return ok = false, nullptr;
    return &it->value;
  }
};

template <class E>
E enum_at(Reader& r, const char* k, size_t count) {
  int64_t i = r.i64(k);
  if (i < 0 || static_cast<size_t>(i) >= count) r.ok = false, i = 0;
  return static_cast<E>(i);
}

void store_recs(JsonWriter& w, const std::vector<Recommendation>& recs) {
  w.StartArray();
  for (const auto& r : recs) {
    w.StartObject();
    key(w, "unit");
    w.Uint(r.unit);
    key(w, "unit_id");
    str(w, r.unit_id);
    key(w, "d");
    w.Double(r.distance_m);
    key(w, "eta");
    w.Double(r.eta_s);
    key(w, "road");
    w.Bool(r.road);
    key(w, "age");
    w.Double(r.fix_age_s);
    key(w, "skills");
    strings(w, r.skills);
    w.EndObject();
  }
  w.EndArray();
}

std::vector<Recommendation> read_recs(Reader& r, const char* k) {
  std::vector<Recommendation> out;
  auto it = r.v.FindMember(k);
  if (it == r.v.MemberEnd() || !it->value.IsArray()) return r.ok = false, out;
  for (const auto& o : it->value.GetArray()) {
    if (!o.IsObject()) return r.ok = false, out;
    Reader e{o};
    Recommendation rec;
    rec.unit = static_cast<uint32_t>(e.u64("unit"));
    rec.unit_id = e.string("unit_id");
    rec.distance_m = e.dbl("d");
    rec.eta_s = e.dbl("eta");
    rec.road = e.boolean("road");
    rec.fix_age_s = e.dbl("age");
    rec.skills = e.strings("skills");
    if (!e.ok) return r.ok = false, out;
    out.push_back(std::move(rec));
  }
  return out;
}

void store_incident(JsonWriter& w, const Incident& inc) {
  const auto& s = inc.spec;
  key(w, "id");
  w.Uint64(inc.id);
  key(w, "grade");
  w.Int(s.grade);
  key(w, "type");
  str(w, s.type);
  key(w, "lat");
  w.Double(s.lat);
  key(w, "lon");
  w.Double(s.lon);
  key(w, "x");
  w.Double(s.xy.x);
  key(w, "y");
  w.Double(s.xy.y);
  key(w, "address");
  str(w, s.address);
  key(w, "caller_ref");
  str(w, s.caller_ref);
  key(w, "skills");
  strings(w, s.required_skills);
  key(w, "apt_from");
  w.Int64(s.appointment_from);
  key(w, "apt_to");
  w.Int64(s.appointment_to);
  key(w, "urban");
  w.Bool(s.urban);
  key(w, "created");
  w.Int64(inc.created);
  key(w, "deadline");
  w.Int64(inc.deadline);
  key(w, "flags_location");
  ids(w, inc.flags.repeat_location);
  key(w, "flags_caller");
  ids(w, inc.flags.repeat_caller);
  key(w, "flags_flagged");
  ids(w, inc.flags.locations);
}

Incident read_incident(Reader& r) {
  Incident inc;
  auto& s = inc.spec;
  inc.id = r.u64("id");
  s.grade = static_cast<int>(r.i64("grade"));
  s.type = r.string("type");
  s.lat = r.dbl("lat");
  s.lon = r.dbl("lon");
  s.xy = {r.dbl("x"), r.dbl("y")};
  s.address = r.string("address");
  s.caller_ref = r.string("caller_ref");
  s.required_skills = r.strings("skills");
  s.appointment_from = r.i64("apt_from");
  s.appointment_to = r.i64("apt_to");
  s.urban = r.boolean("urban");
  inc.created = r.i64("created");
  inc.deadline = r.i64("deadline");
  inc.flags.repeat_location = r.id_list("flags_location");
  inc.flags.repeat_caller = r.id_list("flags_caller");
  inc.flags.locations = r.id_list("flags_flagged");
  return inc;
}

void store_alert(JsonWriter& w, const Alert& a) {
  key(w, "id");
  w.Uint64(a.id);
  key(w, "alert");
  w.Int(static_cast<int>(a.kind));
  key(w, "at");
  w.Int64(a.t);
  key(w, "incident");
  w.Uint64(a.incident);
  key(w, "unit");
  w.Uint(a.unit);
  key(w, "unit_id");
  str(w, a.unit_id);
  key(w, "pos");
  w.Bool(a.has_position);
  key(w, "lat");
  w.Double(a.lat);
  key(w, "lon");
  w.Double(a.lon);
  key(w, "eta");
  num_or_null(w, a.eta_s);
  key(w, "left");
  w.Double(a.time_left_s);
  key(w, "nearest");
  store_recs(w, a.nearest);
  if (a.kind == AlertKind::patrol_gap) {
    key(w, "area");
    str(w, a.area);
    key(w, "area_name");
    str(w, a.area_name);
    key(w, "unvisited_s");
    w.Double(a.unvisited_s);
    key(w, "max_gap_min");
    w.Double(a.max_gap_minutes);
  }
}

Alert read_alert(Reader& r) {
  Alert a;
  a.id = r.u64("id");
  a.kind = enum_at<AlertKind>(r, "alert", 4);
  a.t = r.i64("at");
  a.incident = r.u64("incident");
  a.unit = static_cast<uint32_t>(r.u64("unit"));
  a.unit_id = r.string("unit_id");
  a.has_position = r.boolean("pos");
  a.lat = r.dbl("lat");
  a.lon = r.dbl("lon");
  a.eta_s = r.dbl_or_inf("eta");
  a.time_left_s = r.dbl("left");
  a.nearest = read_recs(r, "nearest");
  if (a.kind == AlertKind::patrol_gap) {
    a.area = r.string("area");
    a.area_name = r.string("area_name");
    a.unvisited_s = r.dbl("unvisited_s");
    a.max_gap_minutes = r.dbl("max_gap_min");
  }
  return a;
}

void store_location(JsonWriter& w, const FlaggedLocation& l) {
  key(w, "id");
  w.Uint64(l.id);
  key(w, "lat");
  w.Double(l.lat);
  key(w, "lon");
  w.Double(l.lon);
  key(w, "x");
  w.Double(l.xy.x);
  key(w, "y");
  w.Double(l.xy.y);
  key(w, "radius_m");
  w.Double(l.radius_m);
  key(w, "flags");
  strings(w, l.flags);
  key(w, "note");
  str(w, l.note);
  key(w, "created");
  w.Int64(l.created);
}

FlaggedLocation read_location(Reader& r) {
  FlaggedLocation l;
  l.id = r.u64("id");
  l.lat = r.dbl("lat");
  l.lon = r.dbl("lon");
  l.xy = {r.dbl("x"), r.dbl("y")};
  l.radius_m = r.dbl("radius_m");
  l.flags = r.strings("flags");
  l.note = r.string("note");
  l.created = r.i64("created");
  return l;
}

}  // namespace

std::string event_kind(const Event& e) {
  return std::visit(
      [](const auto& b) -> std::string {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ev::IncidentCreated>)
          return "incident_created";
        else if constexpr (std::is_same_v<T, ev::UnitAssigned>)
          return "unit_assigned";
        else if constexpr (std::is_same_v<T, ev::StageReached>)
          return "stage_reached";
        else if constexpr (std::is_same_v<T, ev::SelfDeployed>)
          return "self_deployed";
        else if constexpr (std::is_same_v<T, ev::IncidentClosed>)
          return "incident_closed";
        else if constexpr (std::is_same_v<T, ev::UnitStatusChanged>)
          return "unit_status";
        else if constexpr (std::is_same_v<T, ev::AlertRaised>)
          return "alert_raised";
        else if constexpr (std::is_same_v<T, ev::AlertEnded>)
          return "alert_ended";
        else
          return "location_flagged";
      },
      e.body);
}

std::string event_to_json(const Event& e) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  key(w, "kind");
  str(w, event_kind(e));
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ev::IncidentCreated>) {
          store_incident(w, b.incident);
        } else if constexpr (std::is_same_v<T, ev::UnitAssigned>) {
          key(w, "incident");
          w.Uint64(b.incident);
          key(w, "unit");
          w.Uint(b.unit);
          key(w, "unit_id");
          str(w, b.unit_id);
          key(w, "forced");
          w.Bool(b.forced);
        } else if constexpr (std::is_same_v<T, ev::StageReached>) {
          key(w, "incident");
          w.Uint64(b.incident);
          key(w, "unit");
          w.Uint(b.unit);
          key(w, "unit_id");
          str(w, b.unit_id);
          key(w, "stage");
          w.Int(static_cast<int>(b.stage));
          key(w, "automatic");
          w.Bool(b.automatic);
        } else if constexpr (std::is_same_v<T, ev::SelfDeployed>) {
          key(w, "incident");
          w.Uint64(b.incident);
          key(w, "unit");
          w.Uint(b.unit);
          key(w, "unit_id");
          str(w, b.unit_id);
        } else if constexpr (std::is_same_v<T, ev::IncidentClosed>) {
          key(w, "incident");
          w.Uint64(b.incident);
        } else if constexpr (std::is_same_v<T, ev::UnitStatusChanged>) {
          key(w, "unit");
          w.Uint(b.unit);
          key(w, "unit_id");
          str(w, b.unit_id);
          key(w, "from");
          w.Int(static_cast<int>(b.from));
          key(w, "to");
          w.Int(static_cast<int>(b.to));
          key(w, "incident");
          w.Uint64(b.incident);
        } else if constexpr (std::is_same_v<T, ev::AlertRaised>) {
          store_alert(w, b.alert);
        } else if constexpr (std::is_same_v<T, ev::AlertEnded>) {
          key(w, "alert_id");
          w.Uint64(b.alert);
          key(w, "acknowledged");
          w.Bool(b.acknowledged);
        } else {
          store_location(w, b.location);
        }
      },
      e.body);
  w.EndObject();
  return sb.GetString();
}

std::optional<Event> event_from_json(std::string_view json, EpochMs t) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  Reader r{doc};
  const std::string kind = r.string("kind");
  Event e;
  e.t = t;
  if (kind == "incident_created") {
    e.body = ev::IncidentCreated{read_incident(r)};
  } else if (kind == "unit_assigned") {
    e.body = ev::UnitAssigned{r.u64("incident"), static_cast<uint32_t>(r.u64("unit")), r.string("unit_id"),
                              r.boolean("forced")};
  } else if (kind == "stage_reached") {
    ev::StageReached b{r.u64("incident"), static_cast<uint32_t>(r.u64("unit")), r.string("unit_id")};
    b.stage = enum_at<Stage>(r, "stage", 3);
    b.automatic = r.boolean("automatic");
    e.body = std::move(b);
  } else if (kind == "self_deployed") {
    e.body = ev::SelfDeployed{r.u64("incident"), static_cast<uint32_t>(r.u64("unit")), r.string("unit_id")};
  } else if (kind == "incident_closed") {
    e.body = ev::IncidentClosed{r.u64("incident")};
  } else if (kind == "unit_status") {
    ev::UnitStatusChanged b{static_cast<uint32_t>(r.u64("unit")), r.string("unit_id")};
    b.from = enum_at<UnitStatus>(r, "from", 6);
    b.to = enum_at<UnitStatus>(r, "to", 6);
    b.incident = r.u64("incident");
    e.body = std::move(b);
  } else if (kind == "alert_raised") {
    e.body = ev::AlertRaised{read_alert(r)};
  } else if (kind == "alert_ended") {
    e.body = ev::AlertEnded{r.u64("alert_id"), r.boolean("acknowledged")};
  } else if (kind == "location_flagged") {
    e.body = ev::LocationFlagged{read_location(r)};
  } else {
    return std::nullopt;
  }
  if (!r.ok) return std::nullopt;
  return e;
}

// ---- API shapes ----

void write_recommendations(JsonWriter& w, const std::vector<Recommendation>& recs) {
  w.StartArray();
  for (const auto& r : recs) {
    w.StartObject();
    key(w, "unit");
    str(w, r.unit_id);
    key(w, "distance_m");
    w.Double(r1(r.distance_m));
    key(w, "eta_s");
    w.Double(r1(r.eta_s));
    key(w, "method");
    str(w, r.road ? "road" : "straight_line");
    key(w, "fix_age_s");
    w.Double(r1(r.fix_age_s));
    key(w, "skills");
    strings(w, r.skills);
    w.EndObject();
  }
  w.EndArray();
}

void write_location(JsonWriter& w, const FlaggedLocation& l) {
  w.StartObject();
  key(w, "id");
  w.Uint64(l.id);
  key(w, "lat");
  w.Double(l.lat);
  key(w, "lon");
  w.Double(l.lon);
  key(w, "radius_m");
  w.Double(l.radius_m);
  key(w, "flags");
  strings(w, l.flags);
  key(w, "note");
  str(w, l.note);
  key(w, "created");
  iso_or_null(w, l.created);
  w.EndObject();
}

void write_incident(JsonWriter& w, const Incident& inc, const ApiJson& ctx, const std::vector<Recommendation>* recs) {
  const auto& s = inc.spec;
  w.StartObject();
  key(w, "id");
  w.Uint64(inc.id);
  key(w, "grade");
  w.Int(s.grade);
  key(w, "type");
  str(w, s.type);
  key(w, "lat");
  w.Double(s.lat);
  key(w, "lon");
  w.Double(s.lon);
  key(w, "address");
  str(w, s.address);
  key(w, "caller_ref");
  str(w, s.caller_ref);
  key(w, "required_skills");
  strings(w, s.required_skills);
  key(w, "appointment");
  if (s.appointment_to) {
    w.StartObject();
    key(w, "from");
    iso_or_null(w, s.appointment_from);
    key(w, "to");
    iso_or_null(w, s.appointment_to);
    w.EndObject();
  } else {
    w.Null();
  }
  key(w, "urban");
  w.Bool(s.urban);
  key(w, "status");
  str(w, incident_status_name(inc.status));
  key(w, "created");
  iso_or_null(w, inc.created);
  key(w, "target");
  iso_or_null(w, inc.deadline);
  key(w, "time_left_s");
  if (inc.deadline && !inc.first_on_scene && inc.status != IncidentStatus::closed)
    w.Double(static_cast<double>(inc.deadline - ctx.now) / 1000.0);
  else
    w.Null();
  key(w, "first_on_scene");
  iso_or_null(w, inc.first_on_scene);
  key(w, "response_s");
  if (auto r = inc.response_ms())
    w.Double(static_cast<double>(*r) / 1000.0);
  else
    w.Null();
  key(w, "breach_predicted");
  w.Bool(inc.breach_predicted);
  key(w, "breached");
  w.Bool(inc.breached);
  key(w, "closed");
  iso_or_null(w, inc.closed);
  key(w, "flags");
  w.StartObject();
  key(w, "repeat_location");
  w.StartObject();
  key(w, "count");
  w.Uint64(inc.flags.repeat_location.size());
  key(w, "ids");
  ids(w, inc.flags.repeat_location);
  w.EndObject();
  key(w, "repeat_caller");
  w.StartObject();
  key(w, "count");
  w.Uint64(inc.flags.repeat_caller.size());
  key(w, "ids");
  ids(w, inc.flags.repeat_caller);
  w.EndObject();
  key(w, "locations");
  w.StartArray();
  for (uint64_t id : inc.flags.locations) {
    const FlaggedLocation* l = nullptr;
    if (ctx.engine)
      for (const auto* c : ctx.engine->locations())
        if (c->id == id) l = c;
    if (l)
      write_location(w, *l);
    else
      w.Uint64(id);
  }
  w.EndArray();
  w.EndObject();
  key(w, "assignments");
  w.StartArray();
  for (const auto& as : inc.assignments) {
    w.StartObject();
    key(w, "unit");
    str(w, as.unit_id);
    key(w, "assigned");
    iso_or_null(w, as.assigned);
    key(w, "en_route");
    iso_or_null(w, as.en_route);
    key(w, "on_scene");
    iso_or_null(w, as.on_scene);
    key(w, "cleared");
    iso_or_null(w, as.cleared);
    key(w, "multiple_deployment");
    w.Bool(as.forced);
    key(w, "self_deployed");
    w.Bool(as.self_deployed);
    key(w, "auto_on_scene");
    w.Bool(as.auto_on_scene);
    w.EndObject();
  }
  w.EndArray();
  if (recs) {
    key(w, "recommendations");
    write_recommendations(w, *recs);
  }
  w.EndObject();
}

void write_alert(JsonWriter& w, const Alert& a, const Engine* engine) {
  w.StartObject();
  key(w, "id");
  w.Uint64(a.id);
  key(w, "kind");
  str(w, alert_kind_name(a.kind));
  key(w, "time");
  iso_or_null(w, a.t);
  key(w, "active");
  w.Bool(a.active);
  key(w, "acknowledged");
  iso_or_null(w, a.acknowledged);
  key(w, "unit");
  if (a.unit_id.empty())
    w.Null();
  else
    str(w, a.unit_id);
  key(w, "incident");
  if (a.incident)
    w.Uint64(a.incident);
  else
    w.Null();
  key(w, "lat");
  a.has_position ? w.Double(a.lat) : w.Null();
  key(w, "lon");
  a.has_position ? w.Double(a.lon) : w.Null();
  if (a.kind == AlertKind::predicted_breach) {
    key(w, "eta_s");
    std::isfinite(a.eta_s) ? w.Double(r1(a.eta_s)) : w.Null();
    key(w, "time_left_s");
    w.Double(r1(a.time_left_s));
  }
  if (a.kind == AlertKind::officer_emergency) {
    key(w, "nearest");
    write_recommendations(w, a.nearest);
  }
  if (a.kind == AlertKind::patrol_gap) {
    key(w, "area");
    str(w, a.area);
    key(w, "area_name");
    str(w, a.area_name);
    key(w, "unvisited_s");
    w.Double(r1(a.unvisited_s));
    key(w, "max_gap_minutes");
    w.Double(a.max_gap_minutes);
  }
  if (engine && a.incident)
    if (const Incident* inc = engine->incident(a.incident)) {
      key(w, "grade");
      w.Int(inc->spec.grade);
    }
  w.EndObject();
}

void write_event_api(JsonWriter& w, const Event& e, const Engine* engine) {
  w.StartObject();
  key(w, "type");
  str(w, event_kind(e));
  key(w, "time");
  iso_or_null(w, e.t);
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ev::IncidentCreated> || std::is_same_v<T, ev::IncidentClosed>) {
          uint64_t id;
          if constexpr (std::is_same_v<T, ev::IncidentCreated>)
            id = b.incident.id;
          else
            id = b.incident;
          key(w, "incident");
          w.Uint64(id);
        } else if constexpr (std::is_same_v<T, ev::UnitAssigned> || std::is_same_v<T, ev::SelfDeployed>) {
          key(w, "incident");
          w.Uint64(b.incident);
          key(w, "unit");
          str(w, b.unit_id);
        } else if constexpr (std::is_same_v<T, ev::StageReached>) {
          key(w, "incident");
          w.Uint64(b.incident);
          key(w, "unit");
          str(w, b.unit_id);
          key(w, "stage");
          str(w, stage_name(b.stage));
          key(w, "automatic");
          w.Bool(b.automatic);
        } else if constexpr (std::is_same_v<T, ev::UnitStatusChanged>) {
          key(w, "unit");
          str(w, b.unit_id);
          key(w, "from");
          str(w, unit_status_name(b.from));
          key(w, "to");
          str(w, unit_status_name(b.to));
        } else if constexpr (std::is_same_v<T, ev::AlertRaised>) {
          key(w, "alert");
          write_alert(w, b.alert, engine);
        } else if constexpr (std::is_same_v<T, ev::AlertEnded>) {
          key(w, "alert_id");
          w.Uint64(b.alert);
          key(w, "acknowledged");
          w.Bool(b.acknowledged);
        } else {
          key(w, "location");
          write_location(w, b.location);
        }
      },
      e.body);
  w.EndObject();
}

}  // namespace pm::dispatch
