#include "server/app/app.hpp"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "geo/area_index.hpp"
#include "geo/osm_basemap.hpp"
#include "geo/osm_roads.hpp"
#include "server/api/api.hpp"
#include "server/api/basemap_api.hpp"
#include "server/areas/area_service.hpp"
#include "server/areas/geojson.hpp"
#include "server/coverage/service.hpp"
#include "server/dispatch/road_eta.hpp"
#include "server/dispatch/service.hpp"
#include "server/live/feed.hpp"
#include "server/core/log.hpp"
#include "server/ingest/json_datagram.hpp"
#include "server/ingest/lip.hpp"
#include "server/ingest/nmea.hpp"
#include "server/net/device_servers.hpp"
#include "server/net/http_server.hpp"
#include <boost/asio/steady_timer.hpp>
#include "server/pipeline/pipeline.hpp"

namespace pm {

namespace {

// Adapters from the pure stream decoders to the network shell's interface.
class NmeaDecoder final : public StreamDecoder {
 public:
  void feed(std::string_view bytes, EpochMs, DecodedPings& out) override { s_.feed(bytes, out); }
  void flush(EpochMs, DecodedPings& out) override { s_.flush(out); }

 private:
  NmeaStream s_;
};

class PeiDecoder final : public StreamDecoder {
 public:
  void feed(std::string_view bytes, EpochMs now, DecodedPings& out) override { s_.feed(bytes, now, out); }
  void flush(EpochMs, DecodedPings&) override {}  // a report is complete with its payload line

 private:
  PeiStream s_;
};

// basemap.osm_file: read, simplified, serialised and gzipped once. A file
// that cannot be read stops the start, as roads.osm_file does: the operator
// asked for a map that works without the internet.
std::shared_ptr<const BasemapTiles> load_basemap(const std::string& path, const geo::Projection& projection) {
  if (path.empty()) return nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  auto map = geo::read_basemap(path, projection);
  if (!map) throw std::runtime_error("basemap.osm_file: " + map.error());
  const auto t1 = std::chrono::steady_clock::now();
  auto tiles = std::make_shared<const BasemapTiles>(BasemapTiles::build(*map));
  using ms = std::chrono::milliseconds;
  const auto read_ms = std::chrono::duration_cast<ms>(t1 - t0).count();
  const auto total_ms = std::chrono::duration_cast<ms>(std::chrono::steady_clock::now() - t0).count();
  size_t raw = 0, gz = 0;
  std::string layers;
  for (const auto& [name, blob] : tiles->layers()) {
    raw += blob.body.size();
    gz += blob.gzip.size();
    layers += (layers.empty() ? "" : " ") + name + ":" + std::to_string(blob.features);
  }
  log::info("basemap", "basemap loaded", {{"file", path},
                                          {"ms", std::to_string(total_ms)},
                                          {"read_ms", std::to_string(read_ms)},
                                          {"features", layers},
                                          {"bytes", std::to_string(raw)},
                                          {"gzip_bytes", std::to_string(gz)}});
  return tiles;
}

const char* kIndexHtml = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Patrolmap</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}</style>
</head><body><h1>Patrolmap</h1>
<p id="state">Signing in...</p>
<table><thead><tr><th>unit</th><th>type</th><th>status</th><th>lat</th><th>lon</th><th>fix time</th><th>source</th></tr></thead><tbody id="units"></tbody></table>
<p><small>Map data &copy; OpenStreetMap contributors (ODbL). Boundaries: ONS, OGL v3.</small></p>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token') || localStorage.getItem('patrolmap.token');
if (token) localStorage.setItem('patrolmap.token', token);
async function refresh() {
  if (!token) { document.getElementById('state').textContent = 'No token: open the URL the daemon printed.'; return; }
  try {
    const r = await fetch('/api/v1/units', {headers: {Authorization: 'Bearer ' + token}});
    if (!r.ok) throw new Error((await r.json()).error.message);
    const units = (await r.json()).units;
    document.getElementById('state').textContent = units.length + ' units (refreshes every 2 s)';
    const tb = document.getElementById('units'); tb.textContent = '';
    for (const u of units) {
      const tr = document.createElement('tr');
      for (const v of [u.id, u.type, u.status, u.lat?.toFixed(5), u.lon?.toFixed(5), u.fix_time, u.source]) {
        const td = document.createElement('td'); td.textContent = v ?? ''; tr.appendChild(td);
      }
      tb.appendChild(tr);
    }
  } catch (e) { document.getElementById('state').textContent = 'Error: ' + e.message; }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>)html";
}  // namespace

