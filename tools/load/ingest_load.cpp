// ingest_load: end-to-end ingest load driver for patrolmapd (and a Redis GEOADD peer).
//
// It pre-generates N units spread over Leicestershire, moving a little each
// round, and pre-serialises every HTTP request (headers + JSON body in the
// SPEC section 3 format) before the clock starts. At send time it only patches
// the fixed-width timestamp of each ping in place (near "now", strictly
// increasing per device, so nothing is a duplicate or too old). One thread,
// epoll, non-blocking keep-alive sockets, one request in flight per
// connection: the server answers 202 only after the batch is committed, so
// the acknowledged count is the durable count.
//
// With --redis HOST:PORT it runs the same points through Redis as pipelined
// GEOADD commands (RESP spoken directly: same connections, pipeline depth =
// batch size, same number of pings) and prints the ratio patrolmap/redis.
//
// With --udp nmea|json it sends UDP datagrams to the NMEA port instead (one
// device's P fixes per datagram, sendmmsg, paced or flat out) and, since UDP
// has no answer, measures what the server stored: patrolmap_pings_accepted_total
// of the channel from GET /metrics (admin token) before, during and after.
//
//   ingest_load --port 8080 --token T --batch 1000 --connections 8 --duration 15
//   ingest_load --port 8080 --token T --batch 100 --redis 127.0.0.1:6379 --json
//   ingest_load --port 8080 --token ADMIN --udp nmea --udp-port 5010 --per-datagram 10
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <numbers>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/time_format.hpp"
#include "tools/load/load_util.hpp"

namespace {

using pm::load::cpu_seconds_self;
using pm::load::die;
using pm::load::parse_num;
using pm::load::now_ns;
using pm::load::Rng;
using pm::load::wall_ms;

constexpr const char* kUsage = R"(ingest_load: end-to-end HTTP ingest load driver for patrolmapd

usage: ingest_load [options]

target
  --host HOST            patrolmapd address (default 127.0.0.1)
  --port PORT            patrolmapd HTTP port; omit to run only the Redis peer
  --token TOKEN          bearer token with the gateway role (or env PATROLMAP_TOKEN)
  --redis HOST:PORT      also run the Redis GEOADD peer on the same points and print
                         the ratio patrolmap/redis
  --redis-key KEY        sorted set used by GEOADD (default patrolmap:bench)

load
  --units N              units (devices) spread over Leicestershire (default 100000)
  --batch N              pings per HTTP request / Redis pipeline depth (default 1000)
  --connections C        keep-alive connections, one request in flight each (default 16)
  --duration S           measure for S seconds (default 15) ...
  --pings N              ... or until N pings were sent (overrides --duration)
  --warmup N             pings sent before measuring, not counted (default: one round
                         = --units; 0 = none). Registers new units on a fresh server.
                         With --udp: N datagrams (default: one per unit), at most 100k pings/s
                         (registering a unit costs the store three rows, not one).
  --time iso|ms          timestamp format on the wire (default iso: "2026-11-22T10:15:03.250Z")
  --pool-rounds R        rounds of movement pre-serialised (default: about 1M pings)
  --seed S               random seed (default 1)

udp (instead of HTTP batches)
  --udp nmea|json        send datagrams to the NMEA UDP port: NMEA ($PGID line + P
                         RMC sentences) or JSON (an array of P pings); --token must
                         then be an admin token: stored pings are read from /metrics
  --udp-port PORT        the NMEA port (TCP and UDP; required with --udp)
  --per-datagram P       fixes per datagram, one device's consecutive fixes (default 10)
  --rate R               pings/s to send, open loop (default 0: as fast as possible)
  --settle S             after sending, wait up to S s for the store to catch up
                         (default 30)

output
  --json                 one machine-readable JSON line per target on stdout
  --server-pid PID       report patrolmapd CPU per thread during the measurement
  --redis-pid PID        report redis-server CPU during the Redis measurement
  --quiet                no progress line each second on stderr
  --help                 this text

Units move by a random walk of up to ~20 m/s; each ping carries device, t, lat,
lon, speed_mps, heading_deg and accuracy_m. Connection k owns units k, k+C, ...
so a device is only ever in flight once and its timestamps strictly increase.
UDP is lossy: the result is the durable rate, pings counted in
patrolmap_pings_accepted_total (incremented after commit) over the time from
the first datagram until that counter stopped growing, and the loss (sent
minus stored, with the kernel's and the server's drop counters).
Exit status: 0 on success, 1 when nothing was acknowledged, 2 on a bad option.
)";

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string token;
  std::string redis_host;
  int redis_port = 0;
  std::string redis_key = "patrolmap:bench";
  size_t units = 100000;
  size_t batch = 1000;
  size_t connections = 16;
  double duration = 15;
  uint64_t pings = 0;
  int64_t warmup = -1;
  bool iso = true;
  size_t pool_rounds = 0;
  uint64_t seed = 1;
  bool json = false;
  int server_pid = 0;
  int redis_pid = 0;
  bool quiet = false;
  std::string udp;  // "", "nmea" or "json"
  int udp_port = 0;
  size_t per_datagram = 10;
  double rate = 0;
  double settle = 30;
};


Options parse_options(int argc, char** argv) {
  Options o;
  if (const char* t = std::getenv("PATROLMAP_TOKEN")) o.token = t;
  for (pm::load::Args args(argc, argv); args.next();) {
    const std::string& a = args.opt();
    auto value = [&] { return args.value(); };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--host") o.host = value();
    else if (a == "--port") o.port = parse_num<int>(a, value());
    else if (a == "--token") o.token = value();
    else if (a == "--redis") {
      std::string v = value();
      auto c = v.rfind(':');
      if (c == std::string::npos || c == 0) die("--redis wants HOST:PORT");
      o.redis_host = v.substr(0, c);
      o.redis_port = parse_num<int>(a, v.substr(c + 1));
    } else if (a == "--redis-key") o.redis_key = value();
    else if (a == "--units") o.units = parse_num<size_t>(a, value());
    else if (a == "--batch") o.batch = parse_num<size_t>(a, value());
    else if (a == "--connections") o.connections = parse_num<size_t>(a, value());
    else if (a == "--duration") o.duration = parse_num<double>(a, value());
    else if (a == "--pings") o.pings = parse_num<uint64_t>(a, value());
    else if (a == "--warmup") o.warmup = parse_num<int64_t>(a, value());
    else if (a == "--time") {
      std::string v = value();
      if (v != "iso" && v != "ms") die("--time is iso or ms");
      o.iso = v == "iso";
    } else if (a == "--pool-rounds") o.pool_rounds = parse_num<size_t>(a, value());
    else if (a == "--seed") o.seed = parse_num<uint64_t>(a, value());
    else if (a == "--json") o.json = true;
    else if (a == "--server-pid") o.server_pid = parse_num<int>(a, value());
    else if (a == "--redis-pid") o.redis_pid = parse_num<int>(a, value());
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--udp") {
      o.udp = value();
      if (o.udp != "nmea" && o.udp != "json") die("--udp is nmea or json");
    } else if (a == "--udp-port")
      o.udp_port = parse_num<int>(a, value());
    else if (a == "--per-datagram")
      o.per_datagram = parse_num<size_t>(a, value());
    else if (a == "--rate")
      o.rate = parse_num<double>(a, value());
    else if (a == "--settle")
      o.settle = parse_num<double>(a, value());
    else die("unknown option '" + a + "' (see --help)");
  }
  if (o.port <= 0 && o.redis_port <= 0) die("nothing to do: give --port and/or --redis");
  if (o.port > 0 && o.token.empty()) die("--token (or PATROLMAP_TOKEN) is required with --port");
  if (o.units == 0 || o.batch == 0 || o.connections == 0) die("--units, --batch and --connections must be > 0");
  if (o.connections > o.units) die("--connections must not exceed --units");
  if (o.pings == 0 && !(o.duration > 0)) die("--duration must be > 0");
  if (!o.udp.empty()) {
    if (o.port <= 0 || o.udp_port <= 0) die("--udp needs --port (for /metrics) and --udp-port");
    if (o.per_datagram == 0 || o.per_datagram > 200) die("--per-datagram must be 1..200");
    if (o.rate < 0) die("--rate must be >= 0");
  }
  if (o.warmup < 0) o.warmup = static_cast<int64_t>(o.units);
  if (o.pool_rounds == 0) o.pool_rounds = std::clamp<size_t>((1000000 + o.units - 1) / o.units, 2, 64);
  // UDP: a datagram holds P consecutive rounds of one unit; whole datagrams only.
  if (!o.udp.empty()) o.pool_rounds = (o.pool_rounds + o.per_datagram - 1) / o.per_datagram * o.per_datagram;
  return o;
}

