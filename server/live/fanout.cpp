#include "server/live/fanout.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>

#include "server/core/time_format.hpp"

namespace pm::live {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
// Speeds and headings to 0.01 (they arrive as floats: 8.1f would print as 8.100000381469727).
void opt_num(Writer& w, float v) {
  if (std::isfinite(v))
    w.Double(std::round(static_cast<double>(v) * 100) / 100);
  else
    w.Null();
}

void write_unit(Writer& w, const UnitState& u) {
  w.StartObject();
  w.Key("id");
  str(w, u.id);
  w.Key("type");
  str(w, u.type);
  w.Key("status");
  str(w, unit_status_name(u.status));
  w.Key("skills");
  w.StartArray();
  for (const auto& s : u.skills) str(w, s);
  w.EndArray();
  if (u.has_fix) {
    // 1e-7 degrees (about 1 cm): the map needs no more, and a county-wide
    // delta to hundreds of screens is mostly these digits.
    w.Key("lat");
    w.Double(std::round(u.lat * 1e7) / 1e7);
    w.Key("lon");
    w.Double(std::round(u.lon * 1e7) / 1e7);
    w.Key("speed_mps");
    opt_num(w, u.speed_mps);
    w.Key("heading_deg");
    opt_num(w, u.heading_deg);
    char t[24];
    format_iso8601(u.fix_time, t);
    w.Key("fix_time");
    w.String(t, 24);
    w.Key("source");
    str(w, channel_name(u.source));
  } else {
    for (const char* k : {"lat", "lon", "speed_mps", "heading_deg", "fix_time", "source"}) {
      w.Key(k);
      w.Null();
    }
  }
  w.Key("incident");
  if (u.incident)
    w.Uint64(u.incident);
  else
    w.Null();
  w.Key("emergency");
  w.Bool(u.emergency);
  w.EndObject();
}

int64_t cell_of(double deg) { return static_cast<int64_t>(std::floor(deg / FanOut::kCellDeg)); }
int64_t cell_key(int64_t cx, int64_t cy) {
  return static_cast<int64_t>((static_cast<uint64_t>(cx) << 32) ^ static_cast<uint32_t>(cy));
}
bool inside(const Bbox& b, const UnitState* u) { return u && u->has_fix && b.contains(u->lon, u->lat); }
bool inside(const Bbox& b, double lon, double lat) {
  return !std::isfinite(lon) || !std::isfinite(lat) || b.contains(lon, lat);
}

// Sorted by id so frames are deterministic.
template <class Map>
void sorted_json(const Map& m, std::vector<std::shared_ptr<const std::string>>& out) {
  std::vector<std::pair<uint64_t, std::shared_ptr<const std::string>>> v(m.begin(), m.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [id, json] : v) out.push_back(std::move(json));
}

}  // namespace

UnitState unit_state(const UnitRecord& u, uint64_t incident, bool emergency) {
  UnitState s;
  s.index = u.index;
  s.id = u.id;
  s.type = u.fields.type;
  s.status = u.fields.status;
  s.skills = u.fields.skills;
  s.has_fix = u.has_fix;
  if (u.has_fix) {
    s.lat = u.last.lat;
    s.lon = u.last.lon;
    s.speed_mps = u.last.speed_mps;
    s.heading_deg = u.last.heading_deg;
    s.fix_time = u.last.t;
    s.source = u.last.channel;
  }
  s.incident = incident;
  s.emergency = emergency || (u.has_fix && u.last.emergency);
  return s;
}

std::string unit_json(const UnitState& u) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  write_unit(w, u);
  return {buf.GetString(), buf.GetSize()};
}

// What a subscriber is sent, cut under the lock, written after it.
struct FanOut::Frame {
  bool snapshot = false;
  std::vector<UnitPtr> units;
  std::vector<std::string> removed;
  std::vector<JsonPtr> incidents;
  std::vector<JsonPtr> alerts;
  bool empty() const { return !snapshot && units.empty() && removed.empty() && incidents.empty() && alerts.empty(); }

