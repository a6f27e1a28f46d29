// Dispatch rules of SPEC section 4, each on a small ASCII map whose answer is
// known by construction (one character = 100 m unless said).
#include "server/dispatch/engine.hpp"

#include <gtest/gtest.h>

#include "server/dispatch/json.hpp"
#include "tests/unit/dispatch/scenario.hpp"

namespace pm::dispatch::test {
namespace {

TEST(DispatchScenario, RanksEligibleUnitsByEta) {
  Scenario s(R"(
    A . . . 1 . B
    . . . . . . .
    . . C . . . D
  )");
  s.unit('A', "A1");                               // 400 m
  s.unit('B', "B1");                               // 200 m
  s.unit('C', "C1");                               // hypot(200,200) = 283 m
  s.unit('D', "D1", {}, UnitStatus::unavailable);  // as close as C but not available
  auto id = s.create('1', 2);
  EXPECT_EQ(s.ranked(id), (std::vector<std::string>{"B1", "C1", "A1"}));
  auto recs = s.engine().recommend(*s.engine().incident(id), 5, s.now, s.live());
  ASSERT_EQ(recs.size(), 3u);
  // BNG scale factor near Leicester is ~0.9997: geodesic within 0.1% of grid metres.
  EXPECT_NEAR(recs[0].distance_m, 200, 0.2);
  EXPECT_NEAR(recs[1].distance_m, std::hypot(200, 200), 0.3);
  EXPECT_NEAR(recs[2].distance_m, 400, 0.4);
  EXPECT_NEAR(recs[0].eta_s, recs[0].distance_m / 11.0, 1e-9);
  EXPECT_FALSE(recs[0].road);
}

TEST(DispatchScenario, RequiredSkillsStaleFixesAndOffDutyExclude) {
  Scenario s(R"(
    A . B C 1 D . E
  )");
  s.unit('A', "ARV1", {"afo", "taser"});                      // 400 m
  s.unit('B', "DOG1", {"dog"});                               // 200 m
  s.unit('C', "STALE", {"afo"}, UnitStatus::available, 301);  // 100 m, fix older than stale_after_s
  s.unit('D', "OFF", {"afo"}, UnitStatus::off_duty);          // 100 m
  s.unit('E', "FRESH", {"afo"}, UnitStatus::available, 300);  // 300 m, exactly at the limit: still fresh
  auto id = s.create('1', 1, {"afo"});
  EXPECT_EQ(s.ranked(id), (std::vector<std::string>{"FRESH", "ARV1"}));
  auto all = s.create('1', 1);
  EXPECT_EQ(s.ranked(all), (std::vector<std::string>{"DOG1", "FRESH", "ARV1"}));
}

TEST(DispatchScenario, AssigningAnUnavailableUnitNeedsForceAndIsAMultipleDeployment) {
  Scenario s(R"(
    A . 1 . 2
  )");
  s.unit('A', "NA21");
  auto i1 = s.create('1', 2);
  auto i2 = s.create('2', 2);
  s.run(cmd::Assign{i1, s.idx("NA21"), false});
  EXPECT_EQ(s.status("NA21"), UnitStatus::assigned);
  auto refused = s.try_run(cmd::Assign{i2, s.idx("NA21"), false});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::conflict);
  EXPECT_EQ(s.engine().incident(i2)->status, IncidentStatus::open);
  auto again = s.try_run(cmd::Assign{i1, s.idx("NA21"), true});  // same incident twice, even forced
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::conflict);

  s.run(cmd::Assign{i2, s.idx("NA21"), true});
  const Incident* inc2 = s.engine().incident(i2);
  ASSERT_EQ(inc2->assignments.size(), 1u);
  EXPECT_TRUE(inc2->assignments[0].forced);
  EXPECT_FALSE(s.engine().incident(i1)->assignments[0].forced);
  EXPECT_EQ(s.engine().unit_incident(s.idx("NA21")), i2);

