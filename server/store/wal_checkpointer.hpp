#pragma once
// Runs the store's WAL checkpoints on a thread of their own, so the single
// writer spends its time on inserts (checkpoints measured ~30% of the
// writer's time at full UDP load).
//
//   WalCheckpointer ck(db_path, 8192, metrics);
//   ck.attach(writer_db);   // writer: wal_autocheckpoint off, commit hook on
//   ck.start();  ...  ck.stop();
//
// After each commit SQLite tells the hook how many frames the WAL holds; once
// `frames` of them are not yet copied the hook wakes this thread, which runs
// a PASSIVE checkpoint on its own connection. PASSIVE never waits for the
// writer or readers: it copies what it can. The WAL restarts from its
// beginning when the writer begins a transaction while everything in it is
// copied, which under a steady load (the writer commits again while this
// thread copies) happens mostly after the writer's own checkpoint: should
// the WAL reach 4 x frames, the writer checkpoints itself, as SQLite's own
// autocheckpoint would, and then has only the frames since this thread's
// last checkpoint to copy (measured in docs/performance.md, "Session 9").
//
// The thread's connection reads the database before its first checkpoint:
// until a connection has read, SQLite does not know the database is in WAL
// mode and a checkpoint on it does nothing (answering OK, -1 frames). Only
// checkpoints that ran are counted.
#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
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
  // Under mu_: the WAL's frames at the last commit, how many of them a
  // checkpoint has copied, and how often the WAL restarted (which resets
  // copied_; a checkpoint that raced a restart does not set it).
  int last_frames_ = 0;
  int copied_ = 0;
  uint64_t restarts_ = 0;
  std::thread thread_;
};

}  // namespace pm