  // Everything after the prefix ({"type":...,"seq":n), assembled by hand
  // into one reserved string: a county-wide delta is thousands of unit
  // objects, each already JSON, copied once.
  std::string body() const {
    size_t n = 64;
    for (const auto& u : units) n += u->json.size() + 1;
    for (const auto& id : removed) n += id.size() * 2 + 3;
    for (const auto* list : {&incidents, &alerts})
      for (const auto& j : *list) n += j->size() + 1;
    std::string out;
    out.reserve(n);
    auto list = [&](const char* key, const auto& items, auto&& text) {
      out += key;
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += text(items[i]);
      }
      out += ']';
    };
    list(R"(,"units":[)", units, [](const UnitPtr& u) -> const std::string& { return u->json; });
    if (!snapshot) {
      list(R"(,"removed":[)", removed, [](const std::string& id) {
        rapidjson::StringBuffer buf;
        Writer w(buf);
        str(w, id);
        return std::string(buf.GetString(), buf.GetSize());
      });
    }
    list(R"(,"incidents":[)", incidents, [](const JsonPtr& j) -> const std::string& { return *j; });
    list(R"(,"alerts":[)", alerts, [](const JsonPtr& j) -> const std::string& { return *j; });
    out += '}';
    return out;
  }
  std::string write(uint64_t seq) const {
    if (empty()) return {};
    return FanOut::frame_prefix(snapshot, seq) + body();
  }
};

std::string FanOut::frame_prefix(bool snapshot, uint64_t seq) {
  std::string p = snapshot ? R"({"type":"snapshot","seq":)" : R"({"type":"delta","seq":)";
  p += std::to_string(seq);
  return p;
}

FanOut::FanOut(FanOutOptions opt) : opt_(opt) {}

bool FanOut::wide(const Bbox& b) const {
  if (!std::isfinite(b.west) || !std::isfinite(b.east) || !std::isfinite(b.south) || !std::isfinite(b.north))
    return true;
  double cells = (std::floor(b.east / kCellDeg) - std::floor(b.west / kCellDeg) + 1) *
                 (std::floor(b.north / kCellDeg) - std::floor(b.south / kCellDeg) + 1);
  return cells > static_cast<double>(kMaxGridCells);
}

void FanOut::index_locked(SubscriberId id, const Subscriber& s) {
  if (!(s.layers & kUnits)) return;
  if (wide(s.bbox)) return wide_.push_back(id);
  for (int64_t cx = cell_of(s.bbox.west); cx <= cell_of(s.bbox.east); ++cx)
    for (int64_t cy = cell_of(s.bbox.south); cy <= cell_of(s.bbox.north); ++cy) grid_[cell_key(cx, cy)].push_back(id);
}

void FanOut::unindex_locked(SubscriberId id, const Subscriber& s) {
  if (!(s.layers & kUnits)) return;
  if (wide(s.bbox)) return (void)std::erase(wide_, id);
  for (int64_t cx = cell_of(s.bbox.west); cx <= cell_of(s.bbox.east); ++cx)
    for (int64_t cy = cell_of(s.bbox.south); cy <= cell_of(s.bbox.north); ++cy) {
      auto it = grid_.find(cell_key(cx, cy));
      if (it == grid_.end()) continue;
      std::erase(it->second, id);
      if (it->second.empty()) grid_.erase(it);
    }
}

SubscriberId FanOut::add_subscriber(const Bbox& bbox, uint8_t layers, EpochMs now) {
  std::lock_guard lock(mu_);
  SubscriberId id = next_id_++;
  Subscriber& s = subs_[id];
  s.bbox = bbox;
  s.layers = layers;
  s.last_drain = now;
  index_locked(id, s);
  return id;
}

void FanOut::remove_subscriber(SubscriberId sub) {
  std::lock_guard lock(mu_);
  auto it = subs_.find(sub);
  if (it == subs_.end()) return;
  unindex_locked(sub, it->second);
  subs_.erase(it);
}

