// The API as a function: Beast requests in, responses out, no socket. The
// store is the real SQLite store in a temp dir.
#include "server/api/api.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <future>

#include "server/core/time_format.hpp"
#include "tests/support/temp_dir.hpp"

namespace pm {
namespace {

constexpr EpochMs kNow = 1795342503250;  // 2026-11-22T10:15:03.250Z

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : clock_(kNow) {
    ConfigValues v;
    (void)v.set("data_dir", dir_.path());
    (void)v.set("ingest.registration", "auto");
    (void)v.set("ingest.max_batch", "4");
    EXPECT_FALSE(Config::from(v, cfg_).has_value());
    StoreOptions so;
    so.data_dir = dir_.path();
    store_ = Store::open(so, metrics_);
    store_->load(live_);
    store_->start(live_, [this](sql::Db& db) { auth_.replace(load_tokens(db)); });
    pipeline_ = std::make_unique<Pipeline>(cfg_, clock_, metrics_, live_, *store_);
    dispatch_ = std::make_unique<dispatch::DispatchService>(dispatch::DispatchConfig{}, clock_, live_, *store_, metrics_);
    rota_ = std::make_unique<RotaService>(clock_, live_, *store_, [this](uint32_t unit, UnitStatus st) {
      dispatch_->execute(dispatch::cmd::SetStatus{unit, st}, [](dispatch::Outcome&&) {});
    });
    api_ = std::make_unique<Api>(
        ApiDeps{cfg_, clock_, metrics_, auth_, live_, *store_, *pipeline_, *rota_, "<html>", dispatch_.get()});
    for (auto r : {Role::device, Role::gateway, Role::dispatcher, Role::sergeant, Role::manager, Role::admin}) {
      std::string t = generate_token();
      tokens_[static_cast<size_t>(r)] = t;
      std::promise<void> done;
      store_->submit(WriteJob{[&, t, r](sql::Db& db) {
                                auto e = add_token(db, t, std::string(role_name(r)), r, r == Role::device ? "DEV-1" : "", kNow);
                                auth_.replace(load_tokens(db));
                                return e;
                              },
                              [&](const StoreResult&) { done.set_value(); }});
      done.get_future().get();
    }
  }
  ~ApiTest() override { store_->stop(); }

