#include "server/net/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <optional>
#include <rapidjson/document.h>

#include "server/core/log.hpp"
#include "server/live/feed.hpp"

namespace pm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// The window and layers of a hello or viewport message; nullopt when malformed.
std::optional<live::Bbox> parse_bbox(const rapidjson::Value& v) {
  if (!v.IsArray() || v.Size() != 4) return std::nullopt;
  double c[4];
  for (unsigned i = 0; i < 4; ++i) {
    if (!v[i].IsNumber()) return std::nullopt;
    c[i] = v[i].GetDouble();
    if (!std::isfinite(c[i])) return std::nullopt;
  }
  live::Bbox b{c[0], c[1], c[2], c[3]};
  if (b.west > b.east || b.south > b.north || b.west < -180 || b.east > 180 || b.south < -90 || b.north > 90)
    return std::nullopt;
  return b;
}

std::optional<uint8_t> parse_layers(const rapidjson::Value& v) {
  if (!v.IsArray()) return std::nullopt;
  uint8_t layers = 0;
  for (const auto& l : v.GetArray()) {
    if (!l.IsString()) return std::nullopt;
    std::string_view name(l.GetString(), l.GetStringLength());
    if (name == "units") layers |= live::kUnits;
    else if (name == "incidents") layers |= live::kIncidents;
    else if (name == "alerts") layers |= live::kAlerts;  // other names: layers of later versions, ignored
  }
  return layers;
}

// A browser may open the feed from the page's own origin or a configured one;
// a client without Origin is not a browser (no cross-site risk).
bool origin_allowed(std::string_view origin, std::string_view host, const std::vector<std::string>& extra) {
  if (origin.empty()) return true;
  for (std::string_view scheme : {"http://", "https://"})
    if (origin.size() == scheme.size() + host.size() && origin.substr(0, scheme.size()) == scheme &&
        origin.substr(scheme.size()) == host)
      return true;
  return std::find(extra.begin(), extra.end(), origin) != extra.end();
}