// ---------------------------------------------------------------- workload

// Leicestershire, as in the issue: lon -1.60..-0.66, lat 52.39..52.98.
constexpr double kWest = -1.60, kEast = -0.66, kSouth = 52.39, kNorth = 52.98;

struct Fix {
  double lon, lat;
  float speed, heading;
};

// positions[r * units + u]: unit u in round r; a random walk inside the box.
std::vector<Fix> generate_tracks(const Options& o) {
  Rng rng{o.seed};
  std::vector<Fix> out(o.pool_rounds * o.units);
  std::vector<Fix> cur(o.units);
  for (auto& f : cur) {
    f.lon = kWest + rng.uniform() * (kEast - kWest);
    f.lat = kSouth + rng.uniform() * (kNorth - kSouth);
    f.speed = static_cast<float>(rng.uniform() * 20.0);
    f.heading = static_cast<float>(std::floor(rng.uniform() * 360.0));
  }
  constexpr double kStepS = 5.0;  // a round moves each unit by ~5 s of driving
  for (size_t r = 0; r < o.pool_rounds; ++r) {
    for (size_t u = 0; u < o.units; ++u) {
      Fix& f = cur[u];
      if (r > 0) {
        double h = (f.heading + (rng.uniform() - 0.5) * 40.0) * std::numbers::pi / 180.0;
        double d = f.speed * kStepS;
        f.lat += d * std::cos(h) / 111320.0;
        f.lon += d * std::sin(h) / (111320.0 * std::cos(f.lat * std::numbers::pi / 180.0));
        f.lat = std::clamp(f.lat, kSouth, kNorth);
        f.lon = std::clamp(f.lon, kWest, kEast);
        f.heading = static_cast<float>(std::fmod(std::floor(h * 180.0 / std::numbers::pi) + 360.0, 360.0));
        f.speed = std::clamp(f.speed + static_cast<float>((rng.uniform() - 0.5) * 4.0), 0.0f, 22.0f);
      }
      out[r * o.units + u] = f;
    }
  }
  return out;
}

void append_fixed(std::string& s, double v, int decimals) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  s.append(buf, r.ptr);
}

void append_uint(std::string& s, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}

// A JSON ping's members after the timestamp, with the closing brace.
void append_ping_tail(std::string& s, const Fix& f) {
  s.append(",\"lat\":");
  append_fixed(s, f.lat, 6);
  s.append(",\"lon\":");
  append_fixed(s, f.lon, 6);
  s.append(",\"speed_mps\":");
  append_fixed(s, f.speed, 1);
  s.append(",\"heading_deg\":");
  append_uint(s, static_cast<uint64_t>(f.heading));
  s.append(",\"accuracy_m\":5}");
}

std::string device_id(size_t u) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "AVL-%06zu", u);
  return buf;
}

// One pre-serialised request: HTTP (headers + JSON array) or a RESP pipeline.
struct Request {
  std::string bytes;
  std::vector<uint32_t> t_offset;  // HTTP only: where each ping's timestamp is
  std::vector<uint32_t> unit;      // the unit of each ping
};

// Connection k's stream of pings: its units (u = k, k+C, ...) round after
// round; cut into batches of B (the last batch of the pool may be shorter).
template <class AppendPing>
std::vector<std::vector<Request>> build_pool(const Options& o, const std::vector<Fix>& tracks, AppendPing&& append) {
  std::vector<std::vector<Request>> pool(o.connections);
  for (size_t k = 0; k < o.connections; ++k) {
    std::vector<size_t> mine;
    for (size_t u = k; u < o.units; u += o.connections) mine.push_back(u);
    const size_t len = mine.size() * o.pool_rounds;
    for (size_t start = 0; start < len; start += o.batch) {
      Request req;
      size_t end = std::min(len, start + o.batch);
      for (size_t e = start; e < end; ++e) {
        size_t u = mine[e % mine.size()], r = e / mine.size();
        append(req, u, tracks[r * o.units + u], e == start);
        req.unit.push_back(static_cast<uint32_t>(u));
      }
      pool[k].push_back(std::move(req));
    }
  }
  return pool;
}

std::vector<std::vector<Request>> build_http_pool(const Options& o, const std::vector<Fix>& tracks) {
  const std::string head_prefix = "POST /api/v1/pings HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                                  "\r\nAuthorization: Bearer " + o.token +
                                  "\r\nContent-Type: application/json\r\nContent-Length: ";
  const char* zero_t = o.iso ? "\"0000-00-00T00:00:00.000Z\"" : "0000000000000";
  auto pool = build_pool(o, tracks, [&](Request& req, size_t u, const Fix& f, bool first) {
    std::string& b = req.bytes;  // body only for now; headers are prepended below
    b.append(first ? "[" : ",");
    b.append("{\"device\":\"").append(device_id(u)).append("\",\"t\":");
    req.t_offset.push_back(static_cast<uint32_t>(b.size() + (o.iso ? 1 : 0)));
    b.append(zero_t);
    append_ping_tail(b, f);
  });
  for (auto& conn : pool)
    for (auto& req : conn) {
      req.bytes.push_back(']');
      std::string head = head_prefix + std::to_string(req.bytes.size()) + "\r\n\r\n";
      for (auto& off : req.t_offset) off += static_cast<uint32_t>(head.size());
      req.bytes.insert(0, head);
    }
  return pool;
}

std::vector<std::vector<Request>> build_redis_pool(const Options& o, const std::vector<Fix>& tracks) {
  const std::string key = "$" + std::to_string(o.redis_key.size()) + "\r\n" + o.redis_key + "\r\n";
  auto bulk = [](std::string& b, std::string_view s) {
    b.push_back('$');
    append_uint(b, s.size());
    b.append("\r\n").append(s).append("\r\n");
  };
  return build_pool(o, tracks, [&](Request& req, size_t u, const Fix& f, bool) {
    std::string lon, lat;
    append_fixed(lon, f.lon, 6);
    append_fixed(lat, f.lat, 6);
    std::string& b = req.bytes;
    b.append("*5\r\n$6\r\nGEOADD\r\n").append(key);
    bulk(b, lon);
    bulk(b, lat);
    bulk(b, device_id(u));
  });
}

// ---------------------------------------------------------------- stats

struct Stats {
  std::string target;
  uint64_t requests = 0;       // completed requests (any status)
  uint64_t pings_sent = 0;     // pings in completed requests
  uint64_t acked = 0;          // 202 accepted / Redis integer replies
  uint64_t rejected = 0;       // items listed in "rejected" / Redis error replies
  uint64_t io_errors = 0;      // connection failures (reconnected)
  std::map<int, uint64_t> status;             // HTTP status -> requests
  std::map<std::string, uint64_t> codes;      // rejection and error codes
  std::vector<uint32_t> lat_us;
  double seconds = 0;
  double driver_cpu_s = 0;
  std::vector<std::string> server_threads;    // "label: 85%"
  double server_cpu_pct = 0;
  double machine_cpu_pct = 0;  // all cores busy, in % of one core
  double others_cpu_pct = 0;   // machine minus driver minus the measured server
  bool server_measured = false;  // --server-pid / --redis-pid given

