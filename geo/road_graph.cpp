#include "geo/road_graph.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>

namespace pm::geo {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

constexpr std::array<std::string_view, kRoadClassCount> kClassNames = {
    "motorway",       "motorway_link", "trunk",         "trunk_link",   "primary",     "primary_link",  "secondary",
    "secondary_link", "tertiary",      "tertiary_link", "unclassified", "residential", "living_street", "service",
};

const RoadWay kNoLabels{};

SearchWorkspace& thread_workspace() {
  thread_local SearchWorkspace ws;
  return ws;
}

// The point of segment a-b nearest to p, as the fraction t from a.
double nearest_t(XY a, XY b, XY p) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  if (!(len2 > 0)) return 0;
  return std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0.0, 1.0);
}

XY lerp(XY a, XY b, double t) { return {a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)}; }

}  // namespace

std::string_view to_string(RoadClass c) {
  const auto i = static_cast<std::size_t>(c);
  return i < kRoadClassCount ? kClassNames[i] : std::string_view("unknown");
}

std::string_view to_string(RouteError e) {
  switch (e) {
    case RouteError::from_off_network:
      return "from_off_network";
    case RouteError::to_off_network:
      return "to_off_network";
    case RouteError::unreachable:
      return "unreachable";
  }
  return "unknown";
}

std::vector<LonLat> RoadRoute::lonlat(const Projection& projection) const {
  std::vector<LonLat> out;
  out.reserve(polyline.size());
  for (XY p : polyline) out.push_back(projection.inverse(p));
  return out;
}

// ---------------------------------------------------------------- workspace

void SearchWorkspace::begin(std::size_t nodes) {
  if (stamp_.size() < nodes) {
    dist_.resize(nodes);
    parent_.resize(nodes);
    stamp_.resize(nodes, 0);
    wanted_.resize(nodes, 0);
  }
  if (++gen_ == 0) {  // wrapped: stamps of 2^32 searches ago would match again
    std::fill(stamp_.begin(), stamp_.end(), 0u);
    std::fill(wanted_.begin(), wanted_.end(), 0u);
    gen_ = 1;
  }
  heap_.clear();
}

void SearchWorkspace::push(double key, std::uint32_t v) {
  heap_.emplace_back(key, v);
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
}

std::pair<double, std::uint32_t> SearchWorkspace::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
  const auto top = heap_.back();
  heap_.pop_back();
  return top;
}

// ---------------------------------------------------------------- build

Expected<RoadGraph, std::string> RoadGraph::build(std::vector<XY> nodes, std::vector<RoadEdgeInput> edges,
                                                  std::vector<RoadWay> ways) {
  if (nodes.size() >= kNoId) return Unexpected{std::string("road graph: too many nodes")};
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!std::isfinite(nodes[i].x) || !std::isfinite(nodes[i].y)) {
      return Unexpected{"road graph: node " + std::to_string(i) + " has a non-finite coordinate"};
    }
  }
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const RoadEdgeInput& e = edges[i];
    if (e.from >= nodes.size() || e.to >= nodes.size()) {
      return Unexpected{"road graph: edge " + std::to_string(i) + " names a node out of range"};
    }
    if (!(e.speed_kmh > 0) || !std::isfinite(e.speed_kmh)) {
      return Unexpected{"road graph: edge " + std::to_string(i) + " has no positive speed"};
    }
    if (e.way != kNoId && e.way >= ways.size()) {
      return Unexpected{"road graph: edge " + std::to_string(i) + " names a way out of range"};
    }
    if (static_cast<std::size_t>(e.road_class) >= kRoadClassCount) {
      return Unexpected{"road graph: edge " + std::to_string(i) + " has an unknown road class"};
    }
  }
  std::erase_if(edges, [](const RoadEdgeInput& e) { return e.from == e.to; });
  if (edges.size() >= kNoId) return Unexpected{std::string("road graph: too many edges")};
  std::stable_sort(edges.begin(), edges.end(), [](const RoadEdgeInput& a, const RoadEdgeInput& b) {
    return a.from != b.from ? a.from < b.from : a.to < b.to;
  });

  RoadGraph g;
  g.xy_ = std::move(nodes);
  g.ways_ = std::move(ways);
  const auto n = static_cast<std::uint32_t>(g.xy_.size());
  const auto m = static_cast<std::uint32_t>(edges.size());
  for (XY p : g.xy_) g.extent_.extend(p);

  g.out_first_.assign(std::size_t{n} + 1, 0);
  g.tail_.resize(m);
  g.head_.resize(m);
  g.time_s_.resize(m);
  g.length_m_.resize(m);
  g.way_.resize(m);
  g.class_.resize(m);
  double top_mps = 0;
  for (std::uint32_t e = 0; e < m; ++e) {
    const RoadEdgeInput& in = edges[e];
    const double mps = in.speed_kmh / 3.6;
    const double len = planar_distance_m(g.xy_[in.from], g.xy_[in.to]);
    g.tail_[e] = in.from;
    g.head_[e] = in.to;
    g.length_m_[e] = static_cast<float>(len);
    g.time_s_[e] = static_cast<float>(len / mps);
    g.way_[e] = in.way;
    g.class_[e] = in.road_class;
    ++g.out_first_[in.from + 1];
    top_mps = std::max(top_mps, mps);
  }
  for (std::uint32_t v = 0; v < n; ++v) g.out_first_[v + 1] += g.out_first_[v];
  // Slightly above the true top speed, so that float rounding of edge times
  // never makes the A* bound overestimate.
  g.top_speed_mps_ = top_mps > 0 ? top_mps * (1 + 1e-6) : 1.0;

  g.in_first_.assign(std::size_t{n} + 1, 0);
  for (std::uint32_t e = 0; e < m; ++e) ++g.in_first_[g.head_[e] + 1];
  for (std::uint32_t v = 0; v < n; ++v) g.in_first_[v + 1] += g.in_first_[v];
  g.in_edge_.resize(m);
  {
    std::vector<std::uint32_t> fill(g.in_first_.begin(), g.in_first_.end() - 1);
    for (std::uint32_t e = 0; e < m; ++e) g.in_edge_[fill[g.head_[e]]++] = e;
  }

  g.build_components();
  g.build_segments();
  g.build_snap_grid();
  return g;
}

