#pragma once
// Small pieces the load drivers share: clocks, CPU time, a reproducible RNG,
// option values and fatal errors.
//
//   Rng rng{seed};  double x = rng.uniform();      // [0, 1)
//   uint64_t t0 = now_ns();  double cpu = cpu_seconds_self();
//   program_name = "live_load";  size_t n = parse_num<size_t>("--units", argv[i]);
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace pm::load {

inline uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// User + system CPU seconds of this process.
inline double cpu_seconds_self() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// splitmix64: small, fast, reproducible.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

// The driver's name in error messages (set first thing in main).
inline const char* program_name = "load";

[[noreturn]] inline void die(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "%s: %s\n", program_name, msg.c_str());
  std::exit(code);
}

// An option's numeric value, whole or it is an error.
template <class T>
T parse_num(const std::string& opt, const std::string& s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) die("bad value for " + opt + ": '" + s + "'");
  return v;
}

// Walks the command line, option by option:
//   for (Args args(argc, argv); args.next();) {
//     if (args.opt() == "--port") o.port = args.num<int>(); ...
class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool next() {
    if (++i_ >= argc_) return false;
    opt_ = argv_[i_];
    return true;
  }
  const std::string& opt() const { return opt_; }
  // The option's value (the next argument); a missing one is fatal.
  std::string value() {
    if (i_ + 1 >= argc_) die(opt_ + " needs a value");
    return argv_[++i_];
  }
  template <class T>
  T num() {
    return parse_num<T>(opt_, value());
  }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string opt_;
};

// utime + stime in seconds from a /proc stat file (/proc/PID/stat for a process,
// /proc/PID/task/TID/stat for one thread); -1 if unreadable.
inline double cpu_seconds_of_stat(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  if (!std::getline(f, s)) return -1;
  auto p = s.rfind(')');
  if (p == std::string::npos) return -1;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  unsigned long long ut = 0, st = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) ut = std::stoull(field);
    if (i == 15) st = std::stoull(field);
  }
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// utime + stime of a process (all its threads) in seconds; -1 if unreadable.
inline double cpu_seconds_of(int pid) { return cpu_seconds_of_stat("/proc/" + std::to_string(pid) + "/stat"); }

// Resident memory of a process in KiB (VmRSS in /proc/PID/status); -1 if unreadable.
inline long rss_kib_of(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

}  // namespace pm::load
