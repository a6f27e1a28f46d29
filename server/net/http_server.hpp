#pragma once
// The network shell: accepts TCP connections and runs one HTTP/1.1 session
// per connection on its own strand (Beast's advanced-server shape). Sessions
// translate bytes to Api::handle calls and nothing more.
//
// Bounds: request header deadline, body deadline and limit, idle keep-alive
// timeout; requests on one connection are handled one at a time, so a
// pipelining client can queue at most one read buffer (8 KiB + body limit).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "server/api/api.hpp"

namespace pm {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, const Config& cfg, Api& api, Metrics& metrics, Auth& auth,
             LiveState& live);
  // Binds and listens; throws std::runtime_error with a one-line reason.
  boost::asio::ip::tcp::endpoint listen(const HostPort& where);
  void start();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pm
