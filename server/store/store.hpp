#pragma once
// The embedded store: one SQLite database in WAL mode under data_dir, written
// by a single writer thread that group-commits whatever is queued.
//
// Why this shape (numbers in docs/performance.md): fixes are appended in
// arrival order to a rowid table with no index, which SQLite writes at ~1M
// rows/s. The exact `duplicate` rule is FixKeys (fix_keys.hpp): each device's
// highest stored t in memory, and the keys written per group commit as sorted
// blocks. It replaced a UNIQUE(t, device) index whose insert was a third of
// the writer's time per ping. A (device, t) clustered key measured 28k rows/s
// because every row lands on a random page.
//
// Durability: a job's `done` runs only after its transaction committed. With
// synchronous=NORMAL a committed transaction is in the WAL file and survives
// kill -9 of the daemon; synchronous=FULL adds an fsync per group commit for
// power loss.
//
//   auto store = Store::open(opts, metrics);          // throws on startup failure
//   store->load(live);                                  // recovery, before serving
//   store->start(live);                                 // writer thread
//   auto job = std::make_unique<PingJob>(); ... job->done = [](PingJob& j, const StoreResult& r) {...};
//   if (!store->submit(job)) answer 503 (queue full; job still yours)
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "server/core/config.hpp"
#include "server/core/metrics.hpp"
#include "server/ingest/rota.hpp"
#include "server/state/live_state.hpp"
#include "server/store/chunk_writer.hpp"
#include "server/store/fix_keys.hpp"
#include "server/store/sqlite.hpp"
#include "server/store/wal_checkpointer.hpp"

namespace pm {

struct StoreOptions {
  std::string data_dir;
  SyncMode sync = SyncMode::normal;
  size_t queue_max_pings = 262144;
  size_t max_txn_pings = 65536;
  unsigned snapshot_interval_s = 5;
  // WAL frames (pages) after which the checkpointer thread checkpoints: the
  // wal_autocheckpoint value the store used before (32 MiB at 4 KiB pages).
  int wal_checkpoint_frames = 8192;
  // Seconds between packing newly stored fixes into per-unit track chunks
  // (store.track_chunk_s; 0 = only at stop, for tests).
  unsigned track_chunk_s = 60;
  // Fixes per chunk-writing transaction (whole units; ChunkBuffer): a packing
  // is written in slices with ping groups committed between them.
  size_t track_chunk_slice_fixes = 65536;
  // Rows per live-checkpoint transaction (units, then device_tmax rows): a
  // checkpoint of 100,000 changed units is written in slices with ping
  // groups committed between them.
  size_t checkpoint_slice_rows = 8192;
  // Retention (store.retention_days; 0 = keep forever): every
  // retention_check_s the writer deletes expired fixes, at most
  // retention_batch_rows per transaction, one transaction per loop.
  unsigned retention_days = 0;
  unsigned retention_check_s = 600;
  int64_t retention_batch_rows = 5000;
  const Clock* clock = nullptr;  // wall time for the retention cutoff; null = the system clock
};

struct StoreResult {
  bool ok = true;
  std::string error;  // when !ok: nothing of the job was stored
};

struct PingJob {
  std::vector<Fix> fixes;
  std::vector<uint8_t> stored;  // filled by the writer: 1 stored, 0 duplicate
  NewRecords created;           // rows to insert with the fixes
  // Runs on the writer thread after commit (or failure), in commit order.
  std::function<void(PingJob&, const StoreResult&)> done;
};

// A registry or admin change: runs inside the group transaction (in its own
// savepoint) on the writer thread; returns an error message to roll it back.
struct WriteJob {
  std::function<std::optional<std::string>(sql::Db&)> apply;
  std::function<void(const StoreResult&)> done;
};

class Store {
 public:
  // Creates data_dir and the schema if needed. Throws std::runtime_error.
  static std::unique_ptr<Store> open(const StoreOptions& opt, Metrics& metrics);
  ~Store();

  // Rebuilds units, devices and live positions (checkpoint + replay of the
  // fixes committed after it). Call before start().
  void load(LiveState& live);
  // Starts the writer. `on_external_change` runs on the writer thread with its
  // connection when another process committed (e.g. `patrolmapd tokens add`),
  // and once at start.
  void start(LiveState& live, std::function<void(sql::Db&)> on_external_change);
  // Drains the queue and stops the writer.
  void stop();

