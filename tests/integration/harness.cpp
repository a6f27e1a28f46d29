#include "tests/integration/harness.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "server/core/config.hpp"
#include "server/core/log.hpp"
#include "tests/support/data_dir.hpp"

extern char** environ;

namespace pm::itest {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// ------------------------------------------------------------------ TempDir

TempDir::TempDir() {
  char tmpl[] = "/tmp/pm-itest-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --------------------------------------------------------------------- JSON

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError()) ADD_FAILURE() << "not JSON: " << text.substr(0, 300);
  return d;
}

std::string error_code(const HttpResponse& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str(), r.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("error") || !d["error"].IsObject()) return "";
  const auto& e = d["error"];
  if (!e.HasMember("code") || !e["code"].IsString() || !e.HasMember("message") || !e["message"].IsString()) return "";
  return e["code"].GetString();
}

namespace {
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;
void write_ping(JsonWriter& w, const Ping& p) {
  w.StartObject();
  w.Key("device");
  w.String(p.device.c_str(), static_cast<rapidjson::SizeType>(p.device.size()));
  w.Key("t");
  w.Int64(p.t);
  w.Key("lat");
  w.Double(p.lat);
  w.Key("lon");
  w.Double(p.lon);
  if (p.speed_mps) {
    w.Key("speed_mps");
    w.Double(*p.speed_mps);
  }
  if (p.emergency) {
    w.Key("emergency");
    w.Bool(*p.emergency);
  }
  w.EndObject();
}
}  // namespace

std::string ping_json(const Ping& p) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  write_ping(w, p);
  return sb.GetString();
}

std::string pings_json(const std::vector<Ping>& ps) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartArray();
  for (const auto& p : ps) write_ping(w, p);
  w.EndArray();
  return sb.GetString();
}

IngestAnswer ingest_answer(const HttpResponse& r) {
  IngestAnswer a;
  rapidjson::Document d;
  d.Parse(r.body.c_str(), r.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("accepted") || !d["accepted"].IsUint() ||
      !d.HasMember("rejected") || !d["rejected"].IsArray()) {
    ADD_FAILURE() << "not an ingest answer (status " << r.status << "): " << r.body.substr(0, 300);
    return a;
  }
  a.accepted = static_cast<int>(d["accepted"].GetUint());
  for (const auto& x : d["rejected"].GetArray()) {
    if (!x.IsObject() || !x.HasMember("index") || !x["index"].IsUint() || !x.HasMember("code") ||
        !x["code"].IsString() || !x.HasMember("message") || !x["message"].IsString() ||
        x["message"].GetStringLength() == 0) {
      ADD_FAILURE() << "bad rejected item in " << r.body.substr(0, 300);
      continue;
    }
    a.rejected.emplace_back(x["index"].GetUint(), x["code"].GetString());
  }
  return a;
}

// ---------------------------------------------------------------- real data

const std::vector<LatLon>& crime_points() {
  static const std::vector<LatLon> pts = [] {
    std::vector<LatLon> out;
    std::ifstream in(test::data_dir() + "/crime/2022-10-leicestershire-street.csv");
    if (!in) throw std::runtime_error("cannot read the crime CSV");
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // Crime ID,Month,Reported by,Falls within,Longitude,Latitude,...: no quoted commas before column 6.
      std::vector<std::string> cols;
      size_t start = 0;
      for (int i = 0; i < 6; ++i) {
        size_t comma = line.find(',', start);
        if (comma == std::string::npos) break;
        cols.push_back(line.substr(start, comma - start));
        start = comma + 1;
      }
      if (cols.size() < 6 || cols[4].empty() || cols[5].empty()) continue;
      out.push_back({std::strtod(cols[5].c_str(), nullptr), std::strtod(cols[4].c_str(), nullptr)});
    }
    if (out.size() < 9000) throw std::runtime_error("crime CSV: too few located rows");
    return out;
  }();
  return pts;
}

