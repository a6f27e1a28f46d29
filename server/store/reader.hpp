#pragma once
// Read-only queries (reports, replay, exports) off the I/O threads: a few
// worker threads, each with its own read-only connection to the store's
// database. WAL mode lets them read a consistent snapshot while the writer
// commits; they never block ingest.
//
//   StoreReader reader(data_dir, cfg.report_threads, cfg.report_queue_max, metrics);
//   if (!reader.submit([respond](sql::Db& db) { ... query ...; respond(answer); }))
//     respond(503 overloaded);                  // queue full: nothing ran
//
// A job runs on a worker thread with that worker's connection (one job at a
// time per connection; statements it prepares live only for the job). Jobs
// still queued at stop() run before the workers exit, so every request gets
// its answer.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/core/metrics.hpp"
#include "server/store/sqlite.hpp"

namespace pm {

class StoreReader {
 public:
  using Job = std::function<void(sql::Db&)>;

  // Opens `threads` read-only connections to data_dir/patrolmap.db (which
  // the Store created). Throws std::runtime_error when it cannot.
  StoreReader(const std::string& data_dir, unsigned threads, size_t queue_max, Metrics& metrics);
  ~StoreReader();
  StoreReader(const StoreReader&) = delete;
  StoreReader& operator=(const StoreReader&) = delete;

  // False when `queue_max` jobs are already waiting (the caller answers 503).
  bool submit(Job job);
  // Runs the queued jobs, then joins the workers. Idempotent.
  void stop();

  size_t queued() const;

 private:
  void run(sql::Db& db);

  Metrics& metrics_;
  size_t queue_max_;
  std::vector<sql::Db> dbs_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace pm
