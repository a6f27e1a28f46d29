#include "tools/sim/sim_core.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "server/core/time_format.hpp"

namespace pm::sim {
namespace {

constexpr EpochMs kDayMs = 86'400'000;

// Uniform in [a, b).
double uniform(std::mt19937_64& rng, double a, double b) {
  return a + (b - a) * std::generate_canonical<double, 53>(rng);
}
double gauss(std::mt19937_64& rng, double sigma) {
  // Box-Muller: std::normal_distribution's algorithm is not fixed by the
  // standard, and the same seed must give the same pings with any library.
  double u1 = std::generate_canonical<double, 53>(rng);
  double u2 = std::generate_canonical<double, 53>(rng);
  if (u1 < 1e-300) u1 = 1e-300;
  return sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// UTC civil time of t.
struct Civil {
  int64_t y;
  unsigned mo, d, h, mi, s, ms;
  unsigned weekday;  // 0 Sunday
};
Civil civil(EpochMs t) {
  int64_t days = t >= 0 ? t / kDayMs : -((-t + kDayMs - 1) / kDayMs);
  int64_t rem = t - days * kDayMs;
  Civil c{};
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  c.d = doy - (153 * mp + 2) / 5 + 1;
  c.mo = mp < 10 ? mp + 3 : mp - 9;
  c.y = static_cast<int64_t>(yoe) + era * 400 + (c.mo <= 2 ? 1 : 0);
  c.h = static_cast<unsigned>(rem / 3'600'000);
  c.mi = static_cast<unsigned>(rem / 60'000 % 60);
  c.s = static_cast<unsigned>(rem / 1000 % 60);
  c.ms = static_cast<unsigned>(rem % 1000);
  c.weekday = static_cast<unsigned>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  return c;
}

// MSB-first bit writer producing upper-case hex, padded to whole octets.
class BitWriter {
 public:
  void put(uint32_t v, unsigned n) {
    for (unsigned i = n; i-- > 0;) bits_.push_back(static_cast<uint8_t>((v >> i) & 1u));
  }
  std::string hex() const {
    std::vector<uint8_t> b = bits_;
    while (b.size() % 8) b.push_back(0);
    std::string out;
    static const char* kHex = "0123456789ABCDEF";
    for (size_t i = 0; i < b.size(); i += 4) out += kHex[(b[i] << 3) | (b[i + 1] << 2) | (b[i + 2] << 1) | b[i + 3]];
    return out;
  }

 private:
  std::vector<uint8_t> bits_;
};

uint32_t lip_lon_raw(double lon) {
  auto v = static_cast<int64_t>(std::llround(lon / 360.0 * 33554432.0));
  v = std::clamp<int64_t>(v, -16777216, 16777215);
  return static_cast<uint32_t>(v) & 0x1FFFFFFu;
}
uint32_t lip_lat_raw(double lat) {
  auto v = static_cast<int64_t>(std::llround(lat / 180.0 * 16777216.0));
  v = std::clamp<int64_t>(v, -8388608, 8388607);
  return static_cast<uint32_t>(v) & 0xFFFFFFu;
}

double heading_of(geo::XY a, geo::XY b) {
  double h = std::atan2(b.x - a.x, b.y - a.y) * 180.0 / std::numbers::pi;
  return h < 0 ? h + 360.0 : h;
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

}  // namespace

// ------------------------------------------------------------------ channels

std::string_view to_string(SimChannel c) {
  switch (c) {
    case SimChannel::json:
      return "json";
    case SimChannel::nmea_udp:
      return "nmea_udp";
    case SimChannel::nmea_tcp:
      return "nmea_tcp";
    case SimChannel::lip_udp:
      return "lip_udp";
    case SimChannel::pei_tcp:
      return "pei_tcp";
    case SimChannel::osmand:
      return "osmand";
  }
  return "?";
}

std::optional<SimChannel> channel_from_string(std::string_view s) {
  for (size_t i = 0; i < kSimChannelCount; ++i)
    if (to_string(static_cast<SimChannel>(i)) == s) return static_cast<SimChannel>(i);
  if (s == "nmea") return SimChannel::nmea_udp;
  if (s == "lip") return SimChannel::lip_udp;
  if (s == "pei") return SimChannel::pei_tcp;
  return std::nullopt;
}

// ------------------------------------------------------------------ scenario

std::optional<int> parse_hhmm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  int h = 0, m = 0;
  if (std::from_chars(s.data(), s.data() + 2, h).ec != std::errc{} ||
      std::from_chars(s.data() + 3, s.data() + 5, m).ec != std::errc{})
    return std::nullopt;
  if (h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

bool UnitSpec::on_shift(EpochMs t) const {
  if (shift_start_min == shift_end_min) return true;
  int64_t day_ms = ((t % kDayMs) + kDayMs) % kDayMs;
  int m = static_cast<int>(day_ms / 60'000);
  int s = shift_start_min % 1440, e = shift_end_min % 1440;
  if (s < e) return m >= s && m < e;
  return m >= s || m < e;  // past midnight
}

std::vector<geo::LonLat> read_area_centres(std::string_view geojson) {
  std::vector<geo::LonLat> out;
  rapidjson::Document d;
  d.Parse(geojson.data(), geojson.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("features") || !d["features"].IsArray()) return out;
  for (const auto& f : d["features"].GetArray()) {
    if (!f.IsObject() || !f.HasMember("geometry") || !f["geometry"].IsObject()) continue;
    const auto& g = f["geometry"];
    if (!g.HasMember("type") || !g["type"].IsString() || !g.HasMember("coordinates")) continue;
    const rapidjson::Value* ring = nullptr;
    const std::string_view type = g["type"].GetString();
    const auto& c = g["coordinates"];
    if (type == "Polygon" && c.IsArray() && !c.Empty()) ring = &c[0];
    if (type == "MultiPolygon" && c.IsArray() && !c.Empty() && c[0].IsArray() && !c[0].Empty()) ring = &c[0][0];
    if (!ring || !ring->IsArray() || ring->Size() < 4) continue;
    double lon = 0, lat = 0;
    rapidjson::SizeType n = ring->Size() - 1;  // the closing vertex repeats the first
    bool ok = true;
    for (rapidjson::SizeType i = 0; i < n; ++i) {
      const auto& pt = (*ring)[i];
      if (!pt.IsArray() || pt.Size() < 2 || !pt[0].IsNumber() || !pt[1].IsNumber()) {
        ok = false;
        break;
      }
      lon += pt[0].GetDouble();
      lat += pt[1].GetDouble();
    }
    if (ok) out.push_back({lon / n, lat / n});
  }
  return out;
}

std::size_t assign_hotspots(Scenario& sc, const std::vector<geo::LonLat>& hotspots, const geo::Projection& proj,
                            double foot_reach_m) {
  std::size_t added = 0;
  for (const auto& h : hotspots) {
    const geo::XY p = proj.forward(h);
    UnitSpec* best = nullptr;
    UnitSpec* best_foot = nullptr;
    double d_best = 1e300, d_foot = 1e300;
    for (auto& u : sc.units) {
      if (u.beat_points.empty()) continue;
      double d = 1e300;
      for (const auto& b : u.beat_points) {
        const geo::XY q = proj.forward(b);
        d = std::min(d, std::hypot(q.x - p.x, q.y - p.y));
      }
      if (d < d_best) best = &u, d_best = d;
      if (u.mobility() == Mobility::walk && d < d_foot) best_foot = &u, d_foot = d;
    }
    UnitSpec* to = best_foot && d_foot <= foot_reach_m ? best_foot : best;
    if (!to) continue;
    to->beat_points.push_back(h);
    ++added;
  }
  return added;
}

Expected<Scenario, std::string> parse_scenario(std::string_view json) {
  using Err = Unexpected<std::string>;
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return Err{"scenario: not a JSON object"};
  Scenario sc;
  if (d.HasMember("name") && d["name"].IsString()) sc.name = d["name"].GetString();
  if (!d.HasMember("units") || !d["units"].IsArray()) return Err{"scenario: \"units\" array missing"};
  // Defaults that units may override.
  std::string def_start = "00:00", def_end = "00:00";
  if (d.HasMember("shift") && d["shift"].IsObject()) {
    const auto& s = d["shift"];
    if (s.HasMember("start") && s["start"].IsString()) def_start = s["start"].GetString();
    if (s.HasMember("end") && s["end"].IsString()) def_end = s["end"].GetString();
  }
  auto point = [](const rapidjson::Value& v) -> std::optional<geo::LonLat> {
    if (!v.IsArray() || v.Size() != 2 || !v[0].IsNumber() || !v[1].IsNumber()) return std::nullopt;
    geo::LonLat ll{v[0].GetDouble(), v[1].GetDouble()};
    if (!geo::is_valid(ll)) return std::nullopt;
    return ll;
  };
  for (const auto& u : d["units"].GetArray()) {
    if (!u.IsObject()) return Err{"scenario: a unit is not an object"};
    UnitSpec us;
    if (!u.HasMember("id") || !u["id"].IsString()) return Err{"scenario: a unit has no \"id\""};
    us.id = u["id"].GetString();
    const std::string where = "scenario unit " + us.id + ": ";
    us.type = u.HasMember("type") && u["type"].IsString() ? u["type"].GetString() : "car";
    if (u.HasMember("skills")) {
      if (!u["skills"].IsArray()) return Err{where + "\"skills\" is not an array"};
      for (const auto& s : u["skills"].GetArray())
        if (s.IsString()) us.skills.emplace_back(s.GetString());
    }
    std::string start = def_start, end = def_end;
    if (u.HasMember("shift") && u["shift"].IsObject()) {
      const auto& s = u["shift"];
      if (s.HasMember("start") && s["start"].IsString()) start = s["start"].GetString();
      if (s.HasMember("end") && s["end"].IsString()) end = s["end"].GetString();
    }
    auto ss = parse_hhmm(start), se = parse_hhmm(end);
    if (!ss || !se) return Err{where + "shift times must be HH:MM"};
    us.shift_start_min = *ss;
    us.shift_end_min = *se;
    if (!u.HasMember("home") || !u["home"].IsObject()) return Err{where + "\"home\" object missing"};
    const auto& h = u["home"];
    if (h.HasMember("name") && h["name"].IsString()) us.home_area = h["name"].GetString();
    if (h.HasMember("points")) {
      if (!h["points"].IsArray()) return Err{where + "home.points is not an array"};
      for (const auto& p : h["points"].GetArray()) {
        auto ll = point(p);
        if (!ll) return Err{where + "home.points holds a bad [lon, lat]"};
        us.beat_points.push_back(*ll);
      }
    }
    if (h.HasMember("center")) {
      us.center = point(h["center"]);
      if (!us.center) return Err{where + "home.center is not [lon, lat]"};
      us.radius_m = h.HasMember("radius_m") && h["radius_m"].IsNumber() ? h["radius_m"].GetDouble() : 1000.0;
      if (!(us.radius_m >= 0)) return Err{where + "home.radius_m must be >= 0"};
    }
    if (us.beat_points.empty() && !us.center) return Err{where + "home needs \"points\" or \"center\""};
    if (!u.HasMember("devices") || !u["devices"].IsArray() || u["devices"].Empty())
      return Err{where + "\"devices\" array missing or empty"};
    for (const auto& dv : u["devices"].GetArray()) {
      if (!dv.IsObject() || !dv.HasMember("id") || !dv["id"].IsString()) return Err{where + "a device has no \"id\""};
      DeviceSpec ds;
      ds.id = dv["id"].GetString();
      std::string ch = dv.HasMember("channel") && dv["channel"].IsString() ? dv["channel"].GetString() : "json";
      auto c = channel_from_string(ch);
      if (!c) return Err{where + "unknown channel \"" + ch + "\""};
      ds.channel = *c;
      bool radio = *c == SimChannel::lip_udp || *c == SimChannel::pei_tcp;
      ds.kind = dv.HasMember("kind") && dv["kind"].IsString() ? dv["kind"].GetString()
                : radio                                       ? "radio"
                : *c == SimChannel::osmand                    ? "app"
                                                              : "avl";
      if (radio &&
          (ds.id.empty() || !std::all_of(ds.id.begin(), ds.id.end(), [](char x) { return x >= '0' && x <= '9'; }) ||
           ds.id.front() == '0'))
        return Err{where + "a radio's id is its ISSI: digits without leading zeros"};
      double lo = radio ? 30 : 5, hi = radio ? 60 : 5;
      if (dv.HasMember("interval_s")) {
        const auto& iv = dv["interval_s"];
        if (iv.IsNumber()) {
          lo = hi = iv.GetDouble();
        } else if (iv.IsArray() && iv.Size() == 2 && iv[0].IsNumber() && iv[1].IsNumber()) {
          lo = iv[0].GetDouble();
          hi = iv[1].GetDouble();
        } else {
          return Err{where + "interval_s is a number or [min, max]"};
        }
      }
      if (!(lo >= 1 && hi >= lo && hi <= 3600)) return Err{where + "interval_s must be within 1..3600, min <= max"};
      ds.interval_min_s = lo;
      ds.interval_max_s = hi;
      us.devices.push_back(std::move(ds));
    }
    sc.units.push_back(std::move(us));
  }
  if (sc.units.empty()) return Err{"scenario: no units"};
  return sc;
}

// ------------------------------------------------------------------ movement

Path straight_path(const std::vector<geo::XY>& pts, double speed_mps) {
  Path p;
  if (pts.empty()) return p;
  p.pts = pts;
  p.times_s.push_back(0);
  for (size_t i = 1; i < pts.size(); ++i) {
    double len = std::hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y);
    p.times_s.push_back(p.times_s.back() + len / speed_mps);
  }
  return p;
}

Path road_path(const geo::RoadGraph& g, const geo::RoadRoute& r) {
  Path p;
  if (r.polyline.empty()) return p;
  p.pts = r.polyline;
  p.times_s.push_back(0);
  const bool per_edge = r.edges.size() + 1 == r.polyline.size();
  const double avg = r.time_s > 0 && r.length_m > 0 ? r.length_m / r.time_s : 10.0;
  for (size_t i = 1; i < p.pts.size(); ++i) {
    double len = std::hypot(p.pts[i].x - p.pts[i - 1].x, p.pts[i].y - p.pts[i - 1].y);
    double v = avg;
    if (per_edge) {
      auto e = r.edges[i - 1];
      if (g.edge_time_s(e) > 0) v = g.edge_length_m(e) / g.edge_time_s(e);
    }
    p.times_s.push_back(p.times_s.back() + len / v);
  }
  return p;
}

Motion position_at(const Path& p, double t) {
  Motion m;
  if (p.pts.empty()) return m;
  if (p.pts.size() == 1 || t <= 0) {
    m.xy = p.pts.front();
    if (p.pts.size() > 1) m.heading_deg = heading_of(p.pts[0], p.pts[1]);
    return m;
  }
  if (t >= p.times_s.back()) {
    m.xy = p.pts.back();
    size_t n = p.pts.size();
    m.heading_deg = heading_of(p.pts[n - 2], p.pts[n - 1]);
    return m;
  }
  auto it = std::upper_bound(p.times_s.begin(), p.times_s.end(), t);
  size_t i = static_cast<size_t>(it - p.times_s.begin());  // times_s[i-1] <= t < times_s[i]
  double dt = p.times_s[i] - p.times_s[i - 1];
  double f = dt > 0 ? (t - p.times_s[i - 1]) / dt : 1.0;
  geo::XY a = p.pts[i - 1], b = p.pts[i];
  m.xy = {a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f};
  double len = std::hypot(b.x - a.x, b.y - a.y);
  m.speed_mps = dt > 0 ? len / dt : 0;
  m.heading_deg = heading_of(a, b);
  return m;
}

// ------------------------------------------------------------------ encoders

std::string encode_json_ping(const WireFix& f) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.SetMaxDecimalPlaces(7);
  w.StartObject();
  w.Key("device");
  w.String(f.device.c_str(), static_cast<rapidjson::SizeType>(f.device.size()));
  w.Key("t");
  std::string t = format_iso8601(f.t);
  w.String(t.c_str(), static_cast<rapidjson::SizeType>(t.size()));
  w.Key("lat");
  w.Double(f.lat);
  w.Key("lon");
  w.Double(f.lon);
  w.SetMaxDecimalPlaces(2);
  w.Key("speed_mps");
  w.Double(f.speed_mps);
  w.Key("heading_deg");
  w.Double(f.heading_deg);
  w.Key("accuracy_m");
  w.Double(f.accuracy_m);
  if (f.emergency) {
    w.Key("emergency");
    w.Bool(true);
  }
  w.EndObject();
  return sb.GetString();
}

std::string nmea_sentence(std::string_view body) {
  unsigned x = 0;
  for (char c : body) x ^= static_cast<unsigned char>(c);
  char buf[8];
  std::snprintf(buf, sizeof buf, "*%02X\r\n", x);
  return "$" + std::string(body) + buf;
}

std::string encode_nmea(const WireFix& f) {
  Civil c = civil(f.t);
  char tod[16];
  std::snprintf(tod, sizeof tod, "%02u%02u%02u.%03u", c.h, c.mi, c.s, c.ms);
  char date[8];
  std::snprintf(date, sizeof date, "%02u%02u%02u", c.d, c.mo, static_cast<unsigned>(c.y % 100));
  double alat = std::fabs(f.lat), alon = std::fabs(f.lon);
  int lat_d = static_cast<int>(alat), lon_d = static_cast<int>(alon);
  double lat_m = (alat - lat_d) * 60.0, lon_m = (alon - lon_d) * 60.0;
  // Keep the rounded minutes below 60 (59.9999999 would print as 60.000000).
  if (lat_m >= 59.9999995) lat_m = 59.999999;
  if (lon_m >= 59.9999995) lon_m = 59.999999;
  char lat[24], lon[24];
  std::snprintf(lat, sizeof lat, "%02d%09.6f,%c", lat_d, lat_m, f.lat < 0 ? 'S' : 'N');
  std::snprintf(lon, sizeof lon, "%03d%09.6f,%c", lon_d, lon_m, f.lon < 0 ? 'W' : 'E');
  double knots = f.speed_mps * 3600.0 / 1852.0;
  std::string rmc = std::string("GPRMC,") + tod + ",A," + lat + "," + lon + "," + fmt("%.2f", knots) + "," +
                    fmt("%.1f", f.heading_deg) + "," + date + ",,,A";
  double hdop = std::clamp(f.accuracy_m / 5.0, 0.5, 50.0);
  std::string gga =
      std::string("GPGGA,") + tod + "," + lat + "," + lon + ",1,08," + fmt("%.1f", hdop) + ",120.0,M,47.0,M,,";
  return nmea_sentence("PGID," + f.device) + nmea_sentence(rmc) + nmea_sentence(gga);
}

int lip_velocity_code(double speed_mps) {
  if (!std::isfinite(speed_mps) || speed_mps < 0) return 127;
  double kmh = speed_mps * 3.6;
  if (kmh < 28.5) return static_cast<int>(std::lround(kmh));
  long c = std::lround(13.0 + std::log(kmh / 16.0) / std::log(1.038));
  return static_cast<int>(std::clamp(c, 28L, 126L));
}

int lip_position_error_code(double error_m) {
  if (!std::isfinite(error_m) || error_m < 0) return 7;
  double bound = 2.0;
  for (int c = 0; c < 6; ++c, bound *= 10)
    if (error_m < bound) return c;
  return 6;
}

std::string encode_lip_short(const WireFix& f, int reason) {
  BitWriter w;
  w.put(0x0A, 8);  // protocol identifier: LIP
  w.put(0, 2);     // PDU type: short location report
  w.put(0, 2);     // time elapsed: < 5 s
  w.put(lip_lon_raw(f.lon), 25);
  w.put(lip_lat_raw(f.lat), 24);
  w.put(static_cast<uint32_t>(lip_position_error_code(f.accuracy_m)), 3);
  w.put(static_cast<uint32_t>(lip_velocity_code(f.speed_mps)), 7);
  w.put(static_cast<uint32_t>(std::lround(f.heading_deg / 22.5)) % 16, 4);
  w.put(0, 1);  // additional data: reason for sending
  w.put(static_cast<uint32_t>(f.emergency ? 2 : reason) & 0xff, 8);
  return w.hex();
}

std::string encode_lip_long(const WireFix& f, int reason) {
  Civil c = civil(f.t);
  BitWriter w;
  w.put(0x0A, 8);
  w.put(1, 2);  // PDU type: long (extended)
  w.put(3, 4);  // extension: long location report
  w.put(2, 2);  // time type: time of position
  w.put(c.d, 5);
  w.put(c.h, 5);
  w.put(c.mi, 6);
  w.put(c.s, 6);
  w.put(10, 4);  // shape: point and position error
  w.put(lip_lon_raw(f.lon), 25);
  w.put(lip_lat_raw(f.lat), 24);
  w.put(static_cast<uint32_t>(lip_position_error_code(f.accuracy_m)), 3);
  w.put(5, 3);  // velocity type: horizontal speed and direction of travel extended
  w.put(static_cast<uint32_t>(lip_velocity_code(f.speed_mps)), 7);
  w.put(static_cast<uint32_t>(std::lround(f.heading_deg * 256.0 / 360.0)) % 256, 8);
  w.put(0, 1);  // no acknowledgement requested
  w.put(0, 1);  // additional data: reason for sending
  w.put(static_cast<uint32_t>(f.emergency ? 2 : reason) & 0xff, 8);
  return w.hex();
}

std::string lip_datagram(std::string_view issi, std::string_view hex) {
  return std::string(issi) + "," + std::string(hex) + "\r\n";
}

std::string pei_report(std::string_view issi, std::string_view hex, std::string_view dst) {
  return "+CTSDSR: 12," + std::string(issi) + ",0," + std::string(dst) + ",0," + std::to_string(hex.size() * 4) +
         "\r\n" + std::string(hex) + "\r\n";
}

std::string encode_osmand_query(const WireFix& f, bool millis) {
  std::string q = "id=" + f.device + "&lat=" + fmt("%.7f", f.lat) + "&lon=" + fmt("%.7f", f.lon) +
                  "&timestamp=" + std::to_string(millis ? f.t : f.t / 1000) + "&speed=" + fmt("%.2f", f.speed_mps * 3600.0 / 1852.0) +
                  "&bearing=" + fmt("%.1f", f.heading_deg) + "&accuracy=" + fmt("%.1f", f.accuracy_m);
  if (f.emergency) q += "&alarm=sos";
  return q;
}

// ------------------------------------------------------------------ crime CSV

bool split_csv_line(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(cur));
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  fields.push_back(std::move(cur));
  return !quoted;
}

std::vector<CrimePoint> read_crime_csv(std::string_view text, CrimeStats& stats,
                                       const std::function<bool(geo::LonLat)>& inside) {
  std::vector<CrimePoint> out;
  std::vector<std::string> f;
  int col_lon = -1, col_lat = -1, col_type = -1, col_loc = -1;
  bool header = true;
  size_t pos = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (line.empty() || line == "\r") continue;
    split_csv_line(line, f);
    if (header) {
      header = false;
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == "Longitude") col_lon = static_cast<int>(i);
        if (f[i] == "Latitude") col_lat = static_cast<int>(i);
        if (f[i] == "Crime type") col_type = static_cast<int>(i);
        if (f[i] == "Location") col_loc = static_cast<int>(i);
      }
      if (col_lon < 0 || col_lat < 0) return out;  // not a police.uk street file
      continue;
    }
    ++stats.rows;
    auto num = [&](int col, double& v) {
      if (col >= static_cast<int>(f.size()) || f[col].empty()) return false;
      const std::string& s = f[col];
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      return r.ec == std::errc{} && r.ptr == s.data() + s.size() && std::isfinite(v);
    };
    geo::LonLat ll;
    if (!num(col_lon, ll.lon) || !num(col_lat, ll.lat) || !geo::is_valid(ll)) {
      ++stats.no_coordinates;
      continue;
    }
    if (inside && !inside(ll)) {
      ++stats.outside;
      continue;
    }
    CrimePoint p;
    p.ll = ll;
    if (col_type >= 0 && col_type < static_cast<int>(f.size())) p.category = f[col_type];
    if (col_loc >= 0 && col_loc < static_cast<int>(f.size())) p.location = f[col_loc];
    out.push_back(std::move(p));
    ++stats.kept;
  }
  return out;
}