// A live-map WebSocket session (SPEC section 6). The client says hello with
// a staff token (and optionally bbox and layers) within the header deadline.
// The feed's flush thread then hands it frames, a snapshot first and then
// deltas no more often than live.flush_ms (pm_live's FanOut decides what);
// this session only writes them, one at a time, and tells the feed when one
// is written. While the client has not read it, updates coalesce per unit in
// the FanOut (bounded; far behind, the next frame is a fresh snapshot); a
// client that has not read its frame for live.stall_close_s is disconnected.
// A viewport change is applied at the next frame (the latest wins), so no
// client can make the server re-scan the units faster than it flushes. Pings
// after live.keepalive_s / 2 of silence; silent for live.keepalive_s: closed.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& s, Auth& auth, live::LiveFeed& feed, Metrics& metrics, const Config& cfg)
      : ws_(std::move(s)), hello_timer_(ws_.get_executor()), stall_timer_(ws_.get_executor()), auth_(auth),
        feed_(feed), metrics_(metrics), cfg_(cfg) {}

  void run(Request req) {
    metrics_.ws_clients.fetch_add(1);
    // A client must say hello with a valid token in time, or it is dropped:
    // an unauthenticated socket may not sit on the server.
    hello_timer_.expires_after(std::chrono::seconds(cfg_.http_header_timeout_s));
    hello_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->sub_) return;
      beast::get_lowest_layer(self->ws_).close();
    });
    ws_.read_message_max(64 * 1024);
    // A frame goes out as one WebSocket frame, in as few writes as the
    // kernel takes (auto-fragmenting would cut a county-wide delta into
    // hundreds of 4 KiB frames and writes).
    ws_.auto_fragment(false);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = std::chrono::seconds(cfg_.live_keepalive_s);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }
  ~WsSession() {
    if (sub_) feed_.unsubscribe(sub_);
    metrics_.ws_clients.fetch_sub(1);
  }

 private:
  using steady = std::chrono::steady_clock;

  void on_accept(beast::error_code ec) {
    if (ec) return;
    do_read();
  }
  void do_read() { ws_.async_read(buf_, beast::bind_front_handler(&WsSession::on_read, shared_from_this())); }

  void on_read(beast::error_code ec, size_t) {
    if (ec) return finish();
    std::string msg = beast::buffers_to_string(buf_.data());
    buf_.consume(buf_.size());
    if (closing_) return do_read();
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(msg.data(), msg.size());
    if (d.HasParseError() || !d.IsObject()) return refuse("bad message: not a JSON object");
    std::string_view op;
    if (d.HasMember("op") && d["op"].IsString()) op = {d["op"].GetString(), d["op"].GetStringLength()};
    if (!sub_) {
      std::optional<Principal> who;
      if (op == "hello" && d.HasMember("token") && d["token"].IsString()) who = auth_.authenticate_token(d["token"].GetString());
      if (!who || !allows(who->role, kStaff)) return refuse("unauthorized");
      live::Bbox bbox;  // default: everywhere
      uint8_t layers = live::kAllLayers;
      if (d.HasMember("bbox")) {
        auto b = parse_bbox(d["bbox"]);
        if (!b) return refuse("bad bbox: [west,south,east,north] in degrees");
        bbox = *b;
      }
      if (d.HasMember("layers")) {
        auto l = parse_layers(d["layers"]);
        if (!l) return refuse("bad layers: an array of names");
        layers = *l;
      }
      hello_timer_.cancel();
      // Frames arrive on the feed's flush thread and are posted here.
      sub_ = feed_.subscribe(bbox, layers,
                             [weak = weak_from_this(), ex = ws_.get_executor()](
                                 bool snapshot, std::shared_ptr<const std::string> body) {
                               asio::post(ex, [weak, snapshot, body = std::move(body)]() mutable {
                                 if (auto self = weak.lock()) self->send(snapshot, std::move(body));
                               });
                             });
      watch_stall();
      return do_read();
    }
    if (op == "viewport") {
      auto b = d.HasMember("bbox") ? parse_bbox(d["bbox"]) : std::nullopt;
      if (!b) return refuse("bad bbox: [west,south,east,north] in degrees");
      feed_.set_viewport(sub_, *b);
    } else if (op != "hello") {  // a repeated hello changes nothing
      return refuse("unknown op");
    }
    do_read();
  }

  // Closes with 1008 (policy) and the reason; after the frame in flight, if any.
  void refuse(const char* reason) {
    metrics_.ws_closed_refused.fetch_add(1, std::memory_order_relaxed);
    closing_ = true;
    close_reason_ = reason;
    if (!writing_) do_close();
    do_read();  // the close handshake completes through the read loop
  }
  void do_close() {
    stall_timer_.cancel();
    ws_.async_close(websocket::close_reason(websocket::close_code::policy_error, close_reason_),
                    [self = shared_from_this()](beast::error_code) {});
  }
  void finish() {
    done_ = true;
    hello_timer_.cancel();
    stall_timer_.cancel();
  }

  void send(bool snapshot, std::shared_ptr<const std::string> body) {
    if (closing_ || done_) return;  // not ready again: nothing more is cut for it
    prefix_ = live::FanOut::frame_prefix(snapshot, ++seq_);
    body_ = std::move(body);
    writing_ = true;
    write_started_ = steady::now();
    if (snapshot) metrics_.ws_snapshots.fetch_add(1, std::memory_order_relaxed);
    ws_.text(true);
    std::array<asio::const_buffer, 2> frame{asio::buffer(prefix_), asio::buffer(*body_)};
    ws_.async_write(frame, [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->writing_ = false;
      self->body_.reset();
      if (ec) return self->finish();
      self->metrics_.ws_frames.fetch_add(1, std::memory_order_relaxed);
      self->metrics_.ws_frame_bytes.fetch_add(n, std::memory_order_relaxed);
      if (self->closing_) return self->do_close();
      self->feed_.ready(self->sub_);
    });
  }

  // Once a second: a client that has not read its frame for
  // live.stall_close_s stopped reading. It cannot be sent a close frame.
  void watch_stall() {
    stall_timer_.expires_after(std::chrono::seconds(1));
    stall_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->done_ || self->closing_) return;
      if (self->writing_ && steady::now() - self->write_started_ > std::chrono::seconds(self->cfg_.live_stall_close_s)) {
        self->metrics_.ws_closed_slow.fetch_add(1, std::memory_order_relaxed);
        self->finish();
        beast::get_lowest_layer(self->ws_).close();
        return;
      }
      self->watch_stall();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer hello_timer_, stall_timer_;
  Auth& auth_;
  live::LiveFeed& feed_;
  Metrics& metrics_;
  const Config& cfg_;
  beast::flat_buffer buf_;
  std::string prefix_;                       // of the frame in flight
  std::shared_ptr<const std::string> body_;  // of the frame in flight, maybe shared with other sessions
  live::SubscriberId sub_ = 0;
  uint64_t seq_ = 0;
  steady::time_point write_started_;
  bool writing_ = false, closing_ = false, done_ = false;
  std::string close_reason_;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, const Config& cfg, Api& api, live::LiveFeed& feed, Metrics& metrics, Auth& auth)
      : stream_(std::move(socket)), cfg_(cfg), api_(api), feed_(feed), metrics_(metrics), auth_(auth) {
    metrics_.http_connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~HttpSession() { metrics_.http_connections.fetch_sub(1, std::memory_order_relaxed); }

  void run() { asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::do_read, shared_from_this())); }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(cfg_.http_body_limit);
    parser_->header_limit(16 * 1024);
    if (first_) {
      // A new connection: the header deadline runs from now.
      first_ = false;
      return read_header();
    }
    if (buf_.size() > 0) return parse_buffered();  // a pipelined request
    // Keep-alive: wait for the next request's first bytes under the idle
    // timeout, then give its header the (shorter) header deadline.
    stream_.expires_after(std::chrono::seconds(cfg_.http_idle_timeout_s));
    stream_.async_read_some(buf_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->close();
      self->buf_.commit(n);
      self->parse_buffered();
    });
  }

  // Most requests arrive whole in one read: parse what is buffered, and when
  // that is a complete plain request, handle it at once (no further read
  // operation, no timer). Anything else continues on the async path, with
  // the parser keeping what it has already consumed.
  void parse_buffered() {
    beast::error_code ec;
    parser_->eager(true);
    buf_.consume(parser_->put(buf_.data(), ec));
    if (ec && ec != http::error::need_more) return on_read_error(ec);
    if (parser_->is_done() && !websocket::is_upgrade(parser_->get())) return on_read({}, 0);
    read_header();
  }

  void read_header() {
    stream_.expires_after(std::chrono::seconds(cfg_.http_header_timeout_s));
    http::async_read_header(stream_, buf_, *parser_, beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, size_t) {
    if (ec) return on_read_error(ec);
    if (websocket::is_upgrade(parser_->get())) {
      const auto& req = parser_->get();
      if (req.target() != "/api/v1/live") return reply_error(Errc::not_found, "no WebSocket here");
      if (!origin_allowed(req[http::field::origin], req[http::field::host], cfg_.live_allowed_origins))
        return reply_error(Errc::forbidden, "origin not allowed (live.allowed_origins)");
      stream_.expires_never();
      auto ws = std::make_shared<WsSession>(stream_.release_socket(), auth_, feed_, metrics_, cfg_);
      ws->run(parser_->release());
      return;
    }
    stream_.expires_after(std::chrono::seconds(cfg_.http_body_timeout_s));
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      // curl and others wait for this before sending a large body.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, parser_->get().version());
      return http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, size_t) {
        if (wec) return self->close();
        http::async_read(self->stream_, self->buf_, *self->parser_,
                         beast::bind_front_handler(&HttpSession::on_read, self));
      });
    }
    http::async_read(stream_, buf_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::body_limit) return reply_error(Errc::body_too_large, {});
    if (ec == http::error::header_limit) return reply_error(Errc::bad_request, "headers too large");
    if (ec.category() == http::make_error_code(http::error::bad_target).category() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message)
      return reply_error(Errc::bad_request, ec.message());
    close();  // timeout, EOF or reset: nothing to answer
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) return on_read_error(ec);
    started_ = std::chrono::steady_clock::now();
    stream_.expires_never();  // the handler may wait for the store; writes get their own deadline
    auto self = shared_from_this();
    try {
      api_.handle(parser_->release(), [self](Response&& res) {
        // May run on the store thread: hop back onto this session's thread.
        auto r = std::make_shared<Response>(std::move(res));
        asio::dispatch(self->stream_.get_executor(), [self, r] { self->write(std::move(*r)); });
      });
    } catch (const std::exception& e) {
      metrics_.handler_exceptions.fetch_add(1);
      log::error("http", "handler threw", {{"what", e.what()}});
      reply_error(Errc::internal, {});
    }
  }

  void reply_error(Errc code, std::string msg) {
    metrics_.error(code);
    started_ = std::chrono::steady_clock::now();
    Response res = error_response(Error{code, std::move(msg)}, 11, false);
    write(std::move(res));
  }

  void write(Response&& res) {
    res_ = std::move(res);
    keep_alive_ = res_.keep_alive();
    res_.set(http::field::server, "patrolmapd");
    metrics_.http_response(res_.result_int());
    stream_.expires_after(std::chrono::seconds(cfg_.http_body_timeout_s));
    http::async_write(stream_, res_, beast::bind_front_handler(&HttpSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    metrics_.http_latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
    if (ec || !keep_alive_) return close();
    do_read();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const Config& cfg_;
  Api& api_;
  live::LiveFeed& feed_;
  Metrics& metrics_;
  Auth& auth_;
  beast::flat_buffer buf_{8192};
  std::optional<http::request_parser<http::string_body>> parser_;
  Response res_;
  bool keep_alive_ = false;
  bool first_ = true;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(std::vector<asio::io_context*> contexts, const Config& cfg, Api& api, live::LiveFeed& feed, Metrics& metrics,
       Auth& auth)
      : contexts_(std::move(contexts)),
        acceptor_(asio::make_strand(*contexts_.at(0))),
        cfg_(cfg),
        api_(api),
        feed_(feed),
        metrics_(metrics),
        auth_(auth) {}

  void do_accept() {
    // Each context is run by exactly one thread (App::start), so a session on
    // it needs no strand: its handlers can never run concurrently.
    asio::io_context& next = *contexts_[next_++ % contexts_.size()];
    acceptor_.async_accept(next.get_executor(), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        std::make_shared<HttpSession>(std::move(s), self->cfg_, self->api_, self->feed_, self->metrics_, self->auth_)->run();
      } else {
        log::warn("http", "accept failed", {{"error", ec.message()}});
      }
      self->do_accept();
    });
  }

  std::vector<asio::io_context*> contexts_;
  size_t next_ = 0;  // acceptor strand only
  tcp::acceptor acceptor_;
  const Config& cfg_;
  Api& api_;
  live::LiveFeed& feed_;
  Metrics& metrics_;
  Auth& auth_;
};

HttpServer::HttpServer(std::vector<asio::io_context*> contexts, const Config& cfg, Api& api, live::LiveFeed& feed,
                       Metrics& metrics, Auth& auth)
    : impl_(std::make_shared<Impl>(std::move(contexts), cfg, api, feed, metrics, auth)) {}

tcp::endpoint HttpServer::listen(const HostPort& where) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(where.host == "localhost" ? "127.0.0.1" : where.host, ec);
  if (ec) throw std::runtime_error("bad listen address '" + where.host + "'");
  tcp::endpoint ep(addr, where.port);
  auto& a = impl_->acceptor_;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where.host + ":" + std::to_string(where.port) + ": " + ec.message());
  return a.local_endpoint();
}

void HttpServer::start() { impl_->do_accept(); }

void HttpServer::stop() {
  asio::post(impl_->acceptor_.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor_.close(ec);
  });
}

}  // namespace pm
