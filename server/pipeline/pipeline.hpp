#pragma once
// The one ingest pipeline every channel feeds (SPEC section 3):
//   validate -> resolve device to unit -> project -> store (group commit)
//   -> live state -> answer.
// Decoders (JSON, OsmAnd, NMEA, LIP) only turn bytes into RawPings.
//
//   pipeline.submit(pings, positions, std::move(decode_rejections), Channel::json,
//                   [](IngestOutcome&& o) { /* runs on the store thread, or inline on early failure */ });
#include <functional>
#include <span>
#include <vector>

#include "server/core/config.hpp"
#include "server/core/metrics.hpp"
#include "server/ingest/validate.hpp"
#include "server/state/live_state.hpp"
#include "server/store/store.hpp"

namespace pm {

struct IngestOutcome {
  size_t accepted = 0;
  std::vector<Rejection> rejected;  // sorted by request position
  std::optional<Error> error;       // the whole batch failed (overloaded, store_failed): nothing stored
};

class Pipeline {
 public:
  Pipeline(const Config& cfg, const Clock& clock, Metrics& metrics, LiveState& live, Store& store);

  // `decode_rejections` are items the decoder already refused; they are
  // counted and returned with the rest. `done` is called exactly once.
  void submit(std::span<const RawPing> pings, std::span<const uint32_t> positions,
              std::vector<Rejection> decode_rejections, Channel channel, std::function<void(IngestOutcome&&)> done);

  // An imported track (POST /api/v1/tracks/import): the same validation and
  // store path, except that the too_old rule does not apply and the dispatch,
  // live-feed and coverage hooks are not run (history raises no alerts and
  // moves nobody on the live map; the store-based reports see it).
  void submit_import(std::span<const RawPing> pings, Channel channel, std::function<void(IngestOutcome&&)> done);

  // Hooks for dispatch, set before serving. `on_committed` runs on the store
  // thread after live state moved, with the batch's fixes (stored[i] == 0:
  // duplicate). `on_fixless_emergency` gets the unit of a device that sent an
  // emergency without a position.
  void set_hooks(std::function<void(std::span<const Fix>, std::span<const uint8_t>)> on_committed,
                 std::function<void(uint32_t unit)> on_fixless_emergency) {
    on_committed_ = std::move(on_committed);
    on_fixless_emergency_ = std::move(on_fixless_emergency);
  }

 private:
  void fixless_emergency(std::string_view device);
  void submit_with(std::span<const RawPing> pings, std::span<const uint32_t> positions,
                   std::vector<Rejection> rejected, Channel channel, const IngestLimits& limits, bool hooks,
                   std::function<void(IngestOutcome&&)> done);

  IngestLimits limits_;
  ResolveOptions resolve_;
  const Clock& clock_;
  Metrics& metrics_;
  LiveState& live_;
  Store& store_;
  std::function<void(std::span<const Fix>, std::span<const uint8_t>)> on_committed_;
  std::function<void(uint32_t)> on_fixless_emergency_;
};

}  // namespace pm
