#include "server/core/metrics.hpp"

#include <cstdio>

namespace pm {

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view help) const {
  char buf[160];
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" histogram\n");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    if (i < kBounds.size())
      std::snprintf(buf, sizeof buf, "_bucket{le=\"%g\"} %llu\n", kBounds[i], static_cast<unsigned long long>(cumulative));
    else
      std::snprintf(buf, sizeof buf, "_bucket{le=\"+Inf\"} %llu\n", static_cast<unsigned long long>(cumulative));
    out.append(name).append(buf);
  }
  std::snprintf(buf, sizeof buf, "_sum %.9f\n", static_cast<double>(sum_ns_.load()) / 1e9);
  out.append(name).append(buf);
  std::snprintf(buf, sizeof buf, "_count %llu\n", static_cast<unsigned long long>(cumulative));
  out.append(name).append(buf);
}

void Metrics::ping_rejected(Channel c, Errc reason, uint64_t n) {
  auto r = static_cast<size_t>(reason);
  if (r >= kPingReasonCount) r = static_cast<size_t>(Errc::bad_format);
  rejected_[idx(c)][r].fetch_add(n, std::memory_order_relaxed);
}

uint64_t Metrics::rejected(Channel c, Errc reason) const {
  auto r = static_cast<size_t>(reason);
  return r < kPingReasonCount ? rejected_[idx(c)][r].load() : 0;
}

