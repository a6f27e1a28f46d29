#pragma once
// The simulator's pure core: scenario files, movement along a route, the wire
// encoders of every device channel, the police.uk crime CSV and the incident
// generator, and the fleet (units patrolling, responding, sending pings). No
// sockets and no clock: time is a parameter, randomness comes from seeded
// std::mt19937_64 engines, so the same seed gives the same pings.
//
//   auto sc = pm::sim::parse_scenario(json_text);            // Expected<Scenario, std::string>
//   pm::sim::Fleet fleet(*sc, &graph, projection, seed, start_ms, {});
//   std::vector<pm::sim::PingOut> pings;
//   fleet.step(start_ms + 1000, pings);                       // advance, emit the pings that fall due
//   fleet.dispatch(unit, incident_id, {lon, lat}, now);       // drive there (on the roads)
//   for (auto& e : fleet.take_events()) ...                   // arrived, job done
//
//   std::string hex = pm::sim::encode_lip_short({...});      // "0A..." payload, decodes with pm::decode_lip
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "geo/expected.hpp"
#include "geo/projection.hpp"
#include "geo/road_graph.hpp"
#include "geo/types.hpp"

namespace pm::sim {

using EpochMs = std::int64_t;

// ------------------------------------------------------------------ channels

enum class SimChannel : std::uint8_t { json, nmea_udp, nmea_tcp, lip_udp, pei_tcp, osmand };
inline constexpr std::size_t kSimChannelCount = 6;
std::string_view to_string(SimChannel c);
std::optional<SimChannel> channel_from_string(std::string_view s);

// ------------------------------------------------------------------ scenario

enum class Mobility : std::uint8_t { drive, walk };

struct DeviceSpec {
  std::string id;    // AVL/app id, or the radio's ISSI (digits)
  std::string kind;  // avl, radio, app
  SimChannel channel = SimChannel::json;
  double interval_min_s = 5;  // a ping every uniform[min, max] seconds
  double interval_max_s = 5;
};

struct UnitSpec {
  std::string id;
  std::string type;  // car, van, arv, dog, foot, pcso, motorcycle
  std::vector<std::string> skills;
  std::string home_area;  // a name, sent as the unit's home_area
  // Home area: beat points / hot spots (patrolled in turn), or a centre and a radius.
  std::vector<geo::LonLat> beat_points;
  std::optional<geo::LonLat> center;
  double radius_m = 0;
  int shift_start_min = 0;  // minutes after 00:00 UTC; start == end: on duty all day
  int shift_end_min = 0;    // end < start: the shift runs past midnight
  std::vector<DeviceSpec> devices;
  Mobility mobility() const { return type == "foot" || type == "pcso" ? Mobility::walk : Mobility::drive; }
  bool on_shift(EpochMs t) const;
};

struct Scenario {
  std::string name;
  std::vector<UnitSpec> units;
};

// The centres of the areas in a GeoJSON FeatureCollection (hot spots from
// tools/hotspots): the mean of each feature's outer ring vertices (without the
// closing one). Features without a polygon are skipped.
std::vector<geo::LonLat> read_area_centres(std::string_view geojson);

// Adds each hot spot to the beat of the unit that patrols nearest to it
// (among units with beat points, foot officers and PCSOs first when one is
// within `foot_reach_m`), so the shift patrols the hot spots too, with the
// same 10-15 minute stops as at beat points. Returns how many were added.
std::size_t assign_hotspots(Scenario& sc, const std::vector<geo::LonLat>& hotspots, const geo::Projection& proj,
                            double foot_reach_m = 3000);

// Parses the JSON scenario format (tools/sim/scenarios/rutland.json shows every field).
[[nodiscard]] Expected<Scenario, std::string> parse_scenario(std::string_view json);
// "07:00" -> 420; nullopt when malformed.
std::optional<int> parse_hhmm(std::string_view s);

// ------------------------------------------------------------------ movement

// A timed polyline in projected metres: the unit is at pts[i] at times[i]
// (ms from the path's start) and moves linearly between them.
struct Path {
  std::vector<geo::XY> pts;
  std::vector<double> times_s;  // same size as pts, non-decreasing, times_s[0] == 0
  double duration_s() const { return times_s.empty() ? 0 : times_s.back(); }
  bool empty() const { return pts.empty(); }
};

struct Motion {
  geo::XY xy;
  double speed_mps = 0;
  double heading_deg = 0;  // clockwise from grid north
};

// A straight path at `speed_mps` through the points in order.
Path straight_path(const std::vector<geo::XY>& pts, double speed_mps);
// A road route: each piece at its edge's speed (edges[i] drives polyline piece i
// when the counts match), else at the route's average speed.
Path road_path(const geo::RoadGraph& g, const geo::RoadRoute& r);
// Where a unit on `p` is `t_s` seconds after starting (clamped to the ends).
Motion position_at(const Path& p, double t_s);

// ------------------------------------------------------------------ encoders

// One fix as a device would report it.
struct WireFix {
  std::string device;
  EpochMs t = 0;
  double lat = 0, lon = 0;
  double speed_mps = 0;
  double heading_deg = 0;
  double accuracy_m = 5;
  bool emergency = false;
};

// One JSON ping object (the POST /api/v1/pings item): t as ISO 8601.
std::string encode_json_ping(const WireFix& f);
// An NMEA sentence "$<body>*hh\r\n" with its checksum.
std::string nmea_sentence(std::string_view body);
// "$PGID,<dev>*hh\r\n" + GPRMC + GPGGA of the fix (HDOP = accuracy / 5, 8 satellites).
std::string encode_nmea(const WireFix& f);

// LIP (ETSI TS 100 392-18-1) encoding, the inverse of server/ingest/lip.cpp.
int lip_velocity_code(double speed_mps);      // 7-bit horizontal velocity, 127 unknown
int lip_position_error_code(double error_m);  // 3-bit: <2, <20, <200 m, ...
// Short location report (time elapsed "< 5 s", reason for sending).
std::string encode_lip_short(const WireFix& f, int reason = 32);
// Long location report with the time of position (day, h, m, s UTC), shape
// "point with position error", velocity "horizontal speed and direction".
std::string encode_lip_long(const WireFix& f, int reason = 32);
// "<ISSI>,<hex>\r\n" (UDP datagram)
std::string lip_datagram(std::string_view issi, std::string_view hex);
// "+CTSDSR: 12,<ISSI>,0,<dst>,0,<bits>\r\n<hex>\r\n" (PEI stream)
std::string pei_report(std::string_view issi, std::string_view hex, std::string_view dst_issi = "9999");
// The query string of GET /osmand (no token): id, lat, lon, timestamp (epoch
// seconds), speed (knots), bearing, accuracy.
// `millis`: epoch milliseconds, as OsmAnd itself sends them (Traccar Client
// sends seconds, the default; a device pinging faster than 1 Hz needs millis).
std::string encode_osmand_query(const WireFix& f, bool millis = false);

// ------------------------------------------------------------------ crime CSV

struct CrimePoint {
  geo::LonLat ll;
  std::string category;  // police.uk "Crime type"
  std::string location;  // "On or near ..."
};
struct CrimeStats {
  std::size_t rows = 0;            // data rows read (header excluded)
  std::size_t no_coordinates = 0;  // skipped: empty or unparsable longitude/latitude
  std::size_t outside = 0;         // skipped: outside the area filter
  std::size_t kept = 0;
};
// Splits one CSV record (RFC 4180 quotes); false when a quote is unbalanced.
bool split_csv_line(std::string_view line, std::vector<std::string>& fields);
// Reads police.uk street-level crime CSV text; `inside` (may be empty) filters points.
std::vector<CrimePoint> read_crime_csv(std::string_view text, CrimeStats& stats,
                                       const std::function<bool(geo::LonLat)>& inside = {});
// "Violence and sexual offences" -> "violence", "Anti-social behaviour" -> "asb", ...
std::string incident_type_for(std::string_view category);

// ------------------------------------------------------------------ incidents

struct IncidentPlan {
  EpochMs t = 0;
  int grade = 2;
  std::string type;
  geo::LonLat ll;
  std::string address;
};

// Incidents as a non-homogeneous Poisson process: `per_hour` on average,
// shaped by the hour of day and busier on Friday and Saturday nights, at
// crime locations drawn from the CSV.
class IncidentGenerator {
 public:
  IncidentGenerator(std::vector<CrimePoint> crimes, std::uint64_t seed, double per_hour,
                    std::vector<double> grade_mix = {0.2, 0.5, 0.3});
  // Relative demand at time t (mean over a week ~1): hour-of-day profile x
  // 1.6 on Friday and Saturday nights (18:00-04:00 UTC).
  static double rhythm(EpochMs t);
  // The next incident strictly after `after`.
  IncidentPlan next(EpochMs after);
  std::size_t crimes() const { return crimes_.size(); }

