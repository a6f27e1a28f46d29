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

struct GeometryProblem {
  const char* code;
  std::string message;
};

// A Polygon or MultiPolygon geometry object into area.polygons.
std::optional<GeometryProblem> read_geometry(const Value& g, geo::AreaInput& area) {
  if (!g.IsObject()) return GeometryProblem{"unsupported_geometry", "no geometry"};
  std::string_view type = g.HasMember("type") && g["type"].IsString() ? g["type"].GetString() : "";
  if (type != "Polygon" && type != "MultiPolygon")
    return GeometryProblem{"unsupported_geometry",
                           "geometry must be Polygon or MultiPolygon, not " + (type.empty() ? "none" : std::string(type))};
  if (!g.HasMember("coordinates")) return GeometryProblem{"invalid_geometry", "geometry has no coordinates"};
  const Value& c = g["coordinates"];
  if (type == "Polygon") {
    area.polygons.emplace_back();
    if (!read_polygon(c, area.polygons.back())) return GeometryProblem{"invalid_geometry", "malformed Polygon coordinates"};
    return std::nullopt;
  }
  if (!c.IsArray() || c.Empty()) return GeometryProblem{"invalid_geometry", "malformed MultiPolygon coordinates"};
  for (const auto& p : c.GetArray()) {
    area.polygons.emplace_back();
    if (!read_polygon(p, area.polygons.back()))
      return GeometryProblem{"invalid_geometry", "malformed MultiPolygon coordinates"};
  }
  return std::nullopt;
}

// Generous bound on every target number: a shift has 1,440 minutes at most.
constexpr double kTargetMax = 1e6;

std::optional<std::string> parse_target(const Value& v, geo::PatrolTarget& t) {
  if (!v.IsObject()) return "target must be an object {visits, minutes, max_gap_minutes}";
  t = {};
  for (const auto& m : v.GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsNull()) continue;  // same as absent
    if (!m.value.IsNumber()) return "target." + key + " must be a number";
    const double x = m.value.GetDouble();
    if (!(x >= 0 && x <= kTargetMax)) return "target." + key + " must be between 0 and 1000000";
    if (key == "visits") {
      if (x != std::floor(x)) return "target.visits must be a whole number";
      t.visits = static_cast<std::uint32_t>(x);
    } else if (key == "minutes") {
      t.minutes = x;
    } else if (key == "max_gap_minutes") {
      t.max_gap_minutes = x;
    } else {
      return "target has an unknown key " + key + " (visits, minutes, max_gap_minutes)";
    }
  }
  return std::nullopt;
}

void read_feature(const Value& f, size_t index, std::string_view default_kind, std::vector<AreaFeature>& out,
                  std::vector<AreaProblem>& problems) {
  std::string id;
  auto problem = [&](std::string code, std::string m) {
    problems.push_back({index, std::move(m), std::move(code), id});
  };
  if (!f.IsObject() || !f.HasMember("type") || !f["type"].IsString() || std::string_view(f["type"].GetString()) != "Feature")
    return problem("not_a_feature", "not a GeoJSON Feature");
  static const Value kNull;
  const Value& props = f.HasMember("properties") ? f["properties"] : kNull;
  AreaFeature a;
  a.source = index;
  a.input.id = str_prop(props, {"id", "ref:gss", "wd19cd", "ward_code", "code"});
  if (a.input.id.empty() && f.HasMember("id")) {
    if (f["id"].IsString()) a.input.id = f["id"].GetString();
    else if (f["id"].IsInt64()) a.input.id = std::to_string(f["id"].GetInt64());
  }
  a.name = str_prop(props, {"name", "wd19nm", "ward_name"});
  if (a.input.id.empty()) a.input.id = a.name;
  if (a.input.id.empty()) return problem("missing_id", "feature has no id or name property");
  id = a.input.id;
  a.kind = str_prop(props, {"kind"});
  if (a.kind.empty()) a.kind = std::string(default_kind);
  a.parent = str_prop(props, {"parent"});
  if (props.IsObject() && props.HasMember("urban") && props["urban"].IsBool()) a.urban = props["urban"].GetBool();
  if (props.IsObject() && props.HasMember("target") && !props["target"].IsNull()) {
    geo::PatrolTarget t;
    if (auto e = parse_target(props["target"], t)) return problem("invalid_target", *e);
    a.target = t;
  }
  if (a.kind == "hotspot") {
    if (!a.target) a.target = geo::PatrolTarget{};
    if (!a.target->max_gap_minutes) a.target->max_gap_minutes = kHotspotMaxGapMinutes;
  }
  if (!f.HasMember("geometry")) return problem("unsupported_geometry", "no geometry");
  if (auto e = read_geometry(f["geometry"], a.input)) return problem(e->code, std::move(e->message));
  out.push_back(std::move(a));
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_str(JsonWriter& w, std::string_view v) { w.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); }