std::string incident_type_for(std::string_view category) {
  static const std::pair<std::string_view, std::string_view> kMap[] = {
      {"anti-social behaviour", "asb"},
      {"violence and sexual offences", "violence"},
      {"burglary", "burglary"},
      {"criminal damage and arson", "criminal_damage"},
      {"vehicle crime", "vehicle_crime"},
      {"shoplifting", "shoplifting"},
      {"public order", "public_order"},
      {"drugs", "drugs"},
      {"other theft", "theft"},
      {"theft from the person", "theft_from_person"},
      {"bicycle theft", "bicycle_theft"},
      {"robbery", "robbery"},
      {"possession of weapons", "weapons"},
      {"other crime", "other"},
  };
  std::string l = lower(category);
  for (const auto& [k, v] : kMap)
    if (l == k) return std::string(v);
  std::string out;
  for (char c : l) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
      out += c;
    else if (!out.empty() && out.back() != '_')
      out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.size() > 64) out.resize(64);
  return out.empty() ? "other" : out;
}

// ------------------------------------------------------------------ incidents

IncidentGenerator::IncidentGenerator(std::vector<CrimePoint> crimes, std::uint64_t seed, double per_hour,
                                     std::vector<double> grade_mix)
    : crimes_(std::move(crimes)),
      rng_(seed ^ 0x1c1d3e7a5b9f0123ULL),
      per_hour_(per_hour),
      grade_mix_(std::move(grade_mix)) {
  if (grade_mix_.size() != 3) grade_mix_ = {0.2, 0.5, 0.3};
}

