// Bearer tokens and roles over real HTTP (SPEC section 9): the role matrix
// of every endpoint, device tokens bound to their device, tokens added by
// `patrolmapd tokens add` while the daemon runs, hashed storage, rate limits.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "tests/integration/harness.hpp"

namespace pm::itest {
namespace {

constexpr std::array<Role, 6> kRoles = {Role::device,   Role::gateway, Role::dispatcher,
                                        Role::sergeant, Role::manager, Role::admin};

struct Endpoint {
  std::string method;
  std::function<std::string()> target;  // a fresh target per call
  std::function<std::string()> body;  // a fresh valid body per call
  std::vector<Role> allowed;
  int ok_status_min = 200, ok_status_max = 202;
};

std::string sha256_hex_independent(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", md[i]);
    out += b;
  }
  return out;
}

TEST(Auth, RoleMatrixOfEveryEndpoint) {
  TestServer s;
  s.put_unit("U1");
  s.put_device("AVL-1", "U1");
  std::map<Role, std::string> tokens;
  for (Role r : kRoles) tokens[r] = s.token(r, r == Role::device ? "AVL-1" : "");

  EpochMs t = kNow - 3600 * 1000;
  const auto& pt = crime_points()[500];
  auto ping = [&] { return ping_json({"AVL-1", t += 1000, pt.lat, pt.lon, {}, {}}); };
  auto osmand = [&] {
    char q[160];
    std::snprintf(q, sizeof q, "/osmand?id=AVL-1&lat=%.6f&lon=%.6f&timestamp=%lld", pt.lat, pt.lon,
                  static_cast<long long>((t += 1000) / 1000));
    return std::string(q);
  };
  auto no_body = [] { return std::string(); };
  auto fixed = [](const char* text) { return [text] { return std::string(text); }; };
  // Dispatch endpoints that change state get fresh state per call, made by a dispatcher.
  HttpClient setup = s.client();
  const std::string incident = R"({"grade":2,"type":"theft","lat":52.63,"lon":-1.13})";
  auto new_incident = [&] {
    auto r = setup.request("POST", "/api/v1/incidents", incident, test::bearer(tokens[Role::dispatcher]));
    EXPECT_EQ(r.status, 201) << r.body;
    return "/api/v1/incidents/" + std::to_string(parse_json(r.body)["id"].GetUint64());
  };
  auto assigned_incident = [&] {
    std::string path = new_incident();
    auto r = setup.request("POST", path + "/assign", R"({"unit":"U1","force":true})",
                           test::bearer(tokens[Role::dispatcher]));
    EXPECT_EQ(r.status, 200) << r.body;
    return path;
  };
  auto active_alert = [&] {
    auto r = setup.request("POST", "/api/v1/units/U1/emergency", "", test::bearer(tokens[Role::dispatcher]));
    EXPECT_EQ(r.status, 200) << r.body;
    return "/api/v1/alerts/" + std::to_string(parse_json(r.body)["id"].GetUint64()) + "/ack";
  };
  const std::vector<Role> staff = {Role::dispatcher, Role::sergeant, Role::manager, Role::admin};
  const std::vector<Endpoint> endpoints = {
      {"POST", fixed("/api/v1/pings"), ping, {Role::device, Role::gateway}},
      {"GET", osmand, no_body, {Role::device, Role::gateway}},
      {"GET", fixed("/api/v1/units"), no_body, {Role::dispatcher, Role::sergeant, Role::manager, Role::admin}},
      {"PUT", fixed("/api/v1/units/U1"), fixed(R"({"type":"car"})"), {Role::dispatcher, Role::admin}},
      {"POST", fixed("/api/v1/units/U1/status"), fixed(R"({"status":"available"})"),
       {Role::device, Role::gateway, Role::dispatcher}},
      {"PUT", fixed("/api/v1/devices/AVL-1"), fixed(R"({"kind":"avl","unit":"U1"})"), {Role::admin}},
      {"GET", fixed("/api/v1/devices"), no_body, {Role::admin}},
      {"POST", fixed("/api/v1/rota"), no_body, {Role::admin, Role::sergeant}},
      {"GET", fixed("/metrics"), no_body, {Role::admin}},
      {"POST", fixed("/api/v1/incidents"), fixed(incident.c_str()), {Role::dispatcher}, 201, 201},
      {"GET", fixed("/api/v1/incidents"), no_body, staff},
      {"GET", fixed("/api/v1/incidents/1"), no_body, staff},
      {"GET", fixed("/api/v1/incidents/1/recommendations"), no_body, {Role::dispatcher}},
      {"POST", [&] { return new_incident() + "/assign"; }, fixed(R"({"unit":"U1","force":true})"), {Role::dispatcher}},
      {"POST", [&] { return assigned_incident() + "/events"; }, fixed(R"({"unit":"U1","kind":"en_route"})"),
       {Role::device, Role::gateway, Role::dispatcher}},
      {"POST", [&] { return new_incident() + "/close"; }, no_body, {Role::dispatcher}},
      {"POST", fixed("/api/v1/locations"), fixed(R"({"lat":52.63,"lon":-1.13,"radius_m":50,"flags":["hazard"]})"),
       {Role::dispatcher, Role::admin}, 201, 201},
      {"GET", fixed("/api/v1/locations"), no_body, staff},
      {"GET", fixed("/api/v1/alerts"), no_body, staff},
      {"POST", active_alert, no_body, {Role::dispatcher, Role::sergeant}},
      {"POST", fixed("/api/v1/units/U1/emergency"), no_body, {Role::device, Role::gateway, Role::dispatcher}},
  };

  HttpClient c = s.client();
  for (const auto& ep : endpoints) {
    SCOPED_TRACE(ep.method + " " + ep.target());
    // No token, an unknown token, a malformed header: 401 with a challenge.
    for (const test::Headers& h : {test::Headers{}, test::bearer("pm_thisTokenWasNeverIssued0000000000000000000"),
                                   test::Headers{{"Authorization", "Basic dXNlcjpwYXNz"}},
                                   test::Headers{{"Authorization", "Bearer"}}}) {
      auto r = c.request(ep.method, ep.target(), ep.body(), h);
      EXPECT_EQ(r.status, 401) << r.body;
      EXPECT_EQ(error_code(r), "unauthorized");
      EXPECT_EQ(r.header("www-authenticate"), "Bearer");
    }
    for (Role role : kRoles) {
      SCOPED_TRACE(std::string(role_name(role)));
      auto r = c.request(ep.method, ep.target(), ep.body(), test::bearer(tokens[role]));
      bool allowed = std::find(ep.allowed.begin(), ep.allowed.end(), role) != ep.allowed.end();
      if (allowed) {
        EXPECT_GE(r.status, ep.ok_status_min) << r.body;
        EXPECT_LE(r.status, ep.ok_status_max) << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << r.body;
        EXPECT_EQ(error_code(r), "forbidden");
      }
    }
  }
  // The health check needs no token (and ignores one).
  for (const test::Headers& h : {test::Headers{}, test::bearer(tokens[Role::device])}) {
    auto r = c.request("GET", "/healthz", {}, h);
    EXPECT_EQ(r.status, 200) << r.body;
    auto d = parse_json(r.body);
    EXPECT_STREQ(d["status"].GetString(), "ok");
  }
  // Every 2xx ping above was stored: one per sending role and channel.
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 4);
}

