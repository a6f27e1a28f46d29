#include "geo/osm_roads.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <exception>
#include <osmium/handler.hpp>
#include <osmium/handler/node_locations_for_ways.hpp>
#include <osmium/index/map/flex_mem.hpp>
#include <osmium/io/gzip_compression.hpp>
#include <osmium/io/pbf_input.hpp>
#include <osmium/io/xml_input.hpp>
#include <osmium/osm/way.hpp>
#include <osmium/visitor.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pm::geo {

namespace {

constexpr double kMph = 1.609344;  // km/h per mph

struct ClassRow {
  std::string_view highway;
  RoadClass road_class;
  double default_mph;
};
// Limits assumed when a way has no usable maxspeed: the usual UK limit for
// the class, at or below the national limits (70 mph motorway and dual
// carriageway, 60 single carriageway, 30 in built-up areas).
constexpr std::array<ClassRow, kRoadClassCount> kClasses = {{
    {"motorway", RoadClass::motorway, 70},
    {"motorway_link", RoadClass::motorway_link, 40},
    {"trunk", RoadClass::trunk, 60},
    {"trunk_link", RoadClass::trunk_link, 40},
    {"primary", RoadClass::primary, 50},
    {"primary_link", RoadClass::primary_link, 30},
    {"secondary", RoadClass::secondary, 45},
    {"secondary_link", RoadClass::secondary_link, 30},
    {"tertiary", RoadClass::tertiary, 40},
    {"tertiary_link", RoadClass::tertiary_link, 30},
    {"unclassified", RoadClass::unclassified, 30},
    {"residential", RoadClass::residential, 25},
    {"living_street", RoadClass::living_street, 10},
    {"service", RoadClass::service, 10},
}};

bool is_motorway(RoadClass c) { return c == RoadClass::motorway || c == RoadClass::motorway_link; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

template <std::size_t N>
bool one_of(std::string_view v, const std::array<std::string_view, N>& set) {
  for (std::string_view s : set)
    if (v == s) return true;
  return false;
}

// Most specific tag first: motorcar, then motor_vehicle, then access. An
// emergency=yes/designated way stays open (response vehicles use it).
bool open_to_cars(const OsmWayTags& t) {
  if (t.emergency == "yes" || t.emergency == "designated") return true;
  constexpr std::array<std::string_view, 4> kClosed = {"no", "private", "agricultural", "forestry"};
  for (std::string_view v : {t.motorcar, t.motor_vehicle, t.access}) {
    if (!v.empty()) return !one_of(v, kClosed);
  }
  return true;
}

}  // namespace

std::optional<RoadClass> road_class_from_highway(std::string_view highway) {
  for (const ClassRow& row : kClasses)
    if (row.highway == highway) return row.road_class;
  return std::nullopt;
}

double default_speed_kmh(RoadClass c) {
  for (const ClassRow& row : kClasses)
    if (row.road_class == c) return row.default_mph * kMph;
  return 30 * kMph;
}

std::optional<double> parse_maxspeed_kmh(std::string_view maxspeed, RoadClass c) {
  const std::string_view v = trim(maxspeed);
  if (v == "GB:nsl_single" || v == "UK:nsl_single") return 60 * kMph;
  if (v == "GB:nsl_dual" || v == "UK:nsl_dual" || v == "GB:motorway" || v == "UK:motorway") return 70 * kMph;
  if (v == "national" || v == "GB:national" || v == "UK:national") return (is_motorway(c) ? 70 : 60) * kMph;
  double number = 0;
  const auto [rest, ec] = std::from_chars(v.data(), v.data() + v.size(), number);
  if (ec != std::errc() || rest == v.data()) return std::nullopt;
  const std::string_view unit = trim(std::string_view(rest, static_cast<std::size_t>(v.data() + v.size() - rest)));
  double kmh = 0;
  if (unit.empty() || unit == "km/h" || unit == "kmh" || unit == "kph") {
    kmh = number;
  } else if (unit == "mph") {
    kmh = number * kMph;
  } else if (unit == "knots") {
    kmh = number * 1.852;
  } else {
    return std::nullopt;
  }
  if (!(kmh > 0) || kmh > 200) return std::nullopt;
  return kmh;
}

std::optional<OsmRoadRule> classify_way(const OsmWayTags& t) {
  const auto c = road_class_from_highway(t.highway);
  if (!c || t.area == "yes" || !open_to_cars(t)) return std::nullopt;
  // Car-park aisles, private driveways and drive-throughs: a unit parked
  // there should snap to the public road outside, not into a maze of stubs.
  constexpr std::array<std::string_view, 3> kSkippedService = {"parking_aisle", "driveway", "drive-through"};
  if (*c == RoadClass::service && one_of(t.service, kSkippedService)) return std::nullopt;
  OsmRoadRule rule;
  rule.road_class = *c;
  if (t.oneway == "yes" || t.oneway == "true" || t.oneway == "1") {
    rule.oneway = Oneway::forward;
  } else if (t.oneway == "-1" || t.oneway == "reverse") {
    rule.oneway = Oneway::backward;
  } else if (t.oneway == "reversible" || t.oneway == "alternating") {
    return std::nullopt;  // direction changes by time of day: not routable on a fixed graph
  } else if (t.oneway == "no" || t.oneway == "false" || t.oneway == "0") {
    rule.oneway = Oneway::no;
  } else if (t.junction == "roundabout" || t.junction == "circular" || is_motorway(*c)) {
    rule.oneway = Oneway::forward;  // implied
  }
  rule.limit_kmh = parse_maxspeed_kmh(t.maxspeed, *c).value_or(default_speed_kmh(*c));
  return rule;
}

namespace {

// Collects the kept ways' vertices (compact node ids) and directed edges.
class RoadCollector : public osmium::handler::Handler {
 public:
  explicit RoadCollector(double speed_factor) : speed_factor_(speed_factor) {}

