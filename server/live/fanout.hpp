#pragma once
// Live map fan-out (SPEC section 6, issue 5): who gets what, as pure data. No
// sockets, no clock: a WebSocket session owns its socket and asks this class
// for its next frame when it can write.
//
//   FanOut fan({.max_pending = 50'000, .max_lag_ms = 10'000});
//   auto sub = fan.add_subscriber(bbox, kAllLayers, now);   // session hello
//   fan.publish_units(changed, now);        // store writer, once per commit
//   fan.publish_incident(id, json, lat, lon, open); fan.publish_alert(id, json, active);
//   std::string f = fan.take_frame(sub, seq, now);   // session, every live.flush_ms
//   if (!f.empty()) send(f);                          // snapshot or delta
//
// Design choices (and why they differ from the first sketch):
// - FanOut keeps the current picture itself: the latest UnitState of every
//   unit (shared, immutable), open incidents and active alerts. A subscriber's
//   pending set then holds only unit *indexes*: coalescing is free (many
//   updates of one unit = one index), the bound counts indexes, and the state
//   written is always the latest. Snapshots need no input, so a snapshot and
//   the deltas after it are cut from the same state under one lock.
// - Whether a pending unit goes in `units` or `removed` is decided when the
//   frame is taken, from the latest state: invariant per subscriber S and unit
//   u: u is pending for S, or (u visible to S) == (S's bbox contains u now).
//   An update is therefore routed to the subscribers whose bbox contains the
//   old OR the new position: found in a grid of 0.1 degree cells -> subscriber
//   ids, so routing costs O(matching subscribers), not O(subscribers). A bbox
//   spanning more than kMaxGridCells cells sits in a "wide" list checked for
//   every update (a handful of county-wide dispatcher screens).
// - A subscriber whose pending entries exceed max_pending, or which has not
//   taken a frame for max_lag_ms while updates arrive, drops everything pending
//   and is marked needs_snapshot (counted in `overflows`): its next take_frame
//   is a fresh snapshot. Memory per subscriber is bounded by max_pending plus
//   its visible set; the shell may close a client that overflows repeatedly.
// - Incidents are routed by position (open ones only kept); alerts go to every
//   subscriber with the alerts layer whatever its bbox (an officer emergency is
//   never filtered by viewport). Their JSON is written by the caller
//   (dispatch/json.hpp) so this library does not depend on dispatch.
//
// Thread safety: every public method takes one internal mutex; none does I/O.
// publish_units costs O(changed units x matching subscribers) and one
// allocation per changed unit; each unit's JSON is written once per update,
// before the lock is taken, and frames are cut under the lock but assembled
// after it (from shared immutable copies), so a big frame does not hold up the
// store writer. Bounding boxes do not cross the antimeridian (west <= east).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/core/channel.hpp"
#include "server/core/clock.hpp"
#include "server/ingest/fix.hpp"
#include "server/state/live_state.hpp"

namespace pm::live {

// WGS84 degrees, west <= east, south <= north; edges inclusive.
struct Bbox {
  double west = -180, south = -90, east = 180, north = 90;
  bool contains(double lon, double lat) const { return lon >= west && lon <= east && lat >= south && lat <= north; }
};

enum Layer : uint8_t { kUnits = 1, kIncidents = 2, kAlerts = 4, kAllLayers = 7 };

// What a live client sees of a unit.
struct UnitState {
  uint32_t index = kNoIndex;  // LiveState unit index
  std::string id;
  std::string type;
  UnitStatus status = UnitStatus::available;
  std::vector<std::string> skills;
  bool has_fix = false;  // without a fix a unit is in no bbox
  double lat = 0, lon = 0;
  float speed_mps = kAbsent, heading_deg = kAbsent;
  EpochMs fix_time = 0;
  Channel source = Channel::json;
  uint64_t incident = 0;  // 0: none
  bool emergency = false;
  bool operator==(const UnitState&) const = default;
};

UnitState unit_state(const UnitRecord& u, uint64_t incident = 0, bool emergency = false);
// {"id","type","status","skills","lat","lon","speed_mps","heading_deg","fix_time","source","incident","emergency"}
std::string unit_json(const UnitState& u);

using SubscriberId = uint64_t;

struct FanOutOptions {
  size_t max_pending = 50'000;  // pending units + incidents + alerts per subscriber
  EpochMs max_lag_ms = 10'000;  // no take_frame for this long while updates arrive -> snapshot
};

struct SubscriberStats {
  size_t pending = 0;  // units + removals + incidents + alerts waiting
  size_t visible = 0;  // units the client currently shows
  uint64_t overflows = 0;
  bool needs_snapshot = false;
};

class FanOut {
 public:
  explicit FanOut(FanOutOptions opt = {});

