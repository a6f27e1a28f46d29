// libFuzzer target for the NMEA decoder: arbitrary bytes, cut at points taken
// from the input itself, must never crash, hang or grow memory, and must decode
// exactly as the same bytes in one piece (a TCP stream splits anywhere).
//
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     tests/fuzz/nmea_fuzz.cpp server/ingest/nmea.cpp server/core/errors.cpp \
//     server/core/time_format.cpp -o nmea_fuzz
//   ./nmea_fuzz -max_len=4096 -rss_limit_mb=2048 corpus/
//
// Input layout: byte 0 picks max_line (the default, or 8..262 to exercise the
// oversized-line path), bytes 1-2 the two cut points, the rest is the stream.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/ingest/nmea.hpp"

namespace {

[[noreturn]] void fail() { __builtin_trap(); }

bool same_float(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }
bool same_double(double a, double b) { return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b); }

bool same_output(const pm::DecodedPings& a, const pm::DecodedPings& b) {
  if (a.items != b.items || a.pings.size() != b.pings.size() || a.rejections.size() != b.rejections.size() ||
      a.positions != b.positions)
    return false;
  for (size_t i = 0; i < a.pings.size(); ++i) {
    const pm::RawPing& p = a.pings[i];
    const pm::RawPing& q = b.pings[i];
    if (p.device != q.device || p.t != q.t || !same_double(p.lat, q.lat) || !same_double(p.lon, q.lon) ||
        !same_float(p.speed_mps, q.speed_mps) || !same_float(p.heading_deg, q.heading_deg) ||
        !same_float(p.accuracy_m, q.accuracy_m))
      return false;
  }
  for (size_t i = 0; i < a.rejections.size(); ++i) {
    const pm::Rejection& r = a.rejections[i];
    const pm::Rejection& s = b.rejections[i];
    if (r.index != s.index || r.code != s.code || r.detail != s.detail) return false;
  }
  return true;
}

// What every decoded ping must satisfy whatever the input.
void check_invariants(const pm::DecodedPings& out) {
  if (out.pings.size() + out.rejections.size() != out.items) fail();
  if (out.positions.size() != out.pings.size()) fail();
  for (const pm::RawPing& p : out.pings) {
    if (p.device.empty() || p.device.size() > pm::NmeaStream::kMaxDeviceId) fail();
    if (!(std::fabs(p.lat) <= 90.0) || !(std::fabs(p.lon) <= 180.0)) fail();
    if (!std::isnan(p.speed_mps) && !(p.speed_mps >= 0.0f)) fail();
    if (!std::isnan(p.heading_deg) && !(p.heading_deg >= 0.0f && p.heading_deg <= 360.0f)) fail();
    if (!std::isnan(p.accuracy_m) && !(p.accuracy_m >= 0.0f)) fail();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t max_line = data[0] < 128 ? pm::NmeaStream::kDefaultMaxLine : 8 + (data[0] - 128u) * 2;
  std::string_view in(reinterpret_cast<const char*>(data + 3), size - 3);
  const size_t cut1 = data[1] * in.size() / 256;
  const size_t cut2 = cut1 + data[2] * (in.size() - cut1) / 256;

  pm::DecodedPings split_out;
  pm::NmeaStream split(max_line);
  for (std::string_view part : {in.substr(0, cut1), in.substr(cut1, cut2 - cut1), in.substr(cut2)}) {
    split.feed(part, split_out);
    if (split.buffered() > max_line) fail();  // memory stays bounded
  }
  split.flush(split_out);
  if (split.buffered() != 0) fail();
  check_invariants(split_out);

  pm::DecodedPings whole_out;
  pm::decode_nmea_datagram(in, whole_out, max_line);
  if (!same_output(split_out, whole_out)) fail();

  (void)pm::nmea_checksum_ok(in);
  return 0;
}
