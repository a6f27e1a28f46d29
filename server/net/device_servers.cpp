#include "server/net/device_servers.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <array>
#include <atomic>
#include <chrono>

#include "server/core/log.hpp"

namespace pm {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

namespace {

class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(tcp::socket&& s, Pipeline& pipeline, const Clock& clock, Channel channel,
                std::unique_ptr<StreamDecoder> decoder, unsigned idle_s, std::atomic<size_t>& live)
      : stream_(std::move(s)), pipeline_(pipeline), clock_(clock), channel_(channel), decoder_(std::move(decoder)),
        idle_s_(idle_s), live_(live) {}
  ~StreamSession() { live_.fetch_sub(1); }

  void run() { asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); }); }

 private:
  void do_read() {
    stream_.expires_after(std::chrono::seconds(idle_s_));
    stream_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(boost::system::error_code ec, size_t n) {
    EpochMs now = clock_.now_ms();
    if (!ec) {
      decoder_->feed(std::string_view(buf_.data(), n), now, out_);
    } else {
      decoder_->flush(now, out_);  // EOF, reset or idle timeout: emit what is pending
      closing_ = true;
    }
    if (out_.empty()) {
      if (closing_) return close();
      return do_read();
    }
    // One batch in flight per connection: read again only once it is stored.
    auto self = shared_from_this();
    pipeline_.submit(out_.pings, out_.positions, std::move(out_.rejections), channel_, [self](IngestOutcome&&) {
      asio::post(self->stream_.get_executor(), [self] {
        self->out_.clear();
        if (self->closing_) return self->close();
        self->do_read();
      });
    });
  }

  void close() {
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  boost::beast::tcp_stream stream_;
  Pipeline& pipeline_;
  const Clock& clock_;
  Channel channel_;
  std::unique_ptr<StreamDecoder> decoder_;
  unsigned idle_s_;
  std::atomic<size_t>& live_;
  std::array<char, 4096> buf_{};
  DecodedPings out_;
  bool closing_ = false;
};

}  // namespace

struct DeviceServer::Impl : std::enable_shared_from_this<DeviceServer::Impl> {
  Impl(asio::io_context& ioc, Pipeline& p, Metrics& m, const Clock& c, DeviceServerLimits l, std::string n, Channel tc,
       StreamDecoderFactory td, Channel uc, DatagramDecoder ud)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), socket_(asio::make_strand(ioc)), pipeline_(p), metrics_(m),
        clock_(c), limits_(l), name_(std::move(n)), tcp_channel_(tc), tcp_decoder_(std::move(td)), udp_channel_(uc),
        udp_decoder_(std::move(ud)) {}

  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (self->connections_.load() >= self->limits_.max_connections) {
          s.close(ec);  // over the bound: refuse rather than grow
        } else {
          self->connections_.fetch_add(1);
          std::make_shared<StreamSession>(std::move(s), self->pipeline_, self->clock_, self->tcp_channel_,
                                          self->tcp_decoder_(), self->limits_.idle_timeout_s, self->connections_)
              ->run();
        }
      }
      self->do_accept();
    });
  }

  void do_receive() {
    socket_.async_receive_from(asio::buffer(dgram_), sender_, [self = shared_from_this()](boost::system::error_code ec, size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) self->on_datagram(n);
      self->do_receive();
    });
  }

  void on_datagram(size_t n) {
    // Datagrams are independent: decode, submit, forget. The pipeline counts
    // rejections and a full store queue (nobody to answer over UDP).
    udp_out_.clear();
    udp_decoder_(std::string_view(dgram_.data(), n), clock_.now_ms(), udp_out_);
    if (udp_out_.empty()) return;
    pipeline_.submit(udp_out_.pings, udp_out_.positions, std::move(udp_out_.rejections), udp_channel_,
                     [](IngestOutcome&&) {});
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  udp::socket socket_;
  Pipeline& pipeline_;
  Metrics& metrics_;
  const Clock& clock_;
  DeviceServerLimits limits_;
  std::string name_;
  Channel tcp_channel_;
  StreamDecoderFactory tcp_decoder_;
  Channel udp_channel_;
  DatagramDecoder udp_decoder_;
  std::atomic<size_t> connections_{0};
  std::array<char, 65536> dgram_{};
  udp::endpoint sender_;
  DecodedPings udp_out_;
};

DeviceServer::DeviceServer(asio::io_context& ioc, Pipeline& pipeline, Metrics& metrics, const Clock& clock,
                           DeviceServerLimits limits, std::string name, Channel tcp_channel,
                           StreamDecoderFactory tcp_decoder, Channel udp_channel, DatagramDecoder udp_decoder)
    : impl_(std::make_shared<Impl>(ioc, pipeline, metrics, clock, limits, std::move(name), tcp_channel,
                                   std::move(tcp_decoder), udp_channel, std::move(udp_decoder))) {}

DeviceServer::~DeviceServer() = default;

tcp::endpoint DeviceServer::listen(const HostPort& where) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(where.host == "localhost" ? "127.0.0.1" : where.host, ec);
  if (ec) throw std::runtime_error("bad " + impl_->name_ + " listen address '" + where.host + "'");
  auto& a = impl_->acceptor_;
  tcp::endpoint ep(addr, where.port);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + where.host + ":" + std::to_string(where.port) + " (" + impl_->name_ +
                             " tcp): " + ec.message());
  auto bound = a.local_endpoint();
  udp::endpoint uep(addr, bound.port());
  auto& s = impl_->socket_;
  s.open(uep.protocol(), ec);
  if (!ec) s.set_option(asio::socket_base::receive_buffer_size(8 << 20), ec);
  ec = {};  // a smaller kernel cap on the buffer is not fatal
  s.bind(uep, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + where.host + ":" + std::to_string(bound.port()) + " (" +
                             impl_->name_ + " udp): " + ec.message());
  return bound;
}

void DeviceServer::start() {
  impl_->do_accept();
  asio::post(impl_->socket_.get_executor(), [impl = impl_] { impl->do_receive(); });
}

void DeviceServer::stop() {
  asio::post(impl_->acceptor_.get_executor(), [impl = impl_] {
    boost::system::error_code ec;
    impl->acceptor_.close(ec);
  });
  asio::post(impl_->socket_.get_executor(), [impl = impl_] {
    boost::system::error_code ec;
    impl->socket_.close(ec);
  });
}

}  // namespace pm
