#include "server/net/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/range/iterator_range.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <array>
#include <deque>
#include <chrono>
#include <cmath>
#include <optional>
#include <rapidjson/document.h>

#include "server/core/log.hpp"
#include "server/live/feed.hpp"
#include "server/net/ws_frame.hpp"

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
//
// Beast answers the upgrade (with our Sec-WebSocket-Extensions when
// permessage-deflate is agreed); after that the session frames the socket
// itself (pm_ws): a compressed message is the session's own prefix as a
// stored deflate block followed by the body the flush thread deflated once
// for every session, which Beast's stream cannot send (it compresses each
// message itself). Control frames (pong, ping, close) wait for the data
// frame in flight and go out between whole frames.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& s, Auth& auth, live::LiveFeed& feed, Metrics& metrics, const Config& cfg)
      : sock_(s.get_executor()), hs_(std::in_place, std::move(s)), hello_timer_(sock_.get_executor()),
        stall_timer_(sock_.get_executor()), idle_timer_(sock_.get_executor()), close_timer_(sock_.get_executor()),
        auth_(auth), feed_(feed), metrics_(metrics), cfg_(cfg) {}

  // `early`: bytes the client sent after its upgrade request, already read.
  void run(Request req, std::string early) {
    metrics_.ws_clients.fetch_add(1);
    // A client must say hello with a valid token in time, or it is dropped:
    // an unauthenticated socket may not sit on the server.
    hello_timer_.expires_after(std::chrono::seconds(cfg_.http_header_timeout_s));
    hello_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->sub_) return;
      self->close_socket();
    });
    std::string offers;
    for (const auto& f : boost::make_iterator_range(req.equal_range(http::field::sec_websocket_extensions))) {
      if (!offers.empty()) offers += ", ";
      offers.append(f.value());
    }
    agreed_ = ws::negotiate_deflate(offers);
    reader_ = ws::FrameReader({kMaxMessage, agreed_.has_value()});
    if (agreed_) inflater_.emplace();
    early_ = std::move(early);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    hs_->set_option(t);
    if (agreed_)
      hs_->set_option(websocket::stream_base::decorator(
          [ext = agreed_->response](websocket::response_type& res) { res.set(http::field::sec_websocket_extensions, ext); }));
    hs_->async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }
  ~WsSession() {
    if (sub_) feed_.unsubscribe(sub_);
    metrics_.ws_clients.fetch_sub(1);
  }

 private:
  using steady = std::chrono::steady_clock;
  static constexpr size_t kMaxMessage = 64 * 1024;  // hello and viewport are far smaller

  void on_accept(beast::error_code ec) {
    if (ec || done_) return close_socket();
    sock_ = hs_->next_layer().release_socket();
    hs_.reset();
    watch_idle();
    std::string early = std::move(early_);
    consume(early);
    if (!done_) do_read();
  }

  void do_read() {
    sock_.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->close_socket();
      self->heard_ = true;
      self->consume({self->rbuf_.data(), n});
      if (!self->done_) self->do_read();
    });
  }

  // Every event in `in`; after a protocol error the rest is ignored.
  void consume(std::string_view in) {
    while (!done_ && !reader_.failed()) {
      ws::Event ev = reader_.next(in);
      switch (ev.kind) {
        case ws::Event::need_more: return;
        case ws::Event::error:
          metrics_.ws_closed_refused.fetch_add(1, std::memory_order_relaxed);
          return start_close(ev.code, ev.reason);
        case ws::Event::ping: queue_control(ws::Opcode::pong, ev.payload); break;
        case ws::Event::pong: break;
        case ws::Event::close: on_close_frame(ev.code); break;
        case ws::Event::message: on_message(ev); break;
      }
    }
  }

  void on_message(const ws::Event& ev) {
    if (closing_) return;
    std::string_view text = ev.payload;
    if (ev.compressed) {
      auto r = inflater_->inflate(ev.payload, kMaxMessage, inflated_);
      if (agreed_->client_no_context_takeover) inflater_->reset();
      if (r != ws::Inflater::Result::ok) {
        metrics_.ws_closed_refused.fetch_add(1, std::memory_order_relaxed);
        return r == ws::Inflater::Result::too_big ? start_close(ws::kCloseTooBig, "message too big")
                                          : start_close(ws::kCloseInvalidData, "bad compressed message");
      }
      text = inflated_;
    }
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
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
      sub_ = feed_.subscribe(bbox, layers, agreed_.has_value(),
                             [weak = weak_from_this(), ex = sock_.get_executor()](bool snapshot, live::LiveFeed::Body body) {
                               asio::post(ex, [weak, snapshot, body = std::move(body)]() mutable {
                                 if (auto self = weak.lock()) self->send(snapshot, std::move(body));
                               });
                             });
      watch_stall();
      return;
    }
    if (op == "viewport") {
      auto b = d.HasMember("bbox") ? parse_bbox(d["bbox"]) : std::nullopt;
      if (!b) return refuse("bad bbox: [west,south,east,north] in degrees");
      feed_.set_viewport(sub_, *b);
    } else if (op != "hello") {  // a repeated hello changes nothing
      return refuse("unknown op");
    }
  }

  // Closes with 1008 (policy) and the reason; after the frame in flight, if any.
  void refuse(const char* reason) {
    metrics_.ws_closed_refused.fetch_add(1, std::memory_order_relaxed);
    start_close(ws::kClosePolicy, reason);
  }

  // Sends a close frame after the data frame in flight (no data frame after
  // it), then waits for the client's close (or 5 s) and closes the socket.
  void start_close(uint16_t code, std::string_view reason) {
    if (closing_ || done_) return;
    closing_ = true;
    stall_timer_.cancel();
    queue_control(ws::Opcode::close, ws::close_payload(code, reason));
    close_timer_.expires_after(std::chrono::seconds(5));
    close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->close_socket();
    });
  }

  void on_close_frame(uint16_t code) {
    close_received_ = true;
    if (!closing_) {  // the client closes: echo its code, then close the socket
      closing_ = true;
      stall_timer_.cancel();
      queue_control(ws::Opcode::close, code == ws::kCloseNoStatus ? std::string() : ws::close_payload(code, {}));
    } else if (close_written_) {
      close_socket();
    }
  }

  // Queues a control frame (pong, keepalive ping, close) for the next gap
  // between data frames. At most one of each kind waits: a newer pong
  // replaces an older one, so a ping flood cannot grow the queue.
  void queue_control(ws::Opcode op, std::string_view payload) {
    if (done_ || close_queued_) return;  // nothing follows a close frame
    std::string frame = ws::server_control_frame(op, payload);
    auto same = std::find_if(control_.begin(), control_.end(), [&](const std::string& f) { return f[0] == frame[0]; });
    if (same != control_.end()) *same = std::move(frame);
    else control_.push_back(std::move(frame));
    if (op == ws::Opcode::close) close_queued_ = true;
    pump();
  }

  void send(bool snapshot, live::LiveFeed::Body body) {
    if (closing_ || done_) return;  // not ready again: nothing more is cut for it
    prefix_ = live::FanOut::frame_prefix(snapshot, ++seq_);
    body_ = std::move(body);
    const bool deflated = body_.deflated != nullptr;
    if (deflated) prefix_ = ws::stored_block(prefix_);
    head_ = ws::server_frame_head(ws::Opcode::text, deflated, prefix_.size() + payload().size());
    writing_ = true;
    write_started_ = steady::now();
    if (snapshot) metrics_.ws_snapshots.fetch_add(1, std::memory_order_relaxed);
    pump();
  }
  const std::string& payload() const { return body_.deflated ? *body_.deflated : *body_.text; }

  // One write at a time: a waiting control frame first, else the data frame.
  void pump() {
    if (write_busy_ || done_) return;
    if (!control_.empty()) {
      out_control_ = std::move(control_.front());
      control_.pop_front();
      write_busy_ = true;
      asio::async_write(sock_, asio::buffer(out_control_), [self = shared_from_this()](beast::error_code ec, size_t) {
        self->write_busy_ = false;
        if (ec) return self->close_socket();
        if (static_cast<uint8_t>(self->out_control_[0]) == (0x80 | static_cast<uint8_t>(ws::Opcode::close))) {
          self->close_written_ = true;
          // The handshake is complete, or the client broke the protocol: no need to wait.
          if (self->close_received_ || self->reader_.failed()) return self->close_socket();
        }
        self->pump();
      });
      return;
    }
    if (!writing_ || data_started_ || close_queued_) return;
    data_started_ = true;
    write_busy_ = true;
    std::array<asio::const_buffer, 3> frame{asio::buffer(head_.bytes.data(), head_.size), asio::buffer(prefix_),
                                            asio::buffer(payload())};
    asio::async_write(sock_, frame, [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->write_busy_ = self->writing_ = self->data_started_ = false;
      self->body_ = {};
      if (ec) return self->close_socket();
      self->metrics_.ws_frames.fetch_add(1, std::memory_order_relaxed);
      self->metrics_.ws_frame_bytes.fetch_add(n, std::memory_order_relaxed);
      if (!self->closing_) self->feed_.ready(self->sub_);
      self->pump();
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
        return self->close_socket();
      }
      self->watch_stall();
    });
  }

  // Every live.keepalive_s / 2: heard nothing since the last look -> a ping;
  // still nothing at the next look -> the client is gone.
  void watch_idle() {
    idle_timer_.expires_after(std::chrono::milliseconds(cfg_.live_keepalive_s * 500));
    idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->done_) return;
      if (self->heard_) {
        self->heard_ = self->pinged_ = false;
      } else if (!self->pinged_) {
        self->pinged_ = true;
        self->queue_control(ws::Opcode::ping, {});
      } else {
        return self->close_socket();
      }
      self->watch_idle();
    });
  }

  void close_socket() {
    if (done_) return;
    done_ = true;
    hello_timer_.cancel();
    stall_timer_.cancel();
    idle_timer_.cancel();
    close_timer_.cancel();
    beast::error_code ec;
    if (hs_) {
      beast::get_lowest_layer(*hs_).close();
    } else {
      sock_.shutdown(tcp::socket::shutdown_both, ec);
      sock_.close(ec);
    }
  }

  tcp::socket sock_;                                         // after the handshake
  std::optional<websocket::stream<beast::tcp_stream>> hs_;  // during the handshake
  asio::steady_timer hello_timer_, stall_timer_, idle_timer_, close_timer_;
  Auth& auth_;
  live::LiveFeed& feed_;
  Metrics& metrics_;
  const Config& cfg_;
  std::optional<ws::DeflateAgreement> agreed_;
  ws::FrameReader reader_{{}};
  std::optional<ws::Inflater> inflater_;
  std::string early_, inflated_;
  std::array<char, 8192> rbuf_;
  // Writing: at most one write on the socket; control frames wait in control_.
  std::deque<std::string> control_;
  std::string out_control_;
  ws::FrameHead head_;        // of the data frame in flight
  std::string prefix_;        // of the data frame in flight (a stored block when deflated)
  live::LiveFeed::Body body_;  // of the data frame in flight, shared with other sessions
  live::SubscriberId sub_ = 0;
  uint64_t seq_ = 0;
  steady::time_point write_started_;
  bool writing_ = false;       // a data frame is waiting or in flight
  bool data_started_ = false;  // ... and in flight
  bool write_busy_ = false;    // a write is on the socket
  bool closing_ = false, close_queued_ = false, close_written_ = false, close_received_ = false, done_ = false;
  bool heard_ = false, pinged_ = false;
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
      std::string early = beast::buffers_to_string(buf_.data());
      auto ws = std::make_shared<WsSession>(stream_.release_socket(), auth_, feed_, metrics_, cfg_);
      ws->run(parser_->release(), std::move(early));
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
