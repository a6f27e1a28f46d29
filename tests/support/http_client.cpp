#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>

namespace pm::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Runs the queued asynchronous operations for at most `timeout`. On timeout
// the socket is closed so every pending handler completes (aborted) before
// this returns: nothing outlives the call. Returns false on timeout.
bool run_with_deadline(asio::io_context& ioc, tcp::socket& sock, std::chrono::milliseconds timeout) {
  ioc.restart();
  ioc.run_for(timeout);
  if (ioc.stopped()) return true;
  beast::error_code ec;
  sock.close(ec);
  ioc.restart();
  ioc.run();
  return false;
}

}  // namespace

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::string HttpResponse::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

bool HttpResponse::has_header(std::string_view name) const { return headers.count(lower(name)) != 0; }

// ---------------------------------------------------------------- HttpClient

struct HttpClient::Impl {
  Impl(std::string h, uint16_t p, std::chrono::milliseconds t) : host(std::move(h)), port(p), timeout(t), sock(ioc) {}

  std::string host;
  uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  tcp::socket sock;
  beast::flat_buffer buf;
  bool connected = false;
  size_t connects = 0;

  void close() {
    beast::error_code ec;
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
    buf.clear();
    connected = false;
  }

  std::optional<std::string> connect() {
    close();
    beast::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return "bad address " + host;
    beast::error_code result = asio::error::would_block;
    sock = tcp::socket(ioc);
    sock.async_connect(tcp::endpoint(addr, port), [&](beast::error_code e) { result = e; });
    if (!run_with_deadline(ioc, sock, timeout)) return "connect timed out";
    if (result) return "connect: " + result.message();
    sock.set_option(tcp::no_delay(true), ec);
    connected = true;
    ++connects;
    return std::nullopt;
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(host), port, timeout)) {}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;

size_t HttpClient::connects() const { return impl_->connects; }
bool HttpClient::connected() const { return impl_->connected; }
void HttpClient::close() { impl_->close(); }

HttpResponse HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                                 const Headers& headers) {
  auto& i = *impl_;
  HttpResponse out;
  if (!i.connected) {
    if (auto e = i.connect()) {
      out.error = *e;
      return out;
    }
  }
  http::request<http::string_body> req;
  req.version(11);
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) req.method_string(method);
  else req.method(verb);
  req.target(target);
  req.set(http::field::host, i.host + ":" + std::to_string(i.port));
  req.set(http::field::user_agent, "patrolmap-integration-tests");
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    if (lower(k) == "content-type") has_type = true;
  }
  if (!body.empty() && !has_type) req.set(http::field::content_type, "application/json");
  req.body() = std::string(body);
  req.keep_alive(true);
  req.prepare_payload();

  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::error_code wec = asio::error::would_block, rec = asio::error::would_block;
  http::async_write(i.sock, req, [&](beast::error_code e, size_t) {
    wec = e;
    if (e) return;
    http::async_read(i.sock, i.buf, parser, [&](beast::error_code e2, size_t) { rec = e2; });
  });
  bool in_time = run_with_deadline(i.ioc, i.sock, i.timeout);
  if (!in_time || wec || rec) {
    out.error = !in_time ? "timed out" : wec ? "write: " + wec.message() : "read: " + rec.message();
    i.close();
    return out;
  }
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& f : res) out.headers[lower(f.name_string())] = std::string(f.value());
  out.keep_alive = res.keep_alive();
  if (!out.keep_alive) i.close();
  return out;
}

// ------------------------------------------------------------- RawConnection

RawConnection::RawConnection(uint16_t port, const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = fd;
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(std::string_view bytes) {
  if (fd_ < 0) return false;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

namespace {

// Complete when the head is in and Content-Length bytes of body follow it.
bool response_complete(const std::string& data) {
  auto head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  std::string head = lower(std::string_view(data).substr(0, head_end));
  size_t length = 0;
  if (auto p = head.find("\r\ncontent-length:"); p != std::string::npos)
    length = std::strtoul(head.c_str() + p + 17, nullptr, 10);
  return data.size() >= head_end + 4 + length;
}

RawConnection::Read read_loop(int fd, std::chrono::milliseconds timeout, bool stop_at_response) {
  RawConnection::Read r;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  char buf[8192];
  while (fd >= 0) {
    if (stop_at_response && response_complete(r.data)) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) break;  // timeout
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r.closed = true;  // EOF or reset
      break;
    }
    r.data.append(buf, static_cast<size_t>(n));
  }
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return r;
}

}  // namespace

