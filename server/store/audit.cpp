#include "server/store/audit.hpp"

namespace pm {

std::optional<std::string> insert_audit_row(sql::Db& db, const AuditRow& row) {
  auto st = db.prepare("INSERT INTO audit(t,token,role,action,units,from_ms,to_ms,detail) VALUES(?,?,?,?,?,?,?,?)");
  if (!st.ok()) return st.error();
  // Unit ids follow the id rule (no commas): a comma list reads back exactly.
  std::string units;
  for (const auto& u : row.units) {
    if (!units.empty()) units.push_back(',');
    units += u;
  }
  st.bind(1, row.t).bind(2, row.token).bind(3, row.role).bind(4, row.action).bind(5, units);
  if (row.from) st.bind(6, *row.from); else st.bind_null(6);
  if (row.to) st.bind(7, *row.to); else st.bind_null(7);
  st.bind(8, row.detail);
  if (st.step() != SQLITE_DONE) return "audit: " + db.errmsg();
  return std::nullopt;
}

bool read_audit(sql::Db& db, int64_t from, int64_t to, size_t limit, std::vector<AuditRow>& out, std::string& error) {
  auto st = db.prepare("SELECT t,token,role,action,units,from_ms,to_ms,detail FROM audit WHERE t BETWEEN ? AND ? "
                       "ORDER BY t DESC, id DESC LIMIT ?");
  if (!st.ok()) {
    error = st.error();
    return false;
  }
  st.bind(1, from).bind(2, to).bind(3, static_cast<int64_t>(limit));
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    AuditRow r;
    r.t = st.i64(0);
    r.token = st.text(1);
    r.role = st.text(2);
    r.action = st.text(3);
    const std::string units = st.text(4);
    for (size_t start = 0; start < units.size();) {
      size_t comma = units.find(',', start);
      if (comma == std::string::npos) comma = units.size();
      r.units.push_back(units.substr(start, comma - start));
      start = comma + 1;
    }
    if (!st.is_null(5)) r.from = st.i64(5);
    if (!st.is_null(6)) r.to = st.i64(6);
    r.detail = st.text(7);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) {
    error = db.errmsg();
    return false;
  }
  return true;
}

}  // namespace pm
