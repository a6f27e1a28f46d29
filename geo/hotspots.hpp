#pragma once
// Hot spots from crime locations, by the rules hot-spot policing trials used
// (Ariel, Weinborn and Sherman 2016: clusters with enough crimes a year, a
// radius of at most 150 m, epicentres at least 500 m apart). Pure: points in
// the metric projection in, epicentres out.
//
//   auto spots = geo::find_hotspots(xy, {.radius_m = 150, .separation_m = 500,
//                                        .min_per_year = 24, .months = 1});
//   spots[0].centre, spots[0].members (indexes into xy), spots[0].per_year
//
// Greedy and deterministic: every crime location is a candidate epicentre
// with the crimes within radius_m of it; candidates are taken by count (ties
// by the lower index), each accepted when its count, annualised over `months`,
// reaches min_per_year and it is at least separation_m from every epicentre
// already taken. A hot spot's radius is the distance to its farthest member
// (at least min_radius_m, so a single snapped point still has an area).
#include <cstddef>
#include <span>
#include <vector>

#include "geo/types.hpp"

namespace pm::geo {

struct HotspotOptions {
  double radius_m = 150;      // a crime belongs to an epicentre within this distance
  double separation_m = 500;  // epicentres at least this far apart
  double min_per_year = 24;   // crimes a year within radius_m, at least
  double months = 12;         // the months the points cover (to annualise counts)
  std::size_t max_spots = 100;
  double min_radius_m = 25;
};

struct Hotspot {
  XY centre;                         // the epicentre: one of the crime locations
  std::size_t epicentre = 0;         // its index in the input
  double radius_m = 0;               // farthest member, at least min_radius_m
  std::vector<std::size_t> members;  // indexes of the crimes within radius_m, ascending
  double per_year = 0;               // members annualised
};

// Best first (most crimes).
std::vector<Hotspot> find_hotspots(std::span<const XY> points, const HotspotOptions& opt);

// A closed ring of `sides` vertices approximating a circle (counter-clockwise).
std::vector<XY> circle_ring(XY centre, double radius_m, int sides = 32);

}  // namespace pm::geo
