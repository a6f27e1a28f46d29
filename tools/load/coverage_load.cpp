// coverage_load: the patrol coverage report end to end (issue 6's benchmark) against a
// running patrolmapd, over HTTP on keep-alive connections:
//   1. POST /api/v1/areas: --areas hot spots (kind hotspot, the shapes of
//      tools/bench/coverage_bench, seed 1) and --extra-areas more (kind beat, seed 3), so
//      the live accounting works on areas + extra-areas (2,000 by default);
//   2. POST /api/v1/pings: --units units x --hours hours at 5 s (2.88 M fixes by default),
//      fix times in the last hours (the daemon's clock is real), in batches of --batch on
//      --connections connections, each connection sending its own units in time order;
//      the daemon's "coverage" thread CPU (/proc/PID/task/TID/stat) over the fixes is the
//      live accounting's cost per fix;
//   3. GET /api/v1/reports/coverage?kind=hotspot&from&to over the whole window, --runs
//      times with source=auto (live, from memory) and source=store (recomputed from
//      SQLite): wall time per request and the server's CPU; the two answers must agree.
// With --out-dir, writes what the PostGIS peer needs (tools/bench/coverage-postgis.sh):
// areas.csv (id, WKT in the daemon's projected plane), fixes.csv (unit, t_ms, x, y: the
// daemon's projection of the lon/lat sent) and patrolmap.csv (the store answer per area).
//
//   coverage_load --port 8080 --token GATEWAY --admin-token ADMIN --pid $(pidof patrolmapd)
//
// The daemon needs ingest.registration=auto (devices U0.. become units U0..) and no
// per-token rate limit (http.rate_per_token=0).
#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "geo/projection.hpp"
#include "tools/bench/coverage_synth.hpp"
#include "tools/load/http_client.hpp"
#include "tools/load/load_util.hpp"

namespace {

using pm::load::BlockingClient;
using pm::load::die;
using pm::load::now_ns;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string token, admin_token, out_dir;
  int pid = 0;
  int areas = 1000, extra_areas = 1000, units = 500, hours = 8, runs = 5;
  std::size_t batch = 5000, connections = 2;
  bool json = false;
  enum { all, areas_only, no_areas } phase = all;
};

