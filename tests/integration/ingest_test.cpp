// POST /api/v1/pings end to end: every JSON reason code, the 202 answer
// (accepted count, rejected indexes and codes), what reaches the store, the
// rejection counters in /metrics, out-of-order fixes and the emergency flag.
// The server clock is fixed at kNow (2026-11-22T10:00:00Z), so time limits are
// checked to the millisecond.
#include <gtest/gtest.h>

#include <set>

#include "tests/integration/harness.hpp"

namespace pm::itest {
namespace {

constexpr EpochMs kSec = 1000;
constexpr EpochMs kDay = 86400 * kSec;

// A ping at the i-th real crime location.
Ping at(const std::string& device, EpochMs t, size_t i) {
  const auto& p = crime_points()[i];
  return Ping{device, t, p.lat, p.lon, {}, {}};
}

// A server with registration required (the default) and devices
// AVL-1..AVL-3 linked to units U1..U3.
struct Registered : TestServer {
  Registered() : TestServer(Overrides{}) { setup(); }
  Registered(std::initializer_list<std::pair<const std::string, std::string>> o) : TestServer(o) { setup(); }
  void setup() {
    for (int i = 1; i <= 3; ++i) {
      put_unit("U" + std::to_string(i));
      put_device("AVL-" + std::to_string(i), "U" + std::to_string(i));
    }
    gateway = token(Role::gateway);
  }
  std::string gateway;
};

std::set<std::pair<std::string, EpochMs>> stored_keys(const std::string& data_dir) {
  DbView db(data_dir);
  std::set<std::pair<std::string, EpochMs>> out;
  for (const auto& f : db.fixes()) out.insert({f.device, f.t});
  return out;
}

std::string rejected_series(const std::string& reason) {
  return "patrolmap_pings_rejected_total{channel=\"json\",reason=\"" + reason + "\"}";
}
const std::string kAcceptedJson = "patrolmap_pings_accepted_total{channel=\"json\"}";

TEST(Ingest, BodyThatIsNotJsonIsOneBadFormatError) {
  Registered s;
  for (std::string body : {"this is not json", "42", "", "[{\"device\":\"AVL-1\",\"t\":1", "\"AVL-1\""}) {
    auto r = s.post_pings(s.gateway, body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(error_code(r), "bad_format") << body << " -> " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
  }
  auto m = s.metrics_page();
  EXPECT_EQ(metric(m, rejected_series("bad_format")), 5);
  EXPECT_EQ(metric(m, kAcceptedJson), 0);
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 0);
}

TEST(Ingest, ItemsOfWrongTypeAreRejectedByIndexAndTheRestStored) {
  Registered s;
  const std::string good0 = ping_json(at("AVL-1", kNow - 10 * kSec, 0));
  const std::string good8 = ping_json(at("AVL-2", kNow - 9 * kSec, 1));
  const std::string body = "[" + good0 + "," +
                           R"({"device":"AVL-1","t":1795341590000,"lat":"52.6","lon":-1.1},)"       // 1 lat string
                           R"({"device":7,"t":1795341590000,"lat":52.6,"lon":-1.1},)"              // 2 device number
                           R"(5,)"                                                                 // 3 not an object
                           R"({"device":"AVL-1","t":true,"lat":52.6,"lon":-1.1},)"                 // 4 t bool
                           R"({"device":"AVL-1","t":1795341591000,"lat":52.6,"lon":-1.1,"speed_mps":"fast"},)"  // 5
                           R"({"device":"AVL-1","t":1795341592000,"lat":52.6,"lon":-1.1,"emergency":"yes"},)"   // 6
                           R"({"device":"AVL-1","t":"yesterday","lat":52.6,"lon":-1.1},)" +          // 7
                           good8 + "]";
  auto r = s.post_pings(s.gateway, body);
  ASSERT_EQ(r.status, 202) << r.body;
  auto a = ingest_answer(r);
  EXPECT_EQ(a.accepted, 2);
  EXPECT_EQ(a.rejected, (Rejected{{1, "bad_format"}, {2, "bad_format"}, {3, "bad_format"}, {4, "bad_format"},
                                  {5, "bad_format"}, {6, "bad_format"}, {7, "bad_format"}}));
  EXPECT_EQ(stored_keys(s.data_dir()),
            (std::set<std::pair<std::string, EpochMs>>{{"AVL-1", kNow - 10 * kSec}, {"AVL-2", kNow - 9 * kSec}}));
}

TEST(Ingest, MissingFieldsAreRejectedByIndex) {
  Registered s;
  const std::string body =
      "["
      R"({"t":1795341590000,"lat":52.6,"lon":-1.1},)"                      // 0 no device
      R"({"device":null,"t":1795341590000,"lat":52.6,"lon":-1.1},)"        // 1 device null
      R"({"device":"AVL-1","lat":52.6,"lon":-1.1},)"                        // 2 no t
      R"({"device":"AVL-1","t":1795341590000,"lon":-1.1},)"                 // 3 no lat
      R"({"device":"AVL-1","t":1795341590000,"lat":52.6,"lon":null},)" +    // 4 lon null
      ping_json(at("AVL-1", kNow - 5 * kSec, 2)) + "]";
  auto r = s.post_pings(s.gateway, body);
  ASSERT_EQ(r.status, 202) << r.body;
  auto a = ingest_answer(r);
  EXPECT_EQ(a.accepted, 1);
  EXPECT_EQ(a.rejected, (Rejected{{0, "missing_field"}, {1, "missing_field"}, {2, "missing_field"},
                                  {3, "missing_field"}, {4, "missing_field"}}));
  EXPECT_EQ(metric(s.metrics_page(), rejected_series("missing_field")), 5);
}

TEST(Ingest, BadCoordinatesAreRejected) {
  Registered s;
  std::vector<Ping> ps = {
      {"AVL-1", kNow - 50 * kSec, 95.0, -1.1, {}, {}},    // 0 lat > 90
      {"AVL-1", kNow - 49 * kSec, 52.6, -181.0, {}, {}},  // 1 lon < -180
      {"AVL-1", kNow - 48 * kSec, 0.0, 0.0, {}, {}},      // 2 the no-fix position
      {"AVL-1", kNow - 47 * kSec, -90.5, 10.0, {}, {}},   // 3 lat < -90
      at("AVL-1", kNow - 46 * kSec, 3),                   // 4 fine
  };
  auto r = s.post_pings(s.gateway, pings_json(ps));
  ASSERT_EQ(r.status, 202) << r.body;
  auto a = ingest_answer(r);
  EXPECT_EQ(a.accepted, 1);
  EXPECT_EQ(a.rejected, (Rejected{{0, "bad_coordinate"}, {1, "bad_coordinate"}, {2, "bad_coordinate"},
                                  {3, "bad_coordinate"}}));
  EXPECT_EQ(stored_keys(s.data_dir()), (std::set<std::pair<std::string, EpochMs>>{{"AVL-1", kNow - 46 * kSec}}));
}

TEST(Ingest, FutureTimeBeyondFutureSeconds) {
  Registered s;  // ingest.future_s = 60 (default)
  std::vector<Ping> ps = {
      at("AVL-1", kNow + 120 * kSec, 4),     // 0 two minutes ahead
      at("AVL-1", kNow + 30 * kSec, 5),      // 1 accepted
      at("AVL-2", kNow + 60 * kSec, 6),      // 2 exactly the limit: accepted
      at("AVL-3", kNow + 60 * kSec + 1, 7),  // 3 one millisecond beyond
  };
  auto r = s.post_pings(s.gateway, pings_json(ps));
  ASSERT_EQ(r.status, 202) << r.body;
  auto a = ingest_answer(r);
  EXPECT_EQ(a.accepted, 2);
  EXPECT_EQ(a.rejected, (Rejected{{0, "future_time"}, {3, "future_time"}}));
  EXPECT_EQ(stored_keys(s.data_dir()), (std::set<std::pair<std::string, EpochMs>>{
                                           {"AVL-1", kNow + 30 * kSec}, {"AVL-2", kNow + 60 * kSec}}));
}

TEST(Ingest, TooOldBeyondTooOldSeconds) {
  {
    Registered s;  // ingest.too_old_s = 86400 (default)
    std::vector<Ping> ps = {
        at("AVL-1", kNow - 2 * kDay, 8),  // 0 two days old
        at("AVL-1", kNow - kDay, 9),      // 1 exactly the limit: accepted
        at("AVL-2", kNow - kDay - 1, 10), // 2 one millisecond beyond
    };
    auto r = s.post_pings(s.gateway, pings_json(ps));
    ASSERT_EQ(r.status, 202) << r.body;
    auto a = ingest_answer(r);
    EXPECT_EQ(a.accepted, 1);
    EXPECT_EQ(a.rejected, (Rejected{{0, "too_old"}, {2, "too_old"}}));
  }
  {
    Registered s({{"ingest.too_old_s", "0"}});  // 0 disables the check: replaying old captures
    std::vector<Ping> ps = {
        at("AVL-1", kNow - 2 * kDay, 8),
        at("AVL-2", kNow - 3650 * kDay, 11),  // ten years back
    };
    auto r = s.post_pings(s.gateway, pings_json(ps));
    ASSERT_EQ(r.status, 202) << r.body;
    auto a = ingest_answer(r);
    EXPECT_EQ(a.accepted, 2);
    EXPECT_EQ(a.rejected, Rejected{});
    EXPECT_EQ(stored_keys(s.data_dir()), (std::set<std::pair<std::string, EpochMs>>{
                                             {"AVL-1", kNow - 2 * kDay}, {"AVL-2", kNow - 3650 * kDay}}));
  }
}

TEST(Ingest, DuplicatesInOneBatchAndAcrossRequests) {
  Registered s;
  const EpochMs t = kNow - 20 * kSec;
  std::vector<Ping> first = {at("AVL-1", t, 12), at("AVL-1", t, 13) /* same device+t, other place */, at("AVL-2", t, 14)};
  auto r1 = s.post_pings(s.gateway, pings_json(first));
  ASSERT_EQ(r1.status, 202) << r1.body;
  auto a1 = ingest_answer(r1);
  EXPECT_EQ(a1.accepted, 2);
  EXPECT_EQ(a1.rejected, (Rejected{{1, "duplicate"}}));

  std::vector<Ping> second = {at("AVL-1", t, 15), at("AVL-1", t + 1, 16)};
  auto r2 = s.post_pings(s.gateway, pings_json(second));
  ASSERT_EQ(r2.status, 202) << r2.body;
  auto a2 = ingest_answer(r2);
  EXPECT_EQ(a2.accepted, 1);
  EXPECT_EQ(a2.rejected, (Rejected{{0, "duplicate"}}));

  // The first fix for (AVL-1, t) is the one kept.
  DbView db(s.data_dir());
  auto rows = db.fixes();
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& f : rows)
    if (f.device == "AVL-1" && f.t == t) {
      EXPECT_NEAR(f.lat, crime_points()[12].lat, 1e-9);
      EXPECT_NEAR(f.lon, crime_points()[12].lon, 1e-9);
    }
  EXPECT_EQ(metric(s.metrics_page(), rejected_series("duplicate")), 2);
}

TEST(Ingest, UnknownDeviceIsRejectedWhenRegistrationIsRequired) {
  Registered s;
  std::vector<Ping> ps = {at("AVL-1", kNow - 5 * kSec, 17), at("GHOST-9", kNow - 5 * kSec, 18)};
  auto r = s.post_pings(s.gateway, pings_json(ps));
  ASSERT_EQ(r.status, 202) << r.body;
  auto a = ingest_answer(r);
  EXPECT_EQ(a.accepted, 1);
  EXPECT_EQ(a.rejected, (Rejected{{1, "unknown_device"}}));
  rapidjson::Document d;
  auto units = s.units(d);
  EXPECT_EQ(units.count("GHOST-9"), 0u);
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM devices WHERE id = 'GHOST-9'"), 0);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM units WHERE id = 'GHOST-9'"), 0);
  EXPECT_EQ(metric(s.metrics_page(), rejected_series("unknown_device")), 1);
}

