// Track chunks: the blob codec, and tracks read through chunks + tail equal a
// plain scan of `fixes` (random data, late fixes, duplicates, restarts).
#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <random>
#include <thread>

#include "server/store/chunk_writer.hpp"
#include "server/store/store.hpp"
#include "server/store/track_chunk.hpp"
#include "server/store/track_query.hpp"
#include "tests/support/store_put.hpp"
#include "tests/support/temp_dir.hpp"

namespace pm {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

bool same(const TrackPoint& a, const TrackPoint& b) {
  auto feq = [](float x, float y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  return a.t == b.t && a.lat_e7 == b.lat_e7 && a.lon_e7 == b.lon_e7 && a.device == b.device &&
         a.channel == b.channel && a.flags == b.flags && feq(a.speed_mps, b.speed_mps) &&
         feq(a.heading_deg, b.heading_deg) && feq(a.accuracy_m, b.accuracy_m) && a.x_mm == b.x_mm &&
         a.y_mm == b.y_mm;
}

TEST(TrackChunk, RoundTripsExtremesAndAbsentValues) {
  std::vector<TrackPoint> pts = {
      {.t = -5, .lat_e7 = -900000000, .lon_e7 = -1800000000, .device = 0, .speed_mps = kNaN, .heading_deg = kNaN,
       .accuracy_m = kNaN, .channel = 0, .flags = 0},
      {.t = -5, .lat_e7 = 900000000, .lon_e7 = 1800000000, .device = 4294967295u, .speed_mps = 0.f,
       .heading_deg = 359.9f, .accuracy_m = kNaN, .channel = 6, .flags = 1, .x_mm = 1'000'000'000'000,
       .y_mm = -1'000'000'000'000},
      {.t = int64_t{253402300799999}, .lat_e7 = 526700001, .lon_e7 = -7300001, .device = 7, .speed_mps = kNaN,
       .heading_deg = kNaN, .accuracy_m = 1e6f, .channel = 7, .flags = 15},
      {.t = int64_t{253402300799999}, .lat_e7 = 0, .lon_e7 = 0, .device = 7, .speed_mps = kNaN,
       .heading_deg = kNaN, .accuracy_m = kNaN, .channel = 7, .flags = 0, .x_mm = -1'000'000'000'000,
       .y_mm = 123'456'789},
  };
  std::string blob;
  encode_track_chunk(pts, blob);
  std::vector<TrackPoint> back = {pts[0]};  // decode appends
  ASSERT_TRUE(decode_track_chunk(blob, back));
  ASSERT_EQ(back.size(), 5u);
  for (size_t i = 0; i < pts.size(); ++i) EXPECT_TRUE(same(back[i + 1], pts[i])) << i;
}

TEST(TrackChunk, IsCompactAndLittleEndian) {
  // 8,640 fixes at 5 s, moving ~40 m per fix, speed present: hand-counted
  // bytes per point: dt 10000 (zigzag 20000, 3 varint bytes), dlat/dlon a few
  // hundred (2 bytes each), device 1, channel 1, bits 1, speed 4 = 14.
  std::vector<TrackPoint> pts;
  for (int i = 0; i < 8640; ++i)
    pts.push_back({.t = 1'700'000'000'000 + i * 5000LL, .lat_e7 = 526000000 + i * 300, .lon_e7 = -7000000 - i * 200,
                   .device = 3, .speed_mps = 8.f, .heading_deg = kNaN, .accuracy_m = kNaN});
  std::string blob;
  encode_track_chunk(pts, blob);
  EXPECT_LE(blob.size(), 8640u * 14 + 16);
  // Version byte, then varint 8640 = 0xC0 0x43.
  EXPECT_EQ(static_cast<uint8_t>(blob[0]), 2);
  EXPECT_EQ(static_cast<uint8_t>(blob[1]), 0xC0);
  EXPECT_EQ(static_cast<uint8_t>(blob[2]), 0x43);
  // speed 8.0f = 0x41000000 stored little-endian: the last 4 bytes of a point.
  std::string one;
  encode_track_chunk({pts[0]}, one);
  EXPECT_EQ(one.substr(one.size() - 4), std::string("\x00\x00\x00\x41", 4));
  // With projected x/y (40 m east, 30 m north per fix in mm: zigzag 80,000 and
  // 60,000, 3 varint bytes each): 6 bytes more per point.
  for (int i = 0; i < 8640; ++i) {
    pts[i].x_mm = 500'000'000 + i * 40'000LL;
    pts[i].y_mm = 300'000'000 + i * 30'000LL;
  }
  std::string with_xy;
  encode_track_chunk(pts, with_xy);
  EXPECT_LE(with_xy.size(), 8640u * 20 + 16);
}

TEST(TrackChunk, RefusesMalformedBlobs) {
  std::vector<TrackPoint> pts = {{.t = 1000, .lat_e7 = 1, .lon_e7 = 2, .speed_mps = 1.f, .heading_deg = kNaN,
                                  .accuracy_m = kNaN},
                                 {.t = 2000, .lat_e7 = 3, .lon_e7 = 4, .speed_mps = kNaN, .heading_deg = kNaN,
                                  .accuracy_m = kNaN}};
  std::string blob;
  encode_track_chunk(pts, blob);
  std::vector<TrackPoint> out;
  for (size_t cut = 0; cut < blob.size(); ++cut)
    EXPECT_FALSE(decode_track_chunk(std::string_view(blob).substr(0, cut), out)) << cut;
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(decode_track_chunk(blob + "x", out));                     // trailing bytes
  EXPECT_FALSE(decode_track_chunk(std::string("\x01\x00", 2), out));    // unknown version
  EXPECT_FALSE(decode_track_chunk(std::string("\x02\xff\xff\xff\xff\x0f", 6), out));  // count lie
  // x/y beyond the encodable range: a hostile delta cannot overflow.
  {
    std::string big = std::string("\x02\x01", 2);
    big += std::string("\x02\x02\x02\x00\x00\x08", 6);  // t, lat, lon, device, channel, bits: x/y present
    for (int k = 0; k < 2; ++k) big += std::string("\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);  // zigzag max
    EXPECT_FALSE(decode_track_chunk(big, out));
    EXPECT_TRUE(out.empty());
  }
  std::string backwards;  // time going back inside a chunk
  encode_track_chunk({pts[1], pts[0]}, backwards);
  EXPECT_FALSE(decode_track_chunk(backwards, out));
  // Random garbage never crashes (ASan) and never yields points with a false.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string g = blob;
    g[rng() % g.size()] = static_cast<char>(rng());
    std::vector<TrackPoint> o;
    if (!decode_track_chunk(g, o)) {
      EXPECT_TRUE(o.empty());
    }
  }
  EXPECT_TRUE(decode_track_chunk(blob, out));
  EXPECT_EQ(out.size(), 2u);
}

struct StoreRun {
  // chunk_s 0: chunks only at stop, read back from `fixes` (the test decides
  // what is tail); 1: packed every second from the writer's memory, in
  // transactions of about slice_fixes fixes (whole units).
  StoreRun(const std::string& dir, LiveState& state, unsigned chunk_s = 0, size_t slice_fixes = 65536)
      : live(state) {
    StoreOptions o;
    o.data_dir = dir;
    o.track_chunk_s = chunk_s;
    o.track_chunk_slice_fixes = slice_fixes;
    store = Store::open(o, metrics);
    store->load(live);
    store->start(live, [](sql::Db&) {});
  }
  void put(const std::vector<RawPing>& pings) { test::store_put(*store, live, pings); }
  Metrics metrics;
  LiveState& live;
  std::unique_ptr<Store> store;
};

// The reference: the plain SQL scan of `fixes` (first stored per time).
std::vector<TrackPoint> scan(sql::Db& db, uint32_t unit, int64_t from, int64_t to,
                             const geo::Projection* proj = nullptr) {
  auto st = db.prepare("SELECT t,lat,lon,speed,heading,accuracy,channel,flags,device FROM fixes "
                       "WHERE unit=? AND t BETWEEN ? AND ? ORDER BY t, rowid");
  st.bind(1, static_cast<int64_t>(unit)).bind(2, from).bind(3, to);
  std::vector<TrackPoint> out;
  while (st.step() == SQLITE_ROW) {
    if (!out.empty() && out.back().t == st.i64(0)) continue;
    out.push_back({.t = st.i64(0), .lat_e7 = static_cast<int32_t>(std::llround(st.f64(1) * 1e7)),
                   .lon_e7 = static_cast<int32_t>(std::llround(st.f64(2) * 1e7)),
                   .device = static_cast<uint32_t>(st.i64(8)),
                   .speed_mps = static_cast<float>(st.f64_or_nan(3)),
                   .heading_deg = static_cast<float>(st.f64_or_nan(4)),
                   .accuracy_m = static_cast<float>(st.f64_or_nan(5)), .channel = static_cast<uint8_t>(st.i64(6)),
                   .flags = static_cast<uint8_t>(st.i64(7))});
    if (proj) {  // PROJ one point at a time, rounded to the millimetre here
      const geo::XY xy = proj->forward(geo::LonLat{st.f64(2), st.f64(1)});
      out.back().x_mm = std::llround(xy.x * 1000.0);
      out.back().y_mm = std::llround(xy.y * 1000.0);
    }
  }
  return out;
}

void expect_tracks_equal_scan(const std::string& dir, int64_t t0, int64_t t1, std::mt19937& rng, const char* when) {
  sql::Db db;
  ASSERT_FALSE(open_store_db(db, dir, SyncMode::normal).has_value());
  std::vector<TrackPoint> got;
  std::uniform_int_distribution<int64_t> any(t0 - 600'000, t1 + 600'000);
  size_t nonempty = 0;
  const auto bng = *geo::Projection::create("EPSG:27700");
  for (int q = 0; q < 60; ++q) {
    uint32_t unit = static_cast<uint32_t>(q % 4);
    int64_t a = any(rng), b = any(rng);
    if (q % 10 == 0) a = t0 - 7'200'000, b = t1 + 7'200'000;  // everything
    if (a > b) std::swap(a, b);
    const geo::Projection* proj = q % 2 ? &bng : nullptr;  // half the queries with x/y
    auto want = scan(db, unit, a, b, proj);
    {
      TrackQuery tq(db, proj);
      ASSERT_TRUE(tq.ok()) << tq.error();
      ASSERT_TRUE(tq.load(unit, a, b, got)) << tq.error();
    }
    ASSERT_EQ(got.size(), want.size()) << when << " unit " << unit << " [" << a << "," << b << "]";
    for (size_t i = 0; i < want.size(); ++i) ASSERT_TRUE(same(got[i], want[i])) << when << " point " << i;
    nonempty += !want.empty();
  }
  EXPECT_GT(nonempty, 30u) << when;  // the comparison was not vacuous
  // Every unit at once (the coverage report's read) equals the scan per unit.
  for (int q = 0; q < 5; ++q) {
    int64_t a = any(rng), b = any(rng);
    if (a > b) std::swap(a, b);
    std::vector<uint32_t> seen;
    TrackQuery tq(db, &bng);
    ASSERT_TRUE(tq.load_all(a, b, [&](uint32_t unit, std::vector<TrackPoint>& pts) {
      seen.push_back(unit);
      auto want = scan(db, unit, a, b, &bng);
      ASSERT_EQ(pts.size(), want.size()) << when << " all, unit " << unit;
      for (size_t i = 0; i < want.size(); ++i) ASSERT_TRUE(same(pts[i], want[i])) << when << " all, point " << i;
    })) << tq.error();
    std::vector<uint32_t> want_units;
    for (uint32_t u = 0; u < 4; ++u)
      if (!scan(db, u, a, b).empty()) want_units.push_back(u);
    EXPECT_EQ(seen, want_units) << when;
  }
}

int64_t scalar(sql::Db& db, std::string_view q) {
  auto st = db.prepare(q);
  EXPECT_EQ(st.step(), SQLITE_ROW);
  return st.i64(0);
}

// Chunks packed at stop from the table (0), every second from the writer's
// memory (1), or so in slices of one unit each (2): the same tracks, x/y
// included, as the plain scan with PROJ.
class TrackStore : public ::testing::TestWithParam<unsigned> {};

TEST_P(TrackStore, TracksEqualThePlainScanWithLateFixesAndRestarts) {
  const unsigned chunk_s = GetParam() == 0 ? 0 : 1;
  const size_t slice_fixes = GetParam() == 2 ? 7 : 65536;
  test::TempDir dir;
  std::mt19937 rng(42);
  const int64_t t0 = 1'763'800'000'000;  // fixes over 5 hours: chunks split at 1 h
  const int64_t t1 = t0 + 5 * 3'600'000;
  std::vector<std::string> ids = {"U0", "U1", "U2", "U3", "U0b"};
  auto random_pings = [&](int n, bool late) {
    std::vector<RawPing> v;
    std::uniform_int_distribution<int64_t> tt(t0, t1);
    for (int i = 0; i < n; ++i) {
      RawPing p;
      p.device = ids[rng() % ids.size()];
      // Whole seconds: equal times across devices U0 and U0b (same unit) happen.
      p.t = late ? tt(rng) / 1000 * 1000 : t0 + (i * (t1 - t0) / n) / 1000 * 1000;
      p.lat = 52.5 + std::uniform_real_distribution<double>(0, 0.3)(rng);
      p.lon = -0.9 + std::uniform_real_distribution<double>(0, 0.3)(rng);
      if (rng() % 3) p.speed_mps = static_cast<float>(rng() % 4000) / 100.f;
      if (rng() % 2) p.heading_deg = static_cast<float>(rng() % 360);
      if (rng() % 4) p.accuracy_m = 5.5f;
      p.emergency = rng() % 50 == 0;
      v.push_back(p);
    }
    return v;
  };
  {
    LiveState live{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
    StoreRun run(dir.path(), live, chunk_s, slice_fixes);
    run.put(random_pings(1, false));  // registers U0..U3 as units 0..3 (one device each)
    for (const char* id : {"U0", "U1", "U2", "U3"}) {
      RawPing p;
      p.device = id;
      p.t = t0 - 3'600'000;
      p.lat = 52.6;
      p.lon = -0.8;
      run.put({p});
    }
    RawPing b;  // U0b: a second device of unit U0
    b.device = "U0b";
    b.t = t0 - 3'600'000;
    b.lat = 52.6;
    b.lon = -0.8;
    run.put({b});
    live.link_device(*live.find_device("U0b"), DeviceKind::avl, *live.find_unit("U0"));
    for (int k = 0; k < 6; ++k) {
      run.put(random_pings(800, false));
      if (chunk_s) std::this_thread::sleep_for(std::chrono::milliseconds(400));  // some packed while running
    }
    run.store->stop();  // packs everything into chunks
  }
  expect_tracks_equal_scan(dir.path(), t0, t1, rng, "after first run");
  int64_t first_run_fixes = 0;
  if (chunk_s) {
    // Packed in several batches while running, not all at stop.
    sql::Db db;
    ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
    EXPECT_GE(scalar(db, "SELECT COUNT(DISTINCT batch) FROM track_chunks"), 3);
    first_run_fixes = scalar(db, "SELECT COUNT(*) FROM fixes WHERE unit IS NOT NULL");
    // An older database without chunks: the next run packs every fix from
    // the table first, then continues from memory.
    ASSERT_FALSE(db.exec("DELETE FROM track_chunks; DELETE FROM meta WHERE key IN "
                         "('chunked_rowid', 'chunk_max_span_ms')").has_value());
  }
  {
    LiveState live{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
    StoreRun run(dir.path(), live, chunk_s, slice_fixes);
    live.link_device(*live.find_device("U0b"), DeviceKind::avl, *live.find_unit("U0"));
    for (int k = 0; k < 4; ++k) run.put(random_pings(700, true));  // late, into chunked hours; some duplicates
    // Not stopped: with chunk_s 0 these fixes are the unchunked tail.
    expect_tracks_equal_scan(dir.path(), t0, t1, rng, "with tail");
    if (chunk_s) {  // and from memory once packed
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      for (int k = 0; k < 2; ++k) run.put(random_pings(300, true));
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      expect_tracks_equal_scan(dir.path(), t0, t1, rng, "packed while running");
      sql::Db db;
      ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
      EXPECT_EQ(scalar(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='chunked_rowid'"),
                scalar(db, "SELECT MAX(rowid) FROM fixes"));  // no tail left
      // The first run's fixes (and what was committed before the backlog was
      // packed) came back from the table; the 600 fixes put once that was done,
      // from memory.
      const uint64_t from_table = run.metrics.store_chunked_from_table.load();
      EXPECT_GE(from_table, static_cast<uint64_t>(first_run_fixes));
      EXPECT_EQ(run.metrics.store_chunked_fixes.load(),
                static_cast<uint64_t>(scalar(db, "SELECT COUNT(*) FROM fixes WHERE unit IS NOT NULL")));
      EXPECT_GT(run.metrics.store_chunked_fixes.load() - from_table, 500u);
    }
    run.store->stop();
  }
  expect_tracks_equal_scan(dir.path(), t0, t1, rng, "after restart");
  sql::Db db;
  ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
  auto st = db.prepare("SELECT (SELECT COUNT(*) FROM track_chunks), (SELECT SUM(n) FROM track_chunks), "
                       "(SELECT COUNT(*) FROM fixes WHERE unit IS NOT NULL), (SELECT MAX(t_last - t_first) FROM track_chunks)");
  ASSERT_EQ(st.step(), SQLITE_ROW);
  EXPECT_GT(st.i64(0), 4 * 5);                 // at least one chunk per unit-hour
  EXPECT_EQ(st.i64(1), st.i64(2));             // every fix with a unit is in exactly one chunk
  EXPECT_LE(st.i64(3), 3'600'000);             // no chunk spans more than an hour
}

INSTANTIATE_TEST_SUITE_P(PackedAtStopOrFromMemory, TrackStore, ::testing::Values(0u, 1u, 2u));

// Stores the batches through a running Store (stopped after: every fix is
// packed into chunks), then opens the database for direct reads.
void store_then_open(const std::string& dir, std::initializer_list<const std::vector<RawPing>*> batches, sql::Db& db) {
  {
    LiveState live{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
    StoreRun run(dir, live);
    for (const auto* b : batches) run.put(*b);
    run.store->stop();
  }
  ASSERT_FALSE(open_store_db(db, dir, SyncMode::normal).has_value());
}

// A database from before the appended chunk layout (WITHOUT ROWID, keyed by
// unit): the store drops those derived chunks and packs every fix again.
TEST(TrackStoreLayout, OldChunkTableIsRebuiltFromTheFixes) {
  test::TempDir dir;
  std::vector<RawPing> pings;
  for (int i = 0; i < 90; ++i) {  // two units, a fix a minute for 45 minutes each
    RawPing p;
    p.device = i % 2 ? "A1" : "B2";
    p.t = 1'763'800'000'000 + (i / 2) * 60'000;
    p.lat = 52.6 + i * 1e-4;
    p.lon = -0.8;
    pings.push_back(p);
  }
  {
    sql::Db old;
    store_then_open(dir.path(), {&pings}, old);
    // Make it look like the old layout: the table as it was, with one stale chunk.
    ASSERT_FALSE(old.exec("DROP TABLE track_chunks; CREATE TABLE track_chunks(unit INTEGER NOT NULL, "
                       "t_first INTEGER NOT NULL, t_last INTEGER NOT NULL, batch INTEGER NOT NULL, n INTEGER NOT NULL, "
                       "data BLOB NOT NULL, PRIMARY KEY(unit, t_first, batch)) WITHOUT ROWID; "
                       "INSERT INTO track_chunks VALUES(0, 1, 2, 3, 1, x'00')").has_value());
  }
  {
    LiveState live{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
    StoreRun run(dir.path(), live, 1);
    run.store->stop();
    EXPECT_EQ(run.metrics.store_chunked_from_table.load(), 90u);
  }
  sql::Db db;
  ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE name='track_chunks' AND sql LIKE '%WITHOUT ROWID%'"), 0);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM track_chunks"), 2);  // one per unit: the stale chunk is gone
  EXPECT_EQ(scalar(db, "SELECT SUM(n) FROM track_chunks"), 90);
  EXPECT_EQ(scalar(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='chunked_rowid'"), 90);
  // Read through the index: unit A1's 45 fixes in time order.
  TrackQuery tq(db);
  std::vector<TrackPoint> got;
  ASSERT_TRUE(tq.load(1, 0, std::numeric_limits<int64_t>::max() / 2, got)) << tq.error();
  ASSERT_EQ(got.size(), 45u);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i].t - got[i - 1].t, 60'000);
}

// The stored fixes with a unit, from rowid `after` on, as the writer holds
// them after commit (x/y projected as on ingest).
std::vector<Fix> stored_fixes(sql::Db& db, int64_t after, const geo::Projection& proj) {
  auto st = db.prepare("SELECT device,unit,t,lat,lon,speed,heading,accuracy,channel,flags FROM fixes "
                       "WHERE rowid > ? AND unit IS NOT NULL ORDER BY rowid");
  st.bind(1, after);
  std::vector<Fix> out;
  while (st.step() == SQLITE_ROW) {
    Fix f;
    f.device = static_cast<uint32_t>(st.i64(0));
    f.unit = static_cast<uint32_t>(st.i64(1));
    f.t = st.i64(2);
    f.lat = st.f64(3);
    f.lon = st.f64(4);
    f.xy = proj.forward(geo::LonLat{f.lon, f.lat});
    f.speed_mps = static_cast<float>(st.f64_or_nan(5));
    f.heading_deg = static_cast<float>(st.f64_or_nan(6));
    f.accuracy_m = static_cast<float>(st.f64_or_nan(7));
    f.channel = static_cast<Channel>(st.i64(8));
    f.emergency = st.i64(9) & 1;
    out.push_back(f);
  }
  return out;
}

// A packing written in slices: until its last slice commits, readers take
// none of its chunks (chunked_rowid stays), and a packing cut short (a crash
// between slices) is dropped and packed again from the table at the next
// start, so every fix ends up in exactly one chunk.
TEST(TrackStoreLayout, PackingInSlicesShowsOnlyWhenCompleteAndIsRedoneIfCutShort) {
  test::TempDir dir;
  const int64_t t0 = 1'763'800'000'000;
  std::vector<std::string> ids = {"S0", "S1", "S2", "S3"};
  std::vector<RawPing> pings;
  for (int i = 0; i < 500; ++i) {  // four units, a fix every 8 s each, over ~17 minutes
    RawPing p;
    p.device = ids[i % ids.size()];
    p.t = t0 + i * 2'000;
    p.lat = 52.6 + i * 1e-5;
    p.lon = -0.8 - i * 1e-5;
    p.speed_mps = 3.5f;
    pings.push_back(p);
  }
  auto owned = std::make_unique<sql::Db>();
  store_then_open(dir.path(), {&pings}, *owned);
  sql::Db* db = owned.get();
  // As a database whose fixes were never packed: every fix is tail.
  ASSERT_FALSE(db->exec("DELETE FROM track_chunks; DELETE FROM meta WHERE key IN "
                       "('chunked_rowid', 'chunk_max_span_ms')").has_value());
  const auto bng = *geo::Projection::create("EPSG:27700");
  const int64_t with_unit = scalar(*db, "SELECT COUNT(*) FROM fixes WHERE unit IS NOT NULL");
  ASSERT_EQ(with_unit, 500);
  auto chunked_rowid = [&] {
    return scalar(*db, "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='chunked_rowid'), 0)");
  };
  auto chunk_fixes = [&] { return scalar(*db, "SELECT COALESCE(SUM(n), 0) FROM track_chunks"); };
  auto open_marks = [&] { return scalar(*db, "SELECT COUNT(*) FROM meta WHERE key='chunk_open_id'"); };

  // Slices of at most 150 fixes, whole units (125 fixes each): one unit a slice.
  ChunkBuffer buf;
  buf.arm(0);
  for (const Fix& f : stored_fixes(*db, 0, bng)) buf.add(f);
  ASSERT_FALSE(buf.seal(*db).has_value());
  ASSERT_TRUE(buf.sealed());
  EXPECT_EQ(buf.size(), 0u);  // what comes next goes to the next packing
  int slices = 0;
  int64_t written = 0;
  while (buf.sealed()) {
    ASSERT_FALSE(db->exec("BEGIN IMMEDIATE").has_value());
    size_t n = 0;
    ASSERT_FALSE(buf.write_slice(*db, 150, n).has_value());
    ASSERT_FALSE(db->exec("COMMIT").has_value());
    buf.slice_written();
    ++slices;
    written += static_cast<int64_t>(n);
    EXPECT_EQ(n, 125u);
    EXPECT_EQ(chunk_fixes(), written);
    if (buf.sealed()) {
      EXPECT_EQ(chunked_rowid(), 0) << "after slice " << slices;  // not visible yet
      EXPECT_EQ(open_marks(), 1);
      std::vector<TrackPoint> got;
      TrackQuery tq(*db, nullptr);
      for (uint32_t u = 0; u < 4; ++u) {
        ASSERT_TRUE(tq.load(u, t0, t0 + 3'600'000, got)) << tq.error();
        EXPECT_EQ(got.size(), 125u);  // each fix once
      }
    }
  }
  EXPECT_EQ(slices, 4);
  EXPECT_EQ(written, with_unit);
  EXPECT_EQ(chunked_rowid(), scalar(*db, "SELECT MAX(rowid) FROM fixes"));
  EXPECT_EQ(open_marks(), 0);

  // Again from scratch, cut short after two slices (the process dies).
  ASSERT_FALSE(db->exec("DELETE FROM track_chunks; DELETE FROM meta WHERE key IN "
                       "('chunked_rowid', 'chunk_max_span_ms')").has_value());
  {
    ChunkBuffer cut;
    cut.arm(0);
    for (const Fix& f : stored_fixes(*db, 0, bng)) cut.add(f);
    ASSERT_FALSE(cut.seal(*db).has_value());
    for (int k = 0; k < 2; ++k) {
      ASSERT_FALSE(db->exec("BEGIN IMMEDIATE").has_value());
      size_t n = 0;
      ASSERT_FALSE(cut.write_slice(*db, 150, n).has_value());
      ASSERT_FALSE(db->exec("COMMIT").has_value());
      cut.slice_written();
    }
  }
  EXPECT_EQ(chunk_fixes(), 250);
  EXPECT_EQ(chunked_rowid(), 0);
  owned.reset();
  {
    LiveState live{bng, LonLatBox{}};
    StoreRun run(dir.path(), live, 1, 150);  // the table path at start packs the backlog
    run.store->stop();
  }
  owned = std::make_unique<sql::Db>();
  db = owned.get();
  ASSERT_FALSE(open_store_db(*db, dir.path(), SyncMode::normal).has_value());
  EXPECT_EQ(chunk_fixes(), with_unit);  // every fix in exactly one chunk: the cut packing's chunks are gone
  EXPECT_EQ(open_marks(), 0);
  EXPECT_EQ(chunked_rowid(), scalar(*db, "SELECT MAX(rowid) FROM fixes"));
  std::mt19937 rng(7);
  expect_tracks_equal_scan(dir.path(), t0, t0 + 1'000'000, rng, "after a cut packing");
}

TEST(Retention, DeletesOldFixesAndChunksInBatchesAndKeepsRecentOnes) {
  test::TempDir dir;
  const int64_t day = 86'400'000, now = 1'763'800'000'000, cutoff = now - 365 * day;
  std::vector<RawPing> old_pings, new_pings;
  for (int i = 0; i < 120; ++i) {  // 120 fixes a minute apart, ending an hour before the cutoff
    RawPing p;
    p.device = "R1";
    p.t = cutoff - 3'600'000 - (120 - i) * 60'000;
    p.lat = 52.6;
    p.lon = -0.8;
    old_pings.push_back(p);
    p.t = cutoff + 1 + i * 60'000;  // just inside retention: kept
    new_pings.push_back(p);
  }
  sql::Db db;
  store_then_open(dir.path(), {&old_pings, &new_pings}, db);
  auto count = [&](std::string_view q) { return scalar(db, q); };
  const int64_t chunks_before = count("SELECT COUNT(*) FROM track_chunks");
  ASSERT_GE(chunks_before, 3);  // 2 h of old fixes + 2 h of new: at least one chunk each side
  std::vector<int64_t> batches;
  for (;;) {
    auto r = delete_expired(db, cutoff, 50);
    ASSERT_TRUE(std::holds_alternative<int64_t>(r)) << std::get<std::string>(r);
    batches.push_back(std::get<int64_t>(r));
    if (batches.back() == 0) break;
  }
  EXPECT_EQ(batches, (std::vector<int64_t>{50, 50, 20, 0}));  // 120 old fixes in batches of 50
  EXPECT_EQ(count("SELECT COUNT(*) FROM fixes"), 120);
  EXPECT_EQ(count("SELECT MIN(t) FROM fixes"), cutoff + 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM track_chunks WHERE t_last < " + std::to_string(cutoff)), 0);
  EXPECT_EQ(count("SELECT SUM(n) FROM track_chunks"), 120);  // the recent chunks are whole
  TrackQuery q(db);
  std::vector<TrackPoint> got;
  ASSERT_TRUE(q.load(0, cutoff - 2 * day, now, got));
  ASSERT_EQ(got.size(), 120u);
  EXPECT_EQ(got.front().t, cutoff + 1);
}

// When every fix has expired, the newest-stored one stays: an empty table
// would hand out rowids from 1 again, below meta.chunked_rowid, and fixes
// stored later would never be chunked (nor read by TrackQuery's tail).
TEST(Retention, KeepsTheNewestStoredFixSoRowidsNeverRestart) {
  test::TempDir dir;
  const int64_t cutoff = 1'795'000'000'000;
  std::vector<RawPing> old_pings;
  for (int i = 0; i < 30; ++i) {
    RawPing p;
    p.device = "R1";
    p.t = cutoff - 86'400'000 + i * 60'000;
    p.lat = 52.6;
    p.lon = -0.8;
    old_pings.push_back(p);
  }
  sql::Db db;
  store_then_open(dir.path(), {&old_pings}, db);  // stopping the store packs every fix into chunks
  auto count = [&](std::string_view q) { return scalar(db, q); };
  const int64_t top = count("SELECT MAX(rowid) FROM fixes");
  ASSERT_EQ(count("SELECT value FROM meta WHERE key='chunked_rowid'"), top);
  int64_t deleted = 0;
  for (int64_t n = -1; n != 0;) {
    auto r = delete_expired(db, cutoff, 7);
    ASSERT_TRUE(std::holds_alternative<int64_t>(r)) << std::get<std::string>(r);
    n = std::get<int64_t>(r);
    deleted += n;
  }
  EXPECT_EQ(deleted, 29);
  EXPECT_EQ(count("SELECT COUNT(*) FROM fixes"), 1);
  EXPECT_EQ(count("SELECT rowid FROM fixes"), top);
  EXPECT_EQ(count("SELECT COUNT(*) FROM track_chunks"), 0);  // every chunk ended before the cutoff
  ASSERT_FALSE(db.exec("INSERT INTO fixes(device,unit,t,lat,lon,channel,flags) VALUES(0,0,1,52.6,-0.8,0,0)"));
  EXPECT_GT(db.last_rowid(), top);  // above chunked_rowid: the next chunk pass takes it
}

}  // namespace
}  // namespace pm
