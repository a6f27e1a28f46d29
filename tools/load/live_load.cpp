// live_load: the live map under load (issue 5's benchmark). N units ping at a
// rate over HTTP (POST /api/v1/pings, one keep-alive connection, batches
// spread evenly over each second) while C WebSocket clients watch the whole
// area on /api/v1/live. Reports the latency from a ping's fix time (set to
// the wall clock when it is sent) to the moment a client receives the frame
// carrying it (p50/p90/p99/max, measured on --probes clients, which parse
// every frame), frames/s and bytes/s over all clients, and the server's CPU
// and memory (--server-pid). The others read every byte but only parse the
// WebSocket framing, so the driver stays cheap next to the server.
// Clients offer permessage-deflate as browsers do (--deflate off: they do
// not); probes then inflate each compressed frame (zlib) before parsing it,
// inside the measured latency, as a browser would.
//
//   live_load --port 8080 --gateway-token T --staff-token S --units 20000 --clients 500
//             --seconds 30 --server-pid $(pidof patrolmapd)
//
// The server must auto-register devices (ingest.registration=auto). One
// thread sends pings, one runs every WebSocket (epoll); plain sockets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tools/load/load_util.hpp"

namespace {

using pm::load::die;
using pm::load::now_ns;
using pm::load::parse_num;
using pm::load::wall_ms;

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string gateway_token, staff_token;
  size_t units = 20000;
  double rate_hz = 1.0;
  size_t batch = 500;
  size_t clients = 500;
  size_t probes = 20;
  double seconds = 30;
  double warmup = 5;
  int server_pid = 0;
  double bbox[4] = {-1.62, 52.38, -0.40, 52.99};  // Leicestershire and Rutland
  uint64_t seed = 1;
  bool json = false;
  bool deflate = true;
};

void usage() {
  std::fputs(R"(live_load: units pinging over HTTP while WebSocket clients watch /api/v1/live

  --host HOST            server address (default 127.0.0.1)
  --port PORT            main port (default 8080)
  --gateway-token T      token for POST /api/v1/pings (or PATROLMAP_GATEWAY_TOKEN)
  --staff-token T        token for the WebSocket hello (or PATROLMAP_STAFF_TOKEN)
  --units N              units, each pinging at --rate-hz (default 20000)
  --rate-hz R            pings per unit per second (default 1)
  --batch N              pings per HTTP request (default 500)
  --clients N            WebSocket clients viewing the whole area (default 500)
  --probes N             of them, clients that parse frames to measure latency (default 20)
  --seconds S            measurement time after warm-up (default 30)
  --warmup S             seconds of load before measuring (default 5)
  --server-pid PID       report patrolmapd CPU (% of one core) and peak RSS
  --seed N               random walk seed (default 1)
  --deflate on|off       offer permessage-deflate, as browsers do (default on)
  --json                 also print one JSON line with the results
  --help                 this text

Latency: from a ping's fix time (the wall clock when the driver sent it) to the
moment a probe client has the whole frame that carries that unit's update.
Progress once a second on stderr.
)",
             stdout);
}

Options parse_options(int argc, char** argv) {
  Options o;
  if (const char* t = std::getenv("PATROLMAP_GATEWAY_TOKEN")) o.gateway_token = t;
  if (const char* t = std::getenv("PATROLMAP_STAFF_TOKEN")) o.staff_token = t;
  for (pm::load::Args args(argc, argv); args.next();) {
    const std::string& a = args.opt();
    auto value = [&] { return args.value(); };
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--host") o.host = value();
    else if (a == "--port") o.port = parse_num<int>(a, value());
    else if (a == "--gateway-token") o.gateway_token = value();
    else if (a == "--staff-token") o.staff_token = value();
    else if (a == "--units") o.units = parse_num<size_t>(a, value());
    else if (a == "--rate-hz") o.rate_hz = parse_num<double>(a, value());
    else if (a == "--batch") o.batch = parse_num<size_t>(a, value());
    else if (a == "--clients") o.clients = parse_num<size_t>(a, value());
    else if (a == "--probes") o.probes = parse_num<size_t>(a, value());
    else if (a == "--seconds") o.seconds = parse_num<double>(a, value());
    else if (a == "--warmup") o.warmup = parse_num<double>(a, value());
    else if (a == "--server-pid") o.server_pid = parse_num<int>(a, value());
    else if (a == "--seed") o.seed = parse_num<uint64_t>(a, value());
    else if (a == "--json") o.json = true;
    else if (a == "--deflate") {
      std::string v = value();
      if (v != "on" && v != "off") die("--deflate: on or off");
      o.deflate = v == "on";
    }
    else die("unknown option " + a + " (see --help)");
  }
  if (o.gateway_token.empty() || o.staff_token.empty()) die("--gateway-token and --staff-token are required");
  if (o.units == 0 || o.batch == 0 || o.rate_hz <= 0 || o.seconds <= 0) die("--units, --batch, --rate-hz, --seconds > 0");
  o.probes = std::min(o.probes, o.clients);
  return o;
}