  double pings_per_s() const { return seconds > 0 ? static_cast<double>(acked) / seconds : 0; }
  double req_per_s() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  double pct_ms(double q) const {
    if (lat_us.empty()) return 0;
    std::vector<uint32_t> v = lat_us;
    size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
    return v[i] / 1000.0;
  }
};

// Per-thread CPU of a process from /proc/PID/task/*/stat, in clock ticks.
std::map<int, std::pair<std::string, uint64_t>> thread_ticks(int pid) {
  std::map<int, std::pair<std::string, uint64_t>> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    auto l = line.find('('), r = line.rfind(')');
    if (l == std::string::npos || r == std::string::npos) continue;
    std::istringstream rest(line.substr(r + 2));
    std::string f;
    uint64_t ut = 0, st = 0;
    for (int i = 3; i <= 15 && rest >> f; ++i) {
      if (i == 14) ut = std::strtoull(f.c_str(), nullptr, 10);
      if (i == 15) st = std::strtoull(f.c_str(), nullptr, 10);
    }
    out[std::atoi(e->d_name)] = {line.substr(l + 1, r - l - 1), ut + st};
  }
  closedir(d);
  return out;
}

// Busy and total jiffies of the whole machine, from /proc/stat.
std::pair<uint64_t, uint64_t> machine_ticks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t v[8] = {}, total = 0;
  in >> cpu;
  for (auto& x : v) {
    in >> x;
    total += x;
  }
  return {total - v[3] - v[4], total};  // minus idle and iowait
}

// The machine's CPU over the run (from `machine0`, machine_ticks() at its
// start) and what other processes took, once the server's and the driver's
// CPU are in `s`.
void machine_share(Stats& s, std::pair<uint64_t, uint64_t> machine0) {
  const auto machine1 = machine_ticks();
  if (machine1.second <= machine0.second) return;
  // /proc/stat totals add up all cores: scale to "% of one core".
  const double cores = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
  s.machine_cpu_pct = 100.0 * cores * static_cast<double>(machine1.first - machine0.first) /
                      static_cast<double>(machine1.second - machine0.second);
  s.others_cpu_pct = s.server_measured  // -1: unknown (the server's own CPU was not measured)
                         ? std::max(0.0, s.machine_cpu_pct - s.server_cpu_pct - 100.0 * s.driver_cpu_s / s.seconds)
                         : -1.0;
}

void server_cpu(Stats& s, int pid, const std::map<int, std::pair<std::string, uint64_t>>& before, double secs) {
  if (pid <= 0 || secs <= 0) return;
  s.server_measured = true;
  auto after = thread_ticks(pid);
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  size_t order = 0;
  for (const auto& [tid, v] : after) {  // std::map: by tid, i.e. creation order
    auto it = before.find(tid);
    uint64_t t0 = it == before.end() ? 0 : it->second.second;
    double pct = 100.0 * static_cast<double>(v.second - t0) / hz / secs;
    s.server_cpu_pct += pct;
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s#%zu(tid %d %s) %.0f%%", tid == pid ? "main" : "thread", order, tid,
                  v.first.c_str(), pct);
    ++order;
    if (pct >= 0.5) s.server_threads.emplace_back(buf);
  }
}

// ---------------------------------------------------------------- event loop

enum class Proto { http, redis };

struct Conn {
  int fd = -1;
  size_t k = 0;
  size_t next = 0;            // next request of the pool
  Request* cur = nullptr;     // in flight
  size_t written = 0;
  uint64_t sent_ns = 0;
  std::vector<char> rbuf;
  size_t rlen = 0;
  size_t replies = 0;         // Redis: replies received for the current pipeline
  uint64_t errors_in_reply = 0;
  bool line_start = true;
  bool want_out = false;
  uint64_t resume_ns = 0;     // backoff after 503/429
  bool close_after = false;
};

