#pragma once
// The HTTP API as a function of a request (OSRM's RequestHandler shape): takes
// a Beast request, answers through `respond`, never touches a socket. Unit
// and integration tests drive it directly; server/net only moves bytes.
//
//   Api api(deps);
//   api.handle(std::move(req), [](Response&& res) { write it });   // respond may run on the store thread
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>
#include <stdexcept>

#include "server/api/static_files.hpp"
#include "server/areas/area_set.hpp"
#include "server/areas/geojson.hpp"
#include "server/auth/auth.hpp"
#include "server/dispatch/json.hpp"
#include "server/dispatch/service.hpp"
#include "server/core/config.hpp"
#include "server/core/metrics.hpp"
#include "server/ingest/decoded.hpp"
#include "server/ingest/json_pings.hpp"
#include "server/pipeline/pipeline.hpp"
#include "server/pipeline/rota_service.hpp"
#include "server/state/live_state.hpp"
#include "server/store/audit.hpp"
#include "server/store/reader.hpp"
#include "server/store/store.hpp"

namespace pm {

class BasemapTiles;     // server/api/basemap_api.hpp
class CoverageService;  // server/coverage/service.hpp

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Respond = std::function<void(Response&&)>;

struct ApiDeps {
  const Config& cfg;
  const Clock& clock;
  Metrics& metrics;
  Auth& auth;
  LiveState& live;
  Store& store;
  Pipeline& pipeline;
  RotaService& rota;
  std::string index_html;  // the page served at "/"
  dispatch::DispatchService* dispatch = nullptr;  // required: incidents, alerts, every unit status change
  // http.web_root read at start: served without a token for GET/HEAD of any
  // path outside /api/, /osmand, /metrics, /healthz; index_html is the fallback for "/".
  std::shared_ptr<const StaticFiles> static_files = nullptr;
  // The offline basemap (basemap.osm_file), or nullptr: /api/v1/basemap answers 404.
  std::shared_ptr<const BasemapTiles> basemap = nullptr;
  // The areas loaded now (GET /api/v1/areas), or null when none.
  std::function<std::shared_ptr<const std::vector<AreaFeature>>()> areas = nullptr;
  // Read-only store queries off the I/O threads (reports, replay, exports).
  StoreReader* reader = nullptr;
  // Patrol coverage (reports, shifts); null: those endpoints answer 404.
  CoverageService* coverage = nullptr;
  // POST /api/v1/areas: queues (body, kind) for the area worker, whose done
  // runs on that worker; false when it is busy (answered 503). Null: 404.
  std::function<bool(std::string, std::string, std::function<void(AreaUploadResult&&)>)> upload_areas = nullptr;
};

// {"error":{"code":"...","message":"..."}} with the catalogue's status.
Response error_response(const Error& e, unsigned version, bool keep_alive);
Response json_response(unsigned status, std::string body, unsigned version, bool keep_alive);

class Api {
 public:
  explicit Api(ApiDeps deps) : d_(std::move(deps)) {
    if (!d_.dispatch) throw std::invalid_argument("Api needs the dispatch service");
  }
  void handle(Request&& req, Respond respond);

 private:
  void post_pings(Request&& req, const Principal& who, Respond respond);
  void osmand(Request&& req, const Principal& who, Respond respond);
  void post_rota(const Request& req, Respond respond);
  void post_areas(Request&& req, Respond respond);
  // The one HTTP ingest path: device-token check, pipeline, answer. The pings
  // may view request memory: submit resolves them before returning.
  void submit_pings(std::span<const RawPing> pings, std::span<const uint32_t> positions,
                    std::vector<Rejection> rejections, Channel channel, const Principal& who, unsigned ok_status,
                    unsigned version, bool keep_alive, Respond respond);
  void put_unit(const Request& req, std::string_view id, Respond respond);
  void post_unit_status(const Request& req, std::string_view id, const Principal& who, Respond respond);
  void put_device(const Request& req, std::string_view id, Respond respond);
  Response get_units(const Request& req) const;
  Response get_devices(const Request& req) const;
  Response healthz(const Request& req) const;
  // The web pages: nullopt when `path` is not one of them.
  std::optional<Response> static_file(const Request& req, std::string_view path) const;

  // Dispatch (server/api/dispatch_api.cpp), SPEC sections 4 and 11.
  void post_incident(const Request& req, Respond respond);
  Response get_incidents(const Request& req) const;
  Response get_incident(const Request& req, uint64_t id) const;
  Response get_recommendations(const Request& req, uint64_t id) const;
  void post_assign(const Request& req, uint64_t id, Respond respond);
  void post_incident_event(const Request& req, uint64_t id, const Principal& who, Respond respond);
  void post_close(const Request& req, uint64_t id, Respond respond);
  void post_location(const Request& req, Respond respond);
  Response get_locations(const Request& req) const;
  Response get_alerts(const Request& req) const;
  void post_alert_ack(const Request& req, uint64_t id, Respond respond);
  void post_unit_emergency(const Request& req, std::string_view unit, const Principal& who, Respond respond);
  // Runs a dispatch command and answers with `render` (under the dispatch lock) after commit.
  void run_dispatch(const Request& req, dispatch::Command c, unsigned ok_status,
                    std::function<void(dispatch::JsonWriter&, const dispatch::Engine&, EpochMs,
                                       const std::vector<dispatch::Event>&)> render,
                    Respond respond);
  // Patrol coverage (server/api/coverage_api.cpp), SPEC sections 5 and 7.
  Response get_shifts(const Request& req) const;
  void get_coverage(const Request& req, Respond respond);
  void get_coverage_visits(const Request& req, Respond respond);
  std::optional<std::pair<int64_t, int64_t>> report_window(const Request& req, std::string& error) const;
  // Coverage running and a good window, or the error answered and nullopt.
  std::optional<std::pair<int64_t, int64_t>> coverage_window(const Request& req, const Respond& respond) const;
  // Replay, exports, import and audit (server/api/replay_api.cpp), SPEC sections 7 and 9.
  void get_tracks(const Request& req, const Principal& who, Respond respond);
  void get_positions(const Request& req, const Principal& who, Respond respond);
  void post_track_import(Request&& req, const Principal& who, Respond respond);
  void get_audit(const Request& req, Respond respond);
  // Runs `job` on a reader worker, or answers 503 overloaded when the queue is full.
  void run_query(StoreReader::Job job, unsigned version, bool keep_alive, const Respond& respond);
  // Commits `row` to the audit log, then runs `job` on a reader worker.
  void audited_query(AuditRow row, StoreReader::Job job, unsigned version, bool keep_alive, Respond respond);
  // An error answer, counted in metrics by its code.
  Response failed(const Error& e, unsigned version, bool keep_alive) const;
  Response bad_request(const Request& req, std::string message) const {
    return failed(Error{Errc::bad_request, std::move(message)}, req.version(), req.keep_alive());
  }
  // A device token may act only for the unit its device is linked to.
  bool device_may_act_for(const Principal& who, uint32_t unit) const;

  template <class F>
  void with_engine(F&& f) const {
    d_.dispatch->read([&](const dispatch::Engine& e, EpochMs, const LiveState&) {
      f(&e);
      return 0;
    });
  }

  ApiDeps d_;
};

}  // namespace pm
