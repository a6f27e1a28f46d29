// The daemon as a subprocess: a 2xx answer to a ping batch means its pings
// survive kill -9 (SPEC section 8), restart rebuilds live positions from the
// store, SIGTERM stops cleanly, and the command line fails with a one-line
// reason (SPEC section 12).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/harness.hpp"

namespace pm::itest {
namespace {

using Key = std::pair<std::string, EpochMs>;

EpochMs wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ISO 8601 with milliseconds, computed with the C library (not the server's formatter).
std::string iso(EpochMs t) {
  time_t s = static_cast<time_t>(t / 1000);
  std::tm g{};
  gmtime_r(&s, &g);
  char b[96];  // room for any int fields: GCC checks the worst case
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", g.tm_year + 1900, g.tm_mon + 1, g.tm_mday,
                g.tm_hour, g.tm_min, g.tm_sec, static_cast<int>(t % 1000));
  return b;
}

uint32_t test_seed() {
  if (const char* s = std::getenv("PM_TEST_SEED"); s && *s) return static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  return std::random_device{}();
}

std::vector<std::string> daemon_args(const std::string& data) {
  auto args = loopback_listen_args();
  args.insert(args.end(), {"--data-dir", data, "--set", "ingest.registration=auto", "--set", "store.snapshot_interval_s=1"});
  return args;
}

// Every acknowledged ping is stored; every unit is at its freshest stored fix.
void verify_store_and_units(const std::string& data, uint16_t port, const std::string& admin,
                            const std::set<Key>& acked) {
  DbView db(data);
  auto rows = db.fixes();
  std::set<Key> stored;
  std::map<std::string, FixRow> freshest;  // unit id -> fix with the largest t
  for (const auto& f : rows) {
    stored.insert({f.device, f.t});
    if (!f.unit) continue;
    auto it = freshest.find(*f.unit);
    if (it == freshest.end() || f.t > it->second.t) freshest[*f.unit] = f;
  }
  size_t missing = 0;
  for (const auto& k : acked)
    if (!stored.count(k)) {
      if (++missing <= 5) ADD_FAILURE() << "acknowledged ping lost: " << k.first << " t=" << k.second;
    }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged pings";
  EXPECT_EQ(stored.size(), rows.size()) << "duplicate (device, t) rows in the store";

  HttpClient c("127.0.0.1", port);
  auto r = c.request("GET", "/api/v1/units", {}, test::bearer(admin));
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = parse_json(r.body);
  std::map<std::string, const rapidjson::Value*> units;
  for (const auto& u : d["units"].GetArray()) units[u["id"].GetString()] = &u;
  EXPECT_EQ(units.size(), freshest.size());
  for (const auto& [id, f] : freshest) {
    ASSERT_TRUE(units.count(id)) << "unit " << id << " missing after restart";
    const auto& u = *units[id];
    ASSERT_TRUE(u["lat"].IsNumber()) << id << " has no position";
    EXPECT_NEAR(u["lat"].GetDouble(), f.lat, 1e-9) << id;
    EXPECT_NEAR(u["lon"].GetDouble(), f.lon, 1e-9) << id;
    EXPECT_EQ(std::string(u["fix_time"].GetString()), iso(f.t)) << id;
  }
}

TEST(Durability, AcknowledgedPingsSurviveKill9ThreeTimes) {
  const uint32_t seed = test_seed();
  std::cout << "[ seed ] PM_TEST_SEED=" << seed << std::endl;
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 rng(seed);

  TempDir tmp;
  const std::string data = tmp.path() + "/data";
  const std::string log = tmp.path() + "/daemon.log";
  const std::string gw = cli_add_token(data, "gateway", "load");
  const std::string admin = cli_add_token(data, "admin", "check");
  ASSERT_FALSE(gw.empty());
  ASSERT_FALSE(admin.empty());

  const auto& pts = crime_points();
  const EpochMs base = wall_now_ms() - 2 * 3600 * 1000;  // inside the default too_old window
  uint64_t next = 0;                                       // ping counter across cycles (< 1000003)
  std::set<Key> acked;

  auto daemon = std::make_unique<Daemon>();
  ASSERT_TRUE(daemon->start(daemon_args(data), log)) << daemon->error();
  // (Stored tokens take up to ~1 s to load after the listening line: see Registry.StoredTokensWork...)
  ASSERT_TRUE(wait_until_token_works(daemon->port(), gw).has_value()) << read_file(log);
  for (int cycle = 0; cycle < 3; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle + 1));
    const int kill_after_ms = std::uniform_int_distribution<int>(300, 1500)(rng);
    std::cout << "[ cycle " << cycle + 1 << " ] kill -9 after " << kill_after_ms << " ms" << std::endl;
    std::atomic<bool> stop{false}, first_ack{false};
    std::mutex mu;
    std::vector<Key> acked_now;
    std::vector<std::string> odd;
    size_t batches_acked = 0;
    const uint16_t port = daemon->port();
    std::thread sender([&] {
      HttpClient c("127.0.0.1", port, 5s);
      while (!stop.load()) {
        std::vector<Ping> ps;
        for (int i = 0; i < 200; ++i, ++next) {
          const auto& p = pts[next % pts.size()];
          // t is a bijection of the counter (7919 * n mod the prime 1000003): unique, but out of
          // order, so "freshest" means the largest t, not the last row written.
          const auto t = base + static_cast<EpochMs>((next * 7919) % 1000003);
          ps.push_back({"K-" + std::to_string(next % 7), t, p.lat, p.lon, {}, {}});
        }
        auto r = c.request("POST", "/api/v1/pings", pings_json(ps), test::bearer(gw));
        if (r.status == 0) break;  // the daemon is gone
        std::lock_guard lock(mu);
        if (r.status == 202 && ingest_answer(r).accepted == 200) {
          ++batches_acked;
          first_ack = true;
          for (const auto& p : ps) acked_now.push_back({p.device, p.t});
        } else {
          odd.push_back(std::to_string(r.status) + " " + r.body.substr(0, 200));
        }
      }
    });
    // The kill comes kill_after_ms after the first acknowledgement: on a loaded
    // machine a restarted daemon's first answer can take longer than the delay.
    for (int i = 0; i < 400 && !first_ack.load(); ++i) std::this_thread::sleep_for(50ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
    daemon->signal(SIGKILL);
    auto st = daemon->wait(15s);
    stop = true;
    sender.join();
    ASSERT_TRUE(st.has_value()) << "daemon did not die";
    EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGKILL) << "status " << *st;
    EXPECT_EQ(odd, std::vector<std::string>{});
    EXPECT_GT(batches_acked, 0u) << "no batch acknowledged before the kill; daemon log:\n" << read_file(log);
    std::cout << "[ cycle " << cycle + 1 << " ] " << batches_acked << " batches acknowledged" << std::endl;
    acked.insert(acked_now.begin(), acked_now.end());