TEST(Ingest, AutoRegistrationCreatesDeviceAndUnitOfTheSameId) {
  TestServer s({{"ingest.registration", "auto"}, {"ingest.auto_unit_type", "van"}});
  auto gw = s.token(Role::gateway);
  Ping p = at("NA21", kNow - 3 * kSec, 19);
  auto r = s.post_pings(gw, ping_json(p));
  ASSERT_EQ(r.status, 202) << r.body;
  auto a = ingest_answer(r);
  EXPECT_EQ(a.accepted, 1);
  EXPECT_EQ(a.rejected, Rejected{});

  rapidjson::Document d;
  auto units = s.units(d);
  ASSERT_EQ(units.count("NA21"), 1u);
  const auto& u = *units["NA21"];
  EXPECT_STREQ(u["type"].GetString(), "van");
  EXPECT_STREQ(u["status"].GetString(), "available");
  EXPECT_NEAR(u["lat"].GetDouble(), p.lat, 1e-9);
  EXPECT_NEAR(u["lon"].GetDouble(), p.lon, 1e-9);
  EXPECT_STREQ(u["fix_time"].GetString(), "2026-11-22T09:59:57.000Z");
  EXPECT_STREQ(u["source"].GetString(), "json");

  auto admin = s.token(Role::admin);
  auto rd = s.request("GET", "/api/v1/devices", {}, admin);
  ASSERT_EQ(rd.status, 200);
  auto dd = parse_json(rd.body);
  ASSERT_EQ(dd["devices"].Size(), 1u);
  EXPECT_STREQ(dd["devices"][0]["id"].GetString(), "NA21");
  EXPECT_STREQ(dd["devices"][0]["kind"].GetString(), "avl");
  EXPECT_STREQ(dd["devices"][0]["unit"].GetString(), "NA21");
}

