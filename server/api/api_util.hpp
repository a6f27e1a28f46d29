#pragma once
// Helpers shared by the API's translation units (api.cpp, dispatch_api.cpp).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

#include "server/core/errors.hpp"

namespace pm::api_util {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void write_sv(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

std::string url_decode(std::string_view s);
// The value of `name` in the query string of `target` (not decoded).
std::string_view query_param(std::string_view target, std::string_view name);

struct Parsed {
  rapidjson::Document doc;
  std::optional<Error> error;
};
Parsed parse_object(const std::string& body);

}  // namespace pm::api_util
