#pragma once
// Network shells for the device channels (SPEC section 3): a TCP stream
// server and a UDP datagram server that feed bytes to a pure decoder and
// the decoded pings to the one pipeline.
//
//   DeviceServer nmea(ioc, pipeline, metrics, clock, limits, "nmea",
//                     Channel::nmea_tcp, make_nmea_stream, Channel::nmea_udp, decode_nmea_datagram);
//   auto [tcp_ep, udp_ep] = nmea.listen({"0.0.0.0", 5010});   // same port, TCP and UDP
//
// Bounds: each TCP connection holds one read buffer (a few KiB) and the
// decoder's own bounded line buffer; it reads no further while its last
// batch waits for the store (backpressure instead of queues); idle
// connections are closed after `idle_timeout_s`. UDP datagrams are capped at
// 64 KiB by the protocol; a full store queue drops the datagram's pings and
// counts them (UDP has no one to answer).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "server/core/config.hpp"
#include "server/ingest/decoded.hpp"
#include "server/pipeline/pipeline.hpp"

namespace pm {

// A decoder for one TCP connection's byte stream.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  virtual void feed(std::string_view bytes, EpochMs now, DecodedPings& out) = 0;
  virtual void flush(EpochMs now, DecodedPings& out) = 0;  // end of stream
};
using StreamDecoderFactory = std::function<std::unique_ptr<StreamDecoder>()>;
using DatagramDecoder = std::function<void(std::string_view datagram, EpochMs now, DecodedPings& out)>;

struct DeviceServerLimits {
  unsigned idle_timeout_s = 300;
  size_t max_connections = 10000;
};

class DeviceServer {
 public:
  DeviceServer(boost::asio::io_context& ioc, Pipeline& pipeline, Metrics& metrics, const Clock& clock,
               DeviceServerLimits limits, std::string name, Channel tcp_channel, StreamDecoderFactory tcp_decoder,
               Channel udp_channel, DatagramDecoder udp_decoder);
  ~DeviceServer();
  // Binds TCP and UDP on the same address and port (port 0: TCP picks, UDP
  // binds the same number). Throws std::runtime_error with a one-line reason.
  boost::asio::ip::tcp::endpoint listen(const HostPort& where);
  void start();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pm