double IncidentGenerator::rhythm(EpochMs t) {
  // Calls for service by hour of day: a trough before dawn, a peak in the
  // evening (the shape of UK police demand), mean ~1.
  static constexpr double kHour[24] = {1.2,  1.0,  0.8, 0.6, 0.45, 0.4, 0.45, 0.6, 0.8,  0.9, 1.0, 1.0,
                                       1.05, 1.05, 1.1, 1.2, 1.25, 1.3, 1.3,  1.3, 1.35, 1.4, 1.4, 1.3};
  Civil c = civil(t);
  double r = kHour[c.h];
  // Friday and Saturday nights: Fri 18:00 - Sat 04:00 and Sat 18:00 - Sun 04:00.
  bool night =
      (c.weekday == 5 && c.h >= 18) || (c.weekday == 6 && (c.h < 4 || c.h >= 18)) || (c.weekday == 0 && c.h < 4);
  return night ? r * 1.6 : r;
}

IncidentPlan IncidentGenerator::next(EpochMs after) {
  IncidentPlan p;
  // Thinning (Lewis-Shedler) against the highest rate the rhythm reaches.
  const double max_rate_per_ms = per_hour_ * 1.4 * 1.6 / 3'600'000.0;
  double t = static_cast<double>(after);
  for (int guard = 0; guard < 100000; ++guard) {
    double u = std::generate_canonical<double, 53>(rng_);
    if (u < 1e-300) u = 1e-300;
    t += -std::log(u) / max_rate_per_ms;
    double accept = rhythm(static_cast<EpochMs>(t)) / (1.4 * 1.6);
    if (std::generate_canonical<double, 53>(rng_) < accept) break;
  }
  p.t = std::max(after + 1, static_cast<EpochMs>(t));
  double g = std::generate_canonical<double, 53>(rng_) * (grade_mix_[0] + grade_mix_[1] + grade_mix_[2]);
  p.grade = g < grade_mix_[0] ? 1 : g < grade_mix_[0] + grade_mix_[1] ? 2 : 3;
  if (!crimes_.empty()) {
    const CrimePoint& c = crimes_[static_cast<size_t>(rng_() % crimes_.size())];
    p.ll = c.ll;
    p.type = incident_type_for(c.category);
    p.address = c.location;
  } else {
    p.type = "other";
  }
  return p;
}

