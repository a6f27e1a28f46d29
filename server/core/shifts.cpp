#include "server/core/shifts.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace pm {
namespace {

constexpr int64_t kDayMs = 86'400'000;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Reads [+-]hh[:mm[:ss]] as seconds; advances `s`.
std::optional<int64_t> read_hms(std::string_view& s) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int64_t total = 0;
  for (int part = 0; part < 3; ++part) {
    if (part > 0) {
      if (s.empty() || s[0] != ':') break;
      s.remove_prefix(1);
    }
    int64_t v = 0;
    size_t n = 0;
    while (n < s.size() && n < 3 && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
    if (n == 0) return std::nullopt;
    s.remove_prefix(n);
    total += v * (part == 0 ? 3600 : part == 1 ? 60 : 1);
  }
  return sign * total;
}

bool read_name(std::string_view& s) {
  size_t n = 0;
  if (!s.empty() && s[0] == '<') {
    n = s.find('>');
    if (n == std::string_view::npos) return false;
    s.remove_prefix(n + 1);
    return true;
  }
  while (n < s.size() && ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))) ++n;
  if (n < 3) return false;
  s.remove_prefix(n);
  return true;
}

std::optional<int> read_int(std::string_view& s) {
  int v = 0;
  size_t n = 0;
  while (n < s.size() && n < 3 && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
  if (n == 0) return std::nullopt;
  s.remove_prefix(n);
  return v;
}

int64_t days_from_civil(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}}.time_since_epoch().count();
}

}  // namespace

std::optional<PosixTz> PosixTz::parse(std::string_view s) {
  PosixTz tz;
  if (!read_name(s)) return std::nullopt;
  auto std_off = read_hms(s);
  if (!std_off) return std::nullopt;
  tz.std_offset_s_ = -*std_off;  // POSIX offsets are west-positive
  if (s.empty()) return tz;
  if (!read_name(s)) return std::nullopt;
  int64_t dst = tz.std_offset_s_ + 3600;
  if (!s.empty() && s[0] != ',') {
    auto o = read_hms(s);
    if (!o) return std::nullopt;
    dst = -*o;
  }
  tz.dst_offset_s_ = dst;
  for (Rule* r : {&tz.start_, &tz.end_}) {
    if (s.size() < 2 || s[0] != ',' || s[1] != 'M') return std::nullopt;
    s.remove_prefix(2);
    auto m = read_int(s);
    if (!m || *m < 1 || *m > 12 || s.empty() || s[0] != '.') return std::nullopt;
    s.remove_prefix(1);
    auto w = read_int(s);
    if (!w || *w < 1 || *w > 5 || s.empty() || s[0] != '.') return std::nullopt;
    s.remove_prefix(1);
    auto d = read_int(s);
    if (!d || *d > 6) return std::nullopt;
    *r = Rule{*m, *w, *d, 7200};
    if (!s.empty() && s[0] == '/') {
      s.remove_prefix(1);
      auto t = read_hms(s);
      if (!t) return std::nullopt;
      r->time_s = *t;
    }
  }
  if (!s.empty()) return std::nullopt;
  return tz;
}

// The UTC instant (seconds) at which rule `r` fires in `year`, the clock
// showing offset_before_s just before.
int64_t PosixTz::local_switch_utc(int year, const Rule& r, int64_t offset_before_s) const {
  using namespace std::chrono;
  const sys_days first{std::chrono::year{year} / month{static_cast<unsigned>(r.month)} / 1};
  const int first_wd = static_cast<int>(weekday{first}.c_encoding());
  int day = 1 + (r.weekday - first_wd + 7) % 7 + (r.week - 1) * 7;
  const int days_in_month = static_cast<int>(static_cast<unsigned>(
      year_month_day_last{std::chrono::year{year} / month{static_cast<unsigned>(r.month)} / std::chrono::last}.day()));
  while (day > days_in_month) day -= 7;  // week 5: the last such weekday
  const int64_t local_s = days_from_civil(year, static_cast<unsigned>(r.month), static_cast<unsigned>(day)) * 86400 + r.time_s;
  return local_s - offset_before_s;
}

