#include "server/store/store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <stdexcept>

#include "server/core/log.hpp"
#include "server/store/chunk_writer.hpp"
#include "server/store/fix_keys.hpp"
#include "server/store/track_chunk.hpp"

namespace pm {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units(
  idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, status TEXT NOT NULL,
  skills TEXT NOT NULL DEFAULT '', home_area TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS devices(
  idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, unit_idx INTEGER);
CREATE TABLE IF NOT EXISTS fixes(
  device INTEGER NOT NULL, unit INTEGER, t INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
  speed REAL, heading REAL, accuracy REAL, channel INTEGER NOT NULL, flags INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fix_key_blocks(
  id INTEGER PRIMARY KEY, k_first INTEGER NOT NULL, k_last INTEGER NOT NULL, n INTEGER NOT NULL,
  rowid_lo INTEGER NOT NULL, rowid_hi INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS fix_key_blocks_k ON fix_key_blocks(k_first, k_last);
CREATE TABLE IF NOT EXISTS fix_keys_wide(
  t INTEGER NOT NULL, device INTEGER NOT NULL, fix INTEGER NOT NULL, PRIMARY KEY(t, device)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device_tmax(device INTEGER PRIMARY KEY, t INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS live_checkpoint(
  unit INTEGER PRIMARY KEY, device INTEGER NOT NULL, t INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
  speed REAL, heading REAL, accuracy REAL, channel INTEGER NOT NULL, flags INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rota(
  officer TEXT NOT NULL, issi TEXT NOT NULL, unit TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
  skills TEXT NOT NULL DEFAULT '', PRIMARY KEY(issi, unit, start_ms, officer));
CREATE TABLE IF NOT EXISTS dispatch_events(
  seq INTEGER PRIMARY KEY, t INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS track_chunks(
  id INTEGER PRIMARY KEY, unit INTEGER NOT NULL, t_first INTEGER NOT NULL, t_last INTEGER NOT NULL,
  batch INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS track_chunks_unit_t ON track_chunks(unit, t_first, t_last);
CREATE TABLE IF NOT EXISTS areas(
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '', urban INTEGER,
  target TEXT, geometry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dispatch_events_kind_t ON dispatch_events(kind, t);
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY, t INTEGER NOT NULL, token TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,
  units TEXT NOT NULL, from_ms INTEGER, to_ms INTEGER, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS audit_t ON audit(t);
CREATE TABLE IF NOT EXISTS tokens(
  hash TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, device TEXT, created_ms INTEGER NOT NULL);
)sql";

constexpr int64_t kFlagEmergency = 1;

std::string join_skills(const std::vector<std::string>& skills) {
  std::string s;
  for (const auto& k : skills) {
    if (!s.empty()) s.push_back(';');
    s.append(k);
  }
  return s;
}

std::vector<std::string> split_skills(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(';', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Reads the fix columns (device, unit, t, lat, lon, speed, heading, accuracy, channel, flags) from `first`.
Fix read_fix(const sql::Stmt& st, int first, const geo::Projection& proj) {
  Fix f;
  f.device = static_cast<uint32_t>(st.i64(first));
  f.unit = st.is_null(first + 1) ? kNoIndex : static_cast<uint32_t>(st.i64(first + 1));
  f.t = st.i64(first + 2);
  f.lat = st.f64(first + 3);
  f.lon = st.f64(first + 4);
  f.speed_mps = static_cast<float>(st.f64_or_nan(first + 5));
  f.heading_deg = static_cast<float>(st.f64_or_nan(first + 6));
  f.accuracy_m = static_cast<float>(st.f64_or_nan(first + 7));
  auto ch = st.i64(first + 8);
  f.channel = ch >= 0 && ch < static_cast<int64_t>(kChannelCount) ? static_cast<Channel>(ch) : Channel::json;
  f.emergency = (st.i64(first + 9) & kFlagEmergency) != 0;
  f.xy = proj.forward(geo::LonLat{f.lon, f.lat});
  return f;
}

// Binds a fix to columns starting at `first` in the same order as read_fix.
void bind_fix(sql::Stmt& st, int first, const Fix& f) {
  st.bind(first, static_cast<int64_t>(f.device));
  if (f.unit == kNoIndex) st.bind_null(first + 1);
  else st.bind(first + 1, static_cast<int64_t>(f.unit));
  st.bind(first + 2, f.t).bind(first + 3, f.lat).bind(first + 4, f.lon);
  st.bind_opt(first + 5, f.speed_mps).bind_opt(first + 6, f.heading_deg).bind_opt(first + 7, f.accuracy_m);
  st.bind(first + 8, static_cast<int64_t>(f.channel)).bind(first + 9, f.emergency ? kFlagEmergency : 0);
}

constexpr int64_t kChunkBatchRows = 200000;

}  // namespace

std::variant<int64_t, std::string> delete_expired(sql::Db& db, int64_t cutoff_ms, int64_t max_rows) {
  auto r = delete_expired_fixes(db, cutoff_ms, max_rows);
  if (std::holds_alternative<std::string>(r) || std::get<int64_t>(r) > 0) return r;
  // Per unit through the primary key (unit, t_first): no scan of all chunks.
  // A chunk spans at most an hour, so t_first < cutoff bounds the range.
  auto units = db.prepare("SELECT DISTINCT unit FROM track_chunks");
  auto chunks = db.prepare("DELETE FROM track_chunks WHERE unit = ? AND t_first < ? AND t_last < ?");
  if (!units.ok() || !chunks.ok()) return "retention: " + db.errmsg();
  while (units.step() == SQLITE_ROW) {
    chunks.bind(1, units.i64(0)).bind(2, cutoff_ms).bind(3, cutoff_ms);
    int rc = chunks.step();
    chunks.reset();
    if (rc != SQLITE_DONE) return "retention: " + db.errmsg();
  }
  return int64_t{0};
}

std::optional<std::string> Store::write_chunks(bool& more) {
  if (auto e = db_.exec("BEGIN IMMEDIATE")) return e;
  int64_t packed = 0;
  auto e = pack_track_chunks(db_, kChunkBatchRows, more, live_ ? &live_->projection() : nullptr, &packed);
  if (!e) e = db_.exec("COMMIT");
  if (!e) {
    metrics_.store_chunked_fixes.fetch_add(static_cast<uint64_t>(packed), std::memory_order_relaxed);
    metrics_.store_chunked_from_table.fetch_add(static_cast<uint64_t>(packed), std::memory_order_relaxed);
  }
  if (e) {
    db_.exec("ROLLBACK");
    more = false;
  }
  return e;
}

void Store::arm_chunk_buffer() {
  auto st = db_.prepare("SELECT value FROM meta WHERE key='chunked_rowid'");
  int rc = st.step();
  if (rc == SQLITE_ROW) chunks_.arm(std::stoll(st.text(0)));
  else if (rc == SQLITE_DONE) chunks_.arm(0);  // no fix stored yet
}

std::optional<std::string> Store::write_chunk_slices(bool seal, bool all) {
  if (seal && !chunks_.sealed())
    if (auto e = chunks_.seal(db_)) return e;
  while (chunks_.sealed()) {
    if (auto e = db_.exec("BEGIN IMMEDIATE")) return e;
    size_t n = 0;
    auto e = chunks_.write_slice(db_, opt_.track_chunk_slice_fixes, n);
    if (!e) e = db_.exec("COMMIT");
    if (e) {
      db_.exec("ROLLBACK");
      return e;
    }
    chunks_.slice_written();
    metrics_.store_chunked_fixes.fetch_add(n, std::memory_order_relaxed);
    // One slice a loop, so ping groups commit between them; all at stop, and
    // when the next packing is already full (memory stays bounded).
    if (!all && !chunks_.full()) break;
    if (all && !chunks_.sealed())
      if (auto e2 = chunks_.seal(db_)) return e2;  // at stop: also what came after the seal
  }
  return std::nullopt;
}

bool Store::delete_expired_batch() {
  static const SystemClock system;
  const int64_t cutoff = (opt_.clock ? opt_.clock : &system)->now_ms() - static_cast<int64_t>(opt_.retention_days) * 86'400'000;
  if (auto e = db_.exec("BEGIN IMMEDIATE")) {
    log::error("store", "retention failed", {{"error", *e}});
    return false;
  }
  auto r = delete_expired(db_, cutoff, opt_.retention_batch_rows);
  if (auto* err = std::get_if<std::string>(&r)) {
    db_.exec("ROLLBACK");
    log::error("store", "retention failed", {{"error", *err}});
    return false;
  }
  if (auto e = db_.exec("COMMIT")) {
    db_.exec("ROLLBACK");
    log::error("store", "retention failed", {{"error", *e}});
    return false;
  }
  const int64_t n = std::get<int64_t>(r);
  metrics_.retention_deleted_fixes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  return n > 0;
}

// The status is written on insert only: later status changes are dispatch
// decisions (server/dispatch/service.cpp writes them with their events), so a
// registry edit racing with an assignment cannot overwrite it.
std::optional<std::string> upsert_unit_row(sql::Db& db, uint32_t idx, std::string_view id, const UnitFields& f) {
  auto st = db.prepare("INSERT INTO units(idx,id,type,status,skills,home_area) VALUES(?,?,?,?,?,?) "
                       "ON CONFLICT(idx) DO UPDATE SET type=excluded.type, "
                       "skills=excluded.skills, home_area=excluded.home_area");
  st.bind(1, static_cast<int64_t>(idx)).bind(2, id).bind(3, f.type).bind(4, unit_status_name(f.status))
      .bind(5, join_skills(f.skills)).bind(6, f.home_area);
  if (st.step() != SQLITE_DONE) return db.errmsg();
  return std::nullopt;
}

std::optional<std::string> upsert_device_row(sql::Db& db, uint32_t idx, std::string_view id, DeviceKind kind,
                                             uint32_t unit) {
  auto st = db.prepare("INSERT INTO devices(idx,id,kind,unit_idx) VALUES(?,?,?,?) "
                       "ON CONFLICT(idx) DO UPDATE SET kind=excluded.kind, unit_idx=excluded.unit_idx");
  st.bind(1, static_cast<int64_t>(idx)).bind(2, id).bind(3, device_kind_name(kind));
  if (unit == kNoIndex) st.bind_null(4);
  else st.bind(4, static_cast<int64_t>(unit));
  if (st.step() != SQLITE_DONE) return db.errmsg();
  return std::nullopt;
}

std::optional<std::string> insert_rota_rows(sql::Db& db, const std::vector<RotaRow>& rows) {
  auto st = db.prepare("INSERT OR REPLACE INTO rota(officer,issi,unit,start_ms,end_ms,skills) VALUES(?,?,?,?,?,?)");
  if (!st.ok()) return st.error();
  for (const auto& r : rows) {
    st.bind(1, r.officer).bind(2, r.issi).bind(3, r.unit).bind(4, r.start).bind(5, r.end).bind(6, join_skills(r.skills));
    int rc = st.step();
    st.reset();
    if (rc != SQLITE_DONE) return db.errmsg();
  }
  return std::nullopt;
}

std::vector<RotaRow> load_rota_rows(sql::Db& db) {
  std::vector<RotaRow> out;
  auto st = db.prepare("SELECT officer,issi,unit,start_ms,end_ms,skills FROM rota ORDER BY start_ms");
  while (st.ok() && st.step() == SQLITE_ROW) {
    RotaRow r;
    r.officer = st.text(0);
    r.issi = st.text(1);
    r.unit = st.text(2);
    r.start = st.i64(3);
    r.end = st.i64(4);
    r.skills = split_skills(st.text(5));
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

// Track chunks were first a WITHOUT ROWID table keyed (unit, t_first, batch):
// every packing then inserted one row per unit spread over the whole table,
// dirtying (and writing to the WAL) nearly every page of it, so a large fleet's
// ingest slowed down as the table grew. Now chunks are appended in rowid order
// and only the small (unit, t_first, t_last) index takes the scattered inserts.
// Chunks are derived from `fixes`: an older table is dropped and the next start
// packs every fix again from the table (in slices, ping commits between them).
std::optional<std::string> migrate_track_chunks(sql::Db& db) {
  bool old_layout = false;
  {
    auto st = db.prepare("SELECT sql FROM sqlite_master WHERE type='table' AND name='track_chunks'");
    if (!st.ok()) return st.error();
    old_layout = st.step() == SQLITE_ROW && st.text(0).find("WITHOUT ROWID") != std::string::npos;
  }
  if (!old_layout) return std::nullopt;
  log::info("store", "track chunks are rebuilt in the appended layout", {});
  if (auto e = db.exec("BEGIN IMMEDIATE; DROP TABLE track_chunks; "
                       "DELETE FROM meta WHERE key IN ('chunked_rowid', 'chunk_max_span_ms'); COMMIT")) {
    db.exec("ROLLBACK");
    return e;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> open_store_db(sql::Db& db, const std::string& data_dir, SyncMode sync) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return "cannot create data_dir " + data_dir + ": " + ec.message();
  if (auto e = db.open((std::filesystem::path(data_dir) / "patrolmap.db").string())) return e;
  if (auto e = db.exec("PRAGMA journal_mode=WAL")) return e;
  if (auto e = db.exec(sync == SyncMode::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")) return e;
  if (auto e = db.exec("PRAGMA cache_size=-131072; PRAGMA wal_autocheckpoint=8192; PRAGMA foreign_keys=OFF")) return e;
  if (auto e = migrate_track_chunks(db)) return "schema: " + *e;
  if (auto e = db.exec(kSchema)) return "schema: " + *e;
  if (auto e = migrate_fix_keys(db)) return "schema: " + *e;
  return std::nullopt;
}

Store::Store(StoreOptions opt, Metrics& metrics) : opt_(std::move(opt)), metrics_(metrics) {}

std::unique_ptr<Store> Store::open(const StoreOptions& opt, Metrics& metrics) {
  std::unique_ptr<Store> s(new Store(opt, metrics));
  if (auto e = open_store_db(s->db_, opt.data_dir, opt.sync)) throw std::runtime_error(*e);
  s->checkpointer_ = std::make_unique<WalCheckpointer>(
      (std::filesystem::path(opt.data_dir) / "patrolmap.db").string(), opt.wal_checkpoint_frames, metrics);
  s->checkpointer_->attach(s->db_);
  auto prep = [&](sql::Stmt& st, std::string_view q) {
    st = s->db_.prepare(q);
    if (!st.ok()) throw std::runtime_error("prepare: " + st.error());
  };
  prep(s->ins_fix_, "INSERT INTO fixes(device,unit,t,lat,lon,speed,heading,accuracy,channel,flags) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?)");
  {
    std::string q = "INSERT INTO fixes(device,unit,t,lat,lon,speed,heading,accuracy,channel,flags) VALUES";
    for (size_t i = 0; i < kFixRows; ++i) q += i == 0 ? "(?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?)";
    prep(s->ins_fixes_, q);
  }
  prep(s->del_fix_, "DELETE FROM fixes WHERE rowid = ?");
  if (auto e = s->keys_.open(s->db_)) throw std::runtime_error("fix keys: " + *e);
  prep(s->ins_unit_, "INSERT OR IGNORE INTO units(idx,id,type,status,skills,home_area) VALUES(?,?,?,?,?,?)");
  prep(s->data_version_st_, "PRAGMA data_version");
  prep(s->ins_device_, "INSERT INTO devices(idx,id,kind,unit_idx) VALUES(?,?,?,?) "
                       "ON CONFLICT(idx) DO NOTHING");
  prep(s->ins_snap_, "INSERT OR REPLACE INTO live_checkpoint(unit,device,t,lat,lon,speed,heading,accuracy,"
                     "channel,flags) VALUES(?,?,?,?,?,?,?,?,?,?)");
  return s;
}

Store::~Store() { stop(); }

void Store::load(LiveState& live) {
  const auto& proj = live.projection();
  {
    auto st = db_.prepare("SELECT idx,id,type,status,skills,home_area FROM units ORDER BY idx");
    while (st.step() == SQLITE_ROW) {
      UnitRecord u;
      u.index = static_cast<uint32_t>(st.i64(0));
      u.id = st.text(1);
      u.fields.type = st.text(2);
      u.fields.status = parse_unit_status(st.text(3)).value_or(UnitStatus::available);
      u.fields.skills = split_skills(st.text(4));
      u.fields.home_area = st.text(5);
      live.load_unit(std::move(u));
    }
  }
  {
    auto st = db_.prepare("SELECT idx,id,kind,unit_idx FROM devices ORDER BY idx");
    while (st.step() == SQLITE_ROW) {
      DeviceRecord d;
      d.index = static_cast<uint32_t>(st.i64(0));
      d.id = st.text(1);
      d.kind = parse_device_kind(st.text(2)).value_or(DeviceKind::avl);
      d.unit = st.is_null(3) ? kNoIndex : static_cast<uint32_t>(st.i64(3));
      live.load_device(std::move(d));
    }
  }
  int64_t from_rowid = 0;
  {
    auto st = db_.prepare("SELECT value FROM meta WHERE key='checkpoint_rowid'");
    if (st.step() == SQLITE_ROW) from_rowid = std::stoll(st.text(0));
  }
  std::vector<Fix> fixes;
  {
    auto st = db_.prepare("SELECT device,unit,t,lat,lon,speed,heading,accuracy,channel,flags FROM live_checkpoint");
    while (st.step() == SQLITE_ROW) fixes.push_back(read_fix(st, 0, proj));
  }
  size_t checkpointed = fixes.size();
  {
    // Fixes committed after the checkpoint: at most snapshot_interval_s of ingest.
    auto st = db_.prepare("SELECT device,unit,t,lat,lon,speed,heading,accuracy,channel,flags FROM fixes "
                          "WHERE rowid > ? ORDER BY rowid");
    st.bind(1, from_rowid);
    while (st.step() == SQLITE_ROW) fixes.push_back(read_fix(st, 0, proj));
  }
  std::vector<uint8_t> stored(fixes.size(), 1);
  live.apply(fixes, stored, NewRecords{});
  live.take_changed_units();  // what was loaded is already checkpointed or in the replayed tail
  checkpoint_all_next_ = true;
  log::info("store", "recovered", {{"units", std::to_string(live.units_view().size())},
                                   {"checkpointed_units", std::to_string(checkpointed)},
                                   {"replayed_fixes", std::to_string(fixes.size() - checkpointed)}});
}

void Store::start(LiveState& live, std::function<void(sql::Db&)> on_external_change) {
  live_ = &live;
  on_external_change_ = std::move(on_external_change);
  // Load what is there now, before anyone can connect: a daemon that prints
  // "listening" must accept the tokens it already has.
  if (data_version_st_.step() == SQLITE_ROW) data_version_ = data_version_st_.i64(0);
  data_version_st_.reset();
  if (on_external_change_) on_external_change_(db_);
  checkpointer_->start();
  writer_ = std::thread([this] { run(); });
}

void Store::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  checkpointer_->stop();
}

bool Store::submit(std::unique_ptr<PingJob>& job) {
  size_t n = job->fixes.size();
  {
    std::lock_guard lock(mu_);
    // A single batch larger than the whole queue is still let in when the
    // queue is empty, so any batch the API allowed can eventually pass.
    if (stopping_ || (queued_pings_ + n > opt_.queue_max_pings && queued_pings_ > 0)) return false;
    queued_pings_ += n;
    queue_.emplace_back(std::move(job));
  }
  metrics_.store_queue_pings.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
  cv_.notify_one();
  return true;
}

void Store::submit(WriteJob job) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(std::move(job));
  }
  cv_.notify_one();
}

size_t Store::queued_pings() const {
  std::lock_guard lock(mu_);
  return queued_pings_;
}

void Store::run() {
  using clock = std::chrono::steady_clock;
  auto next_checkpoint = clock::now() + std::chrono::seconds(opt_.snapshot_interval_s);
  const bool chunk_timer = opt_.track_chunk_s > 0;
  auto next_chunk = clock::now() + std::chrono::seconds(opt_.track_chunk_s);
  bool chunk_backlog = true;  // fixes of a previous run may be unchunked
  const bool retention = opt_.retention_days > 0;
  auto next_retention = clock::now() + std::chrono::seconds(opt_.retention_check_s);
  bool retention_backlog = retention;  // check once at start
  std::vector<std::variant<std::unique_ptr<PingJob>, WriteJob>> group;
  for (;;) {
    bool stop_now = false;
    {
      // Work left in slices (a packing, a chunk backlog, a live checkpoint)
      // does not wait for pings: idle, it would take a second a slice.
      const bool more_work = chunks_.sealed() || (chunk_timer && chunk_backlog) || ckpt_.open;
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, std::min(next_checkpoint, clock::now() + std::chrono::seconds(1)),
                     [&] { return stopping_ || !queue_.empty() || more_work; });
      size_t pings = 0;
      while (!queue_.empty()) {
        auto& front = queue_.front();
        size_t n = std::holds_alternative<std::unique_ptr<PingJob>>(front)
                       ? std::get<std::unique_ptr<PingJob>>(front)->fixes.size()
                       : 0;
        if (!group.empty() && pings + n > opt_.max_txn_pings) break;
        pings += n;
        group.push_back(std::move(front));
        queue_.pop_front();
      }
      queued_pings_ -= pings;
      metrics_.store_queue_pings.fetch_sub(static_cast<int64_t>(pings), std::memory_order_relaxed);
      stop_now = stopping_ && queue_.empty() && group.empty();
    }
    // Another process (tokens add) committed: let the owner reload.
    {
      // Prepared once: this runs before every group commit.
      int64_t version = data_version_st_.step() == SQLITE_ROW ? data_version_st_.i64(0) : data_version_;
      data_version_st_.reset();
      if (version != data_version_) {
        data_version_ = version;
        if (on_external_change_) on_external_change_(db_);
      }
    }
    // The live checkpoint, a slice a loop; all of it (and one more covering
    // everything) at stop.
    if (!ckpt_.open && (clock::now() >= next_checkpoint || stop_now)) {
      next_checkpoint = clock::now() + std::chrono::seconds(opt_.snapshot_interval_s);
      begin_checkpoint(checkpoint_all_next_);
    }
    for (int round = 0; ckpt_.open;) {
      if (auto e = write_checkpoint_slice()) log::error("store", "checkpoint failed", {{"error", *e}});
      if (!stop_now) break;
      if (!ckpt_.open && round++ == 0) begin_checkpoint(checkpoint_all_next_);
    }
    if (!group.empty()) {
      commit_group(group);
      group.clear();
    }
    // One bounded chunk transaction per loop: a backlog (after a restart) is
    // packed in slices with ping groups committed between them.
    if ((chunk_timer && (chunk_backlog || chunks_.sealed() || chunks_.full() || clock::now() >= next_chunk)) ||
        stop_now) {
      if (chunks_.armed()) {
        // The fixes committed since the last packing, from memory.
        const bool seal = !chunks_.sealed() && (stop_now || chunks_.full() || clock::now() >= next_chunk);
        if (seal) next_chunk = clock::now() + std::chrono::seconds(opt_.track_chunk_s);
        if (auto e = write_chunk_slices(seal, stop_now)) {
          log::error("store", "track chunks failed", {{"error", *e}});
          chunks_.disarm();  // the table path packs them, from chunked_rowid
          chunk_backlog = true;
        }
      } else {
        bool more = false, failed = false;
        do {
          if (auto e = write_chunks(more)) {
            log::error("store", "track chunks failed", {{"error", *e}});
            failed = true;
          }
        } while (stop_now && more);
        next_chunk = clock::now() + std::chrono::seconds(opt_.track_chunk_s);
        chunk_backlog = more;
        // Caught up: chunked_rowid is the highest fix rowid, and no commit
        // has run since, so from here the writer's memory has every new fix.
        if (chunk_timer && !more && !failed) arm_chunk_buffer();
      }
    }
    // Retention: one bounded delete per loop while expired fixes remain, so
    // ping groups commit between the batches.
    if (retention && !stop_now && (retention_backlog || clock::now() >= next_retention)) {
      next_retention = clock::now() + std::chrono::seconds(opt_.retention_check_s);
      retention_backlog = delete_expired_batch();
    }
    if (stop_now) break;
  }
}

std::optional<std::string> Store::insert_pings(PingJob& job) {
  for (const auto& u : job.created.units) {
    ins_unit_.bind(1, static_cast<int64_t>(u.index)).bind(2, u.id).bind(3, u.fields.type)
        .bind(4, unit_status_name(u.fields.status)).bind(5, join_skills(u.fields.skills)).bind(6, u.fields.home_area);
    int rc = ins_unit_.step();
    ins_unit_.reset();
    if (rc != SQLITE_DONE) return "insert unit: " + db_.errmsg();
  }
  for (const auto& d : job.created.devices) {
    ins_device_.bind(1, static_cast<int64_t>(d.index)).bind(2, d.id).bind(3, device_kind_name(d.kind));
    if (d.unit == kNoIndex) ins_device_.bind_null(4);
    else ins_device_.bind(4, static_cast<int64_t>(d.unit));
    int rc = ins_device_.step();
    ins_device_.reset();
    if (rc != SQLITE_DONE) return "insert device: " + db_.errmsg();
  }
  // Which fixes are new is decided first (fix_keys.hpp); the new ones then go
  // in kFixRows to a statement. Rowids follow the job's order (a fix outside
  // the key range flushes the new ones before it), as the chunk buffer and
  // the table path of chunking expect.
  job.stored.assign(job.fixes.size(), 0);
  fresh_.clear();
  for (size_t i = 0; i < job.fixes.size(); ++i) {
    auto c = keys_.claim(job.fixes[i]);
    if (auto* e = std::get_if<std::string>(&c)) return *e;
    switch (std::get<FixKeys::Claim>(c)) {
      case FixKeys::Claim::kNew:
        fresh_.push_back(i);
        break;
      case FixKeys::Claim::kDuplicate:
        break;
      case FixKeys::Claim::kWide:
        if (auto e = insert_fresh(job)) return e;
        if (auto e = insert_wide(job, i)) return e;
        break;
    }
  }
  return insert_fresh(job);
}

// Inserts the fixes listed in fresh_ (claimed new), then clears it.
std::optional<std::string> Store::insert_fresh(PingJob& job) {
  size_t k = 0;
  for (; k + kFixRows <= fresh_.size(); k += kFixRows) {
    for (size_t j = 0; j < kFixRows; ++j) bind_fix(ins_fixes_, 1 + static_cast<int>(j * 10), job.fixes[fresh_[k + j]]);
    int rc = ins_fixes_.step();
    ins_fixes_.rewind();
    if (rc != SQLITE_DONE) return "insert fix: " + db_.errmsg();
    const int64_t first = db_.last_rowid() - static_cast<int64_t>(kFixRows) + 1;
    for (size_t j = 0; j < kFixRows; ++j) {
      job.stored[fresh_[k + j]] = 1;
      keys_.add(job.fixes[fresh_[k + j]], first + static_cast<int64_t>(j));
    }
  }
  for (; k < fresh_.size(); ++k) {
    bind_fix(ins_fix_, 1, job.fixes[fresh_[k]]);
    int rc = ins_fix_.step();
    ins_fix_.reset();
    if (rc != SQLITE_DONE) return "insert fix: " + db_.errmsg();
    job.stored[fresh_[k]] = 1;
    keys_.add(job.fixes[fresh_[k]], db_.last_rowid());
  }
  fresh_.clear();
  return std::nullopt;
}

// A fix outside the integer key's range: its row first, then its
// (t, device) row naming it; taken already means a duplicate, and the fix's
// row goes again.
std::optional<std::string> Store::insert_wide(PingJob& job, size_t i) {
  bind_fix(ins_fix_, 1, job.fixes[i]);
  int rc = ins_fix_.step();
  ins_fix_.reset();
  if (rc != SQLITE_DONE) return "insert fix: " + db_.errmsg();
  const int64_t rowid = db_.last_rowid();
  auto fresh = keys_.insert_wide(job.fixes[i], rowid);
  if (auto* e = std::get_if<std::string>(&fresh)) return *e;
  if (std::get<bool>(fresh)) {
    job.stored[i] = 1;
    return std::nullopt;
  }
  del_fix_.bind(1, rowid);
  rc = del_fix_.step();
  del_fix_.reset();
  if (rc != SQLITE_DONE) return "delete duplicate fix: " + db_.errmsg();
  return std::nullopt;
}

void Store::begin_checkpoint(bool all) {
  // Between transactions: live state reflects exactly the fixes up to the
  // last committed rowid, because `done` callbacks ran on this thread.
  ckpt_.units = all ? live_->units_view() : live_->take_changed_units();
  if (all) live_->take_changed_units();
  ckpt_.devices = keys_.take_dirty();
  ckpt_.next_unit = ckpt_.next_device = 0;
  auto st = db_.prepare("SELECT COALESCE(MAX(rowid), 0) FROM fixes");
  ckpt_.rowid = st.step() == SQLITE_ROW ? st.i64(0) : 0;
  ckpt_.open = true;
  checkpoint_all_next_ = false;
}

std::optional<std::string> Store::write_checkpoint_slice() {
  auto fail = [&](std::string e) {
    db_.exec("ROLLBACK");
    // What this checkpoint took is written by the next one, which takes all units.
    keys_.mark_dirty(ckpt_.devices);
    checkpoint_all_next_ = true;
    ckpt_.open = false;
    return e;
  };
  if (auto e = db_.exec("BEGIN IMMEDIATE")) return fail(*e);
  size_t budget = std::max<size_t>(opt_.checkpoint_slice_rows, 1);
  for (; budget > 0 && ckpt_.next_unit < ckpt_.units.size(); ++ckpt_.next_unit) {
    const UnitRecord& u = ckpt_.units[ckpt_.next_unit];
    if (!u.has_fix) continue;
    // live_checkpoint's key is the unit; the fix's own unit column is that key.
    bind_fix(ins_snap_, 1, u.last);
    ins_snap_.bind(1, static_cast<int64_t>(u.index)).bind(2, static_cast<int64_t>(u.last.device));
    int rc = ins_snap_.step();
    ins_snap_.reset();
    if (rc != SQLITE_DONE) return fail(db_.errmsg());
    --budget;
  }
  const size_t n = std::min(budget, ckpt_.devices.size() - ckpt_.next_device);
  if (auto e = keys_.write_tmax(std::span(ckpt_.devices).subspan(ckpt_.next_device, n))) return fail(*e);
  ckpt_.next_device += n;
  const bool last = ckpt_.next_unit == ckpt_.units.size() && ckpt_.next_device == ckpt_.devices.size();
  if (last) {
    auto st = db_.prepare("INSERT OR REPLACE INTO meta(key,value) VALUES('checkpoint_rowid', ?)");
    st.bind(1, std::to_string(ckpt_.rowid));
    if (st.step() != SQLITE_DONE) return fail(db_.errmsg());
  }
  if (auto e = db_.exec("COMMIT")) return fail(*e);
  if (last) {
    ckpt_.open = false;
    ckpt_.units.clear();
    ckpt_.devices.clear();
  }
  return std::nullopt;
}

void Store::commit_group(std::vector<std::variant<std::unique_ptr<PingJob>, WriteJob>>& group) {
  auto t0 = std::chrono::steady_clock::now();
  std::optional<std::string> failure = db_.exec("BEGIN IMMEDIATE");
  keys_.begin_group();
  std::vector<std::optional<std::string>> write_errors(group.size());
  size_t pings = 0;
  for (size_t i = 0; i < group.size() && !failure; ++i) {
    if (auto* pj = std::get_if<std::unique_ptr<PingJob>>(&group[i])) {
      failure = insert_pings(**pj);
      pings += (*pj)->fixes.size();
    } else {
      auto& wj = std::get<WriteJob>(group[i]);
      if ((failure = db_.exec("SAVEPOINT job"))) break;
      write_errors[i] = wj.apply(db_);
      if (write_errors[i]) failure = db_.exec("ROLLBACK TO job");
      if (!failure) failure = db_.exec("RELEASE job");
    }
  }
  if (!failure) failure = keys_.end_group();
  if (!failure) failure = db_.exec("COMMIT");
  if (failure) {
    db_.exec("ROLLBACK");
    keys_.rolled_back();
    checkpoint_all_next_ = true;
    log::error("store", "group commit failed", {{"error", *failure}, {"pings", std::to_string(pings)}});
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  metrics_.store_commit.observe(secs);
  metrics_.store_commits.fetch_add(1, std::memory_order_relaxed);
  if (!failure) keys_.committed();
  if (!failure && chunks_.armed()) {
    for (auto& job : group)
      if (auto* pj = std::get_if<std::unique_ptr<PingJob>>(&job))
        for (size_t i = 0; i < (*pj)->fixes.size(); ++i)
          if ((*pj)->stored[i] && (*pj)->fixes[i].unit != kNoIndex) chunks_.add((*pj)->fixes[i]);
  }
  for (size_t i = 0; i < group.size(); ++i) {
    StoreResult r;
    if (failure) {
      r.ok = false;
      r.error = *failure;
    }
    if (auto* pj = std::get_if<std::unique_ptr<PingJob>>(&group[i])) {
      if ((*pj)->done) (*pj)->done(**pj, r);
    } else {
      auto& wj = std::get<WriteJob>(group[i]);
      if (!failure && write_errors[i]) r = StoreResult{false, *write_errors[i]};
      if (wj.done) wj.done(r);
    }
  }
}

}  // namespace pm
