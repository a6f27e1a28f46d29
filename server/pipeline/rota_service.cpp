#include "server/pipeline/rota_service.hpp"

#include <algorithm>

#include "server/core/log.hpp"

namespace pm {

void RotaService::load(const std::vector<RotaRow>& rows) {
  std::lock_guard lock(mu_);
  plan_.add(rows);
}

RotaEffect RotaService::effect_now() const {
  std::lock_guard lock(mu_);
  return plan_.effect_at(clock_.now_ms());
}

void RotaService::add_csv(std::string_view csv, std::function<void(RotaLoadResult&&)> done) {
  auto result = std::make_shared<RotaLoadResult>();
  auto rows = std::make_shared<std::vector<RotaRow>>(parse_rota_csv(csv, result->problems));
  result->loaded = rows->size();
  store_.submit(WriteJob{[rows](sql::Db& db) { return insert_rota_rows(db, *rows); },
                         [this, rows, result, done = std::move(done)](const StoreResult& r) {
                           if (!r.ok) {
                             result->loaded = 0;
                             result->store_error = r.error;
                           } else {
                             load(*rows);
                             tick();  // apply now rather than at the next timer
                           }
                           done(std::move(*result));
                         }});
}

void RotaService::tick() {
  // One reconciliation at a time: the next tick sees its committed result.
  bool expected = false;
  if (!in_flight_.compare_exchange_strong(expected, true)) return;
  reconcile(clock_.now_ms());
}

void RotaService::reconcile(EpochMs now) {
  RotaEffect want;
  std::set<std::string> rota_issis;
  {
    std::lock_guard lock(mu_);
    want = plan_.effect_at(now);
    for (const auto& s : plan_.shifts())
      if (!s.issi.empty()) rota_issis.insert(s.issi);
  }
  struct UnitChange {
    uint32_t idx;
    std::string id;
    UnitFields fields;
  };
  struct DeviceChange {
    uint32_t idx;
    std::string id;
    uint32_t unit;
  };
  std::vector<UnitChange> units;
  std::vector<DeviceChange> devices;
  std::vector<std::pair<uint32_t, UnitStatus>> statuses;  // existing units: through dispatch

  auto unit_index = [&](const std::string& id) {
    auto idx = live_.find_unit(id);
    return idx ? *idx : live_.reserve_unit(id);
  };
  for (const auto& id : want.rota_units) {
    uint32_t idx = unit_index(id);
    auto rec = live_.unit(idx);
    UnitFields f = rec && rec->persisted ? rec->fields : UnitFields{};
    UnitFields next = f;
    auto duty = want.on_duty.find(id);
    if (duty != want.on_duty.end()) {
      if (next.status == UnitStatus::off_duty) next.status = UnitStatus::available;
      next.skills = duty->second;
    } else if (next.status == UnitStatus::available || next.status == UnitStatus::unavailable) {
      // Busy units (assigned, en route, on scene) finish their job first.
      next.status = UnitStatus::off_duty;
    }
    const bool persisted = rec && rec->persisted;
    if (!persisted || next.skills != f.skills) units.push_back({idx, id, next});  // a new unit's row has its status
    if (persisted && next.status != f.status) statuses.emplace_back(idx, next.status);
  }
  for (const auto& issi : rota_issis) {
    auto link = want.links.find(issi);
    uint32_t target = link == want.links.end() ? kNoIndex : unit_index(link->second);
    auto existing = live_.find_device(issi);
    if (!existing && target == kNoIndex) continue;
    uint32_t idx = existing ? *existing : live_.reserve_device(issi, DeviceKind::radio);
    auto rec = live_.device(idx);
    if (rec && rec->persisted && rec->unit == target) continue;
    // A radio whose shift ended is unlinked only from a rota unit; links
    // made by hand to other units are left alone.
    if (target == kNoIndex && rec && rec->unit != kNoIndex) {
      auto u = live_.unit(rec->unit);
      if (u && !want.rota_units.count(u->id)) continue;
    }
    devices.push_back({idx, issi, target});
  }
  auto change_statuses = [this, statuses] {
    for (const auto& [idx, st] : statuses) set_status_(idx, st);
  };
  if (units.empty() && devices.empty()) {
    change_statuses();
    in_flight_.store(false);
    return;
  }
  store_.submit(WriteJob{
      [units, devices](sql::Db& db) -> std::optional<std::string> {
        for (const auto& u : units)
          if (auto e = upsert_unit_row(db, u.idx, u.id, u.fields)) return e;
        for (const auto& d : devices)
          if (auto e = upsert_device_row(db, d.idx, d.id, DeviceKind::radio, d.unit)) return e;
        return std::nullopt;
      },
      [this, units, devices, change_statuses](const StoreResult& r) {
        if (r.ok) {
          for (const auto& u : units) live_.set_unit_details(u.idx, u.fields);
          for (const auto& d : devices) live_.link_device(d.idx, DeviceKind::radio, d.unit);
          log::info("rota", "applied", {{"units", std::to_string(units.size())}, {"links", std::to_string(devices.size())}});
          change_statuses();
        } else {
          log::error("rota", "could not apply", {{"error", r.error}});
        }
        in_flight_.store(false);
      }});
}

}  // namespace pm
