#include "server/state/rota_plan.hpp"

#include <algorithm>

namespace pm {

void RotaPlan::add(const std::vector<RotaRow>& rows) {
  for (const auto& r : rows) {
    auto same = std::find_if(shifts_.begin(), shifts_.end(), [&](const RotaRow& s) {
      return s.issi == r.issi && s.unit == r.unit && s.start == r.start && s.officer == r.officer;
    });
    if (same != shifts_.end()) *same = r;
    else shifts_.push_back(r);
  }
}

RotaEffect RotaPlan::effect_at(EpochMs now) const {
  RotaEffect e;
  std::map<std::string, EpochMs> link_start;
  for (const auto& s : shifts_) {
    e.rota_units.insert(s.unit);
    if (!(s.start <= now && now < s.end)) continue;
    auto& skills = e.on_duty[s.unit];
    for (const auto& k : s.skills)
      if (std::find(skills.begin(), skills.end(), k) == skills.end()) skills.push_back(k);
    if (s.issi.empty()) continue;
    auto it = link_start.find(s.issi);
    if (it == link_start.end() || s.start > it->second) {
      link_start[s.issi] = s.start;
      e.links[s.issi] = s.unit;
    }
  }
  for (auto& [unit, skills] : e.on_duty) std::sort(skills.begin(), skills.end());
  return e;
}

std::optional<EpochMs> RotaPlan::next_change_after(EpochMs now) const {
  std::optional<EpochMs> next;
  for (const auto& s : shifts_)
    for (EpochMs t : {s.start, s.end})
      if (t > now && (!next || t < *next)) next = t;
  return next;
}

void RotaPlan::prune(EpochMs before) {
  std::erase_if(shifts_, [&](const RotaRow& s) { return s.end < before; });
}

}  // namespace pm
