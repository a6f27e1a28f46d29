#include "server/app/cli.hpp"

namespace pm {

std::string usage() {
  return R"(patrolmapd: real-time dispatch and patrol mapping server

Usage:
  patrolmapd [--config FILE] [--listen HOST:PORT] [--data-dir DIR]
             [--nmea-listen HOST:PORT] [--lip-listen HOST:PORT] [--demo]
             [--set KEY=VALUE ...]
  patrolmapd tokens add --data-dir DIR --role ROLE --name NAME [--device ID]
  patrolmapd --help

Options:
  --config FILE          INI-style config file (see docs/operations.md for every key)
  --listen HOST:PORT     main port: API, WebSocket, pages (default 0.0.0.0:8080; port 0 = any free port)
  --data-dir DIR         where the store lives (default ./patrolmap-data)
  --nmea-listen H:P      NMEA 0183 over TCP and UDP (default 0.0.0.0:5010)
  --lip-listen H:P       TETRA PEI over TCP and LIP over UDP (default 0.0.0.0:5020)
  --demo                 auto-register devices, load the Rutland demo areas, print a signed-in URL
  --set KEY=VALUE        override any config key, e.g. --set ingest.too_old_s=0
  --help                 this text

Command-line options override the config file. For each listener the daemon
prints one line to stdout once it is bound: "listening <name> <host>:<port>".

tokens add: creates a bearer token, prints it once (only its SHA-256 is stored).
  ROLE is one of device, gateway, dispatcher, sergeant, manager, admin;
  --device is required for the device role (the one device it may send for).
)";
}

std::pair<std::optional<CliOptions>, std::string> parse_cli(const std::vector<std::string>& args) {
  CliOptions o;
  size_t i = 0;
  if (!args.empty() && args[0] == "tokens") {
    if (args.size() < 2 || args[1] != "add") return {std::nullopt, "unknown tokens command (expected: tokens add)"};
    o.mode = CliOptions::Mode::tokens_add;
    i = 2;
  }
  auto value = [&](const std::string& opt) -> std::optional<std::string> {
    if (i + 1 >= args.size()) return std::nullopt;
    (void)opt;
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string opt = a, inline_value;
    bool has_inline = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos && a.rfind("--set", 0) != 0) {
      opt = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
      has_inline = true;
    }
    auto take = [&]() -> std::optional<std::string> { return has_inline ? std::optional(inline_value) : value(opt); };
    if (opt == "--help" || opt == "-h") {
      o.mode = CliOptions::Mode::help;
      return {o, ""};
    }
    static const std::pair<const char*, const char*> kMapped[] = {
        {"--listen", "http.listen"}, {"--data-dir", "data_dir"}, {"--nmea-listen", "nmea.listen"}, {"--lip-listen", "lip.listen"}};
    bool mapped = false;
    for (auto [flag, key] : kMapped)
      if (opt == flag) {
        auto v = take();
        if (!v) return {std::nullopt, opt + " needs a value"};
        o.sets.emplace_back(key, *v);
        mapped = true;
      }
    if (mapped) continue;
    if (opt == "--config") {
      auto v = take();
      if (!v) return {std::nullopt, "--config needs a file"};
      o.config_file = *v;
    } else if (opt == "--demo") {
      o.demo = true;
    } else if (a == "--set" || a.rfind("--set=", 0) == 0) {
      std::optional<std::string> kv = a == "--set" ? value(a) : std::optional(a.substr(6));
      if (!kv) return {std::nullopt, "--set needs KEY=VALUE"};
      auto eq = kv->find('=');
      if (eq == std::string::npos || eq == 0) return {std::nullopt, "--set needs KEY=VALUE, got '" + *kv + "'"};
      o.sets.emplace_back(kv->substr(0, eq), kv->substr(eq + 1));
    } else if (o.mode == CliOptions::Mode::tokens_add && (opt == "--role" || opt == "--name" || opt == "--device")) {
      auto v = take();
      if (!v) return {std::nullopt, opt + " needs a value"};
      (opt == "--role" ? o.role : opt == "--name" ? o.name : o.device) = *v;
    } else {
      return {std::nullopt, "unknown option '" + a + "' (see --help)"};
    }
  }
  if (o.mode == CliOptions::Mode::tokens_add) {
    if (o.role.empty() || o.name.empty()) return {std::nullopt, "tokens add needs --role and --name"};
  }
  return {o, ""};
}

}  // namespace pm
