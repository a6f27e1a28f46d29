#pragma once
// The network shell: accepts TCP connections and runs one HTTP/1.1 session
// per connection (Beast's advanced-server shape). Sessions
// translate bytes to Api::handle calls and nothing more.
//
// Threads: one io_context per I/O thread. The acceptor lives on the first;
// accepted connections are spread round-robin over all of them, so the
// threads share no reactor and no scheduler lock (a single io_context run by
// two threads measured slower than one thread). A context is run by exactly
// one thread, so a session's handlers never run concurrently without a strand.
//
// Bounds: request header deadline, body deadline and limit, idle keep-alive
// timeout; requests on one connection are handled one at a time, so a
// pipelining client can queue at most one read buffer (8 KiB + body limit).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <vector>

#include "server/api/api.hpp"

namespace pm::live {
class LiveFeed;
}

namespace pm {

class HttpServer {
 public:
  // `contexts` is not empty; the first one also runs the acceptor.
  HttpServer(std::vector<boost::asio::io_context*> contexts, const Config& cfg, Api& api, live::LiveFeed& feed,
             Metrics& metrics, Auth& auth);
  // Binds and listens; throws std::runtime_error with a one-line reason.
  boost::asio::ip::tcp::endpoint listen(const HostPort& where);
  void start();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pm