TEST(Auth, DeviceTokenMaySendOnlyForItsOwnDevice) {
  TestServer s;
  for (std::string id : {"1", "2"}) {
    s.put_unit("U" + id);
    s.put_device("AVL-" + id, "U" + id);
  }
  auto dev1 = s.token(Role::device, "AVL-1");
  const auto& p = crime_points()[600];
  auto own = ping_json({"AVL-1", kNow - 5000, p.lat, p.lon, {}, {}});
  auto other = ping_json({"AVL-2", kNow - 4000, p.lat, p.lon, {}, {}});

  auto r1 = s.post_pings(dev1, "[" + other + "]");
  EXPECT_EQ(r1.status, 403) << r1.body;
  EXPECT_EQ(error_code(r1), "device_mismatch");
  auto r2 = s.post_pings(dev1, "[" + own + "," + other + "]");  // one foreign item refuses the batch
  EXPECT_EQ(r2.status, 403) << r2.body;
  EXPECT_EQ(error_code(r2), "device_mismatch");
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 0);
  auto r3 = s.post_pings(dev1, own);
  EXPECT_EQ(r3.status, 202) << r3.body;
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 1);
  // A gateway may send for any device.
  auto r4 = s.post_pings(s.token(Role::gateway), other);
  EXPECT_EQ(r4.status, 202) << r4.body;
  EXPECT_EQ(ingest_answer(r4).accepted, 1);
}

