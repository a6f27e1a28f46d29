// libFuzzer target for the JSON ping decoder of POST /api/v1/pings, with the
// server's batch limit.
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/json_pings_fuzz.cpp \
//     server/ingest/json_pings.cpp server/core/errors.cpp server/core/time_format.cpp -o /tmp/json_pings_fuzz
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/ingest/json_pings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  pm::JsonPingBatch batch;
  auto err = pm::decode_json_pings(body, 5000, batch);
  if (!err) {
    if (batch.pings.size() + batch.rejections.size() != batch.items) __builtin_trap();
    if (batch.pings.size() != batch.positions.size()) __builtin_trap();
    for (const auto& p : batch.pings)
      if (p.device.empty() || p.device.size() > 64) __builtin_trap();
  }
  return 0;
}
