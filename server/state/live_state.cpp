#include "server/state/live_state.hpp"

#include <array>

namespace pm {
namespace {

constexpr std::array<std::string_view, 6> kStatusNames = {"off_duty", "available", "assigned",
                                                          "en_route", "on_scene",  "unavailable"};
constexpr std::array<std::string_view, 3> kKindNames = {"avl", "radio", "app"};

}  // namespace

std::string_view unit_status_name(UnitStatus s) { return kStatusNames[static_cast<size_t>(s)]; }
std::optional<UnitStatus> parse_unit_status(std::string_view s) {
  for (size_t i = 0; i < kStatusNames.size(); ++i)
    if (kStatusNames[i] == s) return static_cast<UnitStatus>(i);
  return std::nullopt;
}
std::string_view device_kind_name(DeviceKind k) { return kKindNames[static_cast<size_t>(k)]; }
std::optional<DeviceKind> parse_device_kind(std::string_view s) {
  for (size_t i = 0; i < kKindNames.size(); ++i)
    if (kKindNames[i] == s) return static_cast<DeviceKind>(i);
  return std::nullopt;
}

namespace {

geo::Box project_extent(const geo::Projection& p, const LonLatBox& e) {
  geo::Box b;
  // Sample the edges: a lon/lat box is curved in the projection.
  for (int i = 0; i <= 8; ++i) {
    double f = i / 8.0;
    for (auto ll : {geo::LonLat{e.west + f * (e.east - e.west), e.south}, geo::LonLat{e.west + f * (e.east - e.west), e.north},
                    geo::LonLat{e.west, e.south + f * (e.north - e.south)}, geo::LonLat{e.east, e.south + f * (e.north - e.south)}}) {
      geo::XY xy = p.forward(ll);
      if (std::isfinite(xy.x) && std::isfinite(xy.y)) b.extend(xy);
    }
  }
  return b;
}

}  // namespace

LiveState::LiveState(geo::Projection projection, LonLatBox extent)
    : projection_(std::move(projection)), index_(project_extent(projection_, extent)) {}

namespace {

template <class Records, class Record>
void note_unpersisted(Records& list, const Record& r) {
  if (r.persisted) return;
  for (const auto& x : list)
    if (x.index == r.index) return;
  list.push_back(r);
}

}  // namespace

void LiveState::resolve(std::span<const RawPing> pings, std::span<const uint32_t> positions, Channel channel,
                        const ResolveOptions& opt, std::vector<Fix>& fixes, std::vector<uint32_t>& fix_positions,
                        std::vector<Rejection>& rejections, NewRecords& created) {
  // Project outside the lock: it is the costliest step.
  const size_t first = fixes.size();
  fixes.resize(first + pings.size());
  for (size_t i = 0; i < pings.size(); ++i) {
    const RawPing& p = pings[i];
    Fix& f = fixes[first + i];
    f.t = p.t;
    f.lat = p.lat;
    f.lon = p.lon;
    f.xy = projection_.forward(geo::LonLat{p.lon, p.lat});
    f.speed_mps = p.speed_mps;
    f.heading_deg = p.heading_deg == 360.0f ? 0.0f : p.heading_deg;
    f.accuracy_m = p.accuracy_m;
    f.channel = channel;
    f.emergency = p.emergency;
  }
  size_t out = first;
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < pings.size(); ++i) {
    const RawPing& p = pings[i];
    Fix f = fixes[first + i];
    if (!std::isfinite(f.xy.x) || !std::isfinite(f.xy.y)) {
      rejections.push_back({positions[i], Errc::bad_coordinate, "position cannot be projected"});
      continue;
    }
    auto it = device_by_id_.find(p.device);
    uint32_t dev;
    if (it != device_by_id_.end()) {
      dev = it->second;
    } else if (opt.auto_register) {
      dev = static_cast<uint32_t>(devices_.size());
      DeviceRecord d;
      d.index = dev;
      d.id = std::string(p.device);
      d.kind = channel == Channel::pei_tcp || channel == Channel::lip_udp ? DeviceKind::radio
               : channel == Channel::osmand                              ? DeviceKind::app
                                                                         : DeviceKind::avl;
      auto u = unit_by_id_.find(p.device);
      d.unit = u != unit_by_id_.end() ? u->second : add_unit_locked(p.device, opt.auto_unit_type);
      devices_.push_back(d);
      device_by_id_.emplace(d.id, dev);
    } else {
      rejections.push_back({positions[i], Errc::unknown_device, {}});
      continue;
    }
    const DeviceRecord& d = devices_[dev];
    note_unpersisted(created.devices, d);
    if (d.unit != kNoIndex) note_unpersisted(created.units, units_[d.unit]);
    f.device = dev;
    f.unit = d.unit;
    fixes[out++] = f;
    fix_positions.push_back(positions[i]);
  }
  fixes.resize(out);
}

uint32_t LiveState::add_unit_locked(std::string_view id, const std::string& type) {
  auto idx = static_cast<uint32_t>(units_.size());
  UnitRecord u;
  u.index = idx;
  u.id = std::string(id);
  u.fields.type = type;
  unit_by_id_.emplace(u.id, idx);
  units_.push_back(std::move(u));
  changed_.push_back(0);
  return idx;
}

