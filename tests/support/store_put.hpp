#pragma once
// Test helper: resolves pings (auto-registering devices as units of the same
// id), submits them to a started Store, waits for the commit, applies them to
// the live state and returns the stored flags (1 stored, 0 duplicate).
#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "server/store/store.hpp"

namespace pm::test {

inline std::vector<uint8_t> store_put(Store& store, LiveState& live, const std::vector<RawPing>& pings) {
  auto job = std::make_unique<PingJob>();
  std::vector<uint32_t> positions(pings.size()), fix_pos;
  std::vector<Rejection> rej;
  ResolveOptions opt;
  opt.auto_register = true;
  live.resolve(pings, positions, Channel::json, opt, job->fixes, fix_pos, rej, job->created);
  std::promise<std::vector<uint8_t>> done;
  job->done = [&](PingJob& j, const StoreResult& r) {
    EXPECT_TRUE(r.ok) << r.error;
    live.apply(j.fixes, j.stored, j.created);
    done.set_value(j.stored);
  };
  EXPECT_TRUE(store.submit(job));
  return done.get_future().get();
}

}  // namespace pm::test
