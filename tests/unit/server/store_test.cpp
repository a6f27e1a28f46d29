#include "server/store/store.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>
#include <set>

#include "tests/support/store_put.hpp"
#include "server/store/fix_keys.hpp"
#include "server/store/reader.hpp"
#include "tests/support/temp_dir.hpp"

namespace pm {
namespace {

struct Harness {
  explicit Harness(const std::string& dir, size_t queue_max = 262144, int wal_frames = 8192,
                   size_t checkpoint_slice_rows = 8192) {
    StoreOptions o;
    o.data_dir = dir;
    o.queue_max_pings = queue_max;
    o.wal_checkpoint_frames = wal_frames;
    o.checkpoint_slice_rows = checkpoint_slice_rows;
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

int64_t scalar(sql::Db& db, const std::string& q) {
  auto st = db.prepare(q);
  EXPECT_TRUE(st.ok()) << q;
  EXPECT_EQ(st.step(), SQLITE_ROW) << q;
  return st.i64(0);
}

int64_t count_fixes(const std::string& dir) {
  sql::Db db;
  EXPECT_FALSE(open_store_db(db, dir, SyncMode::normal).has_value());
  auto st = db.prepare("SELECT COUNT(*) FROM fixes");
  st.step();
  return st.i64(0);
}

TEST(Store, DuplicatesAreDetectedByDeviceAndTime) {
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

// The duplicate rule computed independently of the store: a set of stored
// (device, t); the first of equal keys in a batch is the one stored.
struct StoredKeys {
  std::set<std::pair<std::string, EpochMs>> keys;
  size_t rows = 0, dups = 0;
  std::vector<uint8_t> expect(const std::vector<RawPing>& pings) {
    std::vector<uint8_t> out;
    for (const auto& p : pings) {
      const bool fresh = keys.emplace(std::string(p.device), p.t).second;
      out.push_back(fresh ? 1 : 0);
      rows += fresh;
      dups += !fresh;
    }
    return out;
  }
};

// New fixes go in 32 to an INSERT; which of a batch are duplicates is decided
// per fix before. Random batches (duplicates inside a chunk, across chunks and
// of earlier batches) against the model.
TEST(Store, DuplicatesInsideMultiRowInsertsAreFlaggedPerFix) {
  test::TempDir dir;
  Harness h(dir.path());
  h.start();
  const uint32_t seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  StoredKeys model;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<RawPing> pings;
    const size_t n = 1 + rng() % 200;
    for (size_t i = 0; i < n; ++i) {
      // Few devices and times, so duplicates are common. (RawPing holds a
      // view of the device id: the names must outlive the batch.)
      static const std::array<std::string, 7> kDevices = {"D0", "D1", "D2", "D3", "D4", "D5", "D6"};
      pings.push_back(ping(kDevices[rng() % kDevices.size()], 1000 + static_cast<EpochMs>(rng() % 60), 52.6, -1.1));
    }
    const auto expect = model.expect(pings);
    ASSERT_EQ(h.put(pings), expect) << "batch " << batch;
  }
  EXPECT_GT(model.dups, 100u);
  h.store->stop();
  EXPECT_EQ(count_fixes(dir.path()), static_cast<int64_t>(model.rows));
}

// The rule without an index (fix_keys.hpp): each device's highest t in
// memory, the keys in blocks, fixes before 1970 in fix_keys_wide. Random
// batches against a set of stored keys, with restarts between them: one
// restart keeps device_tmax and the checkpoint, another drops both so the
// highest t per device is rebuilt from every fix.
TEST(Store, DuplicateRuleHoldsAcrossRestartsKeyBlocksAndWideKeys) {
  test::TempDir dir;
  const uint32_t seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  static const std::array<std::string, 5> kDevices = {"D0", "D1", "D2", "D3", "D4"};
  StoredKeys model;
  size_t wide_seen = 0;
  for (int round = 0; round < 3; ++round) {
    if (round == 2) {
      sql::Db db;
      ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
      ASSERT_FALSE(db.exec("DELETE FROM device_tmax; DELETE FROM live_checkpoint; DELETE FROM meta").has_value());
    }
    // Round 1 writes its live checkpoints a unit or device_tmax row a
    // transaction; the rule must hold across that restart as well.
    Harness h(dir.path(), 262144, 8192, round == 1 ? 1 : 8192);
    h.start();
    for (int batch = 0; batch < 15; ++batch) {
      std::vector<RawPing> pings;
      const size_t n = 1 + rng() % 150;
      // Times over ~3 s of key space (several blocks), a few before 1970.
      for (size_t i = 0; i < n; ++i) {
        EpochMs t = rng() % 10 == 0 ? -1000 - static_cast<EpochMs>(rng() % 5) : 1000 + static_cast<EpochMs>(rng() % 40) * 80;
        wide_seen += t < 0;
        pings.push_back(ping(kDevices[rng() % kDevices.size()], t, 52.6, -1.1));
      }
      const auto expect = model.expect(pings);
      ASSERT_EQ(h.put(pings), expect) << "round " << round << " batch " << batch;
    }
    h.store->stop();
  }
  EXPECT_GT(model.dups, 300u);
  EXPECT_GT(wide_seen, 50u);
  EXPECT_EQ(count_fixes(dir.path()), static_cast<int64_t>(model.rows));
  sql::Db db;
  ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
  EXPECT_GT(scalar(db, "SELECT COUNT(*) FROM fix_key_blocks"), 3);
  EXPECT_EQ(scalar(db, "SELECT SUM(n) FROM fix_key_blocks") + scalar(db, "SELECT COUNT(*) FROM fix_keys_wide"),
            static_cast<int64_t>(model.rows));
}

// A database from before the key blocks: the UNIQUE(t, device) index's keys
// become blocks, device_tmax and fix_keys_wide rows, and the index goes.
TEST(StoreLayout, IndexedFixesMoveToKeyBlocks) {
  test::TempDir dir;
  {
    sql::Db db;
    ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
    ASSERT_FALSE(db.exec("DROP TABLE fix_key_blocks; DROP TABLE fix_keys_wide; DROP TABLE device_tmax; "
                         "CREATE UNIQUE INDEX fixes_t_device ON fixes(t, device); "
                         "INSERT INTO units(idx,id,type,status) VALUES(0,'A','car','available'),(1,'B','car','available'); "
                         "INSERT INTO devices(idx,id,kind,unit_idx) VALUES(0,'A','avl',0),(1,'B','avl',1); "
                         "INSERT INTO fixes(device,unit,t,lat,lon,channel,flags) VALUES"
                         "(0,0,1000,52.6,-1.1,0,0),(0,0,2000,52.6,-1.1,0,0),(1,1,1500,52.6,-1.1,0,0),"
                         "(0,0,-5000,52.6,-1.1,0,0)").has_value());
  }
  Harness h(dir.path());
  {
    sql::Db db;
    ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
    EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE name='fixes_t_device'"), 0);
    EXPECT_EQ(scalar(db, "SELECT SUM(n) FROM fix_key_blocks"), 3);
    EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM fix_keys_wide"), 1);
    EXPECT_EQ(scalar(db, "SELECT t FROM device_tmax WHERE device = 0"), 2000);
    EXPECT_EQ(scalar(db, "SELECT t FROM device_tmax WHERE device = 1"), 1500);
  }
  h.start();
  EXPECT_EQ(h.put({ping("A", 1000, 1, 1), ping("A", -5000, 1, 1), ping("B", 1500, 1, 1), ping("A", 1500, 1, 1),
                   ping("B", 1600, 1, 1), ping("A", 2000, 1, 1)}),
            (std::vector<uint8_t>{0, 0, 0, 1, 1, 0}));
  h.store->stop();
  EXPECT_EQ(count_fixes(dir.path()), 6);
}

// Retention goes through the key blocks: every expired fix is deleted, and a
// block once all its keys are expired, so an expired fix can be sent again.
TEST(Store, RetentionDeletesExpiredFixesAndTheirKeyBlocks) {
  test::TempDir dir;
  {
    Harness h(dir.path());
    h.start();
    // Rowids follow this order; the last fix (the highest rowid) is kept.
    std::vector<RawPing> pings = {ping("B", -7000, 52.6, -1.1)};  // fix_keys_wide
    for (int i = 0; i < 1000; ++i) pings.push_back(ping("A", 10 * i, 52.6, -1.1));  // 0 .. 9,990 ms
    for (int i = 0; i < 11; ++i) pings.push_back(ping("B", 20000 + i, 52.6, -1.1));
    h.put(pings);
    h.store->stop();
  }
  {
    sql::Db db;
    ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
    ASSERT_GE(scalar(db, "SELECT COUNT(*) FROM fix_key_blocks"), 10);  // a block spans under a second
    int64_t total = 0;
    for (int i = 0; i < 100; ++i) {
      auto r = delete_expired(db, 5005, 100);
      ASSERT_TRUE(std::holds_alternative<int64_t>(r)) << std::get<std::string>(r);
      if (std::get<int64_t>(r) == 0) break;
      EXPECT_LE(std::get<int64_t>(r), 100 + 64 * 4);
      total += std::get<int64_t>(r);
    }
    EXPECT_EQ(total, 501 + 1);  // 0 .. 5,000 ms and the one before 1970
    EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM fixes WHERE t < 5005"), 0);
    EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM fixes"), 499 + 11);
    EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM fix_key_blocks WHERE k_last < " + std::to_string(int64_t{5005} << 21)), 0);
    EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM fix_keys_wide"), 0);
  }
  Harness h(dir.path());
  h.start();
  // 100 ms: its block held only expired keys and is gone. 6,000 ms is stored.
  EXPECT_EQ(h.put({ping("A", 100, 1, 1), ping("A", 6000, 1, 1), ping("B", -7000, 1, 1)}),
            (std::vector<uint8_t>{1, 0, 1}));
}

TEST(FixKey, OrdersByTimeThenDeviceAndLeavesOutWhatDoesNotFit) {
  EXPECT_EQ(fix_key(0, 0), 0);
  EXPECT_EQ(fix_key(1, 0), int64_t{1} << 21);
  EXPECT_EQ(fix_key(1, 5), (int64_t{1} << 21) + 5);
  EXPECT_LT(*fix_key(1000, (1u << 21) - 1), *fix_key(1001, 0));
  EXPECT_EQ(fix_key(-1, 0), std::nullopt);
  EXPECT_EQ(fix_key(int64_t{1} << 42, 0), std::nullopt);
  EXPECT_EQ(fix_key((int64_t{1} << 42) - 1, (1u << 21) - 1), INT64_MAX);
  EXPECT_EQ(fix_key(1000, 1u << 21), std::nullopt);
  std::string blob;
  const std::vector<int64_t> keys = {3, 9, 10, int64_t{1} << 50};
  encode_key_block(keys, blob);
  for (int64_t k : keys) EXPECT_TRUE(key_block_contains(blob, k)) << k;
  for (int64_t k : {0, 4, 11, 1 << 30}) EXPECT_FALSE(key_block_contains(blob, k)) << k;
  EXPECT_FALSE(key_block_contains(blob.substr(0, blob.size() - 1), int64_t{1} << 50));  // cut short
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
    // Only checkpoints that ran count: the thread's connection once answered
    // every call with "nothing to do" (it had not read the database, so it
    // did not know of the WAL), and the writer did all the work.
    EXPECT_GT(h.metrics.store_wal_checkpoints.load(), h.metrics.store_wal_inline_checkpoints.load());
    EXPECT_GE(h.metrics.store_wal_checkpoint_frames.load(), uint64_t{frames});
    // Bounded (4 x frames pages and one transaction): without checkpoints
    // these 100,000 fixes take ~12 MB of WAL.
    EXPECT_LT(wal_max, uintmax_t{5} * frames * 4096);
  }
  EXPECT_EQ(count_fixes(dir.path()), 100000);
}

// Checkpoints written whole, or a row a transaction (slices).
class StoreRecovery : public ::testing::TestWithParam<size_t> {};

TEST_P(StoreRecovery, RecoversUnitsAndPositionsFromCheckpointAndTail) {
  test::TempDir dir;
  {
    Harness h(dir.path(), 262144, 8192, GetParam());
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
    h.store->stop();
  }
  // The stop's checkpoint covers every fix: nothing is left to replay.
  sql::Db db;
  ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
  EXPECT_EQ(scalar(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='checkpoint_rowid'"),
            scalar(db, "SELECT MAX(rowid) FROM fixes"));
  EXPECT_EQ(scalar(db, "SELECT t FROM live_checkpoint WHERE unit = 0"), 4000);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM device_tmax"), 2);
  EXPECT_EQ(scalar(db, "SELECT t FROM device_tmax WHERE device = 0"), 4000);
}

INSTANTIATE_TEST_SUITE_P(WholeOrSliced, StoreRecovery, ::testing::Values(size_t{8192}, size_t{1}));

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
