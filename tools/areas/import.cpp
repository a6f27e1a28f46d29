#include "tools/areas/import.hpp"

#include <string>

namespace pm::areas {

std::vector<AreaFeature> from_osm(const geo::OsmBoundaries& boundaries, std::string_view kind) {
  std::vector<AreaFeature> out;
  out.reserve(boundaries.areas.size());
  for (const auto& b : boundaries.areas) {
    AreaFeature f;
    f.source = out.size();
    f.input.id = std::string(b.tag("ref:gss"));
    if (f.input.id.empty()) {
      // (Not "r" + to_string: GCC 12 at -O3 warns a false -Wrestrict on it, bug 105651.)
      f.input.id = std::to_string(b.relation_id);
      f.input.id.insert(0, 1, 'r');
    }
    f.name = std::string(b.tag("name"));
    f.kind = std::string(kind);
    f.input.polygons = b.polygons;
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<AreaFeature> from_kml(const Kml& kml, std::string_view kind) {
  std::vector<AreaFeature> out;
  out.reserve(kml.placemarks.size());
  for (const auto& p : kml.placemarks) {
    AreaFeature f;
    f.source = p.index;
    f.input.id = p.id;
    for (const char* key : {"id", "ref:gss", "code"})
      if (f.input.id.empty()) f.input.id = std::string(p.field(key));
    f.name = p.name.empty() ? std::string(p.field("name")) : p.name;
    if (f.input.id.empty()) f.input.id = f.name;
    f.kind = std::string(kind);
    f.input.polygons = p.polygons;
    out.push_back(std::move(f));
  }
  return out;
}

void set_target(std::vector<AreaFeature>& features, const geo::PatrolTarget& target) {
  for (auto& f : features) {
    f.target = target;
    if (f.kind == "hotspot" && !f.target->max_gap_minutes) f.target->max_gap_minutes = kHotspotMaxGapMinutes;
  }
}

}  // namespace pm::areas