int connect_to(const Options& o) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &a.sin_addr) != 1) die("bad --host (an IPv4 address)");
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    die("cannot connect to " + o.host + ":" + std::to_string(o.port) + ": " + std::strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads one HTTP response (head + Content-Length body); returns the status, 0 on failure.
int read_response(int fd, std::string& buf) {
  buf.clear();
  char tmp[16384];
  size_t head_end = std::string::npos, need = 0;
  for (;;) {
    if (head_end == std::string::npos && (head_end = buf.find("\r\n\r\n")) != std::string::npos) {
      head_end += 4;
      auto cl = buf.find("Content-Length:");
      if (cl == std::string::npos) cl = buf.find("content-length:");
      need = head_end + (cl != std::string::npos && cl < head_end ? std::strtoul(buf.c_str() + cl + 15, nullptr, 10) : 0);
    }
    if (head_end != std::string::npos && buf.size() >= need) break;
    ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return 0;
    buf.append(tmp, static_cast<size_t>(r));
  }
  return buf.size() > 12 ? std::atoi(buf.c_str() + 9) : 0;
}

// ------------------------------------------------------------------ pings

struct Sender {
  Sender(const Options& opt, std::atomic<bool>& stop_flag) : o(opt), stop(stop_flag) {}
  const Options& o;
  std::atomic<bool>& stop;
  std::atomic<uint64_t> sent{0}, failed{0};

  void run() {
    int fd = connect_to(o);
    pm::load::Rng rng{o.seed};
    std::vector<double> lat(o.units), lon(o.units);
    for (size_t u = 0; u < o.units; ++u) {
      lat[u] = o.bbox[1] + (o.bbox[3] - o.bbox[1]) * (0.05 + 0.9 * rng.uniform());
      lon[u] = o.bbox[0] + (o.bbox[2] - o.bbox[0]) * (0.05 + 0.9 * rng.uniform());
    }
    // Batches spread evenly: units * rate / batch requests a second.
    const double per_sec = static_cast<double>(o.units) * o.rate_hz / static_cast<double>(o.batch);
    const uint64_t gap_ns = static_cast<uint64_t>(1e9 / per_sec);
    std::string body, req, resp;
    size_t next_unit = 0;
    int64_t last_t = 0;
    uint64_t due = now_ns();
    char item[200];
    while (!stop.load(std::memory_order_relaxed)) {
      uint64_t now = now_ns();
      if (now < due) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
        continue;
      }
      due += gap_ns;
      int64_t t = std::max(wall_ms(), last_t + 1);  // unique per unit: a unit pings at most once per batch
      last_t = t;
      body.clear();
      body.push_back('[');
      for (size_t i = 0; i < o.batch; ++i) {
        size_t u = next_unit;
        next_unit = (next_unit + 1) % o.units;
        // About 10 m a second in a random direction.
        double h = rng.uniform() * 2 * M_PI;
        lat[u] += 9e-5 * std::cos(h);
        lon[u] += 1.5e-4 * std::sin(h);
        int n = std::snprintf(item, sizeof item, R"(%s{"device":"LL%06zu","t":%lld,"lat":%.6f,"lon":%.6f,"speed_mps":10,"heading_deg":%.0f})",
                              i ? "," : "", u, static_cast<long long>(t), lat[u], lon[u], h * 180 / M_PI);
        body.append(item, static_cast<size_t>(n));
      }
      body += ']';
      req.assign("POST /api/v1/pings HTTP/1.1\r\nHost: ");
      req.append(o.host).append("\r\nAuthorization: Bearer ").append(o.gateway_token);
      req.append("\r\nContent-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size()));
      req.append("\r\n\r\n").append(body);
      if (!write_all(fd, req.data(), req.size())) die("ping connection lost");
      int status = read_response(fd, resp);
      if (status == 202) sent += o.batch;
      else {
        failed += o.batch;
        if (status == 0) die("ping connection lost");
      }
    }
    ::close(fd);
  }
};

// ------------------------------------------------------------- WebSockets

int64_t parse_iso_ms(const char* s) {  // "2026-11-22T10:15:03.250Z"
  auto num = [&](int at, int len) {
    int v = 0;
    for (int i = 0; i < len; ++i) v = v * 10 + (s[at + i] - '0');
    return v;
  };
  int y = num(0, 4), m = num(5, 2), d = num(8, 2);
  // days from civil (Howard Hinnant)
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = static_cast<unsigned>((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
  return ((days * 24 + num(11, 2)) * 60 + num(14, 2)) * 60000 + num(17, 2) * 1000 + num(20, 3);
}

struct Client {
  int fd = -1;
  bool probe = false;
  bool open = true;
  // Frame parser state.
  uint8_t head[14];
  size_t head_len = 0, head_need = 2;
  bool in_payload = false;
  uint64_t payload_left = 0;
  uint8_t opcode = 0;
  bool fin = false;
  bool compressed = false;  // the message being read has RSV1 (permessage-deflate)
  std::string message;      // probes: the text message being assembled
  struct Inflater {
    Inflater() {
      if (inflateInit2(&z, -15) != Z_OK) die("inflateInit2 failed");
    }
    ~Inflater() { inflateEnd(&z); }
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;
    z_stream z{};
  };
  std::unique_ptr<Inflater> inflater;  // probes, when permessage-deflate was agreed
};

// RFC 7692 7.2.2: the payload plus 00 00 FF FF, raw inflate. False on bad data.
bool inflate_message(z_stream& z, const std::string& in, std::string& out) {
  static const char kTail[4] = {0, 0, '\xff', '\xff'};
  out.clear();
  char buf[1 << 16];
  for (std::string_view part : {std::string_view(in), std::string_view(kTail, 4)}) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    z.avail_in = static_cast<uInt>(part.size());
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      int rc = inflate(&z, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
      out.append(buf, sizeof buf - z.avail_out);
      if (rc == Z_BUF_ERROR && z.avail_out != 0) break;
    } while (z.avail_in > 0 || z.avail_out == 0);
  }
  return true;
}

struct Watchers {
  Watchers(const Options& opt, std::atomic<bool>& stop_flag) : o(opt), stop(stop_flag) {}
  const Options& o;
  std::atomic<bool>& stop;
  std::atomic<bool> measuring{false};
  std::atomic<uint64_t> frames{0}, bytes{0}, closed{0};
  std::vector<int32_t> latencies;  // ms, probes, while measuring
  std::atomic<int64_t> latency_p99_hint{0};
  std::vector<Client> clients;
  std::atomic<uint64_t> inflate_errors{0};
  size_t deflate_agreed = 0;
  std::string inflated;  // watcher thread: a probe's message inflated

  void connect_all() {
    clients.resize(o.clients);
    std::string resp;
    for (size_t i = 0; i < o.clients; ++i) {
      Client& c = clients[i];
      c.fd = connect_to(o);
      c.probe = i < o.probes;
      std::string req("GET /api/v1/live HTTP/1.1\r\nHost: ");
      req.append(o.host).append(":").append(std::to_string(o.port));
      req.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
      req.append("Sec-WebSocket-Version: 13\r\n");
      if (o.deflate) req.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");  // Chromium's offer
      req.append("\r\n");
      if (!write_all(c.fd, req.data(), req.size())) die("WebSocket connect failed");
      resp.clear();
      char tmp[4096];
      while (resp.find("\r\n\r\n") == std::string::npos) {
        ssize_t r = ::recv(c.fd, tmp, sizeof tmp, 0);
        if (r <= 0) die("WebSocket upgrade failed");
        resp.append(tmp, static_cast<size_t>(r));
      }
      if (resp.compare(0, 12, "HTTP/1.1 101") != 0) die("WebSocket upgrade refused: " + resp.substr(0, resp.find('\r')));
      if (resp.find("permessage-deflate") != std::string::npos) {
        ++deflate_agreed;
        if (c.probe) c.inflater = std::make_unique<Client::Inflater>();
      }
      std::string hello(R"({"op":"hello","token":")");
      hello.append(o.staff_token).append(R"(","bbox":[-180,-90,180,90]})");
      send_frame(c, 1, hello);
      fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
      if ((i + 1) % 100 == 0) std::fprintf(stderr, "live_load: %zu/%zu clients connected\n", i + 1, o.clients);
    }
  }

  static void send_frame(Client& c, uint8_t op, const std::string& payload) {  // masked, as a client must
    std::string f;
    f += static_cast<char>(0x80 | op);
    if (payload.size() < 126) {
      f += static_cast<char>(0x80 | payload.size());
    } else {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xff);
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) & ~O_NONBLOCK);
    write_all(c.fd, f.data(), f.size());
  }

  void on_message(Client& c) {
    ++frames;
    if (!c.probe) return;
    const std::string* text = &c.message;
    if (c.compressed) {  // inflated even while warming up: the context runs across messages
      if (!c.inflater || !inflate_message(c.inflater->z, c.message, inflated)) {
        ++inflate_errors;
        return;
      }
      text = &inflated;
    }
    if (!measuring.load(std::memory_order_relaxed)) return;
    const int64_t now = wall_ms();
    const char* key = R"("fix_time":")";
    for (size_t at = text->find(key); at != std::string::npos; at = text->find(key, at + 12)) {
      if (at + 12 + 24 > text->size()) break;
      latencies.push_back(static_cast<int32_t>(now - parse_iso_ms(text->c_str() + at + 12)));
    }
  }

  void feed(Client& c, const uint8_t* p, size_t n) {
    while (n) {
      if (payload_done(c)) {
        // Collect the header: 2 bytes, then the extended length.
        size_t take = std::min(n, c.head_need - c.head_len);
        std::memcpy(c.head + c.head_len, p, take);
        c.head_len += take;
        p += take;
        n -= take;
        if (c.head_len < c.head_need) return;
        uint8_t len7 = c.head[1] & 0x7f;
        size_t full = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        if (c.head_need < full) {
          c.head_need = full;
          continue;
        }
        c.fin = c.head[0] & 0x80;
        uint8_t op = c.head[0] & 0x0f;
        if (op != 0) c.opcode = op;
        uint64_t len = len7;
        if (len7 == 126) len = (uint64_t{c.head[2]} << 8) | c.head[3];
        if (len7 == 127) {
          len = 0;
          for (int i = 2; i < 10; ++i) len = (len << 8) | c.head[i];
        }
        c.payload_left = len;
        c.head_len = 0;
        c.head_need = 2;
        c.in_payload = true;
        if (op != 0) c.message.clear();  // a new message (continuations append)
        if (op != 0 && op < 8) c.compressed = c.head[0] & 0x40;
        if (len == 0) finish_frame(c);
        continue;
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, c.payload_left));
      if (c.probe && c.opcode == 1) c.message.append(reinterpret_cast<const char*>(p), take);
      if (c.opcode == 9) c.message.append(reinterpret_cast<const char*>(p), take);  // ping payload, echoed
      p += take;
      n -= take;
      c.payload_left -= take;
      bytes += take;
      if (c.payload_left == 0) finish_frame(c);
    }
  }
  static bool payload_done(const Client& c) { return !c.in_payload; }
  void finish_frame(Client& c) {
    c.in_payload = false;
    if (c.opcode == 9) {  // ping: answer pong with its payload
      std::string payload = c.message;
      c.message.clear();
      send_frame(c, 10, payload);
      fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
      return;
    }
    if (c.opcode == 8) {
      c.open = false;
      ++closed;
      return;
    }
    if (c.fin && c.opcode == 1) on_message(c);
  }

  void run() {
    int ep = epoll_create1(0);
    for (size_t i = 0; i < clients.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(ep, EPOLL_CTL_ADD, clients[i].fd, &ev);
    }
    std::vector<epoll_event> evs(256);
    std::vector<uint8_t> buf(1 << 18);
    while (!stop.load(std::memory_order_relaxed)) {
      int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int k = 0; k < n; ++k) {
        Client& c = clients[evs[static_cast<size_t>(k)].data.u64];
        for (;;) {
          ssize_t r;
          if (!c.probe && c.in_payload && c.opcode != 9) {
            // A frame body nobody parses: the kernel drops it without copying
            // (MSG_TRUNC on TCP), so the driver costs little next to the server.
            r = ::recv(c.fd, nullptr, static_cast<size_t>(std::min<uint64_t>(c.payload_left, 1 << 22)),
                       MSG_TRUNC | MSG_DONTWAIT);
            if (r > 0) {
              c.payload_left -= static_cast<uint64_t>(r);
              bytes += static_cast<uint64_t>(r);
              if (c.payload_left == 0) finish_frame(c);
              continue;
            }
          } else {
            // Probes read everything; the others only a frame header here.
            size_t want = c.probe || c.opcode == 9 || c.in_payload ? buf.size() : c.head_need - c.head_len;
            r = ::recv(c.fd, buf.data(), want, 0);
            if (r > 0) {
              feed(c, buf.data(), static_cast<size_t>(r));
              if (static_cast<size_t>(r) < want) break;
              continue;
            }
          }
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          if (c.open) {
            c.open = false;
            ++closed;
          }
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
          break;
        }
      }
    }
    ::close(ep);
  }
};

