#include "server/ingest/lip.hpp"

#include <cmath>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

constexpr std::string_view kCtsdsr = "+CTSDSR:";
constexpr size_t kMaxIssiDigits = 20;  // a full TSI (MCC, MNC, SSI) in decimal still fits

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool all_hex(std::string_view s) {
  for (char c : s)
    if (hex_value(c) < 0) return false;
  return true;
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "0002001234" and "2001234" are the same radio; "0" stays "0".
std::string_view strip_leading_zeros(std::string_view digits) {
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  return digits;
}

// MSB-first reader over hex digits (already checked to be hex). LIP fields are
// not octet aligned, and a payload may have an odd number of digits, so it reads
// nibbles rather than bytes.
class BitReader {
 public:
  explicit BitReader(std::string_view hex) : hex_(hex), size_(hex.size() * 4) {}
  bool has(size_t n) const { return pos_ <= size_ && n <= size_ - pos_; }
  // Callers check has(n) first to tell truncation apart; reading past the end
  // still only yields zero bits, never touches memory beyond the payload. n <= 32.
  uint32_t read(unsigned n) {
    uint32_t v = 0;
    for (unsigned i = 0; i < n; ++i, ++pos_) {
      unsigned bit = 0;
      if (pos_ < size_) bit = (static_cast<unsigned>(hex_value(hex_[pos_ / 4])) >> (3 - pos_ % 4)) & 1u;
      v = (v << 1) | bit;
    }
    return v;
  }

 private:
  std::string_view hex_;
  size_t size_;
  size_t pos_ = 0;
};

int32_t sign_extend(uint32_t v, unsigned bits) {
  uint32_t sign = 1u << (bits - 1);
  return static_cast<int32_t>(v ^ sign) - static_cast<int32_t>(sign);
}

// Longitude: 25 bits two's complement, 360/2^25 degrees; latitude: 24 bits, 180/2^24.
double lon_degrees(uint32_t raw) { return sign_extend(raw, 25) * (360.0 / 33554432.0); }
double lat_degrees(uint32_t raw) { return sign_extend(raw, 24) * (180.0 / 16777216.0); }

// Horizontal velocity, 7 bits: km/h up to 28, then 16 x 1.038^(v-13) (a 3.8 %
// step), 127 not known.
float speed_mps(uint32_t code) {
  if (code == 127) return kAbsent;
  double kmh = code <= 28 ? static_cast<double>(code) : 16.0 * std::pow(1.038, static_cast<double>(code) - 13.0);
  return static_cast<float>(kmh / 3.6);
}

// Position error, 3 bits: the upper bound of each class (<2 m ... <=200 km).
// ">200 km" has no upper bound; the next step of the x10 ladder keeps it finite
// (JSON has no infinity) and distinct from code 5. 7 is "not known".
float position_error_m(uint32_t code) {
  static constexpr float kBound[7] = {2.f, 20.f, 200.f, 2e3f, 2e4f, 2e5f, 2e6f};
  return code < 7 ? kBound[code] : kAbsent;
}

// Horizontal position uncertainty (and ellipse half axes), 6 bits: upper bound
// r = 2 x 1.2^(K+5) - 4 metres (ETSI table: K=0 "<1 m", K=10 "<26.8 m",
// K=62 "<403 802.7 m"); 63 is "best effort", no bound at all.
float uncertainty_m(uint32_t k) {
  if (k >= 63) return kAbsent;
  return static_cast<float>(2.0 * std::pow(1.2, static_cast<double>(k) + 5.0) - 4.0);
}

// Altitude, 12 bits: a type bit (reference surface), then an 11-bit code:
// 1 m steps from -200 m, 2 m steps from 1000 m, 75 m steps from 2450 m. 0 is reserved.
float altitude_m(uint32_t raw) {
  uint32_t v = raw & 0x7ff;
  if (v == 0) return kAbsent;
  if (v <= 1201) return static_cast<float>(static_cast<int>(v) - 201);
  if (v <= 1926) return static_cast<float>(2 * static_cast<int>(v) - 1402);
  return static_cast<float>(75 * static_cast<int>(v) - 142000);
}

Unexpected<LipError> fail(Errc code, std::string_view detail) { return Unexpected<LipError>{{code, detail}}; }

// The position fields every shape but "no shape" starts with.
void read_point(BitReader& r, LipReport& out) {
  uint32_t lon = r.read(25);
  uint32_t lat = r.read(24);
  out.lon = lon_degrees(lon);
  out.lat = lat_degrees(lat);
  // Raw zeros in both are the radio's filler for "no position" (Motorola sends
  // them with position error "not known"); no real fix lands exactly on them.
  out.no_fix = (lon == 0 && lat == 0);
}

// Sets heading from a direction code, but only with a known speed: radios fill
// the direction field when they do not know how they are moving.
void set_heading(LipReport& out, double degrees) {
  if (!std::isnan(out.speed_mps)) out.heading_deg = static_cast<float>(degrees);
}

void read_additional_data(BitReader& r, LipReport& out) {
  bool user_defined = r.read(1) != 0;
  uint32_t data = r.read(8);
  if (user_defined) {
    out.user_data = static_cast<int>(data);
  } else {
    out.reason = static_cast<int>(data);
    out.emergency = (data == 2);
  }
}

Expected<LipReport, LipError> decode_short(BitReader& r) {
  // time elapsed 2, longitude 25, latitude 24, position error 3, velocity 7,
  // direction 4, type of additional data 1, additional data 8
  if (!r.has(74)) return fail(Errc::bad_format, "LIP short location report is truncated");
  LipReport out;
  out.kind = LipReport::Kind::short_report;
  out.time_kind = LipReport::TimeKind::elapsed;
  out.time_elapsed = static_cast<uint8_t>(r.read(2));
  read_point(r, out);
  out.accuracy_m = position_error_m(r.read(3));
  out.speed_mps = speed_mps(r.read(7));
  set_heading(out, r.read(4) * 22.5);
  read_additional_data(r, out);
  return out;
}

// PDU type extension 0011: time data, location data by shape, velocity data by
// type, acknowledgement request, additional data, then optional elements.
Expected<LipReport, LipError> decode_long(BitReader& r) {
  static const char* const kTruncated = "LIP long location report is truncated";
  LipReport out;
  out.kind = LipReport::Kind::long_report;

  if (!r.has(2)) return fail(Errc::bad_format, kTruncated);
  switch (r.read(2)) {
    case 0:
      out.time_kind = LipReport::TimeKind::none;
      break;
    case 1:
      if (!r.has(2)) return fail(Errc::bad_format, kTruncated);
      out.time_kind = LipReport::TimeKind::elapsed;
      out.time_elapsed = static_cast<uint8_t>(r.read(2));
      break;
    case 2:
      if (!r.has(22)) return fail(Errc::bad_format, kTruncated);
      out.time_kind = LipReport::TimeKind::time_of_position;
      out.day = static_cast<uint8_t>(r.read(5));
      out.hour = static_cast<uint8_t>(r.read(5));
      out.minute = static_cast<uint8_t>(r.read(6));
      out.second = static_cast<uint8_t>(r.read(6));
      if (out.day < 1 || out.hour > 23 || out.minute > 59 || out.second > 59)
        return fail(Errc::bad_format, "LIP time of position is out of range");
      break;
    default:
      return fail(Errc::bad_format, "LIP time type is reserved");
  }

  if (!r.has(4)) return fail(Errc::bad_format, kTruncated);
  out.location_shape = static_cast<uint8_t>(r.read(4));
  // Bits of each shape after its 49-bit point: uncertainty 6, ellipse half axes
  // 6 + 6 and angle 8, altitude 12, altitude accuracy 3, confidence 3, error 3.
  static constexpr int kShapeBits[16] = {0, 0, 6, 23, 12, 18, 35, 21, 38, -1, 3, -1, -1, -1, -1, -1};
  switch (out.location_shape) {
    case 9:
      return fail(Errc::bad_format, "LIP location shape 'arc' is not supported: it locates a sector, not the radio");
    case 11:
    case 12:
    case 13:
    case 14:
      return fail(Errc::bad_format, "LIP location shape is reserved");
    case 15:
      return fail(Errc::bad_format, "LIP location shape extension is not supported");
    default:
      break;
  }
  if (out.location_shape == 0) {
    out.no_fix = true;  // "no shape": the radio reports no position at all
  } else {
    if (!r.has(49 + static_cast<size_t>(kShapeBits[out.location_shape]))) return fail(Errc::bad_format, kTruncated);
    read_point(r, out);
    switch (out.location_shape) {
      case 1:  // point
        break;
      case 2:  // point with uncertainty circle
        out.accuracy_m = uncertainty_m(r.read(6));
        break;
      case 3:  // ellipse: half major axis, half minor axis, angle, confidence
        out.accuracy_m = uncertainty_m(r.read(6));
        r.read(6 + 8 + 3);
        break;
      case 4:  // point with altitude
        out.altitude_m = altitude_m(r.read(12));
        break;
      case 5:  // circle with altitude
        out.accuracy_m = uncertainty_m(r.read(6));
        out.altitude_m = altitude_m(r.read(12));
        break;
      case 6:  // ellipse with altitude: axes, angle, altitude, confidence
        out.accuracy_m = uncertainty_m(r.read(6));
        r.read(6 + 8);
        out.altitude_m = altitude_m(r.read(12));
        r.read(3);
        break;
      case 7:  // circle with altitude and altitude uncertainty
        out.accuracy_m = uncertainty_m(r.read(6));
        out.altitude_m = altitude_m(r.read(12));
        r.read(3);
        break;
      case 8:  // ellipse with altitude, altitude uncertainty, confidence
        out.accuracy_m = uncertainty_m(r.read(6));
        r.read(6 + 8);
        out.altitude_m = altitude_m(r.read(12));
        r.read(3 + 3);
        break;
      case 10:  // point and position error (the short report's 3-bit classes)
        out.accuracy_m = position_error_m(r.read(3));
        break;
      default:
        break;
    }
  }

  if (!r.has(3)) return fail(Errc::bad_format, kTruncated);
  // Velocity types: horizontal speed 7 bits first in all but "none"; then
  // speed uncertainty 3, vertical velocity 8 (+ uncertainty 3), direction of
  // travel extended 8 (+ uncertainty 3), in that order, as the type says.
  uint32_t velocity_type = r.read(3);
  static constexpr int kVelocityBits[8] = {0, 7, 10, 15, 21, 15, 21, 32};
  if (!r.has(static_cast<size_t>(kVelocityBits[velocity_type]) + 10)) return fail(Errc::bad_format, kTruncated);
  if (velocity_type != 0) out.speed_mps = speed_mps(r.read(7));
  switch (velocity_type) {
    case 2:
      r.read(3);
      break;
    case 3:
      r.read(8);
      break;
    case 4:
      r.read(3 + 8 + 3);
      break;
    case 5:
      set_heading(out, r.read(8) * (360.0 / 256.0));
      break;
    case 6:
      r.read(3);
      set_heading(out, r.read(8) * (360.0 / 256.0));
      r.read(3);
      break;
    case 7:
      r.read(3 + 8 + 3);
      set_heading(out, r.read(8) * (360.0 / 256.0));
      r.read(3);
      break;
    default:
      break;
  }

  out.ack_requested = r.read(1) != 0;
  read_additional_data(r, out);
  // The reference the acknowledgement must quote; radios that ask for none
  // (and some that do) end the report here.
  if (out.ack_requested && r.has(8)) out.message_ref = static_cast<int>(r.read(8));
  return out;
}

// A line the radio sends on its own account, never an SDS payload: a result
// code, an unsolicited "+XXX:" report or the echo of a command.
bool is_pei_response(std::string_view line) {
  return line.front() == '+' || line == "OK" || line == "ERROR" || line.substr(0, 2) == "AT" ||
         line.substr(0, 2) == "at";
}

// Digits already checked, at most 5 of them.
uint32_t parse_small_uint(std::string_view digits) {
  uint32_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<uint32_t>(c - '0');
  return v;
}

// The ids this module hands out: digits only, no leading zeros.
bool valid_issi(std::string_view s) { return !s.empty() && s.size() <= kMaxIssiDigits && all_digits(s); }

// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, the
// inverse of days_from_civil).
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

constexpr EpochMs kDayMs = 86'400'000;

}  // namespace

