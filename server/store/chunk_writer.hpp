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

// Drops the chunks of a batch whose slices did not all commit (a crash or a
// failed slice; see ChunkBuffer): meta.chunk_open_id names the highest chunk id
// from before its first slice. Readers never see such chunks (their batch is
// above meta.chunked_rowid); this only frees them before the table path packs
// the same fixes again. Runs inside the caller's transaction.
std::optional<std::string> discard_open_chunks(sql::Db& db);

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
// A packing is sealed, then written in slices of whole units, one transaction
// each, with ping groups committed between them: one transaction for a whole
// packing (up to 2^20 fixes, ~100,000 chunk rows) stalled the writer for
// 0.3-0.5 s and the kernel dropped datagrams behind it (docs/performance.md,
// "Session 9"). Every chunk of the packing carries batch = hi; only the last
// slice sets meta.chunked_rowid = hi. A track read (TrackQuery) takes chunks
// with batch <= chunked_rowid and the fixes after it, so it never sees a fix
// twice or misses one; the replay and report reads (nearest fix, latest fix,
// hours with a fix) may see a fix of an open packing twice, which does not
// change what they answer.
//
//   if (!buf.armed() && nothing left to pack) buf.arm(chunked_rowid);
//   after each commit: for each stored fix with a unit: buf.add(fix);
//   every track_chunk_s, or when full(): buf.seal(db) (between transactions);
//   while sealed(): BEGIN; buf.write_slice(db, n); COMMIT; buf.slice_written();
//   -- one slice per writer loop -- or buf.disarm() on a failure (the table
//   path, after discard_open_chunks, takes over).
class ChunkBuffer {
 public:
  // Sealing early past this many fixes bounds memory (~48 MB, twice while a
  // sealed packing is written) at any rate.
  static constexpr size_t kMaxRows = size_t{1} << 20;

  bool armed() const { return armed_; }
  void arm(int64_t chunked_rowid);
  void disarm();
  void add(const Fix& f) { rows_.push_back(chunk_row(f)); }
  // Fixes added since the last seal.
  size_t size() const { return rows_.size(); }
  bool full() const { return rows_.size() >= kMaxRows; }
  // Takes the fixes added so far as one packing covering every fix up to
  // MAX(rowid) of `fixes` (call between transactions, when !sealed()). Nothing
  // is sealed when no fix was committed since the last packing.
  std::optional<std::string> seal(sql::Db& db);
  bool sealed() const { return sealed_; }
  // Writes the next slice of the sealed packing: whole units, at least one,
  // about max_fixes fixes; the last slice also sets meta.chunked_rowid.
  // Inside the caller's transaction. `fixes` receives the fixes written.
  std::optional<std::string> write_slice(sql::Db& db, size_t max_fixes, size_t& fixes);
  // After the transaction of write_slice() committed.
  void slice_written();

 private:
  std::vector<ChunkRow> rows_;    // added since the last seal
  std::vector<ChunkRow> batch_;   // the sealed packing
  std::vector<uint32_t> order_;   // batch_ by unit, then time
  size_t next_ = 0;               // first of order_ not yet written
  size_t pending_next_ = 0;       // what write_slice reached, until slice_written()
  int64_t max_span_ = 0;          // the packing's longest chunk so far
  int64_t pending_span_ = 0;
  bool sealed_ = false;
  bool armed_ = false;
  int64_t chunked_rowid_ = 0;
  int64_t hi_ = 0;                // the sealed packing covers fixes up to this rowid
};

}  // namespace pm
