#pragma once
// Command-line parsing for patrolmapd (SPEC section 12), pure: argv in,
// options or a one-line error out.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pm {

struct CliOptions {
  enum class Mode { serve, tokens_add, help } mode = Mode::serve;
  std::optional<std::string> config_file;
  bool demo = false;
  // Overrides in the order given: options and --set KEY=VALUE, applied after the file.
  std::vector<std::pair<std::string, std::string>> sets;
  // tokens add
  std::string role, name, device;
};

// Returns the options, or an error message (one line).
std::pair<std::optional<CliOptions>, std::string> parse_cli(const std::vector<std::string>& args);
std::string usage();

}  // namespace pm
