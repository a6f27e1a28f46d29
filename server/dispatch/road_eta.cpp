#include "server/dispatch/road_eta.hpp"

#include <stdexcept>
#include <utility>

namespace pm::dispatch {

GraphRoadEta::GraphRoadEta(std::shared_ptr<const geo::RoadGraph> graph, RoadEtaLimits limits)
    : graph_(std::move(graph)), limits_(limits) {
  if (!graph_) throw std::invalid_argument("GraphRoadEta: no road graph");
}

void GraphRoadEta::drive_times(geo::XY to, std::span<const geo::XY> from, std::span<double> out_s) const {
  // The overload without a workspace searches in a thread_local one.
  graph_->drive_times_to(to, from, out_s, limits_.max_drive_s, limits_.max_snap_m);
}

}  // namespace pm::dispatch
