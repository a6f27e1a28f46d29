#include "server/areas/area_set.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace pm {
namespace {

// Builds the index over `features`, drops those it refuses (reported through
// `refused`) so that features[i] stays the area with handle i.
std::shared_ptr<const geo::AreaIndex> build_index(std::vector<AreaFeature>& features, const geo::Projection& projection,
                                                  std::vector<geo::AreaError>& refused) {
  std::vector<geo::AreaInput> inputs;
  inputs.reserve(features.size());
  for (const auto& f : features) inputs.push_back(f.input);
  auto index = std::make_shared<const geo::AreaIndex>(geo::AreaIndex::build(inputs, projection, &refused));
  if (!refused.empty()) {
    std::vector<bool> bad(features.size());
    for (const auto& e : refused) bad[e.index] = true;
    size_t i = 0;
    std::erase_if(features, [&](const AreaFeature&) { return bad[i++]; });
  }
  return index;
}

}  // namespace

AreaPlan plan_area_replace(const std::vector<AreaFeature>& current, std::vector<AreaFeature> incoming,
                           std::vector<AreaProblem> problems, std::string_view kind, const geo::Projection& projection) {
  AreaPlan plan;
  // An id given twice in the upload: the first one counts.
  std::unordered_set<std::string> seen;
  std::vector<AreaFeature> candidates;
  candidates.reserve(incoming.size());
  for (auto& f : incoming) {
    if (!seen.insert(f.input.id).second) {
      problems.push_back({f.source, "id given twice in the upload", "duplicate_id", f.input.id});
      continue;
    }
    candidates.push_back(std::move(f));
  }
  // GEOS validity of the new features alone.
  std::vector<geo::AreaError> invalid;
  std::vector<size_t> sources;
  for (const auto& f : candidates) sources.push_back(f.source);
  build_index(candidates, projection, invalid);
  for (const auto& e : invalid)
    problems.push_back({sources[e.index], e.reason, "invalid_geometry", e.id});

  std::set<std::string> kinds;
  if (!kind.empty()) kinds.emplace(kind);
  for (const auto& f : candidates) kinds.insert(f.kind);
  plan.replaced_kinds.assign(kinds.begin(), kinds.end());

  std::vector<AreaFeature> next;
  std::unordered_map<std::string_view, std::string_view> kept_ids;  // id -> kind of the areas that stay
  for (const auto& f : current) {
    if (kinds.contains(f.kind)) continue;
    next.push_back(f);
  }
  for (const auto& f : next) kept_ids.emplace(f.input.id, f.kind);
  for (auto& f : candidates) {
    if (auto it = kept_ids.find(f.input.id); it != kept_ids.end()) {
      problems.push_back({f.source, "id already used by an area of kind " + std::string(it->second),
                          "duplicate_id", f.input.id});
      continue;
    }
    plan.stored.push_back(f);
  }
  next.insert(next.end(), plan.stored.begin(), plan.stored.end());
  std::vector<geo::AreaError> refused;  // none expected: every feature passed alone
  plan.next.index = build_index(next, projection, refused);
  for (const auto& e : refused) {
    // Keep what is stored and what is served the same set.
    std::erase_if(plan.stored, [&](const AreaFeature& f) { return f.input.id == e.id; });
    problems.push_back({0, e.reason, "invalid_geometry", e.id});
  }
  plan.next.features = std::make_shared<const std::vector<AreaFeature>>(std::move(next));
  plan.loaded = plan.stored.size();
  std::stable_sort(problems.begin(), problems.end(),
                   [](const AreaProblem& a, const AreaProblem& b) { return a.index < b.index; });
  plan.rejected = std::move(problems);
  return plan;
}

std::string write_area_plan(const AreaPlan& plan) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](std::string_view v) { w.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); };
  w.StartObject();
  w.Key("loaded");
  w.Uint64(plan.loaded);
  w.Key("replaced_kinds");
  w.StartArray();
  for (const auto& k : plan.replaced_kinds) str(k);
  w.EndArray();
  w.Key("rejected");
  w.StartArray();
  for (const auto& p : plan.rejected) {
    w.StartObject();
    w.Key("index");
    w.Uint64(p.index);
    if (!p.id.empty()) {
      w.Key("id");
      str(p.id);
    }
    w.Key("code");
    str(p.code);
    w.Key("reason");
    str(p.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace pm
