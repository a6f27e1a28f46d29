#pragma once
// Reads units' tracks from the store (track chunks + the not-yet-chunked tail
// of `fixes`), for the replay endpoints. Runs on a StoreReader worker.
//
//   TrackQuery q(db);                         // one read transaction (snapshot)
//   if (!q.ok()) ... q.error();
//   std::vector<TrackPoint> pts;
//   q.load(unit_idx, from_ms, to_ms, pts);    // time order, one point per time
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/store/sqlite.hpp"
#include "server/store/track_chunk.hpp"

namespace pm {

class TrackQuery {
 public:
  explicit TrackQuery(sql::Db& db);
  ~TrackQuery();
  TrackQuery(const TrackQuery&) = delete;
  TrackQuery& operator=(const TrackQuery&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Replaces `out` with unit's fixes with from <= t <= to, in time order; of
  // fixes with equal times the first stored is kept. False on a store error
  // (a corrupt chunk is an error, not silently skipped).
  bool load(uint32_t unit, int64_t from, int64_t to, std::vector<TrackPoint>& out);

 private:
  sql::Db& db_;
  bool in_txn_ = false;
  int64_t chunked_rowid_ = 0;
  sql::Stmt chunks_, tail_;
  std::string error_;
  struct Keyed {
    int64_t t;
    int64_t rank;  // store order: chunk batch, or tail rowid
    uint32_t pos;
  };
  std::vector<TrackPoint> scratch_;
  std::vector<Keyed> keys_;
};

}  // namespace pm
