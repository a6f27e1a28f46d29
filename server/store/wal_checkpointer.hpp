#pragma once
// Runs the store's WAL checkpoints on a thread of their own, so the single
// writer spends its time on inserts (checkpoints measured ~30% of the
// writer's time at full UDP load).
//
//   WalCheckpointer ck(db_path, 8192, metrics);
//   ck.attach(writer_db);   // writer: wal_autocheckpoint off, commit hook on
//   ck.start();  ...  ck.stop();
//
// After each commit SQLite tells the hook how many frames the WAL holds; past
// `frames` the hook wakes this thread, which runs a PASSIVE checkpoint on its
// own connection. PASSIVE never waits for the writer or readers: it copies
// what it can, and the WAL restarts from its beginning once it has all been
// copied. Should this thread fall far behind (4 x frames), the writer
// checkpoints itself, as SQLite's own autocheckpoint would, so the WAL stays
// bounded.
#include <sqlite3.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "server/core/metrics.hpp"
#include "server/store/sqlite.hpp"

namespace pm {

class WalCheckpointer {
 public:
  WalCheckpointer(std::string db_path, int frames, Metrics& metrics);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Turns the connection's autocheckpoint off and hooks its commits.
  void attach(sql::Db& writer);
  // Opens this thread's connection; throws std::runtime_error if it cannot.
  void start();
  // Joins the thread after a last checkpoint.
  void stop();

 private:
  static int on_commit(void* self, sqlite3* db, const char* name, int frames);
  void run();
  void checkpoint();

  std::string path_;
  int frames_;
  Metrics& metrics_;
  sql::Db db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace pm