const std::vector<TrackPoint>& gpx_track() {
  static const std::vector<TrackPoint> pts = [] {
    std::vector<TrackPoint> out;
    std::ifstream in(test::data_dir() + "/gpx/gpsbabel_garmin_xt_strk.gpx");
    if (!in) throw std::runtime_error("cannot read the GPX track");
    std::string line;
    std::optional<TrackPoint> cur;
    while (std::getline(in, line)) {
      if (auto p = line.find("<trkpt lat=\""); p != std::string::npos) {
        TrackPoint tp{};
        tp.lat = std::strtod(line.c_str() + p + 12, nullptr);
        auto q = line.find("lon=\"");
        tp.lon = std::strtod(line.c_str() + q + 5, nullptr);
        cur = tp;
      } else if (auto t = line.find("<time>"); t != std::string::npos && cur) {
        std::tm tm{};
        if (!::strptime(line.c_str() + t + 6, "%Y-%m-%dT%H:%M:%SZ", &tm)) throw std::runtime_error("GPX time");
        cur->t = static_cast<EpochMs>(::timegm(&tm)) * 1000;
        out.push_back(*cur);
        cur.reset();
      }
    }
    if (out.size() != 958) throw std::runtime_error("GPX track: expected 958 points, got " + std::to_string(out.size()));
    return out;
  }();
  return pts;
}

// ------------------------------------------------------------------ metrics

std::optional<double> metric(const std::string& page, const std::string& series) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return std::nullopt;
}

// ------------------------------------------------------------------- DbView

DbView::DbView(const std::string& data_dir) {
  std::string path = data_dir + "/patrolmap.db";
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path << ": " << (db_ ? sqlite3_errmsg(db_) : "?");
    sqlite3_close(db_);
    db_ = nullptr;
    return;
  }
  sqlite3_busy_timeout(db_, 10000);
}

DbView::~DbView() { sqlite3_close(db_); }

int64_t DbView::scalar(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (!db_ || sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "prepare '" << sql << "': " << (db_ ? sqlite3_errmsg(db_) : "no db");
    return -1;
  }
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

std::vector<std::vector<std::string>> DbView::rows(const std::string& sql) {
  std::vector<std::vector<std::string>> out;
  sqlite3_stmt* st = nullptr;
  if (!db_ || sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "prepare '" << sql << "': " << (db_ ? sqlite3_errmsg(db_) : "no db");
    return out;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      auto p = sqlite3_column_text(st, c);
      row.emplace_back(p ? reinterpret_cast<const char*>(p) : "<null>");
    }
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) ADD_FAILURE() << "step '" << sql << "': " << sqlite3_errmsg(db_);
  sqlite3_finalize(st);
  return out;
}

std::vector<FixRow> DbView::fixes() {
  std::vector<FixRow> out;
  const char* sql =
      "SELECT d.id, f.t, f.lat, f.lon, u.id, f.flags FROM fixes f JOIN devices d ON d.idx = f.device "
      "LEFT JOIN units u ON u.idx = f.unit ORDER BY f.rowid";
  sqlite3_stmt* st = nullptr;
  if (!db_ || sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "prepare fixes: " << (db_ ? sqlite3_errmsg(db_) : "no db");
    return out;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    FixRow r;
    r.device = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    r.t = sqlite3_column_int64(st, 1);
    r.lat = sqlite3_column_double(st, 2);
    r.lon = sqlite3_column_double(st, 3);
    if (sqlite3_column_type(st, 4) != SQLITE_NULL) r.unit = reinterpret_cast<const char*>(sqlite3_column_text(st, 4));
    r.flags = sqlite3_column_int64(st, 5);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) ADD_FAILURE() << "step fixes: " << sqlite3_errmsg(db_);
  sqlite3_finalize(st);
  return out;
}

// --------------------------------------------------------------- TestServer

TestServer::TestServer(Overrides overrides, bool real_clock)
    : overrides_(std::move(overrides)), real_clock_(real_clock) {
  data_dir_ = tmp_.path() + "/data";
  start();
}