 private:
  std::vector<CrimePoint> crimes_;
  std::mt19937_64 rng_;
  double per_hour_;
  std::vector<double> grade_mix_;
};

// ------------------------------------------------------------------ fleet

struct PingOut {
  std::size_t unit = 0;
  SimChannel channel = SimChannel::json;
  WireFix fix;
  std::string payload;  // exactly what goes on the wire (query string for OsmAnd)
};

struct FleetOptions {
  double noise_m = 5;          // gaussian GPS noise (sigma, metres, each axis)
  double dropout = 0.02;       // probability a ping is lost
  double outage_prob = 0.002;  // probability per ping that a device goes quiet
  double outage_min_s = 60, outage_max_s = 300;
  double walk_mps = 1.4;
  double koper_prob = 0.25;  // after reaching a beat point: dwell 10-15 min with this probability
  double on_scene_min_s = 300, on_scene_max_s = 900;  // time at an incident
  bool lip_long = false;  // LIP long reports with time of position (needed when the clock is not real time)
};

enum class UnitMode : std::uint8_t { off_shift, patrol, dwell, responding, on_scene };
std::string_view to_string(UnitMode m);

struct FleetEvent {
  enum class Kind : std::uint8_t { arrived, job_done, shift_started, shift_ended } kind;
  std::size_t unit = 0;
  std::int64_t incident = 0;
  EpochMs t = 0;
};

class Fleet {
 public:
  // `graph` may be null (everyone moves in straight lines, vehicles at 13 m/s).
  Fleet(const Scenario& scenario, const geo::RoadGraph* graph, const geo::Projection& projection, std::uint64_t seed,
        EpochMs start, FleetOptions options = {});