void LiveState::move_unit_locked(UnitRecord& u, const Fix& f) {
  // Out-of-order fixes are stored but never move a unit backwards.
  if (u.has_fix && f.t <= u.last.t) return;
  if (!u.has_fix) ++with_fix_;
  u.has_fix = true;
  u.last = f;
  index_.upsert(u.index, f.xy);
  if (!changed_[u.index]) {
    changed_[u.index] = 1;
    changed_list_.push_back(u.index);
  }
}

void LiveState::apply(std::span<const Fix> fixes, std::span<const uint8_t> stored, const NewRecords& created) {
  std::lock_guard lock(mu_);
  for (const auto& d : created.devices) devices_[d.index].persisted = true;
  for (const auto& u : created.units) units_[u.index].persisted = true;
  for (size_t i = 0; i < fixes.size(); ++i) {
    if (!stored[i] || fixes[i].unit == kNoIndex) continue;
    move_unit_locked(units_[fixes[i].unit], fixes[i]);
  }
}

uint32_t LiveState::reserve_unit(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = unit_by_id_.find(id);
  return it != unit_by_id_.end() ? it->second : add_unit_locked(id, "car");
}

uint32_t LiveState::reserve_device(std::string_view id, DeviceKind kind) {
  std::lock_guard lock(mu_);
  auto it = device_by_id_.find(id);
  if (it != device_by_id_.end()) return it->second;
  auto idx = static_cast<uint32_t>(devices_.size());
  DeviceRecord d;
  d.index = idx;
  d.id = std::string(id);
  d.kind = kind;
  device_by_id_.emplace(d.id, idx);
  devices_.push_back(std::move(d));
  return idx;
}

void LiveState::set_unit(uint32_t unit, const UnitFields& f) {
  std::lock_guard lock(mu_);
  units_[unit].fields = f;
  units_[unit].persisted = true;
}

void LiveState::set_unit_details(uint32_t unit, const UnitFields& f) {
  std::lock_guard lock(mu_);
  UnitRecord& u = units_[unit];
  const UnitStatus keep = u.fields.status;
  const bool had_row = u.persisted;
  u.fields = f;
  if (had_row) u.fields.status = keep;
  u.persisted = true;
}

void LiveState::set_unit_status(uint32_t unit, UnitStatus s) {
  std::lock_guard lock(mu_);
  units_[unit].fields.status = s;
}

void LiveState::link_device(uint32_t device, DeviceKind kind, uint32_t unit) {
  std::lock_guard lock(mu_);
  devices_[device].kind = kind;
  devices_[device].unit = unit;
  devices_[device].persisted = true;
}

std::optional<uint32_t> LiveState::find_unit(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = unit_by_id_.find(id);
  return it == unit_by_id_.end() ? std::nullopt : std::optional<uint32_t>(it->second);
}

std::optional<uint32_t> LiveState::find_device(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = device_by_id_.find(id);
  return it == device_by_id_.end() ? std::nullopt : std::optional<uint32_t>(it->second);
}

std::optional<UnitRecord> LiveState::unit(uint32_t index) const {
  std::shared_lock lock(mu_);
  return index < units_.size() ? std::optional<UnitRecord>(units_[index]) : std::nullopt;
}

std::optional<DeviceRecord> LiveState::device(uint32_t index) const {
  std::shared_lock lock(mu_);
  return index < devices_.size() ? std::optional<DeviceRecord>(devices_[index]) : std::nullopt;
}

void LiveState::load_unit(UnitRecord u) {
  std::lock_guard lock(mu_);
  // Store indexes are dense and loaded in order; tolerate gaps defensively.
  while (units_.size() < u.index) {
    UnitRecord gap;
    gap.index = static_cast<uint32_t>(units_.size());
    gap.id = "~gap" + std::to_string(gap.index);
    units_.push_back(gap);
    changed_.push_back(0);
  }
  u.persisted = true;
  bool fix = u.has_fix;
  Fix last = u.last;
  u.has_fix = false;
  unit_by_id_.emplace(u.id, u.index);
  units_.push_back(std::move(u));
  changed_.push_back(0);
  if (fix) move_unit_locked(units_.back(), last);
}

void LiveState::load_device(DeviceRecord d) {
  std::lock_guard lock(mu_);
  while (devices_.size() < d.index) {
    DeviceRecord gap;
    gap.index = static_cast<uint32_t>(devices_.size());
    gap.id = "~gap" + std::to_string(gap.index);
    devices_.push_back(gap);
  }
  d.persisted = true;
  device_by_id_.emplace(d.id, d.index);
  devices_.push_back(std::move(d));
}

std::vector<UnitRecord> LiveState::units_view() const {
  std::shared_lock lock(mu_);
  return units_;
}

std::vector<DeviceRecord> LiveState::devices_view() const {
  std::shared_lock lock(mu_);
  return devices_;
}

size_t LiveState::units_with_fix() const {
  std::shared_lock lock(mu_);
  return with_fix_;
}

std::vector<UnitRecord> LiveState::take_changed_units() {
  std::lock_guard lock(mu_);
  std::vector<UnitRecord> out;
  out.reserve(changed_list_.size());
  for (uint32_t i : changed_list_) {
    out.push_back(units_[i]);
    changed_[i] = 0;
  }
  changed_list_.clear();
  return out;
}

}  // namespace pm
