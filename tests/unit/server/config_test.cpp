#include "server/core/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace pm {
namespace {

TEST(Config, DefaultsAreValidAndDocumented) {
  ConfigValues v;
  Config c;
  ASSERT_FALSE(Config::from(v, c).has_value());
  EXPECT_EQ(c.http_listen.port, 8080);
  EXPECT_EQ(c.nmea_listen.port, 5010);
  EXPECT_EQ(c.lip_listen.port, 5020);
  EXPECT_EQ(c.ingest_future_s, 60);
  EXPECT_EQ(c.ingest_too_old_s, 86400);
  EXPECT_EQ(c.projection_crs, "EPSG:27700");
  EXPECT_EQ(c.ingest_registration, Registration::required);
  for (const auto& k : config_keys()) EXPECT_FALSE(k.description.empty()) << k.key;
}

TEST(Config, FileSectionsAndOverrides) {
  ConfigValues v;
  ASSERT_FALSE(v.parse_text("data_dir = /tmp/x  # comment\n[ingest]\nfuture_s = 5\ntoo_old_s=0\n"
                            "[http]\nlisten = \"127.0.0.1:0\"\n",
                            "test.conf")
                   .has_value());
  ASSERT_FALSE(v.set("ingest.future_s", "7").has_value());  // command line wins over the file
  Config c;
  ASSERT_FALSE(Config::from(v, c).has_value());
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.ingest_future_s, 7);
  EXPECT_EQ(c.ingest_too_old_s, 0);
  EXPECT_EQ(c.http_listen.host, "127.0.0.1");
  EXPECT_EQ(c.http_listen.port, 0);
}

TEST(Config, ErrorsNameTheKeyAndLine) {
  ConfigValues v;
  auto e = v.parse_text("[ingest]\nfuture_s = 1\nnonsense = 3\n", "f.conf");
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->find("f.conf:3"), std::string::npos) << *e;
  EXPECT_NE(e->find("ingest.nonsense"), std::string::npos) << *e;
  EXPECT_TRUE(v.parse_text("no equals sign\n", "g").has_value());
  EXPECT_TRUE(v.set("no.such.key", "1").has_value());
  ASSERT_FALSE(v.set("ingest.future_s", "soon").has_value());
  Config c;
  auto bad = Config::from(v, c);
  ASSERT_TRUE(bad.has_value());
  EXPECT_NE(bad->find("ingest.future_s"), std::string::npos);
}

TEST(Config, RejectsBadValues) {
  for (auto [k, val] : {std::pair{"http.listen", "8080"}, std::pair{"http.listen", "host:99999"},
                        std::pair{"ingest.registration", "maybe"}, std::pair{"store.synchronous", "sometimes"},
                        std::pair{"live.extent", "1,2,3"}, std::pair{"live.extent", "0,0,-1,1"},
                        std::pair{"log.level", "loud"}, std::pair{"ingest.max_batch", "0"}}) {
    ConfigValues v;
    ASSERT_FALSE(v.set(k, val).has_value());
    Config c;
    EXPECT_TRUE(Config::from(v, c).has_value()) << k << "=" << val;
  }
}

TEST(Config, HostPort) {
  EXPECT_EQ(parse_host_port("[::1]:80")->host, "::1");
  EXPECT_EQ(parse_host_port("0.0.0.0:5010")->port, 5010);
  EXPECT_FALSE(parse_host_port(":80").has_value());
  EXPECT_FALSE(parse_host_port("x:").has_value());
}

}  // namespace
}  // namespace pm

namespace pm {
namespace {

// docs/operations.md documents every key with its default; keep them in step.
TEST(Config, EveryKeyIsDocumentedWithItsDefault) {
  std::ifstream in(std::string(PATROLMAP_SOURCE_DIR) + "/docs/operations.md");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  for (const auto& k : config_keys()) {
    std::string row = "| `" + std::string(k.key) + "` | `" + std::string(k.default_value) + "` |";
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/operations.md lacks the row: " << row;
  }
}

}  // namespace
}  // namespace pm
