// patrolmapd: the daemon's entry point. Parses the command line (SPEC
// section 12), then either adds a token or runs the server until a signal.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include "server/app/app.hpp"
#include "server/app/cli.hpp"
#include "server/core/log.hpp"
#include "server/store/store.hpp"

namespace {

int fail(const std::string& why) {
  std::fprintf(stderr, "patrolmapd: %s\n", why.c_str());
  return 2;
}

std::string data_root() {
  const char* env = std::getenv("PATROLMAP_DATA");
  return env && *env ? env : "../shared/data";
}

// The demo's simulated shift: patrolsim (built beside patrolmapd) drives the
// daemon over its real channels with the Rutland scenario and dispatches
// what a person at the map leaves alone for a minute. Its progress goes to
// <data_dir>/patrolsim.log. Returns its pid, or -1 when it cannot run.
pid_t start_demo_fleet(const pm::App& app, const pm::Config& cfg, const std::string& gateway,
                       const std::string& dispatcher, const std::string& admin) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path sim = fs::read_symlink("/proc/self/exe", ec).parent_path() / "patrolsim";
  if (ec || !fs::exists(sim)) {
    pm::log::warn("demo", "patrolsim not found beside patrolmapd: no simulated fleet", {{"path", sim.string()}});
    return -1;
  }
  auto local = [](const std::string& host) { return host == "0.0.0.0" || host.empty() ? std::string("127.0.0.1") : host; };
  std::vector<std::string> args = {sim.string(),
                                   "--server", local(cfg.http_listen.host) + ":" + std::to_string(app.http_port()),
                                   "--nmea", local(cfg.nmea_listen.host) + ":" + std::to_string(app.nmea_port()),
                                   "--lip", local(cfg.lip_listen.host) + ":" + std::to_string(app.lip_port()),
                                   "--token", gateway, "--dispatcher-token", dispatcher, "--admin-token", admin,
                                   "--data", data_root(), "--auto-dispatch", "--dispatch-delay-s", "60",
                                   "--incidents-per-hour", "6"};
  if (std::string spots = cfg.data_dir + "/hotspots.geojson"; fs::exists(spots)) {
    args.push_back("--hotspots");  // the fleet patrols them too
    args.push_back(spots);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log_path = cfg.data_dir + "/patrolsim.log";
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;  // the daemon blocks SIGINT/SIGTERM for its signal thread; the child must not
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &files, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    pm::log::warn("demo", "cannot start patrolsim: no simulated fleet", {{"error", std::strerror(rc)}});
    return -1;
  }
  pm::log::info("demo", "simulated fleet started", {{"pid", std::to_string(pid)}, {"log", log_path}});
  return pid;
}