// ------------------------------------------------------------------ fleet

std::string_view to_string(UnitMode m) {
  switch (m) {
    case UnitMode::off_shift:
      return "off_shift";
    case UnitMode::patrol:
      return "patrol";
    case UnitMode::dwell:
      return "dwell";
    case UnitMode::responding:
      return "responding";
    case UnitMode::on_scene:
      return "on_scene";
  }
  return "?";
}

Fleet::Fleet(const Scenario& scenario, const geo::RoadGraph* graph, const geo::Projection& projection,
             std::uint64_t seed, EpochMs start, FleetOptions options)
    : scenario_(scenario), graph_(graph), projection_(projection), options_(options), now_(start) {
  units_.resize(scenario_.units.size());
  beats_xy_.resize(units_.size());
  center_xy_.resize(units_.size());
  for (size_t u = 0; u < units_.size(); ++u) {
    const UnitSpec& s = scenario_.units[u];
    UnitState& st = units_[u];
    std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(u)};
    st.rng.seed(seq);
    for (const auto& ll : s.beat_points) beats_xy_[u].push_back(projection_.forward(ll));
    if (s.center) center_xy_[u] = projection_.forward(*s.center);
    // Start somewhere in the home area.
    geo::XY p;
    if (!beats_xy_[u].empty()) {
      st.next_beat = static_cast<size_t>(st.rng() % beats_xy_[u].size());
      p = beats_xy_[u][st.next_beat];
    } else {
      double r = s.radius_m * std::sqrt(uniform(st.rng, 0, 1)), a = uniform(st.rng, 0, 2 * std::numbers::pi);
      p = {center_xy_[u].x + r * std::cos(a), center_xy_[u].y + r * std::sin(a)};
    }
    if (graph_ && s.mobility() == Mobility::drive)
      if (auto sn = graph_->snap(p, 2000.0)) p = sn->point;
    st.path = straight_path({p}, 1.0);
    st.path_start = start;
    st.devices.resize(s.devices.size());
    for (size_t d = 0; d < s.devices.size(); ++d)
      st.devices[d].next_ping = start + static_cast<EpochMs>(uniform(st.rng, 0, s.devices[d].interval_max_s) * 1000);
    if (s.on_shift(start)) {
      st.mode = UnitMode::patrol;
      start_patrol_leg(u, start);
    } else {
      st.mode = UnitMode::off_shift;
    }
  }
}