    daemon = std::make_unique<Daemon>();
    ASSERT_TRUE(daemon->start(daemon_args(data), log)) << daemon->error() << "\n" << read_file(log);
    // (Stored tokens take up to ~1 s to load after the listening line: see Registry.StoredTokensWork...)
    ASSERT_TRUE(wait_until_token_works(daemon->port(), gw).has_value()) << read_file(log);
    verify_store_and_units(data, daemon->port(), admin, acked);
    if (HasFatalFailure()) return;
  }
  daemon->signal(SIGTERM);
  auto st = daemon->wait(20s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "status " << *st << "\n" << read_file(log);
}

TEST(Durability, SigtermStopsCleanlyWithExitZeroAndKeepsThePings) {
  TempDir tmp;
  const std::string data = tmp.path() + "/data";
  const std::string log = tmp.path() + "/daemon.log";
  const std::string gw = cli_add_token(data, "gateway", "gw");
  Daemon d;
  ASSERT_TRUE(d.start(daemon_args(data), log)) << d.error();
  ASSERT_TRUE(wait_until_token_works(d.port(), gw).has_value()) << read_file(log);
  HttpClient c("127.0.0.1", d.port());
  std::vector<Ping> ps;
  const EpochMs now = wall_now_ms();
  for (size_t i = 0; i < 20; ++i) {
    const auto& p = crime_points()[5000 + i];
    ps.push_back({"T-" + std::to_string(i % 3), now - 60000 + static_cast<EpochMs>(i), p.lat, p.lon, {}, {}});
  }
  auto r = c.request("POST", "/api/v1/pings", pings_json(ps), test::bearer(gw));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(ingest_answer(r).accepted, 20);
  c.close();
  const auto t0 = std::chrono::steady_clock::now();
  d.signal(SIGTERM);
  auto st = d.wait(20s);
  ASSERT_TRUE(st.has_value()) << "no exit within 20 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*st)) << "status " << *st;
  EXPECT_EQ(WEXITSTATUS(*st), 0) << read_file(log);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  DbView db(data);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 20);
}

