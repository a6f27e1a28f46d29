#pragma once
// Blocking HTTP/1.1 client pieces the load drivers share (moved out of recommend_load):
// resolve a host, connect with TCP_NODELAY, frame one response (Content-Length only),
// and a keep-alive client for setup phases and single timed requests.
//
//   BlockingClient c(resolve("127.0.0.1", port));
//   auto r = c.request("GET", "/api/v1/areas", token, "", "127.0.0.1:8080");  // r.status, r.body
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include "tools/load/load_util.hpp"

namespace pm::load {

inline sockaddr_in resolve(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) die("cannot resolve " + host);
  sockaddr_in a = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
  freeaddrinfo(res);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

inline int connect_to(const sockaddr_in& addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno), 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    die(std::string("connect: ") + std::strerror(errno), 1);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i])))
      return false;
  return true;
}

// One response in `buf` (from the start): complete when the header and
// Content-Length bytes of body are there. Chunked answers are not expected
// from patrolmapd and are reported as an error.
struct Framed {
  enum State { incomplete, complete, bad } state = incomplete;
  int status = 0;
  size_t header_len = 0;  // including the blank line
  size_t body_len = 0;
  bool close = false;
  std::string why;
};

inline Framed frame_response(std::string_view buf) {
  Framed f;
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > 64 * 1024) {
      f.state = Framed::bad;
      f.why = "header over 64 KB";
    }
    return f;
  }
  f.header_len = end + 4;
  std::string_view head = buf.substr(0, end);
  // Status line: HTTP/1.1 200 OK
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
    f.state = Framed::bad;
    f.why = "not an HTTP response";
    return f;
  }
  size_t sp = head.find(' ');
  if (sp == std::string_view::npos || sp + 4 > head.size()) {
    f.state = Framed::bad;
    f.why = "bad status line";
    return f;
  }
  std::from_chars(head.data() + sp + 1, head.data() + sp + 4, f.status);
  bool have_length = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos) {
    size_t next = head.find("\r\n", pos + 2);
    std::string_view line = head.substr(pos + 2, next == std::string_view::npos ? head.npos : next - pos - 2);
    if (iequals_prefix(line, "content-length:")) {
      std::string_view v = line.substr(15);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), f.body_len);
      if (ec != std::errc()) {
        f.state = Framed::bad;
        f.why = "bad Content-Length";
        return f;
      }
      have_length = true;
    } else if (iequals_prefix(line, "transfer-encoding:")) {
      f.state = Framed::bad;
      f.why = "chunked answers are not supported by this driver";
      return f;
    } else if (iequals_prefix(line, "connection:") && line.find("close") != std::string_view::npos) {
      f.close = true;
    }
    pos = next;
  }
  if (!have_length) {
    // Only answers without a body may omit it here (1xx, 204, 304).
    if (!(f.status == 204 || f.status == 304 || f.status / 100 == 1)) {
      f.state = Framed::bad;
      f.why = "answer without Content-Length";
      return f;
    }
  }
  if (buf.size() >= f.header_len + f.body_len) f.state = Framed::complete;
  return f;
}

// A blocking keep-alive client for the setup phases.
class BlockingClient {
 public:
  BlockingClient(const sockaddr_in& addr) : addr_(addr) {}
  ~BlockingClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  struct Reply {
    int status = 0;
    std::string body;
  };

  Reply request(const std::string& method, const std::string& target, const std::string& token,
                const std::string& body, const std::string& host) {
    if (fd_ < 0) fd_ = connect_to(addr_);
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + token + "\r\n";
    if (!body.empty() || method == "POST")
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n";
    req += body;
    size_t off = 0;
    while (off < req.size()) {
      ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) die(std::string("send: ") + std::strerror(errno), 1);
      off += static_cast<size_t>(n);
    }
    std::string buf;
    char tmp[65536];
    for (;;) {
      Framed f = frame_response(buf);
      if (f.state == Framed::bad) die("bad answer to " + method + " " + target + ": " + f.why, 1);
      if (f.state == Framed::complete) {
        Reply r{f.status, buf.substr(f.header_len, f.body_len)};
        if (f.close) {
          ::close(fd_);
          fd_ = -1;
        }
        return r;
      }
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) die("connection closed while waiting for the answer to " + method + " " + target, 1);
      buf.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  sockaddr_in addr_;
  int fd_ = -1;
};

inline std::string snippet(const std::string& s) { return s.size() > 300 ? s.substr(0, 300) + "..." : s; }

}  // namespace pm::load