// Kosaraju: finish order on the forward graph, then components on the reverse
// graph in reverse finish order. Iterative, so deep chains cannot overflow
// the stack.
void RoadGraph::build_components() {
  const auto n = static_cast<std::uint32_t>(xy_.size());
  std::vector<std::uint32_t> order;
  order.reserve(n);
  {
    std::vector<std::uint8_t> seen(n, 0);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> stack;  // node, next out-edge
    for (std::uint32_t s = 0; s < n; ++s) {
      if (seen[s]) continue;
      seen[s] = 1;
      stack.emplace_back(s, out_first_[s]);
      while (!stack.empty()) {
        auto& [v, next] = stack.back();
        if (next < out_first_[v + 1]) {
          const std::uint32_t w = head_[next++];
          if (!seen[w]) {
            seen[w] = 1;
            stack.emplace_back(w, out_first_[w]);
          }
        } else {
          order.push_back(v);
          stack.pop_back();
        }
      }
    }
  }
  std::vector<std::uint32_t> comp(n, kNoId);
  std::vector<std::size_t> sizes;
  std::vector<std::uint32_t> stack;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (comp[*it] != kNoId) continue;
    const auto c = static_cast<std::uint32_t>(sizes.size());
    std::size_t count = 0;
    comp[*it] = c;
    stack.push_back(*it);
    while (!stack.empty()) {
      const std::uint32_t v = stack.back();
      stack.pop_back();
      ++count;
      for (std::uint32_t e : in_edges(v)) {
        if (comp[tail_[e]] == kNoId) {
          comp[tail_[e]] = c;
          stack.push_back(tail_[e]);
        }
      }
    }
    sizes.push_back(count);
  }
  main_.assign(n, 0);
  main_nodes_ = 0;
  if (sizes.empty()) return;
  const auto largest = static_cast<std::uint32_t>(std::max_element(sizes.begin(), sizes.end()) - sizes.begin());
  main_nodes_ = sizes[largest];
  for (std::uint32_t v = 0; v < n; ++v) main_[v] = comp[v] == largest ? 1 : 0;
}

// One segment per pair of adjacent nodes, holding the edge each way.
void RoadGraph::build_segments() {
  const auto m = static_cast<std::uint32_t>(head_.size());
  std::unordered_map<std::uint64_t, std::uint32_t> by_pair;
  by_pair.reserve(m);
  segments_.reserve(m / 2 + 1);
  for (std::uint32_t e = 0; e < m; ++e) {
    const std::uint32_t u = tail_[e], v = head_[e];
    const std::uint64_t key = (std::uint64_t{std::min(u, v)} << 32) | std::max(u, v);
    const auto [it, inserted] = by_pair.try_emplace(key, static_cast<std::uint32_t>(segments_.size()));
    if (!inserted) {
      Segment& s = segments_[it->second];
      std::uint32_t& slot = u == s.a ? s.edge_ab : s.edge_ba;
      if (slot == kNoId) {
        slot = e;
        continue;
      }
      // A second parallel edge the same way: a segment of its own.
    }
    segments_.push_back({u, v, e, kNoId});
  }
}

