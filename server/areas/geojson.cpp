#include "server/areas/geojson.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

namespace pm {
namespace {

using Value = rapidjson::Value;

bool read_ring(const Value& v, std::vector<geo::LonLat>& ring) {
  if (!v.IsArray()) return false;
  for (const auto& p : v.GetArray()) {
    if (!p.IsArray() || p.Size() < 2 || !p[0].IsNumber() || !p[1].IsNumber()) return false;
    ring.push_back(geo::LonLat{p[0].GetDouble(), p[1].GetDouble()});
  }
  return true;
}

bool read_polygon(const Value& v, geo::PolygonRings& poly) {
  if (!v.IsArray() || v.Empty()) return false;
  for (const auto& r : v.GetArray()) {
    poly.rings.emplace_back();
    if (!read_ring(r, poly.rings.back())) return false;
  }
  return true;
}

std::string str_prop(const Value& props, std::initializer_list<const char*> names) {
  if (!props.IsObject()) return {};
  for (const char* n : names) {
    auto it = props.FindMember(n);
    if (it == props.MemberEnd()) continue;
    if (it->value.IsString()) return it->value.GetString();
    if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
  }
  return {};
}

void read_feature(const Value& f, size_t index, std::string_view default_kind, std::vector<AreaFeature>& out,
                  std::vector<AreaProblem>& problems) {
  auto problem = [&](std::string m) { problems.push_back({index, std::move(m)}); };
  if (!f.IsObject() || !f.HasMember("type") || !f["type"].IsString() || std::string_view(f["type"].GetString()) != "Feature")
    return problem("not a GeoJSON Feature");
  static const Value kNull;
  const Value& props = f.HasMember("properties") ? f["properties"] : kNull;
  AreaFeature a;
  a.input.id = str_prop(props, {"id", "ref:gss", "wd19cd", "ward_code", "code"});
  if (a.input.id.empty() && f.HasMember("id")) {
    if (f["id"].IsString()) a.input.id = f["id"].GetString();
    else if (f["id"].IsInt64()) a.input.id = std::to_string(f["id"].GetInt64());
  }
  a.name = str_prop(props, {"name", "wd19nm", "ward_name"});
  if (a.input.id.empty()) a.input.id = a.name;
  if (a.input.id.empty()) return problem("feature has no id or name property");
  a.kind = str_prop(props, {"kind"});
  if (a.kind.empty()) a.kind = std::string(default_kind);
  a.parent = str_prop(props, {"parent"});
  if (props.IsObject() && props.HasMember("urban") && props["urban"].IsBool()) a.urban = props["urban"].GetBool();
  if (!f.HasMember("geometry") || !f["geometry"].IsObject()) return problem(a.input.id + ": no geometry");
  const Value& g = f["geometry"];
  std::string_view type = g.HasMember("type") && g["type"].IsString() ? g["type"].GetString() : "";
  if (!g.HasMember("coordinates")) return problem(a.input.id + ": geometry has no coordinates");
  const Value& c = g["coordinates"];
  if (type == "Polygon") {
    a.input.polygons.emplace_back();
    if (!read_polygon(c, a.input.polygons.back())) return problem(a.input.id + ": malformed Polygon coordinates");
  } else if (type == "MultiPolygon") {
    if (!c.IsArray() || c.Empty()) return problem(a.input.id + ": malformed MultiPolygon coordinates");
    for (const auto& p : c.GetArray()) {
      a.input.polygons.emplace_back();
      if (!read_polygon(p, a.input.polygons.back())) return problem(a.input.id + ": malformed MultiPolygon coordinates");
    }
  } else {
    return problem(a.input.id + ": geometry must be Polygon or MultiPolygon, not " + std::string(type));
  }
  out.push_back(std::move(a));
}

}  // namespace

std::vector<AreaFeature> read_area_features(std::string_view text, std::string_view default_kind,
                                            std::vector<AreaProblem>& problems) {
  std::vector<AreaFeature> out;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(text.data(), text.size());
  bool whole = !doc.HasParseError() && doc.IsObject();
  if (whole && doc.HasMember("type") && doc["type"].IsString() &&
      std::string_view(doc["type"].GetString()) == "FeatureCollection") {
    if (!doc.HasMember("features") || !doc["features"].IsArray()) {
      problems.push_back({0, "FeatureCollection has no features array"});
      return out;
    }
    size_t i = 0;
    for (const auto& f : doc["features"].GetArray()) read_feature(f, i++, default_kind, out, problems);
    return out;
  }
  // One Feature per line (GeoJSON lines); a single Feature is the one-line case.
  size_t index = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
    if (d.HasParseError()) problems.push_back({index, "line is not JSON"});
    else read_feature(d, index, default_kind, out, problems);
    ++index;
  }
  return out;
}

std::string write_area_features(const std::vector<AreaFeature>& features, std::string_view kind) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](std::string_view v) { w.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); };
  auto coord = [&](double v) { w.Double(std::round(v * 1e7) / 1e7); };
  w.StartObject();
  w.Key("type");
  w.String("FeatureCollection");
  w.Key("features");
  w.StartArray();
  for (const auto& f : features) {
    if (!kind.empty() && f.kind != kind) continue;
    w.StartObject();
    w.Key("type");
    w.String("Feature");
    w.Key("properties");
    w.StartObject();
    w.Key("id");
    str(f.input.id);
    w.Key("name");
    str(f.name);
    w.Key("kind");
    str(f.kind);
    if (!f.parent.empty()) {
      w.Key("parent");
      str(f.parent);
    }
    if (f.urban) {
      w.Key("urban");
      w.Bool(*f.urban);
    }
    w.EndObject();
    w.Key("geometry");
    w.StartObject();
    w.Key("type");
    w.String(f.input.polygons.size() == 1 ? "Polygon" : "MultiPolygon");
    w.Key("coordinates");
    auto polygon = [&](const geo::PolygonRings& p) {
      w.StartArray();
      for (const auto& ring : p.rings) {
        w.StartArray();
        for (const auto& ll : ring) {
          w.StartArray();
          coord(ll.lon);
          coord(ll.lat);
          w.EndArray();
        }
        w.EndArray();
      }
      w.EndArray();
    };
    if (f.input.polygons.size() == 1) {
      polygon(f.input.polygons[0]);
    } else {
      w.StartArray();
      for (const auto& p : f.input.polygons) polygon(p);
      w.EndArray();
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace pm
