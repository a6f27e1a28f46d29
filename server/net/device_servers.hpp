#pragma once
// Network shells for the device channels (SPEC section 3): a TCP stream
// server and a UDP datagram server that feed bytes to a pure decoder and
// the decoded pings to the one pipeline.
//
//   DeviceServer nmea(ioc, pipeline, metrics, clock, limits, "nmea",
//                     Channel::nmea_tcp, make_nmea_stream,
//                     [](std::string_view d, EpochMs, DatagramBatches& out) {
//                       decode_nmea_datagram(d, out[Channel::nmea_udp]); });
//   auto tcp_ep = nmea.listen({"0.0.0.0", 5010});   // same port, TCP and UDP
//
// Bounds: each TCP connection holds one read buffer (a few KiB) and the
// decoder's own bounded line buffer; it reads no further while its last
// batch waits for the store (backpressure instead of queues); idle
// connections are closed after `idle_timeout_s`.
//
// UDP: each wake-up drains the socket with recvmmsg (64 datagrams a call into
// buffers allocated once), decodes every datagram into one batch per channel
// and submits a batch every kUdpBatchPings pings (and when the socket is
// empty), in time order, so the store sees a few large jobs instead of one
// per datagram.
// After kUdpWakeDatagrams datagrams it yields to the other handlers of the
// thread (HTTP shares it) and continues. Memory is bounded by
// `udp_max_in_flight_pings`: above it the server stops reading until the
// store catches up, and the kernel receive buffer (8 MiB, or twice
// net.core.rmem_max if that is smaller) absorbs the burst; what overflows it
// is dropped by the kernel and counted (SO_RXQ_OVFL ->
// patrolmap_udp_receive_drops_total). Stopping rather than reading and
// dropping keeps the CPU for the store writer on a small machine. A batch
// that meets a full store queue is dropped and counted
// (patrolmap_udp_pings_dropped_total): UDP has no one to answer.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <array>
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

// Where a datagram decoder puts what it decodes: the batch of the channel the
// datagram belongs to (one port may carry several: the NMEA port takes NMEA
// and JSON datagrams). A datagram counts under the last channel it asked for.
struct DatagramBatches {
  std::array<DecodedPings, kChannelCount> by_channel;
  Channel last = Channel::kCount;
  DecodedPings& operator[](Channel c) {
    last = c;
    return by_channel[static_cast<size_t>(c)];
  }
};
// Called on the UDP socket's strand only, one datagram at a time.
using DatagramDecoder = std::function<void(std::string_view datagram, EpochMs now, DatagramBatches& out)>;

struct DeviceServerLimits {
  unsigned idle_timeout_s = 300;
  size_t max_connections = 10000;
  // UDP pings submitted and not yet committed; above it the socket is not read.
  size_t udp_max_in_flight_pings = 131072;
};

class DeviceServer {
 public:
  static constexpr size_t kUdpRecvBatch = 64;         // datagrams per recvmmsg call
  static constexpr size_t kUdpBatchPings = 4096;      // submit a batch once it holds this many pings
  static constexpr size_t kUdpWakeDatagrams = 1024;   // then let other handlers run

  DeviceServer(boost::asio::io_context& ioc, Pipeline& pipeline, Metrics& metrics, const Clock& clock,
               DeviceServerLimits limits, std::string name, Channel tcp_channel, StreamDecoderFactory tcp_decoder,
               DatagramDecoder udp_decoder);
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
