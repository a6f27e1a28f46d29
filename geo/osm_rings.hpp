#pragma once
// Internal to geo_osm (includes libosmium): libosmium's multipolygon
// assembler, and the rings of an assembled osmium::Area as lon/lat points,
// shared by the basemap's water layer and the boundary reader
// (geo/osm_areas.hpp).
// GCC 12 at -O3 sees the area builder's set_user("") as strlen over an empty
// region (-Wstringop-overread): a false positive inside libosmium.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#include <osmium/area/assembler.hpp>
#include <osmium/area/multipolygon_manager.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <osmium/osm/area.hpp>
#include <vector>

#include "geo/types.hpp"

namespace pm::geo::osm {

// The ring's points in order, repeated consecutive locations dropped (the
// ring stays closed: its first point is its last).
template <class Ring>
std::vector<LonLat> ring_lonlat(const Ring& ring) {
  std::vector<LonLat> pts;
  pts.reserve(ring.size());
  for (const osmium::NodeRef& nr : ring) {
    const LonLat p{nr.location().lon(), nr.location().lat()};
    if (pts.empty() || !(pts.back() == p)) pts.push_back(p);
  }
  return pts;
}

}  // namespace pm::geo::osm
