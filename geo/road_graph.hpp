#pragma once
// A drivable road network in projected metres: snapping, shortest-time routes
// and one-to-many drive times. Pure: it is built from arrays (nodes, directed
// edges, way labels); reading OpenStreetMap is geo/osm_roads.hpp's job.
//
//   auto g = pm::geo::RoadGraph::build(nodes_xy, edges, ways);   // or load_osm_roads(...)
//   if (!g) throw std::runtime_error(g.error());
//   auto r = g->route(oakham_xy, uppingham_xy);                   // time_s, length_m, polyline, refs
//   pm::geo::SearchWorkspace ws;                                  // reuse: no O(nodes) allocation per query
//   std::vector<double> eta(units.size());
//   g->drive_times_to(incident_xy, units, eta, 1800.0, ws);       // NaN: off the network or beyond 1800 s
//
// Layout: every OSM way vertex is a node (no degree-2 contraction), so a
// directed edge is one straight piece of road and snapping needs no polyline
// geometry. Edges are sorted by tail, so node n's out-edges are the edge ids
// [out_begin(n), out_end(n)); a reverse CSR lists each node's in-edge ids.
// Weights are float seconds (length / speed) and float metres; searches add
// them in double.
//
// A "segment" is a piece of road between two consecutive nodes, with its edge
// a->b and/or b->a (one of them is kNoId on a one-way road). A point snaps to
// the nearest segment (uniform grid of segment ids); a partial segment counts
// at both ends of a search in proportion to the fraction travelled. Only
// segments of the largest strongly connected component are snap targets, so a
// point is never placed on a fragment it cannot leave (a private estate cut off
// by access tags, a one-way stub at the extract's edge).
//
// Thread safety: a RoadGraph is immutable after build(); any number of threads
// may query it at once, each with its own SearchWorkspace (the overloads
// without one use a thread_local workspace).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "geo/expected.hpp"
#include "geo/grid.hpp"
#include "geo/projection.hpp"
#include "geo/types.hpp"

namespace pm::geo {

enum class RoadClass : std::uint8_t {
  motorway,
  motorway_link,
  trunk,
  trunk_link,
  primary,
  primary_link,
  secondary,
  secondary_link,
  tertiary,
  tertiary_link,
  unclassified,
  residential,
  living_street,
  service,
};
inline constexpr std::size_t kRoadClassCount = 14;
// The OSM highway value ("motorway_link").
std::string_view to_string(RoadClass c);

// Labels of one source way, shared by all its edges.
struct RoadWay {
  std::string ref;   // "A6003", "" when none
  std::string name;  // "Uppingham Road", "" when none
};

inline constexpr std::uint32_t kNoId = std::numeric_limits<std::uint32_t>::max();

// One directed edge: a straight piece of road from node `from` to node `to`.
struct RoadEdgeInput {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  double speed_kmh = 0;  // > 0
  RoadClass road_class = RoadClass::unclassified;
  std::uint32_t way = kNoId;  // index into the ways, or kNoId
};

struct RoadSnap {
  std::uint32_t segment = kNoId;
  double t = 0;           // fraction along the segment from its node a (0) to b (1)
  XY point;               // the nearest point on the segment
  double distance_m = 0;  // from the query point to `point`
};

struct RoadRoute {
  double time_s = 0;
  double length_m = 0;
  RoadSnap from, to;
  std::vector<std::uint32_t> edges;  // every edge travelled, the partial ones at both ends included
  std::vector<XY> polyline;          // from.point, the nodes passed, to.point
  std::vector<std::string> refs;     // distinct non-empty way refs, in order of first use
  std::vector<LonLat> lonlat(const Projection& projection) const;  // the polyline in WGS84
};

enum class RouteError : std::uint8_t {
  from_off_network,  // no snappable road within max_snap_m of the start
  to_off_network,    // ... of the destination
  unreachable,       // no path, or none within max_s
};
std::string_view to_string(RouteError e);

struct RouteLimits {
  static constexpr double kDefaultMaxSnap_m = 500.0;
  double max_s = std::numeric_limits<double>::infinity();  // give up beyond this drive time
  double max_snap_m = kDefaultMaxSnap_m;                   // farther from any road: not on the network
};

// Scratch space for searches, reused across queries: distance labels are
// stamped with a generation number, so starting a search costs O(1), not
// O(nodes). One per thread; any graph (it grows to the largest seen).
class SearchWorkspace {
 public:
  SearchWorkspace() = default;

 private:
  friend class RoadGraph;
  void begin(std::size_t nodes);
  double dist(std::uint32_t v) const { return stamp_[v] == gen_ ? dist_[v] : kInfinity; }
  void set(std::uint32_t v, double d, std::uint32_t parent_edge) {
    stamp_[v] = gen_;
    dist_[v] = d;
    parent_[v] = parent_edge;
  }
  void push(double key, std::uint32_t v);
  std::pair<double, std::uint32_t> pop();

  static constexpr double kInfinity = std::numeric_limits<double>::infinity();
  std::vector<double> dist_;
  std::vector<std::uint32_t> parent_;                   // edge that reached the node; kNoId at a seed
  std::vector<std::uint32_t> stamp_;                    // == gen_: dist_ and parent_ are valid
  std::vector<std::uint32_t> wanted_;                   // == gen_: a node a drive_times_to source needs
  std::vector<std::pair<double, std::uint32_t>> heap_;  // (key, node), a min-heap
  std::vector<RoadSnap> snaps_;
  std::uint32_t gen_ = 0;
};

class RoadGraph {
 public:
  static constexpr double kDefaultSnapCell_m = 100.0;
  static constexpr std::size_t kMaxSnapCells = std::size_t{1} << 22;