void RoadGraph::build_snap_grid() {
  grid_ = GridShape::fit(extent_, kDefaultSnapCell_m, kMaxSnapCells);
  const std::size_t cells = grid_.cells();
  // Two passes over the snappable segments: count per cell, then fill.
  cell_first_.assign(cells + 1, 0);
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<std::uint32_t> fill;
    if (pass == 1) {
      for (std::size_t c = 0; c < cells; ++c) cell_first_[c + 1] += cell_first_[c];
      cell_seg_.resize(cell_first_[cells]);
      fill.assign(cell_first_.begin(), cell_first_.end() - 1);
    }
    for (std::uint32_t s = 0; s < segments_.size(); ++s) {
      const Segment& seg = segments_[s];
      if (!main_[seg.a] || !main_[seg.b]) continue;
      const XY a = xy_[seg.a], b = xy_[seg.b];
      const std::uint32_t x0 = grid_.cell_x(std::min(a.x, b.x)), x1 = grid_.cell_x(std::max(a.x, b.x));
      const std::uint32_t y0 = grid_.cell_y(std::min(a.y, b.y)), y1 = grid_.cell_y(std::max(a.y, b.y));
      for (std::uint32_t y = y0; y <= y1; ++y) {
        for (std::uint32_t x = x0; x <= x1; ++x) {
          const std::size_t c = grid_.index(x, y);
          if (pass == 0) {
            ++cell_first_[c + 1];
          } else {
            cell_seg_[fill[c]++] = s;
          }
        }
      }
    }
  }
}

const RoadWay& RoadGraph::edge_labels(std::uint32_t e) const { return way_[e] == kNoId ? kNoLabels : ways_[way_[e]]; }

// ---------------------------------------------------------------- snapping

std::optional<RoadSnap> RoadGraph::snap(XY p, double max_distance_m) const {
  if (cell_seg_.empty() || !std::isfinite(p.x) || !std::isfinite(p.y) || !(max_distance_m >= 0)) {
    return std::nullopt;
  }
  // best_d2 starts at the limit, so the ring bound below also stops at it.
  double best_d2 = max_distance_m * max_distance_m;
  RoadSnap best;
  auto scan = [&](std::int64_t x, std::int64_t y) {
    const std::size_t c = grid_.index(static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y));
    for (std::uint32_t i = cell_first_[c]; i < cell_first_[c + 1]; ++i) {
      const std::uint32_t s = cell_seg_[i];
      const XY a = xy_[segments_[s].a], b = xy_[segments_[s].b];
      const double t = nearest_t(a, b, p);
      const XY q = lerp(a, b, t);
      const double d2 = (p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y);
      if (d2 < best_d2 || (d2 == best_d2 && s < best.segment)) {
        best_d2 = d2;
        best = {s, t, q, 0};
      }
    }
  };
  // Ring search outwards from p clamped into the grid (projection onto a box
  // never brings two points closer, so the ring bound holds for p outside).
  const GridShape& gr = grid_;
  const double qx = std::clamp(p.x, gr.x0, gr.x0 + gr.nx * gr.cell);
  const double qy = std::clamp(p.y, gr.y0, gr.y0 + gr.ny * gr.cell);
  const auto nx = static_cast<std::int64_t>(gr.nx), ny = static_cast<std::int64_t>(gr.ny);
  const auto cx = static_cast<std::int64_t>(gr.cell_x(qx)), cy = static_cast<std::int64_t>(gr.cell_y(qy));
  const double margin = std::max(
      0.0,
      std::min({qx - (gr.x0 + static_cast<double>(cx) * gr.cell), gr.x0 + static_cast<double>(cx + 1) * gr.cell - qx,
                qy - (gr.y0 + static_cast<double>(cy) * gr.cell), gr.y0 + static_cast<double>(cy + 1) * gr.cell - qy}));
  for (std::int64_t r = 0;; ++r) {
    const std::int64_t xa = std::max<std::int64_t>(cx - r, 0), xb = std::min<std::int64_t>(cx + r, nx - 1);
    if (cy - r >= 0)
      for (std::int64_t x = xa; x <= xb; ++x) scan(x, cy - r);
    if (r > 0 && cy + r < ny)
      for (std::int64_t x = xa; x <= xb; ++x) scan(x, cy + r);
    const std::int64_t ya = std::max<std::int64_t>(cy - r + 1, 0), yb = std::min<std::int64_t>(cy + r - 1, ny - 1);
    if (r > 0 && cx - r >= 0)
      for (std::int64_t y = ya; y <= yb; ++y) scan(cx - r, y);
    if (r > 0 && cx + r < nx)
      for (std::int64_t y = ya; y <= yb; ++y) scan(cx + r, y);
    if (cx - r <= 0 && cx + r >= nx - 1 && cy - r <= 0 && cy + r >= ny - 1) break;  // whole grid
    const double bound = static_cast<double>(r) * gr.cell + margin;                 // nearest unscanned cell
    if (bound * bound > best_d2) break;
  }
  if (best.segment == kNoId) return std::nullopt;
  best.distance_m = std::sqrt(best_d2);
  return best;
}