TEST(Auth, TokensAreStoredOnlyAsSha256) {
  TestServer s;
  std::map<std::string, std::string> issued;  // token -> role
  for (Role r : kRoles) issued[s.token(r, r == Role::device ? "AVL-1" : "")] = std::string(role_name(r));
  s.stop();  // flush: every file is final
  DbView db(s.data_dir());
  auto rows = db.rows("SELECT hash, role, device FROM tokens");
  ASSERT_EQ(rows.size(), issued.size() + 1);  // + the harness admin
  std::map<std::string, std::vector<std::string>> by_hash;
  for (const auto& row : rows) {
    EXPECT_EQ(row[0].size(), 64u) << row[0];
    EXPECT_EQ(row[0].find_first_not_of("0123456789abcdef"), std::string::npos) << row[0];
    by_hash[row[0]] = row;
  }
  for (const auto& [token, role] : issued) {
    EXPECT_EQ(token.rfind("pm_", 0), 0u) << token;
    auto it = by_hash.find(sha256_hex_independent(token));
    ASSERT_NE(it, by_hash.end()) << "no row for the hash of a " << role << " token";
    EXPECT_EQ(it->second[1], role);
    EXPECT_EQ(it->second[2], role == "device" ? "AVL-1" : "<null>");
  }
  // The token text itself is nowhere in the store's files.
  for (const auto& entry : std::filesystem::directory_iterator(s.data_dir())) {
    std::string bytes = read_file(entry.path().string());
    for (const auto& [token, role] : issued)
      EXPECT_EQ(bytes.find(token), std::string::npos) << role << " token found in " << entry.path();
  }
}

TEST(Auth, RateLimitPerToken) {
  // rate 5/s, no burst; the server clock stands still, so exactly 5 pass.
  TestServer s({{"http.rate_per_token", "5"}, {"http.rate_burst", "0"}});
  auto disp = s.token(Role::dispatcher);
  HttpClient c = s.client();
  int ok = 0, limited = 0;
  for (int i = 0; i < 20; ++i) {
    auto r = c.request("GET", "/api/v1/units", {}, test::bearer(disp));
    if (r.status == 200) {
      ++ok;
    } else {
      ++limited;
      EXPECT_EQ(r.status, 429) << r.body;
      EXPECT_EQ(error_code(r), "rate_limited");
      EXPECT_EQ(r.header("retry-after"), "1");
    }
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(limited, 15);
  // Buckets are per token.
  EXPECT_EQ(c.request("GET", "/api/v1/units", {}, test::bearer(s.token(Role::manager))).status, 200);
  // One second later the bucket holds 5 again (not more: no burst).
  s.clock().advance(1000);
  ok = 0;
  for (int i = 0; i < 8; ++i) ok += c.request("GET", "/api/v1/units", {}, test::bearer(disp)).status == 200;
  EXPECT_EQ(ok, 5);
  // The health check is not rate limited.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c.request("GET", "/healthz").status, 200);
}

TEST(Auth, RateLimitWithRealClockLimitsAQuickBurst) {
  TestServer s({{"http.rate_per_token", "5"}, {"http.rate_burst", "0"}}, /*real_clock=*/true);
  auto disp = s.token(Role::dispatcher);
  HttpClient c = s.client();
  int limited = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) limited += c.request("GET", "/api/v1/units", {}, test::bearer(disp)).status == 429;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // At most 5 + 5/s * elapsed requests may pass.
  EXPECT_GE(limited, 20 - 5 - static_cast<int>(5 * secs) - 1) << secs << " s";
  EXPECT_GT(limited, 0);
}

// A wall clock stepped back (an NTP correction) must not lock tokens out.
// Today Auth::admit adds a negative refill when `now` < the bucket's last
// time (server/auth/auth.cpp): see the report.
TEST(Auth, RateLimitSurvivesTheWallClockSteppingBack) {
  TestServer s({{"http.rate_per_token", "5"}, {"http.rate_burst", "0"}});
  auto disp = s.token(Role::dispatcher);
  HttpClient c = s.client();
  EXPECT_EQ(c.request("GET", "/api/v1/units", {}, test::bearer(disp)).status, 200);  // 4 left
  s.clock().set(kNow - 60 * 1000);  // the clock steps back a minute
  int ok = 0;
  for (int i = 0; i < 6; ++i) ok += c.request("GET", "/api/v1/units", {}, test::bearer(disp)).status == 200;
  EXPECT_EQ(ok, 4) << "the bucket's 4 remaining requests were lost to a clock step";
}