  struct Segment {
    std::uint32_t a = 0, b = 0;
    std::uint32_t edge_ab = kNoId, edge_ba = kNoId;
  };

  // Fails on a node index out of range, a non-finite coordinate, a speed that
  // is not > 0, or a way index out of range. Edges from a node to itself are
  // dropped (zero length).
  [[nodiscard]] static Expected<RoadGraph, std::string> build(std::vector<XY> nodes, std::vector<RoadEdgeInput> edges,
                                                              std::vector<RoadWay> ways = {});

  std::size_t node_count() const { return xy_.size(); }
  std::size_t edge_count() const { return head_.size(); }
  std::size_t segment_count() const { return segments_.size(); }
  std::size_t main_component_nodes() const { return main_nodes_; }
  const Box& extent() const { return extent_; }

  XY node_xy(std::uint32_t n) const { return xy_[n]; }
  bool on_main_network(std::uint32_t n) const { return main_[n] != 0; }
  std::uint32_t out_begin(std::uint32_t n) const { return out_first_[n]; }
  std::uint32_t out_end(std::uint32_t n) const { return out_first_[n + 1]; }
  std::span<const std::uint32_t> in_edges(std::uint32_t n) const {
    return {in_edge_.data() + in_first_[n], in_edge_.data() + in_first_[n + 1]};
  }
  std::uint32_t edge_tail(std::uint32_t e) const { return tail_[e]; }
  std::uint32_t edge_head(std::uint32_t e) const { return head_[e]; }
  float edge_time_s(std::uint32_t e) const { return time_s_[e]; }
  float edge_length_m(std::uint32_t e) const { return length_m_[e]; }
  RoadClass edge_class(std::uint32_t e) const { return class_[e]; }
  std::uint32_t edge_way(std::uint32_t e) const { return way_[e]; }
  // Labels of edge e's way (empty labels when it has none).
  const RoadWay& edge_labels(std::uint32_t e) const;
  const Segment& segment(std::uint32_t s) const { return segments_[s]; }

  // The nearest point on a main-network segment within max_distance_m of p
  // (ties: the lowest segment id); nullopt when there is none.
  std::optional<RoadSnap> snap(XY p, double max_distance_m = RouteLimits::kDefaultMaxSnap_m) const;

  // The shortest-time path between the snapped positions of from and to (A*
  // with straight line / top speed as the bound, so the answer is exact).
  [[nodiscard]] Expected<RoadRoute, RouteError> route(XY from, XY to, const RouteLimits& limits,
                                                      SearchWorkspace& ws) const;
  [[nodiscard]] Expected<RoadRoute, RouteError> route(XY from, XY to, const RouteLimits& limits = {}) const;

  // out_s[i] = the drive time from from[i] to `to`, or NaN where from[i] (or
  // `to`) is farther than max_snap_m from the network, or the time exceeds
  // max_s. One backward search from `to` over the reverse graph, which stops
  // once every node a source needs is settled. Requires out_s.size() >= from.size().
  void drive_times_to(XY to, std::span<const XY> from, std::span<double> out_s, double max_s, SearchWorkspace& ws,
                      double max_snap_m = RouteLimits::kDefaultMaxSnap_m) const;
  void drive_times_to(XY to, std::span<const XY> from, std::span<double> out_s, double max_s,
                      double max_snap_m = RouteLimits::kDefaultMaxSnap_m) const;

 private:
  RoadGraph() = default;
  // A partial edge at one end of a search: `fraction` of `edge` (kNoId: none
  // needed), taking time_s (infinite: not allowed by the one-way rules).
  struct EndLeg {
    std::uint32_t edge = kNoId;
    double fraction = 0;
    double time_s = 0;
  };
  // Between a snapped position and node b (node_b) or a of its segment,
  // leaving the position or arriving at it.
  EndLeg end_leg(const RoadSnap& s, bool node_b, bool leaving) const;
  // Between two positions on the same segment (infinite time otherwise).
  EndLeg along(const RoadSnap& from, const RoadSnap& to) const;
  void build_components();
  void build_segments();
  void build_snap_grid();

  std::vector<XY> xy_;
  std::vector<std::uint8_t> main_;  // 1: in the largest strongly connected component
  std::size_t main_nodes_ = 0;
  // Edges, sorted by tail: out-edges of n are [out_first_[n], out_first_[n+1]).
  std::vector<std::uint32_t> out_first_;
  std::vector<std::uint32_t> tail_, head_;
  std::vector<float> time_s_, length_m_;
  std::vector<std::uint32_t> way_;
  std::vector<RoadClass> class_;
  std::vector<std::uint32_t> in_first_, in_edge_;  // reverse CSR of edge ids
  std::vector<RoadWay> ways_;
  double top_speed_mps_ = 1;  // A* bound: no edge is faster

  std::vector<Segment> segments_;
  Box extent_;  // of the nodes
  // Uniform grid over extent_: cell c lists snappable segments whose bounding
  // box overlaps it, in cell_seg_[cell_first_[c] .. cell_first_[c+1]).
  GridShape grid_;
  std::vector<std::uint32_t> cell_first_, cell_seg_;
};

}  // namespace pm::geo
