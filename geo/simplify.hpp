#pragma once
// Douglas-Peucker line simplification in projected metres.
//
//   std::vector<pm::geo::XY> line = ...;                         // metric CRS
//   auto keep = pm::geo::douglas_peucker(line, 10.0);            // indices, ascending
//   // every dropped vertex lies within 10 m of the simplified line
//
// Returns the indices of the vertices kept, so a caller can keep its original
// (e.g. lon/lat) coordinates and never round-trip through the projection.
// Distances are to the segment between the kept ends, not the infinite line,
// so a closed ring (first == last) is simplified too: its far side is kept
// first, then each half is refined.
#include <cstddef>
#include <span>
#include <vector>

#include "geo/types.hpp"

namespace pm::geo {

// Distance from p to the segment a-b (to a when a == b).
double point_segment_distance_m(XY p, XY a, XY b);

// The first and last vertices are always kept (a line of 0..2 vertices comes
// back whole). A vertex is kept when it lies more than `tolerance_m` from the
// segment between the kept vertices around it. tolerance_m <= 0 keeps every
// vertex except exact repeats on the segment (distance 0).
std::vector<std::size_t> douglas_peucker(std::span<const XY> line, double tolerance_m);

}  // namespace pm::geo
