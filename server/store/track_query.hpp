#pragma once
// Reads units' tracks from the store (track chunks + the not-yet-chunked tail
// of `fixes`), for the replay endpoints. Runs on a StoreReader worker.
//
//   TrackQuery q(db);                         // one read transaction (snapshot)
//   if (!q.ok()) ... q.error();
//   std::vector<TrackPoint> pts;
//   q.load(unit_idx, from_ms, to_ms, pts);    // time order, one point per time
//   q.load_all(from_ms, to_ms, [](uint32_t unit, std::vector<TrackPoint>& pts) {...});
//
// With a projection, every point has x_mm/y_mm: chunk points carry theirs,
// tail fixes are projected (one PROJ batch) as the chunk packer would.
// Without one, no point has them.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "server/store/sqlite.hpp"
#include "server/store/track_chunk.hpp"

namespace pm {

class TrackQuery {
 public:
  explicit TrackQuery(sql::Db& db, const geo::Projection* proj = nullptr);
  ~TrackQuery();
  TrackQuery(const TrackQuery&) = delete;
  TrackQuery& operator=(const TrackQuery&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Replaces `out` with unit's fixes with from <= t <= to, in time order; of
  // fixes with equal times the first stored is kept. False on a store error
  // (a corrupt chunk is an error, not silently skipped).
  bool load(uint32_t unit, int64_t from, int64_t to, std::vector<TrackPoint>& out);

  // Every unit with fixes in [from, to] (units in ascending order, each with
  // the points load() gives): one scan of the unchunked tail for all units
  // instead of one per unit. Stops at, and returns false on, a store error.
  bool load_all(int64_t from, int64_t to, const std::function<void(uint32_t, std::vector<TrackPoint>&)>& each);

 private:
  struct TailPoint {
    int64_t rowid;
    TrackPoint p;
  };
  // Reads the tail rows `st` (already bound) gives, projecting when a
  // projection was given; appends (unit, point) pairs.
  bool read_tail(sql::Stmt& st, std::vector<std::pair<uint32_t, TailPoint>>& out);
  // Chunks of `unit` in the window plus its `tail` points, merged into `out`.
  bool merge(uint32_t unit, int64_t from, int64_t to, std::span<const std::pair<uint32_t, TailPoint>> tail,
             std::vector<TrackPoint>& out);

  sql::Db& db_;
  const geo::Projection* proj_;
  bool in_txn_ = false;
  int64_t chunked_rowid_ = 0;
  sql::Stmt chunks_, tail_, tail_all_;
  std::string error_;
  struct Keyed {
    int64_t t;
    int64_t rank;  // store order: chunk batch, or tail rowid
    uint32_t pos;
  };
  std::vector<TrackPoint> scratch_;
  std::vector<Keyed> keys_;
  std::vector<std::pair<uint32_t, TailPoint>> tail_rows_;
  std::vector<geo::LonLat> ll_;
  std::vector<geo::XY> xy_;
};

}  // namespace pm
