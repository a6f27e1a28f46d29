#include "server/net/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <rapidjson/document.h>

#include "server/core/log.hpp"

namespace pm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// A live-map WebSocket session. Deltas, viewport and coalescing (pm_live's
// FanOut) are not wired yet: this session authenticates the hello and answers
// with the snapshot (units, open incidents, active alerts).
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& s, Auth& auth, const Api& api, Metrics& metrics, unsigned hello_timeout_s)
      : ws_(std::move(s)), hello_timer_(ws_.get_executor()), auth_(auth), api_(api), metrics_(metrics),
        hello_timeout_s_(hello_timeout_s) {}

  void run(Request req) {
    metrics_.ws_clients.fetch_add(1);
    // A client must say hello with a valid token in time, or it is dropped:
    // an unauthenticated socket may not sit on the server.
    hello_timer_.expires_after(std::chrono::seconds(hello_timeout_s_));
    hello_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->authed_) return;
      beast::get_lowest_layer(self->ws_).close();
    });
    ws_.read_message_max(64 * 1024);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }
  ~WsSession() { metrics_.ws_clients.fetch_sub(1); }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return;
    do_read();
  }
  void do_read() { ws_.async_read(buf_, beast::bind_front_handler(&WsSession::on_read, shared_from_this())); }
  void on_read(beast::error_code ec, size_t) {
    if (ec) return;
    std::string msg = beast::buffers_to_string(buf_.data());
    buf_.consume(buf_.size());
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(msg.data(), msg.size());
    std::string op = !d.HasParseError() && d.IsObject() && d.HasMember("op") && d["op"].IsString() ? d["op"].GetString() : "";
    if (!authed_) {
      std::optional<Principal> who;
      if (op == "hello" && d.HasMember("token") && d["token"].IsString()) who = auth_.authenticate_token(d["token"].GetString());
      if (!who || !allows(who->role, kStaff)) {
        ws_.async_close(websocket::close_reason(websocket::close_code::policy_error, "unauthorized"),
                        [self = shared_from_this()](beast::error_code) {});
        return;
      }
      authed_ = true;
      hello_timer_.cancel();
      out_ = api_.live_snapshot(1);
      ws_.text(true);
      ws_.async_write(asio::buffer(out_), [self = shared_from_this()](beast::error_code e, size_t) {
        if (!e) self->do_read();
      });
      return;
    }
    do_read();  // viewport and other ops arrive with the live-map feed
  }
  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer hello_timer_;
  Auth& auth_;
  const Api& api_;
  Metrics& metrics_;
  beast::flat_buffer buf_;
  std::string out_;
  bool authed_ = false;
  unsigned hello_timeout_s_;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, const Config& cfg, Api& api, Metrics& metrics, Auth& auth)
      : stream_(std::move(socket)), cfg_(cfg), api_(api), metrics_(metrics), auth_(auth) {
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
      if (parser_->get().target() != "/api/v1/live") return reply_error(Errc::not_found, "no WebSocket here");
      stream_.expires_never();
      auto ws = std::make_shared<WsSession>(stream_.release_socket(), auth_, api_, metrics_, cfg_.http_header_timeout_s);
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
  Impl(std::vector<asio::io_context*> contexts, const Config& cfg, Api& api, Metrics& metrics, Auth& auth)
      : contexts_(std::move(contexts)),
        acceptor_(asio::make_strand(*contexts_.at(0))),
        cfg_(cfg),
        api_(api),
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
        std::make_shared<HttpSession>(std::move(s), self->cfg_, self->api_, self->metrics_, self->auth_)->run();
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
  Metrics& metrics_;
  Auth& auth_;
};

HttpServer::HttpServer(std::vector<asio::io_context*> contexts, const Config& cfg, Api& api, Metrics& metrics,
                       Auth& auth)
    : impl_(std::make_shared<Impl>(std::move(contexts), cfg, api, metrics, auth)) {}

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
