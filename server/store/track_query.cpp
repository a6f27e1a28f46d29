#include "server/store/track_query.hpp"

#include <algorithm>

namespace pm {
namespace {
constexpr const char* kTailColumns = "SELECT rowid,t,lat,lon,speed,heading,accuracy,channel,flags,device,unit ";
}  // namespace

TrackQuery::TrackQuery(sql::Db& db, const geo::Projection* proj) : db_(db), proj_(proj) {
  if (auto e = db_.exec("BEGIN")) {
    error_ = *e;
    return;
  }
  in_txn_ = true;
  auto st = db_.prepare("SELECT value FROM meta WHERE key='chunked_rowid'");
  if (!st.ok()) {
    error_ = st.error();
    return;
  }
  if (st.step() == SQLITE_ROW) chunked_rowid_ = std::stoll(st.text(0));
  // batch <= chunked_rowid: not the chunks of a packing whose slices are
  // still being written (their fixes are in the tail; chunk_writer.hpp).
  chunks_ = db_.prepare("SELECT batch,data FROM track_chunks WHERE unit=? AND t_first BETWEEN ? AND ? "
                        "AND t_last >= ? AND batch <= ? ORDER BY t_first");
  // NOT INDEXED: the tail is found by rowid range, never by the (t, device)
  // index, which would walk every unit's fixes in the window.
  tail_ = db_.prepare(std::string(kTailColumns) +
                      "FROM fixes NOT INDEXED WHERE rowid > ? AND unit = ? AND t BETWEEN ? AND ?");
  tail_all_ = db_.prepare(std::string(kTailColumns) +
                          "FROM fixes NOT INDEXED WHERE rowid > ? AND unit IS NOT NULL AND t BETWEEN ? AND ?");
  if (!chunks_.ok()) error_ = chunks_.error();
  else if (!tail_.ok()) error_ = tail_.error();
  else if (!tail_all_.ok()) error_ = tail_all_.error();
}

TrackQuery::~TrackQuery() {
  chunks_ = sql::Stmt();
  tail_ = sql::Stmt();
  tail_all_ = sql::Stmt();
  if (in_txn_) db_.exec("COMMIT");
}

bool TrackQuery::read_tail(sql::Stmt& st, std::vector<std::pair<uint32_t, TailPoint>>& out) {
  const size_t first = out.size();
  ll_.clear();
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    TrackPoint p;
    p.t = st.i64(1);
    p.lat_e7 = to_e7(st.f64(2));
    p.lon_e7 = to_e7(st.f64(3));
    p.speed_mps = static_cast<float>(st.f64_or_nan(4));
    p.heading_deg = static_cast<float>(st.f64_or_nan(5));
    p.accuracy_m = static_cast<float>(st.f64_or_nan(6));
    p.channel = static_cast<uint8_t>(st.i64(7));
    p.flags = static_cast<uint8_t>(st.i64(8));
    p.device = static_cast<uint32_t>(st.i64(9));
    out.push_back({static_cast<uint32_t>(st.i64(10)), TailPoint{st.i64(0), p}});
    if (proj_) ll_.push_back({st.f64(3), st.f64(2)});
  }
  st.reset();
  if (rc != SQLITE_DONE) {
    error_ = db_.errmsg();
    return false;
  }
  if (proj_) {
    xy_.resize(ll_.size());
    proj_->forward(ll_, xy_);
    for (size_t i = first; i < out.size(); ++i) set_projected(out[i].second.p, xy_[i - first]);
  }
  return true;
}

