#pragma once
// ISO 8601 UTC timestamps in and out.
//
//   parse_iso8601("2026-11-22T10:15:03.250Z") -> 1795342503250
//   format_iso8601(1795342503250) -> "2026-11-22T10:15:03.250Z"
// Accepted: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM|+HHMM); 'T' may be a space.
#include <optional>
#include <string>
#include <string_view>

#include "server/core/clock.hpp"

namespace pm {

std::optional<EpochMs> parse_iso8601(std::string_view s);
std::string format_iso8601(EpochMs t);
// Writes exactly 24 characters (YYYY-MM-DDTHH:MM:SS.mmmZ) into out; no allocation.
void format_iso8601(EpochMs t, char out[24]);
// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace pm