int64_t PosixTz::offset_ms(int64_t utc_ms) const {
  if (!dst_offset_s_) return std_offset_s_ * 1000;
  using namespace std::chrono;
  const int64_t utc_s = floor_div(utc_ms, 1000);
  const int y = static_cast<int>(year_month_day{sys_days{days{floor_div(utc_s, 86400)}}}.year());
  const int64_t on = local_switch_utc(y, start_, std_offset_s_);
  const int64_t off = local_switch_utc(y, end_, *dst_offset_s_);
  const bool dst = on < off ? (utc_s >= on && utc_s < off) : (utc_s >= on || utc_s < off);  // southern hemisphere
  return (dst ? *dst_offset_s_ : std_offset_s_) * 1000;
}

int64_t PosixTz::to_utc(int64_t local_ms) const {
  int64_t u = local_ms - offset_ms(local_ms - std_offset_s_ * 1000);
  return local_ms - offset_ms(u);
}

std::optional<ShiftCalendar> ShiftCalendar::parse(std::string_view boundaries, std::string_view tz_spec,
                                                  std::string* error) {
  auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return std::nullopt;
  };
  auto tz = PosixTz::parse(tz_spec);
  if (!tz) return fail("not a POSIX TZ rule such as GMT0BST,M3.5.0/1,M10.5.0");
  std::vector<int> minutes;
  std::string_view s = boundaries;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    int h = 0, m = 0;
    if (part.size() != 5 || part[2] != ':' || std::sscanf(std::string(part).c_str(), "%2d:%2d", &h, &m) != 2 ||
        h > 23 || m > 59 || h < 0 || m < 0)
      return fail("shift boundary '" + std::string(part) + "' is not HH:MM");
    if (!minutes.empty() && h * 60 + m <= minutes.back()) return fail("shift boundaries must ascend");
    minutes.push_back(h * 60 + m);
  }
  if (minutes.empty()) return fail("at least one shift boundary");
  return ShiftCalendar(std::move(minutes), *tz);
}

Shift ShiftCalendar::make(int64_t local_day_ms, size_t i) const {
  while (i >= minutes_.size()) {
    i -= minutes_.size();
    local_day_ms += kDayMs;
  }
  const int64_t start_local = local_day_ms + int64_t{minutes_[i]} * 60'000;
  const int64_t end_local = i + 1 < minutes_.size() ? local_day_ms + int64_t{minutes_[i + 1]} * 60'000
                                                    : local_day_ms + kDayMs + int64_t{minutes_[0]} * 60'000;
  Shift s{tz_.to_utc(start_local), tz_.to_utc(end_local), {}};
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{floor_div(local_day_ms, kDayMs)}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), minutes_[i] / 60, minutes_[i] % 60);
  s.label = buf;
  return s;
}

Shift ShiftCalendar::at(int64_t utc_ms) const {
  const int64_t local = utc_ms + tz_.offset_ms(utc_ms);
  int64_t day = floor_div(local, kDayMs) * kDayMs;
  const int minute = static_cast<int>((local - day) / 60'000);
  auto it = std::upper_bound(minutes_.begin(), minutes_.end(), minute);
  if (it == minutes_.begin()) return make(day - kDayMs, minutes_.size() - 1);
  return make(day, static_cast<size_t>(it - minutes_.begin() - 1));
}

std::vector<Shift> ShiftCalendar::between(int64_t from_ms, int64_t to_ms) const {
  std::vector<Shift> out;
  if (to_ms <= from_ms) return out;
  Shift s = at(from_ms);
  while (s.start_ms < to_ms && out.size() < 10'000) {
    const int64_t next = s.end_ms;
    out.push_back(std::move(s));
    s = at(next);
  }
  return out;
}

}  // namespace pm
