// recommend_load: end-to-end load driver for dispatch recommendations over HTTP.
//
// Three phases against a running patrolmapd (auto-registration on, no
// per-token rate limit, see tools/bench/run-bench.sh):
//   a. N units at seeded random points over Leicestershire, one ping each with
//      a fresh timestamp, POST /api/v1/pings in batches (gateway token); with
//      ingest.registration=auto each unknown device becomes a unit of that id;
//   b. M incidents at random points, POST /api/v1/incidents (dispatcher token);
//   c. closed loop: C keep-alive connections, one request in flight each,
//      GET /api/v1/incidents/{random id}/recommendations?k=K for D seconds
//      after a warm-up; 200s counted, latency percentiles, one JSON line.
// The unit and incident points go to CSV files (--units-csv, --incidents-csv)
// with the exact decimal text sent to the server, so a peer (PostGIS KNN in
// run-bench.sh) loads the same points. --answers-csv writes the answers for the
// first incidents so the peer's answers can be compared.
//
//   recommend_load --port 8080 --token GW --dispatcher-token D --units-csv u.csv --incidents-csv i.csv
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "tools/load/http_client.hpp"
#include "tools/load/load_util.hpp"

namespace {

using pm::load::cpu_seconds_self;
using pm::load::cpu_seconds_of;
using pm::load::die;
using pm::load::parse_num;
using pm::load::now_ns;
using pm::load::Rng;
using pm::load::wall_ms;
using pm::load::BlockingClient;
using pm::load::connect_to;
using pm::load::Framed;
using pm::load::frame_response;
using pm::load::resolve;
using pm::load::snippet;

constexpr const char* kUsage = R"(recommend_load: dispatch recommendation load driver for patrolmapd

usage: recommend_load --port PORT --token GATEWAY --dispatcher-token DISPATCHER [options]

target
  --host HOST              patrolmapd address (default 127.0.0.1)
  --port PORT              patrolmapd HTTP port (required)
  --token TOKEN            gateway token for the pings (or env PATROLMAP_TOKEN)
  --dispatcher-token T     dispatcher token for incidents and recommendations
                           (or env PATROLMAP_DISPATCHER_TOKEN)

phases
  --units N                a. units, one ping each (default 100000); 0 skips phase a
  --batch B                   pings per POST /api/v1/pings (default 1000)
  --incidents M            b. incidents created (default 1000)
  --connections C          c. keep-alive connections, one request in flight each (default 16)
  --threads T                 client threads, each an epoll loop over its share (default 1)
  --duration D                seconds measured (default 15)
  --warmup W                  seconds run before measuring, not counted (default 2)
  --k K                       recommendations asked for (default 5)
  --seed S                 random seed for points and incident choice (default 1)

output
  --units-csv PATH         write id,lon,lat,t_ms of every unit (the text sent)
  --incidents-csv PATH     write id,lon,lat of every incident (server ids)
  --answers-csv PATH       after phase c, ask again for the first --answers incidents and
  --answers N              write incident,rank,unit,distance_m (default 50)
  --server-pid PID         report patrolmapd CPU (% of one core) during phase c, and the
                           CPU used by other processes (machine busy - server - driver)
  --json                   one machine-readable JSON line on stdout
  --quiet                  no progress line each second on stderr
  --help                   this text

Points are uniform over lon -1.60..-0.42, lat 52.39..52.98 (Leicestershire),
printed with 7 decimals. Ping timestamps are epoch milliseconds 2-3 s in the
past, so the fixes stay fresh (dispatch.stale_after_s = 300) for the run.
Latency is per request, from the first byte written to the last byte of the
answer. A 200 whose answer holds fewer than K recommendations is counted as
"short" (an eligibility problem, not an error of the transport).
Exit status: 0 on success, 1 when a phase failed, 2 on a bad option.
)";

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string token;
  std::string dispatcher_token;
  size_t units = 100000;
  size_t batch = 1000;
  size_t incidents = 1000;
  size_t connections = 16;
  size_t threads = 1;
  double duration = 15;
  double warmup = 2;
  int k = 5;
  uint64_t seed = 1;
  std::string units_csv;
  std::string incidents_csv;
  std::string answers_csv;
  size_t answers = 50;
  int server_pid = 0;
  bool json = false;
  bool quiet = false;
};

