#include "server/store/fix_keys.hpp"

#include <algorithm>
#include <climits>

#include "server/core/log.hpp"
#include "server/store/track_chunk.hpp"

namespace pm {
namespace {

constexpr char kKeyedSql[] = "t >= 0 AND t < 4398046511104 AND device >= 0 AND device < 2097152";
static_assert(kKeyTimeEnd == 4398046511104 && (int64_t{1} << kKeyDeviceBits) == 2097152);

// Writes (key, rowid) pairs sorted by key as blocks of at most kKeyBlockMax
// keys spanning less than kKeyBlockSpan.
std::optional<std::string> write_key_blocks(sql::Db& db, sql::Stmt& ins, std::span<const std::pair<int64_t, int64_t>> sorted,
                                            std::string& blob) {
  std::vector<int64_t> keys;
  size_t i = 0;
  while (i < sorted.size()) {
    size_t j = i;
    int64_t lo = sorted[i].second, hi = sorted[i].second;
    keys.clear();
    while (j < sorted.size() && j - i < kKeyBlockMax && sorted[j].first - sorted[i].first < kKeyBlockSpan) {
      keys.push_back(sorted[j].first);
      lo = std::min(lo, sorted[j].second);
      hi = std::max(hi, sorted[j].second);
      ++j;
    }
    blob.clear();
    encode_key_block(keys, blob);
    ins.bind(1, keys.front()).bind(2, keys.back()).bind(3, static_cast<int64_t>(keys.size())).bind(4, lo).bind(5, hi);
    ins.bind_blob(6, blob);
    int rc = ins.step();
    ins.reset();
    if (rc != SQLITE_DONE) return "insert key block: " + db.errmsg();
    i = j;
  }
  return std::nullopt;
}

constexpr std::string_view kInsertBlock =
    "INSERT INTO fix_key_blocks(k_first, k_last, n, rowid_lo, rowid_hi, data) VALUES(?,?,?,?,?,?)";

uint64_t slot_hash(int64_t key) { return static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ull; }

}  // namespace

std::optional<int64_t> fix_key(int64_t t, uint32_t device) {
  if (t < 0 || t >= kKeyTimeEnd || device >= (uint32_t{1} << kKeyDeviceBits)) return std::nullopt;
  return (t << kKeyDeviceBits) | static_cast<int64_t>(device);
}

void encode_key_block(std::span<const int64_t> sorted, std::string& out) {
  put_varint(out, sorted.size());
  int64_t prev = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    put_varint(out, static_cast<uint64_t>(i == 0 ? sorted[0] : sorted[i] - prev));
    prev = sorted[i];
  }
}

bool key_block_contains(std::string_view blob, int64_t key) {
  size_t pos = 0;
  uint64_t n = 0, v = 0;
  if (!get_varint(blob, pos, n)) return false;
  uint64_t k = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (!get_varint(blob, pos, v)) return false;
    k += v;
    if (static_cast<int64_t>(k) == key) return true;
    if (static_cast<int64_t>(k) > key) return false;
  }
  return false;
}

std::optional<std::string> FixKeys::open(sql::Db& db) {
  db_ = &db;
  ins_block_ = db.prepare(kInsertBlock);
  find_blocks_ = db.prepare("SELECT data FROM fix_key_blocks WHERE k_first BETWEEN ?1 AND ?2 AND k_last >= ?2");
  ins_wide_ = db.prepare("INSERT OR IGNORE INTO fix_keys_wide(t, device, fix) VALUES(?,?,?)");
  put_tmax_ = db.prepare("INSERT OR REPLACE INTO device_tmax(device, t) VALUES(?,?)");
  for (auto* st : {&ins_block_, &find_blocks_, &ins_wide_, &put_tmax_})
    if (!st->ok()) return "prepare: " + st->error();
  {
    auto st = db.prepare("SELECT device, t FROM device_tmax");
    while (st.step() == SQLITE_ROW) tmax(static_cast<uint32_t>(st.i64(0))) = st.i64(1);
  }
  int64_t from_rowid = 0;
  {
    auto st = db.prepare("SELECT value FROM meta WHERE key='checkpoint_rowid'");
    if (st.step() == SQLITE_ROW) from_rowid = std::stoll(st.text(0));
  }
  // Fixes committed after the last live checkpoint, which wrote device_tmax.
  auto st = db.prepare(std::string("SELECT device, t FROM fixes WHERE rowid > ? AND ") + kKeyedSql);
  st.bind(1, from_rowid);
  while (st.step() == SQLITE_ROW) {
    const auto device = static_cast<uint32_t>(st.i64(0));
    int64_t& m = tmax(device);
    if (st.i64(1) > m) {
      m = st.i64(1);
      mark_dirty(device);
    }
  }
  return std::nullopt;
}

int64_t& FixKeys::tmax(uint32_t device) {
  if (device >= tmax_.size()) {
    tmax_.resize(static_cast<size_t>(device) + 1, INT64_MIN);
    is_dirty_.resize(tmax_.size(), 0);
  }
  return tmax_[device];
}