TEST(Ingest, MixedBatchStoresExactlyTheGoodItems) {
  Registered s;
  s.put_unit("U9");  // a unit without a device: pings for "U9" are still unknown
  std::vector<std::string> items = {
      ping_json(at("AVL-1", kNow - 40 * kSec, 20)),                // 0 ok
      ping_json({"AVL-1", kNow - 39 * kSec, 91.0, -1.0, {}, {}}),  // 1 bad_coordinate
      R"({"device":"AVL-2","lat":52.6,"lon":-1.1})",               // 2 missing_field
      ping_json(at("U9", kNow - 38 * kSec, 21)),                   // 3 unknown_device
      ping_json(at("AVL-2", kNow + 61 * kSec, 22)),                // 4 future_time
      ping_json(at("AVL-2", kNow - 37 * kSec, 23)),                // 5 ok
      ping_json(at("AVL-3", kNow - kDay - kSec, 24)),              // 6 too_old
      ping_json(at("AVL-1", kNow - 40 * kSec, 25)),                // 7 duplicate of 0
      R"({"device":"AVL-3","t":[1],"lat":52.6,"lon":-1.1})",       // 8 bad_format
      ping_json(at("AVL-3", kNow - 36 * kSec, 26)),                // 9 ok
  };
  std::string body = "[";
  for (size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + items[i];
  body += "]";
  auto r = s.post_pings(s.gateway, body);
  ASSERT_EQ(r.status, 202) << r.body;
  auto a = ingest_answer(r);
  EXPECT_EQ(a.accepted, 3);
  EXPECT_EQ(a.rejected, (Rejected{{1, "bad_coordinate"}, {2, "missing_field"}, {3, "unknown_device"},
                                  {4, "future_time"}, {6, "too_old"}, {7, "duplicate"}, {8, "bad_format"}}));
  DbView db(s.data_dir());
  auto rows = db.fixes();
  ASSERT_EQ(rows.size(), 3u);
  std::map<std::string, FixRow> by_device;
  for (const auto& f : rows) by_device[f.device] = f;
  EXPECT_EQ(by_device["AVL-1"].t, kNow - 40 * kSec);
  EXPECT_NEAR(by_device["AVL-1"].lat, crime_points()[20].lat, 1e-9);
  EXPECT_EQ(by_device["AVL-2"].t, kNow - 37 * kSec);
  EXPECT_NEAR(by_device["AVL-2"].lon, crime_points()[23].lon, 1e-9);
  EXPECT_EQ(by_device["AVL-3"].t, kNow - 36 * kSec);
  EXPECT_EQ(by_device["AVL-3"].unit, std::optional<std::string>("U3"));
}

TEST(Ingest, RejectionsAreCountedByReasonInMetrics) {
  Registered s;
  auto post = [&](const std::string& body) {
    auto r = s.post_pings(s.gateway, body);
    EXPECT_TRUE(r.status == 202 || r.status == 400) << r.status << " " << r.body;
  };
  post("{{{");                                                              // bad_format (whole body)
  post(pings_json({at("AVL-1", kNow + 120 * kSec, 30), at("AVL-1", kNow + 90 * kSec, 31),
                   at("AVL-2", kNow - 10 * kSec, 32)}));                     // 2 future_time, 1 ok
  post(pings_json({at("AVL-1", kNow - 3 * kDay, 33)}));                     // too_old
  post(pings_json({{"AVL-1", kNow - 9 * kSec, 0.0, 0.0, {}, {}}, {"AVL-1", kNow - 8 * kSec, 52.0, 200.0, {}, {}},
                   {"AVL-1", kNow - 7 * kSec, -100.0, 1.0, {}, {}}}));      // 3 bad_coordinate
  post(R"([{"device":"AVL-1","lat":1,"lon":1}])");                          // missing_field
  post(pings_json({at("AVL-2", kNow - 10 * kSec, 34)}));                    // duplicate
  post(pings_json({at("NOPE-1", kNow - 10 * kSec, 35), at("AVL-3", kNow - 10 * kSec, 36)}));  // unknown, 1 ok
  auto m = s.metrics_page();
  EXPECT_EQ(metric(m, kAcceptedJson), 2);
  EXPECT_EQ(metric(m, rejected_series("bad_format")), 1);
  EXPECT_EQ(metric(m, rejected_series("future_time")), 2);
  EXPECT_EQ(metric(m, rejected_series("too_old")), 1);
  EXPECT_EQ(metric(m, rejected_series("bad_coordinate")), 3);
  EXPECT_EQ(metric(m, rejected_series("missing_field")), 1);
  EXPECT_EQ(metric(m, rejected_series("duplicate")), 1);
  EXPECT_EQ(metric(m, rejected_series("unknown_device")), 1);
  EXPECT_EQ(metric(m, rejected_series("bad_checksum")), 0);
  EXPECT_EQ(metric(m, "patrolmap_pings_rejected_total{channel=\"osmand\",reason=\"future_time\"}"), 0);
}

TEST(Ingest, BatchLargerThanMaxBatchIs413) {
  Registered s({{"ingest.max_batch", "3"}});
  std::vector<Ping> three = {at("AVL-1", kNow - 3 * kSec, 40), at("AVL-2", kNow - 3 * kSec, 41),
                             at("AVL-3", kNow - 3 * kSec, 42)};
  auto ok = s.post_pings(s.gateway, pings_json(three));
  ASSERT_EQ(ok.status, 202) << ok.body;
  EXPECT_EQ(ingest_answer(ok).accepted, 3);
  auto four = three;
  for (auto& p : four) p.t -= kSec;
  four.push_back(at("AVL-1", kNow - kSec, 43));
  auto r = s.post_pings(s.gateway, pings_json(four));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(error_code(r), "batch_too_large");
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 3);
  EXPECT_EQ(metric(s.metrics_page(), "patrolmap_errors_total{code=\"batch_too_large\"}"), 1);
}

