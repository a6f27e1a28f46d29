#pragma once
// Shared pieces of the integration suite: a temporary data directory, an
// in-process server (pm::App on 127.0.0.1 port 0), the daemon as a
// subprocess, an independent read-only view of the SQLite store, ping JSON,
// metric lookup, and real positions from ../shared/data.
//
//   TestServer s({{"ingest.max_batch", "3"}});        // fixed clock at kNow
//   auto admin = s.token(pm::Role::admin);
//   auto r = s.request("GET", "/metrics", {}, admin);
//   EXPECT_EQ(metric(r.body, "patrolmap_pings_accepted_total{channel=\"json\"}"), 0);
#include <rapidjson/document.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/app/app.hpp"
#include "server/core/clock.hpp"
#include "tests/support/http_client.hpp"

struct sqlite3;

namespace pm::itest {

using namespace std::chrono_literals;
using test::HttpClient;
using test::HttpResponse;

// 2026-11-22T10:00:00.000Z (`date -u -d 2026-11-22T10:00:00Z +%s` = 1795341600).
constexpr EpochMs kNow = 1795341600000;

// mkdtemp under /tmp; removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------- JSON

rapidjson::Document parse_json(const std::string& text);  // ADD_FAILURE on a parse error
// error.code of an error envelope, or "" when the body is not one.
std::string error_code(const HttpResponse& r);

struct Ping {
  std::string device;
  EpochMs t = 0;
  double lat = 0, lon = 0;
  std::optional<bool> emergency;
  std::optional<double> speed_mps;
};
std::string ping_json(const Ping& p);                   // one object
std::string pings_json(const std::vector<Ping>& ps);    // an array

// The 202 answer of POST /api/v1/pings.
struct IngestAnswer {
  int accepted = -1;
  std::vector<std::pair<unsigned, std::string>> rejected;  // (index, code), in answer order
};
IngestAnswer ingest_answer(const HttpResponse& r);
using Rejected = std::vector<std::pair<unsigned, std::string>>;

// ----------------------------------------------------------- real data

struct LatLon {
  double lat, lon;
};
// Street-level crime locations of Leicestershire Police (October 2022), in file order.
const std::vector<LatLon>& crime_points();
// The GPX car drive near Wokingham (958 points), with its recorded times.
struct TrackPoint {
  double lat, lon;
  EpochMs t;
};
const std::vector<TrackPoint>& gpx_track();

// --------------------------------------------------------------- metrics

// Value of one Prometheus series (`name{labels}` exactly as rendered), or nullopt.
std::optional<double> metric(const std::string& page, const std::string& series);

// ------------------------------------------------------------- store view

// The store read through the SQLite C API, read-only, independently of the server code.
struct FixRow {
  std::string device;  // devices.id
  EpochMs t;
  double lat, lon;
  std::optional<std::string> unit;  // units.id of the fix's unit column
  int64_t flags;
};
class DbView {
 public:
  explicit DbView(const std::string& data_dir);
  ~DbView();
  DbView(const DbView&) = delete;
  DbView& operator=(const DbView&) = delete;
  bool ok() const { return db_ != nullptr; }
  int64_t scalar(const std::string& sql);  // first column of the first row
  std::vector<FixRow> fixes();
  std::vector<std::vector<std::string>> rows(const std::string& sql);  // every column as text ("<null>")

 private:
  ::sqlite3* db_ = nullptr;
};

// ------------------------------------------------------ in-process server

// An App on 127.0.0.1:0 with its own data dir. The clock is a ManualClock at
// kNow unless `real_clock`. Rate limiting is off unless the overrides set it.
class TestServer {
 public:
  using Overrides = std::map<std::string, std::string>;
  TestServer() : TestServer(Overrides{}) {}
  explicit TestServer(Overrides overrides, bool real_clock = false);
  TestServer(std::initializer_list<std::pair<const std::string, std::string>> overrides, bool real_clock = false)
      : TestServer(Overrides(overrides), real_clock) {}
  ~TestServer();
  void stop();
  // Stop, then a new App on the same data dir and config. With
  // `wait_for_tokens`, returns once the stored tokens are accepted again (a
  // restarted App answers 401 until its store writer first loads them).
  void restart(bool wait_for_tokens = true);
  uint16_t port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  App& app() { return *app_; }
  ManualClock& clock() { return clock_; }

  std::string token(Role role, const std::string& device = {});  // a new token
  HttpClient client() const { return HttpClient("127.0.0.1", port_); }
  // One request on a fresh connection; `token` empty = no Authorization.
  HttpResponse request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::string& token = {});
  HttpResponse post_pings(const std::string& token, const std::string& body) {
    return request("POST", "/api/v1/pings", body, token);
  }
  // Admin shortcuts that must succeed (ADD_FAILURE otherwise).
  void put_unit(const std::string& id, const std::string& body = R"({"type":"car"})");
  void put_device(const std::string& id, const std::string& unit, const std::string& kind = "avl");
  std::string metrics_page();
  // GET /api/v1/units as a map id -> unit object (copied into `doc`).
  std::map<std::string, const rapidjson::Value*> units(rapidjson::Document& doc);

 private:
  void start();

  TempDir tmp_;
  std::string data_dir_;
  std::map<std::string, std::string> overrides_;
  bool real_clock_;
  ManualClock clock_{kNow};
  std::unique_ptr<App> app_;
  uint16_t port_ = 0;
  std::string admin_;
};

// ------------------------------------------------------------ subprocesses

struct ProcResult {
  int exit_code = -1;    // when exited normally
  int term_signal = 0;   // when killed by a signal
  bool timed_out = false;
  std::string out, err;
};
// Runs PATROLMAPD_PATH with `args`, capturing stdout and stderr.
ProcResult run_patrolmapd(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 30s);
// `patrolmapd tokens add`; returns the printed token (ADD_FAILURE and "" on failure).
std::string cli_add_token(const std::string& data_dir, const std::string& role, const std::string& name,
                          const std::string& device = {});
std::vector<std::string> split_lines(const std::string& s);

// --listen, --nmea-listen and --lip-listen on 127.0.0.1 port 0: nothing
// fixed, so daemons of tests running in parallel never collide.
std::vector<std::string> loopback_listen_args();

// The daemon as a child process. start() waits for "listening http H:P".
class Daemon {
 public:
  Daemon() = default;
  ~Daemon();  // SIGKILLs a still-running child
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Returns false (with `error`) when the child exits or does not print the
  // listening line within `timeout`. `stderr_path` receives the child's logs.
  bool start(const std::vector<std::string>& args, const std::string& stderr_path,
             std::chrono::milliseconds timeout = 30s);
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& listening_line() const { return line_; }
  const std::string& error() const { return error_; }
  void signal(int sig);
  // Waits for the child; nullopt on timeout. Else the raw waitpid status.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  uint16_t port_ = 0;
  std::string line_, error_;
};

std::string read_file(const std::string& path);

// Polls GET /api/v1/units with `token` until it is no longer 401 (or `timeout`);
// returns how long that took, or nullopt on timeout.
std::optional<std::chrono::milliseconds> wait_until_token_works(uint16_t port, const std::string& token,
                                                                std::chrono::milliseconds timeout = 5s);

}  // namespace pm::itest
