// UDP ingest in bulk: thousands of NMEA and JSON datagrams, several fixes
// each, sent in sendmmsg bursts to the in-process server's NMEA port, then
// every fix checked in the store (read independently through SQLite) and in
// the metrics. Positions are the real GPX drive (../shared/data/gpx); the
// NMEA sentences and their checksums are built here, not by the decoder.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server/core/time_format.hpp"
#include "tests/integration/harness.hpp"
#include "tests/support/nmea_sentence.hpp"

namespace pm::itest {
namespace {

constexpr size_t kFixesPerDatagram = 10;
constexpr size_t kDevicesPerFormat = 10;
constexpr size_t kBurst = 100;  // datagrams per sendmmsg burst (~100 KB: far below the 8 MiB socket buffer)

using test::nmea;

// ddmm.mmmmm / dddmm.mmmmm and the hemisphere letter.
std::string nmea_angle(double deg, int deg_digits, char pos, char neg) {
  long long total = std::llround(std::fabs(deg) * 60.0 * 1e5);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%0*lld%02lld.%05lld,%c", deg_digits, total / 6000000, total % 6000000 / 100000,
                total % 100000, deg >= 0 ? pos : neg);
  return buf;
}

// 1 Hz along the GPX drive, the last fix one second before the server's clock.
EpochMs fix_time(size_t i) { return kNow - static_cast<EpochMs>(gpx_track().size() - i) * 1000; }

// One device's fixes [from, from + n) as one NMEA datagram: the PGID line,
// then RMC for each fix, and GGA as well for devices with `with_gga` (the
// decoder merges the two sentences of an epoch into one fix).
std::string nmea_datagram(const std::string& device, size_t from, size_t n, bool with_gga) {
  std::string d = nmea("PGID," + device);
  for (size_t i = from; i < from + n; ++i) {
    const auto& p = gpx_track()[i];
    std::string iso = format_iso8601(fix_time(i));  // YYYY-MM-DDTHH:MM:SS.mmmZ
    std::string tod = iso.substr(11, 2) + iso.substr(14, 2) + iso.substr(17, 2) + ".00";
    std::string date = iso.substr(8, 2) + iso.substr(5, 2) + iso.substr(2, 2);
    std::string lat = nmea_angle(p.lat, 2, 'N', 'S'), lon = nmea_angle(p.lon, 3, 'E', 'W');
    d += nmea("GPRMC," + tod + ",A," + lat + "," + lon + ",12.0,90.0," + date + ",,,A");
    if (with_gga) d += nmea("GPGGA," + tod + "," + lat + "," + lon + ",1,08,1.0,50.0,M,47.0,M,,");
  }
  return d;
}

std::string json_datagram(const std::string& device, size_t from, size_t n) {
  std::vector<Ping> ps;
  for (size_t i = from; i < from + n; ++i) {
    Ping p;
    p.device = device;
    p.t = fix_time(i);
    p.lat = gpx_track()[i].lat;
    p.lon = gpx_track()[i].lon;
    ps.push_back(p);
  }
  return pings_json(ps);
}

class UdpSender {
 public:
  explicit UdpSender(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~UdpSender() { ::close(fd_); }
  // All of `ds` in one sendmmsg call (looping over partial sends).
  void burst(const std::vector<std::string>& ds) {
    std::vector<mmsghdr> msgs(ds.size());
    std::vector<iovec> iov(ds.size());
    for (size_t i = 0; i < ds.size(); ++i) {
      iov[i] = {const_cast<char*>(ds[i].data()), ds[i].size()};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (size_t done = 0; done < ds.size();) {
      int n = ::sendmmsg(fd_, msgs.data() + done, static_cast<unsigned>(ds.size() - done), 0);
      ASSERT_GT(n, 0) << std::strerror(errno);
      done += static_cast<size_t>(n);
    }
  }

 private:
  int fd_ = -1;
};

double metric_or_zero(const std::string& page, const std::string& series) { return metric(page, series).value_or(0); }

TEST(UdpBatch, ThousandsOfNmeaAndJsonDatagramsAreAllStored) {
  TestServer s{{"ingest.registration", "auto"}};
  const auto& track = gpx_track();
  const size_t per_device = track.size() / kFixesPerDatagram * kFixesPerDatagram;  // 950 fixes, 95 datagrams

  // Every datagram, NMEA and JSON interleaved, shuffled across devices (each
  // device's own datagrams stay in time order, as one sender's would).
  std::vector<std::string> datagrams;
  std::vector<std::vector<std::string>> per_dev(2 * kDevicesPerFormat);
  for (size_t k = 0; k < kDevicesPerFormat; ++k)
    for (size_t from = 0; from < per_device; from += kFixesPerDatagram) {
      char nm[16], js[16];
      std::snprintf(nm, sizeof nm, "NMEA-%02zu", k);
      std::snprintf(js, sizeof js, "JSON-%02zu", k);
      per_dev[k].push_back(nmea_datagram(nm, from, kFixesPerDatagram, k % 2 == 1));
      per_dev[kDevicesPerFormat + k].push_back(json_datagram(js, from, kFixesPerDatagram));
    }
  const unsigned seed = 20261122;
  std::mt19937 rng(seed);
  std::vector<size_t> next(per_dev.size(), 0);
  for (size_t left = per_dev.size() * per_dev[0].size(); left > 0; --left) {
    size_t d;
    do d = rng() % per_dev.size();
    while (next[d] == per_dev[d].size());
    datagrams.push_back(per_dev[d][next[d]++]);
  }
  // Two undecodable datagrams: each is one counted rejection, nothing else.
  datagrams.insert(datagrams.begin() + 500, "[{\"device\":\"JSON-99\",\"t\":");
  datagrams.insert(datagrams.begin() + 1500,
                   nmea("PGID,NMEA-99") + "$GPRMC,000000.00,A,5240.0,N,00043.6,W,0,0,221126,,,A*00\r\n");
  ASSERT_GE(datagrams.size(), 1900u) << "seed " << seed;

  // Bursts of kBurst datagrams; before the next burst, wait until the server
  // has read this one, so the test never depends on the kernel buffer size.
  UdpSender tx(s.app().nmea_port());
  auto read_so_far = [&] {
    std::string page = s.metrics_page();
    return metric_or_zero(page, "patrolmap_udp_datagrams_total{channel=\"nmea_udp\"}") +
           metric_or_zero(page, "patrolmap_udp_datagrams_total{channel=\"json_udp\"}");
  };
  for (size_t at = 0; at < datagrams.size(); at += kBurst) {
    std::vector<std::string> b(
        datagrams.begin() + static_cast<std::ptrdiff_t>(at),
        datagrams.begin() + static_cast<std::ptrdiff_t>(std::min(datagrams.size(), at + kBurst)));
    tx.burst(b);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    double read = 0;
    while ((read = read_so_far()) < static_cast<double>(at + b.size()) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(2ms);
    ASSERT_EQ(read, static_cast<double>(at + b.size())) << "datagrams read by the server after burst " << at / kBurst;
  }

  const double want_per_format = static_cast<double>(kDevicesPerFormat * per_device);
  const std::string acc_nmea = "patrolmap_pings_accepted_total{channel=\"nmea_udp\"}";
  const std::string acc_json = "patrolmap_pings_accepted_total{channel=\"json_udp\"}";
  std::string page;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    std::this_thread::sleep_for(20ms);
    page = s.metrics_page();
  } while ((metric_or_zero(page, acc_nmea) < want_per_format || metric_or_zero(page, acc_json) < want_per_format) &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(metric_or_zero(page, acc_nmea), want_per_format);
  EXPECT_EQ(metric_or_zero(page, acc_json), want_per_format);
  EXPECT_EQ(metric_or_zero(page, "patrolmap_udp_datagrams_total{channel=\"nmea_udp\"}"),
            static_cast<double>(kDevicesPerFormat * per_device / kFixesPerDatagram + 1));
  EXPECT_EQ(metric_or_zero(page, "patrolmap_udp_datagrams_total{channel=\"json_udp\"}"),
            static_cast<double>(kDevicesPerFormat * per_device / kFixesPerDatagram + 1));
  EXPECT_EQ(metric_or_zero(page, "patrolmap_pings_rejected_total{channel=\"json_udp\",reason=\"bad_format\"}"), 1);
  EXPECT_EQ(metric_or_zero(page, "patrolmap_pings_rejected_total{channel=\"nmea_udp\",reason=\"bad_checksum\"}"), 1);
  EXPECT_EQ(metric_or_zero(page, "patrolmap_udp_receive_drops_total"), 0);
  EXPECT_EQ(metric_or_zero(page, "patrolmap_udp_pings_dropped_total"), 0);

  // The store, read independently: every fix of every device, in time order,
  // at the GPX position (NMEA keeps 1e-5 minutes: < 2e-7 degrees).
  DbView db(s.data_dir());
  ASSERT_TRUE(db.ok());
  std::map<std::string, std::vector<FixRow>> by_device;
  for (auto& f : db.fixes()) by_device[f.device].push_back(f);
  ASSERT_EQ(by_device.size(), 2 * kDevicesPerFormat);
  for (auto& [dev, rows] : by_device) {
    ASSERT_EQ(rows.size(), per_device) << dev;
    std::sort(rows.begin(), rows.end(), [](const FixRow& a, const FixRow& b) { return a.t < b.t; });
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(rows[i].t, fix_time(i)) << dev << " fix " << i;
      EXPECT_NEAR(rows[i].lat, track[i].lat, 2e-7) << dev << " fix " << i;
      EXPECT_NEAR(rows[i].lon, track[i].lon, 2e-7) << dev << " fix " << i;
      EXPECT_EQ(rows[i].unit, dev) << "auto-registered unit";
    }
  }

  // The units' live positions: the last fix of the drive, source by channel.
  auto dispatcher = s.token(Role::dispatcher);
  auto r = s.request("GET", "/api/v1/units", "", dispatcher);
  auto d = parse_json(r.body);
  ASSERT_TRUE(d.IsObject() && d.HasMember("units"));
  size_t seen = 0;
  for (const auto& u : d["units"].GetArray()) {
    std::string id = u["id"].GetString();
    if (id.rfind("NMEA-", 0) != 0 && id.rfind("JSON-", 0) != 0) continue;
    ++seen;
    EXPECT_STREQ(u["source"].GetString(), id[0] == 'N' ? "nmea_udp" : "json_udp") << id;
    EXPECT_NEAR(u["lat"].GetDouble(), track[per_device - 1].lat, 2e-7) << id;
    EXPECT_STREQ(u["fix_time"].GetString(), format_iso8601(fix_time(per_device - 1)).c_str()) << id;
  }
  EXPECT_EQ(seen, 2 * kDevicesPerFormat);
}

}  // namespace
}  // namespace pm::itest
