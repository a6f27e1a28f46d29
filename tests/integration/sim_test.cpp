// The simulator against a real daemon: the patrolsim binary drives an
// in-process App (real clock, Rutland road network) over every channel for
// ten simulated minutes at 30x. Units appear with fixes from each channel, an
// incident is created at a crime location, auto-assigned, the unit drives
// there, the daemon puts it on scene from its pings, and it clears.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/support/data_dir.hpp"

extern char** environ;

namespace pm::itest {
namespace {

struct SimRun {
  int status = -1;
  bool timed_out = false;
  std::string err;
};

SimRun run_patrolsim(const std::vector<std::string>& args, const std::string& err_path, std::chrono::seconds timeout) {
  std::vector<std::string> all{PATROLSIM_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  SimRun r;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    r.err = "spawn failed";
    return r;
  }
  posix_spawn_file_actions_destroy(&fa);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  r.err = read_file(err_path);
  return r;
}

TEST(Simulator, TenMinutesOfShiftOverEveryChannel) {
  const std::string osm = test::data_dir() + "/osm/rutland-latest.osm.pbf";
  // The simulated clock runs 30x ahead of the daemon's: allow fixes up to an hour ahead.
  TestServer s({{"ingest.future_s", "3600"}, {"roads.osm_file", osm}}, /*real_clock=*/true);
  const std::string gateway = s.token(Role::gateway), dispatcher = s.token(Role::dispatcher),
                    admin = s.token(Role::admin);
  TempDir tmp;
  // The demo scenario with every unit on duty all day: the daemon's clock is
  // the real one, and some demo shifts may be over whenever the test runs.
  auto scenario = parse_json(read_file(std::string(PATROLMAP_SOURCE_DIR) + "/tools/sim/scenarios/rutland.json"));
  for (auto& u : scenario["units"].GetArray()) u.RemoveMember("shift");
  {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    scenario.Accept(w);
    std::ofstream(tmp.path() + "/scenario.json") << sb.GetString();
  }
  const auto t0 = std::chrono::steady_clock::now();
  SimRun r = run_patrolsim({"--scenario",
                            tmp.path() + "/scenario.json",
                            "--server",
                            "127.0.0.1:" + std::to_string(s.port()),
                            "--nmea",
                            "127.0.0.1:" + std::to_string(s.app().nmea_port()),
                            "--lip",
                            "127.0.0.1:" + std::to_string(s.app().lip_port()),
                            "--token",
                            gateway,
                            "--dispatcher-token",
                            dispatcher,
                            "--admin-token",
                            admin,
                            "--speedup",
                            "30",
                            "--duration",
                            "600",
                            "--seed",
                            "3",
                            "--incidents-per-hour",
                            "60",
                            "--auto-dispatch",
                            "--on-scene-s",
                            "60,90",
                            "--poll-s",
                            "0.5",
                            "--self-deploy",
                            "0",
                            "--dropout",
                            "0",
                            "--outage-prob",
                            "0"},
                           tmp.path() + "/sim.err", 90s);
  const auto wall = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_FALSE(r.timed_out) << r.err;
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(wall.count(), 60) << r.err;
  std::printf("%s", r.err.substr(r.err.size() > 1500 ? r.err.size() - 1500 : 0).c_str());

  // Every channel of the scenario delivered accepted pings.
  std::string page = s.metrics_page();
  for (const char* ch : {"json", "osmand", "nmea_udp", "nmea_tcp", "lip_udp", "pei_tcp"}) {
    auto v = metric(page, std::string("patrolmap_pings_accepted_total{channel=\"") + ch + "\"}");
    ASSERT_TRUE(v.has_value()) << ch;
    EXPECT_GT(*v, 0) << ch;
  }
  // All 30 units exist with their type and a fix; radio-only units by LIP/PEI, app units by OsmAnd.
  rapidjson::Document doc;
  auto units = s.units(doc);
  EXPECT_EQ(units.size(), 30u);
  std::set<std::string> sources;
  for (const auto& [id, u] : units) {
    EXPECT_FALSE((*u)["lat"].IsNull()) << id;
    if (!(*u)["source"].IsNull()) sources.insert((*u)["source"].GetString());
  }
  EXPECT_TRUE(units.count("RF01") && std::string((*units["RF01"])["type"].GetString()) == "foot");
  EXPECT_EQ(std::string((*units["RP03"])["source"].GetString()), "lip_udp");
  EXPECT_EQ(std::string((*units["RP02"])["source"].GetString()), "osmand");
  EXPECT_GE(sources.size(), 4u);

  // Incidents were created, assigned, reached (on scene from the pings) and cleared.
  auto res = s.request("GET", "/api/v1/incidents?limit=1000", {}, dispatcher);
  ASSERT_EQ(res.status, 200);
  auto inc = parse_json(res.body);
  const auto& list = inc["incidents"];
  EXPECT_GE(list.Size(), 2u);
  int auto_on_scene = 0, cleared = 0, closed = 0;
  for (const auto& i : list.GetArray()) {
    if (std::string(i["status"].GetString()) == "closed") ++closed;
    for (const auto& a : i["assignments"].GetArray()) {
      // A patrol passing an open incident may be self-deployed by the daemon; it clears too.
      if (a["auto_on_scene"].GetBool()) ++auto_on_scene;
      if (!a["cleared"].IsNull()) {
        ++cleared;
        EXPECT_FALSE(a["on_scene"].IsNull());
        if (!a["self_deployed"].GetBool()) {
          EXPECT_FALSE(a["en_route"].IsNull());
        }
      }
    }
  }
  EXPECT_GE(auto_on_scene, 1) << res.body;
  EXPECT_GE(cleared, 1) << res.body;
  EXPECT_GE(closed, 1) << res.body;
}

TEST(Simulator, UnreachableServerAndBadOptionsExitWithOneLine) {
  TempDir tmp;
  SimRun r = run_patrolsim({"--server", "127.0.0.1:1", "--token", "x", "--incidents-per-hour", "0"},
                           tmp.path() + "/a.err", 30s);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot reach patrolmapd"), std::string::npos) << r.err;
  r = run_patrolsim({"--speedup", "fast"}, tmp.path() + "/b.err", 10s);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--speedup"), std::string::npos) << r.err;
}

TEST(Simulator, DryRunsWithTheSameSeedAreIdentical) {
  TempDir tmp;
  auto dry = [&](const std::string& seed, const std::string& name) {
    SimRun r = run_patrolsim({"--dry-run", "--out", tmp.path() + "/" + name, "--duration", "600", "--seed", seed,
                              "--start", "2026-11-22T10:00:00Z"},
                             tmp.path() + "/" + name + ".err", 60s);
    EXPECT_EQ(r.status, 0) << r.err;
    return read_file(tmp.path() + "/" + name);
  };
  std::string a = dry("5", "a"), b = dry("5", "b"), c = dry("6", "c");
  EXPECT_GT(std::count(a.begin(), a.end(), '\n'), 2000);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// Load mode (benchmarks): N units on random walks at a rate over one channel.
// Every channel's pings reach the daemon: the count patrolsim reports sent is
// what the daemon counts accepted on that channel (loopback, no loss at this
// rate), and every unit shows up.
TEST(Simulator, LoadModeDeliversEveryChannel) {
  TestServer s({{"ingest.registration", "auto"}}, /*real_clock=*/true);
  const std::string gateway = s.token(Role::gateway);
  TempDir tmp;
  // (Load mode sends OsmAnd timestamps in milliseconds: in whole seconds, as
  // Traccar Client does, a device pinging at 2 Hz would repeat a second and
  // the daemon would rightly reject duplicates.)
  struct Case {
    std::string channel, counted;
    int rate;
  };
  for (const auto& [channel, counted, rate] : std::vector<Case>{{"json", "json", 2},
                                                                 {"nmea", "nmea_udp", 2},
                                                                 {"lip", "lip_udp", 2},
                                                                 {"pei", "pei_tcp", 2},
                                                                 {"osmand", "osmand", 2}}) {
    SCOPED_TRACE(channel);
    SimRun r = run_patrolsim({"--server", "127.0.0.1:" + std::to_string(s.port()), "--nmea",
                              "127.0.0.1:" + std::to_string(s.app().nmea_port()), "--lip",
                              "127.0.0.1:" + std::to_string(s.app().lip_port()), "--token", gateway, "--load", "200",
                              "--rate", std::to_string(rate), "--channel", channel, "--duration", "3", "--seed", "7",
                              "--data", test::data_dir()},
                             tmp.path() + "/" + channel + ".err", 60s);
    ASSERT_FALSE(r.timed_out) << r.err;
    ASSERT_EQ(r.status, 0) << r.err;
    auto at = r.err.find("done: ");
    ASSERT_NE(at, std::string::npos) << r.err;
    const long sent = std::strtol(r.err.c_str() + at + 6, nullptr, 10);
    EXPECT_GE(sent, 200 * rate * 3 * 8 / 10) << r.err;  // about units x rate x seconds
    EXPECT_NE(r.err.find("errors 0"), std::string::npos) << r.err;
    // UDP and TCP pings are committed asynchronously: wait for the count.
    std::optional<double> accepted;
    for (int i = 0; i < 100; ++i) {
      accepted = metric(s.metrics_page(), "patrolmap_pings_accepted_total{channel=\"" + counted + "\"}");
      if (accepted && *accepted >= static_cast<double>(sent)) break;
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(accepted.has_value());
    EXPECT_EQ(static_cast<long>(*accepted), sent) << r.err;
  }
  // Radios (lip, pei) are ISSIs 3000000-3000199, the other devices SIM-000000-199:
  // the same 200 units per kind whatever the channel, 400 in all.
  auto health = parse_json(s.request("GET", "/healthz").body);
  EXPECT_EQ(health["live_units"].GetInt(), 400);
}

}  // namespace
}  // namespace pm::itest
