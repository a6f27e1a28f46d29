#include "geo/hotspots.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <unordered_map>

namespace pm::geo {
namespace {

double dist(XY a, XY b) { return std::hypot(a.x - b.x, a.y - b.y); }

// Points bucketed in square cells of `cell` metres.
class Grid {
 public:
  Grid(std::span<const XY> pts, double cell) : pts_(pts), cell_(cell) {
    for (std::size_t i = 0; i < pts.size(); ++i) cells_[key(cx(pts[i].x), cx(pts[i].y))].push_back(i);
  }
  // f(index) for every point within r of p (r <= cell).
  template <class F>
  void near(XY p, double r, F&& f) const {
    const int64_t x0 = cx(p.x), y0 = cx(p.y);
    for (int64_t dx = -1; dx <= 1; ++dx)
      for (int64_t dy = -1; dy <= 1; ++dy) {
        auto it = cells_.find(key(x0 + dx, y0 + dy));
        if (it == cells_.end()) continue;
        for (std::size_t i : it->second)
          if (dist(pts_[i], p) <= r) f(i);
      }
  }

 private:
  int64_t cx(double v) const { return static_cast<int64_t>(std::floor(v / cell_)); }
  static int64_t key(int64_t x, int64_t y) { return static_cast<int64_t>((static_cast<uint64_t>(x) << 32) ^ static_cast<uint32_t>(y)); }
  std::span<const XY> pts_;
  double cell_;
  std::unordered_map<int64_t, std::vector<std::size_t>> cells_;
};

}  // namespace

std::vector<Hotspot> find_hotspots(std::span<const XY> points, const HotspotOptions& opt) {
  std::vector<Hotspot> out;
  if (points.empty() || opt.radius_m <= 0 || opt.months <= 0) return out;
  const Grid grid(points, opt.radius_m);
  std::vector<std::size_t> count(points.size(), 0);
  for (std::size_t i = 0; i < points.size(); ++i) grid.near(points[i], opt.radius_m, [&](std::size_t) { ++count[i]; });
  std::vector<std::size_t> order(points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return count[a] > count[b]; });
  const double per_year = 12.0 / opt.months;
  for (std::size_t i : order) {
    if (out.size() >= opt.max_spots) break;
    const double annual = static_cast<double>(count[i]) * per_year;
    if (annual < opt.min_per_year) break;  // sorted: nothing after qualifies
    bool apart = std::all_of(out.begin(), out.end(), [&](const Hotspot& h) { return dist(h.centre, points[i]) >= opt.separation_m; });
    if (!apart) continue;
    Hotspot h;
    h.centre = points[i];
    h.epicentre = i;
    h.radius_m = opt.min_radius_m;
    grid.near(points[i], opt.radius_m, [&](std::size_t j) {
      h.members.push_back(j);
      h.radius_m = std::max(h.radius_m, dist(points[j], points[i]));
    });
    std::sort(h.members.begin(), h.members.end());
    h.per_year = annual;
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<XY> circle_ring(XY centre, double radius_m, int sides) {
  std::vector<XY> ring;
  ring.reserve(static_cast<std::size_t>(sides) + 1);
  for (int k = 0; k < sides; ++k) {
    const double a = 2 * std::numbers::pi * k / sides;
    ring.push_back({centre.x + radius_m * std::cos(a), centre.y + radius_m * std::sin(a)});
  }
  ring.push_back(ring.front());
  return ring;
}

}  // namespace pm::geo
