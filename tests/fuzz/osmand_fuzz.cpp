// libFuzzer target for the OsmAnd / Traccar Client decoders: the whole input
// as a query string, as a JSON body, and split at the first newline into a
// request's query and body. Checks the decoders' promises, not just survival.
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/osmand_fuzz.cpp \
//     server/ingest/osmand.cpp server/core/errors.cpp server/core/time_format.cpp -o /tmp/osmand_fuzz
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/ingest/osmand.hpp"

namespace {

constexpr pm::EpochMs kNow = 1795342503250;

// Every item is a ping or a rejection, and a ping's id is a real id.
void check(const pm::DecodedPings& out) {
  if (out.pings.size() + out.rejections.size() != out.items) __builtin_trap();
  if (out.pings.size() != out.positions.size()) __builtin_trap();
  for (const auto& p : out.pings)
    if (p.device.empty() || p.device.size() > 64) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  pm::DecodedPings q;
  pm::decode_osmand_query(in, kNow, q);
  if (q.items != 1) __builtin_trap();  // one request, one item
  check(q);

  pm::DecodedPings j;
  std::string body(in);
  if (auto err = pm::decode_traccar_json(body, j, 64)) {
    if (!j.empty()) __builtin_trap();  // a failed body appends nothing
  }
  check(j);

  size_t nl = in.find('\n');
  std::string_view query = in.substr(0, nl);
  std::string rest(nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1));
  pm::DecodedPings r;
  (void)pm::decode_osmand_request(query, rest, kNow, r, 64);
  check(r);
  return 0;
}
