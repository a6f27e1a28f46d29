#include "server/store/track_chunk.hpp"

#include <algorithm>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace pm {
namespace {

constexpr uint8_t kVersion = 2;
constexpr uint8_t kHasSpeed = 1, kHasHeading = 2, kHasAccuracy = 4, kHasXY = 8;
constexpr int kFlagShift = 4;
constexpr double kMaxMm = 1e12;  // 1,000 km beyond any CRS's extent; keeps deltas far from overflow

uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void put_f32(std::string& out, float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

struct Reader {
  std::string_view s;
  size_t pos = 0;
  bool get_varint(uint64_t& v) { return pm::get_varint(s, pos, v); }
  bool get_u8(uint8_t& v) {
    if (pos >= s.size()) return false;
    v = static_cast<uint8_t>(s[pos++]);
    return true;
  }
  bool get_f32(float& f) {
    if (s.size() - pos < 4) return false;
    uint32_t u = 0;
    for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(static_cast<uint8_t>(s[pos + i])) << (8 * i);
    pos += 4;
    f = std::bit_cast<float>(u);
    return true;
  }
};

bool fits_i32(int64_t v) {
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}

}  // namespace

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view s, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) return false;
    auto b = static_cast<uint8_t>(s[pos++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

int32_t to_e7(double deg) { return static_cast<int32_t>(std::llround(deg * 1e7)); }

int64_t to_mm(double metres) {
  const double mm = metres * 1000.0;
  if (!std::isfinite(mm) || std::fabs(mm) > kMaxMm) return TrackPoint::kNoXY;
  return std::llround(mm);
}

geo::XY to_mm_grid(geo::XY p) {
  const int64_t x = to_mm(p.x), y = to_mm(p.y);
  if (x == TrackPoint::kNoXY || y == TrackPoint::kNoXY) {
    return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  }
  return {static_cast<double>(x) / 1000.0, static_cast<double>(y) / 1000.0};
}

void set_projected(TrackPoint& p, geo::XY xy) {
  const int64_t x = to_mm(xy.x), y = to_mm(xy.y);
  const bool ok = x != TrackPoint::kNoXY && y != TrackPoint::kNoXY;
  p.x_mm = ok ? x : TrackPoint::kNoXY;
  p.y_mm = ok ? y : TrackPoint::kNoXY;
}

void encode_track_chunk(const std::vector<TrackPoint>& points, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  put_varint(out, points.size());
  int64_t t = 0, lat = 0, lon = 0, x = 0, y = 0;
  for (const auto& p : points) {
    put_varint(out, zigzag(p.t - t));
    put_varint(out, zigzag(p.lat_e7 - lat));
    put_varint(out, zigzag(p.lon_e7 - lon));
    t = p.t;
    lat = p.lat_e7;
    lon = p.lon_e7;
    put_varint(out, p.device);
    out.push_back(static_cast<char>(p.channel));
    uint8_t bits = static_cast<uint8_t>((p.flags & 0x0f) << kFlagShift);
    if (!std::isnan(p.speed_mps)) bits |= kHasSpeed;
    if (!std::isnan(p.heading_deg)) bits |= kHasHeading;
    if (!std::isnan(p.accuracy_m)) bits |= kHasAccuracy;
    const bool xy = p.has_xy() && p.y_mm != TrackPoint::kNoXY;
    if (xy) bits |= kHasXY;
    out.push_back(static_cast<char>(bits));
    if (xy) {
      put_varint(out, zigzag(p.x_mm - x));
      put_varint(out, zigzag(p.y_mm - y));
      x = p.x_mm;
      y = p.y_mm;
    }
    if (bits & kHasSpeed) put_f32(out, p.speed_mps);
    if (bits & kHasHeading) put_f32(out, p.heading_deg);
    if (bits & kHasAccuracy) put_f32(out, p.accuracy_m);
  }
}

bool decode_track_chunk(std::string_view blob, std::vector<TrackPoint>& out) {
  Reader r{blob};
  uint8_t version = 0;
  uint64_t n = 0;
  if (!r.get_u8(version) || version != kVersion || !r.get_varint(n)) return false;
  // Each point takes at least 6 bytes: a count beyond that is a lie.
  if (n > (blob.size() - r.pos) / 6) return false;
  const size_t first = out.size();
  // Geometric growth: a 12-hour track is ~720 one-minute chunks appended to
  // one vector, and an exact reserve per chunk would copy it each time.
  if (out.capacity() < first + n) out.reserve(std::max<size_t>(first + n, out.capacity() * 2));
  int64_t t = 0, lat = 0, lon = 0, x = 0, y = 0;
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t dt = 0, dlat = 0, dlon = 0, dev = 0;
    uint8_t ch = 0, bits = 0;
    bool ok = r.get_varint(dt) && r.get_varint(dlat) && r.get_varint(dlon) && r.get_varint(dev) && r.get_u8(ch) &&
              r.get_u8(bits);
    TrackPoint p{.speed_mps = kNaN, .heading_deg = kNaN, .accuracy_m = kNaN};
    if (ok && (bits & kHasXY)) {
      uint64_t dx = 0, dy = 0;
      ok = r.get_varint(dx) && r.get_varint(dy);
      // |x|, |y| <= kMaxMm when encoded, so a delta beyond 2 kMaxMm is malformed
      // (and the sums below cannot overflow).
      const int64_t ddx = unzigzag(dx), ddy = unzigzag(dy);
      constexpr auto kMaxDeltaMm = static_cast<int64_t>(2 * kMaxMm);
      ok = ok && ddx >= -kMaxDeltaMm && ddx <= kMaxDeltaMm && ddy >= -kMaxDeltaMm && ddy <= kMaxDeltaMm;
      if (ok) {
        x += ddx;
        y += ddy;
        ok = std::fabs(static_cast<double>(x)) <= kMaxMm && std::fabs(static_cast<double>(y)) <= kMaxMm;
        p.x_mm = x;
        p.y_mm = y;
      }
    }
    if (ok && (bits & kHasSpeed)) ok = r.get_f32(p.speed_mps);
    if (ok && (bits & kHasHeading)) ok = r.get_f32(p.heading_deg);
    if (ok && (bits & kHasAccuracy)) ok = r.get_f32(p.accuracy_m);
    // Wrapping arithmetic on unsigned: a hostile delta cannot overflow signed.
    t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(unzigzag(dt)));
    // lat/lon stay int32, so a delta beyond 2^33 is malformed (and cannot overflow).
    const int64_t dla = unzigzag(dlat), dlo = unzigzag(dlon);
    constexpr int64_t kMaxDelta = int64_t{1} << 33;
    ok = ok && dla > -kMaxDelta && dla < kMaxDelta && dlo > -kMaxDelta && dlo < kMaxDelta;
    if (ok) {
      lat += dla;
      lon += dlo;
    }
    if (!ok || !fits_i32(lat) || !fits_i32(lon) || dev > std::numeric_limits<uint32_t>::max() ||
        (i > 0 && t < out.back().t)) {
      out.resize(first);
      return false;
    }
    p.t = t;
    p.lat_e7 = static_cast<int32_t>(lat);
    p.lon_e7 = static_cast<int32_t>(lon);
    p.device = static_cast<uint32_t>(dev);
    p.channel = ch;
    p.flags = static_cast<uint8_t>(bits >> kFlagShift);
    out.push_back(p);
  }
  if (r.pos != blob.size()) {
    out.resize(first);
    return false;
  }
  return true;
}

}  // namespace pm
