// Replay benchmarks (issue 7; figures in docs/performance.md): server time of
//   - one unit's 12-hour track at 5 s (8,640 fixes) read and written as JSON
//     (TrackQuery + stops/trips + writing) from a store of 500 units x 12 h,
//     chunked as the daemon chunks (every 60 s of fixes); target < 5 ms;
//   - a positions-at-T snapshot of 1,000 units; target < 20 ms;
//   - the store writer's ingest rate with track chunking every second (worst
//     case; the default is every 60 s) against chunking off.
//
//   build/release/bin/replay_bench --benchmark_min_time=0.2
//   REPLAY_BENCH_UNITS=500 REPLAY_BENCH_HOURS=12 REPLAY_BENCH_SNAPSHOT_UNITS=1000 (defaults)
//
// The stores are built once per run in a temporary directory (removed at
// exit); progress goes to stderr. Run on a Release build.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "server/core/log.hpp"
#include "server/core/metrics.hpp"
#include "server/replay/replay_query.hpp"
#include "server/store/store.hpp"
#include "server/store/track_query.hpp"

namespace {

using pm::EpochMs;
constexpr EpochMs kT0 = 1795334400000;  // 2026-11-22T08:00:00Z
constexpr EpochMs kStepMs = 5000;

// "U7": built by appending (GCC 12 at -O3 reports a false -Wrestrict on "U" + std::string).
std::string id_of(const char* prefix, long i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

long env_or(const char* name, long fallback) {
  const char* s = std::getenv(name);
  return s ? std::strtol(s, nullptr, 10) : fallback;
}

struct TempRoot {
  std::string path;
  TempRoot() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "replay-bench.XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TempRoot& root() {
  static TempRoot r;
  return r;
}

// A store of `units` units driving random walks at 5 s for `hours`, inserted
// in time order (as ingest does) and packed into chunks after every minute
// of fixes (as store.track_chunk_s = 60 packs them).
std::string build_store(const std::string& name, long units, long hours) {
  std::string dir = root().path;
  dir += "/";
  dir += name;
  pm::sql::Db db;
  if (auto e = pm::open_store_db(db, dir, pm::SyncMode::normal)) throw std::runtime_error(*e);
  if (auto e = db.exec("PRAGMA synchronous=OFF")) throw std::runtime_error(*e);
  const auto t_start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "replay_bench: building %s: %ld units x %ld h at 5 s (%ld fixes)...\n", name.c_str(), units,
               hours, units * hours * 720);
  db.exec("BEGIN");
  {
    auto u = db.prepare("INSERT INTO units(idx,id,type,status) VALUES(?,?,'car','available')");
    auto d = db.prepare("INSERT INTO devices(idx,id,kind,unit_idx) VALUES(?,?,'avl',?)");
    for (long i = 0; i < units; ++i) {
      const std::string id = id_of("U", i);
      u.bind(1, int64_t{i}).bind(2, id);
      u.step();
      u.reset();
      d.bind(1, int64_t{i}).bind(2, id_of("AVL-U", i)).bind(3, int64_t{i});
      d.step();
      d.reset();
    }
  }
  db.exec("COMMIT");
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> start_lat(52.45, 52.9), start_lon(-1.5, -0.5), step(-0.0003, 0.0003);
  std::vector<double> lat(static_cast<size_t>(units)), lon(static_cast<size_t>(units));
  for (long i = 0; i < units; ++i) {
    lat[static_cast<size_t>(i)] = start_lat(rng);
    lon[static_cast<size_t>(i)] = start_lon(rng);
  }
  auto ins = db.prepare("INSERT INTO fixes(device,unit,t,lat,lon,speed,heading,accuracy,channel,flags) "
                        "VALUES(?,?,?,?,?,8.5,90,5,0,0)");
  const long ticks = hours * 720;
  for (long k = 0; k < ticks; k += 12) {  // one minute of fixes, then a chunk pass
    db.exec("BEGIN");
    for (long tick = k; tick < std::min(ticks, k + 12); ++tick)
      for (long i = 0; i < units; ++i) {
        auto& la = lat[static_cast<size_t>(i)];
        auto& lo = lon[static_cast<size_t>(i)];
        la += step(rng);
        lo += step(rng);
        ins.bind(1, int64_t{i}).bind(2, int64_t{i}).bind(3, kT0 + tick * kStepMs).bind(4, la).bind(5, lo);
        ins.step();
        ins.reset();
      }
    bool more = true;
    while (more)
      if (auto e = pm::pack_track_chunks(db, 200000, more)) throw std::runtime_error(*e);
    db.exec("COMMIT");
    if (k % 1440 == 0)
      std::fprintf(stderr, "replay_bench:   %s: %ld of %ld h\n", name.c_str(), k / 720, hours);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::fprintf(stderr, "replay_bench: %s built in %.1f s\n", name.c_str(), s);
  return dir;
}

// A read connection set up as the daemon's StoreReader sets up its own.
std::unique_ptr<pm::sql::Db> reader(const std::string& dir) {
  auto db = std::make_unique<pm::sql::Db>();
  if (auto e = db->open_readonly(dir + "/patrolmap.db")) throw std::runtime_error(*e);
  db->exec("PRAGMA query_only=1; PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536");
  return db;
}

const std::string& track_store() {
  static const std::string dir = build_store("tracks", env_or("REPLAY_BENCH_UNITS", 500), env_or("REPLAY_BENCH_HOURS", 12));
  return dir;
}

const std::string& snapshot_store() {
  // Two hours are enough: a snapshot reads only the chunks near T.
  static const std::string dir = build_store("snapshot", env_or("REPLAY_BENCH_SNAPSHOT_UNITS", 1000), 2);
  return dir;
}

void BM_TrackQuery12h(benchmark::State& state) {
  auto db = reader(track_store());
  const long units = env_or("REPLAY_BENCH_UNITS", 500);
  const EpochMs to = kT0 + env_or("REPLAY_BENCH_HOURS", 12) * 3600 * 1000;
  std::mt19937 rng(1);
  std::vector<pm::TrackPoint> pts;
  size_t n = 0;
  for (auto _ : state) {
    pm::TrackQuery q(*db);
    q.load(static_cast<uint32_t>(rng() % static_cast<unsigned long>(units)), kT0, to, pts);
    n += pts.size();
    benchmark::DoNotOptimize(pts.data());
  }
  state.counters["fixes"] = static_cast<double>(n) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_TrackQuery12h)->Unit(benchmark::kMillisecond);

void BM_Track12h(benchmark::State& state) {
  auto db = reader(track_store());
  const long units = env_or("REPLAY_BENCH_UNITS", 500);
  const auto format = static_cast<pm::TrackFormat>(state.range(0));
  std::mt19937 rng(2);
  size_t bytes = 0, fixes = 0;
  for (auto _ : state) {
    pm::TracksRequest r;
    const auto u = static_cast<uint32_t>(rng() % static_cast<unsigned long>(units));
    r.units = {pm::UnitRef{u, id_of("U", u)}};
    r.from = kT0;
    r.to = kT0 + env_or("REPLAY_BENCH_HOURS", 12) * 3600 * 1000;
    r.format = format;
    auto res = pm::run_tracks(*db, r);
    if (res.error) state.SkipWithError(std::string(res.error->text()).c_str());
    bytes += res.body.size();
    fixes += res.fixes;
    benchmark::DoNotOptimize(res.body.data());
  }
  state.SetLabel(std::string(pm::track_format_name(format)));
  state.counters["fixes"] = static_cast<double>(fixes) / static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Track12h)
    ->Arg(static_cast<int>(pm::TrackFormat::json))
    ->Arg(static_cast<int>(pm::TrackFormat::gpx))
    ->Unit(benchmark::kMillisecond);

void BM_Positions(benchmark::State& state) {
  auto db = reader(snapshot_store());
  pm::PositionsRequest r;
  const long units = env_or("REPLAY_BENCH_SNAPSHOT_UNITS", 1000);
  for (long i = 0; i < units; ++i) r.units.push_back(pm::UnitRef{static_cast<uint32_t>(i), id_of("U", i)});
  std::mt19937 rng(3);
  for (auto _ : state) {
    // Any instant of the second hour, not on a fix time: every unit interpolated.
    r.at = kT0 + 3600 * 1000 + static_cast<EpochMs>(rng() % 3'500'000) + 1234;
    std::string error;
    std::string body = pm::run_positions(*db, r, error);
    if (!error.empty()) state.SkipWithError(error.c_str());
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["units"] = static_cast<double>(units);
}
BENCHMARK(BM_Positions)->Unit(benchmark::kMillisecond);

// The store writer's ingest rate: 1,000,000 fixes of 2,000 or 100,000 units
// (the UDP bench's fleet) in jobs of 1,000 (HTTP batches), committed as fast
// as the writer can; chunk_s = 1 packs every second (60x the default rate),
// 0 only at the end.
void BM_StoreIngest(benchmark::State& state) {
  const unsigned chunk_s = static_cast<unsigned>(state.range(0));
  const uint32_t kUnits = static_cast<uint32_t>(state.range(1));
  constexpr size_t kFixes = 1'000'000, kBatch = 1000;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = root().path;
    dir += id_of("/ingest-", chunk_s);
    dir += id_of("-", std::rand());
    pm::Metrics metrics;
    pm::StoreOptions opt;
    opt.data_dir = dir;
    opt.track_chunk_s = chunk_s;
    auto store = pm::Store::open(opt, metrics);
    pm::LiveState live(*pm::geo::Projection::create("EPSG:27700"), pm::LonLatBox{});
    store->load(live);
    store->start(live, nullptr);
    std::atomic<size_t> done{0};
    std::vector<std::unique_ptr<pm::PingJob>> jobs;
    for (size_t b = 0; b < kFixes / kBatch; ++b) {
      auto job = std::make_unique<pm::PingJob>();
      if (b == 0)
        for (uint32_t u = 0; u < kUnits; ++u) {
          pm::UnitRecord ur;
          ur.index = u;
          ur.id = id_of("U", u);
          job->created.units.push_back(ur);
          pm::DeviceRecord dr;
          dr.index = u;
          dr.id = id_of("AVL-U", u);
          dr.unit = u;
          job->created.devices.push_back(dr);
        }
      for (size_t i = 0; i < kBatch; ++i) {
        const size_t k = b * kBatch + i;
        pm::Fix f;
        f.device = f.unit = static_cast<uint32_t>(k % kUnits);
        f.t = kT0 + static_cast<EpochMs>(k / kUnits) * kStepMs;
        f.lat = 52.6 + static_cast<double>(k % 997) * 1e-5;
        f.lon = -1.1 + static_cast<double>(k % 991) * 1e-5;
        f.xy = live.projection().forward(pm::geo::LonLat{f.lon, f.lat});  // as the ingest path does
        job->fixes.push_back(f);
      }
      job->done = [&done](pm::PingJob& j, const pm::StoreResult&) { done += j.fixes.size(); };
      jobs.push_back(std::move(job));
    }
    state.ResumeTiming();
    for (auto& job : jobs)
      while (!store->submit(job)) std::this_thread::sleep_for(std::chrono::microseconds(200));
    while (done.load() < kFixes) std::this_thread::sleep_for(std::chrono::microseconds(200));
    state.PauseTiming();
    store->stop();  // packs what is left: not timed
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFixes));
  state.SetLabel(chunk_s ? "chunks every second" : "chunking off (packed at stop)");
}
BENCHMARK(BM_StoreIngest)->Args({0, 2000})->Args({1, 2000})->Args({0, 100000})->Args({1, 100000})->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h")
      std::printf(
          "replay_bench: server time of replay queries on stores built like the daemon's (issue 7).\n"
          "  BM_TrackQuery12h, BM_Track12h/0 (json), /2 (gpx): one unit's 12 h at 5 s, target < 5 ms\n"
          "  BM_Positions: positions at T of 1,000 units, target < 20 ms\n"
          "  BM_StoreIngest/0/U, /1/U: store writer fixes/s of U units with chunking off / every second\n"
          "Environment: REPLAY_BENCH_UNITS=500 REPLAY_BENCH_HOURS=12 REPLAY_BENCH_SNAPSHOT_UNITS=1000\n"
          "Stores are built in $TMPDIR (about 0.6 GB, removed at exit; progress on stderr).\n"
          "Google Benchmark flags follow.\n\n");
  pm::log::set_level(pm::log::Level::warn);  // the ingest runs open stores: no info lines
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