struct App::Impl {
  Impl(const Config& c, const Clock* clk)
      : cfg(c),
        clock(clk ? clk : &system_clock),
        live([&] {
          auto p = geo::Projection::create(c.projection_crs);
          if (!p) throw std::runtime_error("projection " + c.projection_crs + ": " + p.error());
          return std::move(*p);
        }(),
             LonLatBox{c.live_extent[0], c.live_extent[1], c.live_extent[2], c.live_extent[3]}),
        auth(c.http_rate_per_token, c.http_rate_burst) {
    StoreOptions so;
    so.data_dir = cfg.data_dir;
    so.sync = cfg.store_synchronous;
    so.queue_max_pings = cfg.store_queue_max_pings;
    so.max_txn_pings = cfg.store_max_txn_pings;
    so.snapshot_interval_s = cfg.store_snapshot_interval_s;
    so.track_chunk_s = cfg.store_track_chunk_s;
    so.retention_days = cfg.store_retention_days;
    so.retention_check_s = cfg.store_retention_check_s;
    so.retention_batch_rows = cfg.store_retention_batch_rows;
    so.clock = clock;
    store = Store::open(so, metrics);
    store->load(live);
    reader = std::make_unique<StoreReader>(cfg.data_dir, cfg.report_threads, cfg.report_queue_max, metrics);
    metrics.live_units.store(static_cast<int64_t>(live.units_with_fix()));
    pipeline = std::make_unique<Pipeline>(cfg, *clock, metrics, live, *store);
    rota = std::make_unique<RotaService>(*clock, live, *store, [this](uint32_t unit, UnitStatus st) {
      dispatch->execute(dispatch::cmd::SetStatus{unit, st}, [](dispatch::Outcome&& r) {
        if (!r) log::debug("rota", "status change deferred", {{"reason", std::string(r.error().text())}});
      });
    });
    store->read([&](sql::Db& db) { rota->load(load_rota_rows(db)); });
    // Areas: the stored ones now (SPEC 8: a restart serves what was loaded),
    // uploads later through the one area worker.
    // Before the areas: publishing them hands them to the coverage accounting.
    coverage = std::make_unique<CoverageService>(cfg, *clock, live, metrics);
    area_service = std::make_unique<AreaService>(
        live.projection(), *store, metrics,
        [this] {
          std::lock_guard lock(areas_mu);
          return area_meta;
        },
        [this](AreaSet set) { publish_areas(std::move(set)); });
    area_service->load_stored();
    dispatch::DispatchConfig dc;
    dc.stale_after_s = cfg.dispatch_stale_after_s;
    dc.straight_line_speed_mps = cfg.dispatch_speed_mps;
    dc.arrival_radius_m = cfg.dispatch_arrival_radius_m;
    dc.repeat_radius_m = cfg.dispatch_repeat_radius_m;
    dc.repeat_window_days = cfg.dispatch_repeat_window_days;
    dc.grade1_urban_s = cfg.dispatch_grade1_urban_min * 60;
    dc.grade1_rural_s = cfg.dispatch_grade1_rural_min * 60;
    dc.grade2_s = cfg.dispatch_grade2_min * 60;
    dispatch = std::make_unique<dispatch::DispatchService>(dc, *clock, live, *store, metrics);
    store->read([&](sql::Db& db) { dispatch->load(db); });
    dispatch->set_urban([this](geo::XY p) { return urban_at(p); });
    if (!cfg.roads_osm_file.empty()) {
      // A configured road network that cannot be read stops the start: the
      // operator asked for drive-time ETAs and must not get straight lines silently.
      auto graph = geo::load_osm_roads(cfg.roads_osm_file, live.projection());
      if (!graph) throw std::runtime_error("roads.osm_file: " + graph.error());
      log::info("roads", "road network loaded", {{"file", cfg.roads_osm_file},
                                                 {"nodes", std::to_string(graph->node_count())},
                                                 {"edges", std::to_string(graph->edge_count())}});
      road_eta = std::make_unique<dispatch::GraphRoadEta>(std::make_shared<const geo::RoadGraph>(std::move(*graph)));
      dispatch->set_road(road_eta.get());
    }
    feed = std::make_unique<live::LiveFeed>(
        live::FanOutOptions{.max_pending = cfg.live_max_pending, .max_lag_ms = cfg.live_max_lag_ms}, cfg.live_flush_ms,
        *dispatch, *clock);
    feed->seed();
    dispatch->set_listener([this](const std::vector<dispatch::Event>& events) { feed->on_events(events); });
    pipeline->set_hooks(
        [this](std::span<const Fix> f, std::span<const uint8_t> s) {
          dispatch->on_fixes(f, s);
          feed->on_fixes(f, s);
          coverage->on_fixes(f, s);
        },
        [this](uint32_t unit) { dispatch->emergency_without_fix(unit); });
    // The web pages are read into memory once (server/api/static_files.hpp);
    // without them the API still runs, with the built-in page at "/".
    std::shared_ptr<const StaticFiles> web;
    if (!cfg.http_web_root.empty()) {
      std::string err;
      auto files = std::make_shared<StaticFiles>(StaticFiles::load(cfg.http_web_root, err));
      if (!err.empty()) log::warn("http", "web pages not (all) loaded", {{"root", cfg.http_web_root}, {"error", err}});
      log::info("http", "web pages loaded", {{"root", cfg.http_web_root}, {"files", std::to_string(files->size())}});
      web = std::move(files);
    }
    auto basemap = load_basemap(cfg.basemap_osm_file, live.projection());
    api = std::make_unique<Api>(ApiDeps{cfg, *clock, metrics, auth, live, *store, *pipeline, *rota, kIndexHtml,
                                        dispatch.get(), std::move(web), std::move(basemap), [this] {
                                          std::lock_guard lock(areas_mu);
                                          return area_meta;
                                        },
                                        reader.get(), coverage.get(),
                                        [this](std::string body, std::string kind,
                                               std::function<void(AreaUploadResult&&)> done) {
                                          return area_service->submit(std::move(body), std::move(kind),
                                                                      std::move(done));
                                        }});
    // The first I/O thread runs `ioc` (device servers, timers, HTTP); each
    // further one runs its own context that serves HTTP connections only.
    std::vector<boost::asio::io_context*> http_contexts{&ioc};
    for (unsigned t = 1; t < cfg.http_threads; ++t) {
      more_iocs.push_back(std::make_unique<boost::asio::io_context>(1));
      http_contexts.push_back(more_iocs.back().get());
    }
    server = std::make_unique<HttpServer>(std::move(http_contexts), cfg, *api, *feed, metrics, auth);
    nmea = std::make_unique<DeviceServer>(
        ioc, *pipeline, metrics, *clock, DeviceServerLimits{}, "nmea", Channel::nmea_tcp,
        [] { return std::make_unique<NmeaDecoder>(); },
        // The NMEA UDP port also takes JSON ping datagrams (docs/api.md).
        [json = std::make_shared<JsonDatagramDecoder>(cfg.ingest_max_batch)](std::string_view d, EpochMs,
                                                                              DatagramBatches& out) {
          if (is_json_datagram(d)) return json->decode(d, out[Channel::json_udp]);
          decode_nmea_datagram(d, out[Channel::nmea_udp]);
        });
    lip = std::make_unique<DeviceServer>(
        ioc, *pipeline, metrics, *clock, DeviceServerLimits{}, "lip", Channel::pei_tcp,
        [] { return std::make_unique<PeiDecoder>(); },
        [](std::string_view d, EpochMs now, DatagramBatches& out) { decode_lip_datagram(d, now, out[Channel::lip_udp]); });
  }

