#include "server/app/cli.hpp"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(Cli, ServeOptionsBecomeOverridesInOrder) {
  auto [o, err] = parse_cli({"--config", "a.conf", "--listen", "127.0.0.1:0", "--data-dir=/d", "--nmea-listen",
                             "127.0.0.1:0", "--lip-listen", "127.0.0.1:0", "--set", "ingest.too_old_s=0", "--demo"});
  ASSERT_TRUE(o) << err;
  EXPECT_EQ(o->mode, CliOptions::Mode::serve);
  EXPECT_EQ(o->config_file, "a.conf");
  EXPECT_TRUE(o->demo);
  std::vector<std::pair<std::string, std::string>> want = {{"http.listen", "127.0.0.1:0"},
                                                           {"data_dir", "/d"},
                                                           {"nmea.listen", "127.0.0.1:0"},
                                                           {"lip.listen", "127.0.0.1:0"},
                                                           {"ingest.too_old_s", "0"}};
  EXPECT_EQ(o->sets, want);
}

TEST(Cli, TokensAdd) {
  auto [o, err] = parse_cli({"tokens", "add", "--data-dir", "/d", "--role", "device", "--name", "van", "--device", "AVL-1"});
  ASSERT_TRUE(o) << err;
  EXPECT_EQ(o->mode, CliOptions::Mode::tokens_add);
  EXPECT_EQ(o->role, "device");
  EXPECT_EQ(o->name, "van");
  EXPECT_EQ(o->device, "AVL-1");
  EXPECT_FALSE(parse_cli({"tokens", "add", "--role", "admin"}).first);  // no --name
  EXPECT_FALSE(parse_cli({"tokens", "remove"}).first);
}

TEST(Cli, BadOptionsGiveOneLineReasons) {
  for (std::vector<std::string> args : {std::vector<std::string>{"--bogus"}, {"--listen"}, {"--set", "novalue"},
                                        {"--set", "=x"}, {"--role", "admin"}}) {
    auto [o, err] = parse_cli(args);
    EXPECT_FALSE(o);
    EXPECT_FALSE(err.empty());
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
  EXPECT_EQ(parse_cli({"--help"}).first->mode, CliOptions::Mode::help);
  EXPECT_NE(usage().find("tokens add"), std::string::npos);
}

}  // namespace
}  // namespace pm
