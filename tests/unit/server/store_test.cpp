#include "server/store/store.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>
#include <set>

#include "tests/support/store_put.hpp"
#include "server/store/reader.hpp"
#include "tests/support/temp_dir.hpp"

namespace pm {
namespace {

struct Harness {
  explicit Harness(const std::string& dir, size_t queue_max = 262144, int wal_frames = 8192) {
    StoreOptions o;
    o.data_dir = dir;
    o.queue_max_pings = queue_max;
    o.wal_checkpoint_frames = wal_frames;
    store = Store::open(o, metrics);
    store->load(live);
  }
  void start() {
    store->start(live, [](sql::Db&) {});
  }
  // Resolves, submits and waits for the commit; returns stored flags.
  std::vector<uint8_t> put(const std::vector<RawPing>& pings) { return test::store_put(*store, live, pings); }
  Metrics metrics;
  LiveState live{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
  std::unique_ptr<Store> store;
};

RawPing ping(std::string_view dev, EpochMs t, double lat, double lon) {
  RawPing p;
  p.device = dev;
  p.t = t;
  p.lat = lat;
  p.lon = lon;
  p.speed_mps = 4.5f;
  return p;
}

int64_t count_fixes(const std::string& dir) {
  sql::Db db;
  EXPECT_FALSE(open_store_db(db, dir, SyncMode::normal).has_value());
  auto st = db.prepare("SELECT COUNT(*) FROM fixes");
  st.step();
  return st.i64(0);
}

TEST(Store, DuplicatesAreDetectedByTheIndex) {
  test::TempDir dir;
  Harness h(dir.path());
  h.start();
  auto s1 = h.put({ping("A", 1000, 52.6, -1.1), ping("A", 1000, 52.7, -1.1), ping("B", 1000, 52.6, -1.1)});
  EXPECT_EQ(s1, (std::vector<uint8_t>{1, 0, 1}));  // same device+time in one batch
  auto s2 = h.put({ping("B", 1000, 52.0, -1.0), ping("B", 999, 52.0, -1.0)});
  EXPECT_EQ(s2, (std::vector<uint8_t>{0, 1}));  // across batches; out of order is stored
  h.store->stop();
  EXPECT_EQ(count_fixes(dir.path()), 3);
}

// Fixes go in 32 to an INSERT; when some of a chunk are duplicates, which ones
// were stored is worked out per fix. Random batches (duplicates inside a
// chunk, across chunks and of earlier batches) against a set of stored keys.
TEST(Store, DuplicatesInsideMultiRowInsertsAreFlaggedPerFix) {
  test::TempDir dir;
  Harness h(dir.path());
  h.start();
  const uint32_t seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  std::set<std::pair<std::string, EpochMs>> stored_keys;
  size_t expect_rows = 0, dup_seen = 0;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<RawPing> pings;
    std::vector<uint8_t> expect;
    std::set<std::pair<std::string, EpochMs>> in_batch;
    const size_t n = 1 + rng() % 200;
    for (size_t i = 0; i < n; ++i) {
      // Few devices and times, so duplicates are common. (RawPing holds a
      // view of the device id: the names must outlive the batch.)
      static const std::array<std::string, 7> kDevices = {"D0", "D1", "D2", "D3", "D4", "D5", "D6"};
      const std::string& dev = kDevices[rng() % kDevices.size()];
      EpochMs t = 1000 + static_cast<EpochMs>(rng() % 60);
      pings.push_back(ping(dev, t, 52.6, -1.1));
      auto key = std::make_pair(dev, t);
      const bool fresh = !stored_keys.count(key) && in_batch.insert(key).second;
      expect.push_back(fresh ? 1 : 0);
      expect_rows += fresh;
      dup_seen += !fresh;
    }
    for (const auto& k : in_batch) stored_keys.insert(k);
    ASSERT_EQ(h.put(pings), expect) << "batch " << batch;
  }
  EXPECT_GT(dup_seen, 100u);
  h.store->stop();
  EXPECT_EQ(count_fixes(dir.path()), static_cast<int64_t>(expect_rows));
}

// WAL checkpoints run on the checkpointer thread, not the writer, and keep the
// WAL bounded; everything committed is in the database after a reopen.
TEST(Store, CheckpointerThreadKeepsTheWalBounded) {
  test::TempDir dir;
  const int frames = 64;  // 256 KiB
  {
    Harness h(dir.path(), 262144, frames);
    h.start();
    static const std::array<std::string, 4> kDevices = {"A", "B", "C", "D"};
    uintmax_t wal_max = 0;
    for (int batch = 0; batch < 200; ++batch) {
      std::vector<RawPing> pings;
      for (int i = 0; i < 500; ++i)
        pings.push_back(ping(kDevices[i % 4], 1000 + batch * 1000 + i, 52.6 + i * 1e-5, -1.1));
      h.put(pings);
      std::error_code ec;
      wal_max = std::max(wal_max, std::filesystem::file_size(dir.path() + "/patrolmap.db-wal", ec));
    }
    h.store->stop();
    // Mostly the thread's work; the writer steps in when it is 4 x behind.
    EXPECT_GT(h.metrics.store_wal_checkpoints.load(), h.metrics.store_wal_inline_checkpoints.load());
    // Bounded (4 x frames pages and one transaction): without checkpoints
    // these 100,000 fixes take ~12 MB of WAL.
    EXPECT_LT(wal_max, uintmax_t{5} * frames * 4096);
  }
  EXPECT_EQ(count_fixes(dir.path()), 100000);
}

TEST(Store, RecoversUnitsAndPositionsFromCheckpointAndTail) {
  test::TempDir dir;
  {
    Harness h(dir.path());
    h.start();
    h.put({ping("A", 1000, 52.60, -1.10), ping("B", 1000, 52.50, -1.00)});
    h.put({ping("A", 3000, 52.61, -1.11), ping("A", 2000, 52.99, -1.99)});  // out of order last
    h.store->stop();  // writes a final checkpoint
  }
  {
    Harness h(dir.path());
    auto a = h.live.unit(*h.live.find_unit("A"));
    ASSERT_TRUE(a && a->has_fix);
    EXPECT_EQ(a->last.t, 3000);
    EXPECT_DOUBLE_EQ(a->last.lat, 52.61);
    EXPECT_FLOAT_EQ(a->last.speed_mps, 4.5f);
    EXPECT_EQ(h.live.unit(*h.live.find_unit("B"))->last.t, 1000);
    // New pings after recovery keep working and still see old duplicates.
    h.start();
    EXPECT_EQ(h.put({ping("A", 3000, 1, 1), ping("A", 4000, 52.62, -1.12)}), (std::vector<uint8_t>{0, 1}));
  }
}

TEST(Store, RecoversWithoutACheckpoint) {
  test::TempDir dir;
  {
    Harness h(dir.path());
    h.start();
    h.put({ping("A", 5000, 52.60, -1.10)});
    h.store->stop();
  }
  {
    // Drop the checkpoint: recovery must replay every fix.
    sql::Db db;
    ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
    ASSERT_FALSE(db.exec("DELETE FROM live_checkpoint; DELETE FROM meta").has_value());
  }
  Harness h(dir.path());
  auto a = h.live.unit(*h.live.find_unit("A"));
  ASSERT_TRUE(a && a->has_fix);
  EXPECT_EQ(a->last.t, 5000);
}

TEST(Store, FullQueueRefusesAndKeepsTheJob) {
  test::TempDir dir;
  Harness h(dir.path(), /*queue_max=*/2);
  // Writer not started: jobs stay queued.
  auto make = [&](std::string_view dev, int n) {
    auto job = std::make_unique<PingJob>();
    for (int i = 0; i < n; ++i) {
      Fix f;
      f.device = 0;
      f.t = i;
      job->fixes.push_back(f);
    }
    (void)dev;
    job->done = [](PingJob&, const StoreResult&) {};
    return job;
  };
  auto j1 = make("A", 2);
  EXPECT_TRUE(h.store->submit(j1));
  EXPECT_EQ(j1, nullptr);
  auto j2 = make("A", 1);
  EXPECT_FALSE(h.store->submit(j2));
  ASSERT_NE(j2, nullptr);  // still the caller's: nothing silently dropped
  EXPECT_EQ(h.store->queued_pings(), 2u);
}

TEST(Store, FailedWriteJobRollsBackOnlyItself) {
  test::TempDir dir;
  Harness h(dir.path());
  h.start();
  std::promise<StoreResult> bad, good;
  h.store->submit(WriteJob{[](sql::Db& db) -> std::optional<std::string> {
                             (void)db.exec("INSERT INTO meta(key,value) VALUES('x','1')");
                             return std::string("refused");
                           },
                           [&](const StoreResult& r) { bad.set_value(r); }});
  h.store->submit(WriteJob{[](sql::Db& db) { return db.exec("INSERT INTO meta(key,value) VALUES('y','2')"); },
                           [&](const StoreResult& r) { good.set_value(r); }});
  auto rb = bad.get_future().get();
  auto rg = good.get_future().get();
  EXPECT_FALSE(rb.ok);
  EXPECT_EQ(rb.error, "refused");
  EXPECT_TRUE(rg.ok);
  h.store->stop();
  sql::Db db;
  ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
  auto st = db.prepare("SELECT group_concat(key) FROM meta WHERE key IN ('x','y')");
  st.step();
  EXPECT_EQ(st.text(0), "y");
}


// Reads run on the reader's own connections and see what the writer committed.
TEST(StoreReader, QueriesSeeCommittedFixesOffTheCallerThread) {
  test::TempDir dir;
  Harness h(dir.path());
  h.start();
  h.put({ping("A1", 1'000'000, 52.6, -0.7), ping("A1", 1'005'000, 52.61, -0.7), ping("B2", 1'000'000, 52.5, -0.6)});
  StoreReader reader(dir.path(), 2, 8, h.metrics);
  std::promise<std::pair<int64_t, std::thread::id>> got;
  ASSERT_TRUE(reader.submit([&](sql::Db& db) {
    auto st = db.prepare("SELECT COUNT(*) FROM fixes WHERE t >= 1000000 AND t < 1005000");
    st.step();
    got.set_value({st.i64(0), std::this_thread::get_id()});
  }));
  auto [n, tid] = got.get_future().get();
  EXPECT_EQ(n, 2);
  EXPECT_NE(tid, std::this_thread::get_id());
  // Read-only: a job that tries to write fails instead of changing the store.
  std::promise<bool> wrote;
  ASSERT_TRUE(reader.submit([&](sql::Db& db) { wrote.set_value(!db.exec("DELETE FROM fixes").has_value()); }));
  EXPECT_FALSE(wrote.get_future().get());
  EXPECT_EQ(count_fixes(dir.path()), 3);
  h.store->stop();
}

TEST(StoreReader, FullQueueRefusesAndStopRunsWhatWasQueued) {
  test::TempDir dir;
  Harness h(dir.path());
  StoreReader reader(dir.path(), 1, 2, h.metrics);
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::atomic<int> ran{0};
  std::promise<void> started;
  ASSERT_TRUE(reader.submit([&, gate](sql::Db&) {
    started.set_value();
    gate.wait();
    ran.fetch_add(1);
  }));
  started.get_future().wait();  // the worker holds the first job: the queue is empty again
  EXPECT_TRUE(reader.submit([&](sql::Db&) { ran.fetch_add(1); }));
  EXPECT_TRUE(reader.submit([&](sql::Db&) { ran.fetch_add(1); }));
  EXPECT_FALSE(reader.submit([&](sql::Db&) { ran.fetch_add(100); }));
  EXPECT_EQ(h.metrics.report_rejected.load(), 1u);
  release.set_value();
  reader.stop();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(reader.submit([](sql::Db&) {}));
}

}  // namespace
}  // namespace pm