std::optional<size_t> Fleet::find(std::string_view id) const {
  for (size_t u = 0; u < scenario_.units.size(); ++u)
    if (scenario_.units[u].id == id) return u;
  return std::nullopt;
}

Motion Fleet::motion(size_t u, EpochMs now) const {
  const UnitState& st = units_[u];
  Motion m = position_at(st.path, static_cast<double>(now - st.path_start) / 1000.0);
  return m;
}

geo::LonLat Fleet::position(size_t u, EpochMs now) const { return projection_.inverse(motion(u, now).xy); }

Path Fleet::travel(size_t u, geo::XY from, geo::XY to, bool urgent) {
  const UnitSpec& s = scenario_.units[u];
  if (s.mobility() == Mobility::walk) return straight_path({from, to}, options_.walk_mps * (urgent ? 1.5 : 1.0));
  if (graph_) {
    // A patrol target off the roads (a beat point in a park, the spread around
    // it) is driven to its nearest road point.
    geo::XY dest = to;
    if (auto sn = graph_->snap(to, 3000.0)) dest = sn->point;
    auto r = graph_->route(from, dest);
    if (r) {
      Path p = road_path(*graph_, *r);
      // Blue lights: ~25 % quicker than normal traffic.
      if (urgent)
        for (double& t : p.times_s) t /= 1.25;
      // From the unit's spot onto the road, and at an incident the last metres on foot.
      double lead = std::hypot(p.pts.front().x - from.x, p.pts.front().y - from.y);
      if (lead > 1.0) {
        p.pts.insert(p.pts.begin(), from);
        for (double& t : p.times_s) t += lead / 5.0;
        p.times_s.insert(p.times_s.begin(), 0.0);
      }
      if (urgent) {
        double tail = std::hypot(p.pts.back().x - to.x, p.pts.back().y - to.y);
        if (tail > 1.0) {
          p.pts.push_back(to);
          p.times_s.push_back(p.times_s.back() + tail / options_.walk_mps);
        }
      }
      return p;
    }
    // No route (a one-way stub, an unreachable fragment): a patrol waits a
    // minute and picks another target, a response goes straight there.
    if (!urgent) return Path{{from, from}, {0.0, 60.0}};
  }
  return straight_path({from, to}, urgent ? 18.0 : 13.0);
}