  // A new subscriber starts with needs_snapshot: its first frame is a snapshot.
  SubscriberId add_subscriber(const Bbox& bbox, uint8_t layers, EpochMs now);
  void remove_subscriber(SubscriberId sub);
  // Units entering the new window come with their full state, units leaving
  // it in `removed`, in the next delta. Incidents entering it come too.
  void set_viewport(SubscriberId sub, const Bbox& bbox);

  // Once per store commit, with the changed units (their whole new state).
  void publish_units(std::span<const UnitState> units, EpochMs now);
  // `json`: the incident as the API writes it. A closed one (open = false) is
  // sent once more and then forgotten. NaN lat/lon: sent to every subscriber.
  void publish_incident(uint64_t id, std::string json, double lat, double lon, bool open, EpochMs now);
  // active = false: acknowledged/cleared; sent once more, then forgotten.
  void publish_alert(uint64_t id, std::string json, bool active, EpochMs now);

  // The next frame for a subscriber: a snapshot if it needs one, else a
  // delta, else "" when nothing is pending (then `seq` is not used). Counts
  // as a drain for max_lag_ms even when empty.
  std::string take_frame(SubscriberId sub, uint64_t seq, EpochMs now);
  // A snapshot now, whatever is pending (pending is dropped).
  std::string snapshot(SubscriberId sub, uint64_t seq, EpochMs now);

  // The daemon's path: one cut per flush tick for every subscriber that is
  // ready (its previous frame written, see set_ready) and has something to
  // send. Subscribers in exactly the same state (same window and layers,
  // same pending and visible units, same pending incidents and alerts: the
  // usual case of several county-wide screens) share one body, written once.
  // A cut subscriber is not ready again until set_ready.
  struct Cut {
    SubscriberId sub;
    bool snapshot;
    std::shared_ptr<const std::string> body;  // from `,"units":` to the closing brace
  };
  std::vector<Cut> cut_ready(EpochMs now);
  void set_ready(SubscriberId sub);
  // The whole frame text: {"type":...,"seq":seq + body.
  static std::string frame_prefix(bool snapshot, uint64_t seq);
  // A viewport change applied at the subscriber's next cut (the latest wins),
  // so a client cannot make the server re-scan units faster than it flushes.
  void request_viewport(SubscriberId sub, const Bbox& bbox);

  SubscriberStats stats(SubscriberId sub) const;
  size_t subscriber_count() const;

  static constexpr double kCellDeg = 0.1;
  static constexpr int64_t kMaxGridCells = 1024;

