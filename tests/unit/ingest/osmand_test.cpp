#include "server/ingest/osmand.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace pm {
namespace {

constexpr EpochMs kNow = 1795342503250;  // 2026-11-22T10:15:03.250Z
const double kKnot = 1852.0 / 3600.0;    // m/s, from the definition of the nautical mile

// Decodes one query and expects a ping.
RawPing ping_of(std::string_view query, DecodedPings& out) {
  decode_osmand_query(query, kNow, out);
  EXPECT_TRUE(out.rejections.empty()) << query << " -> " << (out.rejections.empty() ? "" : out.rejections[0].detail);
  EXPECT_EQ(out.pings.size(), 1u) << query;
  return out.pings.empty() ? RawPing{} : out.pings[0];
}

Errc rejection_of(std::string_view query) {
  DecodedPings out;
  decode_osmand_query(query, kNow, out);
  EXPECT_TRUE(out.pings.empty()) << query;
  EXPECT_EQ(out.rejections.size(), 1u) << query;
  return out.rejections.empty() ? Errc::kCount : out.rejections[0].code;
}

// What Traccar Client for Android sends (ProtocolFormatter: id, timestamp in
// seconds, lat, lon, speed in knots, bearing, altitude, accuracy, batt).
TEST(OsmAndQuery, TraccarClientAndroidRequest) {
  DecodedPings out;
  RawPing p = ping_of(
      "id=123456&timestamp=1609459200&lat=52.6703&lon=-0.7277&speed=10.0&bearing=270.0&altitude=100.0&accuracy=5.0"
      "&batt=87.0",
      out);
  EXPECT_EQ(p.device, "123456");
  EXPECT_EQ(p.t, 1609459200000);
  EXPECT_DOUBLE_EQ(p.lat, 52.6703);
  EXPECT_DOUBLE_EQ(p.lon, -0.7277);
  EXPECT_FLOAT_EQ(p.speed_mps, static_cast<float>(10 * kKnot));
  EXPECT_NEAR(p.speed_mps, 5.1444444, 1e-5);
  EXPECT_FLOAT_EQ(p.heading_deg, 270.0f);
  EXPECT_FLOAT_EQ(p.accuracy_m, 5.0f);
  EXPECT_FALSE(p.emergency);
  EXPECT_EQ(out.positions, (std::vector<uint32_t>{0}));
}

// Requests from Traccar's own OsmAnd decoder tests (as devices and the OsmAnd
// app send them), each with what it must decode to.
TEST(OsmAndQuery, RequestsFromTheField) {
  {
    DecodedPings out;
    RawPing p = ping_of(
        "id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0"
        "&altitude=224.0&speed=0.0",
        out);
    EXPECT_EQ(p.device, "902064");
    EXPECT_EQ(p.t, 1453920947000);
    EXPECT_FLOAT_EQ(p.speed_mps, 0.0f);
    EXPECT_TRUE(std::isnan(p.accuracy_m));  // hdop is no distance: not taken as accuracy
  }
  {
    DecodedPings out;
    RawPing p = ping_of("id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0", out);
    EXPECT_EQ(p.t, 1442068686579);  // the OsmAnd app sends milliseconds
  }
  {
    DecodedPings out;  // '+' is a space: "2014-06-04 09:10:11", no zone, read as UTC
    RawPing p = ping_of(
        "lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0"
        "&id=353861053849681",
        out);
    EXPECT_EQ(p.device, "353861053849681");
    EXPECT_EQ(p.t, 1401873011000);
  }
  {
    DecodedPings out;  // deviceid is an alias of id; heading of bearing; no timestamp: the time of receipt
    RawPing p = ping_of("lat=60.0&lon=30.0&speed=0.0&heading=90.0&vacc=0&hacc=0&altitude=0&deviceid=123456", out);
    EXPECT_EQ(p.device, "123456");
    EXPECT_EQ(p.t, kNow);
    EXPECT_FLOAT_EQ(p.heading_deg, 90.0f);
  }
  {
    DecodedPings out;
    RawPing p = ping_of("id=123456&timestamp=1377177267&location=60.0,30.0", out);
    EXPECT_EQ(p.t, 1377177267000);
    EXPECT_DOUBLE_EQ(p.lat, 60.0);
    EXPECT_DOUBLE_EQ(p.lon, 30.0);
  }
  {
    DecodedPings out;  // vehicle attributes the server has no use for are ignored
    RawPing p = ping_of(
        "id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571"
        "&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24",
        out);
    EXPECT_FLOAT_EQ(p.speed_mps, static_cast<float>(40 * kKnot));
    EXPECT_FLOAT_EQ(p.heading_deg, 7.19889788244f);
  }
}

TEST(OsmAndQuery, TimestampFormsAgree) {
  const EpochMs want = 1609459200000;  // 2021-01-01T00:00:00Z
  for (std::string_view ts :
       {"1609459200", "1609459200000", "2021-01-01T00:00:00Z", "2021-01-01T00%3A00%3A00Z", "2021-01-01T00:00:00.000Z",
        "2021-01-01T01:00:00%2B01:00", "2020-12-31T19:00:00-05:00", "2021-01-01+00:00:00", "2021-01-01T00:00:00"}) {
    DecodedPings out;
    RawPing p = ping_of("id=1&lat=52.6&lon=-0.7&timestamp=" + std::string(ts), out);
    EXPECT_EQ(p.t, want) << ts;
  }
  // Traccar's rule: a whole number below 2^31-1 is seconds, from there on milliseconds.
  DecodedPings a, b;
  EXPECT_EQ(ping_of("id=1&lat=1&lon=1&timestamp=2147483646", a).t, 2147483646000);
  EXPECT_EQ(ping_of("id=1&lat=1&lon=1&timestamp=2147483647", b).t, 2147483647);
  // An unencoded '+' of a zone offset arrives as a space: not a time.
  EXPECT_EQ(rejection_of("id=1&lat=1&lon=1&timestamp=2021-01-01T01:00:00+01:00"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=1&lon=1&timestamp=yesterday"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=1&lon=1&timestamp=1609459200.5"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=1&lon=1&timestamp=-5"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=1&lon=1&timestamp=99999999999999999999"), Errc::bad_format);
}

TEST(OsmAndQuery, SpeedIsKnots) {
  DecodedPings out;
  RawPing p = ping_of("id=1&lat=52.6&lon=-0.7&timestamp=1609459200&speed=1", out);
  EXPECT_DOUBLE_EQ(kMpsPerKnot, 1852.0 / 3600.0);
  EXPECT_FLOAT_EQ(p.speed_mps, static_cast<float>(kKnot));
  DecodedPings out2;
  EXPECT_NEAR(ping_of("id=1&lat=52.6&lon=-0.7&speed=10", out2).speed_mps, 5.1444444, 1e-5);
}

TEST(OsmAndQuery, UnknownMeasurementsAreAbsent) {
  DecodedPings out;  // -1 is "unknown"; accuracy 0 is what Traccar Client sends for GPS fixes
  RawPing p = ping_of("id=1&lat=52.6&lon=-0.7&speed=-1&bearing=-1&accuracy=0", out);
  EXPECT_TRUE(std::isnan(p.speed_mps));
  EXPECT_TRUE(std::isnan(p.heading_deg));
  EXPECT_TRUE(std::isnan(p.accuracy_m));
  DecodedPings out2;
  RawPing q = ping_of("id=1&lat=52.6&lon=-0.7", out2);
  EXPECT_TRUE(std::isnan(q.speed_mps));
  EXPECT_TRUE(std::isnan(q.heading_deg));
  EXPECT_TRUE(std::isnan(q.accuracy_m));
}

TEST(OsmAndQuery, Location) {
  DecodedPings out;
  RawPing p = ping_of("id=1&location=52.6703%2C-0.7277&timestamp=1609459200", out);
  EXPECT_DOUBLE_EQ(p.lat, 52.6703);
  EXPECT_DOUBLE_EQ(p.lon, -0.7277);
  DecodedPings out2;  // the last of lat/lon and location wins, as in Traccar
  RawPing q = ping_of("id=1&location=1,2&lat=3&lon=4", out2);
  EXPECT_DOUBLE_EQ(q.lat, 3.0);
  EXPECT_DOUBLE_EQ(q.lon, 4.0);
  EXPECT_EQ(rejection_of("id=1&location=52.6703"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&location=52.6703,east"), Errc::bad_format);
}

TEST(OsmAndQuery, PercentEncoding) {
  DecodedPings out;
  RawPing p = ping_of("?id=PC%201234+NA21&lat=%2B52.6&lon=-0.7", out);  // leading '?' of a raw target too
  EXPECT_EQ(p.device, "PC 1234 NA21");
  EXPECT_DOUBLE_EQ(p.lat, 52.6);
  DecodedPings out2;
  EXPECT_EQ(ping_of("%69%64=abc&lat=1&lon=2", out2).device, "abc");  // keys are decoded too
  EXPECT_EQ(rejection_of("id=%G1&lat=1&lon=2"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=1&lon=2%4"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=1&lon=2&x=%"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=a%0Ab&lat=1&lon=2"), Errc::bad_format);  // control characters in an id
}

TEST(OsmAndQuery, MissingAndBadFields) {
  EXPECT_EQ(rejection_of("lat=52.6&lon=-0.7&timestamp=1609459200"), Errc::missing_field);
  EXPECT_EQ(rejection_of("id=&lat=52.6&lon=-0.7"), Errc::missing_field);
  EXPECT_EQ(rejection_of("id=1&lon=-0.7"), Errc::missing_field);
  EXPECT_EQ(rejection_of("id=1&lat=52.6"), Errc::missing_field);
  EXPECT_EQ(rejection_of(""), Errc::missing_field);
  EXPECT_EQ(rejection_of("id=1&lat=north&lon=-0.7"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=52.6x&lon=-0.7"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=52.6&lon=-0.7&speed=fast"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=52.6&lon=-0.7&bearing=N"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=1&lat=52.6&lon=-0.7&accuracy=good"), Errc::bad_format);
  EXPECT_EQ(rejection_of("id=" + std::string(65, 'x') + "&lat=52.6&lon=-0.7"), Errc::bad_format);
  DecodedPings out;  // 64 characters is still an id; a garbled battery level costs nothing
  EXPECT_EQ(ping_of("id=" + std::string(64, 'x') + "&lat=52.6&lon=-0.7&batt=full&altitude=high", out).device,
            std::string(64, 'x'));
}

TEST(OsmAndQuery, ValidFlag) {
  EXPECT_EQ(rejection_of("id=1&lat=0&lon=0&valid=false"), Errc::no_fix);
  EXPECT_EQ(rejection_of("id=1&lat=52.6&lon=-0.7&valid=0"), Errc::no_fix);
  EXPECT_EQ(rejection_of("id=1&valid=FALSE"), Errc::no_fix);  // no position either: the reason is no fix
  EXPECT_EQ(rejection_of("id=1&lat=52.6&lon=-0.7&valid=maybe"), Errc::bad_format);
  DecodedPings a, b;
  ping_of("id=1&lat=52.6&lon=-0.7&valid=true", a);
  ping_of("id=1&lat=52.6&lon=-0.7&valid=1", b);
}

TEST(OsmAndQuery, SosAlarmIsAnEmergency) {
  DecodedPings a, b, c;
  EXPECT_TRUE(ping_of("id=1&timestamp=1609459200&lat=52.6&lon=-0.7&alarm=sos", a).emergency);
  EXPECT_TRUE(ping_of("id=1&lat=52.6&lon=-0.7&alarm=SOS", b).emergency);
  EXPECT_FALSE(ping_of("id=1&lat=52.6&lon=-0.7&alarm=lowBattery", c).emergency);
}

TEST(OsmAndQuery, EachRequestIsOneItemAndIdsOutliveTheInput) {
  DecodedPings out;
  {
    std::string q1 = "id=first&lat=1&lon=2";
    decode_osmand_query(q1, kNow, out);
    decode_osmand_query("lat=1&lon=2", kNow, out);
    std::string q3 = "id=third&lat=1&lon=2";
    decode_osmand_query(q3, kNow, out);
    q1.assign(q1.size(), '#');
    q3.assign(q3.size(), '#');
  }
  ASSERT_EQ(out.pings.size(), 2u);
  EXPECT_EQ(out.pings[0].device, "first");
  EXPECT_EQ(out.pings[1].device, "third");
  EXPECT_EQ(out.positions, (std::vector<uint32_t>{0, 2}));
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].index, 1u);
  EXPECT_EQ(out.items, 3u);
}

// Bodies from Traccar's decoder tests: what Traccar Client 9+ (Android and
// iOS, through its background-location SDK) POSTs.
TEST(TraccarJson, ClientBodies) {
  std::string android = R"({"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,)"
                        R"("longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,)"
                        R"("odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},)"
                        R"("activity":{"type":"still"},"extras":{},)"
                        R"("_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},)"
                        R"("device_id":"48241179"})";
  std::string ios = R"({"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,)"
                    R"("longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,)"
                    R"("latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,"heading":-1},)"
                    R"("is_moving":false,"age":188,"odometer":0,"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8",)"
                    R"("event":"motionchange","battery":{"level":-1,"is_charging":false},)"
                    R"("activity":{"type":"unknown","confidence":100},"timestamp":"2025-05-09T04:11:30.579Z"},)"
                    R"("device_id":"658765"})";
  std::string moving = R"({"location":{"event":"motionchange","is_moving":false,)"
                       R"("uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z",)"
                       R"("odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,)"
                       R"("speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,)"
                       R"("altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},)"
                       R"("battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"8737767034"})";
  DecodedPings out;
  ASSERT_FALSE(decode_traccar_json(android, out).has_value());
  ASSERT_FALSE(decode_traccar_json(ios, out).has_value());
  ASSERT_FALSE(decode_traccar_json(moving, out).has_value());
  ASSERT_TRUE(out.rejections.empty()) << out.rejections[0].detail;
  ASSERT_EQ(out.pings.size(), 3u);

  const RawPing& a = out.pings[0];
  EXPECT_EQ(a.device, "48241179");
  EXPECT_EQ(a.t, 1749995112862);
  EXPECT_DOUBLE_EQ(a.lat, 37.4219983);
  EXPECT_DOUBLE_EQ(a.lon, -122.084);
  EXPECT_FLOAT_EQ(a.accuracy_m, 5.0f);
  EXPECT_FLOAT_EQ(a.speed_mps, 0.0f);      // standing still is a speed
  EXPECT_TRUE(std::isnan(a.heading_deg));  // -1: unknown
  EXPECT_FALSE(a.emergency);

  const RawPing& i = out.pings[1];
  EXPECT_EQ(i.device, "658765");
  EXPECT_EQ(i.t, 1746763890579);
  EXPECT_TRUE(std::isnan(i.speed_mps));
  EXPECT_TRUE(std::isnan(i.heading_deg));

  const RawPing& m = out.pings[2];
  EXPECT_EQ(m.device, "8737767034");
  EXPECT_EQ(m.t, 1626854794444);
  EXPECT_FLOAT_EQ(m.speed_mps, 18.67f);  // m/s already: no knots conversion
  EXPECT_FLOAT_EQ(m.heading_deg, 63.0f);
  EXPECT_FLOAT_EQ(m.accuracy_m, 3.8f);
  EXPECT_EQ(out.positions, (std::vector<uint32_t>{0, 1, 2}));
}