bool TrackQuery::merge(uint32_t unit, int64_t from, int64_t to,
                       std::span<const std::pair<uint32_t, TailPoint>> tail, std::vector<TrackPoint>& out) {
  out.clear();
  scratch_.clear();
  keys_.clear();
  chunks_.bind(1, static_cast<int64_t>(unit)).bind(2, from - kChunkSpanMs).bind(3, to).bind(4, from).bind(5, chunked_rowid_);
  int rc;
  while ((rc = chunks_.step()) == SQLITE_ROW) {
    const size_t first = scratch_.size();
    if (!decode_track_chunk(chunks_.blob(1), scratch_)) {
      chunks_.reset();
      error_ = "corrupt track chunk of unit " + std::to_string(unit);
      return false;
    }
    for (size_t i = first; i < scratch_.size(); ++i) {
      TrackPoint& p = scratch_[i];
      if (p.t < from || p.t > to) continue;
      keys_.push_back(Keyed{p.t, chunks_.i64(0), static_cast<uint32_t>(i)});
      // Packed without a projection (none was known to the packer): project
      // the stored 1e-7 degrees here rather than lose the point.
      if (proj_ && !p.has_xy()) set_projected(p, proj_->forward(geo::LonLat{p.lon(), p.lat()}));
    }
  }
  chunks_.reset();
  if (rc != SQLITE_DONE) {
    error_ = db_.errmsg();
    return false;
  }
  for (const auto& [u, tp] : tail) {
    scratch_.push_back(tp.p);
    keys_.push_back(Keyed{tp.p.t, tp.rowid, static_cast<uint32_t>(scratch_.size() - 1)});
  }
  // Chunks of one batch never share a time for one unit; a chunk's points are
  // in store order for equal times, and the tail's rowids are above every
  // batch, so (t, rank, pos) is store order.
  std::sort(keys_.begin(), keys_.end(), [](const Keyed& a, const Keyed& b) {
    if (a.t != b.t) return a.t < b.t;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.pos < b.pos;
  });
  out.reserve(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (i > 0 && keys_[i].t == keys_[i - 1].t) continue;
    out.push_back(scratch_[keys_[i].pos]);
    if (!proj_) out.back().x_mm = out.back().y_mm = TrackPoint::kNoXY;  // x/y only when asked for, all or none
  }
  return true;
}

bool TrackQuery::load(uint32_t unit, int64_t from, int64_t to, std::vector<TrackPoint>& out) {
  out.clear();
  if (!ok()) return false;
  tail_rows_.clear();
  tail_.bind(1, chunked_rowid_).bind(2, static_cast<int64_t>(unit)).bind(3, from).bind(4, to);
  if (!read_tail(tail_, tail_rows_)) return false;
  return merge(unit, from, to, tail_rows_, out);
}

bool TrackQuery::load_all(int64_t from, int64_t to,
                          const std::function<void(uint32_t, std::vector<TrackPoint>&)>& each) {
  if (!ok()) return false;
  tail_rows_.clear();
  tail_all_.bind(1, chunked_rowid_).bind(2, from).bind(3, to);
  if (!read_tail(tail_all_, tail_rows_)) return false;
  // Grouped by unit, rowid order within (stable).
  std::stable_sort(tail_rows_.begin(), tail_rows_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Units with chunks in the window, or with tail fixes in it.
  std::vector<uint32_t> units;
  {
    auto st = db_.prepare("SELECT idx FROM units ORDER BY idx");
    if (!st.ok()) {
      error_ = st.error();
      return false;
    }
    while (st.step() == SQLITE_ROW) units.push_back(static_cast<uint32_t>(st.i64(0)));
  }
  for (const auto& [u, tp] : tail_rows_) units.push_back(u);
  std::sort(units.begin(), units.end());
  units.erase(std::unique(units.begin(), units.end()), units.end());
  std::vector<TrackPoint> pts;
  auto it = tail_rows_.begin();
  for (uint32_t u : units) {
    auto end = std::find_if(it, tail_rows_.end(), [u](const auto& r) { return r.first != u; });
    if (!merge(u, from, to, std::span(it, end), pts)) return false;
    it = end;
    if (!pts.empty()) each(u, pts);
  }
  return true;
}

}  // namespace pm