LipPdu classify_lip(std::string_view hex) {
  if (hex.size() < 2 || hex_value(hex[0]) != 0 || (hex_value(hex[1]) != 0xA)) return LipPdu::not_lip;
  // PDU type 01 with an extension other than 0011 is LIP protocol traffic
  // (acknowledgements, trigger and parameter responses), not a position.
  if (hex.size() >= 4 && hex_value(hex[2]) >= 0 && hex_value(hex[3]) >= 0) {
    int first = hex_value(hex[2]) * 16 + hex_value(hex[3]);
    int pdu_type = first >> 6;
    int extension = (first >> 2) & 0xf;
    if (pdu_type == 1 && extension != 3) return LipPdu::other;
  }
  return LipPdu::location_report;
}

Expected<LipReport, LipError> decode_lip(std::string_view hex) {
  if (hex.size() < 2) return fail(Errc::bad_format, "LIP payload is shorter than its protocol identifier");
  if (!all_hex(hex)) return fail(Errc::bad_format, "LIP payload is not hexadecimal");
  if (hex_value(hex[0]) != 0 || hex_value(hex[1]) != 0xA)
    return fail(Errc::bad_format, "SDS payload is not LIP (protocol identifier is not 0A)");
  BitReader r(hex.substr(2));
  if (!r.has(2)) return fail(Errc::bad_format, "LIP payload ends after its protocol identifier");
  switch (r.read(2)) {
    case 0:
      return decode_short(r);
    case 1:
      if (!r.has(4)) return fail(Errc::bad_format, "LIP long location report is truncated");
      if (r.read(4) != 3) return fail(Errc::bad_format, "LIP PDU is not a location report");
      return decode_long(r);
    default:
      return fail(Errc::bad_format, "LIP PDU type is reserved");
  }
}