  // Cleared from the second, it goes back to the first rather than to available.
  s.run(cmd::Report{i2, s.idx("NA21"), Stage::cleared});
  EXPECT_EQ(s.status("NA21"), UnitStatus::assigned);
  EXPECT_EQ(s.engine().unit_incident(s.idx("NA21")), i1);
  s.run(cmd::Report{i1, s.idx("NA21"), Stage::cleared});
  EXPECT_EQ(s.status("NA21"), UnitStatus::available);
}

TEST(DispatchScenario, AssignedUnitArrivingIsOnSceneFromItsPings) {
  Scenario s(R"(
    A . . . . . . 1
  )",
             100);
  s.unit('A', "NA21");
  auto id = s.create('1', 1);
  s.now += 60'000;
  s.run(cmd::Assign{id, s.idx("NA21"), false});
  s.run(cmd::Report{id, s.idx("NA21"), Stage::en_route});
  EXPECT_EQ(s.status("NA21"), UnitStatus::en_route);
  s.now += 30'000;
  // 76 m short of the site: not there yet (arrival_radius_m = 75).
  geo::XY site = s.at('1');
  EXPECT_TRUE(events_of<ev::StageReached>(s.move_xy("NA21", {site.x - 76, site.y})).empty());
  EXPECT_EQ(s.engine().incident(id)->status, IncidentStatus::assigned);
  s.now += 10'000;
  auto evs = s.move_xy("NA21", {site.x - 74, site.y});
  auto stages = events_of<ev::StageReached>(evs);
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0]->stage, Stage::on_scene);
  EXPECT_TRUE(stages[0]->automatic);
  EXPECT_EQ(s.status("NA21"), UnitStatus::on_scene);
  const Incident* inc = s.engine().incident(id);
  EXPECT_EQ(inc->status, IncidentStatus::on_scene);
  EXPECT_EQ(*inc->response_ms(), 100'000);
  EXPECT_TRUE(inc->assignments[0].auto_on_scene);
  // A second ping at the scene changes nothing.
  s.now += 5'000;
  EXPECT_TRUE(s.move("NA21", '1').empty());
}

TEST(DispatchScenario, UnassignedUnitArrivingIsSelfDeployed) {
  Scenario s(R"(
    A . . 1 . . B
  )");
  s.unit('A', "NA21");
  s.unit('B', "NA22");
  auto id = s.create('1', 2);
  s.run(cmd::Assign{id, s.idx("NA22"), false});
  s.now += 20'000;
  auto evs = s.move("NA21", '1');
  auto self = events_of<ev::SelfDeployed>(evs);
  ASSERT_EQ(self.size(), 1u);
  EXPECT_EQ(self[0]->unit_id, "NA21");
  EXPECT_EQ(s.status("NA21"), UnitStatus::on_scene);
  const Incident* inc = s.engine().incident(id);
  ASSERT_EQ(inc->assignments.size(), 2u);
  EXPECT_TRUE(inc->assignments[1].self_deployed);
  EXPECT_EQ(inc->first_on_scene, s.now);
  EXPECT_EQ(inc->status, IncidentStatus::on_scene);
  // Cleared but still standing there: not a second self-deployment.
  s.run(cmd::Report{id, s.idx("NA21"), Stage::cleared});
  s.now += 5'000;
  EXPECT_TRUE(events_of<ev::SelfDeployed>(s.move("NA21", '1')).empty());
  EXPECT_EQ(s.status("NA21"), UnitStatus::available);
}

TEST(DispatchScenario, BusyUnitPassingAnotherIncidentIsNotSelfDeployed) {
  Scenario s(R"(
    A . 1 . . . 2
  )");
  s.unit('A', "NA21");
  auto i1 = s.create('1', 2);
  auto i2 = s.create('2', 2);
  s.run(cmd::Assign{i2, s.idx("NA21"), false});
  s.now += 10'000;
  EXPECT_TRUE(s.move("NA21", '1').empty());
  EXPECT_TRUE(s.engine().incident(i1)->assignments.empty());
}

