#pragma once
// The ping validation rules of SPEC section 3, pure: `now` is a parameter.
#include <optional>

#include "server/ingest/fix.hpp"

namespace pm {

struct IngestLimits {
  int64_t future_s = 60;
  int64_t too_old_s = 86400;  // 0 disables the check
};

// nullopt when the ping may be stored; otherwise the reason it may not.
std::optional<Rejection> validate_ping(const RawPing& p, EpochMs now, const IngestLimits& limits);

}  // namespace pm