  Config cfg;
  SystemClock system_clock;
  const Clock* clock;
  Metrics metrics;
  LiveState live;
  Auth auth;
  std::unique_ptr<Store> store;
  std::unique_ptr<StoreReader> reader;  // report, replay and export queries
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<RotaService> rota;
  std::unique_ptr<dispatch::GraphRoadEta> road_eta;  // outlives `dispatch`, which points at it
  std::unique_ptr<dispatch::DispatchService> dispatch;
  std::unique_ptr<live::LiveFeed> feed;
  std::unique_ptr<CoverageService> coverage;
  std::unique_ptr<AreaService> area_service;  // before api: its jobs answer through the Api
  std::unique_ptr<Api> api;
  boost::asio::io_context ioc;
  std::vector<std::unique_ptr<boost::asio::io_context>> more_iocs;  // I/O threads 2..n, HTTP only
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<DeviceServer> nmea, lip;
  std::optional<boost::asio::steady_timer> rota_timer, dispatch_timer;
  boost::asio::ip::tcp::endpoint nmea_endpoint, lip_endpoint;

  void schedule_dispatch_tick() {
    dispatch_timer->expires_after(std::chrono::milliseconds(cfg.dispatch_tick_ms));
    dispatch_timer->async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      dispatch->tick();
      schedule_dispatch_tick();
    });
  }
  // Grade-1 targets: rural only where an area covering the point says
  // urban:false and none says urban:true; urban (the stricter target) otherwise.
  bool urban_at(geo::XY p) const {
    std::shared_ptr<const geo::AreaIndex> index;
    std::shared_ptr<const std::unordered_map<std::string, bool>> flags;
    {
      std::lock_guard lock(areas_mu);
      index = areas;
      flags = urban_flags;
    }
    if (!index || !flags) return true;
    thread_local std::vector<uint32_t> hits;
    hits.clear();
    index->areas_containing(p, hits);
    bool any_rural = false;
    for (uint32_t a : hits) {
      auto it = flags->find(index->id(a));
      if (it == flags->end()) continue;
      if (it->second) return true;
      any_rural = true;
    }
    return !any_rural;
  }
  void schedule_rota_tick() {
    rota_timer->expires_after(std::chrono::seconds(5));
    rota_timer->async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      rota->tick();
      schedule_rota_tick();
    });
  }
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  boost::asio::ip::tcp::endpoint http_endpoint;
  // The areas loaded now: area_meta[i] describes handle i of `areas`. All
  // three are swapped together under areas_mu (publish_areas, run by the
  // area worker after the store committed); readers copy the pointers.
  mutable std::mutex areas_mu;
  std::shared_ptr<const geo::AreaIndex> areas;
  std::shared_ptr<const std::vector<AreaFeature>> area_meta;  // GET /api/v1/areas
  std::shared_ptr<const std::unordered_map<std::string, bool>> urban_flags;  // area id -> urban, where the area says
  void publish_areas(AreaSet set) {
    auto urban = std::make_shared<std::unordered_map<std::string, bool>>();
    for (const auto& f : *set.features)
      if (f.urban) (*urban)[f.input.id] = *f.urban;
    {
      std::lock_guard lock(areas_mu);
      areas = set.index;
      area_meta = set.features;
      urban_flags = std::move(urban);
    }
    // One publisher at a time (the area worker, or the constructor): sets reach coverage in order.
    coverage->set_areas(std::move(set.index), std::move(set.features));
  }
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool started = false, stopped = false;
};