TEST(DispatchScenario, CloseClearsEveryDeployedUnit) {
  Scenario s(R"(
    A 1 B
  )");
  s.unit('A', "NA21");
  s.unit('B', "NA22");
  auto id = s.create('1', 2);
  s.run(cmd::Assign{id, s.idx("NA21"), false});
  s.run(cmd::Assign{id, s.idx("NA22"), false});
  s.run(cmd::Report{id, s.idx("NA22"), Stage::on_scene});
  s.now += 600'000;
  s.run(cmd::Close{id});
  const Incident* inc = s.engine().incident(id);
  EXPECT_EQ(inc->status, IncidentStatus::closed);
  EXPECT_EQ(inc->closed, s.now);
  for (const auto& a : inc->assignments) EXPECT_EQ(a.cleared, s.now);
  EXPECT_EQ(s.status("NA21"), UnitStatus::available);
  EXPECT_EQ(s.status("NA22"), UnitStatus::available);
  EXPECT_EQ(s.try_run(cmd::Close{id}).error().code, Errc::conflict);
  EXPECT_EQ(s.try_run(cmd::Assign{id, s.idx("NA21"), false}).error().code, Errc::conflict);
  EXPECT_EQ(s.try_run(cmd::Close{999}).error().code, Errc::not_found);
}

TEST(DispatchScenario, StatusRulesKeepDeploymentsConsistent) {
  Scenario s(R"(
    A 1
  )");
  s.unit('A', "NA21");
  EXPECT_EQ(s.try_run(cmd::SetStatus{s.idx("NA21"), UnitStatus::en_route}).error().code, Errc::conflict);
  auto id = s.create('1', 2);
  s.run(cmd::Assign{id, s.idx("NA21"), false});
  EXPECT_EQ(s.try_run(cmd::SetStatus{s.idx("NA21"), UnitStatus::off_duty}).error().code, Errc::conflict);
  s.run(cmd::SetStatus{s.idx("NA21"), UnitStatus::en_route});  // the same as reporting en route
  EXPECT_NE(s.engine().incident(id)->assignments[0].en_route, 0);
  s.run(cmd::Report{id, s.idx("NA21"), Stage::cleared});
  s.run(cmd::SetStatus{s.idx("NA21"), UnitStatus::unavailable});
  EXPECT_EQ(s.status("NA21"), UnitStatus::unavailable);
}

TEST(DispatchScenario, GradeTargetsUrbanRuralAndAppointment) {
  Scenario s(R"(
    A 1
  )");
  s.unit('A', "NA21");
  EXPECT_EQ(s.engine().incident(s.create('1', 1, {}, {}, true))->deadline, s.now + 15 * 60'000);
  EXPECT_EQ(s.engine().incident(s.create('1', 1, {}, {}, false))->deadline, s.now + 20 * 60'000);
  EXPECT_EQ(s.engine().incident(s.create('1', 2))->deadline, s.now + 60 * 60'000);
  IncidentSpec g3;
  g3.grade = 3;
  g3.xy = s.at('1');
  g3.appointment_from = s.now + 3'600'000;
  g3.appointment_to = s.now + 7'200'000;
  auto evs = s.run(cmd::CreateIncident{g3});
  EXPECT_EQ(std::get<ev::IncidentCreated>(evs[0].body).incident.deadline, s.now + 7'200'000);
  g3.appointment_to = 0;
  evs = s.run(cmd::CreateIncident{g3});
  EXPECT_EQ(std::get<ev::IncidentCreated>(evs[0].body).incident.deadline, 0);  // no window, no target
  g3.grade = 4;
  EXPECT_EQ(s.try_run(cmd::CreateIncident{g3}).error().code, Errc::bad_request);
}

TEST(DispatchScenario, PredictedBreachWhenTheBestEtaExceedsTimeLeft) {
  // One character = 1 km. Grade 1 rural: 20 min. A is 12 km away: 12000/11 = 1091 s, fits 1200 s.
  Scenario s(R"(
    A . . . . . . . . . . . 1 . . . . . . . . . . . . . . . . . . . . . . . . . . . . . B
  )",
             1000);
  s.unit('A', "FAR");
  auto ok = s.create('1', 1, {}, {}, false);
  EXPECT_FALSE(s.engine().incident(ok)->breach_predicted);
  EXPECT_TRUE(s.engine().alerts(true).empty());
  // Urban: 15 min = 900 s < 1091 s: predicted at creation.
  auto late = s.create('1', 1, {}, {}, true);
  EXPECT_TRUE(s.engine().incident(late)->breach_predicted);
  auto alerts = s.engine().alerts(true);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]->kind, AlertKind::predicted_breach);
  EXPECT_EQ(alerts[0]->incident, late);
  EXPECT_NEAR(alerts[0]->eta_s, 12000 / 11.0, 2.0);
  EXPECT_NEAR(alerts[0]->time_left_s, 900, 1e-9);
  // Time passes with the unit still there: the rural one becomes predicted too once
  // 1200 - elapsed < 1091, i.e. after 109 s; not at 100 s.
  s.now += 100'000;
  s.run(cmd::Tick{});
  EXPECT_FALSE(s.engine().incident(ok)->breach_predicted);
  s.now += 10'000;
  s.run(cmd::Tick{});
  EXPECT_TRUE(s.engine().incident(ok)->breach_predicted);
  // A skill nobody has: nobody can come, predicted at once (ETA unknown).
  auto none = s.create('1', 2, {"dog"});
  EXPECT_TRUE(s.engine().incident(none)->breach_predicted);
}

