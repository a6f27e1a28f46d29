#include "server/areas/area_service.hpp"

#include <future>

#include "server/areas/area_store.hpp"
#include "server/core/log.hpp"

namespace pm {

AreaService::AreaService(geo::Projection projection, Store& store, Metrics& metrics, Current current, Publish publish)
    : projection_(std::move(projection)),
      store_(store),
      metrics_(metrics),
      current_(std::move(current)),
      publish_(std::move(publish)) {}

AreaService::~AreaService() { stop(); }

std::size_t AreaService::load_stored() {
  std::vector<AreaProblem> problems;
  std::vector<AreaFeature> rows;
  store_.read([&](sql::Db& db) { rows = load_area_rows(db, problems); });
  AreaPlan plan = plan_area_replace({}, std::move(rows), std::move(problems), {}, projection_);
  for (const auto& p : plan.rejected)
    log::warn("areas", "stored area skipped", {{"id", p.id}, {"code", p.code}, {"reason", p.message}});
  publish_(plan.next);
  log::info("areas", "stored areas loaded", {{"areas", std::to_string(plan.loaded)}});
  return plan.loaded;
}

void AreaService::start() {
  std::lock_guard lock(mu_);
  if (worker_.joinable() || stopping_) return;
  worker_ = std::thread([this] { run(); });
}

void AreaService::stop() {
  std::deque<Job> left;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    left.swap(queue_);
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  for (auto& j : left) j.done(AreaUploadResult{Error{Errc::overloaded, "the server is stopping"}, {}});
}

bool AreaService::submit(std::string body, std::string kind, Done done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !worker_.joinable() || queue_.size() >= kMaxQueued) return false;
    queue_.push_back(Job{std::move(body), std::move(kind), std::move(done)});
  }
  cv_.notify_one();
  return true;
}

AreaUploadResult AreaService::upload(std::string body, std::string kind) {
  std::promise<AreaUploadResult> p;
  auto f = p.get_future();
  if (!submit(std::move(body), std::move(kind), [&p](AreaUploadResult&& r) { p.set_value(std::move(r)); }))
    return AreaUploadResult{Error{Errc::overloaded, "area uploads are queued already; try again"}, {}};
  return f.get();
}

void AreaService::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    AreaUploadResult r;
    try {
      r = process(job);
    } catch (const std::exception& e) {
      metrics_.handler_exceptions.fetch_add(1);
      log::error("areas", "area upload failed", {{"what", e.what()}});
      r = AreaUploadResult{Error{Errc::internal, {}}, {}};
    }
    job.done(std::move(r));
  }
}

AreaUploadResult AreaService::process(const Job& job) {
  std::vector<AreaProblem> problems;
  std::string not_geojson;
  auto incoming = read_area_features(job.body, job.kind, problems, &not_geojson);
  if (!not_geojson.empty()) return AreaUploadResult{Error{Errc::bad_request, "body: " + not_geojson}, {}};
  auto current = current_();
  static const std::vector<AreaFeature> kNone;
  AreaPlan plan = plan_area_replace(current ? *current : kNone, std::move(incoming), std::move(problems), job.kind,
                                    projection_);
  // Store first; publish only what committed.
  std::promise<StoreResult> committed;
  store_.submit(WriteJob{[&plan](sql::Db& db) { return replace_area_rows(db, plan.replaced_kinds, plan.stored); },
                         [&committed](const StoreResult& r) { committed.set_value(r); }});
  StoreResult stored = committed.get_future().get();
  if (!stored.ok) {
    log::error("areas", "areas not stored", {{"error", stored.error}});
    return AreaUploadResult{Error{Errc::store_failed, "areas not stored: " + stored.error}, {}};
  }
  publish_(plan.next);
  metrics_.areas_loaded.fetch_add(plan.loaded);
  metrics_.areas_rejected.fetch_add(plan.rejected.size());
  std::string kinds;
  for (const auto& k : plan.replaced_kinds) kinds += (kinds.empty() ? "" : ",") + k;
  log::info("areas", "areas replaced", {{"kinds", kinds},
                                        {"loaded", std::to_string(plan.loaded)},
                                        {"rejected", std::to_string(plan.rejected.size())},
                                        {"total", std::to_string(plan.next.features->size())}});
  return AreaUploadResult{std::nullopt, std::move(plan)};
}

}  // namespace pm