TEST(TraccarJson, SosButtonAndBatches) {
  // The app's SOS action asks the SDK for a position with extras {"alarm":"sos"}.
  std::string body =
      R"({"location":[{"timestamp":"2026-11-22T10:15:00.000Z","coords":{"latitude":52.67,"longitude":-0.73},)"
      R"("extras":{"alarm":"sos"}},{"timestamp":"2026-11-22T10:15:05.000Z",)"
      R"("coords":{"latitude":52.68,"longitude":-0.74}},{"coords":{"latitude":1,"longitude":2}}],)"
      R"("device_id":"PC1234"})";
  DecodedPings out;
  ASSERT_FALSE(decode_traccar_json(body, out).has_value());
  ASSERT_EQ(out.pings.size(), 2u);
  EXPECT_TRUE(out.pings[0].emergency);
  EXPECT_FALSE(out.pings[1].emergency);
  EXPECT_EQ(out.pings[1].t, 1795342505000);
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].index, 2u);
  EXPECT_EQ(out.rejections[0].code, Errc::missing_field);  // no timestamp
}

TEST(TraccarJson, BadBodies) {
  auto whole = [](std::string body) {
    DecodedPings out;
    auto err = decode_traccar_json(body, out, 2);
    EXPECT_TRUE(out.empty()) << "nothing is appended when the body fails as a whole";
    return err ? err->code : Errc::kCount;
  };
  EXPECT_EQ(whole("not json"), Errc::bad_format);
  EXPECT_EQ(whole(R"([{"device_id":"1"}])"), Errc::bad_format);
  EXPECT_EQ(whole(R"({"device_id":"1"} trailing)"), Errc::bad_format);
  EXPECT_EQ(whole(R"({"device_id":"1","location":[{},{},{}]})"), Errc::batch_too_large);

  auto item = [](std::string body) {
    DecodedPings out;
    EXPECT_FALSE(decode_traccar_json(body, out).has_value());
    EXPECT_TRUE(out.pings.empty());
    EXPECT_EQ(out.rejections.size(), 1u);
    return out.rejections.empty() ? Errc::kCount : out.rejections[0].code;
  };
  const std::string loc =
      R"("location":{"timestamp":"2026-11-22T10:15:00Z","coords":{"latitude":52.6,"longitude":-0.7}})";
  EXPECT_EQ(item("{" + loc + "}"), Errc::missing_field);  // no device_id
  EXPECT_EQ(item(R"({"device_id":"",)" + loc + "}"), Errc::missing_field);
  EXPECT_EQ(item(R"({"device_id":true,)" + loc + "}"), Errc::bad_format);
  EXPECT_EQ(item(R"({"device_id":"1"})"), Errc::missing_field);  // no location
  EXPECT_EQ(item(R"({"device_id":"1","location":"here"})"), Errc::bad_format);
  EXPECT_EQ(item(R"({"device_id":"1","location":{"timestamp":"noon","coords":{"latitude":1,"longitude":2}}})"),
            Errc::bad_format);
  EXPECT_EQ(item(R"({"device_id":"1","location":{"timestamp":"2026-11-22T10:15:00Z"}})"), Errc::missing_field);
  EXPECT_EQ(item(R"({"device_id":"1","location":{"timestamp":"2026-11-22T10:15:00Z","coords":{"latitude":1}}})"),
            Errc::missing_field);
  EXPECT_EQ(item(R"({"device_id":"1","location":{"timestamp":"2026-11-22T10:15:00Z",)"
                 R"("coords":{"latitude":"1","longitude":2}}})"),
            Errc::bad_format);
  EXPECT_EQ(item(R"({"device_id":"1","location":{"timestamp":"2026-11-22T10:15:00Z",)"
                 R"("coords":{"latitude":1,"longitude":2,"speed":"fast"}}})"),
            Errc::bad_format);

  DecodedPings out;  // a numeric device id is taken as its text
  std::string numeric = R"({"device_id":48241179,)" + loc + "}";
  ASSERT_FALSE(decode_traccar_json(numeric, out).has_value());
  ASSERT_EQ(out.pings.size(), 1u);
  EXPECT_EQ(out.pings[0].device, "48241179");
}

