#pragma once
// What a loaded duty rota means at an instant, pure: which radio (ISSI) is
// linked to which unit, which units are on duty and with which skills.
//
//   RotaPlan plan; plan.add(rows);
//   RotaEffect e = plan.effect_at(now);
//   e.links["2001234"] == "NA21";  e.on_duty.count("NA21") == 1
#include <map>
#include <set>
#include <string>
#include <vector>

#include "server/ingest/rota.hpp"

namespace pm {

struct RotaEffect {
  std::map<std::string, std::string> links;                   // ISSI -> unit, for shifts running now
  std::map<std::string, std::vector<std::string>> on_duty;   // unit -> union of its on-duty officers' skills
  std::set<std::string> rota_units;                           // every unit the rota names
  friend bool operator==(const RotaEffect&, const RotaEffect&) = default;
};

class RotaPlan {
 public:
  // Adds shifts; a shift with the same (issi, unit, start) replaces the old one,
  // so loading the same file twice changes nothing.
  void add(const std::vector<RotaRow>& rows);
  // Shifts are [start, end): a shift ending at 14:00 and the next starting at
  // 14:00 hand over without a gap. When two running shifts name the same
  // ISSI, the one that started later wins (a radio handed over early).
  RotaEffect effect_at(EpochMs now) const;
  // The next instant after `now` at which effect_at can change (a shift start
  // or end), or nullopt when none is ahead.
  std::optional<EpochMs> next_change_after(EpochMs now) const;
  const std::vector<RotaRow>& shifts() const { return shifts_; }
  // Forgets shifts that ended before `before` (retention).
  void prune(EpochMs before);

 private:
  std::vector<RotaRow> shifts_;
};

}  // namespace pm
