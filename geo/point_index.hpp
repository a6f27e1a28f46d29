#pragma once
// Moving points (live units) in projected metres: k-nearest with a filter,
// and box queries for map viewports.
//
//   pm::geo::PointIndex units(area_index.extent());      // or any Box in metres
//   units.upsert(unit_id, projection.forward(fix));       // every accepted ping
//   std::vector<pm::geo::PointIndex::Neighbor> best;      // reuse across calls
//   units.nearest(incident_xy, 5, [&](uint32_t id) { return eligible(id); }, best);
//   units.within(viewport, [&](uint32_t id, pm::geo::XY p) { send(id, p); });
//
// Structure: a dense uniform grid of cells (kDefaultCellSize_m) over a fixed
// extent; each cell holds its points inline (id and position), and a per-id
// slot table gives O(1) update and removal (swap with the cell's last entry).
// A move within the same cell is two stores. Chosen by measurement
// (tools/bench/geo_bench.cpp, 100,000 units over Leicestershire, k = 5):
// p50 0.47 us / p99 1.05 us per query, ~40 ns per update; a hashed grid with
// the same search was 25-40% slower (p99 1.4-1.6 us), a linear scan 147 us;
// cells of 175-500 m perform alike, 100 m and 1000 m worse.
//
// Points outside the extent are still indexed exactly: they are filed in the
// nearest border cell. Answers stay exact (clamping to a convex box never
// brings two points closer, so the ring search bounds still hold); only speed
// suffers if many points lie far outside. Size the extent to the force area.
//
// kNN searches ring by ring outwards from the query's cell and stops when the
// k-th best is closer than anything the next ring could hold, or when the
// next ring is beyond max_distance_m. A predicate that rejects almost every
// unit makes it scan cells up to the k-th accepted one: ~66 us when 1 unit in
// 1,000 qualifies, ~1 ms when only 5 in the county do. Pass max_distance_m
// when a far answer is useless.
//
// Thread safety: none internally. Const methods touch no mutable state, so
// concurrent readers are fine, but never alongside upsert/remove/clear: the
// owner (the server) serialises writers against readers.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "geo/types.hpp"

namespace pm::geo {

class PointIndex {
 public:
  static constexpr double kDefaultCellSize_m = 250.0;
  // Caps memory (24 bytes per empty cell) when the extent is large.
  static constexpr std::size_t kMaxCells = std::size_t{1} << 22;
  static constexpr double kInf = std::numeric_limits<double>::infinity();

  struct Neighbor {
    std::uint32_t id;
    double distance_m;
    friend bool operator==(const Neighbor&, const Neighbor&) = default;
  };

  // extent: where points usually are (metres). An empty or non-finite extent
  // gives a single cell (a linear scan); cell_size_m is raised if the extent
  // would need more than kMaxCells cells.
  explicit PointIndex(const Box& extent, double cell_size_m = kDefaultCellSize_m);

  // Inserts or moves id. Returns false (index unchanged) if p is not finite.
  bool upsert(std::uint32_t id, XY p);
  // Removes id; a no-op if it is not present.
  void remove(std::uint32_t id);
  void clear();
  std::optional<XY> position(std::uint32_t id) const;
  bool contains(std::uint32_t id) const { return id < slots_.size() && slots_[id].cell != kAbsent; }
  std::size_t size() const { return count_; }
  double cell_size_m() const { return cell_; }

  // Clears `out`, then fills it with up to k accepted points within
  // max_distance_m of q, ascending by distance, ties by ascending id.
  // accept(id) -> bool is called only for points that would enter the current
  // best k, so an expensive predicate runs rarely. Does not allocate when
  // out.capacity() >= k.
  template <class Pred>
  void nearest(XY q, std::size_t k, Pred&& accept, std::vector<Neighbor>& out,
               double max_distance_m = kInf) const;
  void nearest(XY q, std::size_t k, std::vector<Neighbor>& out,
               double max_distance_m = kInf) const {
    nearest(
        q, k, [](std::uint32_t) { return true; }, out, max_distance_m);
  }

  // Calls visit(id, XY) for every point inside box (edges included), in no
  // particular order.
  template <class F>
  void within(const Box& box, F&& visit) const;

 private:
  static constexpr std::uint32_t kAbsent = std::numeric_limits<std::uint32_t>::max();
  struct Entry {
    double x, y;
    std::uint32_t id;
  };
  struct Slot {
    std::uint32_t cell = kAbsent;
    std::uint32_t pos = 0;  // index in cells_[cell]
  };

  std::uint32_t cell_x(double x) const {
    return static_cast<std::uint32_t>(
        std::clamp(std::floor((x - x0_) * inv_cell_), 0.0, static_cast<double>(nx_ - 1)));
  }
  std::uint32_t cell_y(double y) const {
    return static_cast<std::uint32_t>(
        std::clamp(std::floor((y - y0_) * inv_cell_), 0.0, static_cast<double>(ny_ - 1)));
  }

