#pragma once
// Shifts (SPEC 2): boundaries at fixed local times of day (default 07:00,
// 14:00, 22:00 UK time). Patrol targets are per shift, the hot-spot alert
// counts from the shift's start, mileage and deployments are reported per
// shift.
//
// Local time comes from a POSIX TZ rule (the form glibc documents for TZ,
// e.g. "GMT0BST,M3.5.0/1,M10.5.0" for the UK; "UTC0" for none), so answers do
// not depend on the machine's zone database or on a process-wide TZ.
//
//   auto cal = ShiftCalendar::parse("07:00,14:00,22:00", "GMT0BST,M3.5.0/1,M10.5.0");   // Expected-like
//   Shift s = cal->at(now_ms);          // [start_ms, end_ms), label "2026-11-22 14:00"
//   for (auto& s : cal->between(from_ms, to_ms)) ...
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pm {

// A POSIX TZ rule: standard offset, optional daylight offset and the
// Mm.w.d[/time] rules that switch to and from it.
class PosixTz {
 public:
  static std::optional<PosixTz> parse(std::string_view spec);  // nullopt: not understood
  // Local time minus UTC at the UTC instant (milliseconds).
  int64_t offset_ms(int64_t utc_ms) const;
  // The UTC instant of a local wall-clock time (for times that exist once).
  int64_t to_utc(int64_t local_ms) const;

 private:
  struct Rule {
    int month = 0, week = 0, weekday = 0;  // Mm.w.d
    int64_t time_s = 7200;                 // local time of the switch (default 02:00)
  };
  int64_t local_switch_utc(int year, const Rule& r, int64_t offset_before_s) const;
  int64_t std_offset_s_ = 0;  // local - UTC, seconds
  std::optional<int64_t> dst_offset_s_;
  Rule start_, end_;
};

struct Shift {
  int64_t start_ms = 0;  // UTC, inclusive
  int64_t end_ms = 0;    // UTC, exclusive
  std::string label;     // local start, "YYYY-MM-DD HH:MM"
};

class ShiftCalendar {
 public:
  // boundaries: "HH:MM,HH:MM,..." (ascending, at least one); tz: a POSIX TZ
  // rule. The error says which part is wrong.
  static std::optional<ShiftCalendar> parse(std::string_view boundaries, std::string_view tz,
                                            std::string* error = nullptr);
  Shift at(int64_t utc_ms) const;
  // Every shift overlapping [from_ms, to_ms), in order (at most 10,000).
  std::vector<Shift> between(int64_t from_ms, int64_t to_ms) const;

 private:
  ShiftCalendar(std::vector<int> minutes, PosixTz tz) : minutes_(std::move(minutes)), tz_(tz) {}
  Shift make(int64_t local_day_ms, size_t i) const;
  std::vector<int> minutes_;  // local minutes of the day, ascending
  PosixTz tz_;
};

}  // namespace pm
