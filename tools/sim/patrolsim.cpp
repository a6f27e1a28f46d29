// patrolsim: a simulated police shift in Rutland that drives patrolmapd over
// its real channels (JSON over HTTP, NMEA over UDP/TCP, TETRA LIP over UDP and
// PEI over TCP, OsmAnd), creates incidents at real crime locations, answers
// the dispatcher's assignments by driving the road route, and clears. Also a
// load mode for benchmarks and a dry run that writes the pings it would send.
//
// The pure parts are in sim_core (tools/sim/sim_core.hpp); this file owns the
// sockets, the clock and the options. Plain POSIX sockets, blocking, one thread.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "geo/osm_roads.hpp"
#include "server/core/time_format.hpp"
#include "tools/load/load_util.hpp"
#include "tools/sim/sim_core.hpp"

namespace {

using pm::load::die;  // "patrolsim: <reason>", exit 2
using pm::load::now_ns;
using pm::load::wall_ms;
using pm::sim::EpochMs;
using pm::sim::SimChannel;

constexpr const char* kUsage = R"(patrolsim: a simulated police shift (or a load) for patrolmapd, over the real channels

usage: patrolsim [options]                    a shift from a scenario file, against a daemon
       patrolsim --dry-run [--out FILE] ...   no server: write the pings as JSON lines
       patrolsim --load N --rate HZ --channel C ...   benchmark load: N units on random walks

server
  --server HOST:PORT       patrolmapd main port (default 127.0.0.1:8080)
  --nmea HOST:PORT         NMEA UDP/TCP port (default: the server's host, port 5010)
  --lip HOST:PORT          LIP UDP / PEI TCP port (default: the server's host, port 5020)
  --token T                gateway token: POST /api/v1/pings, GET /osmand (env PATROLMAP_TOKEN)
  --dispatcher-token T     dispatcher token: PUT units, GET/POST incidents, assign, events,
                           unit status (env PATROLMAP_DISPATCHER_TOKEN)
  --admin-token T          admin token: PUT /api/v1/devices (links devices to units), and
                           PUT units when no dispatcher token (env PATROLMAP_ADMIN_TOKEN).
                           Without it devices are not linked: run the daemon with
                           --set ingest.registration=auto (a device then makes a unit of its id)
  --no-setup               do not PUT units and devices at start

scenario
  --scenario FILE          units (default <source>/tools/sim/scenarios/rutland.json)
  --hotspots FILE          GeoJSON areas (tools/hotspots): each one's centre joins the beat
                           of the unit patrolling nearest (foot officers within 3 km first)
  --data DIR               shared data (default $PATROLMAP_DATA, else ../shared/data)
  --osm FILE               road network (default DATA/osm/rutland-latest.osm.pbf)
  --crime FILE             police.uk street CSV (default DATA/crime/2022-10-leicestershire-street.csv)
  --seed N                 random seed (default 1); the same seed gives the same pings
  --start ISO|now          simulated clock at start (default now)
  --speedup X              simulated seconds per wall second (default 1). Above 1 the
                           simulated clock runs ahead of the daemon's: start the daemon
                           with --set ingest.future_s=S, S >= duration x (1 - 1/X)
  --duration S             simulated seconds to run (default: until SIGINT/SIGTERM;
                           3600 in a dry run)
  --tick-ms MS             simulation step (default 1000)
  --noise M                GPS noise, gaussian sigma in metres per axis (default 5)
  --dropout P              probability a ping is lost (default 0.02)
  --outage-prob P          probability per ping that a device goes quiet (default 0.002)
  --outage-s MIN,MAX       length of such an outage (default 60,300)
  --koper-prob P           chance of a 10-15 min stop at a beat point (default 0.25)
  --on-scene-s MIN,MAX     time at an incident before clearing (default 300,900)
  --lip-report R           short|long|auto: LIP short reports carry no time (the daemon
                           stamps them on receipt), long ones carry the time of position;
                           auto = short at speed-up 1, else long (default auto)

dispatch
  --incidents-per-hour R   incidents created at crime locations, on average (default 4;
                           0: none). Shaped by hour of day, x1.6 on Fri/Sat nights
  --grades G1,G2,G3        grade mix (default 0.2,0.5,0.3)
  --auto-dispatch          assign each new incident's top recommendation, and close
                           incidents once their units have cleared
  --dispatch-delay-s S     simulated seconds the auto-dispatcher waits before assigning, so
                           a person at the map can assign first (default 0)
  --self-deploy P          chance that a nearby patrolling unit drives to a new open
                           incident unasked (default 0.1)
  --poll-s S               wall seconds between GET /api/v1/incidents?status=active (default 2)

dry run
  --dry-run                no server; run as fast as possible
  --out FILE               write every ping (and created incident) as a JSON line
                           (implies --dry-run; "-" is stdout)

load
  --load N                 N units (1..100000) on random walks over the road graph
  --rate HZ                pings per second per unit (default 0.2)
  --channel C              json|nmea|lip|pei|osmand (default json)
  --batch N                pings per HTTP request for json (default 500)
                           (the daemon needs --set ingest.registration=auto)

  -v, --verbose            debug log (positions included)
  -h, --help               this text

Progress goes to stderr once a second. Exit status 2 with a one-line reason on a
bad option, an unreadable file or an unreachable server.
)";

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }


struct HostPort {
  std::string host;
  uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(const std::string& s) {
  auto c = s.rfind(':');
  if (c == std::string::npos || c == 0) return std::nullopt;
  unsigned p = 0;
  auto r = std::from_chars(s.data() + c + 1, s.data() + s.size(), p);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || p == 0 || p > 65535) return std::nullopt;
  return HostPort{s.substr(0, c), static_cast<uint16_t>(p)};
}

std::optional<sockaddr_storage> resolve(const HostPort& hp, int socktype, socklen_t& len) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  addrinfo* res = nullptr;
  if (getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(), &hints, &res) != 0 || !res) return std::nullopt;
  sockaddr_storage ss{};
  std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
  len = res->ai_addrlen;
  freeaddrinfo(res);
  return ss;
}

