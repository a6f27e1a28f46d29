#include "geo/area_index.hpp"

#include <geos_c.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <unordered_set>
#include <utility>

namespace pm::geo {
namespace {

constexpr double kTol = AreaIndex::kBoundaryTolerance_m;
// Finer bands cost memory (edges spanning several bands are repeated) and buy
// little once a band holds a handful of edges.
constexpr std::size_t kMaxBands = 4096;
// The top-level grid stays small: it only narrows the candidates before the
// per-area test, and is bounded so one huge area cannot blow it up.
constexpr std::uint32_t kMaxGridCells = 256;

// A GEOS context for one build() call. GEOS reports errors through a callback;
// keep the last message so a failure can be explained.
class GeosContext {
 public:
  GeosContext() : handle_(GEOS_init_r()) {
    if (!handle_) throw std::runtime_error("GEOS_init_r failed");
    GEOSContext_setErrorMessageHandler_r(handle_, &GeosContext::on_error, this);
  }
  GeosContext(const GeosContext&) = delete;
  GeosContext& operator=(const GeosContext&) = delete;
  ~GeosContext() { GEOS_finish_r(handle_); }

  GEOSContextHandle_t get() const { return handle_; }
  std::string take_error() { return std::exchange(last_error_, {}); }

 private:
  static void on_error(const char* message, void* userdata) {
    static_cast<GeosContext*>(userdata)->last_error_ = message ? message : "GEOS error";
  }
  GEOSContextHandle_t handle_;
  std::string last_error_;
};

struct GeomDeleter {
  GEOSContextHandle_t ctx;
  void operator()(GEOSGeometry* g) const { GEOSGeom_destroy_r(ctx, g); }
};
using GeomPtr = std::unique_ptr<GEOSGeometry, GeomDeleter>;

using Ring = std::vector<XY>;
using Polygon = std::vector<Ring>;

GeomPtr make_ring(GEOSContextHandle_t ctx, const Ring& ring) {
  static_assert(sizeof(XY) == 2 * sizeof(double), "XY must be two packed doubles for GEOS");
  GEOSCoordSequence* seq =
      GEOSCoordSeq_copyFromBuffer_r(ctx, &ring.front().x, static_cast<unsigned>(ring.size()), 0, 0);
  if (!seq) return GeomPtr(nullptr, {ctx});
  // Ownership of seq passes to the ring.
  return GeomPtr(GEOSGeom_createLinearRing_r(ctx, seq), {ctx});
}

GeomPtr make_polygon(GEOSContextHandle_t ctx, const Polygon& poly) {
  GeomPtr shell = make_ring(ctx, poly.front());
  if (!shell) return GeomPtr(nullptr, {ctx});
  std::vector<GeomPtr> holes;
  for (std::size_t i = 1; i < poly.size(); ++i) {
    holes.push_back(make_ring(ctx, poly[i]));
    if (!holes.back()) return GeomPtr(nullptr, {ctx});
  }
  std::vector<GEOSGeometry*> raw;
  for (auto& h : holes) raw.push_back(h.release());
  // Ownership of shell and holes passes to the polygon.
  return GeomPtr(
      GEOSGeom_createPolygon_r(ctx, shell.release(), raw.data(), static_cast<unsigned>(raw.size())),
      {ctx});
}

GeomPtr make_geometry(GEOSContextHandle_t ctx, const std::vector<Polygon>& polys) {
  if (polys.size() == 1) return make_polygon(ctx, polys.front());
  std::vector<GeomPtr> parts;
  for (const auto& p : polys) {
    parts.push_back(make_polygon(ctx, p));
    if (!parts.back()) return GeomPtr(nullptr, {ctx});
  }
  std::vector<GEOSGeometry*> raw;
  for (auto& p : parts) raw.push_back(p.release());
  return GeomPtr(GEOSGeom_createCollection_r(ctx, GEOS_MULTIPOLYGON, raw.data(),
                                             static_cast<unsigned>(raw.size())),
                 {ctx});
}

// Structural checks GEOS would either throw on or not report by feature:
// returns an empty string when the rings are usable.
std::string check_structure(const AreaInput& in) {
  if (in.polygons.empty()) return "no polygons";
  for (std::size_t p = 0; p < in.polygons.size(); ++p) {
    const auto& rings = in.polygons[p].rings;
    const std::string where_p = "polygon " + std::to_string(p);
    if (rings.empty()) return where_p + " has no rings";
    for (std::size_t r = 0; r < rings.size(); ++r) {
      const auto& ring = rings[r];
      const std::string where = where_p + " ring " + std::to_string(r);
      for (std::size_t i = 0; i < ring.size(); ++i) {
        if (!is_valid(ring[i])) {
          return where + " point " + std::to_string(i) + ": non-finite or out-of-range coordinate";
        }
      }
      if (ring.size() < 4) {
        return where + " has " + std::to_string(ring.size()) +
               " points (a closed ring needs at least 4)";
      }
      if (!(ring.front() == ring.back())) return where + " is not closed";
    }
  }
  return {};
}

bool near_segment(double x0, double y0, double x1, double y1, XY p) {
  const double dx = x1 - x0;
  const double dy = y1 - y0;
  const double len2 = dx * dx + dy * dy;
  double t = 0;
  if (len2 > 0) t = std::clamp(((p.x - x0) * dx + (p.y - y0) * dy) / len2, 0.0, 1.0);
  const double ex = x0 + t * dx - p.x;
  const double ey = y0 + t * dy - p.y;
  return ex * ex + ey * ey <= kTol * kTol;
}

double cross(double ax, double ay, double bx, double by) { return ax * by - ay * bx; }

}  // namespace

std::uint32_t AreaIndex::band_of(const Area& a, double y) {
  const double f = (y - a.band_y0) * a.inv_band_h;
  const auto last = static_cast<double>(a.band_start.size() - 2);
  return static_cast<std::uint32_t>(std::clamp(std::floor(f), 0.0, last));
}

bool AreaIndex::covers(const Area& a, XY p) {
  const Box& b = a.bounds;
  if (!(p.x >= b.min_x - kTol && p.x <= b.max_x + kTol && p.y >= b.min_y - kTol &&
        p.y <= b.max_y + kTol)) {
    return false;  // also rejects NaN
  }
  const std::uint32_t band = band_of(a, p.y);
  bool inside = false;
  for (std::uint32_t i = a.band_start[band]; i < a.band_start[band + 1]; ++i) {
    const Edge& e = a.band_edges[i];
    // On (or within kTol of) the boundary counts as inside. The box test is
    // cheap and rarely passes, so the exact distance is seldom computed.
    if (p.x >= std::min(e.x0, e.x1) - kTol && p.x <= std::max(e.x0, e.x1) + kTol &&
        p.y >= std::min(e.y0, e.y1) - kTol && p.y <= std::max(e.y0, e.y1) + kTol &&
        near_segment(e.x0, e.y0, e.x1, e.y1, p)) {
      return true;
    }
    if ((e.y0 > p.y) != (e.y1 > p.y)) {
      // Half-open crossing rule: each crossing of the horizontal ray to +x
      // flips parity; holes and multipolygon parts need no special case.
      const double xi = e.x0 + (p.y - e.y0) * (e.x1 - e.x0) / (e.y1 - e.y0);
      if (p.x < xi) inside = !inside;
    }
  }
  return inside;
}

bool AreaIndex::contains(std::uint32_t area, XY p) const { return covers(areas_[area], p); }

void AreaIndex::areas_containing(XY p, std::vector<std::uint32_t>& out) const {
  out.clear();
  if (areas_.empty()) return;
  if (!(p.x >= extent_.min_x - kTol && p.x <= extent_.max_x + kTol && p.y >= extent_.min_y - kTol &&
        p.y <= extent_.max_y + kTol)) {
    return;
  }
  const auto cx = static_cast<std::uint32_t>(
      std::clamp(std::floor((p.x - extent_.min_x) / cell_), 0.0, static_cast<double>(nx_ - 1)));
  const auto cy = static_cast<std::uint32_t>(
      std::clamp(std::floor((p.y - extent_.min_y) / cell_), 0.0, static_cast<double>(ny_ - 1)));
  const std::uint32_t c = cy * nx_ + cx;
  for (std::uint32_t i = cell_start_[c]; i < cell_start_[c + 1]; ++i) {
    const std::uint32_t a = cell_areas_[i];
    if (covers(areas_[a], p)) out.push_back(a);
  }
}

bool AreaIndex::split_points(const Area& ar, XY a, XY b, std::vector<double>& ts) {
  const double dx = b.x - a.x;
  const double dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  const Box& bb = ar.bounds;
  if (std::max(a.x, b.x) < bb.min_x - kTol || std::min(a.x, b.x) > bb.max_x + kTol ||
      std::max(a.y, b.y) < bb.min_y - kTol || std::min(a.y, b.y) > bb.max_y + kTol) {
    return false;
  }
  // Split the segment at every parameter t where it meets an edge; between
  // two consecutive splits it is wholly inside or wholly outside, so testing
  // each piece's midpoint is exact. Extra splits are harmless, so near-misses
  // are included generously.
  ts.clear();
  ts.push_back(0.0);
  ts.push_back(1.0);
  const double len = std::sqrt(len2);
  const double teps = kTol / len;
  auto add = [&](double t) {
    if (t > -teps && t < 1 + teps) ts.push_back(std::clamp(t, 0.0, 1.0));
  };
  const std::uint32_t b_lo = band_of(ar, std::min(a.y, b.y) - kTol);
  const std::uint32_t b_hi = band_of(ar, std::max(a.y, b.y) + kTol);
  for (std::uint32_t i = ar.band_start[b_lo]; i < ar.band_start[b_hi + 1]; ++i) {
    const Edge& e = ar.band_edges[i];
    const double ex = e.x1 - e.x0;
    const double ey = e.y1 - e.y0;
    const double wx = e.x0 - a.x;
    const double wy = e.y0 - a.y;
    const double den = cross(dx, dy, ex, ey);
    const double elen = std::sqrt(ex * ex + ey * ey);  // hypot is ~10x slower; no overflow at metre scale
    if (std::fabs(den) > 1e-12 * len * elen) {
      const double t = cross(wx, wy, ex, ey) / den;
      const double u = cross(wx, wy, dx, dy) / den;
      const double ueps = elen > 0 ? kTol / elen : 0;
      if (u > -ueps && u < 1 + ueps) add(t);
    } else if (std::fabs(cross(wx, wy, dx, dy)) <= kTol * len) {
      // Collinear overlap: split where the edge's ends fall on the segment.
      add((wx * dx + wy * dy) / len2);
      add(((e.x1 - a.x) * dx + (e.y1 - a.y) * dy) / len2);
    }
  }
  std::sort(ts.begin(), ts.end());
  return true;
}

double AreaIndex::inside_fraction(std::uint32_t area, XY a, XY b) const {
  const Area& ar = areas_[area];
  if (!std::isfinite(a.x) || !std::isfinite(a.y) || !std::isfinite(b.x) || !std::isfinite(b.y)) {
    return 0;
  }
  const double dx = b.x - a.x;
  const double dy = b.y - a.y;
  if (dx * dx + dy * dy == 0) return covers(ar, a) ? 1.0 : 0.0;
  thread_local std::vector<double> ts;
  if (!split_points(ar, a, b, ts)) return 0;
  double inside = 0;
  for (std::size_t i = 0; i + 1 < ts.size(); ++i) {
    const double t0 = ts[i];
    const double t1 = ts[i + 1];
    if (t1 <= t0) continue;
    const double tm = 0.5 * (t0 + t1);
    if (covers(ar, {a.x + tm * dx, a.y + tm * dy})) inside += t1 - t0;
  }
  return std::clamp(inside, 0.0, 1.0);
}

void AreaIndex::inside_intervals(std::uint32_t area, XY a, XY b,
                                 std::vector<std::pair<double, double>>& out) const {
  out.clear();
  const Area& ar = areas_[area];
  if (!std::isfinite(a.x) || !std::isfinite(a.y) || !std::isfinite(b.x) || !std::isfinite(b.y)) {
    return;
  }
  const double dx = b.x - a.x;
  const double dy = b.y - a.y;
  if (dx * dx + dy * dy == 0) {
    if (covers(ar, a)) out.emplace_back(0.0, 1.0);
    return;
  }
  thread_local std::vector<double> ts;
  if (!split_points(ar, a, b, ts)) return;
  for (std::size_t i = 0; i + 1 < ts.size(); ++i) {
    const double t0 = ts[i];
    const double t1 = ts[i + 1];
    if (t1 <= t0) continue;
    const double tm = 0.5 * (t0 + t1);
    if (!covers(ar, {a.x + tm * dx, a.y + tm * dy})) continue;
    // Pieces are contiguous, so an inside piece that starts where the last
    // one ended continues it.
    if (!out.empty() && out.back().second == t0) {
      out.back().second = t1;
    } else {
      out.emplace_back(t0, t1);
    }
  }
}

void AreaIndex::areas_near(const Box& box, std::vector<std::uint32_t>& out) const {
  out.clear();
  if (areas_.empty()) return;
  if (!(box.max_x >= extent_.min_x - kTol && box.min_x <= extent_.max_x + kTol &&
        box.max_y >= extent_.min_y - kTol && box.min_y <= extent_.max_y + kTol)) {
    return;  // also rejects NaN
  }
  auto cx = [&](double x) {
    return static_cast<std::uint32_t>(
        std::clamp(std::floor((x - extent_.min_x) / cell_), 0.0, static_cast<double>(nx_ - 1)));
  };
  auto cy = [&](double y) {
    return static_cast<std::uint32_t>(
        std::clamp(std::floor((y - extent_.min_y) / cell_), 0.0, static_cast<double>(ny_ - 1)));
  };
  const std::uint32_t x0 = cx(box.min_x - kTol), x1 = cx(box.max_x + kTol);
  const std::uint32_t y0 = cy(box.min_y - kTol), y1 = cy(box.max_y + kTol);
  for (std::uint32_t y = y0; y <= y1; ++y) {
    for (std::uint32_t x = x0; x <= x1; ++x) {
      const std::uint32_t c = y * nx_ + x;
      for (std::uint32_t i = cell_start_[c]; i < cell_start_[c + 1]; ++i) {
        const std::uint32_t a = cell_areas_[i];
        const Box& b = areas_[a].bounds;
        if (box.max_x >= b.min_x - kTol && box.min_x <= b.max_x + kTol && box.max_y >= b.min_y - kTol &&
            box.min_y <= b.max_y + kTol) {
          out.push_back(a);
        }
      }
    }
  }
  if (x0 != x1 || y0 != y1) {
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
}

std::optional<std::uint32_t> AreaIndex::find(std::string_view id) const {
  auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id,
                             [](const auto& e, std::string_view v) { return e.first < v; });
  if (it == by_id_.end() || it->first != id) return std::nullopt;
  return it->second;
}

AreaIndex AreaIndex::build(const std::vector<AreaInput>& inputs, const Projection& projection,
                           std::vector<AreaError>* errors) {
  GeosContext geos;
  GEOSContextHandle_t ctx = geos.get();
  AreaIndex index;
  std::unordered_set<std::string> seen_ids;
  auto fail = [&](std::size_t i, std::string reason) {
    if (errors) errors->push_back({i, inputs[i].id, std::move(reason)});
  };

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const AreaInput& in = inputs[i];
    if (in.id.empty()) {
      fail(i, "empty id");
      continue;
    }
    if (std::string why = check_structure(in); !why.empty()) {
      fail(i, std::move(why));
      continue;
    }
    // Project first: validity and area are judged in the plane the queries use.
    std::vector<Polygon> polys;
    bool projected = true;
    for (const auto& pr : in.polygons) {
      Polygon poly;
      for (const auto& ring : pr.rings) {
        Ring xy(ring.size());
        projection.forward(ring, xy);
        // Keep closure exact even if PROJ rounds first and last differently.
        xy.back() = xy.front();
        for (const XY& p : xy) projected = projected && std::isfinite(p.x) && std::isfinite(p.y);
        poly.push_back(std::move(xy));
      }
      polys.push_back(std::move(poly));
    }
    if (!projected) {
      fail(i, "coordinates cannot be projected to " + projection.crs());
      continue;
    }
    GeomPtr geom = make_geometry(ctx, polys);
    if (!geom) {
      fail(i, "GEOS cannot build the geometry: " + geos.take_error());
      continue;
    }
    const char valid = GEOSisValid_r(ctx, geom.get());
    if (valid != 1) {
      std::string reason = "invalid geometry";
      if (char* r = GEOSisValidReason_r(ctx, geom.get())) {
        reason = r;
        GEOSFree_r(ctx, r);
      } else if (valid == 2) {
        reason = "GEOS validity check failed: " + geos.take_error();
      }
      fail(i, std::move(reason));
      continue;
    }
    double area_m2 = 0;
    if (!GEOSArea_r(ctx, geom.get(), &area_m2)) {
      fail(i, "GEOS cannot compute the area: " + geos.take_error());
      continue;
    }
    if (!seen_ids.insert(in.id).second) {
      fail(i, "duplicate id");
      continue;
    }

    Area a;
    a.id = in.id;
    a.source_index = i;
    a.area_m2 = area_m2;
    std::vector<Edge> edges;
    for (const auto& poly : polys) {
      for (const auto& ring : poly) {
        for (std::size_t k = 0; k + 1 < ring.size(); ++k) {
          a.bounds.extend(ring[k]);
          edges.push_back({ring[k].x, ring[k].y, ring[k + 1].x, ring[k + 1].y});
        }
      }
    }
    const std::size_t bands = std::clamp<std::size_t>(edges.size() / 2, 1, kMaxBands);
    const double h = a.bounds.max_y - a.bounds.min_y;
    a.band_y0 = a.bounds.min_y;
    a.inv_band_h = h > 0 ? static_cast<double>(bands) / h : 0.0;
    a.band_start.assign(bands + 1, 0);
    auto band_range = [&](const Edge& e) {
      return std::pair{band_of(a, std::min(e.y0, e.y1) - kTol),
                       band_of(a, std::max(e.y0, e.y1) + kTol)};
    };
    for (const Edge& e : edges) {
      auto [lo, hi] = band_range(e);
      for (std::uint32_t b = lo; b <= hi; ++b) ++a.band_start[b + 1];
    }
    for (std::size_t b = 0; b < bands; ++b) a.band_start[b + 1] += a.band_start[b];
    a.band_edges.resize(a.band_start[bands]);
    std::vector<std::uint32_t> fill(a.band_start.begin(), a.band_start.end() - 1);
    for (const Edge& e : edges) {
      auto [lo, hi] = band_range(e);
      for (std::uint32_t b = lo; b <= hi; ++b) a.band_edges[fill[b]++] = e;
    }

    index.by_id_.emplace_back(a.id, static_cast<std::uint32_t>(index.areas_.size()));
    index.areas_.push_back(std::move(a));
  }
  std::sort(index.by_id_.begin(), index.by_id_.end());
  index.build_grid();
  return index;
}