EpochMs lip_fix_time(const LipReport& report, EpochMs now) {
  switch (report.time_kind) {
    case LipReport::TimeKind::none:
      return now;
    case LipReport::TimeKind::elapsed:
      // Lower bound of the bucket: "<5 s" is now, "<5 min" at least 5 s ago,
      // "<30 min" at least 5 min ago; "not known" has no bound, keep now.
      switch (report.time_elapsed) {
        case 1:
          return now - 5'000;
        case 2:
          return now - 300'000;
        default:
          return now;
      }
    case LipReport::TimeKind::time_of_position:
      break;
  }
  // Candidates: that day-of-month and time in the month of `now` and the two
  // before it, or the next one; the latest that is not more than a day ahead of
  // `now` wins. A day ahead covers a radio clock running early across a month
  // end; anything further is older than it looks. Of any two consecutive months
  // one has 31 days, so months -1 and -2 always give a candidate for day 1..31.
  const int64_t today = now >= 0 ? now / kDayMs : -((-now + kDayMs - 1) / kDayMs);
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(today, y, m, d);
  const EpochMs time_of_day = ((report.hour * 60 + report.minute) * 60 + report.second) * EpochMs{1000};
  EpochMs best = now;
  bool found = false;
  for (int shift = -2; shift <= 1; ++shift) {
    int64_t cy = y;
    int64_t cm = static_cast<int64_t>(m) + shift;
    if (cm < 1) {
      cm += 12;
      cy -= 1;
    } else if (cm > 12) {
      cm -= 12;
      cy += 1;
    }
    if (report.day < 1 || report.day > days_in_month(cy, static_cast<unsigned>(cm))) continue;
    EpochMs t = days_from_civil(cy, static_cast<unsigned>(cm), report.day) * kDayMs + time_of_day;
    if (t > now + kDayMs) continue;
    if (!found || t > best) {
      best = t;
      found = true;
    }
  }
  return best;
}

