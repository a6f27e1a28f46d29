#include "server/core/config.hpp"

#include <array>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "server/core/shifts.hpp"

namespace pm {
namespace {

constexpr std::array kKeys = {
    ConfigKey{"data_dir", "./patrolmap-data", "directory holding the store (SQLite, WAL mode) and nothing else"},
    ConfigKey{"http.listen", "0.0.0.0:8080", "main port: API, WebSocket, web pages; port 0 picks a free port"},
    ConfigKey{"http.threads", "0", "I/O threads; 0 = one less than the cores (at least 1): the store writer has its own"},
    ConfigKey{"http.body_limit_bytes", "8388608", "largest request body accepted (413 body_too_large beyond)"},
    ConfigKey{"http.header_timeout_s", "10", "time allowed to receive a request's headers"},
    ConfigKey{"http.body_timeout_s", "30", "time allowed to receive a request's body"},
    ConfigKey{"http.idle_timeout_s", "60", "keep-alive connections idle longer are closed"},
    ConfigKey{"http.rate_per_token", "2000", "sustained requests per second per token (429 beyond); 0 = unlimited"},
    ConfigKey{"http.rate_burst", "4000", "requests a token may send in a burst above the sustained rate"},
    ConfigKey{"http.web_root", "", "directory of the web pages served at /; empty = the built-in page"},
    ConfigKey{"nmea.listen", "0.0.0.0:5010", "NMEA 0183 over TCP and UDP"},
    ConfigKey{"lip.listen", "0.0.0.0:5020", "TETRA PEI over TCP and LIP over UDP"},
    ConfigKey{"projection.crs", "EPSG:27700", "metric CRS for distances and areas (British National Grid)"},
    ConfigKey{"live.extent", "-1.62,52.38,-0.40,52.99", "west,south,east,north in degrees where units usually are "
                                                         "(sizes the nearest-unit grid; default Leicestershire and Rutland)"},
    ConfigKey{"live.flush_ms", "200", "live map: a client gets at most one delta per this many milliseconds"},
    ConfigKey{"live.max_pending", "50000", "live map: pending unit, incident and alert updates per client; beyond, the "
                                           "client's next frame is a fresh snapshot"},
    ConfigKey{"live.max_lag_ms", "10000", "live map: a client that has taken no frame for this long while updates "
                                          "arrive gets a fresh snapshot instead of the deltas"},
    ConfigKey{"live.stall_close_s", "20", "live map: a client that has not read a frame for this long is "
                                          "disconnected (it stopped reading)"},
    ConfigKey{"live.keepalive_s", "30", "live map: a client silent this long is disconnected; it is sent a "
                                        "WebSocket ping at half of it"},
    ConfigKey{"live.allowed_origins", "", "live map: extra browser Origins allowed to open the feed, comma separated "
                                          "(the page's own origin always is; clients without Origin are not browsers)"},
    ConfigKey{"ingest.future_s", "60", "fixes more than this many seconds ahead of the server clock: future_time"},
    ConfigKey{"ingest.too_old_s", "86400", "fixes older than this many seconds: too_old; 0 disables the check"},
    ConfigKey{"ingest.max_batch", "5000", "most pings in one HTTP batch (413 batch_too_large beyond)"},
    ConfigKey{"ingest.registration", "required", "required: unknown devices are rejected (unknown_device); auto: "
                                                 "a new device is registered with a unit of the same id"},
    ConfigKey{"ingest.auto_unit_type", "car", "unit type given to auto-registered units"},
    ConfigKey{"store.queue_max_pings", "262144", "pings waiting for the store writer; beyond, 503 overloaded with "
                                                 "Retry-After"},
    ConfigKey{"store.max_txn_pings", "65536", "most pings group-committed in one transaction"},
    ConfigKey{"store.synchronous", "normal", "normal: acknowledged pings survive a crash or kill -9 of the daemon; "
                                             "full: they also survive power loss (fsync per commit)"},
    ConfigKey{"store.snapshot_interval_s", "5", "how often live state is checkpointed to speed up restart"},
    ConfigKey{"store.track_chunk_s", "60", "how often newly stored fixes are packed into per-unit track chunks (replay reads); "
                                           "0 = only when the daemon stops (replays then scan the fixes table)"},
    ConfigKey{"store.retention_days", "0", "fixes and track chunks older than this many days are deleted automatically, "
                                           "in small batches between ping commits; 0 = keep forever (the audit log is never deleted)"},
    ConfigKey{"store.retention_check_s", "600", "how often retention looks for expired fixes (each batch of "
                                                "store.retention_batch_rows is its own short transaction)"},
    ConfigKey{"store.retention_batch_rows", "5000", "most fixes deleted in one retention transaction"},
    ConfigKey{"dispatch.stale_after_s", "300", "units whose freshest fix is older are not recommended"},
    ConfigKey{"dispatch.straight_line_speed_mps", "11", "speed for straight-line ETAs when no road network is loaded"},
    ConfigKey{"dispatch.arrival_radius_m", "75", "a unit this close to an incident has arrived (auto on_scene, "
                                                 "self-deployment)"},
    ConfigKey{"dispatch.repeat_radius_m", "50", "earlier incidents this close are flagged as a repeat location"},
    ConfigKey{"dispatch.repeat_window_days", "365", "how far back repeat-location and repeat-caller flags look"},
    ConfigKey{"dispatch.grade1_urban_min", "15", "grade 1 response target in an urban area (minutes)"},
    ConfigKey{"dispatch.grade1_rural_min", "20", "grade 1 response target in a rural area (minutes)"},
    ConfigKey{"dispatch.grade2_min", "60", "grade 2 response target (minutes); grade 3 uses its appointment window"},
    ConfigKey{"roads.osm_file", "", "an OpenStreetMap extract (.osm.pbf) whose drivable roads give drive-time ETAs "
                                    "(recommendation method `road`); empty = straight-line ETAs only"},
    ConfigKey{"basemap.osm_file", "", "an OpenStreetMap extract (.osm.pbf) drawn as the dispatcher map's offline basemap "
                                      "(GET /api/v1/basemap); empty = no basemap"},
    ConfigKey{"dispatch.tick_ms", "1000", "how often the grade clock checks for predicted breaches and breaches"},
    ConfigKey{"shift.boundaries", "07:00,14:00,22:00", "local times of day at which shifts start (SPEC 2); targets are per shift"},
    ConfigKey{"shift.timezone", "GMT0BST,M3.5.0/1,M10.5.0", "local time for the shift boundaries as a POSIX TZ rule (default UK time; UTC0 for UTC)"},
    ConfigKey{"coverage.max_gap_s", "180", "patrol presence: two fixes of a unit further apart than this form no segment (SPEC 5)"},
    ConfigKey{"coverage.visit_merge_s", "60", "patrol presence: inside intervals this close merge into one visit"},
    ConfigKey{"coverage.koper_min_s", "600", "patrol presence: a visit at least this long is a Koper visit"},
    ConfigKey{"coverage.live_hours", "36", "live coverage accounting keeps this many hours of fixes in memory (reports for older windows read the store)"},
    ConfigKey{"coverage.alert_check_s", "30", "how often hot spots are checked against their max_gap_minutes during a shift"},
    ConfigKey{"replay.max_window_h", "48", "longest window of GET /api/v1/tracks (hours)"},
    ConfigKey{"replay.stop_radius_m", "30", "replay: a stop is a run of fixes within this distance of its first fix"},
    ConfigKey{"replay.stop_min_s", "120", "replay: ... lasting at least this many seconds"},
    ConfigKey{"replay.max_fixes", "2000000", "most fixes one tracks request may read (before simplification); "
                                             "beyond, 413 result_too_large"},
    ConfigKey{"report.threads", "1", "threads running report, replay and export queries (each with its own read-only store connection), off the I/O threads"},
    ConfigKey{"report.queue_max", "32", "report queries waiting for a thread; beyond, 503 overloaded"},
    ConfigKey{"log.level", "info", "debug, info, warn or error; location data is only logged at debug"},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class T>
bool to_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

ConfigValues::ConfigValues() {
  for (const auto& k : kKeys) values_.emplace(std::string(k.key), std::string(k.default_value));
}

std::optional<std::string> ConfigValues::set(std::string_view key, std::string_view value) {
  auto it = values_.find(key);
  if (it == values_.end()) return "unknown config key '" + std::string(key) + "'";
  it->second = std::string(value);
  return std::nullopt;
}

const std::string& ConfigValues::get(std::string_view key) const {
  static const std::string kEmpty;
  auto it = values_.find(key);
  return it == values_.end() ? kEmpty : it->second;
}

std::optional<std::string> ConfigValues::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read config file '" + path + "'";
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_text(ss.str(), path);
}

std::optional<std::string> ConfigValues::parse_text(std::string_view text, std::string_view origin) {
  std::string section;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    auto where = [&] { return std::string(origin) + ":" + std::to_string(line_no) + ": "; };
    if (line.front() == '[') {
      if (line.back() != ']') return where() + "unterminated section header";
      section = std::string(trim(line.substr(1, line.size() - 2)));
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return where() + "expected key = value";
    std::string key(trim(line.substr(0, eq)));
    if (!section.empty()) key = section + "." + key;
    std::string_view value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (auto err = set(key, value)) return where() + *err;
  }
  return std::nullopt;
}

std::optional<HostPort> parse_host_port(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  if (!to_number(s.substr(colon + 1), port) || port > 65535) return std::nullopt;
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

std::optional<std::string> Config::from(const ConfigValues& v, Config& c) {
  auto bad = [](std::string_view key, const std::string& value, std::string_view want) {
    return "config " + std::string(key) + " = '" + value + "': expected " + std::string(want);
  };
  auto num = [&](std::string_view key, auto& out, auto min, auto max) -> std::optional<std::string> {
    const std::string& s = v.get(key);
    if (!to_number(s, out) || out < min || out > max)
      return bad(key, s, "a number from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  };
  auto addr = [&](std::string_view key, HostPort& out) -> std::optional<std::string> {
    auto hp = parse_host_port(v.get(key));
    if (!hp) return bad(key, v.get(key), "HOST:PORT");
    out = *hp;
    return std::nullopt;
  };
  c.data_dir = v.get("data_dir");
  if (c.data_dir.empty()) return bad("data_dir", c.data_dir, "a directory");
  if (auto e = addr("http.listen", c.http_listen)) return e;
  if (auto e = addr("nmea.listen", c.nmea_listen)) return e;
  if (auto e = addr("lip.listen", c.lip_listen)) return e;
  if (auto e = num("http.threads", c.http_threads, 0u, 64u)) return e;
  if (c.http_threads == 0) c.http_threads = std::max(1u, std::thread::hardware_concurrency() - 1);
  if (auto e = num("http.body_limit_bytes", c.http_body_limit, size_t{1024}, size_t{1} << 30)) return e;
  if (auto e = num("http.header_timeout_s", c.http_header_timeout_s, 1u, 3600u)) return e;
  if (auto e = num("http.body_timeout_s", c.http_body_timeout_s, 1u, 3600u)) return e;
  if (auto e = num("http.idle_timeout_s", c.http_idle_timeout_s, 1u, 86400u)) return e;
  if (auto e = num("http.rate_per_token", c.http_rate_per_token, 0.0, 1e9)) return e;
  if (auto e = num("http.rate_burst", c.http_rate_burst, 0.0, 1e9)) return e;
  c.http_web_root = v.get("http.web_root");
  c.roads_osm_file = v.get("roads.osm_file");
  c.basemap_osm_file = v.get("basemap.osm_file");
  c.projection_crs = v.get("projection.crs");
  {
    const std::string& e = v.get("live.extent");
    std::string_view rest = e;
    for (int i = 0; i < 4; ++i) {
      size_t comma = rest.find(',');
      std::string_view part = trim(rest.substr(0, comma));
      char* end = nullptr;
      std::string tmp(part);
      c.live_extent[i] = std::strtod(tmp.c_str(), &end);
      if (tmp.empty() || *end != '\0' || (i < 3 && comma == std::string_view::npos))
        return bad("live.extent", e, "west,south,east,north in degrees");
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (!(c.live_extent[0] < c.live_extent[2] && c.live_extent[1] < c.live_extent[3]))
      return bad("live.extent", e, "west < east and south < north");
  }
  if (auto e = num("live.flush_ms", c.live_flush_ms, 10u, 60000u)) return e;
  if (auto e = num("live.max_pending", c.live_max_pending, size_t{16}, size_t{1} << 24)) return e;
  if (auto e = num("live.max_lag_ms", c.live_max_lag_ms, int64_t{100}, int64_t{3600000})) return e;
  if (auto e = num("live.stall_close_s", c.live_stall_close_s, 1u, 3600u)) return e;
  if (auto e = num("live.keepalive_s", c.live_keepalive_s, 1u, 3600u)) return e;
  {
    std::string_view rest = v.get("live.allowed_origins");
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view part = trim(rest.substr(0, comma));
      if (!part.empty()) c.live_allowed_origins.emplace_back(part);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  if (auto e = num("ingest.future_s", c.ingest_future_s, int64_t{0}, int64_t{86400 * 365})) return e;
  if (auto e = num("ingest.too_old_s", c.ingest_too_old_s, int64_t{0}, int64_t{86400} * 36500)) return e;
  if (auto e = num("ingest.max_batch", c.ingest_max_batch, size_t{1}, size_t{1000000})) return e;
  const std::string& reg = v.get("ingest.registration");
  if (reg == "required") c.ingest_registration = Registration::required;
  else if (reg == "auto") c.ingest_registration = Registration::automatic;
  else return bad("ingest.registration", reg, "required or auto");
  c.ingest_auto_unit_type = v.get("ingest.auto_unit_type");
  if (auto e = num("store.queue_max_pings", c.store_queue_max_pings, size_t{1}, size_t{1} << 30)) return e;
  if (auto e = num("store.max_txn_pings", c.store_max_txn_pings, size_t{1}, size_t{1} << 24)) return e;
  const std::string& sync = v.get("store.synchronous");
  if (sync == "normal") c.store_synchronous = SyncMode::normal;
  else if (sync == "full") c.store_synchronous = SyncMode::full;
  else return bad("store.synchronous", sync, "normal or full");
  if (auto e = num("store.snapshot_interval_s", c.store_snapshot_interval_s, 1u, 3600u)) return e;
  if (auto e = num("store.track_chunk_s", c.store_track_chunk_s, 0u, 3600u)) return e;
  if (auto e = num("store.retention_days", c.store_retention_days, 0u, 36500u)) return e;
  if (auto e = num("store.retention_check_s", c.store_retention_check_s, 1u, 86400u)) return e;
  if (auto e = num("store.retention_batch_rows", c.store_retention_batch_rows, int64_t{1}, int64_t{1000000})) return e;
  if (auto e = num("dispatch.stale_after_s", c.dispatch_stale_after_s, int64_t{1}, int64_t{86400})) return e;
  if (auto e = num("dispatch.straight_line_speed_mps", c.dispatch_speed_mps, 0.1, 1000.0)) return e;
  if (auto e = num("dispatch.arrival_radius_m", c.dispatch_arrival_radius_m, 1.0, 10000.0)) return e;
  if (auto e = num("dispatch.repeat_radius_m", c.dispatch_repeat_radius_m, 1.0, 10000.0)) return e;
  if (auto e = num("dispatch.repeat_window_days", c.dispatch_repeat_window_days, int64_t{0}, int64_t{36500})) return e;
  if (auto e = num("dispatch.grade1_urban_min", c.dispatch_grade1_urban_min, int64_t{1}, int64_t{1440})) return e;
  if (auto e = num("dispatch.grade1_rural_min", c.dispatch_grade1_rural_min, int64_t{1}, int64_t{1440})) return e;
  if (auto e = num("dispatch.grade2_min", c.dispatch_grade2_min, int64_t{1}, int64_t{10080})) return e;
  if (auto e = num("dispatch.tick_ms", c.dispatch_tick_ms, 100u, 60000u)) return e;
  {
    std::string err;
    auto cal = ShiftCalendar::parse(v.get("shift.boundaries"), v.get("shift.timezone"), &err);
    if (!cal) return "config shift.boundaries / shift.timezone: " + err;
    c.shift_boundaries = v.get("shift.boundaries");
    c.shift_timezone = v.get("shift.timezone");
  }
  if (auto e = num("coverage.max_gap_s", c.coverage_max_gap_s, 1.0, 86400.0)) return e;
  if (auto e = num("coverage.visit_merge_s", c.coverage_visit_merge_s, 0.0, 86400.0)) return e;
  if (auto e = num("coverage.koper_min_s", c.coverage_koper_min_s, 1.0, 86400.0)) return e;
  if (auto e = num("coverage.live_hours", c.coverage_live_hours, 1u, 24u * 31u)) return e;
  if (auto e = num("coverage.alert_check_s", c.coverage_alert_check_s, 1u, 3600u)) return e;
  if (auto e = num("replay.max_window_h", c.replay_max_window_h, 1u, 24u * 366u)) return e;
  if (auto e = num("replay.stop_radius_m", c.replay_stop_radius_m, 0.0, 10000.0)) return e;
  if (auto e = num("replay.stop_min_s", c.replay_stop_min_s, 1.0, 86400.0)) return e;
  if (auto e = num("replay.max_fixes", c.replay_max_fixes, size_t{1}, size_t{100000000})) return e;
  if (auto e = num("report.threads", c.report_threads, 1u, 64u)) return e;
  if (auto e = num("report.queue_max", c.report_queue_max, size_t{1}, size_t{100000})) return e;
  c.log_level = v.get("log.level");
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error")
    return bad("log.level", c.log_level, "debug, info, warn or error");
  return std::nullopt;
}

}  // namespace pm
