#include "server/net/device_servers.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

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
       StreamDecoderFactory td, DatagramDecoder ud)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), socket_(asio::make_strand(ioc)), pipeline_(p), metrics_(m),
        clock_(c), limits_(l), name_(std::move(n)), tcp_channel_(tc), tcp_decoder_(std::move(td)),
        udp_decoder_(std::move(ud)), rx_(std::make_unique_for_overwrite<char[]>(kUdpRecvBatch * kMaxDatagram)) {
    // Only the pages a datagram is written to become resident: small
    // datagrams cost a page per slot, not 64 KiB.
    for (size_t i = 0; i < kUdpRecvBatch; ++i) {
      iov_[i] = {rx_.get() + i * kMaxDatagram, kMaxDatagram};
      msgs_[i] = {};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }

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

  // ------------------------------------------------------------------ UDP
  // Everything below runs on socket_'s strand. One wait is outstanding at a
  // time; it is issued only once recvmmsg said "empty" (EAGAIN), so nothing
  // is left unread behind an edge-triggered readiness.

  void do_wait() {
    socket_.async_wait(udp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted || !self->socket_.is_open()) return;
      self->drain();
    });
  }

  void drain() {
    if (!socket_.is_open()) return;
    const int fd = socket_.native_handle();
    size_t read = 0;
    for (;;) {
      if (in_flight_pings_ >= limits_.udp_max_in_flight_pings) {
        submit_batches();
        paused_ = true;  // on_batch_done resumes; meanwhile the kernel buffer holds what arrives
        return;
      }
      for (size_t i = 0; i < kUdpRecvBatch; ++i) {
        msgs_[i].msg_hdr.msg_control = ctrl_[i].bytes;
        msgs_[i].msg_hdr.msg_controllen = sizeof ctrl_[i].bytes;
        msgs_[i].msg_hdr.msg_flags = 0;
      }
      int n = ::recvmmsg(fd, msgs_.data(), kUdpRecvBatch, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          log::warn("net", "udp receive failed", {{"server", name_}, {"error", std::strerror(errno)}});
        break;
      }
      if (n == 0) break;
      const EpochMs now = clock_.now_ms();
      for (size_t i = 0; i < static_cast<size_t>(n); ++i) on_datagram(msgs_[i], i, now);
      read += static_cast<size_t>(n);
      if (pending_pings() >= kUdpBatchPings) submit_batches();
      if (read >= kUdpWakeDatagrams) {
        // Fairness: HTTP shares this thread. Continue after what is queued.
        submit_batches();
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->drain(); });
        return;
      }
    }
    submit_batches();
    do_wait();
  }

  void on_datagram(const mmsghdr& m, size_t slot, EpochMs now) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&m.msg_hdr), c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        uint32_t drops = 0;
        std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
        metrics_.udp_receive_drops.fetch_add(drops - kernel_drops_, std::memory_order_relaxed);  // mod 2^32
        kernel_drops_ = drops;
      }
    }
    batches_.last = Channel::kCount;
    udp_decoder_(std::string_view(rx_.get() + slot * kMaxDatagram, m.msg_len), now, batches_);
    if (batches_.last != Channel::kCount) metrics_.udp_datagrams(batches_.last, 1);
  }

  size_t pending_pings() const {
    size_t n = 0;
    for (const auto& b : batches_.by_channel) n += b.pings.size() + b.rejections.size();
    return n;
  }

  // One pipeline job per channel with anything decoded. Rejections alone
  // are submitted too: the pipeline counts them.
  void submit_batches() {
    for (size_t c = 0; c < kChannelCount; ++c) {
      DecodedPings& b = batches_.by_channel[c];
      if (b.empty()) continue;
      const size_t items = b.pings.size() + b.rejections.size();
      sort_by_time(b);
      in_flight_pings_ += b.pings.size();
      pipeline_.submit(b.pings, b.positions, std::move(b.rejections), static_cast<Channel>(c),
                       [self = shared_from_this(), items, pings = b.pings.size()](IngestOutcome&& o) {
                         // Runs on the store writer (or inline): account, then back to the strand.
                         if (o.error && items > o.rejected.size())
                           self->metrics_.udp_pings_dropped.fetch_add(items - o.rejected.size(),
                                                                       std::memory_order_relaxed);
                         asio::post(self->socket_.get_executor(), [self, pings] { self->on_batch_done(pings); });
                       });
      b.clear();
    }
  }

  // Time order per batch: the store writer sorts each group's keys into
  // blocks (server/store/fix_keys.hpp), which is cheap on runs already in
  // order. (It paid +6-8 % when the duplicate rule was a (t, device) index; in
  // session 8 runs with and without it were within the run-to-run noise.)
  // Sorting here costs the receive thread ~30 ns a ping, with buffers reused.
  // Per device the order is the time order anyway.
  void sort_by_time(DecodedPings& b) {
    const size_t n = b.pings.size();
    if (n < 2) return;
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; ++i) sorted = b.pings[i - 1].t <= b.pings[i].t;
    if (sorted) return;
    order_.resize(n);
    for (size_t i = 0; i < n; ++i) order_[i] = {b.pings[i].t, static_cast<uint32_t>(i)};
    std::sort(order_.begin(), order_.end());  // ties keep input order (index is the second key)
    sorted_pings_.resize(n);
    sorted_positions_.resize(n);
    for (size_t k = 0; k < n; ++k) {
      sorted_pings_[k] = b.pings[order_[k].second];
      sorted_positions_[k] = b.positions[order_[k].second];
    }
    b.pings.swap(sorted_pings_);
    b.positions.swap(sorted_positions_);
  }

  void on_batch_done(size_t pings) {
    in_flight_pings_ -= pings;
    if (paused_ && in_flight_pings_ < limits_.udp_max_in_flight_pings) {
      paused_ = false;
      drain();
    }
  }

  static constexpr size_t kMaxDatagram = 65536;  // IPv4/IPv6 UDP payloads are below this

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
  DatagramDecoder udp_decoder_;
  std::atomic<size_t> connections_{0};
  // UDP receive state, preallocated once (strand only).
  std::unique_ptr<char[]> rx_;
  std::array<iovec, kUdpRecvBatch> iov_{};
  std::array<mmsghdr, kUdpRecvBatch> msgs_{};
  struct alignas(cmsghdr) Control {
    char bytes[CMSG_SPACE(sizeof(uint32_t))];  // room for the SO_RXQ_OVFL drop count
  };
  std::array<Control, kUdpRecvBatch> ctrl_{};
  DatagramBatches batches_;
  std::vector<std::pair<EpochMs, uint32_t>> order_;  // sort_by_time scratch, reused
  std::vector<RawPing> sorted_pings_;
  std::vector<uint32_t> sorted_positions_;
  size_t in_flight_pings_ = 0;
  bool paused_ = false;
  uint32_t kernel_drops_ = 0;  // last SO_RXQ_OVFL value seen
};

DeviceServer::DeviceServer(asio::io_context& ioc, Pipeline& pipeline, Metrics& metrics, const Clock& clock,
                           DeviceServerLimits limits, std::string name, Channel tcp_channel,
                           StreamDecoderFactory tcp_decoder, DatagramDecoder udp_decoder)
    : impl_(std::make_shared<Impl>(ioc, pipeline, metrics, clock, limits, std::move(name), tcp_channel,
                                   std::move(tcp_decoder), std::move(udp_decoder))) {}

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
  if (!ec) {
    // Neither option is fatal: the kernel may cap the buffer (at twice
    // net.core.rmem_max) and only Linux >= 2.6.33 reports drops (SO_RXQ_OVFL).
    boost::system::error_code ignored;
    s.set_option(asio::socket_base::receive_buffer_size(8 << 20), ignored);
    int one = 1;
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    s.bind(uep, ec);
  }
  if (ec)
    throw std::runtime_error("cannot listen on " + where.host + ":" + std::to_string(bound.port()) + " (" +
                             impl_->name_ + " udp): " + ec.message());
  return bound;
}

void DeviceServer::start() {
  impl_->do_accept();
  asio::post(impl_->socket_.get_executor(), [impl = impl_] { impl->drain(); });
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