App::App(const Config& cfg, const Clock* clock) : impl_(std::make_unique<Impl>(cfg, clock)) {}

App::~App() { stop(); }

void App::start() {
  auto& i = *impl_;
  i.http_endpoint = i.server->listen(i.cfg.http_listen);
  i.nmea_endpoint = i.nmea->listen(i.cfg.nmea_listen);
  i.lip_endpoint = i.lip->listen(i.cfg.lip_listen);
  i.store->start(i.live, [&i](sql::Db& db) {
    i.auth.replace(load_tokens(db));
    log::info("auth", "tokens loaded", {{"count", std::to_string(i.auth.size())}});
  });
  i.feed->start();
  i.area_service->start();
  i.coverage->start(i.cfg.data_dir, [&i](std::vector<PatrolGap> gaps) {
    dispatch::cmd::PatrolGaps c;
    c.shift_start = i.coverage->shifts().at(i.clock->now_ms()).start_ms;
    for (auto& g : gaps)
      c.overdue.push_back({std::move(g.area), std::move(g.name), g.lat, g.lon, g.unvisited_s, g.max_gap_minutes,
                           g.last_visit_end_ms ? static_cast<EpochMs>(*g.last_visit_end_ms) : 0});
    i.dispatch->patrol_gaps(std::move(c));
  });
  i.server->start();
  i.nmea->start();
  i.lip->start();
  i.rota->tick();
  i.rota_timer.emplace(i.ioc);
  i.schedule_rota_tick();
  i.dispatch_timer.emplace(i.ioc);
  i.schedule_dispatch_tick();
  std::vector<boost::asio::io_context*> contexts{&i.ioc};
  for (auto& c : i.more_iocs) contexts.push_back(c.get());
  for (auto* c : contexts) {
    i.work.emplace_back(c->get_executor());
    i.threads.emplace_back([&i, c] {
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          // A handler must never take the daemon down: count, log, keep serving.
          i.metrics.handler_exceptions.fetch_add(1);
          log::error("io", "exception escaped a handler", {{"what", e.what()}});
        }
      }
    });
  }
  i.started = true;
}

