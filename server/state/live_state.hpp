#pragma once
// The in-memory picture of the force: devices, units, each unit's freshest
// fix, and a moving-point index over unit positions. One reader-writer mutex
// guards it (searches share it, updates take it alone); every critical section
// is short and does no I/O (the store writer and the I/O threads share it).
//
//   LiveState live(projection);
//   live.resolve(pings, ...)            // I/O thread: device -> unit, auto-register
//   store commits, then live.apply(fixes, stored)   // store thread, commit order
//   auto units = live.units_view();     // API
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "geo/point_index.hpp"
#include "geo/projection.hpp"
#include "server/ingest/fix.hpp"

namespace pm {

enum class UnitStatus : uint8_t { off_duty, available, assigned, en_route, on_scene, unavailable };
std::string_view unit_status_name(UnitStatus s);
std::optional<UnitStatus> parse_unit_status(std::string_view s);

enum class DeviceKind : uint8_t { avl, radio, app };
std::string_view device_kind_name(DeviceKind k);
std::optional<DeviceKind> parse_device_kind(std::string_view s);

struct UnitFields {
  std::string type = "car";
  UnitStatus status = UnitStatus::available;
  std::vector<std::string> skills;
  std::string home_area;
};

struct UnitRecord {
  uint32_t index = kNoIndex;
  std::string id;
  UnitFields fields;
  bool has_fix = false;
  Fix last;                // freshest fix from any linked device
  bool persisted = false;  // the store has its row
};

struct DeviceRecord {
  uint32_t index = kNoIndex;
  std::string id;
  DeviceKind kind = DeviceKind::avl;
  uint32_t unit = kNoIndex;
  bool persisted = false;  // the store has its row
};

// Devices and units a resolve() call registered, to persist with the batch.
struct NewRecords {
  std::vector<DeviceRecord> devices;
  std::vector<UnitRecord> units;
  void clear() { devices.clear(); units.clear(); }
  bool empty() const { return devices.empty() && units.empty(); }
};

struct ResolveOptions {
  bool auto_register = false;
  std::string auto_unit_type = "car";
};

// Where units usually are, in WGS84 degrees: sizes the moving-point grid.
// Units outside still work, only slower to search.
struct LonLatBox {
  double west = -1.62, south = 52.38, east = -0.40, north = 52.99;  // Leicestershire and Rutland
};

class LiveState {
 public:
  LiveState(geo::Projection projection, LonLatBox extent);

  const geo::Projection& projection() const { return projection_; }

  // Maps decoded, validated pings to fixes (device and unit indexes, projected
  // position). Unknown devices are registered when allowed, else rejected.
  // `positions[i]` is the request position of `pings[i]`.
  void resolve(std::span<const RawPing> pings, std::span<const uint32_t> positions, Channel channel,
               const ResolveOptions& opt, std::vector<Fix>& fixes, std::vector<uint32_t>& fix_positions,
               std::vector<Rejection>& rejections, NewRecords& created);

  // After the store committed: marks created records persisted and moves each
  // unit to its freshest fix. stored[i] == 0 means fixes[i] was a duplicate.
  void apply(std::span<const Fix> fixes, std::span<const uint8_t> stored, const NewRecords& created);

  // Registry changes, applied after the store committed them.
  uint32_t reserve_unit(std::string_view id);  // index of the unit, creating it (unpersisted) if new
  uint32_t reserve_device(std::string_view id, DeviceKind kind);
  void set_unit(uint32_t unit, const UnitFields& f);
  // Type, skills and home area; the status only for a unit not yet persisted
  // (an existing unit's status changes through dispatch).
  void set_unit_details(uint32_t unit, const UnitFields& f);
  void set_unit_status(uint32_t unit, UnitStatus s);
  void link_device(uint32_t device, DeviceKind kind, uint32_t unit);
  std::optional<uint32_t> find_unit(std::string_view id) const;
  std::optional<uint32_t> find_device(std::string_view id) const;
  std::optional<UnitRecord> unit(uint32_t index) const;
  std::optional<DeviceRecord> device(uint32_t index) const;

  // Recovery: records loaded from the store, before serving.
  void load_unit(UnitRecord u);
  void load_device(DeviceRecord d);

  // Copies for the API; taken under the lock, so they are consistent.
  std::vector<UnitRecord> units_view() const;
  std::vector<DeviceRecord> devices_view() const;
  size_t units_with_fix() const;

  // f(record) for each unit index given (unknown ones skipped), under one
  // shared lock; f may not call back into LiveState.
  template <class F>
  void visit_units(std::span<const uint32_t> indexes, F&& f) const {
    std::shared_lock lock(mu_);
    for (uint32_t i : indexes)
      if (i < units_.size()) f(units_[i]);
  }
  // f(record) for every unit, under one shared lock.
  template <class F>
  void visit_all_units(F&& f) const {
    std::shared_lock lock(mu_);
    for (const auto& u : units_) f(u);
  }

  // Units whose freshest fix changed since the last call (for the store's
  // live-state checkpoint).
  std::vector<UnitRecord> take_changed_units();

  // k nearest units with a fix that satisfy `accept(record)`, by planar
  // (EPSG:27700) distance, nearest first.
  template <class Pred>
  std::vector<geo::PointIndex::Neighbor> nearest_units(geo::XY q, size_t k, Pred&& accept) const {
    std::vector<geo::PointIndex::Neighbor> out;
    visit_nearest_units(q, k, std::forward<Pred>(accept), [&](const auto& near, auto&&) { out = near; });
    return out;
  }
  // The same search, then `visit(neighbors, unit_at)` under the same shared
  // lock, where `unit_at(id)` gives the record: nothing is copied that the
  // visitor does not copy itself. Neither callback may call back into LiveState.
  template <class Pred, class Visit>
  void visit_nearest_units(geo::XY q, size_t k, Pred&& accept, Visit&& visit) const {
    thread_local std::vector<geo::PointIndex::Neighbor> near;
    std::shared_lock lock(mu_);
    index_.nearest(q, k, [&](uint32_t id) { return accept(units_[id]); }, near);
    visit(static_cast<const std::vector<geo::PointIndex::Neighbor>&>(near),
          [this](uint32_t id) -> const UnitRecord& { return units_[id]; });
  }

 private:
  uint32_t add_unit_locked(std::string_view id, const std::string& type);
  void move_unit_locked(UnitRecord& u, const Fix& f);

  geo::Projection projection_;
  mutable std::shared_mutex mu_;
  std::vector<UnitRecord> units_;
  std::vector<DeviceRecord> devices_;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> unit_by_id_;
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> device_by_id_;
  std::vector<uint8_t> changed_;  // per unit, since take_changed_units()
  std::vector<uint32_t> changed_list_;
  geo::PointIndex index_;
  size_t with_fix_ = 0;
};

}  // namespace pm