// CPU seconds the whole machine spent busy (user, nice, system, irq, softirq,
// steal; from the first line of /proc/stat); -1 if unreadable.
double machine_busy_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  unsigned long long v[8] = {};
  if (!(f >> cpu) || cpu != "cpu") return -1;
  for (auto& x : v) f >> x;
  const unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}


double parse_double(const std::string& opt, const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v) || v < 0) die("bad value for " + opt + ": '" + s + "'");
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  if (const char* t = std::getenv("PATROLMAP_TOKEN")) o.token = t;
  if (const char* t = std::getenv("PATROLMAP_DISPATCHER_TOKEN")) o.dispatcher_token = t;
  for (pm::load::Args args(argc, argv); args.next();) {
    const std::string& a = args.opt();
    auto value = [&] { return args.value(); };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--host") o.host = value();
    else if (a == "--port") o.port = parse_num<int>(a, value());
    else if (a == "--token") o.token = value();
    else if (a == "--dispatcher-token") o.dispatcher_token = value();
    else if (a == "--units") o.units = parse_num<size_t>(a, value());
    else if (a == "--batch") o.batch = parse_num<size_t>(a, value());
    else if (a == "--incidents") o.incidents = parse_num<size_t>(a, value());
    else if (a == "--connections") o.connections = parse_num<size_t>(a, value());
    else if (a == "--threads") o.threads = parse_num<size_t>(a, value());
    else if (a == "--duration") o.duration = parse_double(a, value());
    else if (a == "--warmup") o.warmup = parse_double(a, value());
    else if (a == "--k") o.k = parse_num<int>(a, value());
    else if (a == "--seed") o.seed = parse_num<uint64_t>(a, value());
    else if (a == "--units-csv") o.units_csv = value();
    else if (a == "--incidents-csv") o.incidents_csv = value();
    else if (a == "--answers-csv") o.answers_csv = value();
    else if (a == "--answers") o.answers = parse_num<size_t>(a, value());
    else if (a == "--server-pid") o.server_pid = parse_num<int>(a, value());
    else if (a == "--json") o.json = true;
    else if (a == "--quiet") o.quiet = true;
    else die("unknown option " + a + " (see --help)");
  }
  if (o.port <= 0 || o.port > 65535) die("--port is required (see --help)");
  if (o.units > 0 && o.token.empty()) die("--token (gateway) is required to load units");
  if (o.dispatcher_token.empty()) die("--dispatcher-token is required");
  if (o.batch == 0 || o.batch > 5000) die("--batch must be 1..5000 (ingest.max_batch)");
  if (o.incidents == 0) die("--incidents must be at least 1");
  if (o.connections == 0) die("--connections must be at least 1");
  if (o.threads == 0 || o.threads > o.connections) die("--threads must be 1..connections");
  if (o.k < 1 || o.k > 100) die("--k must be 1..100");
  if (o.duration <= 0) die("--duration must be above 0");
  return o;
}


// ---- points ----------------------------------------------------------------------

constexpr double kLonMin = -1.60, kLonMax = -0.42, kLatMin = 52.39, kLatMax = 52.98;

struct Point {
  char lon[16];
  char lat[16];
};

Point random_point(Rng& rng) {
  Point p{};
  std::snprintf(p.lon, sizeof p.lon, "%.7f", kLonMin + (kLonMax - kLonMin) * rng.uniform());
  std::snprintf(p.lat, sizeof p.lat, "%.7f", kLatMin + (kLatMax - kLatMin) * rng.uniform());
  return p;
}

std::string unit_id(size_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "REC-%06zu", i);
  return b;
}