  Response call(http::verb m, std::string target, std::string body = {}, std::optional<Role> role = std::nullopt) {
    Request req{m, target, 11};
    if (role) req.set(http::field::authorization, "Bearer " + tokens_[static_cast<size_t>(*role)]);
    req.body() = std::move(body);
    req.prepare_payload();
    std::promise<Response> p;
    api_->handle(std::move(req), [&](Response&& r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  static rapidjson::Document json(const Response& r) {
    rapidjson::Document d;
    d.Parse(r.body().c_str());
    return d;
  }
  static std::string code(const Response& r) {
    auto d = json(r);
    return d.IsObject() && d.HasMember("error") ? d["error"]["code"].GetString() : "";
  }

  test::TempDir dir_;
  ManualClock clock_;
  Config cfg_;
  Metrics metrics_;
  Auth auth_;
  LiveState live_{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<RotaService> rota_;
  std::unique_ptr<dispatch::DispatchService> dispatch_;
  std::unique_ptr<Api> api_;
  std::array<std::string, 6> tokens_;
};

TEST_F(ApiTest, PingsAnswer202WithPerItemRejections) {
  std::string body = R"([{"device":"NA21","t":"2026-11-22T10:15:00Z","lat":52.67,"lon":-0.73},
                         {"device":"NA21","t":"2026-11-22T10:15:00Z","lat":52.67,"lon":-0.73},
                         {"device":"NA21","t":"2026-11-22T10:17:00Z","lat":52.67,"lon":-0.73},
                         {"device":"NA22","t":"2026-11-22T10:15:00Z","lat":0,"lon":0}])";
  auto r = call(http::verb::post, "/api/v1/pings", body, Role::gateway);
  ASSERT_EQ(r.result_int(), 202u) << r.body();
  auto d = json(r);
  EXPECT_EQ(d["accepted"].GetInt(), 1);
  ASSERT_EQ(d["rejected"].Size(), 3u);
  EXPECT_EQ(d["rejected"][0]["index"].GetInt(), 1);
  EXPECT_STREQ(d["rejected"][0]["code"].GetString(), "duplicate");
  EXPECT_EQ(d["rejected"][1]["index"].GetInt(), 2);
  EXPECT_STREQ(d["rejected"][1]["code"].GetString(), "future_time");  // 117 s ahead of the clock
  EXPECT_STREQ(d["rejected"][2]["code"].GetString(), "bad_coordinate");
  EXPECT_EQ(metrics_.accepted(Channel::json), 1u);
  EXPECT_EQ(metrics_.rejected(Channel::json, Errc::duplicate), 1u);
  EXPECT_EQ(metrics_.rejected(Channel::json, Errc::future_time), 1u);
}

TEST_F(ApiTest, WholeRequestErrors) {
  auto r = call(http::verb::post, "/api/v1/pings", "{nope", Role::gateway);
  EXPECT_EQ(r.result_int(), 400u);
  EXPECT_EQ(code(r), "bad_format");
  r = call(http::verb::post, "/api/v1/pings", "[{},{},{},{},{}]", Role::gateway);
  EXPECT_EQ(r.result_int(), 413u);
  EXPECT_EQ(code(r), "batch_too_large");
  r = call(http::verb::get, "/api/v1/nothing", "", Role::admin);
  EXPECT_EQ(r.result_int(), 404u);
  EXPECT_EQ(code(r), "not_found");
  r = call(http::verb::delete_, "/api/v1/units", "", Role::admin);
  EXPECT_EQ(r.result_int(), 405u);
}

TEST_F(ApiTest, AuthMatrix) {
  struct Case {
    http::verb m;
    std::string target, body;
    RoleSet allowed;
  };
  std::vector<Case> cases = {
      {http::verb::post, "/api/v1/pings", R"({"device":"DEV-1","t":1795342500000,"lat":52.6,"lon":-1.1})", kSenders},
      {http::verb::get, "/api/v1/units", "", kStaff},
      {http::verb::put, "/api/v1/units/NA21", R"({"type":"car"})", role_bit(Role::dispatcher) | role_bit(Role::admin)},
      {http::verb::get, "/api/v1/devices", "", role_bit(Role::admin)},
      {http::verb::put, "/api/v1/devices/DEV-9", R"({"kind":"radio"})", role_bit(Role::admin)},
      {http::verb::get, "/metrics", "", role_bit(Role::admin)},
  };
  for (const auto& c : cases) {
    auto none = call(c.m, c.target, c.body);
    EXPECT_EQ(none.result_int(), 401u) << c.target;
    EXPECT_EQ(none[http::field::www_authenticate], "Bearer");
    for (auto role : {Role::device, Role::gateway, Role::dispatcher, Role::sergeant, Role::manager, Role::admin}) {
      auto r = call(c.m, c.target, c.body, role);
      if (allows(role, c.allowed))
        EXPECT_LT(r.result_int(), 300u) << c.target << " as " << role_name(role) << ": " << r.body();
      else
        EXPECT_EQ(r.result_int(), 403u) << c.target << " as " << role_name(role);
    }
  }
  EXPECT_EQ(call(http::verb::get, "/healthz").result_int(), 200u);
}

TEST_F(ApiTest, DeviceTokenOnlyForItsOwnDevice) {
  auto r = call(http::verb::post, "/api/v1/pings", R"({"device":"DEV-2","t":1795342500000,"lat":52.6,"lon":-1.1})",
                Role::device);
  EXPECT_EQ(r.result_int(), 403u);
  EXPECT_EQ(code(r), "device_mismatch");
}

TEST_F(ApiTest, UnitsDevicesAndStatus) {
  auto r = call(http::verb::put, "/api/v1/units/NA21", R"({"type":"arv","skills":["afo","taser"],"home_area":"Oakham"})",
                Role::dispatcher);
  ASSERT_EQ(r.result_int(), 201u) << r.body();
  r = call(http::verb::put, "/api/v1/units/NA21", R"({"status":"unavailable"})", Role::dispatcher);
  ASSERT_EQ(r.result_int(), 200u);
  auto d = json(r);
  EXPECT_STREQ(d["type"].GetString(), "arv");  // unchanged fields are kept
  EXPECT_STREQ(d["status"].GetString(), "unavailable");
  EXPECT_EQ(d["skills"].Size(), 2u);
  r = call(http::verb::put, "/api/v1/devices/ISSI-2001", R"({"kind":"radio","unit":"NA21"})", Role::admin);
  ASSERT_EQ(r.result_int(), 201u) << r.body();
  r = call(http::verb::put, "/api/v1/devices/ISSI-2002", R"({"kind":"radio","unit":"NOPE"})", Role::admin);
  EXPECT_EQ(r.result_int(), 404u);
  r = call(http::verb::put, "/api/v1/devices/ISSI-2002", R"({"kind":"pager"})", Role::admin);
  EXPECT_EQ(r.result_int(), 400u);
  r = call(http::verb::post, "/api/v1/pings", R"({"device":"ISSI-2001","t":1795342500000,"lat":52.6,"lon":-1.1})",
           Role::gateway);
  ASSERT_EQ(r.result_int(), 202u);
  r = call(http::verb::post, "/api/v1/units/NA21/status", R"({"status":"available"})", Role::dispatcher);
  EXPECT_EQ(r.result_int(), 200u);
  r = call(http::verb::post, "/api/v1/units/NA21/status", R"({"status":"asleep"})", Role::dispatcher);
  EXPECT_EQ(r.result_int(), 400u);
  r = call(http::verb::post, "/api/v1/units/NOPE/status", R"({"status":"available"})", Role::dispatcher);
  EXPECT_EQ(r.result_int(), 404u);
  r = call(http::verb::get, "/api/v1/units", "", Role::sergeant);
  d = json(r);
  ASSERT_EQ(d["units"].Size(), 1u);
  const auto& u = d["units"][0];
  EXPECT_STREQ(u["id"].GetString(), "NA21");
  EXPECT_STREQ(u["status"].GetString(), "available");
  EXPECT_DOUBLE_EQ(u["lat"].GetDouble(), 52.6);
  EXPECT_STREQ(u["fix_time"].GetString(), "2026-11-22T10:15:00.000Z");
  EXPECT_STREQ(u["devices"][0].GetString(), "ISSI-2001");
  EXPECT_EQ(call(http::verb::put, "/api/v1/units/bad%20id", "{}", Role::admin).result_int(), 400u);
}

TEST_F(ApiTest, MetricsAreprometheusText) {
  call(http::verb::post, "/api/v1/pings", R"({"device":"X","t":1,"lat":52.6,"lon":-1.1})", Role::gateway);
  auto r = call(http::verb::get, "/metrics", "", Role::admin);
  ASSERT_EQ(r.result_int(), 200u);
  EXPECT_NE(r.body().find("patrolmap_pings_rejected_total{channel=\"json\",reason=\"too_old\"} 1\n"), std::string::npos)
      << r.body().substr(0, 2000);
  EXPECT_NE(r.body().find("# TYPE patrolmap_store_commit_seconds histogram"), std::string::npos);
}

}  // namespace
}  // namespace pm

namespace pm {
namespace {

// The web pages: no token, right types, nothing outside the root, and the
// API's own paths never answered from a file.
TEST_F(ApiTest, ServesWebPagesWithoutAToken) {
  auto files = std::make_shared<StaticFiles>();
  files->add("/index.html", "<!doctype html>map");
  files->add("/app.js", "export {}");
  files->add("/api/v1/units", "shadow");  // a file must never hide an endpoint
  Api web(ApiDeps{cfg_, clock_, metrics_, auth_, live_, *store_, *pipeline_, *rota_, "<html>", dispatch_.get(), files});
  auto get = [&](http::verb m, std::string target, std::string if_none_match = {}) {
    Request req{m, target, 11};
    if (!if_none_match.empty()) req.set(http::field::if_none_match, if_none_match);
    std::promise<Response> p;
    web.handle(std::move(req), [&](Response&& r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  Response root = get(http::verb::get, "/");
  EXPECT_EQ(root.result_int(), 200u);
  EXPECT_EQ(root.body(), "<!doctype html>map");
  EXPECT_EQ(root[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(root[http::field::cache_control], "no-cache");
  Response js = get(http::verb::get, "/app.js?v=1");
  EXPECT_EQ(js.result_int(), 200u);
  EXPECT_EQ(js[http::field::content_type], "text/javascript; charset=utf-8");
  Response head = get(http::verb::head, "/app.js");
  EXPECT_EQ(head.result_int(), 200u);
  EXPECT_EQ(head.body(), "");
  EXPECT_EQ(head[http::field::content_length], "9");
  Response again = get(http::verb::get, "/app.js", std::string(js[http::field::etag]));
  EXPECT_EQ(again.result_int(), 304u);
  EXPECT_EQ(get(http::verb::get, "/../app.js").result_int(), 404u);
  EXPECT_EQ(get(http::verb::get, "/%2e%2e/etc/passwd").result_int(), 404u);
  EXPECT_EQ(get(http::verb::get, "/missing.js").result_int(), 404u);
  EXPECT_EQ(get(http::verb::get, "/api/v1/units").result_int(), 401u);
  EXPECT_EQ(get(http::verb::post, "/app.js").result_int(), 404u);
}

}  // namespace
}  // namespace pm