int connect_tcp(const HostPort& hp, std::string& err) {
  socklen_t len = 0;
  auto addr = resolve(hp, SOCK_STREAM, len);
  if (!addr) {
    err = "cannot resolve " + hp.host;
    return -1;
  }
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::strerror(errno);
    return -1;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<sockaddr*>(&*addr), len) != 0) {
    err = std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// HTTP/1.1 keep-alive client: one request at a time, reconnects once when the
// kept connection turns out closed.
class Http {
 public:
  explicit Http(HostPort hp) : hp_(std::move(hp)) {}
  ~Http() { drop(); }
  struct Response {
    int status = 0;  // 0: transport failure (error)
    std::string body;
    std::string error;
  };
  Response request(const std::string& method, const std::string& target, const std::string& body,
                   const std::string& token) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool fresh = fd_ < 0;
      if (fd_ < 0) {
        std::string err;
        fd_ = connect_tcp(hp_, err);
        if (fd_ < 0) return {0, {}, err};
      }
      std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + hp_.host + "\r\n";
      if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
      if (!body.empty() || method == "POST" || method == "PUT")
        req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
      req += "\r\n";
      req += body;
      Response r;
      if (send_all(fd_, req) && read_response(r)) return r;
      drop();
      if (fresh) return {0, {}, r.error.empty() ? "connection failed" : r.error};
    }
    return {0, {}, "connection failed"};
  }

 private:
  void drop() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  bool fill() {
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) return fill();
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  bool read_response(Response& r) {
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) {
        r.error = "connection closed";
        return false;
      }
    std::string head = buf_.substr(0, head_end);
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) {
      r.error = "not an HTTP response";
      return false;
    }
    r.status = std::atoi(head.c_str() + 9);
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t len = 0;
    auto cl = lower.find("content-length:");
    if (cl != std::string::npos) len = std::strtoul(lower.c_str() + cl + 15, nullptr, 10);
    bool closes = lower.find("connection: close") != std::string::npos;
    while (buf_.size() < head_end + 4 + len)
      if (!fill()) {
        r.error = "connection closed mid-body";
        return false;
      }
    r.body = buf_.substr(head_end + 4, len);
    buf_.erase(0, head_end + 4 + len);
    if (closes) drop();
    return true;
  }

  HostPort hp_;
  int fd_ = -1;
  std::string buf_;
};

// A UDP socket connected to one address.
class Udp {
 public:
  bool open(const HostPort& hp, std::string& err) {
    socklen_t len = 0;
    auto addr = resolve(hp, SOCK_DGRAM, len);
    if (!addr) {
      err = "cannot resolve " + hp.host;
      return false;
    }
    fd_ = socket(addr->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&*addr), len) != 0) {
      err = std::strerror(errno);
      return false;
    }
    int sz = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    return true;
  }
  ~Udp() {
    if (fd_ >= 0) close(fd_);
  }
  bool send(std::string_view d) {
    for (int i = 0; i < 100; ++i) {
      if (::send(fd_, d.data(), d.size(), 0) == static_cast<ssize_t>(d.size())) return true;
      if (errno != ENOBUFS && errno != EAGAIN) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A TCP stream (NMEA or PEI) that reconnects on failure.
class Stream {
 public:
  explicit Stream(HostPort hp) : hp_(std::move(hp)) {}
  ~Stream() {
    if (fd_ >= 0) close(fd_);
  }
  bool send(std::string_view d) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0) {
        std::string err;
        fd_ = connect_tcp(hp_, err);
        if (fd_ < 0) return false;
      }
      if (send_all(fd_, d)) return true;
      close(fd_);
      fd_ = -1;
    }
    return false;
  }

 private:
  HostPort hp_;
  int fd_ = -1;
};

std::string read_whole(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) die("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Options {
  HostPort server{"127.0.0.1", 8080};
  std::optional<HostPort> nmea, lip;
  std::string token, dispatcher_token, admin_token;
  bool setup = true;
  std::string scenario, data, osm, crime, hotspots;
  uint64_t seed = 1;
  std::optional<EpochMs> start;
  double speedup = 1;
  double duration_s = 0;
  int tick_ms = 1000;
  pm::sim::FleetOptions fleet;
  std::string lip_report = "auto";
  double incidents_per_hour = 4;
  std::vector<double> grades{0.2, 0.5, 0.3};
  bool auto_dispatch = false;
  double dispatch_delay_s = 0;
  double self_deploy = 0.1;
  double poll_s = 2;
  bool dry_run = false;
  std::string out;
  size_t load = 0;
  double rate = 0.2;
  std::string channel = "json";
  size_t batch = 500;
  bool verbose = false;
};

double parse_num(const std::string& opt, const std::string& v, double lo, double hi) {
  double x = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size() || !std::isfinite(x) || x < lo || x > hi)
    die("bad value for " + opt + ": '" + v + "' (expected a number in " + std::to_string(lo) + ".." +
        std::to_string(hi) + ")");
  return x;
}
std::pair<double, double> parse_pair(const std::string& opt, const std::string& v, double lo, double hi) {
  auto c = v.find(',');
  if (c == std::string::npos) die("bad value for " + opt + ": expected MIN,MAX");
  double a = parse_num(opt, v.substr(0, c), lo, hi), b = parse_num(opt, v.substr(c + 1), lo, hi);
  if (b < a) die("bad value for " + opt + ": MAX below MIN");
  return {a, b};
}