void App::stop() {
  auto& i = *impl_;
  {
    std::lock_guard lock(i.stop_mu);
    if (i.stopped) return;
    i.stopped = true;
  }
  if (i.started) {
    i.server->stop();
    i.nmea->stop();
    i.lip->stop();
    boost::asio::post(i.ioc, [&i] {
      i.rota_timer->cancel();
      i.dispatch_timer->cancel();
    });
    i.feed->stop();  // its flush thread posts to the sessions' contexts
    i.work.clear();
    i.ioc.stop();
    for (auto& c : i.more_iocs) c->stop();
    for (auto& t : i.threads) t.join();
  }
  i.area_service->stop();  // waits for an upload's store job: before the store stops
  i.coverage->stop();
  i.reader->stop();
  i.store->stop();
  i.stop_cv.notify_all();
}

void App::wait() {
  std::unique_lock lock(impl_->stop_mu);
  impl_->stop_cv.wait(lock, [&] { return impl_->stopped; });
}

uint16_t App::http_port() const { return impl_->http_endpoint.port(); }
uint16_t App::nmea_port() const { return impl_->nmea_endpoint.port(); }
uint16_t App::lip_port() const { return impl_->lip_endpoint.port(); }
std::string App::http_host() const { return impl_->http_endpoint.address().to_string(); }
Metrics& App::metrics() { return impl_->metrics; }
LiveState& App::live() { return impl_->live; }
Store& App::store() { return *impl_->store; }
const Config& App::config() const { return impl_->cfg; }

std::string App::add_token(Role role, const std::string& name, const std::string& device) {
  std::string token = generate_token();
  std::promise<StoreResult> done;
  auto& auth = impl_->auth;
  EpochMs now = impl_->clock->now_ms();
  impl_->store->submit(WriteJob{
      [&, now](sql::Db& db) -> std::optional<std::string> {
        if (auto e = pm::add_token(db, token, name, role, device, now)) return e;
        auth.replace(load_tokens(db));  // our own commit does not bump data_version
        return std::nullopt;
      },
      [&done](const StoreResult& r) { done.set_value(r); }});
  StoreResult r = done.get_future().get();
  if (!r.ok) throw std::runtime_error("cannot add token: " + r.error);
  return token;
}

size_t App::load_areas_file(const std::string& path, const std::string& default_kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read areas file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  AreaUploadResult r = impl_->area_service->upload(ss.str(), default_kind);
  if (r.error) throw std::runtime_error("areas file " + path + ": " + std::string(r.error->text()));
  for (const auto& p : r.plan.rejected)
    log::warn("areas", "feature skipped", {{"index", std::to_string(p.index)}, {"id", p.id}, {"code", p.code}, {"reason", p.message}});
  return r.plan.next.index->size();
}

}  // namespace pm
