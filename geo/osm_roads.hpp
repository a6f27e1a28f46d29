#pragma once
// Drivable roads from OpenStreetMap (.osm.pbf or .osm XML, read by libosmium)
// into a RoadGraph in the deployment's metric projection.
//
//   auto proj = pm::geo::Projection::create();                    // EPSG:27700
//   auto g = pm::geo::load_osm_roads(data + "/osm/rutland-latest.osm.pbf", *proj);
//   if (!g) throw std::runtime_error(g.error());                  // unreadable file
//
// The tag rules are pure functions below (classify_way and its parts), so they
// are tested without a file; docs/ARCHITECTURE.md ("Road graph") has the
// table. Every vertex of a kept way becomes a graph node; an edge per
// consecutive pair and direction of travel. Turn restrictions are not read.
//
// This is the only place that includes libosmium: target geo_osm, apart from
// the pure geo library (std + GEOS + PROJ).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "geo/expected.hpp"
#include "geo/projection.hpp"
#include "geo/road_graph.hpp"

namespace pm::geo {

enum class Oneway : std::uint8_t { no, forward, backward };

// The tags of a way that decide whether and how it is driven ("" = absent).
struct OsmWayTags {
  std::string_view highway, service, area, access, motor_vehicle, motorcar, emergency, oneway, junction, maxspeed;
};

struct OsmRoadRule {
  RoadClass road_class = RoadClass::unclassified;
  Oneway oneway = Oneway::no;
  double limit_kmh = 0;  // maxspeed, or the class default
};

struct OsmRoadOptions {
  // Edge speed = limit x speed_factor. Traffic rarely holds the limit through
  // bends, junctions and villages; OSRM's car profile uses the same 0.8 on
  // maxspeed. 1.0 gives times at the limit.
  double speed_factor = 0.8;
};

// "primary" -> primary; nullopt for a highway value that is not driven
// (footway, track, construction, ...).
std::optional<RoadClass> road_class_from_highway(std::string_view highway);
// Speed limit assumed for a class when the way has no usable maxspeed (UK values).
double default_speed_kmh(RoadClass c);
// "30 mph", "50" (km/h), "50 km/h", "GB:nsl_single" (60 mph), "GB:nsl_dual"
// and "GB:motorway" (70 mph), "national" (70 mph on motorways, else 60).
// nullopt for "none", "signals", "walk", garbage, or a value outside (0, 200] km/h.
std::optional<double> parse_maxspeed_kmh(std::string_view maxspeed, RoadClass c);
// Whether a way is driven (nullopt: not a road, an area, closed to cars) and
// how: class, direction, speed limit.
std::optional<OsmRoadRule> classify_way(const OsmWayTags& tags);

// Reads the file's nodes and ways (one pass; node locations kept in memory)
// and builds the graph. Fails with a message when the file cannot be read.
[[nodiscard]] Expected<RoadGraph, std::string> load_osm_roads(const std::string& path, const Projection& projection,
                                                              const OsmRoadOptions& options = {});

}  // namespace pm::geo