  double x0_ = 0, y0_ = 0;  // grid origin
  double cell_ = kDefaultCellSize_m;
  double inv_cell_ = 1.0 / kDefaultCellSize_m;
  std::uint32_t nx_ = 1, ny_ = 1;
  std::vector<std::vector<Entry>> cells_;
  std::vector<Slot> slots_;  // by id
  std::size_t count_ = 0;
};

template <class Pred>
void PointIndex::nearest(XY q, std::size_t k, Pred&& accept, std::vector<Neighbor>& out,
                         double max_distance_m) const {
  out.clear();
  if (k == 0 || count_ == 0 || !std::isfinite(q.x) || !std::isfinite(q.y) ||
      !(max_distance_m >= 0)) {
    return;
  }
  const double max_d2 = max_distance_m * max_distance_m;
  // While searching, distance_m holds the squared distance; `out` is a
  // max-heap on (d2, id) so its front is the current k-th best.
  auto worse = [](const Neighbor& a, const Neighbor& b) {
    return a.distance_m < b.distance_m || (a.distance_m == b.distance_m && a.id < b.id);
  };
  // Search from q clamped into the grid; see the header comment for why the
  // ring bounds stay valid for points outside.
  const double gx1 = x0_ + nx_ * cell_;
  const double gy1 = y0_ + ny_ * cell_;
  const double qx = std::clamp(q.x, x0_, gx1);
  const double qy = std::clamp(q.y, y0_, gy1);
  const auto cx = static_cast<std::int64_t>(cell_x(qx));
  const auto cy = static_cast<std::int64_t>(cell_y(qy));
  const double margin =
      std::max(0.0, std::min({qx - (x0_ + cx * cell_), x0_ + (cx + 1) * cell_ - qx,
                              qy - (y0_ + cy * cell_), y0_ + (cy + 1) * cell_ - qy}));
  const auto nx = static_cast<std::int64_t>(nx_);
  const auto ny = static_cast<std::int64_t>(ny_);

  auto scan = [&](std::int64_t x, std::int64_t y) {
    for (const Entry& e : cells_[static_cast<std::size_t>(y * nx + x)]) {
      const double dx = e.x - q.x;
      const double dy = e.y - q.y;
      const Neighbor cand{e.id, dx * dx + dy * dy};
      if (cand.distance_m > max_d2) continue;
      if (out.size() == k && !worse(cand, out.front())) continue;
      if (!accept(e.id)) continue;
      if (out.size() == k) {
        std::pop_heap(out.begin(), out.end(), worse);
        out.back() = cand;
      } else {
        out.push_back(cand);
      }
      std::push_heap(out.begin(), out.end(), worse);
    }
  };

  for (std::int64_t r = 0;; ++r) {
    const std::int64_t xa = std::max<std::int64_t>(cx - r, 0);
    const std::int64_t xb = std::min<std::int64_t>(cx + r, nx - 1);
    if (cy - r >= 0)
      for (std::int64_t x = xa; x <= xb; ++x) scan(x, cy - r);
    if (r > 0 && cy + r < ny)
      for (std::int64_t x = xa; x <= xb; ++x) scan(x, cy + r);
    const std::int64_t ya = std::max<std::int64_t>(cy - r + 1, 0);
    const std::int64_t yb = std::min<std::int64_t>(cy + r - 1, ny - 1);
    if (r > 0 && cx - r >= 0)
      for (std::int64_t y = ya; y <= yb; ++y) scan(cx - r, y);
    if (r > 0 && cx + r < nx)
      for (std::int64_t y = ya; y <= yb; ++y) scan(cx + r, y);

    if (cx - r <= 0 && cx + r >= nx - 1 && cy - r <= 0 && cy + r >= ny - 1) break;  // whole grid
    // Nothing in ring r+1 or beyond is closer than this.
    const double bound = static_cast<double>(r) * cell_ + margin;
    const double bound2 = bound * bound;
    if (bound2 > max_d2) break;
    if (out.size() == k && out.front().distance_m < bound2) break;
  }
  std::sort_heap(out.begin(), out.end(), worse);
  for (Neighbor& n : out) n.distance_m = std::sqrt(n.distance_m);
}

template <class F>
void PointIndex::within(const Box& box, F&& visit) const {
  if (count_ == 0 || !(box.min_x <= box.max_x) || !(box.min_y <= box.max_y)) return;
  const std::uint32_t xa = cell_x(box.min_x), xb = cell_x(box.max_x);
  const std::uint32_t ya = cell_y(box.min_y), yb = cell_y(box.max_y);
  for (std::uint32_t y = ya; y <= yb; ++y) {
    for (std::uint32_t x = xa; x <= xb; ++x) {
      for (const Entry& e : cells_[static_cast<std::size_t>(y) * nx_ + x]) {
        if (box.contains({e.x, e.y})) visit(e.id, XY{e.x, e.y});
      }
    }
  }
}

}  // namespace pm::geo
