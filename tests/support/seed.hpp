#pragma once
// A seed for randomised tests, printed so that a failure can be replayed:
//
//   std::mt19937_64 rng(pm::test::seed_from_env(12345));   // PATROLMAP_TEST_SEED overrides
#include <cstdio>
#include <cstdlib>

namespace pm::test {

inline unsigned seed_from_env(unsigned fallback) {
  const char* s = std::getenv("PATROLMAP_TEST_SEED");
  const unsigned seed = s ? static_cast<unsigned>(std::strtoul(s, nullptr, 10)) : fallback;
  std::printf("  seed %u (override with PATROLMAP_TEST_SEED)\n", seed);
  return seed;
}

}  // namespace pm::test
