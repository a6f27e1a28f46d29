#include "geo/simplify.hpp"

#include <cmath>
#include <utility>

namespace pm::geo {

double point_segment_distance_m(XY p, XY a, XY b) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  if (len2 == 0) return std::hypot(p.x - a.x, p.y - a.y);
  double t = ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2;
  t = t < 0 ? 0 : (t > 1 ? 1 : t);
  return std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

std::vector<std::size_t> douglas_peucker(std::span<const XY> line, double tolerance_m) {
  const std::size_t n = line.size();
  std::vector<std::size_t> out;
  if (n <= 2) {
    for (std::size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  // An explicit stack of [first, last] spans: a long way must not recurse deep.
  std::vector<bool> keep(n, false);
  keep[0] = keep[n - 1] = true;
  std::vector<std::pair<std::size_t, std::size_t>> stack{{0, n - 1}};
  while (!stack.empty()) {
    const auto [first, last] = stack.back();
    stack.pop_back();
    if (last - first < 2) continue;
    double worst = -1;
    std::size_t at = first;
    for (std::size_t i = first + 1; i < last; ++i) {
      const double d = point_segment_distance_m(line[i], line[first], line[last]);
      if (d > worst) {
        worst = d;
        at = i;
      }
    }
    if (worst > tolerance_m) {
      keep[at] = true;
      stack.push_back({first, at});
      stack.push_back({at, last});
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (keep[i]) out.push_back(i);
  return out;
}

}  // namespace pm::geo