Options parse_options(int argc, char** argv) {
  Options o;
  if (const char* e = std::getenv("PATROLMAP_TOKEN")) o.token = e;
  if (const char* e = std::getenv("PATROLMAP_DISPATCHER_TOKEN")) o.dispatcher_token = e;
  if (const char* e = std::getenv("PATROLMAP_ADMIN_TOKEN")) o.admin_token = e;
  const char* data = std::getenv("PATROLMAP_DATA");
  o.data = data && *data ? data : "../shared/data";  // as patrolmapd: the repo's sibling
  o.scenario = std::string(PATROLMAP_SOURCE_DIR) + "/tools/sim/scenarios/rutland.json";
  bool have_duration = false;
  for (pm::load::Args args(argc, argv); args.next();) {
    const std::string& a = args.opt();
    auto val = [&] { return args.value(); };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--server") {
      auto hp = parse_host_port(val());
      if (!hp) die("bad value for --server: expected HOST:PORT");
      o.server = *hp;
    } else if (a == "--nmea") {
      o.nmea = parse_host_port(val());
      if (!o.nmea) die("bad value for --nmea: expected HOST:PORT");
    } else if (a == "--lip") {
      o.lip = parse_host_port(val());
      if (!o.lip) die("bad value for --lip: expected HOST:PORT");
    } else if (a == "--token") {
      o.token = val();
    } else if (a == "--dispatcher-token") {
      o.dispatcher_token = val();
    } else if (a == "--admin-token") {
      o.admin_token = val();
    } else if (a == "--no-setup") {
      o.setup = false;
    } else if (a == "--hotspots") {
      o.hotspots = val();
    } else if (a == "--scenario") {
      o.scenario = val();
    } else if (a == "--data") {
      o.data = val();
    } else if (a == "--osm") {
      o.osm = val();
    } else if (a == "--crime") {
      o.crime = val();
    } else if (a == "--seed") {
      o.seed = static_cast<uint64_t>(parse_num(a, val(), 0, 9e15));
    } else if (a == "--start") {
      std::string v = val();
      if (v != "now") {
        auto t = pm::parse_iso8601(v);
        if (!t) die("bad value for --start: expected ISO 8601 (2026-11-22T10:00:00Z) or now");
        o.start = *t;
      }
    } else if (a == "--speedup") {
      o.speedup = parse_num(a, val(), 0.01, 10000);
    } else if (a == "--duration") {
      o.duration_s = parse_num(a, val(), 0, 86400.0 * 30);
      have_duration = true;
    } else if (a == "--tick-ms") {
      o.tick_ms = static_cast<int>(parse_num(a, val(), 10, 60000));
    } else if (a == "--noise") {
      o.fleet.noise_m = parse_num(a, val(), 0, 1000);
    } else if (a == "--dropout") {
      o.fleet.dropout = parse_num(a, val(), 0, 1);
    } else if (a == "--outage-prob") {
      o.fleet.outage_prob = parse_num(a, val(), 0, 1);
    } else if (a == "--outage-s") {
      std::tie(o.fleet.outage_min_s, o.fleet.outage_max_s) = parse_pair(a, val(), 0, 86400);
    } else if (a == "--koper-prob") {
      o.fleet.koper_prob = parse_num(a, val(), 0, 1);
    } else if (a == "--on-scene-s") {
      std::tie(o.fleet.on_scene_min_s, o.fleet.on_scene_max_s) = parse_pair(a, val(), 0, 86400);
    } else if (a == "--lip-report") {
      o.lip_report = val();
      if (o.lip_report != "short" && o.lip_report != "long" && o.lip_report != "auto")
        die("bad value for --lip-report: short, long or auto");
    } else if (a == "--incidents-per-hour") {
      o.incidents_per_hour = parse_num(a, val(), 0, 100000);
    } else if (a == "--grades") {
      std::string v = val();
      o.grades.clear();
      std::stringstream ss(v);
      std::string part;
      while (std::getline(ss, part, ',')) o.grades.push_back(parse_num(a, part, 0, 1e6));
      if (o.grades.size() != 3 || o.grades[0] + o.grades[1] + o.grades[2] <= 0)
        die("bad value for --grades: three non-negative weights G1,G2,G3");
    } else if (a == "--auto-dispatch") {
      o.auto_dispatch = true;
    } else if (a == "--dispatch-delay-s") {
      o.dispatch_delay_s = parse_num(a, val(), 0, 86400);
    } else if (a == "--self-deploy") {
      o.self_deploy = parse_num(a, val(), 0, 1);
    } else if (a == "--poll-s") {
      o.poll_s = parse_num(a, val(), 0.1, 3600);
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--out") {
      o.out = val();
      o.dry_run = true;
    } else if (a == "--load") {
      o.load = static_cast<size_t>(parse_num(a, val(), 1, 100000));
    } else if (a == "--rate") {
      o.rate = parse_num(a, val(), 0.001, 100);
    } else if (a == "--channel") {
      o.channel = val();
      if (o.channel != "json" && o.channel != "nmea" && o.channel != "lip" && o.channel != "pei" &&
          o.channel != "osmand")
        die("bad value for --channel: json, nmea, lip, pei or osmand");
    } else if (a == "--batch") {
      o.batch = static_cast<size_t>(parse_num(a, val(), 1, 5000));
    } else if (a == "-v" || a == "--verbose") {
      o.verbose = true;
    } else {
      die("unknown option " + a + " (see --help)");
    }
  }
  if (o.osm.empty()) o.osm = o.data + "/osm/rutland-latest.osm.pbf";
  if (o.crime.empty()) o.crime = o.data + "/crime/2022-10-leicestershire-street.csv";
  if (!o.nmea) o.nmea = HostPort{o.server.host, 5010};
  if (!o.lip) o.lip = HostPort{o.server.host, 5020};
  if (o.dry_run && !have_duration) o.duration_s = 3600;
  if (o.load && o.dry_run) die("--load and --dry-run do not go together");
  if (!o.dry_run && o.token.empty()) die("a gateway token is needed to send pings: --token or PATROLMAP_TOKEN");
  o.fleet.lip_long = o.lip_report == "long" || (o.lip_report == "auto" && o.speedup != 1.0);
  return o;
}

// ------------------------------------------------------------------ shared state

struct Counters {
  std::array<uint64_t, pm::sim::kSimChannelCount> sent{};
  uint64_t rejected = 0;  // pings the server answered as rejected
  uint64_t errors = 0;    // transport failures and unexpected answers
  uint64_t incidents = 0, assigned = 0, en_route = 0, arrived = 0, on_scene_auto = 0, on_scene_manual = 0, cleared = 0,
           closed = 0, self_deployed = 0;
};

std::string sent_line(const Counters& c) {
  std::string s;
  for (size_t i = 0; i < c.sent.size(); ++i) {
    if (!c.sent[i]) continue;
    s += " " + std::string(pm::sim::to_string(static_cast<SimChannel>(i))) + "=" + std::to_string(c.sent[i]);
  }
  return s.empty() ? " none" : s;
}

std::string json_string(const std::string& s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return sb.GetString();
}

// ------------------------------------------------------------------ dry run

