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

#include "server/auth/auth.hpp"
#include "server/core/config.hpp"
#include "server/core/metrics.hpp"
#include "server/ingest/decoded.hpp"
#include "server/ingest/json_pings.hpp"
#include "server/pipeline/pipeline.hpp"
#include "server/pipeline/rota_service.hpp"
#include "server/state/live_state.hpp"
#include "server/store/store.hpp"

namespace pm {

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
};

// {"error":{"code":"...","message":"..."}} with the catalogue's status.
Response error_response(const Error& e, unsigned version, bool keep_alive);
Response json_response(unsigned status, std::string body, unsigned version, bool keep_alive);

class Api {
 public:
  explicit Api(ApiDeps deps) : d_(std::move(deps)) {}
  void handle(Request&& req, Respond respond);

 private:
  void post_pings(Request&& req, const Principal& who, Respond respond);
  void osmand(Request&& req, const Principal& who, Respond respond);
  void post_rota(const Request& req, Respond respond);
  // The one HTTP ingest path: device-token check, pipeline, answer. The pings
  // may view request memory: submit resolves them before returning.
  void submit_pings(std::span<const RawPing> pings, std::span<const uint32_t> positions,
                    std::vector<Rejection> rejections, Channel channel, const Principal& who, unsigned ok_status,
                    unsigned version, bool keep_alive, Respond respond);
  void put_unit(const Request& req, std::string_view id, Respond respond);
  void post_unit_status(const Request& req, std::string_view id, Respond respond);
  void put_device(const Request& req, std::string_view id, Respond respond);
  Response get_units(const Request& req) const;
  Response get_devices(const Request& req) const;
  Response healthz(const Request& req) const;

  ApiDeps d_;
};

}  // namespace pm