// Lines of stderr that are not structured log lines (logfmt "ts=...").
std::vector<std::string> reason_lines(const std::string& err) {
  std::vector<std::string> out;
  for (auto& l : split_lines(err))
    if (l.rfind("ts=", 0) != 0) out.push_back(l);
  return out;
}

TEST(Cli, HelpExitsZero) {
  auto r = run_patrolmapd({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens add"), std::string::npos);
  EXPECT_NE(r.out.find("--set KEY=VALUE"), std::string::npos);
  EXPECT_EQ(r.err, "");
}

TEST(Cli, BadOptionsFailWithAOneLineReason) {
  TempDir tmp;
  const std::string data = tmp.path() + "/data";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"}, "--bogus"},
      {{"--listen"}, "--listen"},
      {{"--listen", "nonsense"}, "http.listen"},
      {{"--set", "nokey"}, "KEY=VALUE"},
      {{"--set", "no.such.key=1"}, "no.such.key"},
      {{"--set", "ingest.future_s=soon"}, "ingest.future_s"},
      {{"--config", tmp.path() + "/missing.conf"}, "missing.conf"},
      {{"tokens", "add", "--data-dir", data, "--role", "king", "--name", "x"}, "king"},
      {{"tokens", "add", "--data-dir", data, "--role", "device", "--name", "x"}, "--device"},
      {{"tokens", "remove"}, "tokens"},
  };
  for (const auto& [args, mention] : cases) {
    std::vector<std::string> full = args;
    if (args[0] != "tokens") {
      auto listen = loopback_listen_args();  // never bind fixed ports, even if parsing let it through
      full.insert(full.begin(), listen.begin(), listen.end());
      full.insert(full.begin(), {"--data-dir", data});
    }
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    SCOPED_TRACE(shown);
    auto r = run_patrolmapd(full, 20s);
    EXPECT_FALSE(r.timed_out);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
    auto lines = split_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_EQ(lines[0].rfind("patrolmapd: ", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find(mention), std::string::npos) << lines[0];
  }
}

TEST(Cli, PortInUseFailsWithAOneLineReason) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string port = std::to_string(ntohs(a.sin_port));

  TempDir tmp;
  auto r = run_patrolmapd({"--nmea-listen", "127.0.0.1:0", "--lip-listen", "127.0.0.1:0", "--listen",
                           "127.0.0.1:" + port, "--data-dir", tmp.path() + "/data"},
                          20s);
  ::close(fd);
  EXPECT_FALSE(r.timed_out) << "the daemon ran despite the port being taken";
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  auto reasons = reason_lines(r.err);
  ASSERT_EQ(reasons.size(), 1u) << r.err;
  EXPECT_EQ(reasons[0].rfind("patrolmapd: ", 0), 0u) << reasons[0];
  EXPECT_NE(reasons[0].find(port), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[0].find("in use"), std::string::npos) << reasons[0];
}

}  // namespace
}  // namespace pm::itest
