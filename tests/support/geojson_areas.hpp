#pragma once
// Test/benchmark helper: reads GeoJSON Polygon/MultiPolygon features into
// pm::geo::AreaInput (geo/ itself never parses JSON).
//
//   auto wards = pm::test::load_areas(dir + "/boundaries/rutland-parishes.geojson", "ref:gss");
//
// Accepts a FeatureCollection file or GeoJSON Lines (one Feature per line).
// The id is the string property `id_property`. Throws on unreadable files or
// malformed JSON: tests should fail loudly on broken fixtures.
#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "geo/area_index.hpp"

namespace pm::test {

inline std::vector<geo::LonLat> read_ring(const rapidjson::Value& ring) {
  std::vector<geo::LonLat> out;
  for (const auto& pt : ring.GetArray()) out.push_back({pt[0].GetDouble(), pt[1].GetDouble()});
  return out;
}

inline geo::PolygonRings read_polygon(const rapidjson::Value& rings) {
  geo::PolygonRings p;
  for (const auto& r : rings.GetArray()) p.rings.push_back(read_ring(r));
  return p;
}

inline geo::AreaInput read_feature(const rapidjson::Value& f, const char* id_property) {
  geo::AreaInput a;
  const auto& props = f["properties"];
  if (!props.HasMember(id_property) || !props[id_property].IsString()) {
    throw std::runtime_error(std::string("feature without string property ") + id_property);
  }
  a.id = props[id_property].GetString();
  const auto& g = f["geometry"];
  const std::string type = g["type"].GetString();
  if (type == "Polygon") {
    a.polygons.push_back(read_polygon(g["coordinates"]));
  } else if (type == "MultiPolygon") {
    for (const auto& p : g["coordinates"].GetArray()) a.polygons.push_back(read_polygon(p));
  } else {
    throw std::runtime_error("unsupported geometry type " + type);
  }
  return a;
}

// A whole file as text; throws when it cannot be read.
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + " (real data: set PATROLMAP_DATA)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A GeoJSON Feature: a 0.0005 x 0.0005 degree square near Oakham, `dx`
// thousandths of a degree east, with `properties` (a JSON object's text).
inline std::string square_feature(const std::string& properties, int dx = 0) {
  const double x0 = -0.73 + dx * 0.001, x1 = x0 + 0.0005;
  auto n = [](double v) { return std::to_string(v); };
  return R"({"type":"Feature","properties":)" + properties + R"(,"geometry":{"type":"Polygon","coordinates":[[[)" +
         n(x0) + ",52.66],[" + n(x1) + ",52.66],[" + n(x1) + ",52.6605],[" + n(x0) + ",52.6605],[" + n(x0) +
         ",52.66]]]}}";
}

inline std::vector<geo::AreaInput> load_areas(const std::string& path, const char* id_property) {
  const std::string text = read_text(path);
  std::vector<geo::AreaInput> out;
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("type") &&
      std::string(doc["type"].GetString()) == "FeatureCollection") {
    for (const auto& f : doc["features"].GetArray()) out.push_back(read_feature(f, id_property));
    return out;
  }
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    rapidjson::Document f;
    f.Parse(line.c_str());
    if (f.HasParseError()) throw std::runtime_error("bad GeoJSON line in " + path);
    out.push_back(read_feature(f, id_property));
  }
  return out;
}

// Every ward file (named E05...) in a directory, in name order, one area per
// ward: the Leicester city wards of <data>/boundaries/leicester-city.
inline std::vector<geo::AreaInput> load_ward_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with("E05")) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<geo::AreaInput> out;
  for (const auto& f : files) {
    auto v = load_areas(f, "wd19cd");
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace pm::test