TEST(OsmAndRequest, ChoosesTheFormLikeTraccar) {
  DecodedPings out;
  std::string json =
      R"(  {"location":{"timestamp":"2026-11-22T10:15:00Z","coords":{"latitude":52.6,"longitude":-0.7}},)"
      R"("device_id":"json"})";
  ASSERT_FALSE(decode_osmand_request("", json, kNow, out).has_value());
  std::string empty;
  ASSERT_FALSE(decode_osmand_request("?id=query&lat=1&lon=2", empty, kNow, out).has_value());
  std::string form = "id=form&lat=1&lon=2\r\n";
  ASSERT_FALSE(decode_osmand_request("", form, kNow, out).has_value());
  std::string ignored = "id=body&lat=1&lon=2";
  ASSERT_FALSE(decode_osmand_request("id=query2&lat=1&lon=2", ignored, kNow, out).has_value());
  ASSERT_EQ(out.pings.size(), 4u);
  EXPECT_EQ(out.pings[0].device, "json");
  EXPECT_EQ(out.pings[1].device, "query");
  EXPECT_EQ(out.pings[2].device, "form");
  EXPECT_EQ(out.pings[3].device, "query2");
  std::string none;
  ASSERT_FALSE(decode_osmand_request("?", none, kNow, out).has_value());
  ASSERT_EQ(out.rejections.size(), 1u);
  EXPECT_EQ(out.rejections[0].code, Errc::missing_field);
  std::string broken = "{not json";
  EXPECT_TRUE(decode_osmand_request("", broken, kNow, out).has_value());
}

}  // namespace
}  // namespace pm
