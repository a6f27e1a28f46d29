#include "server/core/log.hpp"

#include <atomic>
#include <cstdio>

#include "server/core/clock.hpp"
#include "server/core/time_format.hpp"

namespace pm::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};

void append_value(std::string& out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" =\"\n\t") != std::string_view::npos;
  if (!quote) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') { out.append("\\n"); continue; }
    out.push_back(c);
  }
  out.push_back('"');
}

constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};

}  // namespace

void set_level(Level l) { g_level.store(static_cast<int>(l)); }
bool enabled(Level l) { return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view s, Level& out) {
  for (int i = 0; i < 4; ++i)
    if (s == kNames[i]) {
      out = static_cast<Level>(i);
      return true;
    }
  return false;
}

void write(Level l, std::string_view component, std::string_view msg, Fields fields) {
  if (!enabled(l)) return;
  std::string line;
  line.reserve(160);
  line.append("ts=").append(format_iso8601(SystemClock().now_ms()));
  line.append(" level=").append(kNames[static_cast<int>(l)]);
  line.append(" component=").append(component);
  line.append(" msg=");
  append_value(line, msg);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k).push_back('=');
    append_value(line, v);
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines from threads don't interleave
}

}  // namespace pm::log