void write_target_object(JsonWriter& w, const geo::PatrolTarget& t) {
  w.StartObject();
  w.Key("visits");
  w.Uint(t.visits);
  w.Key("minutes");
  w.Double(t.minutes);
  if (t.max_gap_minutes) {
    w.Key("max_gap_minutes");
    w.Double(*t.max_gap_minutes);
  }
  w.EndObject();
}

void write_geometry_object(JsonWriter& w, const geo::AreaInput& area) {
  auto coord = [&](double v) { w.Double(std::round(v * 1e7) / 1e7); };
  w.StartObject();
  w.Key("type");
  w.String(area.polygons.size() == 1 ? "Polygon" : "MultiPolygon");
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
  if (area.polygons.size() == 1) {
    polygon(area.polygons[0]);
  } else {
    w.StartArray();
    for (const auto& p : area.polygons) polygon(p);
    w.EndArray();
  }
  w.EndObject();
}

}  // namespace

std::vector<AreaFeature> read_area_features(std::string_view text, std::string_view default_kind,
                                            std::vector<AreaProblem>& problems, std::string* not_geojson) {
  std::vector<AreaFeature> out;
  auto refuse = [&](std::string why) {
    if (not_geojson) *not_geojson = std::move(why);
    else problems.push_back({0, std::move(why), "not_a_feature", {}});
    return out;
  };
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(text.data(), text.size());
  const bool json = !doc.HasParseError();
  std::string_view type = json && doc.IsObject() && doc.HasMember("type") && doc["type"].IsString()
                              ? std::string_view(doc["type"].GetString(), doc["type"].GetStringLength())
                              : std::string_view{};
  // The first JSON value decides what the text is.
  if (json && type != "FeatureCollection" && type != "Feature")
    return refuse("not GeoJSON: expected a FeatureCollection, a Feature or one Feature per line");
  if (type == "FeatureCollection") {
    if (!doc.HasMember("features") || !doc["features"].IsArray())
      return refuse("FeatureCollection has no features array");
    size_t i = 0;
    for (const auto& f : doc["features"].GetArray()) read_feature(f, i++, default_kind, out, problems);
    return out;
  }
  if (type == "Feature") {
    // A single Feature (over any number of lines) unless more values follow.
    rapidjson::Document one;
    one.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (!one.HasParseError()) {
      read_feature(one, 0, default_kind, out, problems);
      return out;
    }
  }
  // One Feature per line (GeoJSON lines).
  if (!json) {
    // Not one JSON value: GeoJSON lines when the first non-blank line is JSON.
    std::string_view rest = text;
    std::string_view first;
    while (!rest.empty() && first.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      if (line.find_first_not_of(" \t\r") != std::string_view::npos) first = line;
    }
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(first.data(), first.size());
    if (first.empty() || d.HasParseError()) return refuse("not JSON");
  }
  size_t index = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
    if (d.HasParseError()) problems.push_back({index, "line is not JSON", "not_a_feature", {}});
    else read_feature(d, index, default_kind, out, problems);
    ++index;
  }
  return out;
}

std::string write_area_features(const std::vector<AreaFeature>& features, std::string_view kind) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
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
    write_str(w, f.input.id);
    w.Key("name");
    write_str(w, f.name);
    w.Key("kind");
    write_str(w, f.kind);
    if (!f.parent.empty()) {
      w.Key("parent");
      write_str(w, f.parent);
    }
    if (f.urban) {
      w.Key("urban");
      w.Bool(*f.urban);
    }
    if (f.target) {
      w.Key("target");
      write_target_object(w, *f.target);
    }
    w.EndObject();
    w.Key("geometry");
    write_geometry_object(w, f.input);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string write_area_geometry(const geo::AreaInput& area) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  write_geometry_object(w, area);
  return {buf.GetString(), buf.GetSize()};
}

std::optional<std::string> read_area_geometry(std::string_view json, geo::AreaInput& area) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (d.HasParseError()) return "geometry is not JSON";
  if (auto e = read_geometry(d, area)) return std::move(e->message);
  return std::nullopt;
}

std::string write_target(const geo::PatrolTarget& target) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  write_target_object(w, target);
  return {buf.GetString(), buf.GetSize()};
}

std::optional<std::string> read_target(std::string_view json, geo::PatrolTarget& target) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError()) return "target is not JSON";
  return parse_target(d, target);
}

}  // namespace pm