TEST(DispatchScenario, BreachRecordedWhenTheTargetPassesOrArrivalIsLate) {
  Scenario s(R"(
    A 1
  )");
  s.unit('A', "NA21", {}, UnitStatus::unavailable);
  auto id = s.create('1', 1);  // urban: 15 min
  s.now += 15 * 60'000;
  s.run(cmd::Tick{});
  EXPECT_FALSE(s.engine().incident(id)->breached);  // exactly at the target: not yet
  s.now += 1;
  s.run(cmd::Tick{});
  EXPECT_TRUE(s.engine().incident(id)->breached);
  auto alerts = s.engine().alerts(true);
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(alerts[0]->kind, AlertKind::breach);
  s.run(cmd::Tick{});
  EXPECT_EQ(s.engine().alerts(false).size(), alerts.size());  // raised once
  // Late arrival without a tick in between is recorded as a breach too.
  auto id2 = s.create('1', 1);
  s.run(cmd::SetStatus{s.idx("NA21"), UnitStatus::available});
  s.run(cmd::Assign{id2, s.idx("NA21"), false});
  s.now += 16 * 60'000;
  s.run(cmd::Report{id2, s.idx("NA21"), Stage::on_scene});
  EXPECT_TRUE(s.engine().incident(id2)->breached);
  EXPECT_EQ(*s.engine().incident(id2)->response_ms(), 16 * 60'000);
  // Closing ends the incident's alerts.
  s.run(cmd::Close{id});
  for (const auto* a : s.engine().alerts(true)) EXPECT_NE(a->incident, id);
}

TEST(DispatchScenario, OfficerEmergencyAlertsWithNearestAvailableUnits) {
  Scenario s(R"(
    E . B . . C . . . . D
  )");
  s.unit('E', "NA21");
  s.unit('B', "NA22");
  s.unit('C', "NA23");
  s.unit('D', "NA24", {}, UnitStatus::unavailable);
  s.now += 1000;
  auto evs = s.move("NA21", 'E', true);
  auto raised = events_of<ev::AlertRaised>(evs);
  ASSERT_EQ(raised.size(), 1u);
  const Alert& a = raised[0]->alert;
  EXPECT_EQ(a.kind, AlertKind::officer_emergency);
  EXPECT_EQ(a.unit_id, "NA21");
  EXPECT_TRUE(a.has_position);
  ASSERT_EQ(a.nearest.size(), 2u);  // not itself, not the unavailable one
  EXPECT_EQ(a.nearest[0].unit_id, "NA22");
  EXPECT_EQ(a.nearest[1].unit_id, "NA23");
  EXPECT_TRUE(s.engine().unit_emergency(s.idx("NA21")));
  // Every report during the emergency carries the flag: one alert, not one per ping.
  s.now += 1000;
  EXPECT_TRUE(events_of<ev::AlertRaised>(s.move("NA21", 'E', true)).empty());
  s.run(cmd::AckAlert{a.id});
  EXPECT_FALSE(s.engine().unit_emergency(s.idx("NA21")));
  EXPECT_EQ(s.try_run(cmd::AckAlert{a.id}).error().code, Errc::conflict);
  // A position-less emergency (LIP reason 2 without a fix) uses the last known fix.
  auto em = s.run(cmd::Emergency{s.idx("NA22")});
  ASSERT_EQ(events_of<ev::AlertRaised>(em).size(), 1u);
  EXPECT_EQ(events_of<ev::AlertRaised>(em)[0]->alert.nearest[0].unit_id, "NA21");
}

TEST(DispatchScenario, RepeatLocationCallerAndFlaggedLocations) {
  // One character = 10 m; repeat_radius_m = 50.
  Scenario s(R"(
    1 . . . . 2 . . . . . 3
  )",
             10);
  auto first = s.create('1', 2, {}, "caller-7");
  EXPECT_FALSE(s.engine().incident(first)->flags.any());
  auto at50 = s.create('2', 2);  // exactly 50 m away: a repeat
  EXPECT_EQ(s.engine().incident(at50)->flags.repeat_location, (std::vector<uint64_t>{first}));
  auto at60 = s.create('3', 3, {}, "caller-7");  // 110 m from 1, 60 m from 2
  EXPECT_EQ(s.engine().incident(at60)->flags.repeat_location, (std::vector<uint64_t>{}));
  EXPECT_EQ(s.engine().incident(at60)->flags.repeat_caller, (std::vector<uint64_t>{first}));
  // Outside the window (365 days) they no longer count.
  s.now += 366LL * 86400 * 1000;
  auto later = s.create('1', 2, {}, "caller-7");
  EXPECT_FALSE(s.engine().incident(later)->flags.any());
  // A flagged location covering the point.
  FlaggedLocation l;
  auto ll = s.lonlat('2');
  l.lat = ll.lat;
  l.lon = ll.lon;
  l.xy = s.at('2');
  l.radius_m = 60;
  l.flags = {"vulnerable"};
  l.note = "elderly resident";
  s.run(cmd::FlagLocation{l});
  auto covered = s.create('3', 2);  // 60 m from 2
  ASSERT_EQ(s.engine().incident(covered)->flags.locations.size(), 1u);
  auto near = s.create('1', 2);  // 50 m from 2: covered as well
  EXPECT_EQ(s.engine().incident(near)->flags.locations.size(), 1u);
  l.radius_m = 49;
  s.run(cmd::FlagLocation{l});
  EXPECT_EQ(s.engine().incident(s.create('1', 2))->flags.locations.size(), 1u);  // only the 60 m one
  l.radius_m = 0;
  EXPECT_EQ(s.try_run(cmd::FlagLocation{l}).error().code, Errc::bad_request);
}

