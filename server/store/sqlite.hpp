#pragma once
// Thin RAII over the SQLite C API: a connection and prepared statements.
// Errors are values (an error message); only open() of the store throws.
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace pm::sql {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, std::string_view sql);  // check ok() / error()
  Stmt(Stmt&& o) noexcept : st_(o.st_), err_(std::move(o.err_)) { o.st_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(st_); }

  bool ok() const { return st_ != nullptr; }
  const std::string& error() const { return err_; }
  Stmt& bind(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); return *this; }
  Stmt& bind(int i, double v) { sqlite3_bind_double(st_, i, v); return *this; }
  Stmt& bind(int i, std::string_view v) { sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); return *this; }
  Stmt& bind_null(int i) { sqlite3_bind_null(st_, i); return *this; }
  // Binds NaN as NULL (absent optional measurement).
  Stmt& bind_opt(int i, double v) { return v == v ? bind(i, v) : bind_null(i); }
  int step() { return sqlite3_step(st_); }  // SQLITE_ROW, SQLITE_DONE or an error
  void reset() { sqlite3_reset(st_); sqlite3_clear_bindings(st_); }
  // Reset for a caller that binds every parameter again before the next step.
  void rewind() { sqlite3_reset(st_); }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  double f64(int c) const { return sqlite3_column_double(st_, c); }
  double f64_or_nan(int c) const { return is_null(c) ? std::numeric_limits<double>::quiet_NaN() : f64(c); }
  // Binds a blob the caller keeps alive until the next step/reset.
  Stmt& bind_blob(int i, std::string_view v) { sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC); return *this; }
  std::string_view blob(int c) const {
    auto p = sqlite3_column_blob(st_, c);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, c))) : std::string_view();
  }
  bool is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    auto p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, c))) : std::string();
  }

 private:
  sqlite3_stmt* st_ = nullptr;
  std::string err_;
};

class Db {
 public:
  Db() = default;
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db& operator=(Db&&) = delete;
  Db(const Db&) = delete;
  ~Db() { sqlite3_close_v2(db_); }

  // Opens (creating) the database file; returns an error message on failure.
  std::optional<std::string> open(const std::string& path);
  // Opens an existing database read-only (report and replay queries).
  std::optional<std::string> open_readonly(const std::string& path);
  std::optional<std::string> exec(std::string_view sql);
  Stmt prepare(std::string_view sql) { return Stmt(db_, sql); }
  int64_t changes() const { return sqlite3_changes64(db_); }
  int64_t last_rowid() const { return sqlite3_last_insert_rowid(db_); }
  std::string errmsg() const { return db_ ? sqlite3_errmsg(db_) : "database not open"; }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace pm::sql
