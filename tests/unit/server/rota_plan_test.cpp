#include "server/state/rota_plan.hpp"

#include <gtest/gtest.h>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

EpochMs at(const char* iso) { return *parse_iso8601(iso); }

RotaRow shift(std::string officer, std::string issi, std::string unit, const char* start, const char* end,
              std::vector<std::string> skills) {
  RotaRow r;
  r.officer = std::move(officer);
  r.issi = std::move(issi);
  r.unit = std::move(unit);
  r.start = at(start);
  r.end = at(end);
  r.skills = std::move(skills);
  return r;
}

// Day shift 07-14 in NA21 (two officers), late shift 14-22 in NA21 with a new radio,
// and a radio handed from NA22 to NA23 at 10:00.
RotaPlan plan() {
  RotaPlan p;
  p.add({shift("PC Smith", "2001", "NA21", "2026-11-22T07:00:00Z", "2026-11-22T14:00:00Z", {"taser"}),
         shift("PC Jones", "2002", "NA21", "2026-11-22T07:00:00Z", "2026-11-22T14:00:00Z", {"first_aid", "taser"}),
         shift("PC Late", "2003", "NA21", "2026-11-22T14:00:00Z", "2026-11-22T22:00:00Z", {"afo"}),
         shift("PC Swap", "2004", "NA22", "2026-11-22T07:00:00Z", "2026-11-22T12:00:00Z", {}),
         shift("PC Swap", "2004", "NA23", "2026-11-22T10:00:00Z", "2026-11-22T18:00:00Z", {"dog"})});
  return p;
}

TEST(RotaPlan, BeforeAnyShiftEveryRotaUnitIsOffDuty) {
  auto e = plan().effect_at(at("2026-11-22T06:59:59Z"));
  EXPECT_TRUE(e.links.empty());
  EXPECT_TRUE(e.on_duty.empty());
  EXPECT_EQ(e.rota_units, (std::set<std::string>{"NA21", "NA22", "NA23"}));
}

TEST(RotaPlan, DayShiftLinksRadiosAndUnitesSkills) {
  auto e = plan().effect_at(at("2026-11-22T07:00:00Z"));
  EXPECT_EQ(e.links, (std::map<std::string, std::string>{{"2001", "NA21"}, {"2002", "NA21"}, {"2004", "NA22"}}));
  EXPECT_EQ(e.on_duty.at("NA21"), (std::vector<std::string>{"first_aid", "taser"}));
  EXPECT_TRUE(e.on_duty.count("NA22"));
  EXPECT_FALSE(e.on_duty.count("NA23"));
}

TEST(RotaPlan, LaterShiftWinsARadioInUseTwice) {
  auto e = plan().effect_at(at("2026-11-22T11:00:00Z"));
  EXPECT_EQ(e.links.at("2004"), "NA23");
  EXPECT_EQ(e.on_duty.at("NA23"), (std::vector<std::string>{"dog"}));
}

TEST(RotaPlan, HandoverAtShiftBoundaryHasNoGap) {
  auto e = plan().effect_at(at("2026-11-22T14:00:00Z"));
  EXPECT_EQ(e.links.count("2001"), 0u);  // the day shift's link ended at 14:00
  EXPECT_EQ(e.links.at("2003"), "NA21");
  EXPECT_EQ(e.on_duty.at("NA21"), (std::vector<std::string>{"afo"}));
  auto late = plan().effect_at(at("2026-11-22T22:00:00Z"));
  EXPECT_TRUE(late.on_duty.empty());
}

TEST(RotaPlan, ReloadingTheSameRotaChangesNothingAndNextChangeIsFound) {
  RotaPlan p = plan();
  p.add(plan().shifts());
  EXPECT_EQ(p.shifts().size(), 5u);
  EXPECT_EQ(p.next_change_after(at("2026-11-22T07:00:00Z")), at("2026-11-22T10:00:00Z"));
  EXPECT_EQ(p.next_change_after(at("2026-11-22T22:00:00Z")), std::nullopt);
  p.prune(at("2026-11-22T15:00:00Z"));
  EXPECT_EQ(p.shifts().size(), 2u);
}

}  // namespace
}  // namespace pm
