#pragma once
// The audit log (SPEC 9): who read which units' movements, when, for which
// window. One row per tracks, positions, export and import request, written
// by the store writer before the answer is sent; never deleted by retention.
//
//   store.submit(WriteJob{[row](sql::Db& db) { return insert_audit_row(db, row); }, ...});
//   auto rows = read_audit(db, from, to, 1000);     // newest first (read worker)
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/store/sqlite.hpp"

namespace pm {

struct AuditRow {
  int64_t t = 0;             // epoch ms of the request
  std::string token, role;   // the token's name and role
  std::string action;        // tracks, positions, export, import
  std::vector<std::string> units;  // unit ids; empty = every unit (positions)
  std::optional<int64_t> from, to;  // the window asked for (positions: both at T)
  std::string detail;        // format, simplify, bbox, device, counts
};

std::optional<std::string> insert_audit_row(sql::Db& db, const AuditRow& row);
// Rows with from <= t <= to, newest first, at most `limit`. False on a store error.
bool read_audit(sql::Db& db, int64_t from, int64_t to, size_t limit, std::vector<AuditRow>& out, std::string& error);

}  // namespace pm
