#pragma once
// Areas (neighbourhoods, micro-beats, hot spots) in projected metres, for
// "which areas is this fix in" and "how much of this segment lies in area A".
//
//   std::vector<pm::geo::AreaError> errors;
//   auto index = pm::geo::AreaIndex::build(inputs, projection, &errors);
//   std::vector<uint32_t> hits;                 // reuse: no allocation per query
//   index.areas_containing(projection.forward(fix), hits);
//   for (uint32_t a : hits) log(index.id(a));
//   double f = index.inside_fraction(hits[0], prev_xy, next_xy);  // patrol time share
//
// Areas are addressed by dense handles 0..size()-1 in input order of the
// features that loaded; source_index() maps a handle back to its input.
//
// Boundary rule: a point on an area's boundary, or within kBoundaryTolerance_m
// of it, is inside (GEOS "covers", not "contains"). A unit standing on the line
// between two beats is therefore present in both, and a fix projected from a
// shared boundary vertex is never in neither. inside_fraction() follows the
// same rule (it equals the length of GEOSIntersection(segment, polygon), whose
// result includes boundary lines).
//
// Thread safety: immutable after build(); any number of threads may call the
// const methods concurrently. That is why queries do not use GEOS: prepared
// geometries build their indexes lazily on first use (a data race when shared)
// and GEOS context handles are single-threaded. GEOS is used only inside
// build() to validate and measure each polygon; queries run on a copy of the
// projected rings with a per-area edge index (y bands), allocation-free except
// inside_fraction()'s per-thread scratch buffer.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "geo/projection.hpp"
#include "geo/types.hpp"

namespace pm::geo {

struct PolygonRings {
  std::vector<std::vector<LonLat>> rings;  // rings[0] outer, rest holes; each closed
};

struct AreaInput {
  std::string id;
  std::vector<PolygonRings> polygons;  // 1 polygon = Polygon, more = MultiPolygon
};

// A feature that was not loaded: its position in the input, its id, and why
// (GEOS's isValidReason, e.g. "Self-intersection[x y]", or a structural check).
struct AreaError {
  std::size_t index;
  std::string id;
  std::string reason;
};

class AreaIndex {
 public:
  static constexpr double kBoundaryTolerance_m = 1e-6;

  // Projects every feature, validates it and indexes the valid ones. Invalid
  // features are appended to *errors (when not null) and skipped.
  static AreaIndex build(const std::vector<AreaInput>& inputs, const Projection& projection,
                         std::vector<AreaError>* errors);

  AreaIndex() = default;  // empty index
  AreaIndex(AreaIndex&&) noexcept = default;
  AreaIndex& operator=(AreaIndex&&) noexcept = default;
  // Copies are almost always accidental (the index can be large): share it
  // through a shared_ptr<const AreaIndex> instead.
  AreaIndex(const AreaIndex&) = delete;
  AreaIndex& operator=(const AreaIndex&) = delete;
  ~AreaIndex() = default;

  std::size_t size() const { return areas_.size(); }
  const std::string& id(std::uint32_t area) const { return areas_[area].id; }
  std::size_t source_index(std::uint32_t area) const { return areas_[area].source_index; }
  std::optional<std::uint32_t> find(std::string_view id) const;
  double area_m2(std::uint32_t area) const { return areas_[area].area_m2; }
  Box bounds(std::uint32_t area) const { return areas_[area].bounds; }
  Box extent() const { return extent_; }  // union of all bounds

  // Clears `out`, then appends every area covering p, in ascending handle
  // order. Does not allocate when `out` has enough capacity.
  void areas_containing(XY p, std::vector<std::uint32_t>& out) const;

  // Does `area` cover p? The cheap "is the unit still in the same area" check.
  bool contains(std::uint32_t area, XY p) const;

  // Fraction (0..1) of the segment a->b lying in `area` (boundary included);
  // for a == b, 1 if the area covers a, else 0. Exact up to rounding.
  double inside_fraction(std::uint32_t area, XY a, XY b) const;

  // Clears `out`, then appends the parameter intervals [t0, t1] (0 <= t0 < t1
  // <= 1, ascending, disjoint, adjacent pieces joined) of the segment a->b
  // that lie in `area`, boundary included; their lengths sum to
  // inside_fraction(). A segment that only touches the area at a point gives
  // nothing (the piece has no length). For a == b (zero length): {[0, 1]} if the area covers
  // a, else nothing.
  void inside_intervals(std::uint32_t area, XY a, XY b,
                        std::vector<std::pair<double, double>>& out) const;

  // Clears `out`, then appends, ascending and once each, every area whose
  // bounds (grown by kBoundaryTolerance_m) meet `box`: the candidates for a
  // segment whose bounding box is `box`. Cheap: one grid lookup per cell the
  // box spans.
  void areas_near(const Box& box, std::vector<std::uint32_t>& out) const;

 private:
  struct Edge {
    double x0, y0, x1, y1;
  };
  struct Area {
    std::string id;
    std::size_t source_index = 0;
    double area_m2 = 0;
    Box bounds;
    // Edges of all rings, bucketed by horizontal bands of equal height over
    // bounds: band b holds every edge whose y-range meets it, so a ray cast or
    // a segment clip only looks at the few edges near the query.
    double band_y0 = 0;
    double inv_band_h = 0;
    std::vector<std::uint32_t> band_start;  // size bands+1, offsets into band_edges
    std::vector<Edge> band_edges;
  };

  static std::uint32_t band_of(const Area& a, double y);
  static bool covers(const Area& a, XY p);
  // Appends to ts the parameters (within [0,1]) where a->b meets an edge of
  // `ar`, generously (extra splits are harmless); false when the segment
  // misses the area's bounds.
  static bool split_points(const Area& ar, XY a, XY b, std::vector<double>& ts);
  void build_grid();

  std::vector<Area> areas_;
  std::vector<std::pair<std::string, std::uint32_t>> by_id_;  // sorted by id
  Box extent_;
  // Coarse uniform grid over extent_: cell -> areas whose bounds meet it.
  double cell_ = 1;
  std::uint32_t nx_ = 0;
  std::uint32_t ny_ = 0;
  std::vector<std::uint32_t> cell_start_;
  std::vector<std::uint32_t> cell_areas_;
};

}  // namespace pm::geo
