#pragma once
// Wires the daemon together: store, live state, auth, pipeline, API, HTTP
// server and I/O threads. Integration tests run an App in-process on
// 127.0.0.1 port 0; main() runs one until SIGINT/SIGTERM.
//
//   Config cfg; ... cfg.http_listen = {"127.0.0.1", 0};
//   App app(cfg);                       // opens the store, recovers (throws on failure)
//   app.start();                        // binds, starts threads
//   auto token = app.add_token(Role::gateway, "test");
//   ... http://127.0.0.1:app.http_port()/api/v1/pings ...
//   app.stop();
#include <memory>
#include <string>

#include "server/auth/auth.hpp"
#include "server/core/config.hpp"
#include "server/core/metrics.hpp"
#include "server/state/live_state.hpp"
#include "server/store/store.hpp"

namespace pm {

class App {
 public:
  explicit App(const Config& cfg, const Clock* clock = nullptr);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  void start();      // throws std::runtime_error (e.g. port in use)
  void stop();       // idempotent; drains the store queue
  void wait();       // blocks until stop() (or a signal via stop())
  uint16_t http_port() const;
  uint16_t nmea_port() const;  // TCP and UDP
  uint16_t lip_port() const;   // TCP (PEI) and UDP (LIP)
  std::string http_host() const;

  // Creates a token through the store (blocking: not for I/O threads).
  std::string add_token(Role role, const std::string& name, const std::string& device = {});
  // Loads GeoJSON areas from a file (the demo's Rutland parishes and hot
  // spots) as POST /api/v1/areas?kind=default_kind does: the kinds in the
  // file (and default_kind) are replaced, others stay, and the result is
  // stored. After start(); blocks until stored. Returns the areas loaded in
  // all kinds; invalid features are skipped and logged. Throws when the file
  // cannot be read, is not GeoJSON or cannot be stored.
  size_t load_areas_file(const std::string& path, const std::string& default_kind);

  Metrics& metrics();
  LiveState& live();
  Store& store();
  const Config& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pm