void lip_to_ping(const LipReport& report, std::string_view issi, EpochMs now, DecodedPings& out) {
  if (report.no_fix && !report.emergency) {
    out.reject(Errc::no_fix, "LIP report without a position (radio has no GPS fix)");
    return;
  }
  if (report.no_fix) {
    // An emergency from a radio without GPS has no position to store, but it
    // must reach the dispatcher: validation rejects it as no_fix and the
    // pipeline raises the emergency at the unit's last known position.
    RawPing p;
    p.device = out.keep(strip_leading_zeros(issi));
    p.t = now;
    p.emergency = true;
    p.no_fix = true;
    out.add(p);
    return;
  }
  RawPing p;
  p.device = out.keep(strip_leading_zeros(issi));
  p.t = lip_fix_time(report, now);
  p.lat = report.lat;
  p.lon = report.lon;
  p.speed_mps = report.speed_mps;
  p.heading_deg = report.heading_deg;
  p.accuracy_m = report.accuracy_m;
  p.emergency = report.emergency;
  out.add(p);
}

void decode_lip_datagram(std::string_view datagram, EpochMs now, DecodedPings& out) {
  while (!datagram.empty() && (datagram.back() == '\n' || datagram.back() == '\r')) datagram.remove_suffix(1);
  size_t comma = datagram.find(',');
  if (comma == std::string_view::npos) {
    out.reject(Errc::bad_format, "LIP datagram is not <ISSI>,<payload hex>");
    return;
  }
  std::string_view issi = trim(datagram.substr(0, comma));
  std::string_view hex = trim(datagram.substr(comma + 1));
  if (issi.empty()) return out.reject(Errc::missing_field, "LIP datagram has no ISSI");
  if (!valid_issi(issi)) return out.reject(Errc::bad_format, "LIP datagram ISSI is not a decimal number");
  if (hex.empty()) return out.reject(Errc::missing_field, "LIP datagram has no payload");
  auto report = decode_lip(hex);
  if (!report) return out.reject(report.error().code, report.error().detail);
  lip_to_ping(*report, issi, now, out);
}