class Runner {
 public:
  Runner(const Options& o, Proto proto, std::string host, int port, std::vector<std::vector<Request>>& pool)
      : o_(o), proto_(proto), host_(std::move(host)), port_(port), pool_(pool) {
    ep_ = epoll_create1(0);
    if (ep_ < 0) die("epoll_create1 failed");
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res) != 0 || !res)
      die("cannot resolve " + host_);
    std::memcpy(&addr_, res->ai_addr, sizeof addr_);
    freeaddrinfo(res);
    conns_.resize(o.connections);
    for (size_t k = 0; k < conns_.size(); ++k) {
      conns_[k].k = k;
      conns_[k].rbuf.resize(64 * 1024);
      if (!connect_conn(conns_[k])) die("cannot connect to " + host_ + ":" + std::to_string(port_) + ": " + std::strerror(errno));
    }
  }
  ~Runner() {
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    close(ep_);
  }

  // Sends until `max_pings` were issued or `seconds` elapsed, then drains.
  Stats run(const std::string& label, uint64_t max_pings, double seconds, bool progress, int pid) {
    Stats s;
    s.target = label;
    stats_ = &s;
    issued_ = 0;
    const uint64_t t0 = now_ns();
    const uint64_t deadline = seconds > 0 ? t0 + static_cast<uint64_t>(seconds * 1e9) : UINT64_MAX;
    const double cpu0 = cpu_seconds_self();
    auto ticks0 = pid > 0 ? thread_ticks(pid) : decltype(thread_ticks(0)){};
    const auto machine0 = machine_ticks();
    max_pings_ = max_pings;
    deadline_ = deadline;
    for (auto& c : conns_) start_next(c);
    uint64_t next_report = t0 + 1000000000ULL, last_acked = 0, last_req = 0, last_t = t0;
    std::vector<epoll_event> evs(conns_.size());
    while (in_flight() > 0 || (now_ns() < deadline && issued_ < max_pings_ && paused() > 0)) {
      uint64_t now = now_ns();
      int timeout_ms = 100;
      for (auto& c : conns_)
        if (!c.cur && c.resume_ns > now) timeout_ms = std::min<int>(timeout_ms, static_cast<int>((c.resume_ns - now) / 1000000 + 1));
      int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), timeout_ms);
      if (n < 0 && errno != EINTR) die("epoll_wait failed");
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[evs[static_cast<size_t>(i)].data.u64];
        if (evs[static_cast<size_t>(i)].events & (EPOLLERR | EPOLLHUP) && !(evs[static_cast<size_t>(i)].events & EPOLLIN)) {
          fail_conn(c);
          continue;
        }
        if (evs[static_cast<size_t>(i)].events & EPOLLOUT) on_writable(c);
        if (evs[static_cast<size_t>(i)].events & EPOLLIN) on_readable(c);
      }
      now = now_ns();
      for (auto& c : conns_)
        if (!c.cur && c.resume_ns && c.resume_ns <= now) {
          c.resume_ns = 0;
          start_next(c);
        }
      if (progress && now >= next_report) {
        double dt = static_cast<double>(now - last_t) / 1e9;
        uint64_t errs = 0;
        for (const auto& [st, cnt] : s.status)
          if (st != 202 && st != 0) errs += cnt;
        std::fprintf(stderr, "  [%s] %4.0fs  %9.0f pings/s  %7.0f req/s  acked %" PRIu64 "  errors %" PRIu64 "\n",
                     label.c_str(), static_cast<double>(now - t0) / 1e9, static_cast<double>(s.acked - last_acked) / dt,
                     static_cast<double>(s.requests - last_req) / dt, s.acked, errs + s.io_errors);
        last_acked = s.acked;
        last_req = s.requests;
        last_t = now;
        next_report += 1000000000ULL;
      }
    }
    s.seconds = static_cast<double>(now_ns() - t0) / 1e9;
    s.driver_cpu_s = cpu_seconds_self() - cpu0;
    server_cpu(s, pid, ticks0, s.seconds);
    machine_share(s, machine0);
    stats_ = nullptr;
    return s;
  }

 private:
  size_t in_flight() const {
    size_t n = 0;
    for (const auto& c : conns_) n += c.cur != nullptr;
    return n;
  }
  size_t paused() const {
    size_t n = 0;
    for (const auto& c : conns_) n += !c.cur && c.resume_ns != 0;
    return n;
  }

  bool connect_conn(Conn& c) {
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return false;
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) != 0) {
      close(c.fd);
      c.fd = -1;
      return false;
    }
    fcntl_nonblock(c.fd);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c.k;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.want_out = false;
    c.rlen = 0;
    c.line_start = true;
    return true;
  }
  static void fcntl_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

  void set_out(Conn& c, bool on) {
    if (c.want_out == on) return;
    c.want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = c.k;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void start_next(Conn& c) {
    if (c.cur || now_ns() >= deadline_ || issued_ >= max_pings_) return;
    auto& mine = pool_[c.k];
    Request& r = mine[c.next];
    c.next = (c.next + 1) % mine.size();
    if (proto_ == Proto::http) stamp(r);
    c.cur = &r;
    c.written = 0;
    c.replies = 0;
    c.errors_in_reply = 0;
    issued_ += r.unit.size();
    c.sent_ns = now_ns();
    on_writable(c);
  }

  // Timestamps near now, strictly increasing per device; each unit has a
  // fixed phase of 0-999 ms so a batch spans a second like a real gateway's.
  void stamp(Request& r) {
    if (last_t_.empty()) last_t_.assign(o_.units, 0);
    const int64_t now = wall_ms();
    for (size_t i = 0; i < r.unit.size(); ++i) {
      uint32_t u = r.unit[i];
      int64_t t = std::max(now - static_cast<int64_t>((u * 2654435761u) % 1000u), last_t_[u] + 1);
      last_t_[u] = t;
      char* at = r.bytes.data() + r.t_offset[i];
      if (o_.iso) {
        pm::format_iso8601(t, at);
      } else {
        for (int d = 12; d >= 0; --d, t /= 10) at[d] = static_cast<char>('0' + t % 10);
      }
    }
  }

  void on_writable(Conn& c) {
    if (!c.cur) return set_out(c, false);
    while (c.written < c.cur->bytes.size()) {
      ssize_t w = ::send(c.fd, c.cur->bytes.data() + c.written, c.cur->bytes.size() - c.written, MSG_NOSIGNAL);
      if (w > 0) {
        c.written += static_cast<size_t>(w);
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return set_out(c, true);
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else {
        return fail_conn(c);
      }
    }
    set_out(c, false);
  }

  // Level-triggered: one recv per wake-up; epoll reports again if more is there.
  void on_readable(Conn& c) {
    if (c.rlen == c.rbuf.size()) c.rbuf.resize(c.rbuf.size() * 2);
    ssize_t n = ::recv(c.fd, c.rbuf.data() + c.rlen, c.rbuf.size() - c.rlen, 0);
    if (n > 0) {
      size_t old = c.rlen;
      c.rlen += static_cast<size_t>(n);
      bool done = proto_ == Proto::redis ? redis_progress(c, old) : http_progress(c);
      if (done && !c.cur && c.resume_ns == 0) start_next(c);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      fail_conn(c);
    }
  }

  void finish(Conn& c) {
    stats_->requests++;
    stats_->pings_sent += c.cur->unit.size();
    stats_->lat_us.push_back(static_cast<uint32_t>(std::min<uint64_t>((now_ns() - c.sent_ns) / 1000, UINT32_MAX)));
    c.cur = nullptr;
  }

  static std::string_view find_code(std::string_view body, size_t& pos) {
    constexpr std::string_view kCode = "\"code\":\"";
    size_t at = body.find(kCode, pos);
    if (at == std::string_view::npos) return {};
    at += kCode.size();
    size_t end = body.find('"', at);
    if (end == std::string_view::npos) return {};
    pos = end;
    return body.substr(at, end - at);
  }

  // Parses one complete response if there is one; true when one was handled.
  bool http_progress(Conn& c) {
    std::string_view buf(c.rbuf.data(), c.rlen);
    size_t hend = buf.find("\r\n\r\n");
    if (hend == std::string_view::npos) return false;
    std::string_view head = buf.substr(0, hend + 2);
    int status = 0;
    if (head.size() > 12 && head.substr(0, 5) == "HTTP/") std::from_chars(head.data() + 9, head.data() + 12, status);
    size_t clen = 0;
    bool close_conn = false;
    for (size_t p = head.find("\r\n"); p != std::string_view::npos && p + 2 < head.size();) {
      size_t e = head.find("\r\n", p + 2);
      std::string_view line = head.substr(p + 2, e - p - 2);
      auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string_view val = line.substr(colon + 1);
        while (!val.empty() && val.front() == ' ') val.remove_prefix(1);
        if (name == "content-length") std::from_chars(val.data(), val.data() + val.size(), clen);
        if (name == "connection" && (val == "close" || val == "Close")) close_conn = true;
      }
      p = e;
    }
    if (c.rlen < hend + 4 + clen) return false;
    std::string_view body = buf.substr(hend + 4, clen);
    if (!c.cur) {  // unsolicited (e.g. an idle timeout answer): drop the connection
      fail_conn(c);
      return true;
    }
    stats_->status[status]++;
    if (status == 202) {
      constexpr std::string_view kAcc = "\"accepted\":";
      size_t a = body.find(kAcc);
      uint64_t acc = 0;
      if (a != std::string_view::npos) std::from_chars(body.data() + a + kAcc.size(), body.data() + body.size(), acc);
      stats_->acked += acc;
      size_t pos = 0;
      for (auto code = find_code(body, pos); !code.empty(); code = find_code(body, pos)) {
        stats_->rejected++;
        stats_->codes[std::string(code)]++;
      }
    } else {
      size_t pos = 0;
      auto code = find_code(body, pos);
      stats_->codes[code.empty() ? "http_" + std::to_string(status) : std::string(code)]++;
      if (status == 503 || status == 429) c.resume_ns = now_ns() + 20000000ULL;  // Retry-After, shortened
    }
    finish(c);
    size_t used = hend + 4 + clen;
    std::memmove(c.rbuf.data(), c.rbuf.data() + used, c.rlen - used);
    c.rlen -= used;
    if (close_conn) reconnect(c);
    return true;
  }

  bool redis_progress(Conn& c, size_t from) {
    if (!c.cur) {
      fail_conn(c);
      return true;
    }
    // Integer (":1") and error ("-ERR ...") replies are one line each.
    for (size_t i = from; i < c.rlen; ++i) {
      char ch = c.rbuf[i];
      if (c.line_start && ch == '-') c.errors_in_reply++;
      c.line_start = ch == '\n';
      if (ch == '\n') c.replies++;
    }
    c.rlen = 0;
    if (c.replies < c.cur->unit.size()) return false;
    stats_->acked += c.replies - c.errors_in_reply;
    stats_->rejected += c.errors_in_reply;
    if (c.errors_in_reply) stats_->codes["redis_error"] += c.errors_in_reply;
    stats_->status[c.errors_in_reply ? 500 : 202]++;
    finish(c);
    return true;
  }

  void reconnect(Conn& c) {
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      c.fd = -1;
    }
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (connect_conn(c)) return;
      usleep(20000);
    }
    die("cannot reconnect to " + host_ + ":" + std::to_string(port_));
  }

  void fail_conn(Conn& c) {
    if (stats_) stats_->io_errors++;
    if (c.cur) {  // the request's fate is unknown: count it sent, not acknowledged
      if (stats_) {
        stats_->requests++;
        stats_->pings_sent += c.cur->unit.size();
        stats_->status[0]++;
        stats_->codes["connection_lost"]++;
      }
      c.cur = nullptr;
    }
    reconnect(c);
    c.resume_ns = now_ns() + 20000000ULL;
  }

  const Options& o_;
  Proto proto_;
  std::string host_;
  int port_;
  std::vector<std::vector<Request>>& pool_;
  sockaddr_in addr_{};
  int ep_ = -1;
  std::vector<Conn> conns_;
  std::vector<int64_t> last_t_;
  Stats* stats_ = nullptr;
  uint64_t issued_ = 0, max_pings_ = 0, deadline_ = 0;
};

