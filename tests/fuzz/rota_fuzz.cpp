// libFuzzer target for the duty-rota CSV parser. Checks that every loaded row
// keeps the rules (a real shift, a valid ISSI and unit) and that the problem
// list stays bounded.
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/rota_fuzz.cpp \
//     server/ingest/rota.cpp server/core/errors.cpp server/core/time_format.cpp -o /tmp/rota_fuzz
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/ingest/rota.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<pm::RotaProblem> problems;
  auto rows = pm::parse_rota_csv(text, problems);

  size_t lines = 1;
  for (char c : text) lines += c == '\n' || c == '\r';  // an upper bound: CRLF counts twice here
  if (problems.size() > pm::kMaxRotaProblems + 1) __builtin_trap();
  for (const auto& p : problems)
    if (p.line > lines || p.message.empty()) __builtin_trap();
  size_t last_line = 0;
  for (const auto& r : rows) {
    if (r.line <= last_line || r.line > lines) __builtin_trap();
    last_line = r.line;
    if (r.end <= r.start || r.end - r.start > 24 * 3'600'000) __builtin_trap();
    if (r.officer.empty() || r.unit.empty() || r.unit.size() > 64 || r.issi.size() > 8) __builtin_trap();
    for (const auto& s : r.skills)
      if (s.empty()) __builtin_trap();
  }
  // The time parser on its own: any time it accepts lies within years 0000-9999.
  if (auto t = pm::parse_rota_time(text)) {
    if (*t < -100'000'000'000'000 || *t > 300'000'000'000'000) __builtin_trap();
  }
  return 0;
}