// ---------------------------------------------------------------- searches

// A position at fraction t of segment a-b leaves for b along edge a->b and
// for a along b->a; it is reached from a along a->b and from b along b->a.
// At t == 0 (1) it is on a (b): no edge needed.
RoadGraph::EndLeg RoadGraph::end_leg(const RoadSnap& s, bool node_b, bool leaving) const {
  if (s.t == (node_b ? 1.0 : 0.0)) return {kNoId, 0, 0};
  const Segment& seg = segments_[s.segment];
  const std::uint32_t e = node_b == leaving ? seg.edge_ab : seg.edge_ba;
  const double f = node_b ? 1 - s.t : s.t;
  return {e, f, e == kNoId ? kInf : f * time_s_[e]};
}

// Two positions on the same segment: straight along it, if its direction allows.
RoadGraph::EndLeg RoadGraph::along(const RoadSnap& from, const RoadSnap& to) const {
  if (from.segment != to.segment) return {kNoId, 0, kInf};
  if (from.t == to.t) return {kNoId, 0, 0};
  const Segment& seg = segments_[from.segment];
  const std::uint32_t e = from.t < to.t ? seg.edge_ab : seg.edge_ba;
  const double f = std::abs(to.t - from.t);
  return {e, f, e == kNoId ? kInf : f * time_s_[e]};
}

Expected<RoadRoute, RouteError> RoadGraph::route(XY from, XY to, const RouteLimits& limits) const {
  return route(from, to, limits, thread_workspace());
}

Expected<RoadRoute, RouteError> RoadGraph::route(XY from, XY to, const RouteLimits& limits, SearchWorkspace& ws) const {
  const auto sf = snap(from, limits.max_snap_m);
  if (!sf) return Unexpected{RouteError::from_off_network};
  const auto st = snap(to, limits.max_snap_m);
  if (!st) return Unexpected{RouteError::to_off_network};
  const double max_s = std::isnan(limits.max_s) ? kInf : limits.max_s;
  const Segment& S = segments_[sf->segment];
  const Segment& T = segments_[st->segment];
  ws.begin(xy_.size());

  const EndLeg direct = along(*sf, *st);
  double best = direct.time_s;
  std::uint32_t best_node = kNoId;  // kNoId: straight along the shared segment
  EndLeg last;                      // from best_node onto the destination
  const EndLeg arrive_a = end_leg(*st, false, false), arrive_b = end_leg(*st, true, false);
  // A*: straight-line distance at the graph's top speed never overestimates.
  const XY goal = st->point;
  const double inv_top = 1.0 / top_speed_mps_;
  auto h = [&](std::uint32_t v) { return planar_distance_m(xy_[v], goal) * inv_top; };
  auto relax = [&](std::uint32_t v, double d, std::uint32_t via) {
    if (d < ws.dist(v) && d <= max_s) {
      ws.set(v, d, via);
      ws.push(d + h(v), v);
    }
  };
  relax(S.b, end_leg(*sf, true, true).time_s, kNoId);
  relax(S.a, end_leg(*sf, false, true).time_s, kNoId);
  while (!ws.heap_.empty()) {
    const auto [key, v] = ws.pop();
    const double d = ws.dist(v);
    if (key > d + h(v)) continue;  // stale entry
    if (key >= best) break;
    if (v == T.a && d + arrive_a.time_s < best) {
      best = d + arrive_a.time_s;
      best_node = v;
      last = arrive_a;
    }
    if (v == T.b && d + arrive_b.time_s < best) {
      best = d + arrive_b.time_s;
      best_node = v;
      last = arrive_b;
    }
    for (std::uint32_t e = out_first_[v]; e < out_first_[v + 1]; ++e) relax(head_[e], d + time_s_[e], e);
  }
  if (!(best <= max_s)) return Unexpected{RouteError::unreachable};

  RoadRoute r;
  r.time_s = best;
  r.from = *sf;
  r.to = *st;
  auto add_point = [&](XY p) {  // a snap exactly on a node would repeat it
    if (r.polyline.empty() || !(r.polyline.back() == p)) r.polyline.push_back(p);
  };
  auto add_partial = [&](const EndLeg& leg) {
    if (leg.edge == kNoId || !(leg.fraction > 0)) return;
    r.edges.push_back(leg.edge);
    r.length_m += leg.fraction * length_m_[leg.edge];
  };
  if (best_node == kNoId) {
    add_partial(direct);
    add_point(sf->point);
    add_point(st->point);
  } else {
    std::vector<std::uint32_t> nodes{best_node};
    std::vector<std::uint32_t> back;  // full edges, from the destination backwards
    for (std::uint32_t v = best_node; ws.parent_[v] != kNoId;) {
      back.push_back(ws.parent_[v]);
      v = tail_[back.back()];
      nodes.push_back(v);
    }
    // The first node is where the start left its segment: b or a.
    add_partial(end_leg(*sf, nodes.back() == S.b, true));
    for (auto it = back.rbegin(); it != back.rend(); ++it) {
      r.edges.push_back(*it);
      r.length_m += length_m_[*it];
    }
    add_partial(last);
    add_point(sf->point);
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) add_point(xy_[*it]);
    add_point(st->point);
  }
  for (std::uint32_t e : r.edges) {
    const std::string& ref = edge_labels(e).ref;
    if (!ref.empty() && std::find(r.refs.begin(), r.refs.end(), ref) == r.refs.end()) r.refs.push_back(ref);
  }
  return r;
}

