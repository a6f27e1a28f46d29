#include "server/pipeline/pipeline.hpp"

#include <algorithm>
#include <chrono>

#include "server/core/log.hpp"

namespace pm {

Pipeline::Pipeline(const Config& cfg, const Clock& clock, Metrics& metrics, LiveState& live, Store& store)
    : clock_(clock), metrics_(metrics), live_(live), store_(store) {
  limits_.future_s = cfg.ingest_future_s;
  limits_.too_old_s = cfg.ingest_too_old_s;
  resolve_.auto_register = cfg.ingest_registration == Registration::automatic;
  resolve_.auto_unit_type = cfg.ingest_auto_unit_type;
}

void Pipeline::fixless_emergency(std::string_view device) {
  // Known devices only: an emergency for a device nobody registered has no
  // unit to alert about (it is still counted as a no_fix rejection).
  auto d = live_.find_device(device);
  if (!d) return;
  auto rec = live_.device(*d);
  if (rec && rec->unit != kNoIndex) on_fixless_emergency_(rec->unit);
  log::warn("ingest", "officer emergency without a position", {{"device", std::string(device)}});
}

void Pipeline::submit(std::span<const RawPing> pings, std::span<const uint32_t> positions,
                      std::vector<Rejection> rejected, Channel channel, std::function<void(IngestOutcome&&)> done) {
  submit_with(pings, positions, std::move(rejected), channel, limits_, true, std::move(done));
}

void Pipeline::submit_import(std::span<const RawPing> pings, Channel channel, std::function<void(IngestOutcome&&)> done) {
  IngestLimits limits = limits_;
  limits.too_old_s = 0;
  std::vector<uint32_t> positions(pings.size());
  for (size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<uint32_t>(i);
  submit_with(pings, positions, {}, channel, limits, false, std::move(done));
}

void Pipeline::submit_with(std::span<const RawPing> pings, std::span<const uint32_t> positions,
                           std::vector<Rejection> rejected, Channel channel, const IngestLimits& limits, bool hooks,
                           std::function<void(IngestOutcome&&)> done) {
  const auto started = std::chrono::steady_clock::now();
  const EpochMs now = clock_.now_ms();
  // Validate; keep the valid ones (a reused buffer would be nicer, but the
  // vectors move into the job and outlive this call).
  std::vector<RawPing> valid;
  std::vector<uint32_t> valid_pos;
  valid.reserve(pings.size());
  valid_pos.reserve(pings.size());
  for (size_t i = 0; i < pings.size(); ++i) {
    if (auto r = validate_ping(pings[i], now, limits)) {
      r->index = positions[i];
      rejected.push_back(*r);
      if (hooks && pings[i].emergency && r->code == Errc::no_fix && on_fixless_emergency_) fixless_emergency(pings[i].device);
    } else {
      valid.push_back(pings[i]);
      valid_pos.push_back(positions[i]);
    }
  }
  auto job = std::make_unique<PingJob>();
  auto fix_pos = std::make_shared<std::vector<uint32_t>>();
  fix_pos->reserve(valid.size());
  live_.resolve(valid, valid_pos, channel, resolve_, job->fixes, *fix_pos, rejected, job->created);

  auto finish = [this, channel](IngestOutcome& o) {
    std::sort(o.rejected.begin(), o.rejected.end(), [](const Rejection& a, const Rejection& b) { return a.index < b.index; });
    for (const auto& r : o.rejected) metrics_.ping_rejected(channel, r.code);
    metrics_.ping_accepted(channel, o.accepted);
    if (o.error) metrics_.error(o.error->code);
  };

  if (job->fixes.empty() && job->created.empty()) {
    IngestOutcome o;
    o.rejected = std::move(rejected);
    finish(o);
    done(std::move(o));
    return;
  }
  auto shared_rejected = std::make_shared<std::vector<Rejection>>(std::move(rejected));
  job->done = [this, fix_pos, shared_rejected, done, finish, started, hooks](PingJob& j, const StoreResult& r) {
    IngestOutcome o;
    o.rejected = std::move(*shared_rejected);
    if (!r.ok) {
      o.error = Error{Errc::store_failed, {}};
    } else {
      live_.apply(j.fixes, j.stored, j.created);
      if (hooks && on_committed_) on_committed_(j.fixes, j.stored);
      for (size_t i = 0; i < j.fixes.size(); ++i) {
        if (j.stored[i]) {
          ++o.accepted;
          if (j.fixes[i].emergency)
            log::warn("ingest", "officer emergency flag received",
                      {{"device", live_.device(j.fixes[i].device).value_or(DeviceRecord{}).id}});
        } else {
          o.rejected.push_back({(*fix_pos)[i], Errc::duplicate, {}});
        }
      }
    }
    metrics_.live_units.store(static_cast<int64_t>(live_.units_with_fix()), std::memory_order_relaxed);
    metrics_.ingest_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    finish(o);
    done(std::move(o));
  };
  if (!store_.submit(job)) {
    IngestOutcome o;
    o.rejected = std::move(*shared_rejected);
    o.error = Error{Errc::overloaded, {}};
    finish(o);
    done(std::move(o));
  }
}

}  // namespace pm