  // Advances every unit to `now` and appends the pings that fell due.
  void step(EpochMs now, std::vector<PingOut>& out);
  // Sends unit u to the incident (drives on the roads, walks in a straight
  // line); false when it is off shift or already on this incident.
  bool dispatch(std::size_t u, std::int64_t incident, geo::LonLat where, EpochMs now);
  // The job ended elsewhere (incident closed, unit cleared by the dispatcher): back to patrol.
  void release(std::size_t u, EpochMs now);
  std::vector<FleetEvent> take_events();

  std::size_t size() const { return units_.size(); }
  const UnitSpec& spec(std::size_t u) const { return scenario_.units[u]; }
  UnitMode mode(std::size_t u) const { return units_[u].mode; }
  std::int64_t incident(std::size_t u) const { return units_[u].incident; }
  geo::LonLat position(std::size_t u, EpochMs now) const;
  std::optional<std::size_t> find(std::string_view unit_id) const;

 private:
  struct DeviceState {
    EpochMs next_ping = 0;
    EpochMs quiet_until = 0;
  };
  struct UnitState {
    UnitMode mode = UnitMode::patrol;
    Path path;
    EpochMs path_start = 0;
    EpochMs wait_until = 0;  // dwell / on scene end
    std::size_t next_beat = 0;
    std::int64_t incident = 0;
    std::mt19937_64 rng;
    std::vector<DeviceState> devices;
  };
  void advance(std::size_t u, EpochMs now);
  void start_patrol_leg(std::size_t u, EpochMs now);
  Path travel(std::size_t u, geo::XY from, geo::XY to, bool urgent);
  Motion motion(std::size_t u, EpochMs now) const;
  void emit(std::size_t u, std::size_t d, EpochMs t, std::vector<PingOut>& out);

  Scenario scenario_;
  const geo::RoadGraph* graph_;
  const geo::Projection& projection_;
  FleetOptions options_;
  std::vector<UnitState> units_;
  std::vector<std::vector<geo::XY>> beats_xy_;
  std::vector<geo::XY> center_xy_;
  std::vector<FleetEvent> events_;
  EpochMs now_ = 0;
};

}  // namespace pm::sim