  // Reads with the store's connection before start() (startup loading).
  void read(const std::function<void(sql::Db&)>& fn) { fn(db_); }

  // False when the queue is full: the job stays with the caller.
  bool submit(std::unique_ptr<PingJob>& job);
  void submit(WriteJob job);

  size_t queued_pings() const;

 private:
  Store(StoreOptions opt, Metrics& metrics);
  void run();
  void commit_group(std::vector<std::variant<std::unique_ptr<PingJob>, WriteJob>>& group);
  std::optional<std::string> insert_pings(PingJob& job);
  std::optional<std::string> insert_fresh(PingJob& job);
  std::optional<std::string> insert_wide(PingJob& job, size_t i);
  // The live checkpoint: begin_checkpoint() takes what it will write (the
  // changed units, or all of them; the devices whose highest t changed; the
  // highest fix rowid they reflect), then each write_checkpoint_slice() writes
  // checkpoint_slice_rows of it in a transaction, the last one also
  // meta.checkpoint_rowid. Until then the previous checkpoint_rowid stands,
  // so a restart replays from there; records written early are newer than it,
  // which replay never moves backwards. Between transactions only.
  void begin_checkpoint(bool all);
  std::optional<std::string> write_checkpoint_slice();
  // Packs up to kChunkBatchRows fixes after meta.chunked_rowid into track
  // chunks in one transaction; sets `more` when fixes remain.
  std::optional<std::string> write_chunks(bool& more);
  // Arms chunks_ at meta.chunked_rowid (call only when nothing is left to pack).
  void arm_chunk_buffer();
  // From chunks_: seals a packing when `seal`, then writes one slice of the
  // sealed packing (all of it when `all`, or when the next one is already
  // full), a transaction each.
  std::optional<std::string> write_chunk_slices(bool seal, bool all);
  // One retention batch in its own transaction; true when it deleted fixes
  // (more may remain).
  bool delete_expired_batch();

  StoreOptions opt_;
  Metrics& metrics_;
  sql::Db db_;
  sql::Stmt ins_fix_, ins_unit_, ins_device_, ins_snap_, data_version_st_;
  // kFixRows fixes per INSERT: one statement step per chunk instead of per
  // fix (measured 1.6x faster inserts); ins_fix_ takes the tail.
  static constexpr size_t kFixRows = 32;
  sql::Stmt ins_fixes_, del_fix_;
  FixKeys keys_;               // the duplicate rule (fix_keys.hpp); writer thread only
  std::vector<size_t> fresh_;  // insert_pings: the new fixes of the job
  LiveState* live_ = nullptr;
  std::function<void(sql::Db&)> on_external_change_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::variant<std::unique_ptr<PingJob>, WriteJob>> queue_;
  size_t queued_pings_ = 0;
  bool stopping_ = false;
  std::thread writer_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
  int64_t data_version_ = -1;
  bool checkpoint_all_next_ = true;
  struct Checkpoint {
    bool open = false;
    std::vector<UnitRecord> units;
    std::vector<uint32_t> devices;
    size_t next_unit = 0, next_device = 0;
    int64_t rowid = 0;  // the highest fix rowid the records reflect
  } ckpt_;  // writer thread only
  ChunkBuffer chunks_;  // writer thread only
};

// Registry rows, shared by the API and the rota (run inside a WriteJob).
std::optional<std::string> upsert_unit_row(sql::Db& db, uint32_t idx, std::string_view id, const UnitFields& f);
std::optional<std::string> upsert_device_row(sql::Db& db, uint32_t idx, std::string_view id, DeviceKind kind, uint32_t unit);

// Duty rota rows (table `rota`).
std::optional<std::string> insert_rota_rows(sql::Db& db, const std::vector<RotaRow>& rows);
std::vector<RotaRow> load_rota_rows(sql::Db& db);

// Retention (store.retention_days): deletes at most `max_rows` fixes with
// t < cutoff_ms (oldest first, through the key blocks: delete_expired_fixes)
// and, once no
// such fix remains, the track chunks that end before cutoff_ms. Run inside a
// WriteJob, one small batch per job so ping commits interleave. Returns the
// number of fixes deleted (0: nothing older is left) or an error.
std::variant<int64_t, std::string> delete_expired(sql::Db& db, int64_t cutoff_ms, int64_t max_rows);

// Schema creation shared with the `tokens add` command.
std::optional<std::string> open_store_db(sql::Db& db, const std::string& data_dir, SyncMode sync);

}  // namespace pm
