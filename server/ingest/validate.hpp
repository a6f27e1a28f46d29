#pragma once
// The ping validation rules of SPEC section 3, pure: `now` is a parameter.
#include <optional>

#include "server/ingest/fix.hpp"

namespace pm {

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in epoch milliseconds.
constexpr EpochMs kMinFixTime = -62135596800000;
constexpr EpochMs kMaxFixTime = 253402300799999;

struct IngestLimits {
  int64_t future_s = 60;
  int64_t too_old_s = 86400;  // 0 disables the check
};

// nullopt when the ping may be stored; otherwise the reason it may not.
std::optional<Rejection> validate_ping(const RawPing& p, EpochMs now, const IngestLimits& limits);

}  // namespace pm