TEST(Ingest, BodyLargerThanBodyLimitIs413) {
  Registered s({{"http.body_limit_bytes", "2048"}});
  std::vector<Ping> small = {at("AVL-1", kNow - 100 * kSec, 44), at("AVL-2", kNow - 100 * kSec, 45)};
  auto ok = s.post_pings(s.gateway, pings_json(small));
  ASSERT_EQ(ok.status, 202) << ok.body;
  std::vector<Ping> big;
  for (int i = 0; i < 40; ++i) big.push_back(at("AVL-3", kNow - 90 * kSec + i, 46 + static_cast<size_t>(i)));
  std::string body = pings_json(big);
  ASSERT_GT(body.size(), 2048u);
  auto r = s.post_pings(s.gateway, body);
  EXPECT_EQ(r.status, 413) << r.error << r.body;
  EXPECT_EQ(error_code(r), "body_too_large");
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM fixes"), 2);
  // The server still serves.
  auto again = s.post_pings(s.gateway, pings_json({at("AVL-3", kNow - 80 * kSec, 90)}));
  EXPECT_EQ(again.status, 202);
}

TEST(Ingest, IsoTimeWithOffsetIsTheSameInstantAsZ) {
  Registered s;
  const auto& p = crime_points()[100];
  auto body = [&](const std::string& t) {
    char b[256];
    std::snprintf(b, sizeof b, R"({"device":"AVL-1","t":"%s","lat":%.6f,"lon":%.6f})", t.c_str(), p.lat, p.lon);
    return std::string(b);
  };
  // 10:59:30.250+01:00 is 09:59:30.250Z = kNow - 29.750 s.
  auto r1 = s.post_pings(s.gateway, body("2026-11-22T10:59:30.250+01:00"));
  ASSERT_EQ(r1.status, 202) << r1.body;
  EXPECT_EQ(ingest_answer(r1).accepted, 1);
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT t FROM fixes"), kNow - 29750);
  for (std::string same : {"2026-11-22T09:59:30.250Z", "2026-11-22T04:59:30.250-05:00", "2026-11-22T09:59:30.250+00:00"}) {
    auto r = s.post_pings(s.gateway, body(same));
    ASSERT_EQ(r.status, 202) << r.body;
    auto a = ingest_answer(r);
    EXPECT_EQ(a.accepted, 0) << same;
    EXPECT_EQ(a.rejected, (Rejected{{0, "duplicate"}})) << same;
  }
  rapidjson::Document d;
  auto units = s.units(d);
  ASSERT_TRUE(units.count("U1"));
  EXPECT_STREQ((*units["U1"])["fix_time"].GetString(), "2026-11-22T09:59:30.250Z");
  // Epoch milliseconds and a single object (not an array) work too.
  auto r2 = s.post_pings(s.gateway, ping_json(at("AVL-2", kNow - 1, 101)));
  ASSERT_EQ(r2.status, 202);
  EXPECT_EQ(ingest_answer(r2).accepted, 1);
  EXPECT_EQ(db.scalar("SELECT t FROM fixes f JOIN devices d ON d.idx = f.device WHERE d.id = 'AVL-2'"), kNow - 1);
}

