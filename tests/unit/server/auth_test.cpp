#include "server/auth/auth.hpp"

#include <gtest/gtest.h>

#include <set>

#include "server/store/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace pm {
namespace {

TEST(Auth, Sha256KnownAnswer) {
  // FIPS 180-2 test vector.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Auth, TokensAreRandomAndUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = generate_token();
    EXPECT_EQ(t.size(), 3u + 43u);
    EXPECT_EQ(t.rfind("pm_", 0), 0u);
    EXPECT_EQ(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 3), std::string::npos);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(Auth, StoredHashedAndAuthenticated) {
  test::TempDir dir;
  sql::Db db;
  ASSERT_FALSE(open_store_db(db, dir.path(), SyncMode::normal).has_value());
  std::string token = generate_token();
  ASSERT_FALSE(add_token(db, token, "van 12", Role::device, "AVL-12", 1).has_value());
  auto st = db.prepare("SELECT hash FROM tokens");
  ASSERT_EQ(st.step(), SQLITE_ROW);
  EXPECT_EQ(st.text(0), sha256_hex(token));
  EXPECT_EQ(st.text(0).find(token), std::string::npos);

  Auth auth;
  auth.replace(load_tokens(db));
  auto who = auth.authenticate("Bearer " + token);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->role, Role::device);
  EXPECT_EQ(who->device, "AVL-12");
  EXPECT_EQ(who->name, "van 12");
  EXPECT_TRUE(auth.authenticate("bearer " + token));  // scheme is case-insensitive
  EXPECT_FALSE(auth.authenticate(token));
  EXPECT_FALSE(auth.authenticate("Bearer " + token + "x"));
  EXPECT_FALSE(auth.authenticate("Basic abc"));
  EXPECT_FALSE(auth.authenticate(""));
}

TEST(Auth, RoleSets) {
  EXPECT_TRUE(allows(Role::dispatcher, kStaff));
  EXPECT_TRUE(allows(Role::admin, kStaff));
  EXPECT_FALSE(allows(Role::device, kStaff));
  EXPECT_FALSE(allows(Role::gateway, kStaff));
  EXPECT_TRUE(allows(Role::gateway, kSenders));
  EXPECT_FALSE(allows(Role::admin, kSenders));
  for (auto r : {Role::device, Role::gateway, Role::dispatcher, Role::sergeant, Role::manager, Role::admin})
    EXPECT_EQ(parse_role(role_name(r)), r);
  EXPECT_FALSE(parse_role("root"));
}

TEST(Auth, RateLimitIsATokenBucket) {
  Auth auth(/*rate=*/10, /*burst=*/5);
  Principal p{"n", Role::gateway, "", "h"};
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += auth.admit(p, 1000);
  EXPECT_EQ(admitted, 15);                // burst + one second's worth at the start
  EXPECT_FALSE(auth.admit(p, 1050));      // 0.5 token after 50 ms
  EXPECT_TRUE(auth.admit(p, 1100));       // 1 token after 100 ms
  Principal other{"m", Role::gateway, "", "h2"};
  EXPECT_TRUE(auth.admit(other, 1100));   // buckets are per token
}

}  // namespace
}  // namespace pm