bool FixKeys::group_has(int64_t key) const {
  if (set_.empty()) return false;
  const size_t mask = set_.size() - 1;
  for (size_t s = slot_hash(key) & mask;; s = (s + 1) & mask) {
    if (set_[s] == key) return true;
    if (set_[s] == -1) return false;
  }
}

void FixKeys::group_insert(int64_t key) {
  if ((used_.size() + 1) * 2 > set_.size()) {
    // Grow and re-place the keys claimed so far.
    std::vector<int64_t> keys;
    keys.reserve(used_.size());
    for (size_t s : used_) keys.push_back(set_[s]);
    set_.assign(std::max<size_t>(1024, set_.size() * 2), -1);
    used_.clear();
    for (int64_t k : keys) place(k);
  }
  place(key);
}

void FixKeys::place(int64_t key) {
  const size_t mask = set_.size() - 1;
  size_t s = slot_hash(key) & mask;
  while (set_[s] != -1) s = (s + 1) & mask;
  set_[s] = key;
  used_.push_back(s);
}

void FixKeys::begin_group() {
  for (size_t s : used_) set_[s] = -1;  // only the slots used: a group of one ping costs no sweep
  used_.clear();
  group_.clear();
  undo_.clear();
}

std::variant<bool, std::string> FixKeys::stored_before(int64_t key) {
  find_blocks_.bind(1, key - kKeyBlockSpan).bind(2, key);
  bool found = false;
  int rc = SQLITE_DONE;
  while (!found && (rc = find_blocks_.step()) == SQLITE_ROW) found = key_block_contains(find_blocks_.blob(0), key);
  const bool failed = !found && rc != SQLITE_DONE;
  find_blocks_.reset();
  if (failed) return "look up fix key: " + db_->errmsg();
  return found;
}

std::variant<FixKeys::Claim, std::string> FixKeys::claim(const Fix& f) {
  auto k = fix_key(f.t, f.device);
  if (!k) return Claim::kWide;
  int64_t& m = tmax(f.device);
  if (f.t <= m) {
    // At or before the device's latest stored fix: look the key up.
    if (group_has(*k)) return Claim::kDuplicate;
    auto r = stored_before(*k);
    if (auto* e = std::get_if<std::string>(&r)) return std::move(*e);
    if (std::get<bool>(r)) return Claim::kDuplicate;
  } else {
    undo_.emplace_back(f.device, m);
    m = f.t;
    mark_dirty(f.device);
  }
  group_insert(*k);
  return Claim::kNew;
}

std::variant<bool, std::string> FixKeys::insert_wide(const Fix& f, int64_t rowid) {
  ins_wide_.bind(1, f.t).bind(2, static_cast<int64_t>(f.device)).bind(3, rowid);
  int rc = ins_wide_.step();
  ins_wide_.reset();
  if (rc != SQLITE_DONE) return "insert fix key: " + db_->errmsg();
  return db_->changes() == 1;
}

std::optional<std::string> FixKeys::end_group() {
  if (group_.empty()) return std::nullopt;
  std::sort(group_.begin(), group_.end());
  return write_key_blocks(*db_, ins_block_, group_, blob_);
}

void FixKeys::committed() { undo_.clear(); }

void FixKeys::rolled_back() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) tmax_[it->first] = it->second;
  undo_.clear();
}

void FixKeys::mark_dirty(uint32_t device) {
  if (is_dirty_[device]) return;
  is_dirty_[device] = 1;
  dirty_.push_back(device);
}

std::vector<uint32_t> FixKeys::take_dirty() {
  for (uint32_t device : dirty_) is_dirty_[device] = 0;
  std::vector<uint32_t> out;
  out.swap(dirty_);
  return out;
}

void FixKeys::mark_dirty(std::span<const uint32_t> devices) {
  for (uint32_t device : devices) mark_dirty(device);
}

std::optional<std::string> FixKeys::write_tmax(std::span<const uint32_t> devices) {
  for (uint32_t device : devices) {
    put_tmax_.bind(1, static_cast<int64_t>(device)).bind(2, tmax_[device]);
    int rc = put_tmax_.step();
    put_tmax_.reset();
    if (rc != SQLITE_DONE) return "device_tmax: " + db_->errmsg();
  }
  return std::nullopt;
}