int run_dry(const Options& o, pm::sim::Fleet& fleet, pm::sim::IncidentGenerator* gen, EpochMs start) {
  std::FILE* out = nullptr;
  if (o.out.empty() || o.out == "-") {
    out = stdout;
  } else {
    out = std::fopen(o.out.c_str(), "w");
    if (!out) die("cannot write " + o.out);
  }
  Counters c;
  std::vector<pm::sim::PingOut> pings;
  const EpochMs end = start + static_cast<EpochMs>(o.duration_s * 1000);
  std::optional<pm::sim::IncidentPlan> next;
  if (gen && o.incidents_per_hour > 0) next = gen->next(start);
  for (EpochMs t = start; t <= end && !g_stop; t += o.tick_ms) {
    pings.clear();
    fleet.step(t, pings);
    for (const auto& p : pings) {
      ++c.sent[static_cast<size_t>(p.channel)];
      std::fprintf(out,
                   "{\"t\":\"%s\",\"channel\":\"%s\",\"unit\":%s,\"device\":%s,\"lat\":%.7f,\"lon\":%.7f,"
                   "\"speed_mps\":%.2f,\"heading_deg\":%.1f,\"payload\":%s}\n",
                   pm::format_iso8601(p.fix.t).c_str(), std::string(pm::sim::to_string(p.channel)).c_str(),
                   json_string(fleet.spec(p.unit).id).c_str(), json_string(p.fix.device).c_str(), p.fix.lat, p.fix.lon,
                   p.fix.speed_mps, p.fix.heading_deg, json_string(p.payload).c_str());
    }
    while (next && next->t <= t) {
      ++c.incidents;
      std::fprintf(out, "{\"t\":\"%s\",\"incident\":{\"grade\":%d,\"type\":%s,\"lat\":%.6f,\"lon\":%.6f}}\n",
                   pm::format_iso8601(next->t).c_str(), next->grade, json_string(next->type).c_str(), next->ll.lat,
                   next->ll.lon);
      next = gen->next(next->t);
    }
    fleet.take_events();
  }
  if (out != stdout) std::fclose(out);
  std::fprintf(stderr, "patrolsim: dry run: %zu units, pings%s, incidents %llu\n", fleet.size(), sent_line(c).c_str(),
               static_cast<unsigned long long>(c.incidents));
  return 0;
}

// ------------------------------------------------------------------ live shift

class Shift {
 public:
  Shift(const Options& o, pm::sim::Fleet& fleet, pm::sim::IncidentGenerator* gen, EpochMs start)
      : o_(o),
        fleet_(fleet),
        gen_(gen),
        start_(start),
        http_(o.server),
        staff_http_(o.server),
        nmea_tcp_(*o.nmea),
        pei_tcp_(*o.lip),
        rng_(o.seed ^ 0x5e1fde9105ULL) {
    std::string err;
    if (!nmea_udp_.open(*o.nmea, err)) die("NMEA UDP socket: " + err);
    if (!lip_udp_.open(*o.lip, err)) die("LIP UDP socket: " + err);
    staff_token_ = !o.dispatcher_token.empty() ? o.dispatcher_token : o.admin_token;
  }