void usage() {
  std::puts(
      "usage: coverage_load --port P --token GATEWAY --admin-token ADMIN [options]\n"
      "Loads synthetic hot spots and 8 h of patrol fixes into a running patrolmapd, then times\n"
      "GET /api/v1/reports/coverage (source=auto and source=store) and checks they agree.\n"
      "  --host H             default 127.0.0.1\n"
      "  --port P             patrolmapd's HTTP port (required)\n"
      "  --token T            gateway or device token for POST /api/v1/pings (required)\n"
      "  --admin-token T      admin token for POST /api/v1/areas and the reports (required)\n"
      "  --pid PID            patrolmapd's pid: server CPU per report, the coverage thread's CPU per fix\n"
      "  --areas N            hot spots reported on (default 1000)\n"
      "  --extra-areas N      more areas (kind beat) the live accounting also tracks (default 1000)\n"
      "  --units N            units (default 500)\n"
      "  --hours N            hours of fixes at 5 s, ending about 2 minutes ago (default 8)\n"
      "  --batch N            pings per POST (default 5000, ingest.max_batch)\n"
      "  --connections N      parallel ingest connections (default 2)\n"
      "  --runs N             timed reports per source (default 5)\n"
      "  --out-dir DIR        write areas.csv, fixes.csv, patrolmap.csv for the PostGIS peer\n"
      "  --only-areas         post the areas (and write areas.csv) and stop\n"
      "  --no-areas           the areas are already loaded (an earlier --only-areas): fixes and reports\n"
      "  --json               also print one JSON result line\n"
      "Progress goes to stderr; results to stdout.");
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (pm::load::Args args(argc, argv); args.next();) {
    const std::string& a = args.opt();
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--host") {
      o.host = args.value();
    } else if (a == "--port") {
      o.port = args.num<int>();
    } else if (a == "--token") {
      o.token = args.value();
    } else if (a == "--admin-token") {
      o.admin_token = args.value();
    } else if (a == "--pid") {
      o.pid = args.num<int>();
    } else if (a == "--areas") {
      o.areas = args.num<int>();
    } else if (a == "--extra-areas") {
      o.extra_areas = args.num<int>();
    } else if (a == "--units") {
      o.units = args.num<int>();
    } else if (a == "--hours") {
      o.hours = args.num<int>();
    } else if (a == "--batch") {
      o.batch = args.num<std::size_t>();
    } else if (a == "--connections") {
      o.connections = args.num<std::size_t>();
    } else if (a == "--runs") {
      o.runs = args.num<int>();
    } else if (a == "--out-dir") {
      o.out_dir = args.value();
    } else if (a == "--only-areas") {
      o.phase = Options::areas_only;
    } else if (a == "--no-areas") {
      o.phase = Options::no_areas;
    } else if (a == "--json") {
      o.json = true;
    } else {
      die("unknown option " + a + " (--help)");
    }
  }
  if (o.port <= 0 || o.port > 65535) die("--port is required (1..65535)");
  if (o.token.empty() || o.admin_token.empty()) die("--token and --admin-token are required");
  if (o.areas < 1 || o.extra_areas < 0 || o.units < 1 || o.runs < 1) die("--areas, --units, --runs must be >= 1");
  if (o.hours < 1 || o.hours > 24) die("--hours must be 1..24 (ingest.too_old_s is a day by default)");
  if (o.batch == 0 || o.batch > 5000) die("--batch must be 1..5000 (ingest.max_batch)");
  if (o.connections == 0 || o.connections > 64) die("--connections must be 1..64");
  return o;
}

void progress(const char* fmt, ...) {
  std::va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "coverage_load: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

const pm::geo::Projection& projection() {
  static const pm::geo::Projection p = [] {
    auto r = pm::geo::Projection::create();
    if (!r) die("projection: " + r.error(), 1);
    return *r;
  }();
  return p;
}

// Lon/lat as sent (9 decimals, ~0.1 mm) and the daemon's projection of exactly that text.
struct Sent {
  char lon[16];
  char lat[16];
  pm::geo::XY xy;
};
Sent to_sent(pm::geo::XY p) {
  Sent s{};
  const pm::geo::LonLat ll = projection().inverse(p);
  std::snprintf(s.lon, sizeof s.lon, "%.9f", ll.lon);
  std::snprintf(s.lat, sizeof s.lat, "%.9f", ll.lat);
  s.xy = projection().forward({std::strtod(s.lon, nullptr), std::strtod(s.lat, nullptr)});
  return s;
}

std::string host_header(const Options& o) { return o.host + ":" + std::to_string(o.port); }

// ---- 1. areas --------------------------------------------------------------------

void post_areas(const Options& o, BlockingClient& c, const std::vector<pm::bench::SynthArea>& areas,
                const std::string& kind, std::FILE* csv) {
  std::string body = "{\"type\":\"FeatureCollection\",\"features\":[";
  for (std::size_t i = 0; i < areas.size(); ++i) {
    if (i) body += ',';
    body += "{\"type\":\"Feature\",\"properties\":{\"id\":\"" + areas[i].id + "\",\"kind\":\"" + kind +
            "\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[";
    std::string wkt = "POLYGON((";
    for (std::size_t k = 0; k < areas[i].ring.size(); ++k) {
      const Sent s = to_sent(areas[i].ring[k]);
      if (k) {
        body += ',';
        wkt += ',';
      }
      body += std::string("[") + s.lon + "," + s.lat + "]";
      char xy[64];
      std::snprintf(xy, sizeof xy, "%.6f %.6f", s.xy.x, s.xy.y);
      wkt += xy;
    }
    body += "]]}}";
    wkt += "))";
    if (csv) std::fprintf(csv, "%s,\"%s\"\n", areas[i].id.c_str(), wkt.c_str());
  }
  body += "]}";
  auto r = c.request("POST", "/api/v1/areas?kind=" + kind, o.admin_token, body, host_header(o));
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (r.status != 200 || d.HasParseError() || !d.IsObject() || !d.HasMember("loaded") || !d["loaded"].IsUint64() ||
      d["loaded"].GetUint64() != areas.size())
    die("POST /api/v1/areas?kind=" + kind + " answered " + std::to_string(r.status) + ": " + pm::load::snippet(r.body),
        1);
  progress("%zu areas of kind %s loaded", areas.size(), kind.c_str());
}

// ---- the coverage thread ------------------------------------------------------------

// The daemon's thread named "coverage" (pthread_setname_np in server/coverage/service.cpp); 0 if none.
int find_thread(int pid, const char* name) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  int found = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::FILE* f = std::fopen((dir + "/" + e->d_name + "/comm").c_str(), "r");
    if (!f) continue;
    char comm[64] = {};
    if (std::fgets(comm, sizeof comm, f)) {
      comm[std::strcspn(comm, "\n")] = 0;
      if (std::strcmp(comm, name) == 0) found = std::atoi(e->d_name);
    }
    std::fclose(f);
  }
  closedir(d);
  return found;
}