std::string json_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o.push_back('\\');
    o.push_back(ch);
  }
  return o;
}

void print_stats(const Options& o, const Stats& s, const std::string& persistence_note) {
  std::printf("%-9s batch %-5zu conns %-3zu  %10.0f pings/s  %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  "
              "acked %" PRIu64 "/%" PRIu64 " in %.1f s  driver CPU %.0f%%%s\n",
              s.target.c_str(), o.batch, o.connections, s.pings_per_s(), s.req_per_s(), s.pct_ms(0.50), s.pct_ms(0.99),
              s.pct_ms(1.0), s.acked, s.pings_sent, s.seconds, 100.0 * s.driver_cpu_s / std::max(s.seconds, 1e-9),
              persistence_note.c_str());
  std::string errs;
  for (const auto& [st, n] : s.status)
    if (st != 202) errs += " " + (st == 0 ? std::string("conn_lost") : std::to_string(st)) + "=" + std::to_string(n);
  for (const auto& [code, n] : s.codes) errs += " " + code + "=" + std::to_string(n);
  if (!errs.empty()) std::printf("          errors/rejections:%s (503 overloaded counted apart)\n", errs.c_str());
  if (s.server_measured)
    std::printf("          machine CPU %.0f%% of %ld cores x 100%%; other processes %.0f%%%s\n", s.machine_cpu_pct,
                sysconf(_SC_NPROCESSORS_ONLN), s.others_cpu_pct,
                s.others_cpu_pct > 15 ? "  (WARNING: the machine was not quiet)" : "");
  else
    std::printf("          machine CPU %.0f%% of %ld cores x 100%% (server included; give --server-pid to split)\n",
                s.machine_cpu_pct, sysconf(_SC_NPROCESSORS_ONLN));
  if (!s.server_threads.empty()) {
    std::printf("          server CPU %.0f%%:", s.server_cpu_pct);
    for (const auto& t : s.server_threads) std::printf("  %s", t.c_str());
    std::printf("\n");
  }
  if (o.json) {
    std::printf("{\"target\":\"%s\",\"batch\":%zu,\"connections\":%zu,\"units\":%zu,\"time\":\"%s\",\"seconds\":%.3f,"
                "\"requests\":%" PRIu64 ",\"pings_sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"rejected\":%" PRIu64
                ",\"pings_per_s\":%.0f,\"requests_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
                "\"failed_requests\":%" PRIu64 ",\"overloaded_503\":%" PRIu64 ",\"io_errors\":%" PRIu64 ",\"driver_cpu_pct\":%.1f,\"server_cpu_pct\":%.1f,\"others_cpu_pct\":%.1f,"
                "\"status\":{",
                s.target.c_str(), o.batch, o.connections, o.units, o.iso ? "iso" : "ms", s.seconds, s.requests,
                s.pings_sent, s.acked, s.rejected, s.pings_per_s(), s.req_per_s(), s.pct_ms(0.50), s.pct_ms(0.99),
                s.pct_ms(1.0), s.requests - (s.status.count(202) ? s.status.at(202) : 0), s.status.count(503) ? s.status.at(503) : 0, s.io_errors,
                100.0 * s.driver_cpu_s / std::max(s.seconds, 1e-9), s.server_cpu_pct, s.others_cpu_pct);
    bool first = true;
    for (const auto& [st, n] : s.status) {
      std::printf("%s\"%d\":%" PRIu64, first ? "" : ",", st, n);
      first = false;
    }
    std::printf("},\"codes\":{");
    first = true;
    for (const auto& [code, n] : s.codes) {
      std::printf("%s\"%s\":%" PRIu64, first ? "" : ",", json_escape(code).c_str(), n);
      first = false;
    }
    std::printf("},\"server_threads\":[");
    first = true;
    for (const auto& t : s.server_threads) {
      std::printf("%s\"%s\"", first ? "" : ",", json_escape(t).c_str());
      first = false;
    }
    std::printf("]}\n");
  }
  std::fflush(stdout);
}

// Asks Redis for its persistence settings so the report says what was measured.
std::string redis_persistence(const Options& o) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (fd < 0 || getaddrinfo(o.redis_host.c_str(), std::to_string(o.redis_port).c_str(), &hints, &res) != 0) {
    if (fd >= 0) close(fd);
    return "unknown";
  }
  bool ok = connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  freeaddrinfo(res);
  std::string out;
  auto ask = [&](const std::string& name) {
    std::string cmd = "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$" + std::to_string(name.size()) + "\r\n" + name + "\r\n";
    if (::send(fd, cmd.data(), cmd.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(cmd.size())) return std::string("?");
    char buf[512];
    std::string r;
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // *2 $len name $len value: 5 CRLF-terminated lines (4 when empty value is "$0\r\n\r\n", still 5)
    while (std::count(r.begin(), r.end(), '\n') < 5) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return std::string("?");
      r.append(buf, static_cast<size_t>(n));
    }
    size_t p = 0;
    for (int i = 0; i < 4; ++i) p = r.find('\n', p) + 1;
    return r.substr(p, r.find('\r', p) - p);
  };
  if (ok) {
    std::string aof = ask("appendonly");
    std::string fsync = ask("appendfsync");
    std::string save = ask("save");
    out = "appendonly=" + aof + (aof == "yes" ? " appendfsync=" + fsync : "") + " save=" + (save.empty() ? "off" : save);
  }
  close(fd);
  return ok ? out : "unknown";
}

// ---------------------------------------------------------------- UDP mode

// Counters read from GET /metrics (admin token): what the server stored.
struct ServerCounters {
  bool ok = false;
  double accepted = 0;       // patrolmap_pings_accepted_total{channel}
  double rejected = 0;       // sum of patrolmap_pings_rejected_total{channel,*}
  double datagrams = 0;      // patrolmap_udp_datagrams_total{channel}
  double kernel_drops = 0;   // patrolmap_udp_receive_drops_total
  double store_dropped = 0;  // patrolmap_udp_pings_dropped_total
  double queue = 0;          // patrolmap_store_queue_pings
};

