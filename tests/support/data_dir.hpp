#pragma once
// Where the shared real data lives, for tests and benchmarks.
//
//   std::ifstream in(pm::test::data_dir() + "/boundaries/rutland-parishes.geojson");
//
// Order: env PATROLMAP_DATA (set by CTest), then the compile definition
// PATROLMAP_DEFAULT_DATA_DIR, then "../shared/data" (relative to the repo
// root). Missing data is a hard failure, never a skip: a test that silently
// skips its real-data cases proves nothing.
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace pm::test {

inline std::string data_dir() {
  std::string dir;
  if (const char* env = std::getenv("PATROLMAP_DATA"); env && *env) {
    dir = env;
  } else {
#ifdef PATROLMAP_DEFAULT_DATA_DIR
    dir = PATROLMAP_DEFAULT_DATA_DIR;
#else
    dir = "../shared/data";
#endif
  }
  if (!std::filesystem::is_directory(dir + "/boundaries")) {
    throw std::runtime_error("shared test data not found at '" + dir +
                             "' (set PATROLMAP_DATA to the shared/data directory)");
  }
  return dir;
}

}  // namespace pm::test