void Metrics::http_response(unsigned status) {
  size_t cls = status / 100;
  if (cls >= http_status_class_.size()) cls = 5;
  http_status_class_[cls].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(16384);
  char buf[256];
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out.append(buf);
  };
  out.append("# HELP patrolmap_pings_accepted_total Pings stored, by ingest channel.\n"
             "# TYPE patrolmap_pings_accepted_total counter\n");
  for (size_t c = 0; c < kChannelCount; ++c)
    line("patrolmap_pings_accepted_total{channel=\"%s\"} %llu\n", channel_name(static_cast<Channel>(c)).data(),
         static_cast<unsigned long long>(accepted_[c].load()));
  out.append("# HELP patrolmap_pings_rejected_total Pings rejected, by channel and reason code.\n"
             "# TYPE patrolmap_pings_rejected_total counter\n");
  for (size_t c = 0; c < kChannelCount; ++c)
    for (size_t r = 0; r < kPingReasonCount; ++r)
      line("patrolmap_pings_rejected_total{channel=\"%s\",reason=\"%s\"} %llu\n",
           channel_name(static_cast<Channel>(c)).data(), error_code(static_cast<Errc>(r)).data(),
           static_cast<unsigned long long>(rejected_[c][r].load()));
  out.append("# HELP patrolmap_udp_datagrams_total UDP datagrams read, by the channel they were decoded as.\n"
             "# TYPE patrolmap_udp_datagrams_total counter\n");
  for (size_t c = 0; c < kChannelCount; ++c) {
    auto ch = static_cast<Channel>(c);
    if (ch == Channel::nmea_udp || ch == Channel::json_udp || ch == Channel::lip_udp)
      line("patrolmap_udp_datagrams_total{channel=\"%s\"} %llu\n", channel_name(ch).data(),
           static_cast<unsigned long long>(udp_datagrams_[c].load()));
  }
  out.append("# HELP patrolmap_http_responses_total HTTP responses by status class.\n"
             "# TYPE patrolmap_http_responses_total counter\n");
  for (size_t s = 1; s < http_status_class_.size(); ++s)
    line("patrolmap_http_responses_total{class=\"%zuxx\"} %llu\n", s,
         static_cast<unsigned long long>(http_status_class_[s].load()));
  out.append("# HELP patrolmap_errors_total Errors answered, by stable code.\n"
             "# TYPE patrolmap_errors_total counter\n");
  for (size_t e = kPingReasonCount; e < kErrcCount; ++e)
    line("patrolmap_errors_total{code=\"%s\"} %llu\n", error_code(static_cast<Errc>(e)).data(),
         static_cast<unsigned long long>(errors_[e].load()));
  http_latency.render(out, "patrolmap_http_request_duration_seconds", "HTTP request handling time.");
  ingest_latency.render(out, "patrolmap_ingest_latency_seconds", "Ping batch decoded to committed and live.");
  store_commit.render(out, "patrolmap_store_commit_seconds", "Store group-commit transaction time.");
  auto gauge = [&](const char* name, const char* help, long long v) {
    line("# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
  };
  auto counter = [&](const char* name, const char* help, unsigned long long v) {
    line("# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
  };
  gauge("patrolmap_store_queue_pings", "Pings waiting for the store writer.", store_queue_pings.load());
  counter("patrolmap_store_commits_total", "Store transactions committed.", store_commits.load());
  counter("patrolmap_store_chunked_fixes_total", "Fixes packed into per-unit track chunks.",
          store_chunked_fixes.load());
  counter("patrolmap_store_chunked_from_table_fixes_total",
          "Of the chunked fixes, those read back from the table (a backlog after a restart).",
          store_chunked_from_table.load());
  counter("patrolmap_store_wal_checkpoints_total", "WAL checkpoints run by the checkpointer thread.",
          store_wal_checkpoints.load());
  counter("patrolmap_store_wal_checkpoint_frames_total",
          "WAL frames (pages) the checkpointer thread copied into the database file.",
          store_wal_checkpoint_frames.load());
  counter("patrolmap_store_wal_inline_checkpoints_total",
          "WAL checkpoints the writer ran itself because the checkpointer was far behind.",
          store_wal_inline_checkpoints.load());
  gauge("patrolmap_live_units", "Units with a live position.", live_units.load());
  gauge("patrolmap_websocket_clients", "Connected live-map clients.", ws_clients.load());
  counter("patrolmap_websocket_frames_total", "Live-map frames written (snapshots and deltas).", ws_frames.load());
  counter("patrolmap_websocket_frame_bytes_total", "Bytes of live-map frames written (on the wire: headers included, compressed when deflated).", ws_frame_bytes.load());
  counter("patrolmap_websocket_snapshots_total",
          "Live-map snapshots written (first frames, and clients that fell too far behind).", ws_snapshots.load());
  counter("patrolmap_websocket_closed_slow_total", "Live-map clients disconnected because they stopped reading.",
          ws_closed_slow.load());
  counter("patrolmap_websocket_closed_refused_total",
          "Live-map clients closed for a bad or missing token, a bad message or a protocol error.", ws_closed_refused.load());
  counter("patrolmap_report_queries_total", "Report, replay and export queries run off the I/O threads.",
          report_jobs.load());
  line("# HELP %s %s\n# TYPE %s counter\n%s %.6f\n", "patrolmap_report_query_seconds_total",
       "Time spent running those queries.", "patrolmap_report_query_seconds_total",
       "patrolmap_report_query_seconds_total", static_cast<double>(report_seconds_us.load()) / 1e6);
  counter("patrolmap_report_rejected_total", "Report queries refused because the query queue was full (503).",
          report_rejected.load());
  counter("patrolmap_retention_deleted_fixes_total", "Fixes deleted because they were older than store.retention_days.",
          retention_deleted_fixes.load());
  counter("patrolmap_audit_rows_total", "Audit rows written for replay, position, export and import requests.",
          audit_rows.load());
  gauge("patrolmap_http_connections", "Open HTTP connections.", http_connections.load());
  counter("patrolmap_handler_exceptions_total", "Exceptions caught at a handler edge.", handler_exceptions.load());
  counter("patrolmap_areas_loaded_total", "Area features loaded (POST /api/v1/areas, area files).", areas_loaded.load());
  counter("patrolmap_areas_rejected_total",
          "Area features left out: no or duplicate id, bad geometry type, invalid geometry, bad target.",
          areas_rejected.load());
  counter("patrolmap_udp_receive_drops_total", "UDP datagrams the kernel dropped because the receive buffer was full.",
          udp_receive_drops.load());
  counter("patrolmap_udp_pings_dropped_total", "Pings decoded from UDP datagrams but not stored (store queue full).",
          udp_pings_dropped.load());
  return out;
}

}  // namespace pm