bool FanOut::admit_locked(Subscriber& s, EpochMs now, bool grows) {
  if (s.needs_snapshot) return false;
  bool full = grows && s.pending_size() >= opt_.max_pending;
  if (!full && now - s.last_drain <= opt_.max_lag_ms) return true;
  // Too far behind: forget the deltas (memory stays bounded); a snapshot follows.
  s.pending_units = {};  // memory back, not just zeroed
  s.visible = {};
  s.pending_incidents = {};
  s.pending_alerts = {};
  s.needs_snapshot = true;
  ++s.overflows;
  return false;
}

void FanOut::mark_unit_locked(Subscriber& s, uint32_t unit, EpochMs now) {
  bool grows = !s.pending_units.contains(unit);
  if (admit_locked(s, now, grows) && grows) s.pending_units.insert(unit);
}

void FanOut::route_unit_locked(const UnitState* old, const UnitState& st, EpochMs now) {
  // Keeps the invariant: pending, or visible == inside(bbox, latest).
  auto visit = [&](const std::vector<SubscriberId>& ids) {
    for (SubscriberId id : ids) {
      Subscriber& s = subs_.find(id)->second;
      if (inside(s.bbox, old) || inside(s.bbox, &st)) mark_unit_locked(s, st.index, now);
    }
  };
  auto visit_cell = [&](const UnitState* u) {
    if (!u || !u->has_fix) return;
    auto it = grid_.find(cell_key(cell_of(u->lon), cell_of(u->lat)));
    if (it != grid_.end()) visit(it->second);
  };
  visit_cell(old);
  if (!old || !old->has_fix || cell_of(old->lon) != cell_of(st.lon) || cell_of(old->lat) != cell_of(st.lat))
    visit_cell(&st);
  visit(wide_);
}

void FanOut::publish_units(std::span<const UnitState> units, EpochMs now) {
  thread_local std::vector<UnitPtr> next;
  next.clear();
  for (const auto& u : units) {
    if (u.index == kNoIndex) continue;
    auto p = std::make_shared<PublishedUnit>();
    static_cast<UnitState&>(*p) = u;
    p->json = unit_json(u);
    next.push_back(std::move(p));
  }
  std::lock_guard lock(mu_);
  for (auto& p : next) {
    if (p->index >= units_.size()) units_.resize(p->index + 1);
    route_unit_locked(units_[p->index].get(), *p, now);
    units_[p->index] = std::move(p);
  }
  next.clear();
}

void FanOut::publish_incident(uint64_t id, std::string json, double lat, double lon, bool open, EpochMs now) {
  auto ptr = std::make_shared<const std::string>(std::move(json));
  std::lock_guard lock(mu_);
  if (open)
    incidents_[id] = Incident{ptr, lat, lon};
  else
    incidents_.erase(id);
  for (auto& [sid, s] : subs_) {
    if (!(s.layers & kIncidents) || !inside(s.bbox, lon, lat)) continue;
    if (admit_locked(s, now, !s.pending_incidents.contains(id))) s.pending_incidents[id] = ptr;
  }
}

void FanOut::publish_alert(uint64_t id, std::string json, bool active, EpochMs now) {
  auto ptr = std::make_shared<const std::string>(std::move(json));
  std::lock_guard lock(mu_);
  if (active)
    alerts_[id] = ptr;
  else
    alerts_.erase(id);
  for (auto& [sid, s] : subs_) {
    if (!(s.layers & kAlerts)) continue;
    if (admit_locked(s, now, !s.pending_alerts.contains(id))) s.pending_alerts[id] = ptr;
  }
}

void FanOut::set_viewport(SubscriberId sub, const Bbox& bbox) {
  std::lock_guard lock(mu_);
  auto it = subs_.find(sub);
  if (it == subs_.end()) return;
  set_viewport_locked(sub, it->second, bbox);
}

void FanOut::request_viewport(SubscriberId sub, const Bbox& bbox) {
  std::lock_guard lock(mu_);
  auto it = subs_.find(sub);
  if (it == subs_.end()) return;
  it->second.next_bbox = bbox;
  it->second.has_next_bbox = true;
}

