#pragma once
// Bearer tokens and roles (SPEC section 9). Only SHA-256 hashes are stored;
// the table is swapped atomically when the store sees new tokens, so checks
// never take a lock shared with writers.
//
//   Auth auth;
//   auth.replace(load_tokens(db));
//   auto who = auth.authenticate("Bearer pm_...");   // nullopt -> 401
//   if (!allows(who->role, kStaff)) -> 403
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/core/clock.hpp"

namespace pm::sql {
class Db;
}

namespace pm {

enum class Role : uint8_t { device, gateway, dispatcher, sergeant, manager, admin };
std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view s);

// A set of roles as a bit mask: allows(role, kStaff).
using RoleSet = uint8_t;
constexpr RoleSet role_bit(Role r) { return static_cast<RoleSet>(1u << static_cast<unsigned>(r)); }
constexpr RoleSet kStaff = role_bit(Role::dispatcher) | role_bit(Role::sergeant) | role_bit(Role::manager) |
                           role_bit(Role::admin);
constexpr RoleSet kSenders = role_bit(Role::device) | role_bit(Role::gateway);
constexpr bool allows(Role r, RoleSet set) { return (set & role_bit(r)) != 0; }

struct Principal {
  std::string name;
  Role role = Role::device;
  std::string device;  // for the device role: the only device it may send for
  std::string hash;    // token hash: the rate-limit key
};

std::string sha256_hex(std::string_view data);
// A new random token: "pm_" + 43 url-safe characters (256 bits).
std::string generate_token();

class Auth {
 public:
  Auth(double rate_per_s = 0, double burst = 0) : rate_(rate_per_s), burst_(burst) {}
  void replace(std::vector<Principal> tokens);
  // From an Authorization header value ("Bearer <token>").
  std::optional<Principal> authenticate(std::string_view authorization) const;
  std::optional<Principal> authenticate_token(std::string_view token) const;
  // Token bucket per token; false when the token is over its rate.
  bool admit(const Principal& p, EpochMs now);
  size_t size() const;

 private:
  using Table = std::unordered_map<std::string, Principal>;
  std::shared_ptr<const Table> table() const { return std::atomic_load(&table_); }
  std::shared_ptr<const Table> table_ = std::make_shared<Table>();
  double rate_, burst_;
  struct Bucket {
    double tokens;
    EpochMs last;
  };
  std::mutex rate_mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// Token rows in the store.
std::optional<std::string> add_token(sql::Db& db, std::string_view token, std::string_view name, Role role,
                                     std::string_view device, EpochMs now);
std::vector<Principal> load_tokens(sql::Db& db);

}  // namespace pm