std::variant<int64_t, std::string> delete_expired_fixes(sql::Db& db, int64_t cutoff_ms, int64_t max_rows) {
  const int64_t cut_key = cutoff_ms <= 0 ? 0 : cutoff_ms >= kKeyTimeEnd ? INT64_MAX : cutoff_ms << kKeyDeviceBits;
  auto top = db.prepare("SELECT COALESCE(MAX(rowid), 0) FROM fixes");
  auto wide = db.prepare("SELECT t, device, fix FROM fix_keys_wide WHERE t < ?1 AND fix < ?2 ORDER BY t LIMIT ?3");
  auto blocks = db.prepare("SELECT id, k_last, rowid_lo, rowid_hi FROM fix_key_blocks WHERE k_first < ? ORDER BY k_first LIMIT 64");
  auto del_fix = db.prepare("DELETE FROM fixes WHERE rowid = ?");
  auto del_wide = db.prepare("DELETE FROM fix_keys_wide WHERE t = ? AND device = ?");
  // Keyed fixes only: one outside the key range goes with its fix_keys_wide row.
  auto del_range = db.prepare(std::string("DELETE FROM fixes WHERE rowid BETWEEN ? AND ? AND t < ? AND ") + kKeyedSql);
  auto del_block = db.prepare("DELETE FROM fix_key_blocks WHERE id = ?");
  for (auto* st : {&top, &wide, &blocks, &del_fix, &del_wide, &del_range, &del_block})
    if (!st->ok()) return "retention: " + st->error();
  if (top.step() != SQLITE_ROW) return "retention: " + db.errmsg();
  // The fix with the highest rowid stays even when expired: without it an
  // emptied table would hand out rowids from 1 again, below meta's
  // chunked_rowid and checkpoint_rowid, and new fixes would never be chunked.
  const int64_t max_rowid = top.i64(0);
  int64_t deleted = 0;
  struct Wide {
    int64_t t, device, fix;
  };
  std::vector<Wide> wides;
  wide.bind(1, cutoff_ms).bind(2, max_rowid).bind(3, max_rows);
  while (wide.step() == SQLITE_ROW) wides.push_back({wide.i64(0), wide.i64(1), wide.i64(2)});
  for (const auto& w : wides) {
    del_fix.bind(1, w.fix);
    del_wide.bind(1, w.t).bind(2, w.device);
    const bool ok = del_fix.step() == SQLITE_DONE && del_wide.step() == SQLITE_DONE;
    del_fix.reset();
    del_wide.reset();
    if (!ok) return "retention: " + db.errmsg();
    ++deleted;
  }
  // Oldest blocks first; a block whose keys are not all older stays (its
  // expired fixes go), so a key lingers at most kKeyBlockSpan past its fix.
  struct Block {
    int64_t id, k_last, lo, hi;
  };
  std::vector<Block> todo;
  blocks.bind(1, cut_key);
  while (blocks.step() == SQLITE_ROW) todo.push_back({blocks.i64(0), blocks.i64(1), blocks.i64(2), blocks.i64(3)});
  for (const auto& b : todo) {
    if (deleted >= max_rows) break;
    del_range.bind(1, b.lo).bind(2, std::min(b.hi, max_rowid - 1)).bind(3, cutoff_ms);
    int rc = del_range.step();
    del_range.reset();
    if (rc != SQLITE_DONE) return "retention: " + db.errmsg();
    deleted += db.changes();
    if (b.k_last < cut_key && b.hi < max_rowid) {
      del_block.bind(1, b.id);
      rc = del_block.step();
      del_block.reset();
      if (rc != SQLITE_DONE) return "retention: " + db.errmsg();
    }
  }
  return deleted;
}

std::optional<std::string> migrate_fix_keys(sql::Db& db) {
  {
    auto st = db.prepare("SELECT 1 FROM sqlite_master WHERE type='index' AND name='fixes_t_device'");
    if (!st.ok()) return st.error();
    if (st.step() != SQLITE_ROW) return std::nullopt;
  }
  log::info("store", "duplicate keys move from the (t, device) index to key blocks", {});
  if (auto e = db.exec("BEGIN IMMEDIATE")) return e;
  auto fail = [&](std::string e) -> std::optional<std::string> {
    db.exec("ROLLBACK");
    return e;
  };
  std::vector<std::pair<int64_t, int64_t>> keys;
  {
    auto st = db.prepare(std::string("SELECT t, device, rowid FROM fixes WHERE ") + kKeyedSql + " ORDER BY t, device");
    if (!st.ok()) return fail(st.error());
    while (st.step() == SQLITE_ROW)
      keys.emplace_back(*fix_key(st.i64(0), static_cast<uint32_t>(st.i64(1))), st.i64(2));
  }
  auto ins = db.prepare(kInsertBlock);
  if (!ins.ok()) return fail(ins.error());
  std::string blob;
  if (auto e = write_key_blocks(db, ins, keys, blob)) return fail(*e);
  const std::string rest = std::string("INSERT INTO fix_keys_wide(t, device, fix) SELECT t, device, rowid FROM fixes "
                                       "WHERE NOT (") + kKeyedSql + "); "
                           "INSERT OR REPLACE INTO device_tmax(device, t) SELECT device, MAX(t) FROM fixes WHERE " +
                           kKeyedSql + " GROUP BY device; DROP INDEX fixes_t_device; COMMIT";
  if (auto e = db.exec(rest)) return fail(*e);
  return std::nullopt;
}

}  // namespace pm
