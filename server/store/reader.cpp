#include "server/store/reader.hpp"

#include <filesystem>
#include <stdexcept>

#include "server/core/log.hpp"

namespace pm {

StoreReader::StoreReader(const std::string& data_dir, unsigned threads, size_t queue_max, Metrics& metrics)
    : metrics_(metrics), queue_max_(queue_max) {
  const std::string path = (std::filesystem::path(data_dir) / "patrolmap.db").string();
  dbs_.reserve(threads == 0 ? 1 : threads);
  for (unsigned i = 0; i < (threads == 0 ? 1u : threads); ++i) {
    sql::Db& db = dbs_.emplace_back();
    if (auto e = db.open_readonly(path)) throw std::runtime_error("report reader: " + *e);
    // Reads through the OS page cache without copying into SQLite's own;
    // query_only guards against a job that would write by mistake.
    if (auto e = db.exec("PRAGMA query_only=1; PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536"))
      throw std::runtime_error("report reader: " + *e);
  }
  for (auto& db : dbs_) workers_.emplace_back([this, &db] { run(db); });
}

StoreReader::~StoreReader() { stop(); }

bool StoreReader::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= queue_max_) {
      metrics_.report_rejected.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void StoreReader::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

size_t StoreReader::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void StoreReader::run(sql::Db& db) {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const auto t0 = std::chrono::steady_clock::now();
    try {
      job(db);
    } catch (const std::exception& e) {
      // A job answers its own request; one that throws has a bug. Keep serving.
      log::error("report", "query failed", {{"error", e.what()}});
    }
    metrics_.report_jobs.fetch_add(1, std::memory_order_relaxed);
    metrics_.report_seconds_us.fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                             std::chrono::steady_clock::now() - t0).count()),
                                         std::memory_order_relaxed);
  }
}

}  // namespace pm