void progress(const Options& o, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void progress(const Options& o, const char* fmt, ...) {
  if (o.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  std::fputs("recommend_load: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

// ---- phase a: units ----------------------------------------------------------------

struct LoadResult {
  size_t accepted = 0;
  double seconds = 0;
};

LoadResult load_units(const Options& o, const sockaddr_in& addr, Rng& rng) {
  LoadResult res;
  std::FILE* csv = nullptr;
  if (!o.units_csv.empty()) {
    csv = std::fopen(o.units_csv.c_str(), "w");
    if (!csv) die("cannot write " + o.units_csv + ": " + std::strerror(errno), 1);
    std::fputs("id,lon,lat,t_ms\n", csv);
  }
  BlockingClient c(addr);
  const std::string host = o.host + ":" + std::to_string(o.port);
  const uint64_t t0 = now_ns();
  uint64_t last_report = t0;
  std::string body;
  for (size_t first = 0; first < o.units; first += o.batch) {
    const size_t n = std::min(o.batch, o.units - first);
    const int64_t now = wall_ms();
    body.clear();
    body.push_back('[');
    for (size_t i = first; i < first + n; ++i) {
      Point p = random_point(rng);
      // 2-3 s in the past: fresh, never in the future, distinct per unit.
      const int64_t t = now - 2000 - static_cast<int64_t>(i % 1000);
      const std::string id = unit_id(i);
      if (i != first) body.push_back(',');
      body += "{\"device\":\"" + id + "\",\"t\":" + std::to_string(t) + ",\"lat\":" + p.lat + ",\"lon\":" + p.lon +
              ",\"speed_mps\":0,\"accuracy_m\":5}";
      if (csv) std::fprintf(csv, "%s,%s,%s,%" PRId64 "\n", id.c_str(), p.lon, p.lat, t);
    }
    body.push_back(']');
    auto r = c.request("POST", "/api/v1/pings", o.token, body, host);
    if (r.status != 202) die("POST /api/v1/pings answered " + std::to_string(r.status) + ": " + snippet(r.body), 1);
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("accepted") || !d["accepted"].IsUint64())
      die("unexpected answer to POST /api/v1/pings: " + snippet(r.body), 1);
    const size_t acc = d["accepted"].GetUint64();
    if (acc != n) die("only " + std::to_string(acc) + " of " + std::to_string(n) + " pings accepted: " + snippet(r.body), 1);
    res.accepted += acc;
    const uint64_t t = now_ns();
    if (t - last_report > 1'000'000'000ULL) {
      progress(o, "units: %zu / %zu", res.accepted, o.units);
      last_report = t;
    }
  }
  res.seconds = static_cast<double>(now_ns() - t0) / 1e9;
  if (csv && std::fclose(csv) != 0) die("cannot write " + o.units_csv, 1);
  return res;
}

// ---- phase b: incidents --------------------------------------------------------------

std::vector<uint64_t> create_incidents(const Options& o, const sockaddr_in& addr, Rng& rng, double& seconds) {
  std::vector<uint64_t> ids;
  ids.reserve(o.incidents);
  std::FILE* csv = nullptr;
  if (!o.incidents_csv.empty()) {
    csv = std::fopen(o.incidents_csv.c_str(), "w");
    if (!csv) die("cannot write " + o.incidents_csv + ": " + std::strerror(errno), 1);
    std::fputs("id,lon,lat\n", csv);
  }
  BlockingClient c(addr);
  const std::string host = o.host + ":" + std::to_string(o.port);
  const uint64_t t0 = now_ns();
  uint64_t last_report = t0;
  for (size_t i = 0; i < o.incidents; ++i) {
    Point p = random_point(rng);
    // Grade 2: a 60 min target, so the grade clock raises no alerts meanwhile.
    std::string body = std::string("{\"grade\":2,\"type\":\"bench\",\"lat\":") + p.lat + ",\"lon\":" + p.lon + "}";
    auto r = c.request("POST", "/api/v1/incidents", o.dispatcher_token, body, host);
    if (r.status != 201) die("POST /api/v1/incidents answered " + std::to_string(r.status) + ": " + snippet(r.body), 1);
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("id") || !d["id"].IsUint64())
      die("unexpected answer to POST /api/v1/incidents: " + snippet(r.body), 1);
    const uint64_t id = d["id"].GetUint64();
    ids.push_back(id);
    if (csv) std::fprintf(csv, "%" PRIu64 ",%s,%s\n", id, p.lon, p.lat);
    const uint64_t t = now_ns();
    if (t - last_report > 1'000'000'000ULL) {
      progress(o, "incidents: %zu / %zu", i + 1, o.incidents);
      last_report = t;
    }
  }
  seconds = static_cast<double>(now_ns() - t0) / 1e9;
  if (csv && std::fclose(csv) != 0) die("cannot write " + o.incidents_csv, 1);
  return ids;
}

// ---- phase c: closed loop -------------------------------------------------------------

std::atomic<bool> g_stop{false};
std::atomic<bool> g_measuring{false};
std::atomic<uint64_t> g_done{0};  // answers completed (all, for progress)

struct ThreadStats {
  uint64_t ok = 0;          // 200 within the window
  uint64_t short_answers = 0;
  uint64_t errors = 0;      // non-200 within the window
  uint64_t warm = 0;        // answers before the window
  std::vector<uint32_t> lat_us;
  std::string first_error;
  uint64_t reconnects = 0;
};

size_t count_units(std::string_view body) {
  size_t n = 0;
  for (size_t p = body.find("\"unit\":"); p != std::string_view::npos; p = body.find("\"unit\":", p + 7)) ++n;
  return n;
}

void closed_loop(const Options& o, const sockaddr_in& addr, const std::vector<uint64_t>& ids, size_t thread,
                 ThreadStats& st) {
  struct Conn {
    int fd = -1;
    std::string out;
    size_t sent = 0;
    std::string in;
    uint64_t start = 0;
  };
  std::vector<Conn> conns;
  for (size_t i = thread; i < o.connections; i += o.threads) conns.emplace_back();
  Rng rng{o.seed * 7919 + thread * 104729 + 17};
  const std::string prefix = "GET /api/v1/incidents/";
  const std::string suffix = "/recommendations?k=" + std::to_string(o.k) + " HTTP/1.1\r\nHost: " + o.host + ":" +
                             std::to_string(o.port) + "\r\nAuthorization: Bearer " + o.dispatcher_token + "\r\n\r\n";
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die(std::string("epoll_create1: ") + std::strerror(errno), 1);
  st.lat_us.reserve(1 << 20);

  auto arm = [&](size_t i, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    if (epoll_ctl(ep, op, conns[i].fd, &ev) != 0) die(std::string("epoll_ctl: ") + std::strerror(errno), 1);
  };
  // Writes what is pending; returns false when the socket would block.
  auto flush = [&](Conn& c) {
    while (c.sent < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
      die(std::string("send: ") + std::strerror(errno), 1);
    }
    return true;
  };
  auto start_request = [&](size_t i) {
    Conn& c = conns[i];
    c.out = prefix + std::to_string(ids[rng.below(ids.size())]) + suffix;
    c.sent = 0;
    c.in.clear();
    c.start = now_ns();
    arm(i, flush(c) ? EPOLLIN : EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
  };
  auto open_conn = [&](size_t i, bool first) {
    Conn& c = conns[i];
    c.fd = connect_to(addr);
    if (!first) ++st.reconnects;
    if (::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK) != 0)
      die(std::string("fcntl: ") + std::strerror(errno), 1);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) die(std::string("epoll_ctl: ") + std::strerror(errno), 1);
  };
  for (size_t i = 0; i < conns.size(); ++i) {
    open_conn(i, true);
    start_request(i);
  }

  std::vector<epoll_event> events(conns.size() + 1);
  char tmp[65536];
  while (!g_stop.load(std::memory_order_relaxed)) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      die(std::string("epoll_wait: ") + std::strerror(errno), 1);
    }
    for (int e = 0; e < n; ++e) {
      const size_t i = events[e].data.u64;
      Conn& c = conns[i];
      if (events[e].events & EPOLLOUT) {
        if (flush(c)) arm(i, EPOLLIN, EPOLL_CTL_MOD);
      }
      if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      bool closed = false;
      for (;;) {
        ssize_t r = ::recv(c.fd, tmp, sizeof tmp, 0);
        if (r > 0) {
          c.in.append(tmp, static_cast<size_t>(r));
          if (static_cast<size_t>(r) < sizeof tmp) break;
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        closed = true;  // 0 = peer closed, or an error
        break;
      }
      Framed f = frame_response(c.in);
      if (f.state == Framed::bad) die("bad answer: " + f.why, 1);
      if (f.state == Framed::incomplete) {
        if (closed) die("connection closed by the server before a complete answer", 1);
        continue;
      }
      const uint64_t end = now_ns();
      const bool measuring = g_measuring.load(std::memory_order_relaxed);
      std::string_view body(c.in.data() + f.header_len, f.body_len);
      if (!measuring) {
        ++st.warm;
      } else if (f.status == 200) {
        ++st.ok;
        st.lat_us.push_back(static_cast<uint32_t>(std::min<uint64_t>((end - c.start) / 1000, UINT32_MAX)));
        if (count_units(body) < static_cast<size_t>(o.k)) ++st.short_answers;
      } else {
        ++st.errors;
        if (st.first_error.empty())
          st.first_error = std::to_string(f.status) + " " + std::string(body.substr(0, 200));
      }
      g_done.fetch_add(1, std::memory_order_relaxed);
      if (c.in.size() != f.header_len + f.body_len) die("the server sent more than one answer", 1);
      if (f.close || closed) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        open_conn(i, false);
      }
      start_request(i);
    }
  }
  for (auto& c : conns) ::close(c.fd);
  ::close(ep);
}