double thread_cpu(int pid, int tid) {
  return tid ? pm::load::cpu_seconds_of_stat("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat")
             : -1;
}

// ---- 2. fixes ----------------------------------------------------------------------

struct IngestResult {
  std::size_t fixes = 0;
  double seconds = 0;
};

IngestResult ingest(const Options& o, const std::vector<pm::geo::UnitTrack>& tracks, const std::vector<std::vector<Sent>>& sent) {
  std::atomic<std::size_t> accepted{0};
  const std::size_t total = [&] {
    std::size_t n = 0;
    for (const auto& t : tracks) n += t.fixes.size();
    return n;
  }();
  const std::size_t steps = tracks.front().fixes.size();
  const uint64_t t0 = now_ns();
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      BlockingClient client(pm::load::resolve(o.host, o.port));
      std::string body;
      std::size_t in_body = 0;
      auto flush = [&] {
        if (in_body == 0) return;
        body.push_back(']');
        auto r = client.request("POST", "/api/v1/pings", o.token, body, host_header(o));
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        if (r.status != 202 || d.HasParseError() || !d.IsObject() || !d.HasMember("accepted") ||
            !d["accepted"].IsUint64() || d["accepted"].GetUint64() != in_body)
          die("POST /api/v1/pings answered " + std::to_string(r.status) + ": " + pm::load::snippet(r.body), 1);
        accepted += in_body;
        in_body = 0;
        body.clear();
      };
      for (std::size_t k = 0; k < steps; ++k) {
        for (std::size_t u = c; u < tracks.size(); u += o.connections) {
          const Sent& s = sent[u][k];
          body += in_body == 0 ? "[" : ",";
          body += "{\"device\":\"" + tracks[u].unit + "\",\"t\":" + std::to_string(tracks[u].fixes[k].t_ms) +
                  ",\"lat\":" + s.lat + ",\"lon\":" + s.lon + "}";
          if (++in_body == o.batch) flush();
        }
      }
      flush();
    });
  }
  uint64_t last = now_ns();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::size_t n = accepted.load();
    if (n >= total) break;
    if (now_ns() - last > 2'000'000'000ULL) {
      last = now_ns();
      progress("fixes: %zu / %zu (%.0f /s)", n, total, static_cast<double>(n) / (static_cast<double>(last - t0) / 1e9));
    }
  }
  for (auto& t : threads) t.join();
  return {accepted.load(), static_cast<double>(now_ns() - t0) / 1e9};
}

