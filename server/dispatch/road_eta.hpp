#pragma once
// The road graph behind the engine's RoadEta seam (method `road`): one
// backward search from the incident gives every candidate unit's drive time.
//
//   auto g = geo::load_osm_roads(data + "/osm/rutland-latest.osm.pbf", projection);
//   auto graph = std::make_shared<const geo::RoadGraph>(std::move(*g));
//   dispatch::GraphRoadEta eta(graph);
//   engine.set_road(&eta);                 // eta must outlive the engine's use of it
//
// Thread safety: the engine calls drive_times() const, possibly from several
// threads at once. The graph is immutable and each thread searches in its own
// thread_local SearchWorkspace, so concurrent calls need no lock.
#include <memory>
#include <span>

#include "geo/road_graph.hpp"
#include "server/dispatch/engine.hpp"

namespace pm::dispatch {

struct RoadEtaLimits {
  double max_drive_s = 3600;                                // longer: NaN (straight-line ETA instead)
  double max_snap_m = geo::RouteLimits::kDefaultMaxSnap_m;  // farther from a road: not on the network
};

class GraphRoadEta final : public RoadEta {
 public:
  explicit GraphRoadEta(std::shared_ptr<const geo::RoadGraph> graph, RoadEtaLimits limits = {});
  void drive_times(geo::XY to, std::span<const geo::XY> from, std::span<double> out_s) const override;
  const geo::RoadGraph& graph() const { return *graph_; }
  const RoadEtaLimits& limits() const { return limits_; }

 private:
  std::shared_ptr<const geo::RoadGraph> graph_;
  RoadEtaLimits limits_;
};

}  // namespace pm::dispatch
