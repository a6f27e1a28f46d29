#include "server/store/wal_checkpointer.hpp"

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
  } else if (frames >= ck->frames_) {
    {
      std::lock_guard lock(ck->mu_);
      ck->due_ = true;
    }
    ck->cv_.notify_one();
  }
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
  int log_frames = 0, copied = 0;
  int rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  metrics_.store_wal_checkpoints.fetch_add(1, std::memory_order_relaxed);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) log::warn("store", "WAL checkpoint failed", {{"error", db_.errmsg()}});
}

}  // namespace pm
