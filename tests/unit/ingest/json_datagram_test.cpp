#include "server/ingest/json_datagram.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "server/ingest/nmea.hpp"

namespace pm {
namespace {

TEST(JsonDatagram, RecognisedByTheFirstByteThatIsNotWhitespace) {
  EXPECT_TRUE(is_json_datagram("{\"device\":\"A\"}"));
  EXPECT_TRUE(is_json_datagram("[]"));
  EXPECT_TRUE(is_json_datagram(" \t\r\n[{}]"));
  EXPECT_FALSE(is_json_datagram("$PGID,AVL-0231*40\r\n"));
  EXPECT_FALSE(is_json_datagram("\\s:1*xx\\$GPRMC"));  // NMEA 4 tag block
  EXPECT_FALSE(is_json_datagram("2001234,0A1B"));      // LIP
  EXPECT_FALSE(is_json_datagram(""));
  EXPECT_FALSE(is_json_datagram(" \r\n"));
}

// Each datagram decodes exactly as the same text posted to /api/v1/pings.
TEST(JsonDatagram, SameFieldsAsTheHttpBody) {
  const std::string text = R"([{"device":"AVL-0231","t":"2026-11-22T10:15:03.250Z","lat":52.67,"lon":-0.73,
      "speed_mps":8.1,"heading_deg":270,"accuracy_m":5,"emergency":true},
      {"device":"AVL-0232","t":1795342503251,"lat":52.6,"lon":-0.7}])";
  std::string body = text;
  JsonPingBatch http;
  ASSERT_FALSE(decode_json_pings(body, 100, http).has_value());
  JsonDatagramDecoder dec(100);
  DecodedPings out;
  dec.decode(text, out);
  ASSERT_EQ(out.pings.size(), http.pings.size());
  for (size_t i = 0; i < out.pings.size(); ++i) {
    const RawPing &a = out.pings[i], &b = http.pings[i];
    EXPECT_EQ(a.device, b.device);
    EXPECT_EQ(a.t, b.t);
    EXPECT_EQ(a.lat, b.lat);
    EXPECT_EQ(a.lon, b.lon);
    EXPECT_TRUE(a.speed_mps == b.speed_mps || (std::isnan(a.speed_mps) && std::isnan(b.speed_mps)));
    EXPECT_TRUE(a.heading_deg == b.heading_deg || (std::isnan(a.heading_deg) && std::isnan(b.heading_deg)));
    EXPECT_TRUE(a.accuracy_m == b.accuracy_m || (std::isnan(a.accuracy_m) && std::isnan(b.accuracy_m)));
    EXPECT_EQ(a.emergency, b.emergency);
  }
  EXPECT_EQ(out.pings[0].t, 1795342503250);
  EXPECT_TRUE(out.pings[0].emergency);
  EXPECT_EQ(out.positions, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(out.items, 2u);
}

// Several datagrams into one batch: positions run on, rejections keep their
// item, and the device ids outlive the decoder's buffer (reused per datagram).
TEST(JsonDatagram, DatagramsAppendToOneBatch) {
  JsonDatagramDecoder dec(100);
  DecodedPings out;
  dec.decode(R"([{"device":"AVL-1","t":1,"lat":1,"lon":2},{"device":"AVL-2","t":1,"lat":"x","lon":2},
                 {"device":"AVL-3","t":2,"lat":3,"lon":4}])",
             out);
  dec.decode(R"({"device":"AVL-4","t":5,"lat":6,"lon":7})", out);
  dec.decode(R"([{"lat":1,"lon":2,"t":9}])", out);
  dec.decode(R"([{"device":"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX","t":8,"lat":8,"lon":8}])", out);
  ASSERT_EQ(out.pings.size(), 4u);
  EXPECT_EQ(out.pings[0].device, "AVL-1");
  EXPECT_EQ(out.pings[1].device, "AVL-3");
  EXPECT_EQ(out.pings[2].device, "AVL-4");
  EXPECT_EQ(out.pings[3].device, std::string(54, 'X'));
  EXPECT_EQ(out.positions, (std::vector<uint32_t>{0, 2, 3, 5}));
  ASSERT_EQ(out.rejections.size(), 2u);
  EXPECT_EQ(out.rejections[0].index, 1u);
  EXPECT_EQ(out.rejections[0].code, Errc::bad_format);
  EXPECT_EQ(out.rejections[1].index, 4u);
  EXPECT_EQ(out.rejections[1].code, Errc::missing_field);
  EXPECT_EQ(out.items, 6u);
}

// A datagram that is not JSON pings is one rejection; the batch goes on.
TEST(JsonDatagram, UndecodableDatagramIsOneRejection) {
  JsonDatagramDecoder dec(2);
  DecodedPings out;
  dec.decode("[{\"device\":\"A\",\"t\":", out);  // cut short
  dec.decode("\"just a string\"", out);          // not an object or array (and not seen as JSON by the port)
  dec.decode(R"([{"device":"A","t":1,"lat":1,"lon":2},{"device":"A","t":2,"lat":1,"lon":2},
                 {"device":"A","t":3,"lat":1,"lon":2}])",
             out);  // over max_batch
  dec.decode(R"([{"device":"B","t":1,"lat":1,"lon":2}])", out);
  ASSERT_EQ(out.rejections.size(), 3u);
  for (const auto& r : out.rejections) EXPECT_EQ(r.code, Errc::bad_format);
  EXPECT_EQ(out.rejections[0].index, 0u);
  EXPECT_EQ(out.rejections[2].index, 2u);
  EXPECT_NE(std::string(out.rejections[2].detail).find("max_batch"), std::string::npos);
  ASSERT_EQ(out.pings.size(), 1u);
  EXPECT_EQ(out.pings[0].device, "B");
  EXPECT_EQ(out.positions, (std::vector<uint32_t>{3}));
}

// The NMEA port's two kinds of datagram land in one DecodedPings each and do
// not disturb one another.
TEST(JsonDatagram, NmeaAndJsonDatagramsSideBySide) {
  const std::string nmea_dg =
      "$PGID,VAN-7*75\r\n$GNRMC,095930.00,A,5240.0200,N,00043.6620,W,12.5,81.3,221126,,,A*58\r\n";
  JsonDatagramDecoder json(10);
  DecodedPings n, j;
  for (int i = 0; i < 3; ++i) {
    const std::string js = R"({"device":"AVL-)" + std::to_string(i) + R"(","t":1795341570000,"lat":52.67,"lon":-0.73})";
    for (const std::string* d : {&nmea_dg, &js}) {
      if (is_json_datagram(*d))
        json.decode(*d, j);
      else
        decode_nmea_datagram(*d, n);
    }
  }
  ASSERT_EQ(j.pings.size(), 3u);
  EXPECT_EQ(j.pings[2].device, "AVL-2");
  EXPECT_EQ(j.positions, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(n.rejections.size(), 0u);
  ASSERT_EQ(n.pings.size(), 3u);
  EXPECT_EQ(n.pings[0].device, "VAN-7");
  EXPECT_EQ(n.pings[0].t, 1795341570000);  // 2026-11-22T09:59:30Z
  EXPECT_NEAR(n.pings[0].lat, 52.0 + 40.02 / 60.0, 1e-9);
}

}  // namespace
}  // namespace pm