void Fleet::start_patrol_leg(size_t u, EpochMs now) {
  UnitState& st = units_[u];
  const UnitSpec& s = scenario_.units[u];
  geo::XY here = motion(u, now).xy;
  geo::XY target;
  if (!beats_xy_[u].empty()) {
    size_t n = beats_xy_[u].size();
    size_t next = n == 1 ? 0 : (st.next_beat + 1 + static_cast<size_t>(st.rng() % (n - 1))) % n;
    st.next_beat = next;
    target = beats_xy_[u][next];
    // A little spread around the point, as an officer walks about a hot spot.
    double spread = s.mobility() == Mobility::walk ? 40.0 : 150.0;
    target.x += uniform(st.rng, -spread, spread);
    target.y += uniform(st.rng, -spread, spread);
  } else {
    double r = s.radius_m * std::sqrt(uniform(st.rng, 0, 1)), a = uniform(st.rng, 0, 2 * std::numbers::pi);
    target = {center_xy_[u].x + r * std::cos(a), center_xy_[u].y + r * std::sin(a)};
  }
  st.path = travel(u, here, target, false);
  st.path_start = now;
  st.mode = UnitMode::patrol;
}

void Fleet::advance(size_t u, EpochMs now) {
  UnitState& st = units_[u];
  const UnitSpec& s = scenario_.units[u];
  for (int guard = 0; guard < 1000; ++guard) {
    EpochMs path_end = st.path_start + static_cast<EpochMs>(std::ceil(st.path.duration_s() * 1000.0));
    switch (st.mode) {
      case UnitMode::off_shift:
        if (!s.on_shift(now)) return;
        st.mode = UnitMode::patrol;
        events_.push_back({FleetEvent::Kind::shift_started, u, 0, now});
        start_patrol_leg(u, now);
        continue;
      case UnitMode::patrol:
      case UnitMode::dwell: {
        EpochMs t = st.mode == UnitMode::patrol ? path_end : st.wait_until;
        if (t > now) {
          if (!s.on_shift(now)) {
            // End of shift: stay where the unit is (back at the station, in effect), silent.
            st.path = straight_path({motion(u, now).xy}, 1.0);
            st.path_start = now;
            st.mode = UnitMode::off_shift;
            events_.push_back({FleetEvent::Kind::shift_ended, u, 0, now});
          }
          return;
        }
        if (st.mode == UnitMode::patrol) {
          // At a beat point: a Koper visit (10-15 minutes) now and then, else a short pause.
          st.mode = UnitMode::dwell;
          double dwell =
              uniform(st.rng, 0, 1) < options_.koper_prob ? uniform(st.rng, 600, 900) : uniform(st.rng, 0, 60);
          st.wait_until = t + static_cast<EpochMs>(dwell * 1000);
          st.path = straight_path({motion(u, t).xy}, 1.0);
          st.path_start = t;
        } else {
          start_patrol_leg(u, t);
        }
        continue;
      }
      case UnitMode::responding:
        if (path_end > now) return;
        st.mode = UnitMode::on_scene;
        st.wait_until =
            path_end + static_cast<EpochMs>(uniform(st.rng, options_.on_scene_min_s, options_.on_scene_max_s) * 1000);
        events_.push_back({FleetEvent::Kind::arrived, u, st.incident, path_end});
        continue;
      case UnitMode::on_scene:
        if (st.wait_until > now) return;
        events_.push_back({FleetEvent::Kind::job_done, u, st.incident, st.wait_until});
        st.incident = 0;
        start_patrol_leg(u, st.wait_until);
        continue;
    }
  }
}