double percentile(std::vector<int32_t>& v, double q) {
  if (v.empty()) return NAN;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  pm::load::program_name = "live_load";
  Options o = parse_options(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  std::atomic<bool> stop{false};
  Watchers w{o, stop};
  w.connect_all();
  std::thread watch([&] { w.run(); });
  Sender s{o, stop};
  std::thread send([&] { s.run(); });

  auto progress = [&](const char* phase, double secs) {
    uint64_t f0 = w.frames, b0 = w.bytes, p0 = s.sent;
    for (double t = 0; t < secs; t += 1) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      uint64_t f1 = w.frames, b1 = w.bytes, p1 = s.sent;
      std::fprintf(stderr, "live_load: %s %3.0fs  pings/s %6llu  frames/s %6llu  MB/s %7.1f  closed %llu\n", phase,
                   t + 1, static_cast<unsigned long long>(p1 - p0), static_cast<unsigned long long>(f1 - f0),
                   static_cast<double>(b1 - b0) / 1e6, static_cast<unsigned long long>(w.closed.load()));
      f0 = f1, b0 = b1, p0 = p1;
    }
  };
  progress("warm-up", o.warmup);
  const uint64_t f0 = w.frames, b0 = w.bytes, p0 = s.sent;
  const uint64_t t0 = now_ns();
  const double cpu0 = o.server_pid ? pm::load::cpu_seconds_of(o.server_pid) : -1;
  w.measuring = true;
  long rss_peak = 0;
  std::thread rss([&] {
    while (w.measuring && o.server_pid) {
      rss_peak = std::max(rss_peak, pm::load::rss_kib_of(o.server_pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  progress("measure", o.seconds);
  w.measuring = false;
  rss.join();
  const double secs = static_cast<double>(now_ns() - t0) / 1e9;
  const double cpu1 = o.server_pid ? pm::load::cpu_seconds_of(o.server_pid) : -1;
  const uint64_t frames = w.frames - f0, bytes = w.bytes - b0, pings = s.sent - p0;
  stop = true;
  send.join();
  watch.join();
  // Only the watcher thread appends latencies, and it has stopped.
  std::vector<int32_t> lat = std::move(w.latencies);
  const double p50 = percentile(lat, 0.50), p90 = percentile(lat, 0.90), p99 = percentile(lat, 0.99),
               mx = lat.empty() ? NAN : *std::max_element(lat.begin(), lat.end());
  const double cpu_pct = cpu0 >= 0 && cpu1 >= 0 ? 100 * (cpu1 - cpu0) / secs : NAN;
  std::printf("live_load: %zu units at %.1f Hz, %zu clients (%zu probes), %.1f s measured\n", o.units, o.rate_hz,
              o.clients, o.probes, secs);
  std::printf("  pings stored       %10.0f /s (failed %llu)\n", static_cast<double>(pings) / secs,
              static_cast<unsigned long long>(s.failed.load()));
  std::printf("  frames received    %10.0f /s over all clients, %.1f MB/s\n", static_cast<double>(frames) / secs,
              static_cast<double>(bytes) / secs / 1e6);
  std::printf("  latency ping->frame p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms  (%zu unit updates)\n", p50,
              p90, p99, mx, lat.size());
  std::printf("  clients closed     %llu\n", static_cast<unsigned long long>(w.closed.load()));
  std::printf("  permessage-deflate %s, agreed by %zu of %zu clients, probe inflate errors %llu\n",
              o.deflate ? "offered" : "not offered", w.deflate_agreed, o.clients,
              static_cast<unsigned long long>(w.inflate_errors.load()));
  if (o.server_pid)
    std::printf("  server CPU         %.0f%% of one core, peak RSS %.0f MiB\n", cpu_pct,
                static_cast<double>(rss_peak) / 1024);
  if (o.json)
    std::printf(R"({"units":%zu,"clients":%zu,"deflate":%s,"seconds":%.1f,"pings_per_s":%.0f,"frames_per_s":%.0f,"mb_per_s":%.1f,)"
                R"("p50_ms":%.0f,"p90_ms":%.0f,"p99_ms":%.0f,"max_ms":%.0f,"server_cpu_pct":%.0f,"server_rss_mib":%.0f,"closed":%llu})"
                "\n",
                o.units, o.clients, w.deflate_agreed ? "true" : "false", secs, static_cast<double>(pings) / secs, static_cast<double>(frames) / secs,
                static_cast<double>(bytes) / secs / 1e6, p50, p90, p99, mx, cpu_pct, static_cast<double>(rss_peak) / 1024,
                static_cast<unsigned long long>(w.closed.load()));
  return w.closed.load() || w.inflate_errors.load() ? 1 : 0;
}
