#include "server/auth/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "server/store/sqlite.hpp"

namespace pm {
namespace {
constexpr std::array<std::string_view, 6> kRoles = {"device", "gateway", "dispatcher", "sergeant", "manager", "admin"};
}

std::string_view role_name(Role r) { return kRoles[static_cast<size_t>(r)]; }
std::optional<Role> parse_role(std::string_view s) {
  for (size_t i = 0; i < kRoles.size(); ++i)
    if (kRoles[i] == s) return static_cast<Role>(i);
  return std::nullopt;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

std::string generate_token() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no randomness for a token");
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out = "pm_";
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : raw) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kB64[(acc << (6 - bits)) & 63]);
  return out;
}

void Auth::replace(std::vector<Principal> tokens) {
  auto t = std::make_shared<Table>();
  for (auto& p : tokens) {
    std::string h = p.hash;
    t->emplace(std::move(h), std::move(p));
  }
  std::atomic_store(&table_, std::shared_ptr<const Table>(std::move(t)));
}

std::optional<Principal> Auth::authenticate_token(std::string_view token) const {
  if (token.empty() || token.size() > 256) return std::nullopt;
  // Clients send the same token on every request: keep the last token's hash
  // per thread (a pure function of the token, so never stale). The compare is
  // constant-time, so timing tells nothing about another client's token.
  thread_local std::string last_token, last_hash;
  if (token.size() != last_token.size() || CRYPTO_memcmp(token.data(), last_token.data(), token.size()) != 0) {
    last_hash = sha256_hex(token);
    last_token.assign(token);
  }
  auto t = table();
  auto it = t->find(last_hash);
  if (it == t->end()) return std::nullopt;
  return it->second;
}

std::optional<Principal> Auth::authenticate(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size()) return std::nullopt;
  for (size_t i = 0; i < kBearer.size() - 1; ++i)
    if ((authorization[i] | 0x20) != (kBearer[i] | 0x20)) return std::nullopt;
  if (authorization[kBearer.size() - 1] != ' ') return std::nullopt;
  return authenticate_token(authorization.substr(kBearer.size()));
}

bool Auth::admit(const Principal& p, EpochMs now) {
  if (rate_ <= 0) return true;
  std::lock_guard lock(rate_mu_);
  auto [it, fresh] = buckets_.try_emplace(p.hash, Bucket{burst_ + rate_, now});
  Bucket& b = it->second;
  if (!fresh && now > b.last) {
    // Only forward time refills; a clock stepped back (NTP) neither refills
    // nor drains, it just waits until time passes `last` again.
    b.tokens = std::min(burst_ + rate_, b.tokens + static_cast<double>(now - b.last) * rate_ / 1000.0);
    b.last = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

size_t Auth::size() const { return table()->size(); }

std::optional<std::string> add_token(sql::Db& db, std::string_view token, std::string_view name, Role role,
                                     std::string_view device, EpochMs now) {
  auto st = db.prepare("INSERT INTO tokens(hash,name,role,device,created_ms) VALUES(?,?,?,?,?)");
  if (!st.ok()) return st.error();
  st.bind(1, sha256_hex(token)).bind(2, name).bind(3, role_name(role));
  if (device.empty()) st.bind_null(4);
  else st.bind(4, device);
  st.bind(5, now);
  if (st.step() != SQLITE_DONE) return db.errmsg();
  return std::nullopt;
}

std::vector<Principal> load_tokens(sql::Db& db) {
  std::vector<Principal> out;
  auto st = db.prepare("SELECT hash,name,role,device FROM tokens");
  while (st.ok() && st.step() == SQLITE_ROW) {
    auto role = parse_role(st.text(2));
    if (!role) continue;
    out.push_back(Principal{st.text(1), *role, st.text(3), st.text(0)});
  }
  return out;
}

}  // namespace pm