TEST(Ingest, OutOfOrderFixesAreStoredButNeverMoveTheUnitBackwards) {
  Registered s;
  const auto& track = gpx_track();
  // Real car positions, times every 5 s up to a minute before now.
  auto tp = [&](size_t i) { return Ping{"AVL-1", kNow - 3600 * kSec + static_cast<EpochMs>(i) * 5 * kSec,
                                        track[i].lat, track[i].lon, {}, {}}; };
  auto expect_unit_at = [&](size_t i) {
    rapidjson::Document d;
    auto units = s.units(d);
    ASSERT_TRUE(units.count("U1"));
    const auto& u = *units["U1"];
    EXPECT_NEAR(u["lat"].GetDouble(), track[i].lat, 1e-9) << "expected track point " << i;
    EXPECT_NEAR(u["lon"].GetDouble(), track[i].lon, 1e-9) << "expected track point " << i;
  };
  auto send = [&](std::vector<Ping> ps) {
    auto r = s.post_pings(s.gateway, pings_json(ps));
    ASSERT_EQ(r.status, 202) << r.body;
    auto a = ingest_answer(r);
    EXPECT_EQ(a.accepted, static_cast<int>(ps.size()));
    EXPECT_EQ(a.rejected, Rejected{});
  };
  send({tp(300)});
  expect_unit_at(300);
  send({tp(100)});  // earlier: stored, unit stays
  expect_unit_at(300);
  send({tp(500), tp(400)});  // newest first within a batch
  expect_unit_at(500);
  send({tp(499)});
  expect_unit_at(500);
  send({tp(501)});
  expect_unit_at(501);
  EXPECT_EQ(stored_keys(s.data_dir()).size(), 6u);
}

