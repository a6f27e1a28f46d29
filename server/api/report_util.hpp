#pragma once
// Helpers shared by the report endpoints (coverage_api.cpp, reports_api.cpp):
// the report window, CSV fields (RFC 4180) and numbers, ISO 8601 in JSON.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "server/api/api_util.hpp"

namespace pm::report_util {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kMaxReportWindowMs = 31 * kDayMs;

// `from` and `to` of the query (ISO 8601 UTC or epoch ms), each optional:
// by default the 7 days up to `now`. nullopt with `error` set when a value is
// unreadable, to is not after from, or the window is longer than 31 days.
// False with `error` set when to is not after from or the window is longer than 31 days.
bool window_ok(EpochMs from, EpochMs to, std::string& error);
std::optional<std::pair<EpochMs, EpochMs>> week_window(std::string_view target, EpochMs now, std::string& error);

void write_time(api_util::Writer& w, EpochMs ms);
// A CSV field: quoted when it holds a comma, quote or line break.
void csv_field(std::string& out, std::string_view v);
// A number with at most 3 decimals, trailing zeros dropped ("12.5", "3").
std::string num(double v);

}  // namespace pm::report_util