  int run() {
    check_server();
    if (o_.setup) setup();
    const EpochMs end = o_.duration_s > 0 ? start_ + static_cast<EpochMs>(o_.duration_s * 1000) : INT64_MAX;
    const uint64_t wall0 = now_ns();
    uint64_t next_progress = wall0 + 1'000'000'000ULL, next_poll = wall0;
    if (gen_ && o_.incidents_per_hour > 0 && !staff_token_.empty()) next_plan_ = gen_->next(start_);
    std::vector<pm::sim::PingOut> pings;
    for (EpochMs t = start_; t <= end && !g_stop; t += o_.tick_ms) {
      // Pace: simulated time t is due at wall0 + (t - start) / speedup.
      uint64_t due = wall0 + static_cast<uint64_t>(static_cast<double>(t - start_) * 1e6 / o_.speedup);
      for (uint64_t n = now_ns(); n < due && !g_stop; n = now_ns())
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(due - n, 200'000'000)));
      now_ = t;
      pings.clear();
      fleet_.step(t, pings);
      send(pings);
      handle_events();
      while (next_plan_ && next_plan_->t <= t) {
        create_incident(*next_plan_);
        next_plan_ = gen_->next(next_plan_->t);
      }
      uint64_t n = now_ns();
      if (!staff_token_.empty() && n >= next_poll) {
        poll();
        next_poll = n + static_cast<uint64_t>(o_.poll_s * 1e9);
      }
      if (n >= next_progress) {
        progress();
        next_progress += 1'000'000'000ULL;
        if (next_progress < n) next_progress = n + 1'000'000'000ULL;
      }
    }
    progress();
    std::fprintf(stderr, "patrolsim: done\n");
    return 0;
  }

 private:
  struct Job {
    int64_t incident = 0;
    bool self_deploy = false;
    bool on_scene_seen = false;
  };

  void check_server() {
    auto r = http_.request("GET", "/healthz", "", "");
    if (r.status == 0)
      die("cannot reach patrolmapd at " + o_.server.host + ":" + std::to_string(o_.server.port) + ": " + r.error);
    if (r.status != 200) die("patrolmapd /healthz answered " + std::to_string(r.status));
    // The gateway token must work (401/403 would lose every ping).
    auto p = http_.request("POST", "/api/v1/pings", "[]", o_.token);
    if (p.status == 401 || p.status == 403) die("the --token is refused for POST /api/v1/pings (needs role gateway)");
  }

  void setup() {
    const std::string& unit_token = staff_token_;
    if (unit_token.empty())
      std::fprintf(stderr, "patrolsim: no dispatcher/admin token: units are not created and incidents not handled\n");
    if (o_.admin_token.empty())
      std::fprintf(stderr,
                   "patrolsim: no --admin-token: devices are not linked (run the daemon with "
                   "--set ingest.registration=auto)\n");
    for (size_t u = 0; u < fleet_.size(); ++u) {
      const auto& s = fleet_.spec(u);
      if (!unit_token.empty()) {
        std::string body = "{\"type\":" + json_string(s.type) + ",\"skills\":[";
        for (size_t i = 0; i < s.skills.size(); ++i) body += (i ? "," : "") + json_string(s.skills[i]);
        body += "],\"home_area\":" + json_string(s.home_area) + ",\"status\":\"" +
                (fleet_.mode(u) == pm::sim::UnitMode::off_shift ? "off_duty" : "available") + "\"}";
        auto r = staff_http_.request("PUT", "/api/v1/units/" + s.id, body, unit_token);
        if (r.status == 409) {
          // A unit still deployed from an earlier run keeps its status.
          std::string b2 = body.substr(0, body.rfind(",\"status\"")) + "}";
          r = staff_http_.request("PUT", "/api/v1/units/" + s.id, b2, unit_token);
        }
        if (r.status != 200 && r.status != 201) {
          if (r.status == 401 || r.status == 403)
            die("PUT /api/v1/units refused (" + std::to_string(r.status) + "): needs a dispatcher or admin token");
          ++c_.errors;
        }
      }
      if (!o_.admin_token.empty())
        for (const auto& d : s.devices) {
          std::string body = "{\"kind\":" + json_string(d.kind) + ",\"unit\":" + json_string(s.id) + "}";
          auto r = staff_http_.request("PUT", "/api/v1/devices/" + d.id, body, o_.admin_token);
          if (r.status == 401 || r.status == 403)
            die("PUT /api/v1/devices refused (" + std::to_string(r.status) + "): needs an admin token");
          if (r.status != 200 && r.status != 201) ++c_.errors;
        }
    }
  }

  void send(const std::vector<pm::sim::PingOut>& pings) {
    std::string json;
    size_t in_json = 0;
    auto flush_json = [&] {
      if (!in_json) return;
      json += "]";
      auto r = http_.request("POST", "/api/v1/pings", json, o_.token);
      if (r.status == 202) {
        c_.sent[static_cast<size_t>(SimChannel::json)] += in_json;
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        if (!d.HasParseError() && d.IsObject() && d.HasMember("rejected") && d["rejected"].IsArray())
          c_.rejected += d["rejected"].Size();
      } else {
        ++c_.errors;
      }
      json.clear();
      in_json = 0;
    };
    for (const auto& p : pings) {
      if (o_.verbose)
        std::fprintf(stderr, "debug: %s %s %.6f,%.6f\n", std::string(pm::sim::to_string(p.channel)).c_str(),
                     p.fix.device.c_str(), p.fix.lat, p.fix.lon);
      bool ok = true;
      switch (p.channel) {
        case SimChannel::json:
          json += in_json ? "," : "[";
          json += p.payload;
          if (++in_json >= 1000) flush_json();
          continue;
        case SimChannel::nmea_udp:
          ok = nmea_udp_.send(p.payload);
          break;
        case SimChannel::lip_udp:
          ok = lip_udp_.send(p.payload);
          break;
        case SimChannel::nmea_tcp:
          ok = nmea_tcp_.send(p.payload);
          break;
        case SimChannel::pei_tcp:
          ok = pei_tcp_.send(p.payload);
          break;
        case SimChannel::osmand: {
          auto r = http_.request("GET", "/osmand?" + p.payload + "&token=" + o_.token, "", "");
          ok = r.status == 200;
          if (ok && r.body.find("\"rejected\":[]") == std::string::npos) ++c_.rejected;
          break;
        }
      }
      if (ok)
        ++c_.sent[static_cast<size_t>(p.channel)];
      else
        ++c_.errors;
    }
    flush_json();
  }

  // POST /api/v1/incidents/{id}/events
  int event(int64_t incident, const std::string& unit, const char* kind) {
    auto r = staff_http_.request("POST", "/api/v1/incidents/" + std::to_string(incident) + "/events",
                                 "{\"unit\":" + json_string(unit) + ",\"kind\":\"" + kind + "\"}", staff_token_);
    if (r.status != 200 && r.status != 201) ++c_.errors;
    return r.status;
  }

  void handle_events() {
    for (const auto& e : fleet_.take_events()) {
      const std::string& unit = fleet_.spec(e.unit).id;
      switch (e.kind) {
        case pm::sim::FleetEvent::Kind::arrived:
          ++c_.arrived;
          break;
        case pm::sim::FleetEvent::Kind::job_done: {
          auto it = jobs_.find(e.unit);
          bool self = it != jobs_.end() && it->second.self_deploy;
          bool seen = it != jobs_.end() && it->second.on_scene_seen;
          jobs_.erase(e.unit);
          if (staff_token_.empty()) break;
          // Did the daemon put the unit on scene from its pings? If not, say so by hand.
          auto r = staff_http_.request("GET", "/api/v1/incidents/" + std::to_string(e.incident), "", staff_token_);
          bool have = false, on_scene = seen, closed = false;
          rapidjson::Document d;
          if (r.status == 200) {
            d.Parse(r.body.c_str());
            if (!d.HasParseError() && d.IsObject()) {
              closed =
                  d.HasMember("status") && d["status"].IsString() && std::string(d["status"].GetString()) == "closed";
              if (d.HasMember("assignments") && d["assignments"].IsArray())
                for (const auto& a : d["assignments"].GetArray()) {
                  if (!a.IsObject() || !a.HasMember("unit") || unit != a["unit"].GetString()) continue;
                  if (a.HasMember("cleared") && !a["cleared"].IsNull()) continue;
                  have = true;
                  if (a.HasMember("on_scene") && !a["on_scene"].IsNull()) {
                    if (!on_scene) {
                      bool autos =
                          a.HasMember("auto_on_scene") && a["auto_on_scene"].IsBool() && a["auto_on_scene"].GetBool();
                      ++(autos ? c_.on_scene_auto : c_.on_scene_manual);
                    }
                    on_scene = true;
                  }
                }
            }
          }
          if (closed || !have) break;  // closed or cleared meanwhile, or a self-deployment the server did not see
          if (!on_scene && event(e.incident, unit, "on_scene") / 100 == 2) ++c_.on_scene_manual;
          if (event(e.incident, unit, "cleared") / 100 == 2) ++c_.cleared;
          (void)self;
          if (o_.auto_dispatch && created_.count(e.incident)) maybe_close(e.incident);
          break;
        }
        case pm::sim::FleetEvent::Kind::shift_started:
        case pm::sim::FleetEvent::Kind::shift_ended:
          if (!staff_token_.empty()) {
            bool start = e.kind == pm::sim::FleetEvent::Kind::shift_started;
            auto r =
                staff_http_.request("POST", "/api/v1/units/" + unit + "/status",
                                    start ? R"({"status":"available"})" : R"({"status":"off_duty"})", staff_token_);
            if (r.status != 200) ++c_.errors;
          }
          break;
      }
    }
  }

  void maybe_close(int64_t incident) {
    auto r = staff_http_.request("GET", "/api/v1/incidents/" + std::to_string(incident), "", staff_token_);
    if (r.status != 200) return;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("assignments")) return;
    for (const auto& a : d["assignments"].GetArray())
      if (a.HasMember("cleared") && a["cleared"].IsNull()) return;  // someone is still there
    auto c = staff_http_.request("POST", "/api/v1/incidents/" + std::to_string(incident) + "/close", "", staff_token_);
    if (c.status == 200)
      ++c_.closed;
    else if (c.status != 409)
      ++c_.errors;
  }

  void create_incident(const pm::sim::IncidentPlan& p) {
    std::string body = "{\"grade\":" + std::to_string(p.grade) + ",\"type\":" + json_string(p.type) +
                       ",\"lat\":" + std::to_string(p.ll.lat) + ",\"lon\":" + std::to_string(p.ll.lon) +
                       ",\"address\":" + json_string(p.address.substr(0, 200));
    if (p.grade == 3) {
      // Grade 3: an appointment, one to three hours on.
      EpochMs from = pm::load::wall_ms() + 3'600'000;
      body += ",\"appointment\":{\"from\":\"" + pm::format_iso8601(from) + "\",\"to\":\"" +
              pm::format_iso8601(from + 7'200'000) + "\"}";
    }
    body += "}";
    auto r = staff_http_.request("POST", "/api/v1/incidents", body, staff_token_);
    if (r.status != 201) {
      ++c_.errors;
      if (r.status == 403 && !warned_incidents_) {
        warned_incidents_ = true;
        std::fprintf(stderr, "patrolsim: POST /api/v1/incidents refused (403): needs a dispatcher token\n");
      }
      return;
    }
    ++c_.incidents;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("id")) return;
    int64_t id = d["id"].GetInt64();
    created_.insert(id);
    if (o_.auto_dispatch) {
      if (o_.dispatch_delay_s > 0)
        unassigned_[id] = now_ + static_cast<EpochMs>(o_.dispatch_delay_s * 1000);
      else
        auto_assign(id, d);
    }
  }

  void auto_assign(int64_t id, const rapidjson::Value& incident) {
    if (!incident.HasMember("recommendations") || !incident["recommendations"].IsArray()) return;
    for (const auto& rec : incident["recommendations"].GetArray()) {
      std::string unit = rec["unit"].GetString();
      auto r = staff_http_.request("POST", "/api/v1/incidents/" + std::to_string(id) + "/assign",
                                   "{\"unit\":" + json_string(unit) + ",\"force\":false}", staff_token_);
      if (r.status == 200) {
        ++c_.assigned;
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        if (!d.HasParseError() && d.IsObject()) follow(d);
        return;
      }
      if (r.status != 409) {
        ++c_.errors;
        return;
      }
    }
    unassigned_[id] = now_;  // nobody available now: try again on a later poll
  }

  // One incident object from the daemon: our units assigned to it drive there.
  void follow(const rapidjson::Value& inc) {
    if (!inc.HasMember("id") || !inc.HasMember("assignments")) return;
    int64_t id = inc["id"].GetInt64();
    pm::geo::LonLat ll{inc["lon"].GetDouble(), inc["lat"].GetDouble()};
    for (const auto& a : inc["assignments"].GetArray()) {
      if (!a.HasMember("unit") || !a["unit"].IsString()) continue;
      auto u = fleet_.find(a["unit"].GetString());
      if (!u) continue;
      bool cleared = a.HasMember("cleared") && !a["cleared"].IsNull();
      bool on_scene = a.HasMember("on_scene") && !a["on_scene"].IsNull();
      auto job = jobs_.find(*u);
      if (cleared) {
        // Cleared by the dispatcher while we were still on the job.
        if (job != jobs_.end() && job->second.incident == id && !finished_.count({id, *u})) {
          finished_.insert({id, *u});
          fleet_.release(*u, now_);
          jobs_.erase(job);
        }
        continue;
      }
      if (job != jobs_.end() && job->second.incident == id) {
        if (on_scene && !job->second.on_scene_seen) {
          job->second.on_scene_seen = true;
          bool autos = a.HasMember("auto_on_scene") && a["auto_on_scene"].IsBool() && a["auto_on_scene"].GetBool();
          ++(autos ? c_.on_scene_auto : c_.on_scene_manual);
          if (a.HasMember("self_deployed") && a["self_deployed"].GetBool()) ++c_.self_deployed;
        }
        continue;
      }
      if (finished_.count({id, *u})) continue;
      // A new assignment for one of ours; or the daemon saw a patrol pass an open
      // incident and recorded it self-deployed (on scene): it stops and deals with it.
      if (!fleet_.dispatch(*u, id, ll, now_)) continue;
      jobs_[*u] = Job{id, false, on_scene};
      if (on_scene) {
        bool autos = a.HasMember("auto_on_scene") && a["auto_on_scene"].IsBool() && a["auto_on_scene"].GetBool();
        ++(autos ? c_.on_scene_auto : c_.on_scene_manual);
        if (a.HasMember("self_deployed") && a["self_deployed"].IsBool() && a["self_deployed"].GetBool())
          ++c_.self_deployed;
      }
      if (!on_scene && !(a.HasMember("en_route") && !a["en_route"].IsNull()))
        if (event(id, a["unit"].GetString(), "en_route") == 200) ++c_.en_route;
    }
  }

  void poll() {
    auto r = staff_http_.request("GET", "/api/v1/incidents?status=active&limit=1000", "", staff_token_);
    if (r.status != 200) {
      ++c_.errors;
      return;
    }
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("incidents")) return;
    std::set<int64_t> active;
    for (const auto& inc : d["incidents"].GetArray()) {
      int64_t id = inc["id"].GetInt64();
      active.insert(id);
      follow(inc);
      bool open = std::string(inc["status"].GetString()) == "open";
      if (!open) continue;
      bool had_units = inc["assignments"].Size() > 0;
      if (o_.auto_dispatch && unassigned_.count(id) && !had_units) {
        if (unassigned_[id] > now_) continue;
        auto rec = staff_http_.request("GET", "/api/v1/incidents/" + std::to_string(id) + "/recommendations?k=5", "",
                                       staff_token_);
        rapidjson::Document rd;
        if (rec.status == 200) {
          rd.Parse(rec.body.c_str());
          if (!rd.HasParseError() && rd.IsObject() && rd.HasMember("recommendations") &&
              !rd["recommendations"].Empty()) {
            unassigned_.erase(id);
            auto_assign(id, rd);
          }
        }
        continue;
      }
      // Self-deployment: now and then a unit nearby goes to a fresh open incident unasked.
      if (!had_units && !considered_.count(id)) {
        considered_.insert(id);
        if (std::generate_canonical<double, 53>(rng_) < o_.self_deploy) self_deploy(id, inc);
      }
    }
    // Jobs whose incident is gone (closed) end.
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (!active.count(it->second.incident)) {
        fleet_.release(it->first, now_);
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void self_deploy(int64_t id, const rapidjson::Value& inc) {
    pm::geo::LonLat ll{inc["lon"].GetDouble(), inc["lat"].GetDouble()};
    std::optional<size_t> best;
    double best_d = 5000;
    for (size_t u = 0; u < fleet_.size(); ++u) {
      auto m = fleet_.mode(u);
      if ((m != pm::sim::UnitMode::patrol && m != pm::sim::UnitMode::dwell) || jobs_.count(u)) continue;
      if (fleet_.spec(u).mobility() != pm::sim::Mobility::drive) continue;
      auto p = fleet_.position(u, now_);
      double dx = (p.lon - ll.lon) * 111320.0 * std::cos(ll.lat * M_PI / 180.0), dy = (p.lat - ll.lat) * 110540.0;
      double dist = std::hypot(dx, dy);
      if (dist < best_d) {
        best_d = dist;
        best = u;
      }
    }
    if (best && fleet_.dispatch(*best, id, ll, now_)) jobs_[*best] = Job{id, true, false};
  }

  void progress() {
    size_t on = 0, responding = 0, scene = 0;
    for (size_t u = 0; u < fleet_.size(); ++u) {
      auto m = fleet_.mode(u);
      on += m != pm::sim::UnitMode::off_shift;
      responding += m == pm::sim::UnitMode::responding;
      scene += m == pm::sim::UnitMode::on_scene;
    }
    std::fprintf(stderr,
                 "patrolsim %s units %zu (on shift %zu, responding %zu, on scene %zu) | pings%s | rejected %llu "
                 "errors %llu | incidents %llu assigned %llu en_route %llu arrived %llu on_scene auto %llu manual "
                 "%llu self %llu cleared %llu closed %llu\n",
                 pm::format_iso8601(now_).c_str(), fleet_.size(), on, responding, scene, sent_line(c_).c_str(),
                 static_cast<unsigned long long>(c_.rejected), static_cast<unsigned long long>(c_.errors),
                 static_cast<unsigned long long>(c_.incidents), static_cast<unsigned long long>(c_.assigned),
                 static_cast<unsigned long long>(c_.en_route), static_cast<unsigned long long>(c_.arrived),
                 static_cast<unsigned long long>(c_.on_scene_auto), static_cast<unsigned long long>(c_.on_scene_manual),
                 static_cast<unsigned long long>(c_.self_deployed), static_cast<unsigned long long>(c_.cleared),
                 static_cast<unsigned long long>(c_.closed));
  }

  const Options& o_;
  pm::sim::Fleet& fleet_;
  pm::sim::IncidentGenerator* gen_;
  EpochMs start_, now_ = 0;
  Http http_, staff_http_;
  Udp nmea_udp_, lip_udp_;
  Stream nmea_tcp_, pei_tcp_;
  std::mt19937_64 rng_;
  std::string staff_token_;
  Counters c_;
  std::optional<pm::sim::IncidentPlan> next_plan_;
  std::map<size_t, Job> jobs_;
  std::set<std::pair<int64_t, size_t>> finished_;
  std::set<int64_t> created_, considered_;
  std::map<int64_t, EpochMs> unassigned_;  // auto-dispatch pending: not before this simulated time
  bool warned_incidents_ = false;
};