TestServer::~TestServer() { stop(); }

void TestServer::start() {
  log::set_level(log::Level::warn);
  ConfigValues v;
  auto set = [&](const std::string& k, const std::string& val) {
    if (auto e = v.set(k, val)) throw std::runtime_error(*e);
  };
  set("data_dir", data_dir_);
  set("http.listen", "127.0.0.1:0");
  set("nmea.listen", "127.0.0.1:0");
  set("lip.listen", "127.0.0.1:0");
  set("http.rate_per_token", "0");
  for (const auto& [k, val] : overrides_) set(k, val);
  Config c;
  if (auto e = Config::from(v, c)) throw std::runtime_error(*e);
  app_ = std::make_unique<App>(c, real_clock_ ? nullptr : &clock_);
  app_->start();
  port_ = app_->http_port();
  if (admin_.empty()) admin_ = app_->add_token(Role::admin, "harness-admin");
}

void TestServer::stop() {
  if (app_) {
    app_->stop();
    app_.reset();
  }
}

void TestServer::restart(bool wait_for_tokens) {
  stop();
  start();
  if (wait_for_tokens && !wait_until_token_works(port_, admin_))
    ADD_FAILURE() << "stored tokens not accepted within 5 s of a restart";
}

std::optional<std::chrono::milliseconds> wait_until_token_works(uint16_t port, const std::string& token,
                                                                std::chrono::milliseconds timeout) {
  const auto start = SteadyClock::now();
  HttpClient c("127.0.0.1", port);
  for (;;) {
    auto r = c.request("GET", "/api/v1/units", {}, test::bearer(token));
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
    if (r.status != 401 && r.status != 0) return waited;
    if (waited >= timeout) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

std::string TestServer::token(Role role, const std::string& device) {
  return app_->add_token(role, "test-" + std::string(role_name(role)), device);
}

HttpResponse TestServer::request(const std::string& method, const std::string& target, const std::string& body,
                                 const std::string& token) {
  HttpClient c("127.0.0.1", port_);
  return c.request(method, target, body, token.empty() ? test::Headers{} : test::bearer(token));
}

void TestServer::put_unit(const std::string& id, const std::string& body) {
  auto r = request("PUT", "/api/v1/units/" + id, body, admin_);
  if (r.status != 201 && r.status != 200) ADD_FAILURE() << "PUT unit " << id << ": " << r.status << " " << r.body;
}

void TestServer::put_device(const std::string& id, const std::string& unit, const std::string& kind) {
  std::string body = "{\"kind\":\"" + kind + "\",\"unit\":" + (unit.empty() ? "null" : "\"" + unit + "\"") + "}";
  auto r = request("PUT", "/api/v1/devices/" + id, body, admin_);
  if (r.status != 201 && r.status != 200) ADD_FAILURE() << "PUT device " << id << ": " << r.status << " " << r.body;
}

std::string TestServer::metrics_page() {
  auto r = request("GET", "/metrics", {}, admin_);
  if (r.status != 200) ADD_FAILURE() << "GET /metrics: " << r.status << " " << r.body;
  return r.body;
}

std::map<std::string, const rapidjson::Value*> TestServer::units(rapidjson::Document& doc) {
  std::map<std::string, const rapidjson::Value*> out;
  auto r = request("GET", "/api/v1/units", {}, admin_);
  if (r.status != 200) {
    ADD_FAILURE() << "GET /api/v1/units: " << r.status << " " << r.body;
    return out;
  }
  doc.Parse(r.body.c_str(), r.body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("units") || !doc["units"].IsArray()) {
    ADD_FAILURE() << "bad units body " << r.body.substr(0, 300);
    return out;
  }
  for (const auto& u : doc["units"].GetArray()) {
    std::string id = u["id"].GetString();
    if (out.count(id)) ADD_FAILURE() << "unit " << id << " listed twice";
    out[id] = &u;
  }
  return out;
}

// ------------------------------------------------------------- subprocesses

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

namespace {

std::vector<char*> argv_of(std::vector<std::string>& args) {
  std::vector<char*> v;
  for (auto& a : args) v.push_back(a.data());
  v.push_back(nullptr);
  return v;
}

}  // namespace

ProcResult run_patrolmapd(const std::vector<std::string>& args_in, std::chrono::milliseconds timeout) {
  ProcResult res;
  std::vector<std::string> args{PATROLMAPD_PATH};
  args.insert(args.end(), args_in.begin(), args_in.end());
  int out_p[2], err_p[2];
  if (::pipe2(out_p, O_CLOEXEC) != 0 || ::pipe2(err_p, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return res;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
  pid_t pid = -1;
  auto argv = argv_of(args);
  int rc = posix_spawn(&pid, args[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_p[1]);
  ::close(err_p[1]);
  if (rc != 0) {
    ::close(out_p[0]);
    ::close(err_p[0]);
    ADD_FAILURE() << "posix_spawn " << args[0] << ": " << std::strerror(rc);
    return res;
  }
  const auto deadline = SteadyClock::now() + timeout;
  pollfd fds[2] = {{out_p[0], POLLIN, 0}, {err_p[0], POLLIN, 0}};
  std::string* sinks[2] = {&res.out, &res.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      res.timed_out = true;
      break;
    }
    int pr = ::poll(fds, 2, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  if (res.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) res.term_signal = WTERMSIG(status);
  return res;
}

std::string cli_add_token(const std::string& data_dir, const std::string& role, const std::string& name,
                          const std::string& device) {
  std::vector<std::string> args{"tokens", "add", "--data-dir", data_dir, "--role", role, "--name", name};
  if (!device.empty()) {
    args.push_back("--device");
    args.push_back(device);
  }
  auto r = run_patrolmapd(args);
  auto lines = split_lines(r.out);
  if (r.exit_code != 0 || lines.size() != 1 || lines[0].empty()) {
    ADD_FAILURE() << "tokens add failed: exit " << r.exit_code << " out '" << r.out << "' err '" << r.err << "'";
    return "";
  }
  return lines[0];
}

std::vector<std::string> loopback_listen_args() {
  return {"--listen", "127.0.0.1:0", "--nmea-listen", "127.0.0.1:0", "--lip-listen", "127.0.0.1:0"};
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

bool Daemon::start(const std::vector<std::string>& args_in, const std::string& stderr_path,
                   std::chrono::milliseconds timeout) {
  std::vector<std::string> args{PATROLMAPD_PATH};
  args.insert(args.end(), args_in.begin(), args_in.end());
  int out_p[2];
  if (::pipe2(out_p, O_CLOEXEC) != 0) {
    error_ = "pipe2 failed";
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  auto argv = argv_of(args);
  int rc = posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_p[1]);
  if (rc != 0) {
    ::close(out_p[0]);
    pid_ = -1;
    error_ = std::string("posix_spawn: ") + std::strerror(rc);
    return false;
  }
  out_fd_ = out_p[0];
  const auto deadline = SteadyClock::now() + timeout;
  std::string got;
  char buf[1024];
  for (;;) {
    auto nl = got.find('\n');
    if (nl != std::string::npos) {
      std::string line = got.substr(0, nl);
      got.erase(0, nl + 1);
      if (line.rfind("listening http ", 0) == 0) {
        line_ = line;
        auto colon = line.rfind(':');
        port_ = static_cast<uint16_t>(std::strtoul(line.c_str() + colon + 1, nullptr, 10));
        return port_ != 0;
      }
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      error_ = "no 'listening http' line in time; stdout so far: '" + got + "'";
      return false;
    }
    pollfd p{out_fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = "daemon closed stdout before listening; stderr: " + read_file(stderr_path);
      return false;
    }
    got.append(buf, static_cast<size_t>(n));
  }
}

void Daemon::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Daemon::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (out_fd_ >= 0) ::close(out_fd_);
      out_fd_ = -1;
      return status;
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (SteadyClock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace pm::itest
