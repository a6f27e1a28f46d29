#pragma once
// Structured logs, one logfmt line per event on stderr:
//   ts=2026-11-22T10:15:03.250Z level=info component=store msg="opened" path=/var/lib/patrolmap
// Officers' movements are personal data: never pass coordinates or tracks to
// a level above debug.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace pm::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level l);
bool parse_level(std::string_view s, Level& out);
bool enabled(Level l);

using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;
void write(Level l, std::string_view component, std::string_view msg, Fields fields = {});

inline void debug(std::string_view c, std::string_view m, Fields f = {}) { if (enabled(Level::debug)) write(Level::debug, c, m, f); }
inline void info(std::string_view c, std::string_view m, Fields f = {}) { write(Level::info, c, m, f); }
inline void warn(std::string_view c, std::string_view m, Fields f = {}) { write(Level::warn, c, m, f); }
inline void error(std::string_view c, std::string_view m, Fields f = {}) { write(Level::error, c, m, f); }

}  // namespace pm::log