void Fleet::emit(size_t u, size_t d, EpochMs t, std::vector<PingOut>& out) {
  UnitState& st = units_[u];
  const DeviceSpec& ds = scenario_.units[u].devices[d];
  DeviceState& dev = st.devices[d];
  // Every draw happens whatever the outcome, so one unit's dropouts never shift another's stream.
  double drop = uniform(st.rng, 0, 1), outage = uniform(st.rng, 0, 1);
  double outage_s = uniform(st.rng, options_.outage_min_s, options_.outage_max_s);
  double nx = gauss(st.rng, options_.noise_m), ny = gauss(st.rng, options_.noise_m);
  if (t < dev.quiet_until) return;
  if (outage < options_.outage_prob) {
    dev.quiet_until = t + static_cast<EpochMs>(outage_s * 1000);
    return;
  }
  if (drop < options_.dropout) return;
  // Channels whose wire time has whole seconds (OsmAnd's epoch seconds, LIP time of position).
  const bool whole_s = ds.channel == SimChannel::osmand ||
                       ((ds.channel == SimChannel::lip_udp || ds.channel == SimChannel::pei_tcp) && options_.lip_long);
  EpochMs wt = whole_s ? t / 1000 * 1000 : t;
  Motion m = motion(u, wt);
  geo::LonLat ll = projection_.inverse({m.xy.x + nx, m.xy.y + ny});
  PingOut p;
  p.unit = u;
  p.channel = ds.channel;
  p.fix.device = ds.id;
  p.fix.t = wt;
  p.fix.lat = std::round(ll.lat * 1e7) / 1e7;
  p.fix.lon = std::round(ll.lon * 1e7) / 1e7;
  p.fix.speed_mps = std::round(m.speed_mps * 100) / 100;
  p.fix.heading_deg = std::round(m.heading_deg * 10) / 10;
  if (p.fix.heading_deg >= 360) p.fix.heading_deg = 0;
  p.fix.accuracy_m = std::max(1.0, options_.noise_m);
  switch (ds.channel) {
    case SimChannel::json:
      p.payload = encode_json_ping(p.fix);
      break;
    case SimChannel::nmea_udp:
    case SimChannel::nmea_tcp:
      p.payload = encode_nmea(p.fix);
      break;
    case SimChannel::lip_udp:
    case SimChannel::pei_tcp: {
      std::string hex = options_.lip_long ? encode_lip_long(p.fix, 129) : encode_lip_short(p.fix, 129);
      p.payload = ds.channel == SimChannel::lip_udp ? lip_datagram(ds.id, hex) : pei_report(ds.id, hex);
      break;
    }
    case SimChannel::osmand:
      p.payload = encode_osmand_query(p.fix);
      break;
  }
  out.push_back(std::move(p));
}