// The daemon: tokens from `patrolmapd tokens add`, before and while it runs.
TEST(AuthDaemon, TokensAddedByTheCliWorkWithinTwoSeconds) {
  TempDir tmp;
  const std::string data = tmp.path() + "/data";
  const std::string admin = cli_add_token(data, "admin", "ops-admin");
  ASSERT_FALSE(admin.empty());
  Daemon d;
  auto args = loopback_listen_args();
  args.insert(args.end(), {"--data-dir", data, "--set", "ingest.registration=auto"});
  ASSERT_TRUE(d.start(args, tmp.path() + "/stderr.log"))
      << d.error();
  EXPECT_EQ(d.listening_line(), "listening http 127.0.0.1:" + std::to_string(d.port()));
  HttpClient c("127.0.0.1", d.port());
  // (Up to ~1 s after the listening line: see Registry.StoredTokensWorkRightAfterARestart.)
  ASSERT_TRUE(wait_until_token_works(d.port(), admin).has_value());
  EXPECT_EQ(c.request("GET", "/api/v1/units", {}, test::bearer(admin)).status, 200);

  // Each token added while the daemon runs starts working on its own.
  auto add_and_time = [&](const std::string& role, const std::string& name, const std::string& device) {
    std::string tok = cli_add_token(data, role, name, device);
    const auto added = std::chrono::steady_clock::now();
    int status = 0;
    while (!tok.empty() && std::chrono::steady_clock::now() - added < 5s) {
      status = c.request("GET", "/api/v1/units", {}, test::bearer(tok)).status;
      if (status != 401) break;
      std::this_thread::sleep_for(20ms);
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - added);
    std::cout << "[ tokens ] a " << role << " token added while running worked after " << waited.count() << " ms"
              << std::endl;
    EXPECT_EQ(status, role == "dispatcher" ? 200 : 403) << role;  // GET /api/v1/units is staff-only
    // The store writer looks for other processes' commits every second; the
    // rest is slack for ASan on a loaded 2-core machine.
    EXPECT_LE(waited.count(), 3000) << "a new " << role << " token took " << waited.count() << " ms to work";
    return tok;
  };
  const std::string disp = add_and_time("dispatcher", "late-dispatcher", "");
  const std::string dev = add_and_time("device", "radio-7", "AVL-7");
  ASSERT_FALSE(disp.empty());
  ASSERT_FALSE(dev.empty());

  // The device token from the CLI is bound to its device.
  const auto& p = crime_points()[700];
  const EpochMs now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto own = c.request("POST", "/api/v1/pings", ping_json({"AVL-7", now - 1000, p.lat, p.lon, {}, {}}), test::bearer(dev));
  EXPECT_EQ(own.status, 202) << own.body;
  auto other = c.request("POST", "/api/v1/pings", ping_json({"AVL-8", now - 1000, p.lat, p.lon, {}, {}}), test::bearer(dev));
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(error_code(other), "device_mismatch");

  d.signal(SIGTERM);
  auto st = d.wait(20s);
  ASSERT_TRUE(st.has_value()) << "daemon did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "status " << *st << "\n" << read_file(tmp.path() + "/stderr.log");

  DbView db(data);
  auto rows = db.rows("SELECT hash, name, role, device FROM tokens ORDER BY created_ms, name");
  ASSERT_EQ(rows.size(), 3u);
  std::map<std::string, std::vector<std::string>> by_name;
  for (const auto& r : rows) by_name[r[1]] = r;
  EXPECT_EQ(by_name["ops-admin"][0], sha256_hex_independent(admin));
  EXPECT_EQ(by_name["ops-admin"][2], "admin");
  EXPECT_EQ(by_name["late-dispatcher"][0], sha256_hex_independent(disp));
  EXPECT_EQ(by_name["radio-7"][0], sha256_hex_independent(dev));
  EXPECT_EQ(by_name["radio-7"][2], "device");
  EXPECT_EQ(by_name["radio-7"][3], "AVL-7");
  for (const auto& entry : std::filesystem::directory_iterator(data)) {
    std::string bytes = read_file(entry.path().string());
    for (const auto& t : {admin, disp, dev}) EXPECT_EQ(bytes.find(t), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace pm::itest
