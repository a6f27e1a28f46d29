#pragma once
// Helpers shared by the API's translation units (api.cpp, dispatch_api.cpp).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/clock.hpp"

#include "server/core/errors.hpp"

namespace pm::api_util {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void write_sv(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

std::string url_decode(std::string_view s);
// The value of `name` in the query string of `target` (not decoded).
std::string_view query_param(std::string_view target, std::string_view name);
// Every value of a repeated parameter (`unit=A&unit=B`), in order, not decoded.
std::vector<std::string_view> query_params(std::string_view target, std::string_view name);
// A time parameter (decoded): ISO 8601 UTC, or epoch milliseconds (digits only).
std::optional<EpochMs> parse_time_param(std::string_view decoded);

struct Parsed {
  rapidjson::Document doc;
  std::optional<Error> error;
};
Parsed parse_object(const std::string& body);

}  // namespace pm::api_util
