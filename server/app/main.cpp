// patrolmapd: the daemon's entry point. Parses the command line (SPEC
// section 12), then either adds a token or runs the server until a signal.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

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
    if (std::filesystem::exists(roads)) (void)values.set("roads.osm_file", roads);
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
      std::string dispatcher = app.add_token(Role::dispatcher, "demo-dispatcher");
      std::string gateway = app.add_token(Role::gateway, "demo-gateway");
      std::string host = app.http_host() == "0.0.0.0" ? "localhost" : app.http_host();
      std::string base = "http://" + host + ":" + std::to_string(app.http_port());
      std::printf("demo: open %s/#token=%s\n", base.c_str(), dispatcher.c_str());
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
      app.stop();
    });
    app.wait();  // returns once the waiter stopped the app
    waiter.join();
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