// One blocking GET /metrics on a fresh connection (a few per second at most).
ServerCounters read_counters(const Options& o, const std::string& channel) {
  ServerCounters c;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return c;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host == "localhost" ? "127.0.0.1" : o.host.c_str(), &a.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return c;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = "GET /metrics HTTP/1.1\r\nHost: " + o.host + "\r\nAuthorization: Bearer " + o.token +
                    "\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return c;
  }
  std::string page;
  char buf[16384];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) page.append(buf, static_cast<size_t>(n));
  close(fd);
  if (page.compare(0, 12, "HTTP/1.1 200") != 0) return c;
  c.ok = true;
  const std::string acc = "patrolmap_pings_accepted_total{channel=\"" + channel + "\"} ";
  const std::string rej = "patrolmap_pings_rejected_total{channel=\"" + channel + "\",";
  const std::string dg = "patrolmap_udp_datagrams_total{channel=\"" + channel + "\"} ";
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    auto value = [&](size_t from) { return std::strtod(line.c_str() + from, nullptr); };
    if (line.starts_with(acc))
      c.accepted = value(acc.size());
    else if (line.starts_with(rej))
      c.rejected += value(line.rfind(' ') + 1);
    else if (line.starts_with(dg))
      c.datagrams = value(dg.size());
    else if (line.starts_with("patrolmap_udp_receive_drops_total "))
      c.kernel_drops = value(line.rfind(' ') + 1);
    else if (line.starts_with("patrolmap_udp_pings_dropped_total "))
      c.store_dropped = value(line.rfind(' ') + 1);
    else if (line.starts_with("patrolmap_store_queue_pings "))
      c.queue = value(line.rfind(' ') + 1);
  }
  return c;
}

// One pre-serialised datagram: unit u's fixes of P consecutive rounds.
struct Datagram {
  std::string bytes;
  uint32_t unit = 0;
  std::vector<uint16_t> t_off;                     // JSON: each timestamp; NMEA: each RMC's time field
  std::vector<uint16_t> d_off;                     // NMEA: each RMC's date field
  std::vector<std::pair<uint16_t, uint16_t>> sum;  // NMEA: each RMC's '$' and '*'
};

std::string nmea_sentence(const std::string& body) {
  unsigned x = 0;
  for (char ch : body) x ^= static_cast<unsigned char>(ch);
  char buf[8];
  std::snprintf(buf, sizeof buf, "*%02X\r\n", x);
  return "$" + body + buf;
}

// ddmm.mmmmm / dddmm.mmmmm from degrees, rounded once (no 60.00000 minutes).
void append_nmea_angle(std::string& s, double deg, int deg_digits) {
  const long long total = std::llround(std::fabs(deg) * 60.0 * 1e5);
  const long long d = total / 6000000, rem = total % 6000000;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld%02lld.%05lld", deg_digits, d, rem / 100000, rem % 100000);
  s.append(buf);
}

std::vector<Datagram> build_udp_pool(const Options& o, const std::vector<Fix>& tracks) {
  const size_t P = o.per_datagram, blocks = o.pool_rounds / P;
  std::vector<Datagram> pool;
  pool.reserve(blocks * o.units);
  const char* zero_t = o.iso ? "\"0000-00-00T00:00:00.000Z\"" : "0000000000000";
  for (size_t b = 0; b < blocks; ++b)
    for (size_t u = 0; u < o.units; ++u) {
      Datagram d;
      d.unit = static_cast<uint32_t>(u);
      std::string& s = d.bytes;
      if (o.udp == "nmea") s = nmea_sentence("PGID," + device_id(u));
      for (size_t i = 0; i < P; ++i) {
        const Fix& f = tracks[(b * P + i) * o.units + u];
        if (o.udp == "nmea") {
          // $GPRMC,hhmmss.sss,A,ddmm.mmmmm,N,dddmm.mmmmm,W,knots,course,ddmmyy,,,A*hh
          const size_t start = s.size();
          s.append("$GPRMC,");
          d.t_off.push_back(static_cast<uint16_t>(s.size()));
          s.append("000000.000,A,");
          append_nmea_angle(s, f.lat, 2);
          s.append(f.lat >= 0 ? ",N," : ",S,");
          append_nmea_angle(s, f.lon, 3);
          s.append(f.lon >= 0 ? ",E," : ",W,");
          append_fixed(s, f.speed * 3600.0 / 1852.0, 1);
          s.push_back(',');
          append_fixed(s, f.heading, 1);
          s.push_back(',');
          d.d_off.push_back(static_cast<uint16_t>(s.size()));
          s.append("000000,,,A");
          d.sum.emplace_back(static_cast<uint16_t>(start), static_cast<uint16_t>(s.size()));
          s.append("*00\r\n");
        } else {
          s.append(i == 0 ? "[" : ",");
          s.append("{\"device\":\"").append(device_id(u)).append("\",\"t\":");
          d.t_off.push_back(static_cast<uint16_t>(s.size() + (o.iso ? 1 : 0)));
          s.append(zero_t);
          append_ping_tail(s, f);
        }
      }
      if (o.udp == "json") s.push_back(']');
      if (s.size() > 65507) die("a datagram would exceed 65,507 bytes: lower --per-datagram");
      pool.push_back(std::move(d));
    }
  return pool;
}

