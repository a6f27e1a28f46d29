#pragma once
// Test clients that talk to a running patrolmapd (in-process App or daemon)
// over real sockets on 127.0.0.1. Every operation has a deadline: a server
// that stops answering fails the test, it never hangs it.
//
//   pm::test::HttpClient c("127.0.0.1", port);          // keep-alive
//   auto r = c.request("POST", "/api/v1/pings", body, pm::test::bearer(token));
//   r.status, r.body, r.header("retry-after")
//
//   pm::test::RawConnection raw(port);                   // arbitrary bytes
//   raw.send("GARBAGE\r\n\r\n");
//   auto got = raw.read_until_close(std::chrono::seconds(3));   // got.data, got.closed
//
//   pm::test::WsClient ws(port);                         // sync WebSocket
//   ws.handshake("/api/v1/live");
//   ws.send_text(R"({"op":"hello","token":"..."})");
//   auto m = ws.read(std::chrono::seconds(5));           // m.ok / m.closed, m.close_code
//
// Beast stays out of this header (it is compiled once, in http_client.cpp).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pm::test {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

// {"Authorization", "Bearer <token>"}
Headers bearer(const std::string& token);

struct HttpResponse {
  int status = 0;                              // 0: transport failure, see `error`
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  bool keep_alive = false;
  std::string error;
  // Header value by case-insensitive name; empty when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout = 15s);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;

  // One HTTP/1.1 request on the kept-alive connection (connecting first when
  // there is none, or when the previous response closed it). A JSON
  // Content-Type is sent with any non-empty body unless `headers` sets one.
  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       const Headers& headers = {});
  HttpResponse get(std::string_view target, const Headers& headers = {}) { return request("GET", target, {}, headers); }

  size_t connects() const;  // TCP connections this client has opened
  bool connected() const;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A plain TCP connection for bytes no HTTP client would send.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port, const std::string& host = "127.0.0.1");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  bool send(std::string_view bytes);
  struct Read {
    std::string data;
    bool closed = false;                 // the peer closed (EOF or reset)
    std::chrono::milliseconds elapsed{};  // from the call to EOF (or the timeout)
  };
  // Reads everything until the peer closes the connection or `timeout` passes.
  Read read_until_close(std::chrono::milliseconds timeout);
  // Reads until `data` holds a complete HTTP response head plus its
  // Content-Length body (or the peer closes / the timeout passes).
  Read read_response(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

// Sends `bytes` on a new connection and returns all the server sent back
// until it closed the connection (or `timeout`).
RawConnection::Read raw_exchange(uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout = 5s);

// A minimal synchronous WebSocket client (text frames).
class WsClient {
 public:
  // `receive_buffer` > 0: SO_RCVBUF in bytes (a slow reader's small window).
  explicit WsClient(uint16_t port, const std::string& host = "127.0.0.1", int receive_buffer = 0);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Connects and upgrades; false (with error()) on failure. `http_status` is
  // the status of a refused upgrade when the server answered one.
  // `headers` are added to the upgrade request (Origin, say).
  bool handshake(const std::string& target, std::chrono::milliseconds timeout = 5s, int* http_status = nullptr,
                 const Headers& headers = {});
  // Before handshake: offer permessage-deflate (as browsers do) with Beast's
  // client, which then compresses what it sends and inflates what it reads.
  void offer_deflate(bool client_no_context_takeover = false);
  // After handshake: the server's Sec-WebSocket-Extensions answer.
  const std::string& extensions() const;
  bool send_text(const std::string& text, std::chrono::milliseconds timeout = 5s);
  struct Message {
    bool ok = false;       // a message arrived: `text`
    std::string text;
    bool closed = false;   // the server closed the WebSocket
    int close_code = 0;    // its close code (1008 = policy violation)
    std::string close_reason;
    bool timed_out = false;
    std::string error;
  };
  Message read(std::chrono::milliseconds timeout = 5s);
  const std::string& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pm::test
