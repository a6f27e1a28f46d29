#include "server/store/sqlite.hpp"

namespace pm::sql {

Stmt::Stmt(sqlite3* db, std::string_view sql) {
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st_, nullptr) != SQLITE_OK) {
    err_ = sqlite3_errmsg(db);
    sqlite3_finalize(st_);
    st_ = nullptr;
  }
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(st_);
    st_ = o.st_;
    err_ = std::move(o.err_);
    o.st_ = nullptr;
  }
  return *this;
}

namespace {
std::optional<std::string> open_with(sqlite3*& db, const std::string& path, int flags) {
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return "cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  return std::nullopt;
}
}  // namespace

std::optional<std::string> Db::open_readonly(const std::string& path) {
  return open_with(db_, path, SQLITE_OPEN_READONLY);
}

std::optional<std::string> Db::open(const std::string& path) {
  return open_with(db_, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
}

std::optional<std::string> Db::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : errmsg();
    sqlite3_free(err);
    return msg;
  }
  return std::nullopt;
}

}  // namespace pm::sql