RawConnection::Read RawConnection::read_until_close(std::chrono::milliseconds timeout) {
  return read_loop(fd_, timeout, false);
}

RawConnection::Read RawConnection::read_response(std::chrono::milliseconds timeout) {
  return read_loop(fd_, timeout, true);
}

RawConnection::Read raw_exchange(uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout) {
  RawConnection c(port);
  if (!c.ok() || !c.send(bytes)) return {};
  return c.read_until_close(timeout);
}

// ------------------------------------------------------------------ WsClient

struct WsClient::Impl {
  Impl(uint16_t p, std::string h, int rcvbuf) : port(p), host(std::move(h)), receive_buffer(rcvbuf), ws(ioc) {}
  uint16_t port;
  std::string host;
  int receive_buffer;
  asio::io_context ioc;
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buf;
  std::string error, extensions;
};

WsClient::WsClient(uint16_t port, const std::string& host, int receive_buffer)
    : impl_(std::make_unique<Impl>(port, host, receive_buffer)) {}
WsClient::~WsClient() {
  beast::error_code ec;
  impl_->ws.next_layer().close(ec);
}
const std::string& WsClient::error() const { return impl_->error; }
const std::string& WsClient::extensions() const { return impl_->extensions; }

void WsClient::offer_deflate(bool client_no_context_takeover) {
  websocket::permessage_deflate pmd;
  pmd.client_enable = true;
  pmd.client_no_context_takeover = client_no_context_takeover;
  impl_->ws.set_option(pmd);
}

bool WsClient::handshake(const std::string& target, std::chrono::milliseconds timeout, int* http_status,
                         const Headers& headers) {
  auto& i = *impl_;
  beast::error_code ec;
  auto addr = asio::ip::make_address(i.host, ec);
  if (ec) {
    i.error = "bad address";
    return false;
  }
  if (i.receive_buffer > 0) {  // before connect, so the window is small from the start
    i.ws.next_layer().open(addr.is_v4() ? tcp::v4() : tcp::v6(), ec);
    if (!ec) i.ws.next_layer().set_option(asio::socket_base::receive_buffer_size(i.receive_buffer), ec);
    if (ec) {
      i.error = "socket: " + ec.message();
      return false;
    }
  }
  i.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  beast::error_code cec = asio::error::would_block, hec = asio::error::would_block;
  websocket::response_type res;
  i.ws.next_layer().async_connect(tcp::endpoint(addr, i.port), [&](beast::error_code e) {
    cec = e;
    if (e) return;
    i.ws.async_handshake(res, i.host + ":" + std::to_string(i.port), target, [&](beast::error_code e2) { hec = e2; });
  });
  bool in_time = run_with_deadline(i.ioc, i.ws.next_layer(), timeout);
  if (http_status) *http_status = static_cast<int>(res.result_int());
  i.extensions = std::string(res[http::field::sec_websocket_extensions]);
  if (!in_time) i.error = "handshake timed out";
  else if (cec) i.error = "connect: " + cec.message();
  else if (hec) i.error = "handshake: " + hec.message();
  else return true;
  return false;
}

bool WsClient::send_text(const std::string& text, std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  beast::error_code wec = asio::error::would_block;
  i.ws.text(true);
  i.ws.async_write(asio::buffer(text), [&](beast::error_code e, size_t) { wec = e; });
  bool in_time = run_with_deadline(i.ioc, i.ws.next_layer(), timeout);
  if (!in_time) i.error = "write timed out";
  else if (wec) i.error = "write: " + wec.message();
  else return true;
  return false;
}

WsClient::Message WsClient::read(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  Message m;
  beast::error_code rec = asio::error::would_block;
  i.buf.clear();
  i.ws.async_read(i.buf, [&](beast::error_code e, size_t) { rec = e; });
  if (!run_with_deadline(i.ioc, i.ws.next_layer(), timeout)) {
    m.timed_out = true;
    m.error = "read timed out";
    return m;
  }
  if (rec == websocket::error::closed) {
    m.closed = true;
    m.close_code = static_cast<int>(i.ws.reason().code);
    m.close_reason = std::string(i.ws.reason().reason.c_str());
    return m;
  }
  if (rec) {
    m.error = rec.message();
    m.closed = rec == asio::error::eof || rec == asio::error::connection_reset;
    return m;
  }
  m.ok = true;
  m.text = beast::buffers_to_string(i.buf.data());
  return m;
}

}  // namespace pm::test
