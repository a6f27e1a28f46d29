#include "server/store/chunk_writer.hpp"

#include <algorithm>

namespace pm {
namespace {

constexpr int64_t kFlagEmergency = 1;  // the `fixes.flags` bit

// Row indexes grouped by unit (ascending), each unit's in time order with
// equal times in rowid order: a counting sort on the dense unit indexes, then
// a stable sort only of the units whose fixes did not arrive in time order.
void order_by_unit_time(std::span<const ChunkRow> rows, std::vector<uint32_t>& order) {
  uint32_t max_unit = 0;
  for (const auto& r : rows) max_unit = std::max(max_unit, r.unit);
  std::vector<uint32_t> start(static_cast<size_t>(max_unit) + 2, 0);
  for (const auto& r : rows) ++start[r.unit + 1];
  for (size_t u = 1; u < start.size(); ++u) start[u] += start[u - 1];
  std::vector<uint32_t> next(start.begin(), start.end() - 1);
  order.resize(rows.size());
  for (uint32_t i = 0; i < rows.size(); ++i) order[next[rows[i].unit]++] = i;
  for (size_t u = 0; u + 1 < start.size(); ++u) {
    auto first = order.begin() + start[u], last = order.begin() + start[u + 1];
    auto by_t = [&](uint32_t a, uint32_t b) { return rows[a].p.t < rows[b].p.t; };
    if (!std::is_sorted(first, last, by_t)) std::stable_sort(first, last, by_t);
  }
}

}  // namespace

ChunkRow chunk_row(const Fix& f) {
  ChunkRow r{f.unit, TrackPoint{}};
  r.p.t = f.t;
  r.p.lat_e7 = to_e7(f.lat);
  r.p.lon_e7 = to_e7(f.lon);
  r.p.device = f.device;
  r.p.speed_mps = f.speed_mps;
  r.p.heading_deg = f.heading_deg;
  r.p.accuracy_m = f.accuracy_m;
  r.p.channel = static_cast<uint8_t>(f.channel);
  r.p.flags = f.emergency ? kFlagEmergency : 0;
  set_projected(r.p, f.xy);
  return r;
}

namespace {

// Inserts the chunks of rows[order[...]] (whole units, each in time order) as
// batch `hi`; raises max_span to the longest chunk written.
std::optional<std::string> insert_chunks(sql::Db& db, std::span<const ChunkRow> rows, std::span<const uint32_t> order,
                                         int64_t hi, int64_t& max_span) {
  if (order.empty()) return std::nullopt;
  auto ins = db.prepare("INSERT INTO track_chunks(unit,t_first,t_last,batch,n,data) VALUES(?,?,?,?,?,?)");
  if (!ins.ok()) return "chunk: " + ins.error();
  std::vector<TrackPoint> pts;
  std::string blob;
  for (size_t i = 0; i < order.size();) {
    const ChunkRow& head = rows[order[i]];
    size_t j = i;
    pts.clear();
    // One chunk: one unit, at most kChunkSpanMs of fix time (queries bound t_first by it).
    while (j < order.size() && rows[order[j]].unit == head.unit && rows[order[j]].p.t - head.p.t <= kChunkSpanMs)
      pts.push_back(rows[order[j++]].p);
    max_span = std::max(max_span, pts.back().t - pts.front().t);
    blob.clear();
    encode_track_chunk(pts, blob);
    ins.bind(1, static_cast<int64_t>(head.unit)).bind(2, pts.front().t).bind(3, pts.back().t).bind(4, hi)
        .bind(5, static_cast<int64_t>(pts.size()));
    ins.bind_blob(6, blob);
    int rc = ins.step();
    ins.reset();
    if (rc != SQLITE_DONE) return "chunk insert: " + db.errmsg();
    i = j;
  }
  return std::nullopt;
}

// The packing of (lo, hi] is complete: chunked_rowid = hi, and
// chunk_max_span_ms raised to max_span.
std::optional<std::string> finish_packing(sql::Db& db, int64_t lo, int64_t hi, int64_t max_span) {
  auto st = db.prepare("INSERT OR REPLACE INTO meta(key,value) VALUES('chunked_rowid', ?)");
  st.bind(1, std::to_string(hi));
  if (st.step() != SQLITE_DONE) return "chunk meta: " + db.errmsg();
  // The longest chunk so far (at most an hour; with the 60 s packing about a
  // minute): point queries bound their t_first range by it. Chunks packed
  // before the key existed may span the full hour.
  if (lo > 0) {
    auto has = db.prepare("SELECT 1 FROM meta WHERE key='chunk_max_span_ms'");
    if (has.step() != SQLITE_ROW) max_span = kChunkSpanMs;
  }
  auto span = db.prepare("INSERT INTO meta(key,value) VALUES('chunk_max_span_ms', ?) ON CONFLICT(key) DO UPDATE "
                         "SET value = CAST(MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)");
  span.bind(1, std::to_string(max_span));
  if (span.step() != SQLITE_DONE) return "chunk meta: " + db.errmsg();
  return std::nullopt;
}

}  // namespace

std::optional<std::string> write_chunk_rows(sql::Db& db, std::span<const ChunkRow> rows, int64_t lo, int64_t hi) {
  std::vector<uint32_t> order;
  order_by_unit_time(rows, order);
  int64_t max_span = 0;
  if (auto e = insert_chunks(db, rows, order, hi, max_span)) return e;
  return finish_packing(db, lo, hi, max_span);
}

std::optional<std::string> discard_open_chunks(sql::Db& db) {
  auto st = db.prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key='chunk_open_id'");
  if (!st.ok()) return "chunk: " + st.error();
  if (st.step() != SQLITE_ROW) return std::nullopt;
  const int64_t below = st.i64(0);
  // The batch test as well: only chunks no reader takes.
  auto del = db.prepare("DELETE FROM track_chunks WHERE id > ? AND batch > "
                        "(SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='chunked_rowid'), 0))");
  del.bind(1, below);
  if (del.step() != SQLITE_DONE) return "chunk discard: " + db.errmsg();
  if (auto e = db.exec("DELETE FROM meta WHERE key='chunk_open_id'")) return "chunk discard: " + *e;
  return std::nullopt;
}

std::optional<std::string> pack_track_chunks(sql::Db& db, int64_t max_rows, bool& more,
                                             const geo::Projection* proj, int64_t* packed) {
  more = false;
  if (packed) *packed = 0;
  if (auto e = discard_open_chunks(db)) return e;
  int64_t lo = 0, top = 0;
  {
    auto st = db.prepare("SELECT (SELECT value FROM meta WHERE key='chunked_rowid'), (SELECT MAX(rowid) FROM fixes)");
    if (st.step() != SQLITE_ROW) return "chunk: " + db.errmsg();
    lo = st.is_null(0) ? 0 : std::stoll(st.text(0));
    top = st.is_null(1) ? 0 : st.i64(1);
  }
  if (top <= lo) return std::nullopt;
  const int64_t hi = std::min(top, lo + max_rows);
  more = hi < top;
  std::vector<ChunkRow> rows;
  std::vector<geo::LonLat> ll;
  {
    auto st = db.prepare("SELECT unit,t,lat,lon,speed,heading,accuracy,channel,flags,device FROM fixes "
                         "WHERE rowid > ? AND rowid <= ? AND unit IS NOT NULL");
    st.bind(1, lo).bind(2, hi);
    while (st.step() == SQLITE_ROW) {
      ChunkRow r{static_cast<uint32_t>(st.i64(0)), TrackPoint{}};
      r.p.t = st.i64(1);
      r.p.lat_e7 = to_e7(st.f64(2));
      r.p.lon_e7 = to_e7(st.f64(3));
      r.p.speed_mps = static_cast<float>(st.f64_or_nan(4));
      r.p.heading_deg = static_cast<float>(st.f64_or_nan(5));
      r.p.accuracy_m = static_cast<float>(st.f64_or_nan(6));
      r.p.channel = static_cast<uint8_t>(st.i64(7));
      r.p.flags = static_cast<uint8_t>(st.i64(8));
      r.p.device = static_cast<uint32_t>(st.i64(9));
      rows.push_back(r);
      if (proj) ll.push_back({st.f64(3), st.f64(2)});
    }
  }
  if (proj) {
    // From the full-precision stored lat/lon, as the ingest path projects them.
    std::vector<geo::XY> xy(ll.size());
    proj->forward(ll, xy);
    for (size_t i = 0; i < rows.size(); ++i) set_projected(rows[i].p, xy[i]);
  }
  if (auto e = write_chunk_rows(db, rows, lo, hi)) return e;
  if (packed) *packed = static_cast<int64_t>(rows.size());
  return std::nullopt;
}

void ChunkBuffer::arm(int64_t chunked_rowid) {
  disarm();
  armed_ = true;
  chunked_rowid_ = chunked_rowid;
}

void ChunkBuffer::disarm() {
  rows_.clear();
  batch_.clear();
  sealed_ = false;
  armed_ = false;
}

std::optional<std::string> ChunkBuffer::seal(sql::Db& db) {
  auto st = db.prepare("SELECT MAX(rowid) FROM fixes");
  if (st.step() != SQLITE_ROW) return "chunk: " + db.errmsg();
  const int64_t top = st.is_null(0) ? 0 : st.i64(0);
  if (top <= chunked_rowid_) return std::nullopt;  // nothing committed since
  batch_.swap(rows_);
  rows_.clear();  // keeps the capacity of the packing before: no allocation per fix once warm
  order_by_unit_time(batch_, order_);
  next_ = pending_next_ = 0;
  max_span_ = pending_span_ = 0;
  hi_ = top;
  sealed_ = true;
  return std::nullopt;
}

std::optional<std::string> ChunkBuffer::write_slice(sql::Db& db, size_t max_fixes, size_t& fixes) {
  fixes = 0;
  // Whole units from next_ on, at least one, until max_fixes would be passed.
  size_t end = next_;
  while (end < order_.size()) {
    const uint32_t unit = batch_[order_[end]].unit;
    size_t e = end;
    while (e < order_.size() && batch_[order_[e]].unit == unit) ++e;
    if (end > next_ && e - next_ > max_fixes) break;
    end = e;
  }
  const bool last = end == order_.size();
  if (next_ == 0 && !last) {
    // Chunks above this id belong to a packing still open (discard_open_chunks).
    if (auto e = db.exec("INSERT OR REPLACE INTO meta(key,value) VALUES('chunk_open_id', "
                         "(SELECT COALESCE(MAX(id), 0) FROM track_chunks))"))
      return "chunk meta: " + *e;
  }
  pending_span_ = max_span_;
  if (auto e = insert_chunks(db, batch_, std::span(order_).subspan(next_, end - next_), hi_, pending_span_)) return e;
  if (last) {
    if (next_ > 0)
      if (auto e = db.exec("DELETE FROM meta WHERE key='chunk_open_id'")) return "chunk meta: " + *e;
    if (auto e = finish_packing(db, chunked_rowid_, hi_, pending_span_)) return e;
  }
  pending_next_ = end;
  fixes = end - next_;
  return std::nullopt;
}

void ChunkBuffer::slice_written() {
  next_ = pending_next_;
  max_span_ = pending_span_;
  if (next_ < order_.size()) return;
  sealed_ = false;
  chunked_rowid_ = hi_;
  batch_.clear();
}

}  // namespace pm
