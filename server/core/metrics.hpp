#pragma once
// Process metrics in Prometheus text format. Counters and histograms are
// fixed arrays of relaxed atomics: recording is a few atomic adds, no lock, no
// allocation, so the ping hot path can count everything.
//
//   metrics.ping_rejected(Channel::json, Errc::too_old);
//   metrics.http_latency.observe(0.0012);
//   std::string page = metrics.render();
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "server/core/channel.hpp"
#include "server/core/errors.hpp"

namespace pm {

// Latency histogram in seconds with fixed buckets from 100 us to 10 s.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,    0.1,    0.25,  0.5,    1.0,  10.0};
  void observe(double seconds);
  void render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

class Metrics {
 public:
  void ping_accepted(Channel c, uint64_t n = 1) { accepted_[idx(c)].fetch_add(n, std::memory_order_relaxed); }
  void ping_rejected(Channel c, Errc reason, uint64_t n = 1);
  void http_response(unsigned status);
  void error(Errc e) { errors_[static_cast<size_t>(e)].fetch_add(1, std::memory_order_relaxed); }
  uint64_t accepted(Channel c) const { return accepted_[idx(c)].load(); }
  uint64_t rejected(Channel c, Errc reason) const;
  // UDP: datagrams read, by the channel they were decoded as.
  void udp_datagrams(Channel c, uint64_t n) { udp_datagrams_[idx(c)].fetch_add(n, std::memory_order_relaxed); }
  uint64_t udp_datagrams(Channel c) const { return udp_datagrams_[idx(c)].load(); }

  Histogram http_latency;    // request received -> response written
  Histogram ingest_latency;  // ping batch decoded -> committed and applied
  Histogram store_commit;    // one group-commit transaction
  std::atomic<int64_t> store_queue_pings{0};
  std::atomic<uint64_t> store_commits{0};
  std::atomic<uint64_t> store_chunked_fixes{0};           // fixes packed into track chunks
  std::atomic<uint64_t> store_chunked_from_table{0};      // of those, read back from `fixes` (not from memory)
  std::atomic<uint64_t> store_wal_checkpoints{0};         // by the checkpointer thread
  std::atomic<uint64_t> store_wal_checkpoint_frames{0};   // WAL frames those copied into the database
  std::atomic<uint64_t> store_wal_inline_checkpoints{0};  // by the writer, the checkpointer being far behind
  std::atomic<int64_t> live_units{0};
  std::atomic<int64_t> ws_clients{0};
  std::atomic<uint64_t> ws_frames{0};           // live-map frames written
  std::atomic<uint64_t> ws_frame_bytes{0};
  std::atomic<uint64_t> ws_snapshots{0};        // of them, snapshots
  std::atomic<uint64_t> ws_closed_slow{0};      // clients that stopped reading
  std::atomic<uint64_t> ws_closed_refused{0};   // bad token, bad message
  std::atomic<uint64_t> report_jobs{0};         // report/replay queries run by the store reader
  std::atomic<uint64_t> report_seconds_us{0};   // their total run time
  std::atomic<uint64_t> report_rejected{0};     // refused: reader queue full (503)
  std::atomic<uint64_t> retention_deleted_fixes{0};  // fixes deleted by store.retention_days
  std::atomic<uint64_t> audit_rows{0};               // replay/export audit rows written
  std::atomic<int64_t> http_connections{0};
  std::atomic<uint64_t> handler_exceptions{0};
  std::atomic<uint64_t> areas_loaded{0};    // area features loaded (API, files)
  std::atomic<uint64_t> areas_rejected{0};  // area features left out (bad id, geometry, target)
  std::atomic<uint64_t> udp_receive_drops{0};  // datagrams the kernel dropped: receive buffer full
  std::atomic<uint64_t> udp_pings_dropped{0};  // decoded from UDP, not stored: store queue full or failed

  std::string render() const;

 private:
  static size_t idx(Channel c) { return static_cast<size_t>(c); }
  std::array<std::atomic<uint64_t>, kChannelCount> accepted_{};
  std::array<std::array<std::atomic<uint64_t>, kPingReasonCount>, kChannelCount> rejected_{};
  std::array<std::atomic<uint64_t>, kChannelCount> udp_datagrams_{};
  std::array<std::atomic<uint64_t>, 6> http_status_class_{};  // 0xx..5xx
  std::array<std::atomic<uint64_t>, kErrcCount> errors_{};
};

}  // namespace pm
