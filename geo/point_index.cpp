#include "geo/point_index.hpp"

namespace pm::geo {

PointIndex::PointIndex(const Box& extent, double cell_size_m) {
  const bool usable = std::isfinite(extent.min_x) && std::isfinite(extent.min_y) &&
                      std::isfinite(extent.max_x) && std::isfinite(extent.max_y) &&
                      extent.min_x <= extent.max_x && extent.min_y <= extent.max_y;
  double cell = (std::isfinite(cell_size_m) && cell_size_m > 0) ? cell_size_m : kDefaultCellSize_m;
  if (usable) {
    const double w = extent.max_x - extent.min_x;
    const double h = extent.max_y - extent.min_y;
    // Bound the cell count: grow cells until the grid fits kMaxCells.
    const double min_cell = std::sqrt(w * h / static_cast<double>(kMaxCells));
    cell = std::max({cell, min_cell, std::max(w, h) / 65535.0});
    x0_ = extent.min_x;
    y0_ = extent.min_y;
    nx_ = static_cast<std::uint32_t>(std::floor(w / cell)) + 1;
    ny_ = static_cast<std::uint32_t>(std::floor(h / cell)) + 1;
    while (static_cast<std::size_t>(nx_) * ny_ > kMaxCells) {  // rounding at the cap
      cell *= 1.01;
      nx_ = static_cast<std::uint32_t>(std::floor(w / cell)) + 1;
      ny_ = static_cast<std::uint32_t>(std::floor(h / cell)) + 1;
    }
  } else {
    nx_ = ny_ = 1;
  }
  cell_ = cell;
  inv_cell_ = 1.0 / cell;
  cells_.resize(static_cast<std::size_t>(nx_) * ny_);
}

bool PointIndex::upsert(std::uint32_t id, XY p) {
  if (!std::isfinite(p.x) || !std::isfinite(p.y)) return false;
  const std::uint32_t cell = cell_y(p.y) * nx_ + cell_x(p.x);
  if (id >= slots_.size()) slots_.resize(static_cast<std::size_t>(id) + 1);
  Slot& s = slots_[id];
  if (s.cell == cell) {  // the common case: a unit moving within its cell
    Entry& e = cells_[cell][s.pos];
    e.x = p.x;
    e.y = p.y;
    return true;
  }
  if (s.cell != kAbsent) {
    remove(id);
  }
  auto& dst = cells_[cell];
  s.cell = cell;
  s.pos = static_cast<std::uint32_t>(dst.size());
  dst.push_back({p.x, p.y, id});
  ++count_;
  return true;
}

void PointIndex::remove(std::uint32_t id) {
  if (!contains(id)) return;
  Slot& s = slots_[id];
  auto& src = cells_[s.cell];
  const Entry last = src.back();
  src[s.pos] = last;
  slots_[last.id].pos = s.pos;
  src.pop_back();
  s.cell = kAbsent;
  --count_;
}

void PointIndex::clear() {
  for (auto& c : cells_) c.clear();
  slots_.clear();
  count_ = 0;
}

std::optional<XY> PointIndex::position(std::uint32_t id) const {
  if (!contains(id)) return std::nullopt;
  const Slot& s = slots_[id];
  const Entry& e = cells_[s.cell][s.pos];
  return XY{e.x, e.y};
}

}  // namespace pm::geo