class UdpSender {
 public:
  UdpSender(const Options& o, std::vector<Datagram>& pool) : o_(o), pool_(pool), last_t_(o.units, 0) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) die("cannot open a UDP socket");
    int buf = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(o.udp_port));
    if (inet_pton(AF_INET, o.host == "localhost" ? "127.0.0.1" : o.host.c_str(), &a.sin_addr) != 1)
      die("--host must be an IPv4 address with --udp");
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("cannot connect the UDP socket");
  }
  ~UdpSender() { close(fd_); }

  // Sends `max_pings` (or for `seconds`) at `rate` pings/s (0: flat out),
  // then waits for the server's counter to settle. `label` names the run.
  Stats run(const std::string& label, uint64_t max_pings, double seconds, double rate, bool progress, int pid) {
    const std::string channel = o_.udp == "nmea" ? "nmea_udp" : "json_udp";
    Stats s;
    s.target = label;
    // The kernel's drop count reaches the server with the next datagram it
    // reads: a probe (one space, which decodes to nothing) brings it up to date.
    probe();
    timespec pause{0, 50000000};
    nanosleep(&pause, nullptr);
    const ServerCounters c0 = read_counters(o_, channel);
    const uint64_t probes0 = probes_;
    if (!c0.ok) die("cannot read GET /metrics on port " + std::to_string(o_.port) + " (is --token an admin token?)");
    const uint64_t t0 = now_ns();
    const uint64_t deadline = seconds > 0 ? t0 + static_cast<uint64_t>(seconds * 1e9) : UINT64_MAX;
    const double cpu0 = cpu_seconds_self();
    auto ticks0 = pid > 0 ? thread_ticks(pid) : decltype(thread_ticks(0)){};
    const auto machine0 = machine_ticks();
    const size_t P = o_.per_datagram;
    constexpr size_t kBurst = 64;
    std::array<mmsghdr, kBurst> msgs{};
    std::array<iovec, kBurst> iov{};
    uint64_t sent = 0, datagrams = 0, send_errors = 0;
    uint64_t next_report = t0 + 1000000000ULL, last_sent = 0;
    double last_acc = c0.accepted;
    uint64_t last_t = t0;
    for (uint64_t now = t0; now < deadline && sent < max_pings; now = now_ns()) {
      size_t want = kBurst;
      if (rate > 0) {
        const double due = rate * static_cast<double>(now - t0) / 1e9 - static_cast<double>(sent);
        want = std::min<size_t>(kBurst, due > 0 ? static_cast<size_t>(due / static_cast<double>(P)) : 0);
      }
      const uint64_t left = max_pings - sent;
      want = static_cast<size_t>(std::min<uint64_t>(want, left / P + (left % P != 0)));
      if (want == 0) {
        timespec ts{0, 100000};  // 0.1 ms
        nanosleep(&ts, nullptr);
      } else {
        const int64_t wall = wall_ms();
        for (size_t i = 0; i < want; ++i) {
          Datagram& d = pool_[next_];
          next_ = (next_ + 1) % pool_.size();
          stamp(d, wall);
          iov[i] = {d.bytes.data(), d.bytes.size()};
          msgs[i] = {};
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        size_t done = 0;
        while (done < want) {
          int n = sendmmsg(fd_, msgs.data() + done, static_cast<unsigned>(want - done), 0);
          if (n < 0) {
            if (errno == EINTR) continue;
            ++send_errors;  // e.g. ECONNREFUSED after an ICMP: that datagram is lost
            ++done;
            continue;
          }
          done += static_cast<size_t>(n);
          datagrams += static_cast<size_t>(n);
          sent += static_cast<uint64_t>(n) * P;
        }
      }
      if (progress && now >= next_report) {
        const ServerCounters c = read_counters(o_, channel);
        const double dt = static_cast<double>(now - last_t) / 1e9;
        std::fprintf(stderr,
                     "  [%s] %4.0fs  sent %9.0f pings/s  stored %9.0f pings/s  stored %.0f  kernel drops %.0f\n",
                     label.c_str(), static_cast<double>(now - t0) / 1e9, static_cast<double>(sent - last_sent) / dt,
                     (c.accepted - last_acc) / dt, c.accepted - c0.accepted, c.kernel_drops - c0.kernel_drops);
        last_sent = sent;
        last_acc = c.accepted;
        last_t = now;
        next_report += 1000000000ULL;
      }
    }
    const uint64_t t_sent = now_ns();
    const double send_s = static_cast<double>(t_sent - t0) / 1e9;
    // Settle: the stored count is final once it stopped moving and the store queue is empty.
    ServerCounters c = read_counters(o_, channel), prev = c;
    uint64_t t_final = now_ns(), t_change = t_final;
    const uint64_t settle_end = t_final + static_cast<uint64_t>(o_.settle * 1e9);
    const double at_send_end = c.accepted;
    while (now_ns() < settle_end) {
      probe();
      timespec ts{0, 100000000};  // 0.1 s
      nanosleep(&ts, nullptr);
      c = read_counters(o_, channel);
      if (!c.ok) continue;
      const uint64_t t = now_ns();
      if (c.accepted != prev.accepted || c.rejected != prev.rejected) t_change = t;
      prev = c;
      if (c.queue == 0 && t - t_change > 1000000000ULL) break;
    }
    t_final = t_change;
    // The window: first datagram until the last change of the counter seen
    // (0.1 s resolution), never shorter than the send phase.
    s.seconds = std::max(send_s, static_cast<double>(t_final - t0) / 1e9);
    s.requests = datagrams;
    s.pings_sent = sent;
    s.acked = static_cast<uint64_t>(c.accepted - c0.accepted);
    s.rejected = static_cast<uint64_t>(c.rejected - c0.rejected);
    s.driver_cpu_s = cpu_seconds_self() - cpu0;
    // CPU over the send phase only would need a second sample; over the whole window is close enough.
    server_cpu(s, pid, ticks0, s.seconds);
    machine_share(s, machine0);
    udp_.send_s = send_s;
    udp_.kernel_drops = static_cast<uint64_t>(c.kernel_drops - c0.kernel_drops);
    udp_.store_dropped = static_cast<uint64_t>(c.store_dropped - c0.store_dropped);
    // Probes count as NMEA datagrams (the last one may still be unread: +-1).
    const double probes = o_.udp == "nmea" ? static_cast<double>(probes_ - probes0) : 0.0;
    udp_.server_datagrams = static_cast<uint64_t>(std::max(0.0, c.datagrams - c0.datagrams - probes));
    udp_.send_errors = send_errors;
    udp_.stored_during_send = static_cast<uint64_t>(at_send_end - c0.accepted);
    return s;
  }

  struct Extra {
    double send_s = 0;
    uint64_t kernel_drops = 0, store_dropped = 0, server_datagrams = 0, send_errors = 0, stored_during_send = 0;
  };
  const Extra& extra() const { return udp_; }

 private:
  void probe() {
    if (::send(fd_, " ", 1, 0) == 1) ++probes_;
  }

  // Timestamps near now, strictly increasing per device: the datagram's P
  // fixes 100 ms apart ending at now minus the unit's fixed phase (0-999 ms).
  void stamp(Datagram& d, int64_t now) {
    const size_t P = d.t_off.size();
    const uint32_t u = d.unit;
    char iso[24];
    for (size_t i = 0; i < P; ++i) {
      int64_t t = now - static_cast<int64_t>((u * 2654435761u) % 1000u) - static_cast<int64_t>((P - 1 - i) * 100);
      t = std::max(t, last_t_[u] + 1);
      last_t_[u] = t;
      char* at = d.bytes.data() + d.t_off[i];
      if (o_.udp == "json") {
        if (o_.iso) {
          pm::format_iso8601(t, at);
        } else {
          for (int k = 12; k >= 0; --k, t /= 10) at[k] = static_cast<char>('0' + t % 10);
        }
        continue;
      }
      // NMEA: hhmmss.sss and ddmmyy from "YYYY-MM-DDTHH:MM:SS.mmmZ", then the checksum.
      pm::format_iso8601(t, iso);
      const char tm[10] = {iso[11], iso[12], iso[14], iso[15], iso[17], iso[18], '.', iso[20], iso[21], iso[22]};
      std::memcpy(at, tm, sizeof tm);
      const char dt[6] = {iso[8], iso[9], iso[5], iso[6], iso[2], iso[3]};
      std::memcpy(d.bytes.data() + d.d_off[i], dt, sizeof dt);
      const auto [dollar, star] = d.sum[i];
      unsigned x = 0;
      for (size_t k = dollar + 1u; k < star; ++k) x ^= static_cast<unsigned char>(d.bytes[k]);
      static constexpr char kHex[] = "0123456789ABCDEF";
      d.bytes[star + 1u] = kHex[x >> 4];
      d.bytes[star + 2u] = kHex[x & 15];
    }
  }

  const Options& o_;
  std::vector<Datagram>& pool_;
  std::vector<int64_t> last_t_;
  size_t next_ = 0;
  int fd_ = -1;
  uint64_t probes_ = 0;
  Extra udp_;
};