// ---- 3. reports ----------------------------------------------------------------------

struct Timed {
  std::vector<double> wall_ms, cpu_ms;
  std::string body;
};

Timed time_reports(const Options& o, BlockingClient& c, const std::string& target, int runs) {
  Timed t;
  for (int i = 0; i < runs; ++i) {
    const double cpu0 = o.pid ? pm::load::cpu_seconds_of(o.pid) : 0;
    const uint64_t w0 = now_ns();
    auto r = c.request("GET", target, o.admin_token, "", host_header(o));
    const uint64_t w1 = now_ns();
    const double cpu1 = o.pid ? pm::load::cpu_seconds_of(o.pid) : 0;
    if (r.status != 200) die("GET " + target + " answered " + std::to_string(r.status) + ": " + pm::load::snippet(r.body), 1);
    t.wall_ms.push_back(static_cast<double>(w1 - w0) / 1e6);
    t.cpu_ms.push_back((cpu1 - cpu0) * 1e3);
    t.body = std::move(r.body);
    progress("%s: %.1f ms wall, %.0f ms server CPU", target.c_str(), t.wall_ms.back(), t.cpu_ms.back());
  }
  return t;
}

// A counter's value from GET /metrics (admin token); -1 when absent.
double metric_value(const Options& o, BlockingClient& c, const std::string& name) {
  auto r = c.request("GET", "/metrics", o.admin_token, "", host_header(o));
  if (r.status != 200) die("GET /metrics answered " + std::to_string(r.status), 1);
  const std::string key = "\n" + name + " ";
  const auto at = r.body.find(key);
  return at == std::string::npos ? -1 : std::strtod(r.body.c_str() + at + key.size(), nullptr);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}
