#pragma once
// The shape of a uniform grid of square cells over a box in metres: which
// cell a coordinate falls in, clamped to the border cells so that points
// outside the box are still filed (in the nearest border cell).
//
//   const auto grid = pm::geo::GridShape::fit(extent, 100.0, std::size_t{1} << 22);
//   std::size_t c = grid.index(grid.cell_x(p.x), grid.cell_y(p.y));   // y * nx + x
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "geo/types.hpp"

namespace pm::geo {

struct GridShape {
  double x0 = 0, y0 = 0;  // origin: the box's minimum corner
  double cell = 1;        // side of a cell, metres
  std::uint32_t nx = 1, ny = 1;

  // Cells of at least min_cell over extent, grown until there are at most
  // max_cells (and at most 65,535 a side). An empty or non-finite extent
  // gives one cell.
  static GridShape fit(const Box& extent, double min_cell, std::size_t max_cells) {
    GridShape g;
    const bool usable = std::isfinite(extent.min_x) && std::isfinite(extent.min_y) && std::isfinite(extent.max_x) &&
                        std::isfinite(extent.max_y) && extent.min_x <= extent.max_x && extent.min_y <= extent.max_y;
    if (!usable) return g;
    const double w = extent.max_x - extent.min_x, h = extent.max_y - extent.min_y;
    g.x0 = extent.min_x;
    g.y0 = extent.min_y;
    g.cell = std::max({min_cell, std::sqrt(w * h / static_cast<double>(max_cells)), std::max(w, h) / 65535.0});
    for (;; g.cell *= 1.01) {  // rounding can leave one row or column too many
      g.nx = static_cast<std::uint32_t>(std::floor(w / g.cell)) + 1;
      g.ny = static_cast<std::uint32_t>(std::floor(h / g.cell)) + 1;
      if (g.cells() <= max_cells) return g;
    }
  }

  std::uint32_t cell_x(double x) const {
    return static_cast<std::uint32_t>(std::clamp(std::floor((x - x0) / cell), 0.0, static_cast<double>(nx - 1)));
  }
  std::uint32_t cell_y(double y) const {
    return static_cast<std::uint32_t>(std::clamp(std::floor((y - y0) / cell), 0.0, static_cast<double>(ny - 1)));
  }
  std::size_t index(std::uint32_t x, std::uint32_t y) const { return static_cast<std::size_t>(y) * nx + x; }
  std::size_t cells() const { return static_cast<std::size_t>(nx) * ny; }
};

}  // namespace pm::geo
