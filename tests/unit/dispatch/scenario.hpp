#pragma once
// Dispatch scenarios from an ASCII map (as OSRM's Cucumber features and
// Valhalla's gurka tests build road graphs from ASCII art):
//
//   Scenario s(R"(
//     A . . . 1
//     . . B . .
//   )", 100);                       // one character = 100 m; letters are units, digits incident sites
//   s.unit('A', "NA21", {"taser"});  // places unit NA21 at A with a fresh fix
//   auto id = s.create('1', 1);      // grade-1 incident at site 1
//   s.move("NA21", '1');             // a ping at the site (auto arrival)
//
// Positions are laid out in British National Grid metres around Leicester,
// so distances are known by construction: |A1| = 400 m above.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "geo/geodesic.hpp"
#include "server/dispatch/engine.hpp"

namespace pm::dispatch::test {

inline constexpr EpochMs kT0 = 1795341600000;  // 2026-11-22T10:00:00Z

class Scenario {
 public:
  explicit Scenario(const std::string& map, double cell_m = 100, DispatchConfig cfg = {})
      : proj_(*geo::Projection::create("EPSG:27700")), live_(proj_, LonLatBox{}), engine_(cfg), cell_(cell_m) {
    std::istringstream in(map);
    std::string line;
    int row = 0;
    while (std::getline(in, line)) {
      std::istringstream cells(line);
      std::string tok;
      int col = 0;
      bool any = false;
      while (cells >> tok) {
        any = true;
        if (tok != ".") marks_[tok[0]] = geo::XY{kOriginX + col * cell_, kOriginY - row * cell_};
        ++col;
      }
      if (any) ++row;
    }
  }

  EpochMs now = kT0;
  LiveState& live() { return live_; }
  Engine& engine() { return engine_; }
  const geo::Projection& projection() const { return proj_; }

  geo::XY at(char mark) const {
    auto it = marks_.find(mark);
    EXPECT_NE(it, marks_.end()) << "no mark " << mark << " on the map";
    return it == marks_.end() ? geo::XY{} : it->second;
  }
  geo::LonLat lonlat(char mark) const { return proj_.inverse(at(mark)); }

  // A unit at `mark`, available, with a fix taken `age_s` ago.
  uint32_t unit(char mark, const std::string& id, std::vector<std::string> skills = {},
                UnitStatus status = UnitStatus::available, int64_t age_s = 0) {
    uint32_t idx = live_.reserve_unit(id);
    UnitFields f;
    f.skills = std::move(skills);
    f.status = status;
    live_.set_unit(idx, f);
    fix(idx, at(mark), now - age_s * 1000);
    return idx;
  }
  uint32_t idx(const std::string& id) const { return *live_.find_unit(id); }

  // A fix for the unit; decided and folded like the daemon does after commit.
  std::vector<Event> move(const std::string& id, char mark, bool emergency = false) {
    return move_xy(id, at(mark), emergency);
  }
  std::vector<Event> move_xy(const std::string& id, geo::XY xy, bool emergency = false) {
    uint32_t u = idx(id);
    Fix f = fix(u, xy, now, emergency);
    return run(cmd::Position{u, f.t, f.lat, f.lon, f.xy, emergency});
  }

  // Runs a command that must succeed, applying status changes to the registry.
  std::vector<Event> run(const Command& c) {
    auto r = try_run(c);
    EXPECT_TRUE(r.has_value()) << (r ? "" : std::string(r.error().text()));
    return r ? *r : std::vector<Event>{};
  }
  Expected<std::vector<Event>, Error> try_run(const Command& c) {
    auto r = engine_.run(c, now, live_);
    if (r) {
      for (const auto& e : *r) {
        log_.push_back(e);
        if (auto* s = std::get_if<ev::UnitStatusChanged>(&e.body)) live_.set_unit_status(s->unit, s->to);
      }
    }
    return r;
  }

  uint64_t create(char mark, int grade, std::vector<std::string> skills = {}, std::string caller = {},
                  bool urban = true) {
    IncidentSpec s;
    s.grade = grade;
    s.type = "test";
    auto ll = lonlat(mark);
    s.lat = ll.lat;
    s.lon = ll.lon;
    s.xy = at(mark);
    s.required_skills = std::move(skills);
    s.caller_ref = std::move(caller);
    s.urban = urban;
    auto ev = run(cmd::CreateIncident{s});
    const uint64_t id = ev.empty() ? 0 : std::get<ev::IncidentCreated>(ev.front().body).incident.id;
    run(cmd::Tick{id});  // as the service does: the new incident's grade clock at once
    return id;
  }

  std::vector<std::string> ranked(uint64_t incident, size_t k = 5) {
    std::vector<std::string> out;
    for (const auto& r : engine_.recommend(*engine_.incident(incident), k, now, live_)) out.push_back(r.unit_id);
    return out;
  }
  UnitStatus status(const std::string& id) { return live_.unit(idx(id))->fields.status; }
  const std::vector<Event>& log() const { return log_; }

 private:
  static constexpr double kOriginX = 458000, kOriginY = 305000;  // Leicester

  Fix fix(uint32_t u, geo::XY xy, EpochMs t, bool emergency = false) {
    Fix f;
    f.unit = u;
    f.t = t;
    auto ll = proj_.inverse(xy);
    f.lat = ll.lat;
    f.lon = ll.lon;
    f.xy = xy;
    f.emergency = emergency;
    live_.apply(std::span<const Fix>(&f, 1), std::vector<uint8_t>{1}, NewRecords{});
    return f;
  }

  geo::Projection proj_;
  LiveState live_;
  Engine engine_;
  double cell_;
  std::map<char, geo::XY> marks_;
  std::vector<Event> log_;
};

template <class T>
std::vector<const T*> events_of(const std::vector<Event>& evs) {
  std::vector<const T*> out;
  for (const auto& e : evs)
    if (auto* b = std::get_if<T>(&e.body)) out.push_back(b);
  return out;
}

}  // namespace pm::dispatch::test