double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  pm::load::program_name = "coverage_load";
  const Options o = parse_options(argc, argv);
  BlockingClient admin(pm::load::resolve(o.host, o.port));

  // Files for the PostGIS peer.
  std::FILE* areas_csv = nullptr;
  std::FILE* fixes_csv = nullptr;
  if (!o.out_dir.empty() && o.phase != Options::no_areas) {
    areas_csv = std::fopen((o.out_dir + "/areas.csv").c_str(), "w");
    if (!areas_csv) die("cannot write in " + o.out_dir, 1);
    std::fputs("id,wkt\n", areas_csv);
  }
  if (!o.out_dir.empty() && o.phase != Options::areas_only) {
    fixes_csv = std::fopen((o.out_dir + "/fixes.csv").c_str(), "w");
    if (!fixes_csv) die("cannot write in " + o.out_dir, 1);
    std::fputs("unit,t_ms,x,y\n", fixes_csv);
  }

  // 1. areas: the report's hot spots (coverage_bench's, seed 1) and beats the accounting also tracks.
  // A daemon that got its first areas while running answers only windows from that moment
  // from memory: hence --only-areas, a restart, then --no-areas (tools/bench/run-bench.sh).
  if (o.phase != Options::no_areas) {
    post_areas(o, admin, pm::bench::synth_hot_spots(o.areas, 1, 'H'), "hotspot", areas_csv);
    if (o.extra_areas > 0) post_areas(o, admin, pm::bench::synth_hot_spots(o.extra_areas, 3, 'B'), "beat", nullptr);
  }
  if (areas_csv && std::fclose(areas_csv) != 0) die("cannot write areas.csv", 1);
  if (o.phase == Options::areas_only) return 0;

  // 2. fixes over the last --hours, ending about 2 minutes ago, on whole seconds.
  const int64_t duration_ms = int64_t{o.hours} * 3'600'000;
  const int64_t from_ms = (pm::load::wall_ms() - duration_ms - 120'000) / 1000 * 1000;
  const int64_t to_ms = from_ms + duration_ms;
  const auto tracks = pm::bench::synth_tracks(o.units, from_ms, duration_ms, 2);
  std::vector<std::vector<Sent>> sent(tracks.size());
  std::size_t total = 0;
  for (std::size_t u = 0; u < tracks.size(); ++u) {
    for (const auto& f : tracks[u].fixes) {
      sent[u].push_back(to_sent(f.p));
      if (fixes_csv)
        std::fprintf(fixes_csv, "%s,%" PRId64 ",%.6f,%.6f\n", tracks[u].unit.c_str(), f.t_ms, sent[u].back().xy.x,
                     sent[u].back().xy.y);
    }
    total += tracks[u].fixes.size();
  }
  if (fixes_csv && std::fclose(fixes_csv) != 0) die("cannot write fixes.csv", 1);
  progress("%zu fixes of %d units prepared; ingesting on %zu connections in batches of %zu", total, o.units,
           o.connections, o.batch);

  const int tid = o.pid ? find_thread(o.pid, "coverage") : 0;
  if (o.pid && !tid) progress("no thread named \"coverage\" in pid %d: no per-fix accounting cost", o.pid);
  const double acc_cpu0 = thread_cpu(o.pid, tid);
  const double srv_cpu0 = o.pid ? pm::load::cpu_seconds_of(o.pid) : 0;
  const double chunked0 = metric_value(o, admin, "patrolmap_store_chunked_fixes_total");
  const IngestResult ing = ingest(o, tracks, sent);
  // The accounting thread drains its queue after the commits: wait until its CPU time stops moving.
  double acc_cpu1 = thread_cpu(o.pid, tid);
  for (int still = 0; tid && still < 3;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const double c = thread_cpu(o.pid, tid);
    still = c == acc_cpu1 ? still + 1 : 0;
    acc_cpu1 = c;
  }
  const double srv_cpu1 = o.pid ? pm::load::cpu_seconds_of(o.pid) : 0;
  const double ns_per_fix = tid ? (acc_cpu1 - acc_cpu0) * 1e9 / static_cast<double>(ing.fixes) : -1;
  progress("%zu fixes in %.1f s (%.0f /s); coverage thread %.2f s CPU = %.0f ns per fix (%d areas)", ing.fixes,
           ing.seconds, static_cast<double>(ing.fixes) / ing.seconds, acc_cpu1 - acc_cpu0, ns_per_fix,
           o.areas + o.extra_areas);

  // Reports of past windows read fixes packed into track chunks (the store
  // writer packs every store.track_chunk_s): wait until all of these are.
  if (chunked0 >= 0) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    for (;;) {
      const double packed = metric_value(o, admin, "patrolmap_store_chunked_fixes_total") - chunked0;
      if (packed >= static_cast<double>(ing.fixes)) break;
      if (std::chrono::steady_clock::now() > give_up) {
        progress("warning: only %.0f of %zu fixes packed into track chunks after 5 minutes", packed, ing.fixes);
        break;
      }
      progress("waiting for the track chunks: %.0f of %zu fixes packed", packed, ing.fixes);
      std::this_thread::sleep_for(std::chrono::seconds(5));
    }
  }

  // 3. the report, live then store; the first of each is a warm-up not counted.
  const std::string base = "/api/v1/reports/coverage?kind=hotspot&from=" + std::to_string(from_ms) +
                           "&to=" + std::to_string(to_ms) + "&source=";
  time_reports(o, admin, base + "auto", 1);
  const Timed live = time_reports(o, admin, base + "auto", o.runs);
  time_reports(o, admin, base + "store", 1);
  const Timed store = time_reports(o, admin, base + "store", o.runs);

  rapidjson::Document dl, ds;
  dl.Parse(live.body.c_str());
  ds.Parse(store.body.c_str());
  if (dl.HasParseError() || ds.HasParseError() || !dl.IsObject() || !ds.IsObject() || !dl.HasMember("areas") ||
      !ds.HasMember("areas") || !dl["areas"].IsArray() || !ds["areas"].IsArray())
    die("report answers are not the documented JSON", 1);
  const std::string live_source = dl.HasMember("source") && dl["source"].IsString() ? dl["source"].GetString() : "?";
  if (live_source != "live") progress("warning: source=auto answered from \"%s\", not live", live_source.c_str());
  const auto& la = dl["areas"];
  const auto& sa = ds["areas"];
  const bool same = la == sa;
  uint64_t visits = 0;
  double unit_seconds = 0;
  for (const auto& a : sa.GetArray()) {
    visits += a["visits"].GetUint64();
    unit_seconds += a["unit_seconds"].GetDouble();
  }
  if (!same) {
    for (rapidjson::SizeType i = 0; i < std::min(la.Size(), sa.Size()); ++i)
      if (la[i] != sa[i]) {
        progress("live and store differ first at area %s", sa[i]["id"].GetString());
        break;
      }
  }
  if (!o.out_dir.empty()) {
    std::FILE* f = std::fopen((o.out_dir + "/patrolmap.csv").c_str(), "w");
    if (!f) die("cannot write patrolmap.csv", 1);
    std::fputs("id,unit_seconds,presence_seconds,visits\n", f);
    for (const auto& a : sa.GetArray())
      std::fprintf(f, "%s,%.3f,%.3f,%" PRIu64 "\n", a["id"].GetString(), a["unit_seconds"].GetDouble(),
                   a["presence_seconds"].GetDouble(), a["visits"].GetUint64());
    if (std::fclose(f) != 0) die("cannot write patrolmap.csv", 1);
  }

  std::printf("coverage report, %d hot spots (%d areas tracked live), %d units, %d h at 5 s = %zu fixes\n", o.areas,
              o.areas + o.extra_areas, o.units, o.hours, ing.fixes);
  std::printf("  ingest            %.1f s, %.0f fixes/s, server CPU %.1f s\n", ing.seconds,
              static_cast<double>(ing.fixes) / ing.seconds, srv_cpu1 - srv_cpu0);
  std::printf("  live accounting   %.0f ns CPU per fix (coverage thread)\n", ns_per_fix);
  std::printf("  report live       median %.1f ms wall (min %.1f), server CPU median %.0f ms, %d runs\n",
              median(live.wall_ms), min_of(live.wall_ms), median(live.cpu_ms), o.runs);
  std::printf("  report store      median %.1f ms wall (min %.1f), server CPU median %.0f ms, %d runs\n",
              median(store.wall_ms), min_of(store.wall_ms), median(store.cpu_ms), o.runs);
  std::printf("  answers           %s (%u areas, %" PRIu64 " visits, %.0f unit-seconds)\n",
              same ? "live == store" : "LIVE AND STORE DIFFER", sa.Size(), visits, unit_seconds);
  if (o.json)
    std::printf(
        "{\"target\":\"coverage\",\"areas\":%d,\"areas_live\":%d,\"units\":%d,\"hours\":%d,\"fixes\":%zu,"
        "\"ingest_s\":%.2f,\"ingest_fixes_per_s\":%.0f,\"live_ns_per_fix\":%.0f,\"live_ms\":%.1f,\"live_min_ms\":%.1f,"
        "\"live_cpu_ms\":%.0f,\"store_ms\":%.1f,\"store_min_ms\":%.1f,\"store_cpu_ms\":%.0f,\"same\":%s,\"visits\":%" PRIu64
        ",\"from_ms\":%" PRId64 ",\"to_ms\":%" PRId64 "}\n",
        o.areas, o.areas + o.extra_areas, o.units, o.hours, ing.fixes, ing.seconds,
        static_cast<double>(ing.fixes) / ing.seconds, ns_per_fix, median(live.wall_ms), min_of(live.wall_ms),
        median(live.cpu_ms), median(store.wall_ms), min_of(store.wall_ms), median(store.cpu_ms),
        same ? "true" : "false", visits, from_ms, to_ms);
  return same ? 0 : 1;
}