void print_udp_stats(const Options& o, const Stats& s, const UdpSender::Extra& x) {
  const double loss =
      s.pings_sent ? 100.0 * (1.0 - static_cast<double>(s.acked + s.rejected) / static_cast<double>(s.pings_sent)) : 0;
  std::printf("%-9s udp %-4s %3zu pings/datagram  %10.0f pings/s durable  %8.0f datagrams/s sent  sent %" PRIu64
              " pings in %.1f s (%.0f/s)  stored %" PRIu64 " (%" PRIu64
              " by the end of sending) in %.1f s  loss %.2f%%  "
              "driver CPU %.0f%%\n",
              s.target.c_str(), o.udp.c_str(), o.per_datagram, s.pings_per_s(),
              static_cast<double>(s.requests) / std::max(x.send_s, 1e-9), s.pings_sent, x.send_s,
              static_cast<double>(s.pings_sent) / std::max(x.send_s, 1e-9), s.acked, x.stored_during_send, s.seconds,
              loss, 100.0 * s.driver_cpu_s / std::max(s.seconds, 1e-9));
  std::printf("          datagrams sent %" PRIu64 ", read by the server %" PRIu64 ", dropped by the kernel %" PRIu64
              "; pings rejected %" PRIu64 ", dropped at a full store queue %" PRIu64 "; send errors %" PRIu64 "\n",
              s.requests, x.server_datagrams, x.kernel_drops, s.rejected, x.store_dropped, x.send_errors);
  if (s.server_measured)
    std::printf("          machine CPU %.0f%% of %ld cores x 100%%; other processes %.0f%%%s\n", s.machine_cpu_pct,
                sysconf(_SC_NPROCESSORS_ONLN), s.others_cpu_pct,
                s.others_cpu_pct > 15 ? "  (WARNING: the machine was not quiet)" : "");
  if (!s.server_threads.empty()) {
    std::printf("          server CPU %.0f%%:", s.server_cpu_pct);
    for (const auto& t : s.server_threads) std::printf("  %s", t.c_str());
    std::printf("\n");
  }
  if (o.json) {
    std::printf(
        "{\"target\":\"%s\",\"udp\":\"%s\",\"batch\":%zu,\"per_datagram\":%zu,\"units\":%zu,\"time\":\"%s\","
        "\"rate\":%.0f,\"seconds\":%.3f,\"send_seconds\":%.3f,\"datagrams_sent\":%" PRIu64 ",\"requests\":%" PRIu64
        ",\"pings_sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"stored_during_send\":%" PRIu64 ",\"rejected\":%" PRIu64
        ",\"pings_per_s\":%.0f,\"datagrams_per_s\":%.0f,\"requests_per_s\":%.0f,"
        "\"p50_ms\":0,\"p99_ms\":0,\"loss_pct\":%.3f,\"kernel_drops\":%" PRIu64 ",\"store_dropped\":%" PRIu64
        ",\"server_datagrams\":%" PRIu64 ",\"failed_requests\":%" PRIu64
        ",\"driver_cpu_pct\":%.1f,"
        "\"server_cpu_pct\":%.1f,\"others_cpu_pct\":%.1f,\"server_threads\":[",
        s.target.c_str(), o.udp.c_str(), o.per_datagram, o.per_datagram, o.units, o.iso ? "iso" : "ms", o.rate,
        s.seconds, x.send_s, s.requests, s.requests, s.pings_sent, s.acked, x.stored_during_send, s.rejected,
        s.pings_per_s(), static_cast<double>(s.requests) / std::max(x.send_s, 1e-9),
        static_cast<double>(s.requests) / std::max(x.send_s, 1e-9), loss, x.kernel_drops, x.store_dropped,
        x.server_datagrams, x.send_errors, 100.0 * s.driver_cpu_s / std::max(s.seconds, 1e-9), s.server_cpu_pct,
        s.others_cpu_pct);
    bool first = true;
    for (const auto& t : s.server_threads) {
      std::printf("%s\"%s\"", first ? "" : ",", json_escape(t).c_str());
      first = false;
    }
    std::printf("]}\n");
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  pm::load::program_name = "ingest_load";
  Options o = parse_options(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const uint64_t max_pings = o.pings ? o.pings : UINT64_MAX;
  const double seconds = o.pings ? 0 : o.duration;

  auto g0 = now_ns();
  std::vector<Fix> tracks = generate_tracks(o);
  std::fprintf(stderr, "ingest_load: %zu units over Leicestershire, %zu rounds pre-generated, batch %zu, %zu connections\n",
               o.units, o.pool_rounds, o.batch, o.connections);

  std::optional<Stats> pm_stats, redis_stats;
  if (!o.udp.empty()) {
    auto pool = build_udp_pool(o, tracks);
    size_t bytes = 0;
    for (const auto& d : pool) bytes += d.bytes.size();
    std::fprintf(stderr, "ingest_load: %zu %s datagrams of %zu pings pre-serialised in %.2f s (%.0f bytes/ping)\n",
                 pool.size(), o.udp.c_str(), o.per_datagram, static_cast<double>(now_ns() - g0) / 1e9,
                 static_cast<double>(bytes) / static_cast<double>(pool.size() * o.per_datagram));
    UdpSender u(o, pool);
    // Warm-up: every unit's first datagram (registers the units on a fresh
    // server), paced so that registration does not overflow the socket.
    if (o.warmup > 0) {
      const uint64_t n = static_cast<uint64_t>(o.warmup) * o.per_datagram;
      const double r = o.rate > 0 ? std::min(o.rate, 100000.0) : 100000.0;
      std::fprintf(stderr, "ingest_load: patrolmap warm-up, %" PRIu64 " pings at %.0f/s (not counted)\n", n, r);
      Stats w = u.run("warmup", n, 0, r, !o.quiet, 0);
      std::fprintf(stderr, "ingest_load: warm-up stored %" PRIu64 "/%" PRIu64 " in %.1f s\n", w.acked, w.pings_sent,
                   w.seconds);
    }
    pm_stats = u.run("patrolmap", max_pings, seconds, o.rate, !o.quiet, o.server_pid);
    print_udp_stats(o, *pm_stats, u.extra());
  } else if (o.port > 0) {
    auto pool = build_http_pool(o, tracks);
    size_t bytes = 0;
    for (const auto& c : pool)
      for (const auto& r : c) bytes += r.bytes.size();
    std::fprintf(stderr, "ingest_load: %.0f MB of HTTP requests pre-serialised in %.2f s (%.0f bytes/ping)\n",
                 static_cast<double>(bytes) / 1e6, static_cast<double>(now_ns() - g0) / 1e9,
                 static_cast<double>(bytes) / static_cast<double>(o.pool_rounds * o.units));
    Runner r(o, Proto::http, o.host, o.port, pool);
    if (o.warmup > 0) {
      std::fprintf(stderr, "ingest_load: patrolmap warm-up, %" PRId64 " pings (not counted)\n", o.warmup);
      Stats w = r.run("warmup", static_cast<uint64_t>(o.warmup), 0, !o.quiet, 0);
      std::fprintf(stderr, "ingest_load: warm-up %.0f pings/s acked %" PRIu64 "/%" PRIu64 " in %.1f s\n", w.pings_per_s(),
                   w.acked, w.pings_sent, w.seconds);
    }
    pm_stats = r.run("patrolmap", max_pings, seconds, !o.quiet, o.server_pid);
    print_stats(o, *pm_stats, " (durable: 202 after commit)");
  }
  if (o.redis_port > 0) {
    auto pool = build_redis_pool(o, tracks);
    std::string persistence = redis_persistence(o);
    Runner r(o, Proto::redis, o.redis_host, o.redis_port, pool);
    if (o.warmup > 0) r.run("warmup", static_cast<uint64_t>(o.warmup), 0, false, 0);
    // The same number of pings as patrolmap was sent (when it ran).
    // UDP: as many as patrolmap stored (a flat-out UDP run may send far more than it keeps).
    uint64_t n =
        pm_stats ? std::max<uint64_t>(o.udp.empty() ? pm_stats->pings_sent : pm_stats->acked, o.batch) : max_pings;
    double secs = pm_stats ? 0 : seconds;
    redis_stats = r.run("redis", n, secs, !o.quiet, o.redis_pid);
    print_stats(o, *redis_stats, " (GEOADD pipelined; " + persistence + ")");
    if (pm_stats && redis_stats->pings_per_s() > 0) {
      double ratio = pm_stats->pings_per_s() / redis_stats->pings_per_s();
      std::printf("ratio     %s patrolmap/redis = %.3f  (%.0f vs %.0f pings/s; redis pipeline %zu, %s)\n",
                  o.udp.empty() ? ("batch " + std::to_string(o.batch)).c_str()
                                : ("udp " + o.udp + " x" + std::to_string(o.per_datagram)).c_str(),
                  ratio, pm_stats->pings_per_s(), redis_stats->pings_per_s(), o.batch, persistence.c_str());
      if (o.json)
        std::printf("{\"target\":\"ratio\",\"batch\":%zu,\"patrolmap_over_redis\":%.4f,\"redis_persistence\":\"%s\"}\n",
                    o.batch, ratio, json_escape(persistence).c_str());
    }
  }
  bool any = (pm_stats && pm_stats->acked > 0) || (redis_stats && redis_stats->acked > 0);
  return any ? 0 : 1;
}
