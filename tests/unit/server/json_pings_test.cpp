#include "server/ingest/json_pings.hpp"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(JsonPings, SingleObjectAllFields) {
  std::string body = R"({"device":"AVL-0231","t":"2026-11-22T10:15:03.250Z","lat":52.67,"lon":-0.73,
                        "speed_mps":8.1,"heading_deg":270,"accuracy_m":5,"emergency":true,"extra":"ignored"})";
  JsonPingBatch b;
  ASSERT_FALSE(decode_json_pings(body, 10, b).has_value());
  ASSERT_EQ(b.pings.size(), 1u);
  EXPECT_EQ(b.items, 1u);
  const RawPing& p = b.pings[0];
  EXPECT_EQ(p.device, "AVL-0231");
  EXPECT_EQ(p.t, 1795342503250);
  EXPECT_DOUBLE_EQ(p.lat, 52.67);
  EXPECT_DOUBLE_EQ(p.lon, -0.73);
  EXPECT_FLOAT_EQ(p.speed_mps, 8.1f);
  EXPECT_FLOAT_EQ(p.heading_deg, 270.0f);
  EXPECT_FLOAT_EQ(p.accuracy_m, 5.0f);
  EXPECT_TRUE(p.emergency);
}

TEST(JsonPings, ArrayWithEpochMsAndOptionalNulls) {
  std::string body = R"([{"device":"A","t":1795342503250,"lat":1.5,"lon":2.5,"speed_mps":null},
                         {"device":"B","t":1795342503251.0,"lat":-1,"lon":-2}])";
  JsonPingBatch b;
  ASSERT_FALSE(decode_json_pings(body, 10, b).has_value());
  ASSERT_EQ(b.pings.size(), 2u);
  EXPECT_EQ(b.pings[0].t, 1795342503250);
  EXPECT_TRUE(std::isnan(b.pings[0].speed_mps));
  EXPECT_EQ(b.pings[1].t, 1795342503251);
  EXPECT_EQ(b.positions, (std::vector<uint32_t>{0, 1}));
}

TEST(JsonPings, BadItemsAreRejectedByPositionOthersLoad) {
  std::string body = R"([{"device":"A","t":1,"lat":1,"lon":2},
                         {"t":1,"lat":1,"lon":2},
                         {"device":"C","t":"yesterday","lat":1,"lon":2},
                         {"device":"D","t":1,"lat":"52","lon":2},
                         {"device":"E","t":1,"lon":2},
                         42,
                         {"device":"G","t":1,"lat":1,"lon":2,"emergency":"yes"},
                         {"device":"","t":1,"lat":1,"lon":2},
                         {"device":"I","t":1,"lat":1,"lon":2,"heading_deg":"north"}])";
  JsonPingBatch b;
  ASSERT_FALSE(decode_json_pings(body, 100, b).has_value());
  ASSERT_EQ(b.pings.size(), 1u);
  EXPECT_EQ(b.pings[0].device, "A");
  EXPECT_EQ(b.items, 9u);
  std::vector<std::pair<uint32_t, Errc>> got;
  for (const auto& r : b.rejections) got.emplace_back(r.index, r.code);
  std::vector<std::pair<uint32_t, Errc>> want = {{1, Errc::missing_field}, {2, Errc::bad_format}, {3, Errc::bad_format},
                                                 {4, Errc::missing_field}, {5, Errc::bad_format}, {6, Errc::bad_format},
                                                 {7, Errc::bad_format},    {8, Errc::bad_format}};
  EXPECT_EQ(got, want);
}

TEST(JsonPings, WholeBodyFailures) {
  JsonPingBatch b;
  for (std::string body : {std::string("not json"), std::string("\"a string\""), std::string("[1,2"), std::string("")}) {
    auto e = decode_json_pings(body, 10, b);
    ASSERT_TRUE(e.has_value()) << body;
    EXPECT_EQ(e->code, Errc::bad_format);
  }
  std::string big = "[{},{},{}]";
  auto e = decode_json_pings(big, 2, b);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, Errc::batch_too_large);
}

TEST(JsonPings, DeepNestingDoesNotCrash) {
  std::string body(200000, '[');
  JsonPingBatch b;
  auto e = decode_json_pings(body, 10, b);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, Errc::bad_format);
}

}  // namespace
}  // namespace pm

namespace pm {
namespace {

// Found by the json_pings fuzz target: with full-precision parsing RapidJSON
// 1.1.0 hit undefined behaviour (clz of zero) on a zero mantissa with an
// exponent. The decoder must answer bad_format, nothing else.
TEST(JsonPings, ZeroMantissaWithExponentIsHandled) {
  for (std::string body : {std::string("0E82%"), std::string("[{\"device\":\"A\",\"t\":0E82,\"lat\":0e400,\"lon\":1}]")}) {
    JsonPingBatch b;
    auto e = decode_json_pings(body, 10, b);
    if (e) EXPECT_EQ(e->code, Errc::bad_format);
    else EXPECT_EQ(b.items, 1u);
  }
}

}  // namespace
}  // namespace pm
