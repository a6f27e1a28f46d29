#include "server/replay/replay_query.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <unordered_map>

#include "geo/simplify.hpp"
#include "server/core/time_format.hpp"
#include "server/store/track_chunk.hpp"
#include "server/dispatch/json.hpp"
#include "server/store/track_query.hpp"

namespace pm {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Writes the decimal digits of v (>= 0) at p; returns the end.
char* put_uint(char* p, uint64_t v) {
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

// v / 10^decimals as exact decimal text without trailing zeros ("52.6701234",
// "-0.73", "270"): no rounding through a double. At most 22 characters.
char* put_fixed(char* p, int64_t v, int decimals) {
  if (v < 0) {
    *p++ = '-';
    v = -v;
  }
  int64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  p = put_uint(p, static_cast<uint64_t>(v / scale));
  int64_t frac = v % scale;
  if (frac == 0) return p;
  char digits[18];
  for (int i = decimals - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  int keep = decimals;
  while (digits[keep - 1] == '0') --keep;
  *p++ = '.';
  return std::copy(digits, digits + keep, p);
}

// Degrees x 1e7 as exact text; returns the length written into out (at most 13).
size_t e7_text(int64_t v, char* out) { return static_cast<size_t>(put_fixed(out, v, 7) - out); }

char* put_text(char* p, std::string_view s) { return std::copy(s.begin(), s.end(), p); }

// A measurement to 0.01, or null (stored as f32: 8.1 stays 8.1, not 8.100000381...).
char* put_opt(char* p, float v) {
  if (!(std::fabs(v) < 1e12f)) return put_text(p, "null");  // NaN (absent), or no measurement at all
  return put_fixed(p, std::llround(static_cast<double>(v) * 100.0), 2);
}

void write_e7(Writer& w, int64_t v) {
  char buf[16];
  w.RawValue(buf, e7_text(v, buf), rapidjson::kNumberType);  // RawNumber would quote it
}

void write_time(Writer& w, int64_t ms) {
  char buf[24];
  format_iso8601(ms, buf);
  w.String(buf, 24);
}

std::string opt_text(float v) {
  if (std::isnan(v)) return {};
  char buf[32];
  return std::string(buf, put_opt(buf, v));
}

std::string_view source_name(uint8_t channel) {
  return channel < kChannelCount ? channel_name(static_cast<Channel>(channel)) : std::string_view("unknown");
}

void append_fixed(std::string& out, int64_t v, int decimals) {
  char buf[24];
  out.append(buf, put_fixed(buf, v, decimals));
}

void append_e7(std::string& out, int64_t v) { append_fixed(out, v, 7); }

void append_time(std::string& out, int64_t ms) {
  char buf[24];
  format_iso8601(ms, buf);
  out.append(buf, 24);
}

// XML text and attribute escaping (unit ids are plain, but never trust).
void append_xml(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
}

std::string hhmm(int64_t ms) {
  char buf[24];
  format_iso8601(ms, buf);
  return std::string(buf + 11, 5);
}

// One unit's track, analysed, with the indexes to write.
struct UnitOut {
  std::string_view unit;
  std::span<const TrackPoint> pts;
  const std::vector<size_t>& kept;
  const TrackAnalysis& a;
};

// The four formats, written unit by unit (docs/api.md).
class TrackWriter {
 public:
  explicit TrackWriter(const TracksRequest& r) : r_(r), w_(sb_) {
    switch (r_.format) {
      case TrackFormat::json: {
        // Written by hand straight into the answer (no DOM, no copy): fixed
        // keys, unit ids that need no escaping (valid_id), exact numbers.
        text_ = "{\"from\":\"";
        append_time(text_, r_.from);
        text_ += "\",\"to\":\"";
        append_time(text_, r_.to);
        text_ += "\",\"simplify_m\":";
        append_fixed(text_, std::llround(r_.simplify_m * 1000), 3);
        text_ += ",\"units\":[";
        break;
      }
      case TrackFormat::geojson:
        w_.StartObject();
        w_.Key("type"); w_.String("FeatureCollection");
        w_.Key("features"); w_.StartArray();
        break;
      case TrackFormat::gpx: break;
      case TrackFormat::csv: text_ = "unit,time,lat,lon,speed_mps,heading_deg,accuracy_m,source\r\n"; break;
    }
  }

  void add(const UnitOut& u) {
    switch (r_.format) {
      case TrackFormat::json: return add_json(u);
      case TrackFormat::geojson: return add_geojson(u);
      case TrackFormat::gpx: return add_gpx(u);
      case TrackFormat::csv: return add_csv(u);
    }
  }

  std::string finish() {
    switch (r_.format) {
      case TrackFormat::json:
        text_ += "]}";
        return std::move(text_);
      case TrackFormat::geojson:
        w_.EndArray();
        w_.EndObject();
        return {sb_.GetString(), sb_.GetSize()};
      case TrackFormat::gpx: {
        std::string out =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<gpx version=\"1.1\" creator=\"patrolmap\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n";
        out += waypoints_;  // GPX 1.1 orders wpt before trk
        out += text_;
        out += "</gpx>\n";
        return out;
      }
      case TrackFormat::csv: return std::move(text_);
    }
    return {};
  }

 private:
  void add_json(const UnitOut& u) {
    std::string& o = text_;
    if (o.back() != '[') o.push_back(',');
    o += "{\"unit\":\"";
    o += u.unit;
    o += "\",\"fix_count\":";
    append_fixed(o, static_cast<int64_t>(u.pts.size()), 0);
    o += ",\"fixes\":[";
    o.reserve(o.size() + u.kept.size() * 160 + 4096);
    char buf[256];
    bool first = true;
    for (size_t i : u.kept) {
      const TrackPoint& p = u.pts[i];
      char* b = buf;
      if (!first) *b++ = ',';
      first = false;
      b = put_text(b, "{\"time\":\"");
      format_iso8601(p.t, b);
      b = put_text(b + 24, "\",\"lat\":");
      b = put_fixed(b, p.lat_e7, 7);
      b = put_text(b, ",\"lon\":");
      b = put_fixed(b, p.lon_e7, 7);
      b = put_text(b, ",\"speed_mps\":");
      b = put_opt(b, p.speed_mps);
      b = put_text(b, ",\"heading_deg\":");
      b = put_opt(b, p.heading_deg);
      b = put_text(b, ",\"accuracy_m\":");
      b = put_opt(b, p.accuracy_m);
      b = put_text(b, ",\"source\":\"");
      b = put_text(b, source_name(p.channel));
      b = put_text(b, "\"}");
      o.append(buf, static_cast<size_t>(b - buf));
    }
    o += "],\"stops\":[";
    first = true;
    for (const auto& s : u.a.stops) {
      o += first ? "{\"start\":\"" : ",{\"start\":\"";
      first = false;
      append_time(o, s.start);
      o += "\",\"end\":\"";
      append_time(o, s.end);
      o += "\",\"duration_s\":";
      append_fixed(o, s.end - s.start, 3);
      o += ",\"lat\":";
      append_fixed(o, to_e7(s.lat), 7);
      o += ",\"lon\":";
      append_fixed(o, to_e7(s.lon), 7);
      o += "}";
    }
    o += "],\"trips\":[";
    first = true;
    for (const auto& t : u.a.trips) {
      o += first ? "{\"start\":\"" : ",{\"start\":\"";
      first = false;
      append_time(o, t.start);
      o += "\",\"end\":\"";
      append_time(o, t.end);
      o += "\",\"duration_s\":";
      append_fixed(o, t.end - t.start, 3);
      o += ",\"distance_m\":";
      append_fixed(o, std::llround(t.distance_m * 10.0), 1);
      o += "}";
    }
    o += "]}";
  }

  void add_geojson(const UnitOut& u) {
    auto unit = [&] {
      w_.Key("unit");
      w_.String(u.unit.data(), static_cast<rapidjson::SizeType>(u.unit.size()));
    };
    if (u.kept.size() >= 2) {
      w_.StartObject();
      w_.Key("type"); w_.String("Feature");
      w_.Key("geometry"); w_.StartObject();
      w_.Key("type"); w_.String("LineString");
      w_.Key("coordinates"); w_.StartArray();
      for (size_t i : u.kept) {
        w_.StartArray();
        write_e7(w_, u.pts[i].lon_e7);
        write_e7(w_, u.pts[i].lat_e7);
        w_.EndArray();
      }
      w_.EndArray();
      w_.EndObject();
      w_.Key("properties"); w_.StartObject();
      unit();
      w_.Key("kind"); w_.String("track");
      w_.Key("start"); write_time(w_, u.pts.front().t);
      w_.Key("end"); write_time(w_, u.pts.back().t);
      w_.Key("fix_count"); w_.Uint64(u.pts.size());
      w_.EndObject();
      w_.EndObject();
    }
    for (const auto& s : u.a.stops) {
      w_.StartObject();
      w_.Key("type"); w_.String("Feature");
      w_.Key("geometry"); w_.StartObject();
      w_.Key("type"); w_.String("Point");
      w_.Key("coordinates"); w_.StartArray();
      write_e7(w_, to_e7(s.lon));
      write_e7(w_, to_e7(s.lat));
      w_.EndArray();
      w_.EndObject();
      w_.Key("properties"); w_.StartObject();
      unit();
      w_.Key("kind"); w_.String("stop");
      w_.Key("start"); write_time(w_, s.start);
      w_.Key("end"); write_time(w_, s.end);
      w_.Key("duration_s"); w_.Double(static_cast<double>(s.end - s.start) / 1000.0);
      w_.EndObject();
      w_.EndObject();
    }
  }

  void add_gpx(const UnitOut& u) {
    for (const auto& s : u.a.stops) {
      waypoints_ += "<wpt lat=\"";
      append_e7(waypoints_, to_e7(s.lat));
      waypoints_ += "\" lon=\"";
      append_e7(waypoints_, to_e7(s.lon));
      waypoints_ += "\"><time>";
      append_time(waypoints_, s.start);
      waypoints_ += "</time><name>";
      append_xml(waypoints_, u.unit);
      waypoints_ += " stop " + hhmm(s.start) + "-" + hhmm(s.end) + "</name></wpt>\n";
    }
    if (u.kept.empty()) return;
    text_ += "<trk><name>";
    append_xml(text_, u.unit);
    text_ += "</name><trkseg>\n";
    for (size_t i : u.kept) {
      const TrackPoint& p = u.pts[i];
      text_ += "<trkpt lat=\"";
      append_e7(text_, p.lat_e7);
      text_ += "\" lon=\"";
      append_e7(text_, p.lon_e7);
      text_ += "\"><time>";
      append_time(text_, p.t);
      text_ += "</time></trkpt>\n";
    }
    text_ += "</trkseg></trk>\n";
  }

  void add_csv(const UnitOut& u) {
    for (size_t i : u.kept) {
      const TrackPoint& p = u.pts[i];
      text_ += u.unit;  // ids never hold a comma or quote (valid_id)
      text_.push_back(',');
      append_time(text_, p.t);
      text_.push_back(',');
      append_e7(text_, p.lat_e7);
      text_.push_back(',');
      append_e7(text_, p.lon_e7);
      for (float v : {p.speed_mps, p.heading_deg, p.accuracy_m}) {
        text_.push_back(',');
        text_ += opt_text(v);
      }
      text_.push_back(',');
      text_ += source_name(p.channel);
      text_ += "\r\n";
    }
  }

  const TracksRequest& r_;
  rapidjson::StringBuffer sb_;
  Writer w_;
  std::string text_, waypoints_;
};

}  // namespace

std::optional<TrackFormat> parse_track_format(std::string_view s) {
  if (s.empty() || s == "json") return TrackFormat::json;
  if (s == "geojson") return TrackFormat::geojson;
  if (s == "gpx") return TrackFormat::gpx;
  if (s == "csv") return TrackFormat::csv;
  return std::nullopt;
}

std::string_view track_format_name(TrackFormat f) {
  switch (f) {
    case TrackFormat::json: return "json";
    case TrackFormat::geojson: return "geojson";
    case TrackFormat::gpx: return "gpx";
    case TrackFormat::csv: return "csv";
  }
  return "json";
}

std::string_view track_content_type(TrackFormat f) {
  switch (f) {
    case TrackFormat::json: return "application/json";
    case TrackFormat::geojson: return "application/geo+json";
    case TrackFormat::gpx: return "application/gpx+xml";
    case TrackFormat::csv: return "text/csv; charset=utf-8";
  }
  return "application/json";
}

std::vector<size_t> simplify_track(std::span<const TrackPoint> pts, const TrackAnalysis& a, double tolerance_m) {
  std::vector<size_t> out;
  if (tolerance_m <= 0 || pts.size() <= 2) {
    out.resize(pts.size());
    for (size_t i = 0; i < pts.size(); ++i) out[i] = i;
    return out;
  }
  // A local tangent plane at the first fix (WGS84 radii there): a track of a
  // shift spans tens of km, where this is within 0.1% of the projected length.
  constexpr double a_ = 6378137.0, f = 1 / 298.257223563, e2 = f * (2 - f);
  constexpr double deg = std::numbers::pi / 180;
  const double phi = pts.front().lat() * deg;
  const double s = std::sin(phi), w = 1 - e2 * s * s;
  const double n = a_ / std::sqrt(w), m = a_ * (1 - e2) / (w * std::sqrt(w));
  const double kx = deg * n * std::cos(phi), ky = deg * m;
  std::vector<geo::XY> xy(pts.size());
  for (size_t i = 0; i < pts.size(); ++i)
    xy[i] = {(pts[i].lon() - pts.front().lon()) * kx, (pts[i].lat() - pts.front().lat()) * ky};
  std::vector<uint8_t> keep(pts.size(), 0);
  for (size_t i : geo::douglas_peucker(xy, tolerance_m)) keep[i] = 1;
  for (const auto& st : a.stops)
    for (size_t i = st.first; i <= st.last; ++i) keep[i] = 1;
  for (size_t i = 0; i < pts.size(); ++i)
    if (keep[i]) out.push_back(i);
  return out;
}

TracksResult run_tracks(sql::Db& db, const TracksRequest& r) {
  TracksResult res;
  TrackQuery q(db);
  if (!q.ok()) {
    res.error = Error{Errc::store_failed, "track query: " + q.error()};
    return res;
  }
  TrackWriter out(r);
  std::vector<TrackPoint> pts;
  for (const auto& u : r.units) {
    if (!q.load(u.idx, r.from, r.to, pts)) {
      res.error = Error{Errc::store_failed, "track query: " + q.error()};
      return res;
    }
    res.fixes += pts.size();
    if (res.fixes > r.max_fixes) {
      res.error = Error{Errc::result_too_large, "more than " + std::to_string(r.max_fixes) +
                                                    " fixes in the window: ask for a shorter window or fewer units"};
      return res;
    }
    TrackAnalysis a = analyse_track(pts, r.rules);
    std::vector<size_t> kept = simplify_track(pts, a, r.simplify_m);
    res.written += kept.size();
    out.add(UnitOut{u.id, pts, kept, a});
  }
  res.body = out.finish();
  return res;
}

// --------------------------------------------------------------- positions

namespace {

struct Nearby {
  bool has_before = false, has_after = false;
  TrackPoint before{}, after{};  // last fix at or before T, first after T (within the gap)
  bool has_last = false;
  int64_t last_t = 0;        // latest fix at or before T, any age
  void see(const TrackPoint& p, int64_t at, int64_t gap) {
    if (p.t <= at) {
      if (!has_last || p.t > last_t) {
        has_last = true;
        last_t = p.t;
      }
      if (p.t >= at - gap && (!has_before || p.t > before.t)) {
        has_before = true;
        before = p;
      }
    } else if (p.t <= at + gap && (!has_after || p.t < after.t)) {
      has_after = true;
      after = p;
    }
  }
};

struct StatusAt {
  bool known = false;
  UnitStatus status = UnitStatus::available;
  uint64_t incident = 0;
};

// Statuses at `at` from the dispatch event log: the last change at or before
// it; else the `from` of the first change after it (index (kind, t)). Stops
// reading once every unit is settled.
bool statuses_at(sql::Db& db, int64_t at, std::unordered_map<uint32_t, size_t>& slot, std::vector<StatusAt>& out,
                 std::string& error) {
  size_t open = slot.size();
  for (bool before : {true, false}) {
    if (open == 0) break;
    auto st = db.prepare(before ? "SELECT t, body FROM dispatch_events WHERE kind='unit_status' AND t <= ? "
                                  "ORDER BY t DESC, seq DESC"
                                : "SELECT t, body FROM dispatch_events WHERE kind='unit_status' AND t > ? "
                                  "ORDER BY t, seq");
    if (!st.ok()) {
      error = st.error();
      return false;
    }
    st.bind(1, at);
    int rc;
    while (open > 0 && (rc = st.step()) == SQLITE_ROW) {
      auto e = dispatch::event_from_json(st.text(1), st.i64(0));
      const auto* c = e ? std::get_if<dispatch::ev::UnitStatusChanged>(&e->body) : nullptr;
      if (!c) continue;
      auto it = slot.find(c->unit);
      if (it == slot.end() || out[it->second].known) continue;
      StatusAt& s = out[it->second];
      s.known = true;
      s.status = before ? c->to : c->from;
      s.incident = before ? c->incident : 0;
      --open;
    }
  }
  return true;
}

}  // namespace

std::string run_positions(sql::Db& db, const PositionsRequest& r, std::string& error) {
  const int64_t at = r.at;
  const auto gap = static_cast<int64_t>(std::llround(r.max_gap_s * 1000));
  if (auto e = db.exec("BEGIN")) {  // one snapshot for every read below
    error = *e;
    return {};
  }
  struct Commit {
    sql::Db& db;
    ~Commit() { db.exec("COMMIT"); }
  } commit{db};
  std::unordered_map<uint32_t, size_t> slot;
  slot.reserve(r.units.size());
  for (size_t i = 0; i < r.units.size(); ++i) slot.emplace(r.units[i].idx, i);
  std::vector<Nearby> near(r.units.size());
  int64_t chunked_rowid = 0;
  int64_t span = kChunkSpanMs;  // the longest chunk stored (a store from before the key: an hour)
  {
    auto st = db.prepare("SELECT (SELECT value FROM meta WHERE key='chunked_rowid'), "
                         "(SELECT value FROM meta WHERE key='chunk_max_span_ms')");
    if (st.ok() && st.step() == SQLITE_ROW) {
      if (!st.is_null(0)) chunked_rowid = std::stoll(st.text(0));
      if (!st.is_null(1)) span = std::clamp<int64_t>(std::stoll(st.text(1)), 0, kChunkSpanMs);
    }
  }
  std::vector<TrackPoint> scratch;
  {
    // Chunks that may hold a fix within the gap of T (no chunk spans more than `span`).
    auto st = db.prepare("SELECT data FROM track_chunks WHERE unit=? AND t_first BETWEEN ? AND ? AND t_last >= ? "
                         "ORDER BY batch");
    if (!st.ok()) {
      error = st.error();
      return {};
    }
    for (size_t i = 0; i < r.units.size(); ++i) {
      st.bind(1, static_cast<int64_t>(r.units[i].idx)).bind(2, at - gap - span).bind(3, at + gap)
          .bind(4, at - gap);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) {
        scratch.clear();
        if (!decode_track_chunk(st.blob(0), scratch)) {
          error = "corrupt track chunk of unit " + r.units[i].id;
          return {};
        }
        for (const auto& p : scratch) near[i].see(p, at, gap);
      }
      st.reset();
      if (rc != SQLITE_DONE) {
        error = db.errmsg();
        return {};
      }
    }
  }
  {
    // The fixes not yet chunked, every unit in one pass (rowid order: the first stored wins ties).
    auto st = db.prepare("SELECT unit,t,lat,lon FROM fixes NOT INDEXED WHERE rowid > ? AND unit IS NOT NULL AND t <= ?");
    if (!st.ok()) {
      error = st.error();
      return {};
    }
    st.bind(1, chunked_rowid).bind(2, at + gap);
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
      auto it = slot.find(static_cast<uint32_t>(st.i64(0)));
      if (it == slot.end()) continue;
      TrackPoint p{};
      p.t = st.i64(1);
      p.lat_e7 = to_e7(st.f64(2));
      p.lon_e7 = to_e7(st.f64(3));
      near[it->second].see(p, at, gap);
    }
    if (rc != SQLITE_DONE) {
      error = db.errmsg();
      return {};
    }
  }
  {
    // Units untracked at T: their latest fix before it, however old. The
    // chunk with the latest start m at or before T bounds it: the fix is at
    // or after m, so only chunks starting within `span` before m can hold it.
    auto latest = db.prepare("SELECT MAX(t_first) FROM track_chunks WHERE unit=? AND t_first <= ?");
    auto range = db.prepare("SELECT data FROM track_chunks WHERE unit=? AND t_first BETWEEN ? AND ? AND t_last >= ?");
    if (!latest.ok() || !range.ok()) {
      error = db.errmsg();
      return {};
    }
    for (size_t i = 0; i < r.units.size(); ++i) {
      Nearby& n = near[i];
      if (n.has_before) continue;
      latest.bind(1, static_cast<int64_t>(r.units[i].idx)).bind(2, at);
      const bool found = latest.step() == SQLITE_ROW && !latest.is_null(0);
      const int64_t m = found ? latest.i64(0) : 0;
      latest.reset();
      if (!found) continue;
      range.bind(1, static_cast<int64_t>(r.units[i].idx)).bind(2, m - span).bind(3, at).bind(4, m);
      while (range.step() == SQLITE_ROW) {
        scratch.clear();
        if (!decode_track_chunk(range.blob(0), scratch)) continue;
        for (const auto& p : scratch)
          if (p.t <= at && (!n.has_last || p.t > n.last_t)) {
            n.has_last = true;
            n.last_t = p.t;
          }
      }
      range.reset();
    }
  }
  std::vector<StatusAt> status(r.units.size());
  if (!statuses_at(db, at, slot, status, error)) return {};

  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("at"); write_time(w, at);
  w.Key("units"); w.StartArray();
  for (size_t i = 0; i < r.units.size(); ++i) {
    const Nearby& n = near[i];
    std::optional<std::pair<int64_t, int64_t>> pos;  // lat_e7, lon_e7
    bool interpolated = false;
    if (n.has_before && n.before.t == at) {
      pos.emplace(n.before.lat_e7, n.before.lon_e7);
    } else if (n.has_before && n.has_after && n.after.t - n.before.t <= gap) {
      const double f = static_cast<double>(at - n.before.t) / static_cast<double>(n.after.t - n.before.t);
      const double lat = n.before.lat() + (n.after.lat() - n.before.lat()) * f;
      const double lon = n.before.lon() + (n.after.lon() - n.before.lon()) * f;
      pos.emplace(to_e7(lat), to_e7(lon));
      interpolated = true;
    }
    if (r.bbox) {
      const auto& b = *r.bbox;
      if (!pos) continue;
      const double lat = static_cast<double>(pos->first) * 1e-7, lon = static_cast<double>(pos->second) * 1e-7;
      if (lon < b[0] || lat < b[1] || lon > b[2] || lat > b[3]) continue;
    }
    const auto& u = r.units[i];
    w.StartObject();
    w.Key("unit"); w.String(u.id.data(), static_cast<rapidjson::SizeType>(u.id.size()));
    if (pos) {
      w.Key("lat"); write_e7(w, pos->first);
      w.Key("lon"); write_e7(w, pos->second);
      w.Key("interpolated"); w.Bool(interpolated);
      w.Key("fix_before"); write_time(w, n.before.t);
      w.Key("fix_after");
      if (interpolated) write_time(w, n.after.t);
      else w.Null();
    } else {
      w.Key("position"); w.Null();
      w.Key("last_fix");
      if (n.has_last) write_time(w, n.last_t);
      else w.Null();
    }
    const StatusAt& s = status[i];
    const UnitStatus st = s.known ? s.status : u.status_now;
    w.Key("status");
    auto name = unit_status_name(st);
    w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.Key("incident");
    if (s.known && s.incident && (st == UnitStatus::assigned || st == UnitStatus::en_route || st == UnitStatus::on_scene))
      w.Uint64(s.incident);
    else
      w.Null();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

}  // namespace pm