// SIGTERM, then SIGKILL if it has not exited within 5 seconds.
void stop_demo_fleet(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pm;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto [opts, err] = parse_cli(args);
  if (!opts) return fail(err);
  if (opts->mode == CliOptions::Mode::help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  ConfigValues values;
  if (opts->config_file)
    if (auto e = values.load_file(*opts->config_file)) return fail(*e);
  if (opts->demo) {
    // The demo lets any device in; explicit options below still win.
    (void)values.set("ingest.registration", "auto");
    (void)values.set("data_dir", "./patrolmap-demo-data");
    // Drive-time ETAs on Rutland's roads when the extract is there.
    std::string roads = data_root() + "/osm/rutland-latest.osm.pbf";
    if (std::filesystem::exists(roads)) {
      (void)values.set("roads.osm_file", roads);
      (void)values.set("basemap.osm_file", roads);  // and the map drawn from it, offline
    }
    // The dispatcher map built by `make web` (make demo runs from the repo root).
    if (values.get("http.web_root").empty() && std::filesystem::exists("web/dist/index.html"))
      (void)values.set("http.web_root", std::filesystem::absolute("web/dist").string());
  }
  for (const auto& [k, v] : opts->sets)
    if (auto e = values.set(k, v)) return fail(*e);
  Config cfg;
  if (auto e = Config::from(values, cfg)) return fail(*e);
  log::Level level;
  log::parse_level(cfg.log_level, level);
  log::set_level(level);

  if (opts->mode == CliOptions::Mode::tokens_add) {
    auto role = parse_role(opts->role);
    if (!role) return fail("unknown role '" + opts->role + "' (device, gateway, dispatcher, sergeant, manager, admin)");
    if (*role == Role::device && opts->device.empty()) return fail("the device role needs --device ID");
    sql::Db db;
    if (auto e = open_store_db(db, cfg.data_dir, cfg.store_synchronous)) return fail(*e);
    std::string token = generate_token();
    if (auto e = add_token(db, token, opts->name, *role, opts->device, SystemClock().now_ms())) return fail(*e);
    std::printf("%s\n", token.c_str());
    return 0;
  }

  // Signals are waited for on a dedicated thread, never in a handler.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  pid_t demo_fleet = -1;
  try {
    App app(cfg);
    app.start();
    std::printf("listening http %s:%u\n", app.http_host().c_str(), app.http_port());
    std::printf("listening nmea %s:%u\n", cfg.nmea_listen.host.c_str(), app.nmea_port());
    std::printf("listening lip %s:%u\n", cfg.lip_listen.host.c_str(), app.lip_port());
    std::fflush(stdout);
    if (opts->demo) {
      std::string parishes = data_root() + "/boundaries/rutland-parishes.geojson";
      if (std::filesystem::exists(parishes)) {
        size_t n = app.load_areas_file(parishes, "neighbourhood");
        log::info("demo", "areas loaded", {{"file", parishes}, {"areas", std::to_string(n)}});
      } else {
        log::warn("demo", "Rutland parishes not found; set PATROLMAP_DATA", {{"file", parishes}});
      }
      // Hot spots proposed from the crime file by tools/hotspots (make demo writes them).
      std::string hotspots = cfg.data_dir + "/hotspots.geojson";
      if (std::filesystem::exists(hotspots)) {
        size_t n = app.load_areas_file(hotspots, "hotspot");
        log::info("demo", "hot spots loaded", {{"file", hotspots}, {"areas", std::to_string(n)}});
      }
      std::string dispatcher = app.add_token(Role::dispatcher, "demo-dispatcher");
      std::string gateway = app.add_token(Role::gateway, "demo-gateway");
      demo_fleet = start_demo_fleet(app, cfg, gateway, app.add_token(Role::dispatcher, "demo-fleet"),
                                    app.add_token(Role::admin, "demo-fleet-admin"));
      std::string host = app.http_host() == "0.0.0.0" ? "localhost" : app.http_host();
      std::string base = "http://" + host + ":" + std::to_string(app.http_port());
      std::printf("demo: open %s/#token=%s\n", base.c_str(), dispatcher.c_str());
      std::printf("demo: sergeant's coverage page %s/sergeant.html#token=%s\n", base.c_str(),
                  app.add_token(Role::sergeant, "demo-sergeant").c_str());
      const std::string manager = app.add_token(Role::manager, "demo-manager");
      std::printf("demo: manager's reports page %s/manager.html#token=%s\n", base.c_str(), manager.c_str());
      std::printf("demo: replay of the shift %s/replay.html#token=%s\n", base.c_str(), manager.c_str());
      std::printf("demo: send a ping with\n  curl -s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n"
                  "    -d '{\"device\":\"NA21\",\"t\":'$(date +%%s%%3N)',\"lat\":52.6703,\"lon\":-0.7277,\"speed_mps\":8.1}' \\\n"
                  "    %s/api/v1/pings\n",
                  gateway.c_str(), base.c_str());
      std::fflush(stdout);
    }
    std::thread waiter([&] {
      int sig = 0;
      sigwait(&set, &sig);
      log::info("main", "signal received, stopping", {{"signal", std::to_string(sig)}});
      stop_demo_fleet(demo_fleet);  // first: it talks to the server
      app.stop();
    });
    app.wait();  // returns once the waiter stopped the app
    waiter.join();
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