TEST(Ingest, EmergencyFlagShowsInTheUnitView) {
  Registered s;
  Ping p = at("AVL-2", kNow - 30 * kSec, 200);
  p.emergency = true;
  p.speed_mps = 12.5;
  auto r = s.post_pings(s.gateway, ping_json(p));
  ASSERT_EQ(r.status, 202) << r.body;
  {
    rapidjson::Document d;
    auto units = s.units(d);
    ASSERT_TRUE(units.count("U2"));
    EXPECT_TRUE((*units["U2"])["emergency"].GetBool());
    EXPECT_DOUBLE_EQ((*units["U2"])["speed_mps"].GetDouble(), 12.5);
    EXPECT_FALSE((*units["U1"])["emergency"].GetBool());
  }
  DbView db(s.data_dir());
  EXPECT_EQ(db.scalar("SELECT flags FROM fixes"), 1);
  Ping later = at("AVL-2", kNow - 20 * kSec, 201);
  later.emergency = false;
  ASSERT_EQ(s.post_pings(s.gateway, ping_json(later)).status, 202);
  {
    // Radios send the emergency once; the next routine report must not hide it.
    rapidjson::Document d;
    auto units = s.units(d);
    EXPECT_TRUE((*units["U2"])["emergency"].GetBool());
  }
  // A dispatcher acknowledges the alert: then it is over.
  auto dispatcher = s.token(Role::dispatcher);
  auto alerts = s.request("GET", "/api/v1/alerts", {}, dispatcher);
  ASSERT_EQ(alerts.status, 200) << alerts.body;
  auto a = parse_json(alerts.body);
  ASSERT_EQ(a["alerts"].Size(), 1u) << alerts.body;
  EXPECT_STREQ(a["alerts"][0]["kind"].GetString(), "officer_emergency");
  EXPECT_STREQ(a["alerts"][0]["unit"].GetString(), "U2");
  auto ack = s.request("POST", "/api/v1/alerts/" + std::to_string(a["alerts"][0]["id"].GetUint64()) + "/ack", {},
                       dispatcher);
  ASSERT_EQ(ack.status, 200) << ack.body;
  rapidjson::Document d;
  auto units = s.units(d);
  EXPECT_FALSE((*units["U2"])["emergency"].GetBool());
}

