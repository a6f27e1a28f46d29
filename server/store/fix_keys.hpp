#pragma once
// The `duplicate` rule (SPEC section 3: same device and same t as a stored
// fix) without a B-tree entry per fix. A UNIQUE(t, device) index gave the rule
// through INSERT OR IGNORE, but its insert was a third of the store writer's
// time per ping at UDP rates (docs/performance.md, "Session 8").
//
// - Each fix has an integer key, fix_key(t, device) = t * 2^21 + device
//   (0 <= t < 2^42 ms, device < 2^21), ordered by t, then device.
// - The writer keeps each device's highest stored t in memory (`device_tmax`,
//   written with the live checkpoint, the fixes after it replayed at open). A
//   fix later than that cannot be a duplicate: nearly every fix, no look-up.
// - Every group commit writes the keys it stored as sorted, delta-encoded
//   blocks (`fix_key_blocks`: at most kKeyBlockMax keys spanning at most
//   kKeyBlockSpan of key, with the min/max rowid of their fixes for
//   retention), in the same transaction as the fixes.
// - A fix at or before its device's highest t (a retry, an out-of-order
//   sender) is looked up in the group's own keys, then in the blocks whose
//   range holds its key (an index on (k_first, k_last), k_first bounded by the
//   span).
// - Fixes outside the key's range keep a per-row table, fix_keys_wide, keyed
//   (t, device), with the fix's rowid.
//
//   keys.begin_group();
//   for each fix: switch (keys.claim(f)) { kNew: insert, keys.add(f, rowid);
//                                          kWide: insert + insert_wide(); kDuplicate: skip }
//   keys.end_group(db)  (before COMMIT);  then keys.committed() or keys.rolled_back()
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "server/ingest/fix.hpp"
#include "server/store/sqlite.hpp"

namespace pm {

inline constexpr int kKeyDeviceBits = 21;
inline constexpr int64_t kKeyTimeEnd = int64_t{1} << 42;            // ms after 1970: year 2109
inline constexpr int64_t kKeyBlockSpan = int64_t{1000} << kKeyDeviceBits;  // one second of t
inline constexpr size_t kKeyBlockMax = 4096;

// nullopt outside 0 <= t < 2^42 or device >= 2^21 (fix_keys_wide keys those).
std::optional<int64_t> fix_key(int64_t t, uint32_t device);

// Blob: varint n, varint first key, then n - 1 varint deltas (keys ascending).
void encode_key_block(std::span<const int64_t> sorted, std::string& out);
// True if `key` is in the block; false for a malformed blob too.
bool key_block_contains(std::string_view blob, int64_t key);

// Writer-thread state of the rule. Statements are prepared on the writer's
// connection by open().
class FixKeys {
 public:
  enum class Claim { kNew, kDuplicate, kWide };

  // Prepares statements, loads device_tmax and replays the fixes after
  // meta.checkpoint_rowid (what device_tmax may not have seen).
  std::optional<std::string> open(sql::Db& db);
  void begin_group();
  // Whether keyed fix `f` is new; a new one is claimed (a second fix with the
  // same key in the group is then a duplicate). kWide: not keyed, see
  // insert_wide. Errors from the block look-up come back as a string.
  std::variant<Claim, std::string> claim(const Fix& f);
  // The stored fix `f` (claimed kNew) got `rowid`.
  void add(const Fix& f, int64_t rowid) { group_.emplace_back(*fix_key(f.t, f.device), rowid); }
  // For a kWide fix already inserted with `rowid`: true if its (t, device) was
  // free; false (a duplicate: the caller deletes the row again).
  std::variant<bool, std::string> insert_wide(const Fix& f, int64_t rowid);
  // Writes the group's blocks; call inside the group's transaction.
  std::optional<std::string> end_group();
  void committed();
  // After ROLLBACK: device_tmax back to what it was before the group.
  void rolled_back();
  // The devices whose highest t changed since the last take (the live
  // checkpoint writes them to device_tmax, in slices); mark_dirty() puts
  // them back when that checkpoint fails.
  std::vector<uint32_t> take_dirty();
  void mark_dirty(std::span<const uint32_t> devices);
  // Writes device_tmax for `devices` (their current highest t); inside the
  // caller's transaction, between groups.
  std::optional<std::string> write_tmax(std::span<const uint32_t> devices);

 private:
  bool group_has(int64_t key) const;
  void group_insert(int64_t key);
  void place(int64_t key);
  std::variant<bool, std::string> stored_before(int64_t key);
  int64_t& tmax(uint32_t device);
  void mark_dirty(uint32_t device);

  sql::Stmt ins_block_, find_blocks_, ins_wide_, put_tmax_;
  std::vector<int64_t> tmax_;                     // by device; INT64_MIN: none stored
  std::vector<std::pair<uint32_t, int64_t>> undo_;  // (device, tmax before the group)
  std::vector<uint32_t> dirty_;
  std::vector<uint8_t> is_dirty_;
  std::vector<std::pair<int64_t, int64_t>> group_;  // (key, rowid) stored in the group
  std::vector<int64_t> set_;                        // the group's claimed keys: open addressing, -1 empty
  std::vector<size_t> used_;                        // slots of set_ in use
  std::string blob_;
  sql::Db* db_ = nullptr;
};

// Retention: deletes fixes with t < cutoff_ms through the key blocks (block
// by block, oldest first, at most about max_rows) and fix_keys_wide; a block
// goes once all its keys are older. The fix with the highest rowid stays.
// Returns the fixes deleted.
std::variant<int64_t, std::string> delete_expired_fixes(sql::Db& db, int64_t cutoff_ms, int64_t max_rows);

// A database from before fix_keys (a UNIQUE(t, device) index on fixes): its
// keys become blocks, device_tmax is computed, the index is dropped; one
// transaction. Nothing to do otherwise.
std::optional<std::string> migrate_fix_keys(sql::Db& db);

}  // namespace pm