TEST(DispatchScenario, StoredEventsReplayToTheSameState) {
  Scenario s(R"(
    A . 1 . B . 2 . C
  )");
  s.unit('A', "NA21", {"taser"});
  s.unit('B', "NA22");
  s.unit('C', "NA23");
  auto i1 = s.create('1', 1, {}, "c1");
  auto i2 = s.create('2', 2, {"taser"}, "c1");
  s.run(cmd::Assign{i1, s.idx("NA21"), false});
  s.run(cmd::Assign{i2, s.idx("NA21"), true});
  s.now += 30'000;
  s.move("NA21", '1');
  s.move("NA22", '2');  // self-deploys
  s.move("NA23", 'C', true);
  s.now += 20 * 60'000;
  s.run(cmd::Tick{});
  s.run(cmd::Close{i1});
  s.run(cmd::PatrolGaps{{{"H1", "Spot 1", 52.6, -1.1, 9000, 120, 0}, {"H2", "Spot 2", 52.7, -1.2, 8000, 90, 0}},
                        s.now - 3 * 3600'000});
  s.run(cmd::AckAlert{s.engine().alerts(true).back()->id});

  auto dump = [](const Engine& e, EpochMs now) {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartArray();
    for (const auto* inc : e.incidents(std::nullopt, false)) write_incident(w, *inc, {now, &e});
    for (const auto* a : e.alerts(false)) write_alert(w, *a, &e);
    w.EndArray();
    return std::string(sb.GetString());
  };
  Engine replayed(s.engine().config());
  for (const auto& e : s.log()) {
    auto line = event_to_json(e);
    auto back = event_from_json(line, e.t);
    ASSERT_TRUE(back.has_value()) << line;
    EXPECT_EQ(event_to_json(*back), line);
    replayed.fold(*back);
  }
  EXPECT_EQ(dump(replayed, s.now), dump(s.engine(), s.now));
  EXPECT_EQ(replayed.next_incident_id(), s.engine().next_incident_id());
  EXPECT_FALSE(event_from_json(R"({"kind":"unit_assigned","incident":"x"})", 0).has_value());
  EXPECT_FALSE(event_from_json("not json", 0).has_value());
}

// SPEC 5: one alert per overdue hot spot; a visit (no longer overdue) ends
// it; an acknowledged spot stays quiet for the shift until somebody has been
// there after the acknowledgement.
TEST(DispatchScenario, PatrolGapAlertsFollowTheOverdueSet) {
  Scenario s(R"(
    A . .
  )");
  const EpochMs shift = s.now - 3 * 3600'000;
  using Area = cmd::PatrolGaps::Area;
  auto gaps = [&](std::vector<Area> a, EpochMs shift_start) { return s.run(cmd::PatrolGaps{std::move(a), shift_start}); };
  auto raised = gaps({{"H1", "Spot 1", 52.6, -1.1, 3 * 3600, 120, 0}, {"H2", "Spot 2", 52.7, -1.2, 3 * 3600, 120, 0}},
                     shift);
  ASSERT_EQ(raised.size(), 2u);
  auto active = s.engine().alerts(true);
  ASSERT_EQ(active.size(), 2u);
  EXPECT_EQ(active[0]->kind, AlertKind::patrol_gap);
  // The same set again: nothing new.
  EXPECT_TRUE(gaps({{"H1", "Spot 1", 52.6, -1.1, 3 * 3600 + 30, 120, 0},
                    {"H2", "Spot 2", 52.7, -1.2, 3 * 3600 + 30, 120, 0}},
                   shift)
                  .empty());
  // H1 visited: its alert ends, not acknowledged.
  auto ended = gaps({{"H2", "Spot 2", 52.7, -1.2, 3 * 3600 + 60, 120, 0}}, shift);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_FALSE(std::get<ev::AlertEnded>(ended[0].body).acknowledged);
  // H2 acknowledged: quiet while nobody has been there since.
  const uint64_t h2 = s.engine().alerts(true).front()->id;
  s.now += 1000;
  s.run(cmd::AckAlert{h2});
  const EpochMs acked = s.now;
  s.now += 60'000;
  EXPECT_TRUE(gaps({{"H2", "Spot 2", 52.7, -1.2, 3 * 3600 + 120, 120, 0}}, shift).empty());
  // Somebody came after the acknowledgement, left, and it is overdue again: raised again.
  EXPECT_EQ(gaps({{"H2", "Spot 2", 52.7, -1.2, 7300, 120, acked + 1}}, shift).size(), 1u);
  EXPECT_EQ(s.engine().alerts(true).size(), 1u);
  // A new shift: an acknowledgement of the last one does not silence it.
  s.run(cmd::AckAlert{s.engine().alerts(true).front()->id});
  s.now += 60'000;
  EXPECT_EQ(gaps({{"H2", "Spot 2", 52.7, -1.2, 7300, 120, 0}}, s.now).size(), 1u);
}

}  // namespace
}  // namespace pm::dispatch::test