// With the age limit off (ingest.too_old_s=0, for replaying captures) a fix
// time must still be a time the API can print: years 0000-9999. Today
// t = INT64_MIN is stored and GET /api/v1/units then overflows in
// format_iso8601 (`t - 999`; UBSan aborts), and years outside 0000-9999 are
// printed wrapped modulo 10000: see the report.
TEST(Ingest, FixTimesOutsideWhatIso8601CanPrintAreRejectedEvenWithoutAgeLimit) {
  Registered s({{"ingest.too_old_s", "0"}});
  const auto& p = crime_points()[300];
  char body[512];
  std::snprintf(body, sizeof body,
                R"([{"device":"AVL-1","t":-9223372036854775808,"lat":%.6f,"lon":%.6f},)"
                R"({"device":"AVL-2","t":-100000000000000,"lat":%.6f,"lon":%.6f},)"
                R"({"device":"AVL-3","t":-62135596800000,"lat":%.6f,"lon":%.6f}])",
                p.lat, p.lon, p.lat, p.lon, p.lat, p.lon);
  auto r = s.post_pings(s.gateway, body);
  ASSERT_EQ(r.status, 202) << r.body;
  auto a = ingest_answer(r);
  // Item 2 is 0001-01-01T00:00:00Z (`date -u -d @-62135596800`): printable. Items 0 and 1 are not.
  EXPECT_EQ(a.accepted, 1) << r.body;
  EXPECT_EQ(a.rejected.size(), 2u) << r.body;
  if (a.rejected.size() == 2) {
    EXPECT_EQ(a.rejected[0].first, 0u);
    EXPECT_EQ(a.rejected[1].first, 1u);
  }
  rapidjson::Document d;
  auto units = s.units(d);
  ASSERT_TRUE(units.count("U3"));
  if (units.count("U2") && (*units["U2"])["fix_time"].IsString()) {
    ADD_FAILURE() << "a year -1199 fix was stored and is shown as " << (*units["U2"])["fix_time"].GetString();
  }
  EXPECT_STREQ((*units["U3"])["fix_time"].GetString(), "0001-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace pm::itest