// ------------------------------------------------------------------ load mode

int run_load(const Options& o, const pm::geo::RoadGraph& g, const pm::geo::Projection& proj) {
  std::mt19937_64 rng(o.seed);
  // Start edges: on the main network (both ends), so a walk never gets stuck.
  std::vector<uint32_t> edges;
  for (uint32_t e = 0; e < g.edge_count(); ++e)
    if (g.on_main_network(g.edge_tail(e)) && g.on_main_network(g.edge_head(e))) edges.push_back(e);
  if (edges.empty()) die("the road graph has no main network");
  struct Walker {
    uint32_t edge;
    double along_m;
    EpochMs last;
  };
  const size_t n = o.load;
  std::vector<Walker> w(n);
  EpochMs t0 = wall_ms();
  for (auto& x : w) x = {edges[rng() % edges.size()], 0, t0};
  const double period_ms = 1000.0 / o.rate;
  std::vector<std::string> ids(n);
  for (size_t i = 0; i < n; ++i) {
    char b[32];
    if (o.channel == "lip" || o.channel == "pei")
      std::snprintf(b, sizeof b, "%zu", 3000000 + i);
    else
      std::snprintf(b, sizeof b, "SIM-%06zu", i);
    ids[i] = b;
  }
  Http http(o.server);
  auto hz = http.request("GET", "/healthz", "", "");
  if (hz.status == 0)
    die("cannot reach patrolmapd at " + o.server.host + ":" + std::to_string(o.server.port) + ": " + hz.error);
  Udp nmea_udp, lip_udp;
  std::string err;
  if (!nmea_udp.open(*o.nmea, err) || !lip_udp.open(*o.lip, err)) die("UDP socket: " + err);
  Stream pei(*o.lip);
  const double duration_s = o.duration_s > 0 ? o.duration_s : 60;
  const uint64_t start_ns = now_ns();
  uint64_t sent = 0, errors = 0, sent_last = 0, next_report = start_ns + 1'000'000'000ULL;
  size_t cursor = 0;  // units ping round-robin: unit i at phase i/n of the period
  double owed = 0;
  uint64_t last_ns = start_ns, last_flush_ns = start_ns;
  std::string json;
  size_t in_json = 0;
  auto flush = [&] {
    if (!in_json) return;
    json += "]";
    auto r = http.request("POST", "/api/v1/pings", json, o.token);
    if (r.status == 202)
      sent += in_json;
    else
      ++errors;
    json.clear();
    in_json = 0;
  };
  while (!g_stop) {
    uint64_t nn = now_ns();
    if (static_cast<double>(nn - start_ns) / 1e9 >= duration_s) break;
    owed += static_cast<double>(nn - last_ns) / 1e9 * o.rate * static_cast<double>(n);
    last_ns = nn;
    EpochMs now = wall_ms();
    size_t due = static_cast<size_t>(owed);
    owed -= static_cast<double>(due);
    for (size_t k = 0; k < due; ++k) {
      Walker& x = w[cursor];
      const std::string& id = ids[cursor];
      cursor = (cursor + 1) % n;
      // Walk on: along the edge at its speed, at its head a random way on.
      double dt = static_cast<double>(now - x.last) / 1000.0;
      x.last = now;
      double speed = g.edge_length_m(x.edge) / std::max(0.1f, g.edge_time_s(x.edge));
      x.along_m += speed * dt;
      for (int guard = 0; guard < 64 && x.along_m > g.edge_length_m(x.edge); ++guard) {
        x.along_m -= g.edge_length_m(x.edge);
        uint32_t v = g.edge_head(x.edge), b = g.out_begin(v), e = g.out_end(v);
        if (b == e) {
          x.along_m = 0;
          break;
        }
        x.edge = b + static_cast<uint32_t>(rng() % (e - b));
      }
      x.along_m = std::min<double>(x.along_m, g.edge_length_m(x.edge));
      pm::geo::XY a = g.node_xy(g.edge_tail(x.edge)), bxy = g.node_xy(g.edge_head(x.edge));
      double f = g.edge_length_m(x.edge) > 0 ? x.along_m / g.edge_length_m(x.edge) : 0;
      pm::geo::LonLat ll = proj.inverse({a.x + (bxy.x - a.x) * f, a.y + (bxy.y - a.y) * f});
      pm::sim::WireFix fx;
      fx.device = id;
      fx.t = now;
      fx.lat = ll.lat;
      fx.lon = ll.lon;
      fx.speed_mps = speed;
      double h = std::atan2(bxy.x - a.x, bxy.y - a.y) * 180 / M_PI;
      fx.heading_deg = h < 0 ? h + 360 : h;
      bool ok = true;
      if (o.channel == "json") {
        json += in_json ? "," : "[";
        json += pm::sim::encode_json_ping(fx);
        if (++in_json >= o.batch) flush();
        continue;
      } else if (o.channel == "nmea") {
        ok = nmea_udp.send(pm::sim::encode_nmea(fx));
      } else if (o.channel == "lip") {
        ok = lip_udp.send(pm::sim::lip_datagram(id, pm::sim::encode_lip_short(fx, 129)));
      } else if (o.channel == "pei") {
        ok = pei.send(pm::sim::pei_report(id, pm::sim::encode_lip_short(fx, 129)));
      } else {
        // Milliseconds: load rates above 1 Hz would repeat a second (duplicates).
        auto r = http.request("GET", "/osmand?" + pm::sim::encode_osmand_query(fx, true) + "&token=" + o.token, "", "");
        ok = r.status == 200;
      }
      if (ok)
        ++sent;
      else
        ++errors;
    }
    nn = now_ns();
    // JSON: full batches, or whatever is waiting every 200 ms.
    if (nn - last_flush_ns >= 200'000'000ULL) {
      flush();
      last_flush_ns = nn;
    }
    if (nn >= next_report) {
      std::fprintf(stderr, "patrolsim load: %zu units, %s, sent %llu/s (total %llu, errors %llu)\n", n,
                   o.channel.c_str(), static_cast<unsigned long long>(sent - sent_last),
                   static_cast<unsigned long long>(sent), static_cast<unsigned long long>(errors));
      sent_last = sent;
      next_report += 1'000'000'000ULL;
    }
    if (due == 0)
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::clamp<int>(static_cast<int>(period_ms / static_cast<double>(n)), 1, 20)));
  }
  flush();
  double el = static_cast<double>(now_ns() - start_ns) / 1e9;
  std::fprintf(stderr, "patrolsim load: done: %llu pings in %.1f s (%.0f/s), errors %llu\n",
               static_cast<unsigned long long>(sent), el, static_cast<double>(sent) / el,
               static_cast<unsigned long long>(errors));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pm::load::program_name = "patrolsim";
  Options o = parse_options(argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  auto proj = pm::geo::Projection::create();
  if (!proj) die("projection: " + proj.error());
  auto graph = pm::geo::load_osm_roads(o.osm, *proj);
  if (!graph) die("road network " + o.osm + ": " + graph.error());
  if (o.load) return run_load(o, *graph, *proj);

  auto sc = pm::sim::parse_scenario(read_whole(o.scenario));
  if (!sc) die(sc.error());
  if (!o.hotspots.empty()) {
    auto centres = pm::sim::read_area_centres(read_whole(o.hotspots));
    std::fprintf(stderr, "patrolsim: %zu hot spots from %s added to beats\n",
                 pm::sim::assign_hotspots(*sc, centres, *proj), o.hotspots.c_str());
  }
  // Incidents at crime locations on the simulated roads: inside the graph's extent and near a road.
  pm::sim::CrimeStats stats;
  const auto& ext = graph->extent();
  auto crimes = pm::sim::read_crime_csv(read_whole(o.crime), stats, [&](pm::geo::LonLat ll) {
    auto p = proj->forward(ll);
    return ext.contains(p) && graph->snap(p, 200.0).has_value();
  });
  std::fprintf(stderr,
               "patrolsim: %zu units from %s; road graph %zu nodes; crime rows %zu (no coordinates %zu, outside %zu, "
               "used %zu); seed %llu\n",
               sc->units.size(), o.scenario.c_str(), graph->node_count(), stats.rows, stats.no_coordinates,
               stats.outside, stats.kept, static_cast<unsigned long long>(o.seed));
  if (o.incidents_per_hour > 0 && crimes.empty()) die("no crime locations inside the road network (" + o.crime + ")");
  const EpochMs start = o.start ? *o.start : wall_ms() / 1000 * 1000;
  if (o.speedup > 1 && !o.dry_run && o.duration_s > 0)
    std::fprintf(stderr, "patrolsim: speed-up %.1f: the daemon needs --set ingest.future_s=%.0f or more\n", o.speedup,
                 std::ceil(o.duration_s * (1 - 1 / o.speedup)) + 60);
  pm::sim::Fleet fleet(*sc, &*graph, *proj, o.seed, start, o.fleet);
  pm::sim::IncidentGenerator gen(std::move(crimes), o.seed, o.incidents_per_hour, o.grades);
  if (o.dry_run) return run_dry(o, fleet, &gen, start);
  Shift shift(o, fleet, &gen, start);
  return shift.run();
}
