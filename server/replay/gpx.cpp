#include "server/replay/gpx.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

// Counts occurrences of `<name` followed by whitespace, '>' or '/'.
size_t count_tags(std::string_view s, std::string_view name) {
  size_t n = 0;
  for (size_t p = s.find(name); p != std::string_view::npos; p = s.find(name, p + 1)) {
    size_t after = p + name.size();
    if (after < s.size() && (s[after] == ' ' || s[after] == '>' || s[after] == '/' || s[after] == '\t' ||
                             s[after] == '\n' || s[after] == '\r'))
      ++n;
  }
  return n;
}

// The value of attribute `name` in the start tag `tag` (without '<' and '>').
std::optional<std::string_view> attribute(std::string_view tag, std::string_view name) {
  for (size_t p = tag.find(name); p != std::string_view::npos; p = tag.find(name, p + 1)) {
    if (p == 0 || !(tag[p - 1] == ' ' || tag[p - 1] == '\t' || tag[p - 1] == '\n' || tag[p - 1] == '\r')) continue;
    size_t q = p + name.size();
    while (q < tag.size() && (tag[q] == ' ' || tag[q] == '\t')) ++q;
    if (q >= tag.size() || tag[q] != '=') continue;
    ++q;
    while (q < tag.size() && (tag[q] == ' ' || tag[q] == '\t')) ++q;
    if (q >= tag.size() || (tag[q] != '"' && tag[q] != '\'')) return std::nullopt;
    size_t end = tag.find(tag[q], q + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return tag.substr(q + 1, end - q - 1);
  }
  return std::nullopt;
}

std::optional<double> number(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Text of the first child element `<name>...</name>` inside `body`.
std::optional<std::string_view> child(std::string_view body, std::string_view open, std::string_view close) {
  size_t a = body.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  a += open.size();
  size_t b = body.find(close, a);
  if (b == std::string_view::npos) return std::nullopt;
  return body.substr(a, b - a);
}

}  // namespace

std::optional<std::string> parse_gpx(std::string_view body, GpxTrack& out, size_t max_points) {
  out = GpxTrack{};
  if (count_tags(body, "<gpx") == 0) return "not a GPX document (no <gpx> element)";
  out.ignored_waypoints = count_tags(body, "<wpt") + count_tags(body, "<rtept");
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  size_t pos = 0;
  for (;;) {
    size_t p = body.find("<trkpt", pos);
    if (p == std::string_view::npos) break;
    size_t gt = body.find('>', p);
    if (gt == std::string_view::npos) return "unterminated <trkpt> tag";
    std::string_view tag = body.substr(p + 1, gt - p - 1);
    pos = gt + 1;
    if (tag.size() > 5 && !(tag[5] == ' ' || tag[5] == '\t' || tag[5] == '\n' || tag[5] == '\r' || tag[5] == '/'))
      continue;  // some other element starting with "trkpt"
    auto lat_s = attribute(tag, "lat");
    auto lon_s = attribute(tag, "lon");
    auto lat = lat_s ? number(*lat_s) : std::nullopt;
    auto lon = lon_s ? number(*lon_s) : std::nullopt;
    if (!lat || !lon || *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180)
      return "trkpt " + std::to_string(out.points.size() + out.skipped_no_time + 1) + ": bad or missing lat/lon";
    std::string_view inner;
    if (tag.empty() || tag.back() != '/') {
      size_t end = body.find("</trkpt>", pos);
      if (end == std::string_view::npos) return "unterminated <trkpt> element";
      inner = body.substr(pos, end - pos);
      pos = end + 8;
    }
    auto time_s = child(inner, "<time>", "</time>");
    auto t = time_s ? parse_iso8601(*time_s) : std::nullopt;
    if (!t) {
      ++out.skipped_no_time;
      continue;
    }
    if (out.points.size() >= max_points) return "more than " + std::to_string(max_points) + " track points";
    GpxPoint g{*t, *lat, *lon, kNaN, kNaN};
    if (auto s = child(inner, "<speed>", "</speed>"))
      // At most 1,000 m/s (also keeps the float conversion defined): beyond is not a vehicle.
      if (auto v = number(*s); v && *v >= 0 && *v <= 1000) g.speed_mps = static_cast<float>(*v);
    if (auto c = child(inner, "<course>", "</course>"))
      if (auto v = number(*c); v && *v >= 0 && *v < 360) g.heading_deg = static_cast<float>(*v);
    out.points.push_back(g);
  }
  if (out.points.empty()) return "no track points with a time (trk/trkseg/trkpt/time)";
  return std::nullopt;
}

}  // namespace pm
