#include "server/core/errors.hpp"

#include <array>

namespace pm {
namespace {

constexpr std::array<ErrorInfo, kErrcCount> kCatalogue = {{
    {"bad_format", 400, "input could not be decoded"},
    {"bad_checksum", 400, "checksum does not match"},
    {"missing_field", 400, "a required field is missing"},
    {"bad_coordinate", 400, "coordinate is not a valid position"},
    {"no_fix", 400, "the device reports it has no position fix"},
    {"future_time", 400, "fix time is too far in the future"},
    {"too_old", 400, "fix time is older than the configured limit"},
    {"duplicate", 409, "a fix with this device and time is already stored"},
    {"unknown_device", 403, "device is not registered"},
    {"bad_request", 400, "request is malformed"},
    {"unauthorized", 401, "a valid bearer token is required"},
    {"forbidden", 403, "this token's role may not do that"},
    {"device_mismatch", 403, "a device token may only send pings for its own device"},
    {"not_found", 404, "no such resource"},
    {"method_not_allowed", 405, "method not allowed on this path"},
    {"conflict", 409, "the request conflicts with the current state"},
    {"body_too_large", 413, "request body exceeds the configured limit"},
    {"result_too_large", 413, "the answer would be too large; ask for a shorter window or fewer units"},
    {"batch_too_large", 413, "too many pings in one batch"},
    {"rate_limited", 429, "too many requests for this token"},
    {"overloaded", 503, "the store queue is full; retry shortly"},
    {"store_failed", 503, "the store could not commit; nothing was accepted"},
    {"internal", 500, "internal error"},
}};

}  // namespace

const ErrorInfo& error_info(Errc e) {
  auto i = static_cast<size_t>(e);
  return kCatalogue[i < kErrcCount ? i : static_cast<size_t>(Errc::internal)];
}

}  // namespace pm
