#pragma once
// A location fix on its way through the pipeline:
//   decode (RawPing, views into the wire buffer) -> validate -> resolve device
//   to unit (Fix, dense indexes) -> store -> live state.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

#include "server/core/channel.hpp"
#include "server/core/clock.hpp"
#include "server/core/errors.hpp"
#include "geo/types.hpp"

namespace pm {

constexpr uint32_t kNoIndex = std::numeric_limits<uint32_t>::max();
constexpr float kAbsent = std::numeric_limits<float>::quiet_NaN();

// The one rule for device and unit ids, on every channel and in the API:
// 1-64 characters of letters, digits, '-', '_', '.', ':' (ISSIs, IMEIs,
// callsigns such as NA21 and AVL-0231 all fit; nothing needs URL escaping).
constexpr bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.' || c == ':'))
      return false;
  return true;
}

// Decoded from the wire, not yet checked. `device` views the request buffer.
struct RawPing {
  std::string_view device;
  EpochMs t = 0;
  double lat = std::numeric_limits<double>::quiet_NaN();
  double lon = std::numeric_limits<double>::quiet_NaN();
  float speed_mps = kAbsent;  // NaN: not reported
  float heading_deg = kAbsent;
  float accuracy_m = kAbsent;
  bool emergency = false;
  // The device says it has no position (LIP "no shape" or 0,0). Only an
  // emergency is passed on like this: rejected as no_fix, it still raises the
  // officer emergency at the unit's last known position.
  bool no_fix = false;
};

// An accepted fix, device and unit resolved to dense indexes.
struct Fix {
  uint32_t device = kNoIndex;
  uint32_t unit = kNoIndex;  // kNoIndex: the device is linked to no unit
  EpochMs t = 0;
  double lat = 0;
  double lon = 0;
  geo::XY xy;  // projected once on the I/O thread, used by every consumer
  float speed_mps = kAbsent;
  float heading_deg = kAbsent;
  float accuracy_m = kAbsent;
  Channel channel = Channel::json;
  bool emergency = false;
};

// A ping the pipeline refused, by its position in the request.
struct Rejection {
  uint32_t index = 0;
  Errc code = Errc::bad_format;
  std::string_view detail;  // static text; empty = the catalogue message
};

}  // namespace pm