void FanOut::apply_next_viewport_locked(SubscriberId id, Subscriber& s) {
  if (!s.has_next_bbox) return;
  s.has_next_bbox = false;
  set_viewport_locked(id, s, s.next_bbox);
}

void FanOut::set_viewport_locked(SubscriberId sub, Subscriber& s, const Bbox& bbox) {
  Bbox old = s.bbox;
  unindex_locked(sub, s);
  s.bbox = bbox;
  index_locked(sub, s);
  if (s.needs_snapshot) return;
  // Not a drain: a viewport change does not reset the lag clock.
  EpochMs now = s.last_drain;
  if (s.layers & kUnits) {
    // Collected first: an overflow clears `visible`.
    std::vector<uint32_t> leaving;
    s.visible.for_each([&](uint32_t v) {
      if (!inside(bbox, units_[v].get())) leaving.push_back(v);
    });
    for (uint32_t v : leaving) mark_unit_locked(s, v, now);
    for (uint32_t i = 0; i < units_.size(); ++i)
      if (inside(bbox, units_[i].get()) && !s.visible.contains(i)) mark_unit_locked(s, i, now);
  }
  if (s.layers & kIncidents)
    for (const auto& [id, inc] : incidents_)
      if (inside(bbox, inc.lon, inc.lat) && !inside(old, inc.lon, inc.lat) &&
          admit_locked(s, now, !s.pending_incidents.contains(id)))
        s.pending_incidents[id] = inc.json;
}

FanOut::Frame FanOut::snapshot_locked(Subscriber& s, EpochMs now) {
  Frame f;
  f.snapshot = true;
  s.pending_units.clear();
  s.pending_incidents.clear();
  s.pending_alerts.clear();
  s.visible.clear();
  if (s.layers & kUnits)
    for (const auto& u : units_)
      if (inside(s.bbox, u.get())) {
        f.units.push_back(u);
        s.visible.insert(u->index);
      }
  if (s.layers & kIncidents) {
    std::unordered_map<uint64_t, JsonPtr> in;
    for (const auto& [id, inc] : incidents_)
      if (inside(s.bbox, inc.lon, inc.lat)) in.emplace(id, inc.json);
    sorted_json(in, f.incidents);
  }
  if (s.layers & kAlerts) sorted_json(alerts_, f.alerts);
  s.needs_snapshot = false;
  s.last_drain = now;
  return f;
}

FanOut::Frame FanOut::delta_locked(Subscriber& s, EpochMs now) {
  Frame f;
  s.last_drain = now;
  f.units.reserve(s.pending_units.size());
  s.pending_units.for_each([&](uint32_t i) {
    const UnitPtr& u = units_[i];
    if ((s.layers & kUnits) && inside(s.bbox, u.get())) {
      f.units.push_back(u);
      s.visible.insert(i);
    } else if (s.visible.erase(i)) {
      f.removed.push_back(u->id);
    }
  });
  s.pending_units.clear();
  sorted_json(s.pending_incidents, f.incidents);
  sorted_json(s.pending_alerts, f.alerts);
  s.pending_incidents.clear();
  s.pending_alerts.clear();
  return f;
}

std::string FanOut::take_frame(SubscriberId sub, uint64_t seq, EpochMs now) {
  Frame f;
  {
    std::lock_guard lock(mu_);
    auto it = subs_.find(sub);
    if (it == subs_.end()) return {};
    apply_next_viewport_locked(sub, it->second);
    f = it->second.needs_snapshot ? snapshot_locked(it->second, now) : delta_locked(it->second, now);
  }
  return f.write(seq);
}

std::string FanOut::snapshot(SubscriberId sub, uint64_t seq, EpochMs now) {
  Frame f;
  {
    std::lock_guard lock(mu_);
    auto it = subs_.find(sub);
    if (it == subs_.end()) return {};
    f = snapshot_locked(it->second, now);
  }
  return f.write(seq);
}