void RoadGraph::drive_times_to(XY to, std::span<const XY> from, std::span<double> out_s, double max_s,
                               double max_snap_m) const {
  drive_times_to(to, from, out_s, max_s, thread_workspace(), max_snap_m);
}

void RoadGraph::drive_times_to(XY to, std::span<const XY> from, std::span<double> out_s, double max_s,
                               SearchWorkspace& ws, double max_snap_m) const {
  const std::size_t k = std::min(from.size(), out_s.size());
  std::fill(out_s.begin(), out_s.begin() + static_cast<std::ptrdiff_t>(k), kNaN);
  const auto st = snap(to, max_snap_m);
  if (!st || k == 0) return;
  const double bound = std::isnan(max_s) ? kInf : max_s;
  ws.begin(xy_.size());

  // Each source leaves its segment at b or a: those are the nodes the search
  // must settle before it can stop.
  std::size_t pending = 0;
  auto want = [&](std::uint32_t v) {
    if (ws.wanted_[v] != ws.gen_) {
      ws.wanted_[v] = ws.gen_;
      ++pending;
    }
  };
  ws.snaps_.resize(k);
  for (std::size_t i = 0; i < k; ++i) {
    const auto s = snap(from[i], max_snap_m);
    ws.snaps_[i] = s ? *s : RoadSnap{};
    if (!s) continue;
    const Segment& seg = segments_[s->segment];
    if (end_leg(*s, true, true).time_s <= bound) want(seg.b);
    if (end_leg(*s, false, true).time_s <= bound) want(seg.a);
  }

  // Backward search: dist(v) = drive time from v to the destination.
  auto relax = [&](std::uint32_t v, double d) {
    if (d < ws.dist(v) && d <= bound) {
      ws.set(v, d, kNoId);
      ws.push(d, v);
    }
  };
  const Segment& T = segments_[st->segment];
  relax(T.a, end_leg(*st, false, false).time_s);
  relax(T.b, end_leg(*st, true, false).time_s);
  while (pending > 0 && !ws.heap_.empty()) {
    const auto [d, v] = ws.pop();
    if (d > ws.dist(v)) continue;  // stale entry
    if (ws.wanted_[v] == ws.gen_) {
      ws.wanted_[v] = 0;
      --pending;
    }
    for (std::uint32_t e : in_edges(v)) relax(tail_[e], d + time_s_[e]);
  }

  for (std::size_t i = 0; i < k; ++i) {
    const RoadSnap& s = ws.snaps_[i];
    if (s.segment == kNoId) continue;
    const Segment& seg = segments_[s.segment];
    const double best = std::min({end_leg(s, true, true).time_s + ws.dist(seg.b),
                                  end_leg(s, false, true).time_s + ws.dist(seg.a), along(s, *st).time_s});
    if (best <= bound) out_s[i] = best;
  }
}

}  // namespace pm::geo
