#include "server/api/report_util.hpp"

#include <cstdio>

#include "server/core/time_format.hpp"

namespace pm::report_util {

std::optional<std::pair<EpochMs, EpochMs>> week_window(std::string_view target, EpochMs now, std::string& error) {
  EpochMs from = now - 7 * kDayMs, to = now;
  for (auto [name, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    const std::string s = api_util::url_decode(api_util::query_param(target, name));
    if (s.empty()) continue;
    auto t = api_util::parse_time_param(s);
    if (!t) {
      error = std::string(name) + ": ISO 8601 UTC time or epoch milliseconds";
      return std::nullopt;
    }
    *out = *t;
  }
  if (!window_ok(from, to, error)) return std::nullopt;
  return std::pair{from, to};
}

bool window_ok(EpochMs from, EpochMs to, std::string& error) {
  if (to <= from) error = "to must be after from";
  else if (to - from > kMaxReportWindowMs) error = "the window is at most 31 days";
  else return true;
  return false;
}

void write_time(api_util::Writer& w, EpochMs ms) {
  char buf[24];
  format_iso8601(ms, buf);
  w.String(buf, 24);
}

void csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string num(double v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

}  // namespace pm::report_util
