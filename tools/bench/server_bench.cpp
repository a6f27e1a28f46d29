// Micro-benchmarks of the ping hot path below the socket: JSON decode,
// validation, and resolve (projection + device->unit under the lock).
//
//   build/release/bin/server_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "server/ingest/json_pings.hpp"
#include "server/ingest/validate.hpp"
#include "server/state/live_state.hpp"

namespace {

constexpr pm::EpochMs kNow = 1795342503250;

std::string make_body(size_t n) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> lon(-1.60, -0.66), lat(52.39, 52.98);
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s{\"device\":\"AVL-%05zu\",\"t\":%lld,\"lat\":%.6f,\"lon\":%.6f,\"speed_mps\":8.1,"
                  "\"heading_deg\":270,\"accuracy_m\":5}",
                  i ? "," : "", i, static_cast<long long>(kNow - 1000), lat(rng), lon(rng));
    s += buf;
  }
  return s + "]";
}

void BM_DecodeJsonBatch(benchmark::State& state) {
  const std::string body = make_body(static_cast<size_t>(state.range(0)));
  pm::JsonPingBatch batch;
  std::string work;
  for (auto _ : state) {
    work = body;  // in-situ parsing consumes the buffer
    auto err = pm::decode_json_pings(work, 100000, batch);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(batch.pings.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_DecodeJsonBatch)->Arg(100)->Arg(1000);

void BM_Validate(benchmark::State& state) {
  std::string body = make_body(1000);
  pm::JsonPingBatch batch;
  (void)pm::decode_json_pings(body, 100000, batch);
  pm::IngestLimits limits;
  for (auto _ : state) {
    size_t ok = 0;
    for (const auto& p : batch.pings) ok += !pm::validate_ping(p, kNow, limits).has_value();
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_Validate);

// Projection plus registry lookup for 1,000 pings of known devices among 100,000.
void BM_ResolveBatch(benchmark::State& state) {
  pm::LiveState live(*pm::geo::Projection::create("EPSG:27700"), pm::LonLatBox{});
  std::string body = make_body(1000);
  pm::JsonPingBatch batch;
  (void)pm::decode_json_pings(body, 100000, batch);
  pm::ResolveOptions opt;
  opt.auto_register = true;
  std::vector<pm::Fix> fixes;
  std::vector<uint32_t> pos;
  std::vector<pm::Rejection> rej;
  pm::NewRecords created;
  live.resolve(batch.pings, batch.positions, pm::Channel::json, opt, fixes, pos, rej, created);
  std::vector<uint8_t> stored(fixes.size(), 1);
  live.apply(fixes, stored, created);
  for (auto _ : state) {
    fixes.clear();
    pos.clear();
    created.clear();
    live.resolve(batch.pings, batch.positions, pm::Channel::json, opt, fixes, pos, rej, created);
    benchmark::DoNotOptimize(fixes.data());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_ResolveBatch);

}  // namespace

BENCHMARK_MAIN();