 private:
  // A unit's state with its JSON, written once per update (outside the lock)
  // and copied into every frame that carries it.
  struct PublishedUnit : UnitState {
    std::string json;
  };
  using UnitPtr = std::shared_ptr<const PublishedUnit>;
  using JsonPtr = std::shared_ptr<const std::string>;
  struct Incident {
    JsonPtr json;
    double lat, lon;
  };
  // A set of unit indexes as a bitmap: marking a unit for every watching
  // subscriber is a bit set, not a hash insert (20,000 units at 1 Hz times 500
  // county-wide screens is 10 million marks a second), and iteration is in
  // index order.
  class UnitSet {
   public:
    bool contains(uint32_t i) const { return i / 64 < bits_.size() && (bits_[i / 64] >> (i % 64) & 1); }
    bool insert(uint32_t i) {
      if (i / 64 >= bits_.size()) bits_.resize(i / 64 + 1);
      uint64_t& w = bits_[i / 64];
      const uint64_t m = uint64_t{1} << (i % 64);
      if (w & m) return false;
      w |= m;
      ++count_;
      return true;
    }
    bool erase(uint32_t i) {
      if (!contains(i)) return false;
      bits_[i / 64] &= ~(uint64_t{1} << (i % 64));
      --count_;
      return true;
    }
    size_t size() const { return count_; }
    void clear() {
      std::fill(bits_.begin(), bits_.end(), 0);
      count_ = 0;
    }
    bool operator==(const UnitSet& o) const {
      if (count_ != o.count_) return false;
      const size_t n = std::max(bits_.size(), o.bits_.size());
      for (size_t w = 0; w < n; ++w)
        if ((w < bits_.size() ? bits_[w] : 0) != (w < o.bits_.size() ? o.bits_[w] : 0)) return false;
      return true;
    }
    uint64_t hash() const {
      uint64_t h = count_ * 0x9e3779b97f4a7c15ULL;
      for (size_t w = 0; w < bits_.size(); ++w)
        if (bits_[w]) h = (h ^ bits_[w] ^ w) * 0x100000001b3ULL;
      return h;
    }
    template <class F>
    void for_each(F&& f) const {
      for (size_t w = 0; w < bits_.size(); ++w)
        for (uint64_t b = bits_[w]; b; b &= b - 1) f(static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(b))));
    }

   private:
    std::vector<uint64_t> bits_;
    size_t count_ = 0;
  };
  struct Subscriber {
    Bbox bbox;
    uint8_t layers = kAllLayers;
    bool ready = true;  // cut_ready may cut a frame for it
    bool has_next_bbox = false;
    Bbox next_bbox;
    UnitSet pending_units;  // decided at take_frame: units or removed
    UnitSet visible;
    std::unordered_map<uint64_t, JsonPtr> pending_incidents;
    std::unordered_map<uint64_t, JsonPtr> pending_alerts;
    EpochMs last_drain = 0;
    uint64_t overflows = 0;
    bool needs_snapshot = true;
    size_t pending_size() const { return pending_units.size() + pending_incidents.size() + pending_alerts.size(); }
  };
  struct Frame;

  bool wide(const Bbox& b) const;
  void index_locked(SubscriberId id, const Subscriber& s);
  void unindex_locked(SubscriberId id, const Subscriber& s);
  // May an update be queued (`grows`: as a new entry)? false if the subscriber
  // needs a snapshot or overflows now (pending dropped, needs_snapshot set).
  bool admit_locked(Subscriber& s, EpochMs now, bool grows);
  void mark_unit_locked(Subscriber& s, uint32_t unit, EpochMs now);
  void route_unit_locked(const UnitState* old, const UnitState& now_state, EpochMs now);
  Frame snapshot_locked(Subscriber& s, EpochMs now);
  Frame delta_locked(Subscriber& s, EpochMs now);
  void set_viewport_locked(SubscriberId id, Subscriber& s, const Bbox& bbox);
  void apply_next_viewport_locked(SubscriberId id, Subscriber& s);

  FanOutOptions opt_;
  mutable std::mutex mu_;
  SubscriberId next_id_ = 1;
  std::unordered_map<SubscriberId, Subscriber> subs_;
  std::unordered_map<int64_t, std::vector<SubscriberId>> grid_;  // cell -> non-wide unit subscribers
  std::vector<SubscriberId> wide_;                               // wide unit subscribers
  std::vector<UnitPtr> units_;                                   // by unit index; null = never published
  std::unordered_map<uint64_t, Incident> incidents_;             // open
  std::unordered_map<uint64_t, JsonPtr> alerts_;                 // active
};

}  // namespace pm::live