double percentile_ms(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - 1;
  idx = std::min(idx, sorted.size() - 1);
  return sorted[idx] / 1000.0;
}

// ---- answers for the cross-check ----------------------------------------------------------

void write_answers(const Options& o, const sockaddr_in& addr, const std::vector<uint64_t>& ids) {
  std::FILE* csv = std::fopen(o.answers_csv.c_str(), "w");
  if (!csv) die("cannot write " + o.answers_csv + ": " + std::strerror(errno), 1);
  std::fputs("incident,rank,unit,distance_m\n", csv);
  BlockingClient c(addr);
  const std::string host = o.host + ":" + std::to_string(o.port);
  for (size_t i = 0; i < std::min(o.answers, ids.size()); ++i) {
    auto r = c.request("GET", "/api/v1/incidents/" + std::to_string(ids[i]) + "/recommendations?k=" + std::to_string(o.k),
                       o.dispatcher_token, "", host);
    if (r.status != 200) die("recommendations answered " + std::to_string(r.status) + ": " + snippet(r.body), 1);
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("recommendations") || !d["recommendations"].IsArray())
      die("unexpected recommendations answer: " + snippet(r.body), 1);
    int rank = 1;
    for (const auto& rec : d["recommendations"].GetArray()) {
      if (!rec.IsObject() || !rec.HasMember("unit") || !rec["unit"].IsString()) continue;
      const double dist = rec.HasMember("distance_m") && rec["distance_m"].IsNumber() ? rec["distance_m"].GetDouble() : -1;
      std::fprintf(csv, "%" PRIu64 ",%d,%s,%.2f\n", ids[i], rank++, rec["unit"].GetString(), dist);
    }
  }
  if (std::fclose(csv) != 0) die("cannot write " + o.answers_csv, 1);
}

}  // namespace

