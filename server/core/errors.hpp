#pragma once
// The one error catalogue (as Valhalla's exceptions.cc): every expected failure
// has a stable API code string, an HTTP status, a message and a metric label.
// Clients see `code`; the enum never leaves the process.
//
//   return Error{Errc::bad_coordinate, "lat 95 out of range"};
//   http status: http_status(Errc::bad_coordinate) == 400
#include <cstdint>
#include <string>
#include <string_view>

namespace pm {

enum class Errc : uint8_t {
  // ping rejection reasons (SPEC section 3); the order is the metrics order
  bad_format,
  bad_checksum,
  missing_field,
  bad_coordinate,
  no_fix,
  future_time,
  too_old,
  duplicate,
  unknown_device,
  // request-level errors
  bad_request,
  unauthorized,
  forbidden,
  device_mismatch,
  not_found,
  method_not_allowed,
  conflict,
  body_too_large,
  result_too_large,
  batch_too_large,
  rate_limited,
  overloaded,
  store_failed,
  internal,
  kCount  // not an error: number of codes
};

constexpr size_t kErrcCount = static_cast<size_t>(Errc::kCount);
// Ping rejection reasons are the first codes, up to and including unknown_device.
constexpr size_t kPingReasonCount = static_cast<size_t>(Errc::unknown_device) + 1;

struct ErrorInfo {
  std::string_view code;     // stable API string, also the metric label
  unsigned http_status;
  std::string_view message;  // default human message
};

const ErrorInfo& error_info(Errc e);
inline std::string_view error_code(Errc e) { return error_info(e).code; }
inline unsigned http_status(Errc e) { return error_info(e).http_status; }

struct Error {
  Errc code = Errc::internal;
  std::string message;  // specific message; empty means the catalogue's default
  const std::string_view text() const {
    return message.empty() ? error_info(code).message : std::string_view(message);
  }
};

}  // namespace pm
