#include "server/store/track_query.hpp"

#include <algorithm>

namespace pm {
namespace {
constexpr int64_t kChunkSpanMs = 3600 * 1000;  // as store.cpp packs them
}

TrackQuery::TrackQuery(sql::Db& db) : db_(db) {
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
  chunks_ = db_.prepare("SELECT batch,data FROM track_chunks WHERE unit=? AND t_first BETWEEN ? AND ? "
                        "AND t_last >= ? ORDER BY t_first");
  // NOT INDEXED: the tail is found by rowid range, never by the (t, device)
  // index, which would walk every unit's fixes in the window.
  tail_ = db_.prepare("SELECT rowid,t,lat,lon,speed,heading,accuracy,channel,flags,device FROM fixes NOT INDEXED "
                      "WHERE rowid > ? AND unit = ? AND t BETWEEN ? AND ?");
  if (!chunks_.ok()) error_ = chunks_.error();
  else if (!tail_.ok()) error_ = tail_.error();
}

TrackQuery::~TrackQuery() {
  chunks_ = sql::Stmt();
  tail_ = sql::Stmt();
  if (in_txn_) db_.exec("COMMIT");
}

bool TrackQuery::load(uint32_t unit, int64_t from, int64_t to, std::vector<TrackPoint>& out) {
  out.clear();
  if (!ok()) return false;
  scratch_.clear();
  keys_.clear();
  auto keep = [&](int64_t rank, size_t first) {
    for (size_t i = first; i < scratch_.size(); ++i)
      if (scratch_[i].t >= from && scratch_[i].t <= to)
        keys_.push_back(Keyed{scratch_[i].t, rank, static_cast<uint32_t>(i)});
  };
  chunks_.bind(1, static_cast<int64_t>(unit)).bind(2, from - kChunkSpanMs).bind(3, to).bind(4, from);
  int rc;
  while ((rc = chunks_.step()) == SQLITE_ROW) {
    size_t first = scratch_.size();
    if (!decode_track_chunk(chunks_.blob(1), scratch_)) {
      chunks_.reset();
      error_ = "corrupt track chunk of unit " + std::to_string(unit);
      return false;
    }
    keep(chunks_.i64(0), first);
  }
  chunks_.reset();
  if (rc != SQLITE_DONE) {
    error_ = db_.errmsg();
    return false;
  }
  tail_.bind(1, chunked_rowid_).bind(2, static_cast<int64_t>(unit)).bind(3, from).bind(4, to);
  while ((rc = tail_.step()) == SQLITE_ROW) {
    TrackPoint p;
    p.t = tail_.i64(1);
    p.lat_e7 = to_e7(tail_.f64(2));
    p.lon_e7 = to_e7(tail_.f64(3));
    p.speed_mps = static_cast<float>(tail_.f64_or_nan(4));
    p.heading_deg = static_cast<float>(tail_.f64_or_nan(5));
    p.accuracy_m = static_cast<float>(tail_.f64_or_nan(6));
    p.channel = static_cast<uint8_t>(tail_.i64(7));
    p.flags = static_cast<uint8_t>(tail_.i64(8));
    p.device = static_cast<uint32_t>(tail_.i64(9));
    scratch_.push_back(p);
    keys_.push_back(Keyed{p.t, tail_.i64(0), static_cast<uint32_t>(scratch_.size() - 1)});
  }
  tail_.reset();
  if (rc != SQLITE_DONE) {
    error_ = db_.errmsg();
    return false;
  }
  // Chunks of one batch never share a time for one unit; a chunk's points are
  // in store order for equal times, so (t, rank, pos) is store order.
  std::sort(keys_.begin(), keys_.end(), [](const Keyed& a, const Keyed& b) {
    if (a.t != b.t) return a.t < b.t;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.pos < b.pos;
  });
  out.reserve(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i)
    if (i == 0 || keys_[i].t != keys_[i - 1].t) out.push_back(scratch_[keys_[i].pos]);
  return true;
}

}  // namespace pm