std::vector<FanOut::Cut> FanOut::cut_ready(EpochMs now) {
  // A group: subscribers whose state before the cut was identical, so their
  // frames are identical. The first one's frame is cut; the others copy its
  // resulting visible set and share the body.
  struct Group {
    uint64_t key;
    Subscriber before;  // the first member's state before its cut (pending, visible, window, layers)
    const Subscriber* first;
    size_t frame;
  };
  std::vector<Group> groups;
  std::vector<Frame> frames;
  std::vector<std::pair<SubscriberId, size_t>> members;  // subscriber -> frame
  auto same = [](const Subscriber& a, const Subscriber& b) {
    auto eq_map = [](const auto& x, const auto& y) {
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x) {
        auto it = y.find(k);
        if (it == y.end() || it->second != v) return false;
      }
      return true;
    };
    return a.needs_snapshot == b.needs_snapshot && a.layers == b.layers && a.bbox.west == b.bbox.west &&
           a.bbox.south == b.bbox.south && a.bbox.east == b.bbox.east && a.bbox.north == b.bbox.north &&
           (a.needs_snapshot || (a.pending_units == b.pending_units && a.visible == b.visible &&
                                 eq_map(a.pending_incidents, b.pending_incidents) &&
                                 eq_map(a.pending_alerts, b.pending_alerts)));
  };
  {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : subs_) {
      if (!s.ready) continue;
      apply_next_viewport_locked(id, s);
      if (!s.needs_snapshot && s.pending_size() == 0) {
        s.last_drain = now;  // nothing to send counts as keeping up
        continue;
      }
      uint64_t key = std::hash<double>{}(s.bbox.west) ^ (std::hash<double>{}(s.bbox.north) << 1) ^ s.layers ^
                     (s.needs_snapshot ? 0x5a5a5a5aULL : s.pending_units.hash() ^ (s.visible.hash() << 7) ^
                                                            (s.pending_incidents.size() << 3) ^ (s.pending_alerts.size() << 5));
      Group* g = nullptr;
      for (auto& cand : groups)
        if (cand.key == key && same(cand.before, s)) {
          g = &cand;
          break;
        }
      if (g) {
        s.pending_units.clear();
        s.pending_incidents.clear();
        s.pending_alerts.clear();
        s.visible = g->first->visible;
        s.needs_snapshot = false;
        s.last_drain = now;
        if (frames[g->frame].empty()) continue;  // its pending units neither showed nor left: nothing to send
        members.emplace_back(id, g->frame);
      } else {
        Subscriber before;
        before.bbox = s.bbox;
        before.layers = s.layers;
        before.needs_snapshot = s.needs_snapshot;
        if (!s.needs_snapshot) {
          before.pending_units = s.pending_units;
          before.visible = s.visible;
          before.pending_incidents = s.pending_incidents;
          before.pending_alerts = s.pending_alerts;
        }
        frames.push_back(s.needs_snapshot ? snapshot_locked(s, now) : delta_locked(s, now));
        groups.push_back({key, std::move(before), &s, frames.size() - 1});
        if (frames.back().empty()) continue;
        members.emplace_back(id, frames.size() - 1);
      }
      s.ready = false;
    }
  }
  // Bodies are written after the lock is released, once per group.
  std::vector<std::shared_ptr<const std::string>> bodies;
  bodies.reserve(frames.size());
  for (const auto& f : frames) bodies.push_back(std::make_shared<const std::string>(f.body()));
  std::vector<Cut> out;
  out.reserve(members.size());
  for (const auto& [id, fi] : members) out.push_back({id, frames[fi].snapshot, bodies[fi]});
  return out;
}

void FanOut::set_ready(SubscriberId sub) {
  std::lock_guard lock(mu_);
  auto it = subs_.find(sub);
  if (it != subs_.end()) it->second.ready = true;
}

SubscriberStats FanOut::stats(SubscriberId sub) const {
  std::lock_guard lock(mu_);
  auto it = subs_.find(sub);
  if (it == subs_.end()) return {};
  const Subscriber& s = it->second;
  return {s.pending_size(), s.visible.size(), s.overflows, s.needs_snapshot};
}

size_t FanOut::subscriber_count() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

}  // namespace pm::live
