#pragma once
// Time is a parameter: logic takes `now` (epoch milliseconds, UTC) and never
// reads the system clock. Only the shell owns a Clock.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace pm {

using EpochMs = int64_t;  // milliseconds since 1970-01-01T00:00:00Z

class Clock {
 public:
  virtual ~Clock() = default;
  virtual EpochMs now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  EpochMs now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

// A clock tests set by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(EpochMs t) : t_(t) {}
  EpochMs now_ms() const override { return t_.load(); }
  void set(EpochMs t) { t_.store(t); }
  void advance(EpochMs d) { t_.fetch_add(d); }

 private:
  std::atomic<EpochMs> t_;
};

}  // namespace pm