void AreaIndex::build_grid() {
  extent_ = Box{};
  if (areas_.empty()) return;
  std::vector<double> sizes;
  for (const Area& a : areas_) {
    extent_.extend({a.bounds.min_x, a.bounds.min_y});
    extent_.extend({a.bounds.max_x, a.bounds.max_y});
    sizes.push_back(std::max(a.bounds.max_x - a.bounds.min_x, a.bounds.max_y - a.bounds.min_y));
  }
  // A cell about the size of a typical area keeps both the candidates per
  // cell and the cells per area small.
  std::nth_element(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(sizes.size() / 2),
                   sizes.end());
  const double w = extent_.max_x - extent_.min_x;
  const double h = extent_.max_y - extent_.min_y;
  cell_ = std::max({sizes[sizes.size() / 2], std::max(w, h) / (kMaxGridCells - 1), 1.0});
  nx_ = static_cast<std::uint32_t>(std::floor(w / cell_)) + 1;
  ny_ = static_cast<std::uint32_t>(std::floor(h / cell_)) + 1;
  auto cell_range = [&](const Box& b) {
    auto cx = [&](double x) {
      return static_cast<std::uint32_t>(
          std::clamp(std::floor((x - extent_.min_x) / cell_), 0.0, static_cast<double>(nx_ - 1)));
    };
    auto cy = [&](double y) {
      return static_cast<std::uint32_t>(
          std::clamp(std::floor((y - extent_.min_y) / cell_), 0.0, static_cast<double>(ny_ - 1)));
    };
    return std::array<std::uint32_t, 4>{cx(b.min_x - kTol), cy(b.min_y - kTol), cx(b.max_x + kTol),
                                        cy(b.max_y + kTol)};
  };
  cell_start_.assign(static_cast<std::size_t>(nx_) * ny_ + 1, 0);
  for (const Area& a : areas_) {
    auto [x0, y0, x1, y1] = cell_range(a.bounds);
    for (std::uint32_t y = y0; y <= y1; ++y)
      for (std::uint32_t x = x0; x <= x1; ++x) ++cell_start_[y * nx_ + x + 1];
  }
  for (std::size_t c = 0; c + 1 < cell_start_.size(); ++c) cell_start_[c + 1] += cell_start_[c];
  cell_areas_.resize(cell_start_.back());
  std::vector<std::uint32_t> fill(cell_start_.begin(), cell_start_.end() - 1);
  // Areas are visited in handle order, so each cell's list is ascending.
  for (std::uint32_t i = 0; i < areas_.size(); ++i) {
    auto [x0, y0, x1, y1] = cell_range(areas_[i].bounds);
    for (std::uint32_t y = y0; y <= y1; ++y)
      for (std::uint32_t x = x0; x <= x1; ++x) cell_areas_[fill[y * nx_ + x]++] = i;
  }
}

}  // namespace pm::geo
