#pragma once
// Writing track chunks (track_chunk.hpp has the blob format).
//
// Two ways in, one way out (write_chunk_rows):
// - ChunkBuffer: the store writer keeps the fixes it has just committed, with
//   the x/y the ingest path already projected, and every store.track_chunk_s
//   writes them as chunks. No fix is read back from `fixes` and none is
//   projected twice (measured in docs/performance.md, "Chunking from the
//   writer's memory").
// - pack_track_chunks: reads fixes after meta.chunked_rowid back from the
//   table and projects them. Used for what the buffer cannot know: fixes a
//   previous run committed but did not pack (a crash, an older database), and
//   when chunking is only done at stop (store.track_chunk_s = 0).
//
// Both produce the same chunks for the same fixes: per unit, in time order
// (equal times in store order), split so no chunk spans more than an hour,
// `batch` = the highest fix rowid the packing covered.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "geo/projection.hpp"
#include "server/ingest/fix.hpp"
#include "server/store/sqlite.hpp"
#include "server/store/track_chunk.hpp"

namespace pm {

struct ChunkRow {
  uint32_t unit;
  TrackPoint p;
};

// `f` (stored, with a unit) as a chunk point, x/y from f.xy.
ChunkRow chunk_row(const Fix& f);

// Writes `rows` (fixes with a unit, in rowid order) as chunks of batch `hi`,
// then sets meta.chunked_rowid = hi and raises meta.chunk_max_span_ms. `lo` is
// the chunked_rowid before (0: nothing packed yet). Runs inside the caller's
// transaction.
std::optional<std::string> write_chunk_rows(sql::Db& db, std::span<const ChunkRow> rows, int64_t lo, int64_t hi);

// Packs the fixes with rowid in (meta.chunked_rowid, up to max_rows later]
// into track_chunks and advances meta.chunked_rowid; runs inside the caller's
// transaction. With `proj`, each point also gets its projected x/y
// (TrackPoint::x_mm); `packed` (if given) receives the number of fixes packed.
std::optional<std::string> pack_track_chunks(sql::Db& db, int64_t max_rows, bool& more,
                                             const geo::Projection* proj = nullptr, int64_t* packed = nullptr);

// The fixes committed since the last packing, held by the store writer.
// Armed only when meta.chunked_rowid equals the highest fix rowid (nothing
// older is waiting), so the buffer is exactly the fixes after chunked_rowid.
//
//   if (!buf.armed() && nothing left to pack) buf.arm(chunked_rowid);
//   after each commit: for each stored fix with a unit: buf.add(fix);
//   every track_chunk_s, or when full(): BEGIN; buf.write(db); COMMIT; then
//   buf.written() -- or buf.disarm() on failure (the table path takes over).
class ChunkBuffer {
 public:
  // Writing early past this many fixes bounds memory (~64 MB) at any rate.
  static constexpr size_t kMaxRows = size_t{1} << 20;

  bool armed() const { return armed_; }
  void arm(int64_t chunked_rowid);
  void disarm();
  void add(const Fix& f) { rows_.push_back(chunk_row(f)); }
  size_t size() const { return rows_.size(); }
  bool full() const { return rows_.size() >= kMaxRows; }
  // Writes the rows as chunks covering every fix up to MAX(rowid) of `fixes`.
  std::optional<std::string> write(sql::Db& db);
  // After the transaction of write() committed: the rows are chunks now.
  void written();

 private:
  std::vector<ChunkRow> rows_;
  bool armed_ = false;
  int64_t chunked_rowid_ = 0;
  int64_t pending_rowid_ = 0;  // what write() set, until written()
};

}  // namespace pm
