#pragma once
// Configuration: one table of keys with defaults and descriptions (also the
// source of docs/operations.md), an INI-style file, and `--set key=value`
// overrides applied after it.
//
//   # patrolmap.conf
//   data_dir = /var/lib/patrolmap
//   [ingest]
//   future_s = 60           # -> key "ingest.future_s"
//
//   ConfigValues v;                       // all defaults
//   v.load_file("patrolmap.conf");        // Expected<void-ish>
//   v.set("ingest.too_old_s", "0");
//   auto cfg = Config::from(v);           // typed, validated
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pm {

struct ConfigKey {
  std::string_view key;
  std::string_view default_value;
  std::string_view description;
};

// Every known key, in documentation order.
std::span<const ConfigKey> config_keys();

class ConfigValues {
 public:
  ConfigValues();
  // Returns an error message, or nullopt on success.
  std::optional<std::string> load_file(const std::string& path);
  std::optional<std::string> parse_text(std::string_view text, std::string_view origin);
  std::optional<std::string> set(std::string_view key, std::string_view value);
  const std::string& get(std::string_view key) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view s);

enum class Registration { required, automatic };
enum class SyncMode { normal, full };

struct Config {
  std::string data_dir;
  HostPort http_listen;
  HostPort nmea_listen;
  HostPort lip_listen;
  unsigned http_threads = 1;
  size_t http_body_limit = 0;
  unsigned http_header_timeout_s = 0;
  unsigned http_body_timeout_s = 0;
  unsigned http_idle_timeout_s = 0;
  double http_rate_per_token = 0;  // requests per second, 0 = unlimited
  double http_rate_burst = 0;
  std::string http_web_root;
  std::string roads_osm_file;  // "" = no road network
  std::string basemap_osm_file;  // "" = no offline basemap
  std::string projection_crs;
  double live_extent[4] = {0, 0, 0, 0};  // west, south, east, north (degrees)
  unsigned live_flush_ms = 200;
  size_t live_max_pending = 50000;
  int64_t live_max_lag_ms = 10000;
  unsigned live_stall_close_s = 20;
  unsigned live_keepalive_s = 30;
  std::vector<std::string> live_allowed_origins;
  int64_t ingest_future_s = 0;
  int64_t ingest_too_old_s = 0;
  size_t ingest_max_batch = 0;
  Registration ingest_registration = Registration::required;
  std::string ingest_auto_unit_type;
  size_t store_queue_max_pings = 0;
  size_t store_max_txn_pings = 0;
  SyncMode store_synchronous = SyncMode::normal;
  unsigned store_snapshot_interval_s = 0;
  unsigned store_track_chunk_s = 0;  // 0: chunks are packed only at stop
  unsigned store_retention_days = 0;  // 0: keep forever
  unsigned store_retention_check_s = 600;
  int64_t store_retention_batch_rows = 5000;
  unsigned replay_max_window_h = 48;
  double replay_stop_radius_m = 30;
  double replay_stop_min_s = 120;
  size_t replay_max_fixes = 2000000;
  int64_t dispatch_stale_after_s = 300;
  double dispatch_speed_mps = 11;
  double dispatch_arrival_radius_m = 75;
  double dispatch_repeat_radius_m = 50;
  int64_t dispatch_repeat_window_days = 365;
  int64_t dispatch_grade1_urban_min = 15;
  int64_t dispatch_grade1_rural_min = 20;
  int64_t dispatch_grade2_min = 60;
  unsigned dispatch_tick_ms = 1000;
  std::string shift_boundaries = "07:00,14:00,22:00";  // validated: ShiftCalendar::parse succeeds
  std::string shift_timezone = "GMT0BST,M3.5.0/1,M10.5.0";
  double coverage_max_gap_s = 180;
  double coverage_visit_merge_s = 60;
  double coverage_koper_min_s = 600;
  unsigned coverage_live_hours = 36;
  unsigned coverage_alert_check_s = 30;
  unsigned report_threads = 1;
  size_t report_queue_max = 32;
  std::string log_level;

  // Converts and validates; returns an error message on a bad value.
  static std::optional<std::string> from(const ConfigValues& v, Config& out);
};

}  // namespace pm