  std::vector<LonLat> lonlat;
  std::vector<RoadEdgeInput> edges;
  std::vector<RoadWay> ways;

  void way(const osmium::Way& w) {
    const osmium::TagList& tags = w.tags();
    auto tag = [&](const char* key) { return std::string_view(tags.get_value_by_key(key, "")); };
    const OsmWayTags t{tag("highway"),  tag("service"),   tag("area"),   tag("access"),   tag("motor_vehicle"),
                       tag("motorcar"), tag("emergency"), tag("oneway"), tag("junction"), tag("maxspeed")};
    const auto rule = classify_way(t);
    if (!rule) return;
    const auto way = static_cast<std::uint32_t>(ways.size());
    ways.push_back({std::string(tag("ref")), std::string(tag("name"))});
    const double kmh = rule->limit_kmh * speed_factor_;
    std::uint32_t prev = kNoId;
    for (const osmium::NodeRef& nr : w.nodes()) {
      if (!nr.location().valid()) {  // vertex missing from the extract: the way breaks here
        prev = kNoId;
        continue;
      }
      const std::uint32_t cur = vertex(nr);
      if (prev != kNoId && prev != cur) {
        if (rule->oneway != Oneway::backward) edges.push_back({prev, cur, kmh, rule->road_class, way});
        if (rule->oneway != Oneway::forward) edges.push_back({cur, prev, kmh, rule->road_class, way});
      }
      prev = cur;
    }
  }

 private:
  std::uint32_t vertex(const osmium::NodeRef& nr) {
    const auto [it, inserted] = index_.try_emplace(nr.ref(), static_cast<std::uint32_t>(lonlat.size()));
    if (inserted) lonlat.push_back({nr.location().lon(), nr.location().lat()});
    return it->second;
  }

  double speed_factor_;
  std::unordered_map<osmium::object_id_type, std::uint32_t> index_;
};

}  // namespace

Expected<RoadGraph, std::string> load_osm_roads(const std::string& path, const Projection& projection,
                                                const OsmRoadOptions& options) {
  if (!(options.speed_factor > 0) || !std::isfinite(options.speed_factor)) {
    return Unexpected{std::string("road options: speed_factor must be > 0")};
  }
  RoadCollector roads(options.speed_factor);
  try {
    using Index = osmium::index::map::FlexMem<osmium::unsigned_object_id_type, osmium::Location>;
    Index index;
    osmium::handler::NodeLocationsForWays<Index> locations{index};
    locations.ignore_errors();  // a way vertex outside the extract: handled in RoadCollector
    osmium::io::Reader reader{path, osmium::osm_entity_bits::node | osmium::osm_entity_bits::way};
    osmium::apply(reader, locations, roads);
    reader.close();
  } catch (const std::exception& e) {
    return Unexpected{"reading " + path + ": " + e.what()};
  }
  std::vector<XY> xy(roads.lonlat.size());
  projection.forward(roads.lonlat, xy);
  return RoadGraph::build(std::move(xy), std::move(roads.edges), std::move(roads.ways));
}

}  // namespace pm::geo
