#include "tools/areas/kml.hpp"

#include <expat.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>

namespace pm::areas {
namespace {

std::string_view local_name(const XML_Char* name) {
  std::string_view n(name);
  auto colon = n.rfind(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// "lon,lat[,alt] lon,lat[,alt] ..." -> points; a comma may have whitespace
// around it ("lon, lat"). False on anything else.
bool parse_coordinates(std::string_view s, std::vector<geo::LonLat>& out) {
  size_t i = 0;
  auto skip = [&] {
    while (i < s.size() && is_space(s[i])) ++i;
  };
  auto number = [&]() -> std::optional<double> {
    double v = 0;
    const char* b = s.data() + i;
    if (i < s.size() && s[i] == '+') ++b;  // from_chars takes no leading '+'
    auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
    if (ec != std::errc()) return std::nullopt;
    i = static_cast<size_t>(p - s.data());
    return v;
  };
  skip();
  while (i < s.size()) {
    double tuple[3];
    int n = 0;
    for (;;) {
      auto v = number();
      if (!v || n == 3) return false;
      tuple[n++] = *v;
      skip();
      if (i < s.size() && s[i] == ',') {
        ++i;
        skip();
        continue;
      }
      break;
    }
    if (n < 2) return false;
    out.push_back(geo::LonLat{tuple[0], tuple[1]});
  }
  return true;
}

struct Parser {
  Kml kml;
  std::size_t placemarks = 0;
  bool in_placemark = false;
  int placemark_depth = 0;
  int depth = 0;
  KmlPlacemark current;
  std::string problem;  // first problem of the current placemark
  // Where we are inside the placemark's geometry.
  bool in_polygon = false;
  bool in_outer = false;
  bool in_inner = false;
  // Text being collected and what it is for.
  enum class Text { none, name, coordinates, simple_data, data_value } text_for = Text::none;
  std::string text;
  std::string field_name;
  int name_depth = -1;  // the Placemark's own <name>, not a Data's or Schema's

  void start(std::string_view el, const XML_Char** attrs) {
    ++depth;
    auto attr = [&](std::string_view key) -> std::string {
      for (int a = 0; attrs[a]; a += 2)
        if (local_name(attrs[a]) == key) return attrs[a + 1];
      return {};
    };
    if (el == "Placemark") {
      in_placemark = true;
      placemark_depth = depth;
      current = KmlPlacemark{};
      current.index = placemarks++;
      current.id = attr("id");
      problem.clear();
      return;
    }
    if (!in_placemark) return;
    if (el == "name" && depth == placemark_depth + 1) {
      text_for = Text::name;
      text.clear();
    } else if (el == "SimpleData") {
      text_for = Text::simple_data;
      field_name = attr("name");
      text.clear();
    } else if (el == "Data") {
      field_name = attr("name");
    } else if (el == "value") {
      text_for = Text::data_value;
      text.clear();
    } else if (el == "Polygon") {
      in_polygon = true;
      current.polygons.emplace_back();
    } else if (el == "outerBoundaryIs") {
      in_outer = true;
    } else if (el == "innerBoundaryIs") {
      in_inner = true;
    } else if (el == "coordinates" && in_polygon && (in_outer || in_inner)) {
      text_for = Text::coordinates;
      text.clear();
    }
  }

  void end(std::string_view el) {
    if (in_placemark) {
      if (el == "Placemark" && depth == placemark_depth) {
        in_placemark = false;
        if (problem.empty() && current.polygons.empty()) problem = "no Polygon";
        if (!problem.empty()) kml.problems.push_back({current.index, current.name, problem});
        else kml.placemarks.push_back(std::move(current));
      } else if (el == "name" && text_for == Text::name) {
        current.name = trim(text);
        text_for = Text::none;
      } else if (el == "SimpleData" && text_for == Text::simple_data) {
        current.fields.emplace_back(field_name, trim(text));
        text_for = Text::none;
      } else if (el == "value" && text_for == Text::data_value) {
        current.fields.emplace_back(field_name, trim(text));
        text_for = Text::none;
      } else if (el == "coordinates" && text_for == Text::coordinates) {
        text_for = Text::none;
        auto& poly = current.polygons.back();
        std::vector<geo::LonLat> ring;
        if (!parse_coordinates(text, ring)) {
          if (problem.empty()) problem = "coordinates are not lon,lat[,alt] tuples";
        } else if (in_outer && !poly.rings.empty()) {
          if (problem.empty()) problem = "a Polygon with two outer boundaries";
        } else if (in_inner && poly.rings.empty()) {
          if (problem.empty()) problem = "an inner boundary before the outer one";
        } else {
          poly.rings.push_back(std::move(ring));
        }
      } else if (el == "outerBoundaryIs") {
        in_outer = false;
      } else if (el == "innerBoundaryIs") {
        in_inner = false;
      } else if (el == "Polygon") {
        in_polygon = false;
        if (current.polygons.back().rings.empty() && problem.empty()) problem = "a Polygon without an outer boundary";
      }
    }
    --depth;
  }

  void chars(const XML_Char* s, int len) {
    if (text_for != Text::none) text.append(s, static_cast<size_t>(len));
  }

  static std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && is_space(s[b])) ++b;
    while (e > b && is_space(s[e - 1])) --e;
    return s.substr(b, e - b);
  }
};

}  // namespace

Expected<Kml, std::string> parse_kml(std::string_view text) {
  std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> xml(XML_ParserCreate("UTF-8"), &XML_ParserFree);
  if (!xml) return Unexpected{std::string("cannot create an XML parser")};
  Parser p;
  XML_SetUserData(xml.get(), &p);
  XML_SetElementHandler(
      xml.get(),
      [](void* ud, const XML_Char* name, const XML_Char** attrs) {
        static_cast<Parser*>(ud)->start(local_name(name), attrs);
      },
      [](void* ud, const XML_Char* name) { static_cast<Parser*>(ud)->end(local_name(name)); });
  XML_SetCharacterDataHandler(xml.get(), [](void* ud, const XML_Char* s, int len) { static_cast<Parser*>(ud)->chars(s, len); });
  // In chunks: XML_Parse takes an int length.
  constexpr size_t kChunk = 1 << 20;
  do {
    const size_t n = std::min(kChunk, text.size());
    const bool last = n == text.size();
    if (XML_Parse(xml.get(), text.data(), static_cast<int>(n), last ? 1 : 0) != XML_STATUS_OK)
      return Unexpected{"not well-formed KML: " + std::string(XML_ErrorString(XML_GetErrorCode(xml.get()))) +
                             " at line " + std::to_string(XML_GetCurrentLineNumber(xml.get()))};
    text.remove_prefix(n);
  } while (!text.empty());
  return std::move(p.kml);
}

}  // namespace pm::areas
