#include "server/live/feed.hpp"

#include <algorithm>

#include "server/dispatch/json.hpp"
#include "server/net/ws_frame.hpp"

namespace pm::live {

namespace dp = dispatch;

LiveFeed::LiveFeed(FanOutOptions opt, unsigned flush_ms, const dp::DispatchService& dispatch, const Clock& clock)
    : fan_(opt), flush_ms_(flush_ms), dispatch_(dispatch), clock_(clock) {}

LiveFeed::~LiveFeed() { stop(); }

void LiveFeed::start() {
  std::lock_guard lock(run_mu_);
  if (running_) return;
  running_ = true;
  flusher_ = std::thread([this] { flush_loop(); });
}

void LiveFeed::stop() {
  {
    std::lock_guard lock(run_mu_);
    if (!running_) return;
    running_ = false;
  }
  run_cv_.notify_all();
  flusher_.join();
}

void LiveFeed::flush_loop() {
  auto next = std::chrono::steady_clock::now();
  struct Out {
    Deliver deliver;
    bool deflate;
    FanOut::Cut cut;
  };
  std::vector<Out> out;
  // This tick's deflated bodies, by the body they compress: each is deflated once.
  std::unordered_map<const std::string*, std::shared_ptr<const std::string>> deflated;
  for (;;) {
    next += std::chrono::milliseconds(flush_ms_);
    {
      std::unique_lock lock(run_mu_);
      if (run_cv_.wait_until(lock, next, [this] { return !running_; })) return;
    }
    // A steady cadence; after a stall (a suspended process) start afresh.
    if (next < std::chrono::steady_clock::now() - std::chrono::milliseconds(flush_ms_))
      next = std::chrono::steady_clock::now();
    auto cuts = fan_.cut_ready(clock_.now_ms());
    if (cuts.empty()) continue;
    {
      std::lock_guard lock(sinks_mu_);
      for (auto& c : cuts) {
        auto it = sinks_.find(c.sub);
        if (it != sinks_.end()) out.push_back({it->second.deliver, it->second.deflate, std::move(c)});
      }
    }
    for (auto& o : out) {
      Body body{std::move(o.cut.body), nullptr};
      if (o.deflate) {
        auto& z = deflated[body.text.get()];
        if (!z) z = std::make_shared<const std::string>(ws::deflate_body(*body.text));
        body.deflated = z;
      }
      o.deliver(o.cut.snapshot, std::move(body));
    }
    out.clear();
    deflated.clear();
  }
}

void LiveFeed::unsubscribe(SubscriberId sub) {
  {
    std::lock_guard lock(sinks_mu_);
    sinks_.erase(sub);
  }
  fan_.remove_subscriber(sub);
}

void LiveFeed::publish_units_locked(std::span<const uint32_t> units, bool all) {
  thread_local std::vector<UnitState> states;
  states.clear();
  EpochMs now = dispatch_.read([&](const dp::Engine& e, EpochMs t, const LiveState& live) {
    auto add = [&](const UnitRecord& u) {
      states.push_back(unit_state(u, e.unit_incident(u.index), e.unit_emergency(u.index)));
    };
    if (all)
      live.visit_all_units(add);
    else
      live.visit_units(units, add);
    return t;
  });
  fan_.publish_units(states, now);
  states.clear();
}

void LiveFeed::seed() {
  {
    std::lock_guard lock(mu_);
    publish_units_locked({}, true);
    units_stale_ = false;
  }
  struct Item {
    uint64_t id;
    std::string json;
    double lat, lon;
  };
  std::vector<Item> incidents, alerts;
  EpochMs now = dispatch_.read([&](const dp::Engine& e, EpochMs t, const LiveState&) {
    for (const dp::Incident* inc : e.incidents(std::nullopt, true)) {
      rapidjson::StringBuffer sb;
      dp::JsonWriter w(sb);
      dp::write_incident(w, *inc, {t, &e});
      incidents.push_back({inc->id, sb.GetString(), inc->spec.lat, inc->spec.lon});
    }
    for (const dp::Alert* a : e.alerts(true)) {
      rapidjson::StringBuffer sb;
      dp::JsonWriter w(sb);
      dp::write_alert(w, *a, &e);
      alerts.push_back({a->id, sb.GetString(), 0, 0});
    }
    return t;
  });
  for (auto& i : incidents) fan_.publish_incident(i.id, std::move(i.json), i.lat, i.lon, true, now);
  // Oldest first, so a client that sorts by arrival sees them in order.
  for (auto it = alerts.rbegin(); it != alerts.rend(); ++it) fan_.publish_alert(it->id, std::move(it->json), true, now);
}

void LiveFeed::on_fixes(std::span<const Fix> fixes, std::span<const uint8_t> stored) {
  std::lock_guard lock(mu_);
  if (fan_.subscriber_count() == 0) {
    units_stale_ = true;  // nobody to tell, nothing done per fix; the next subscriber gets a republish
    return;
  }
  thread_local std::vector<uint32_t> units;
  units.clear();
  for (size_t i = 0; i < fixes.size(); ++i)
    if (stored[i] && fixes[i].unit != kNoIndex) units.push_back(fixes[i].unit);
  if (units.empty()) return;
  std::sort(units.begin(), units.end());
  units.erase(std::unique(units.begin(), units.end()), units.end());
  publish_units_locked(units, false);
}

SubscriberId LiveFeed::subscribe(const Bbox& bbox, uint8_t layers, bool deflate, Deliver deliver) {
  SubscriberId id;
  {
    std::lock_guard lock(mu_);
    if (units_stale_) {
      publish_units_locked({}, true);
      units_stale_ = false;
    }
    // The sink first: the flush thread must find it for the first cut.
    std::lock_guard sinks(sinks_mu_);
    id = fan_.add_subscriber(bbox, layers, clock_.now_ms());
    sinks_.emplace(id, Sink{std::move(deliver), deflate});
  }
  return id;
}

void LiveFeed::on_events(const std::vector<dp::Event>& events) {
  std::vector<uint64_t> incidents, alerts;
  std::vector<uint32_t> units;
  for (const auto& e : events) {
    std::visit(
        [&](const auto& b) {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, dp::ev::IncidentCreated>) {
            incidents.push_back(b.incident.id);
          } else if constexpr (std::is_same_v<T, dp::ev::UnitAssigned> || std::is_same_v<T, dp::ev::StageReached> ||
                               std::is_same_v<T, dp::ev::SelfDeployed>) {
            incidents.push_back(b.incident);
            units.push_back(b.unit);
          } else if constexpr (std::is_same_v<T, dp::ev::IncidentClosed>) {
            incidents.push_back(b.incident);
          } else if constexpr (std::is_same_v<T, dp::ev::UnitStatusChanged>) {
            units.push_back(b.unit);
            if (b.incident) incidents.push_back(b.incident);
          } else if constexpr (std::is_same_v<T, dp::ev::AlertRaised>) {
            alerts.push_back(b.alert.id);
            if (b.alert.unit != kNoIndex) units.push_back(b.alert.unit);
          } else if constexpr (std::is_same_v<T, dp::ev::AlertEnded>) {
            alerts.push_back(b.alert);
          }
        },
        e.body);
  }
  auto dedup = [](auto& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  dedup(incidents);
  dedup(alerts);
  struct Item {
    uint64_t id;
    std::string json;
    double lat, lon;
    bool open;
  };
  std::vector<Item> inc_items, alert_items;
  EpochMs now = dispatch_.read([&](const dp::Engine& e, EpochMs t, const LiveState&) {
    for (uint64_t id : incidents)
      if (const dp::Incident* inc = e.incident(id)) {
        rapidjson::StringBuffer sb;
        dp::JsonWriter w(sb);
        dp::write_incident(w, *inc, {t, &e});
        inc_items.push_back({id, sb.GetString(), inc->spec.lat, inc->spec.lon, inc->status != dp::IncidentStatus::closed});
      }
    for (uint64_t id : alerts)
      if (const dp::Alert* a = e.alert(id)) {
        rapidjson::StringBuffer sb;
        dp::JsonWriter w(sb);
        dp::write_alert(w, *a, &e);
        alert_items.push_back({id, sb.GetString(), 0, 0, a->active});
        if (!a->active && a->unit != kNoIndex) units.push_back(a->unit);  // its emergency flag may have ended
      }
    return t;
  });
  for (auto& i : inc_items) fan_.publish_incident(i.id, std::move(i.json), i.lat, i.lon, i.open, now);
  for (auto& a : alert_items) fan_.publish_alert(a.id, std::move(a.json), a.open, now);
  if (units.empty()) return;
  dedup(units);
  std::lock_guard lock(mu_);
  if (fan_.subscriber_count() == 0) {
    units_stale_ = true;
    return;
  }
  publish_units_locked(units, false);
}

}  // namespace pm::live
