#include "server/store/wal_checkpointer.hpp"

#include <algorithm>
#include <stdexcept>

#include "server/core/log.hpp"

namespace pm {

WalCheckpointer::WalCheckpointer(std::string db_path, int frames, Metrics& metrics)
    : path_(std::move(db_path)), frames_(frames), metrics_(metrics) {}

WalCheckpointer::~WalCheckpointer() { stop(); }

void WalCheckpointer::attach(sql::Db& writer) {
  sqlite3_wal_autocheckpoint(writer.handle(), 0);  // also clears any hook it set
  sqlite3_wal_hook(writer.handle(), &WalCheckpointer::on_commit, this);
}

int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* name, int frames) {
  auto* ck = static_cast<WalCheckpointer*>(self);
  if (frames >= 4 * ck->frames_) {
    // The checkpointer is far behind: checkpoint here so the WAL stays bounded.
    ck->metrics_.store_wal_inline_checkpoints.fetch_add(1, std::memory_order_relaxed);
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  bool wake = false;
  {
    std::lock_guard lock(ck->mu_);
    if (frames < ck->last_frames_) {
      // The WAL restarted from its beginning: nothing in it is copied yet.
      ++ck->restarts_;
      ck->copied_ = 0;
    }
    ck->last_frames_ = frames;
    // Wake once `frames_` frames are waiting to be copied, not on every
    // commit: a checkpoint running while the writer begins its next
    // transaction keeps the WAL from restarting, so waking per commit kept
    // the WAL growing until the writer had to checkpoint itself.
    if (frames - ck->copied_ >= ck->frames_ && !ck->due_) wake = ck->due_ = true;
  }
  if (wake) ck->cv_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::start() {
  if (auto e = db_.open(path_)) throw std::runtime_error(*e);
  thread_ = std::thread([this] { run(); });
}

void WalCheckpointer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void WalCheckpointer::run() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return due_ || stopping_; });
      due_ = false;
    }
    checkpoint();
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
}

void WalCheckpointer::checkpoint() {
  uint64_t restarts_before;
  {
    std::lock_guard lock(mu_);
    restarts_before = restarts_;
  }
  int log_frames = -1, copied = -1;
  int rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  if (rc == SQLITE_OK && log_frames < 0) {
    // A connection finds the WAL on its first read: until then SQLite takes
    // the database for a rollback-journal one and the checkpoint does nothing
    // (answering OK with -1 frames). Read once, then checkpoint for real.
    db_.exec("SELECT COUNT(*) FROM sqlite_master");
    rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  }
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    log::warn("store", "WAL checkpoint failed", {{"error", db_.errmsg()}});
    return;
  }
  if (log_frames < 0) return;  // did not run: not counted
  {
    std::lock_guard lock(mu_);
    if (restarts_ == restarts_before) copied_ = std::max(copied_, copied);
  }
  metrics_.store_wal_checkpoints.fetch_add(1, std::memory_order_relaxed);
  metrics_.store_wal_checkpoint_frames.fetch_add(static_cast<uint64_t>(std::max(copied, 0)), std::memory_order_relaxed);
}

}  // namespace pm
