#include "server/reports/report_store.hpp"

#include <algorithm>
#include <unordered_map>

#include "server/dispatch/json.hpp"
#include "server/store/store.hpp"
#include "server/store/track_query.hpp"

namespace pm::reports {
namespace {

// One read transaction over every query of a report.
class ReadTxn {
 public:
  explicit ReadTxn(sql::Db& db) : db_(db) { error_ = db_.exec("BEGIN"); }
  ~ReadTxn() {
    if (!error_) db_.exec("COMMIT");
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  const std::optional<std::string>& error() const { return error_; }

 private:
  sql::Db& db_;
  std::optional<std::string> error_;
};

// The incidents created in [from, to), as the engine folds the stored log
// (everything that happened to them since, up to the snapshot).
struct Incidents {
  dispatch::Engine engine{dispatch::DispatchConfig{}};
  std::vector<const dispatch::Incident*> list;
};

std::optional<std::string> load_incidents(sql::Db& db, EpochMs from, EpochMs to, Incidents& out) {
  // Every event about an incident is at or after its creation, so earlier
  // rows are not needed; events of incidents created before `from` find no
  // incident when folded and change nothing.
  auto st = db.prepare(
      "SELECT t, body FROM dispatch_events WHERE t >= ? AND kind IN "
      "('incident_created','unit_assigned','stage_reached','self_deployed','incident_closed') ORDER BY seq");
  if (!st.ok()) return st.error();
  st.bind(1, static_cast<int64_t>(from));
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto e = dispatch::event_from_json(st.text(1), st.i64(0));
    if (!e) continue;  // the dispatch service logs unreadable rows at start
    if (auto* c = std::get_if<dispatch::ev::IncidentCreated>(&e->body); c && c->incident.created >= to) continue;
    out.engine.fold(*e);
  }
  if (rc != SQLITE_DONE) return db.errmsg();
  out.list = out.engine.incidents(std::nullopt, false);
  return std::nullopt;
}

struct UnitRow {
  uint32_t idx;
  std::string id;
};

std::optional<std::string> load_units(sql::Db& db, std::vector<UnitRow>& out) {
  auto st = db.prepare("SELECT idx, id FROM units ORDER BY id");
  if (!st.ok()) return st.error();
  while (st.step() == SQLITE_ROW) out.push_back({static_cast<uint32_t>(st.i64(0)), st.text(1)});
  return std::nullopt;
}

std::vector<DutySpan> load_duty(sql::Db& db) {
  std::vector<DutySpan> out;
  for (auto& r : load_rota_rows(db)) out.push_back({std::move(r.unit), r.start, r.end});
  return out;
}

// Units with at least one stored fix in each UTC hour of [first, last]. A
// track chunk spans at most an hour, so the hours its fixes fall in are
// exactly those of its first and last fix; the unchunked tail is read fix by fix.
std::optional<std::string> load_fix_hours(sql::Db& db, const std::vector<UnitRow>& units, int64_t first, int64_t last,
                                          std::vector<UnitHour>& out) {
  const int64_t lo = first * kHourMs, hi = (last + 1) * kHourMs - 1;
  auto chunks = db.prepare("SELECT t_first, t_last FROM track_chunks WHERE unit = ? AND t_first BETWEEN ? AND ?");
  if (!chunks.ok()) return chunks.error();
  for (const auto& u : units) {
    chunks.bind(1, static_cast<int64_t>(u.idx)).bind(2, lo - kHourMs).bind(3, hi);
    int rc;
    while ((rc = chunks.step()) == SQLITE_ROW)
      for (int c = 0; c < 2; ++c) {
        const int64_t h = hour_of(chunks.i64(c));
        if (h >= first && h <= last) out.push_back({h, u.idx});
      }
    chunks.reset();
    if (rc != SQLITE_DONE) return db.errmsg();
  }
  auto tail = db.prepare(
      "SELECT unit, t FROM fixes NOT INDEXED WHERE rowid > "
      "(SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='chunked_rowid'), 0)) "
      "AND unit IS NOT NULL AND t BETWEEN ? AND ?");
  if (!tail.ok()) return tail.error();
  tail.bind(1, lo).bind(2, hi);
  int rc;
  while ((rc = tail.step()) == SQLITE_ROW) out.push_back({hour_of(tail.i64(1)), static_cast<uint32_t>(tail.i64(0))});
  if (rc != SQLITE_DONE) return db.errmsg();
  return std::nullopt;
}

}  // namespace

std::vector<Shift> window_shifts(const ShiftCalendar& cal, EpochMs from, EpochMs to) {
  std::vector<Shift> out = cal.between(from, to);
  for (auto& s : out) {
    s.start_ms = std::max(s.start_ms, from);
    s.end_ms = std::min(s.end_ms, to);
  }
  return out;
}

Result<std::vector<GradeResponse>> response_report(sql::Db& db, const ReportQuery& q) {
  Incidents inc;
  if (auto e = load_incidents(db, q.from, q.to, inc)) return *e;
  return response_times(inc.list, q.from, q.to, q.now);
}

Result<std::vector<ShiftDeployments>> deployment_report(sql::Db& db, const ReportQuery& q) {
  Incidents inc;
  if (auto e = load_incidents(db, q.from, q.to, inc)) return *e;
  const auto shifts = window_shifts(*q.shifts, q.from, q.to);
  return deployments(inc.list, shifts, q.from, q.to);
}

Result<MileageReport> mileage_report(sql::Db& db, const ReportQuery& q) {
  TrackQuery tracks(db);  // its read transaction covers the queries below too
  if (!tracks.ok()) return tracks.error();
  std::vector<UnitRow> units;
  if (auto e = load_units(db, units)) return *e;
  const auto duty = load_duty(db);
  // Units the rota names before the rota tick registers them: no fixes yet.
  for (const auto& d : duty)
    if (std::none_of(units.begin(), units.end(), [&](const UnitRow& u) { return u.id == d.unit; }))
      units.push_back({kNoIndex, d.unit});
  std::sort(units.begin(), units.end(), [](const UnitRow& a, const UnitRow& b) { return a.id < b.id; });
  MileageReport out;
  std::vector<TrackPoint> pts;
  for (const Shift& s : window_shifts(*q.shifts, q.from, q.to))
    for (const auto& u : units) {
      pts.clear();
      if (u.idx != kNoIndex && !tracks.load(u.idx, s.start_ms, s.end_ms - 1, pts)) return tracks.error();
      auto row = mileage_row(u.id, s, pts, on_duty(duty, u.id, s.start_ms, s.end_ms), q.stops, q.barely_used_km);
      if (!row) continue;
      out.barely_used += row->barely_used;
      out.rows.push_back(std::move(*row));
    }
  return out;
}

Result<Demand> demand_report(sql::Db& db, const ReportQuery& q) {
  ReadTxn txn(db);
  if (txn.error()) return *txn.error();
  Incidents inc;
  if (auto e = load_incidents(db, q.from, q.to, inc)) return *e;
  std::vector<std::pair<EpochMs, int>> created;
  for (const auto* i : inc.list) created.emplace_back(i->created, i->spec.grade);
  std::vector<UnitRow> units;
  if (auto e = load_units(db, units)) return *e;
  std::vector<UnitHour> hours;
  if (auto e = load_fix_hours(db, units, hour_of(q.from), hour_of(q.to - 1), hours)) return *e;
  // Rota units by registry index; units only the rota names get indexes after them.
  std::unordered_map<std::string, uint32_t> index;
  uint32_t next = 0;
  for (const auto& u : units) {
    index.emplace(u.id, u.idx);
    next = std::max(next, u.idx + 1);
  }
  for (const auto& d : load_duty(db)) {
    auto [it, added] = index.emplace(d.unit, next);
    next += added;
    add_hours(hours, it->second, d.start, d.end, hour_of(q.from) * kHourMs, (hour_of(q.to - 1) + 1) * kHourMs);
  }
  return demand(created, std::move(hours), *q.tz, q.from, q.to);
}

}  // namespace pm::reports