int main(int argc, char** argv) {
  pm::load::program_name = "recommend_load";
  Options o = parse_options(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  const sockaddr_in addr = resolve(o.host, o.port);
  Rng rng{o.seed};

  LoadResult units;
  if (o.units > 0) {
    progress(o, "a. loading %zu units, batches of %zu pings ...", o.units, o.batch);
    units = load_units(o, addr, rng);
    progress(o, "a. %zu units in %.2f s (%.0f pings/s)", units.accepted, units.seconds,
             static_cast<double>(units.accepted) / std::max(units.seconds, 1e-9));
  }
  double inc_seconds = 0;
  progress(o, "b. creating %zu incidents ...", o.incidents);
  std::vector<uint64_t> ids = create_incidents(o, addr, rng, inc_seconds);
  progress(o, "b. %zu incidents in %.2f s (%.0f/s)", ids.size(), inc_seconds,
           static_cast<double>(ids.size()) / std::max(inc_seconds, 1e-9));

  progress(o, "c. %zu connections, %zu thread(s), k=%d: %.0f s warm-up, %.0f s measured ...", o.connections, o.threads,
           o.k, o.warmup, o.duration);
  std::vector<ThreadStats> stats(o.threads);
  std::vector<std::thread> workers;
  for (size_t t = 0; t < o.threads; ++t)
    workers.emplace_back([&, t] { closed_loop(o, addr, ids, t, stats[t]); });

  auto sleep_s = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  sleep_s(o.warmup);
  const double srv0 = o.server_pid ? cpu_seconds_of(o.server_pid) : -1;
  const double self0 = cpu_seconds_self();
  const double busy0 = machine_busy_seconds();
  const uint64_t t0 = now_ns();
  g_measuring.store(true);
  uint64_t last_done = g_done.load();
  uint64_t last_t = t0;
  const uint64_t end_ns = t0 + static_cast<uint64_t>(o.duration * 1e9);
  for (;;) {
    const uint64_t now = now_ns();
    if (now >= end_ns) break;
    sleep_s(std::min(1.0, static_cast<double>(end_ns - now) / 1e9));
    const uint64_t t = now_ns();
    const uint64_t d = g_done.load();
    if (!o.quiet && t - last_t > 900'000'000ULL)
      progress(o, "c. %5.1f s  %8.0f req/s", static_cast<double>(t - t0) / 1e9,
               static_cast<double>(d - last_done) / (static_cast<double>(t - last_t) / 1e9));
    last_done = d;
    last_t = t;
  }
  g_measuring.store(false);
  const uint64_t t1 = now_ns();
  const double srv1 = o.server_pid ? cpu_seconds_of(o.server_pid) : -1;
  const double self1 = cpu_seconds_self();
  const double busy1 = machine_busy_seconds();
  g_stop.store(true);
  for (auto& w : workers) w.join();

  const double secs = static_cast<double>(t1 - t0) / 1e9;
  ThreadStats all;
  for (auto& s : stats) {
    all.ok += s.ok;
    all.short_answers += s.short_answers;
    all.errors += s.errors;
    all.warm += s.warm;
    all.reconnects += s.reconnects;
    all.lat_us.insert(all.lat_us.end(), s.lat_us.begin(), s.lat_us.end());
    if (all.first_error.empty()) all.first_error = s.first_error;
  }
  std::sort(all.lat_us.begin(), all.lat_us.end());
  double mean_ms = 0;
  for (uint32_t v : all.lat_us) mean_ms += v;
  mean_ms = all.lat_us.empty() ? 0 : mean_ms / static_cast<double>(all.lat_us.size()) / 1000.0;
  const double rps = static_cast<double>(all.ok) / secs;
  const double server_cpu = (srv0 >= 0 && srv1 >= 0) ? 100.0 * (srv1 - srv0) / secs : -1;
  const double driver_cpu = 100.0 * (self1 - self0) / secs;
  // Everything else the machine did meanwhile (other sessions share it).
  const double others_cpu =
      (busy0 >= 0 && busy1 >= 0 && server_cpu >= 0) ? std::max(0.0, 100.0 * (busy1 - busy0) / secs - server_cpu - driver_cpu) : -1;

  if (!o.answers_csv.empty()) write_answers(o, addr, ids);

  std::fprintf(stderr,
               "recommend_load: %.0f recommendations/s (k=%d, %zu units, %zu incidents, %zu connections, %.1f s): "
               "p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms; %" PRIu64 " ok, %" PRIu64
               " errors, %" PRIu64 " short answers, %" PRIu64 " reconnects; server CPU %.0f %%, driver CPU %.0f %%, "
               "other processes %.0f %%\n",
               rps, o.k, units.accepted, ids.size(), o.connections, secs, percentile_ms(all.lat_us, 0.50),
               percentile_ms(all.lat_us, 0.90), percentile_ms(all.lat_us, 0.99), percentile_ms(all.lat_us, 0.999),
               all.lat_us.empty() ? 0.0 : all.lat_us.back() / 1000.0, all.ok, all.errors, all.short_answers,
               all.reconnects, server_cpu, driver_cpu, others_cpu);
  if (!all.first_error.empty()) std::fprintf(stderr, "recommend_load: first error: %s\n", all.first_error.c_str());
  if (o.json)
    std::printf(
        "{\"target\":\"patrolmap\",\"units\":%zu,\"incidents\":%zu,\"k\":%d,\"connections\":%zu,\"threads\":%zu,"
        "\"duration_s\":%.3f,\"requests\":%" PRIu64 ",\"requests_per_s\":%.1f,\"mean_ms\":%.3f,\"p50_ms\":%.3f,"
        "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%" PRIu64
        ",\"short_answers\":%" PRIu64 ",\"reconnects\":%" PRIu64
        ",\"server_cpu_pct\":%.1f,\"driver_cpu_pct\":%.1f,\"others_cpu_pct\":%.1f,\"load_units_s\":%.3f,\"create_incidents_s\":%.3f}\n",
        units.accepted, ids.size(), o.k, o.connections, o.threads, secs, all.ok, rps, mean_ms,
        percentile_ms(all.lat_us, 0.50), percentile_ms(all.lat_us, 0.90), percentile_ms(all.lat_us, 0.99),
        percentile_ms(all.lat_us, 0.999), all.lat_us.empty() ? 0.0 : all.lat_us.back() / 1000.0, all.errors,
        all.short_answers, all.reconnects, server_cpu, driver_cpu, others_cpu, units.seconds, inc_seconds);
  return all.ok > 0 && all.errors == 0 ? 0 : 1;
}