void Fleet::step(EpochMs now, std::vector<PingOut>& out) {
  if (now < now_) now = now_;
  for (size_t u = 0; u < units_.size(); ++u) {
    UnitState& st = units_[u];
    const UnitSpec& s = scenario_.units[u];
    // Pings in time order across the unit's devices, movement advanced to each.
    for (;;) {
      size_t best = SIZE_MAX;
      for (size_t d = 0; d < st.devices.size(); ++d)
        if (st.devices[d].next_ping <= now &&
            (best == SIZE_MAX || st.devices[d].next_ping < st.devices[best].next_ping))
          best = d;
      if (best == SIZE_MAX) break;
      EpochMs t = st.devices[best].next_ping;
      advance(u, t);
      if (st.mode != UnitMode::off_shift) emit(u, best, t, out);
      const DeviceSpec& ds = s.devices[best];
      st.devices[best].next_ping =
          t +
          std::max<EpochMs>(1000, static_cast<EpochMs>(uniform(st.rng, ds.interval_min_s, ds.interval_max_s) * 1000));
    }
    advance(u, now);
  }
  now_ = now;
}

bool Fleet::dispatch(size_t u, std::int64_t incident, geo::LonLat where, EpochMs now) {
  UnitState& st = units_[u];
  advance(u, std::max(now, now_));
  if (st.mode == UnitMode::off_shift) return false;
  if ((st.mode == UnitMode::responding || st.mode == UnitMode::on_scene) && st.incident == incident) return false;
  geo::XY here = motion(u, now).xy;
  st.path = travel(u, here, projection_.forward(where), true);
  st.path_start = now;
  st.mode = UnitMode::responding;
  st.incident = incident;
  return true;
}

void Fleet::release(size_t u, EpochMs now) {
  UnitState& st = units_[u];
  if (st.mode != UnitMode::responding && st.mode != UnitMode::on_scene) return;
  st.incident = 0;
  start_patrol_leg(u, now);
}

std::vector<FleetEvent> Fleet::take_events() {
  std::vector<FleetEvent> e;
  e.swap(events_);
  return e;
}

}  // namespace pm::sim