void PeiStream::feed(std::string_view bytes, EpochMs now, DecodedPings& out) {
  for (char c : bytes) {
    // CR and LF both end a line: PEI sends CRLF, some gateways only one of them;
    // the empty line between CR and LF is skipped like any blank line.
    if (c == '\r' || c == '\n') {
      if (discarding_) {
        discarding_ = false;
      } else {
        on_line(line_, now, out);
      }
      line_.clear();
      continue;
    }
    if (discarding_) continue;
    if (line_.size() == kMaxLine) {
      // No PEI line is this long; whatever it is, it is not a payload we could
      // use, and keeping it would let one peer grow our memory.
      ++counters_.lines;
      ++counters_.oversized;
      drop_pending();
      line_.clear();
      discarding_ = true;
      continue;
    }
    if (line_.capacity() < kMaxLine) line_.reserve(kMaxLine);
    line_.push_back(c);
  }
}

// The header waiting for its payload line lost it (another line came first).
void PeiStream::drop_pending() {
  if (pending_) ++counters_.orphan_headers;
  pending_ = false;
}

void PeiStream::on_line(std::string_view line, EpochMs now, DecodedPings& out) {
  line = trim(line);
  if (line.empty()) return;
  ++counters_.lines;
  if (line.substr(0, kCtsdsr.size()) == kCtsdsr) {
    drop_pending();
    pending_ = parse_header(line.substr(kCtsdsr.size()));
    if (!pending_) ++counters_.bad_headers;
    return;
  }
  if (pending_ && !is_pei_response(line)) {
    // The line after a header is its payload, hex or not: a corrupted LIP
    // payload is a rejected report, not a silently skipped line.
    pending_ = false;
    on_payload(line, now, out);
    return;
  }
  // OK, ERROR, +ENCR, +CTXD, AT echo, a status value with no header, ...
  drop_pending();
  ++counters_.other_lines;
}

// "<ai>,<src identity>,<src type>,<dst identity>,<dst type>,<bits>[,<e2e encryption>]";
// the source identity may be empty (the network withheld it).
bool PeiStream::parse_header(std::string_view rest) {
  std::array<std::string_view, 7> f;
  size_t n = 0;
  while (true) {
    size_t comma = rest.find(',');
    if (n == f.size()) return false;
    f[n++] = trim(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (n < 6) return false;
  for (size_t i = 0; i < n; ++i)
    if (!all_digits(f[i])) return false;
  // ai and bits must be present and small; identities within TSI length.
  if (f[0].empty() || f[0].size() > 3 || f[5].empty() || f[5].size() > 5) return false;
  if (f[1].size() > kMaxIssiDigits || f[3].empty() || f[3].size() > kMaxIssiDigits) return false;
  pending_ai_ = static_cast<int>(parse_small_uint(f[0]));
  pending_bits_ = parse_small_uint(f[5]);
  std::string_view issi = f[1].empty() ? f[1] : strip_leading_zeros(f[1]);
  pending_issi_len_ = static_cast<uint8_t>(issi.size());
  for (size_t i = 0; i < issi.size(); ++i) pending_issi_[i] = issi[i];
  return true;
}

void PeiStream::on_payload(std::string_view hex, EpochMs now, DecodedPings& out) {
  ++counters_.sds;
  if (hex.size() != (static_cast<size_t>(pending_bits_) + 3) / 4) ++counters_.length_mismatch;
  // AI services 9..11 (SDS types 1-3) and 13 (status) carry fixed user data or a
  // status number, no protocol identifier: a status 0x0A12 is not LIP.
  if ((pending_ai_ >= 9 && pending_ai_ <= 11) || pending_ai_ == 13) {
    ++counters_.non_lip_sds;
    return;
  }
  switch (classify_lip(hex)) {
    case LipPdu::not_lip:
      ++counters_.non_lip_sds;
      return;
    case LipPdu::other:
      ++counters_.lip_other;
      return;
    case LipPdu::location_report:
      break;
  }
  ++counters_.lip;
  if (pending_issi_len_ == 0) return out.reject(Errc::missing_field, "LIP report without a source ISSI");
  auto report = decode_lip(hex);
  if (!report) return out.reject(report.error().code, report.error().detail);
  lip_to_ping(*report, std::string_view(pending_issi_.data(), pending_issi_len_), now, out);
}

}  // namespace pm
