#include "server/ingest/nmea.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <optional>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHalfDayMs = kDayMs / 2;
constexpr double kKnotToMps = 1852.0 / 3600.0;
// accuracy_m = HDOP x UERE. 5 m is a typical single-frequency user equivalent
// range error (1 sigma), which makes the product roughly a 68 % horizontal radius,
// the meaning phones and the JSON channel give accuracy.
constexpr float kUereM = 5.0f;
// Some receivers send HDOP 99.99 to say "unknown".
constexpr double kInvalidHdop = 99.0;

struct Problem {
  Errc code;
  std::string_view detail;  // static text
};
using MaybeProblem = std::optional<Problem>;

// Comma-separated fields of a sentence body (after '$', before '*'). RMC and
// GGA need at most 14; further fields are not kept.
struct Fields {
  static constexpr size_t kMax = 24;
  std::array<std::string_view, kMax> f;
  size_t n = 0;
  std::string_view operator[](size_t i) const { return i < n ? f[i] : std::string_view{}; }
};

Fields split_fields(std::string_view body) {
  Fields out;
  while (out.n < Fields::kMax) {
    size_t comma = body.find(',');
    out.f[out.n++] = body.substr(0, comma);
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
int digit(char c) { return c - '0'; }
int two_digits(std::string_view s, size_t at) { return digit(s[at]) * 10 + digit(s[at + 1]); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// An unsigned decimal as NMEA writes it: digits with at most one '.', no sign,
// no exponent (so "inf", "1e9" and "-3" are malformed, not numbers).
bool parse_udecimal(std::string_view s, double& v) {
  if (s.empty() || s.size() > 32) return false;
  bool dot = false;
  bool any_digit = false;
  for (char c : s) {
    if (is_digit(c)) {
      any_digit = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  if (!any_digit) return false;
  if (s.front() == '.') {
    // from_chars wants a digit first; ".5" is seen in the wild.
    double frac = 0;
    auto [p, ec] = std::from_chars(s.data() + 1, s.data() + s.size(), frac, std::chars_format::fixed);
    if (ec != std::errc() || p != s.data() + s.size()) return false;
    v = frac / std::pow(10.0, static_cast<double>(s.size() - 1));
    return true;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  return ec == std::errc() && p == s.data() + s.size();
}

// hhmmss[.f...] -> milliseconds of the day. Extra fraction digits are
// truncated (gpsd does the same); second 60 is a leap second.
bool parse_time_of_day(std::string_view s, int64_t& ms) {
  if (s.size() < 6) return false;
  for (size_t i = 0; i < 6; ++i)
    if (!is_digit(s[i])) return false;
  int hh = two_digits(s, 0), mm = two_digits(s, 2), ss = two_digits(s, 4);
  if (hh > 23 || mm > 59 || ss > 60) return false;
  ms = ((hh * 60 + mm) * 60 + ss) * int64_t{1000};
  if (s.size() == 6) return true;
  if (s[6] != '.') return false;
  int scale = 100;
  for (size_t i = 7; i < s.size(); ++i) {
    if (!is_digit(s[i])) return false;
    ms += digit(s[i]) * scale;
    scale /= 10;
  }
  return true;
}

// ddmmyy -> days since 1970-01-01. Two-digit years 80-99 are 19xx, the rest
// 20xx, as gpsd reads them.
bool parse_date(std::string_view s, int64_t& day) {
  if (s.size() != 6) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  unsigned d = static_cast<unsigned>(two_digits(s, 0));
  unsigned m = static_cast<unsigned>(two_digits(s, 2));
  int yy = two_digits(s, 4);
  int64_t y = yy >= 80 ? 1900 + yy : 2000 + yy;
  if (m < 1 || m > 12 || d < 1) return false;
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  unsigned dim = kDays[m - 1] + (m == 2 && leap ? 1 : 0);
  if (d > dim) return false;
  day = days_from_civil(y, m, d);
  return true;
}

// (d)ddmm.mmmm plus hemisphere -> signed degrees.
MaybeProblem parse_coordinate(std::string_view value, std::string_view hemi, bool is_lat, double& out) {
  double v = 0;
  if (!parse_udecimal(value, v)) return Problem{Errc::bad_format, "latitude/longitude is not a number"};
  double deg = std::floor(v / 100.0);
  double minutes = v - deg * 100.0;
  if (minutes >= 60.0) return Problem{Errc::bad_coordinate, "latitude/longitude minutes >= 60"};
  double d = deg + minutes / 60.0;
  char pos = is_lat ? 'N' : 'E';
  char neg = is_lat ? 'S' : 'W';
  if (hemi.size() != 1 || (hemi[0] != pos && hemi[0] != neg))
    return Problem{Errc::bad_format, "hemisphere must be N/S or E/W"};
  if (d > (is_lat ? 90.0 : 180.0)) return Problem{Errc::bad_coordinate, "latitude/longitude out of range"};
  out = hemi[0] == neg ? -d : d;
  return std::nullopt;
}

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > NmeaStream::kMaxDeviceId) return false;
  for (char c : id)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

// Sentence kinds, as bits: an epoch records which it has merged.
constexpr uint8_t kRmc = 1;
constexpr uint8_t kGga = 2;
constexpr uint8_t kBoth = kRmc | kGga;

}  // namespace

struct NmeaSentence {
  uint8_t kind = kRmc;
  int64_t tod_ms = -1;
  bool fix = false;
  bool has_pos = false;
  double lat = 0;
  double lon = 0;
  bool has_date = false;
  int64_t day = 0;
  float speed_mps = kAbsent;
  float heading_deg = kAbsent;
  float accuracy_m = kAbsent;
};

namespace {

using Sentence = NmeaSentence;

MaybeProblem parse_time_field(std::string_view field, int64_t& tod) {
  tod = -1;
  if (field.empty()) return std::nullopt;  // receivers without a fix often send no time
  if (!parse_time_of_day(field, tod)) return Problem{Errc::bad_format, "time is not hhmmss.sss"};
  return std::nullopt;
}

// lat, N/S, lon, E/W starting at field i. Either value empty: no position.
MaybeProblem parse_position(const Fields& f, size_t i, Sentence& s) {
  if (f[i].empty() || f[i + 2].empty()) return std::nullopt;
  if (auto p = parse_coordinate(f[i], f[i + 1], true, s.lat)) return p;
  if (auto p = parse_coordinate(f[i + 2], f[i + 3], false, s.lon)) return p;
  s.has_pos = true;
  return std::nullopt;
}

// RMC: 1 time, 2 status, 3-6 position, 7 speed (knots), 8 course, 9 date,
// 10-11 magnetic variation, 12 mode (NMEA 2.3+), 13 navigation status (4.1+).
MaybeProblem parse_rmc(const Fields& f, Sentence& s) {
  if (f.n < 10) return Problem{Errc::bad_format, "RMC has too few fields"};
  if (auto p = parse_time_field(f[1], s.tod_ms)) return p;
  std::string_view status = f[2];
  if (status == "A" || status == "D") {
    s.fix = true;
  } else if (status == "V" || status.empty()) {
    s.fix = false;
  } else {
    return Problem{Errc::bad_format, "RMC status must be A or V"};
  }
  if (f[12] == "N") s.fix = false;  // mode indicator "data not valid"
  // Receivers without a fix fill the other fields with stale or bogus values;
  // nothing more is read from them.
  if (!s.fix) return std::nullopt;
  if (auto p = parse_position(f, 3, s)) return p;
  double v = 0;
  if (!f[7].empty()) {
    if (!parse_udecimal(f[7], v)) return Problem{Errc::bad_format, "RMC speed is not a number"};
    s.speed_mps = static_cast<float>(v * kKnotToMps);
  }
  if (!f[8].empty()) {
    if (!parse_udecimal(f[8], v) || v > 360.0) return Problem{Errc::bad_format, "RMC course is not 0..360"};
    s.heading_deg = static_cast<float>(v);
  }
  if (!f[9].empty()) {
    if (!parse_date(f[9], s.day)) return Problem{Errc::bad_format, "RMC date is not ddmmyy"};
    s.has_date = true;
  }
  return std::nullopt;
}

// GGA: 1 time, 2-5 position, 6 quality, 7 satellites used, 8 HDOP, 9-10
// altitude, 11-12 geoid separation, 13-14 DGPS age and station.
MaybeProblem parse_gga(const Fields& f, Sentence& s) {
  if (f.n < 7) return Problem{Errc::bad_format, "GGA has too few fields"};
  if (auto p = parse_time_field(f[1], s.tod_ms)) return p;
  std::string_view q = f[6];
  int quality = 0;
  if (!q.empty()) {
    if (q.size() != 1 || !is_digit(q[0])) return Problem{Errc::bad_format, "GGA fix quality is not a digit"};
    quality = digit(q[0]);
  }
  // 1-5 measured (GPS, DGPS, PPS, RTK fixed/float), 6 dead reckoning. 7 manual
  // input and 8 simulator are not positions of the vehicle.
  s.fix = quality >= 1 && quality <= 6;
  if (!f[7].empty()) {
    std::string_view sats = f[7];
    if (sats.size() > 3) return Problem{Errc::bad_format, "GGA satellite count is not a number"};
    int n = 0;
    for (char c : sats) {
      if (!is_digit(c)) return Problem{Errc::bad_format, "GGA satellite count is not a number"};
      n = n * 10 + digit(c);
    }
    // A measured fix needs at least 3 satellites; SiRF receivers report
    // quality 1 with 0 satellites while acquiring (gpsd treats it as no fix
    // too). Dead reckoning (6) needs none.
    if (quality <= 5 && n < 3) s.fix = false;
  }
  if (!s.fix) return std::nullopt;
  if (auto p = parse_position(f, 2, s)) return p;
  if (!f[8].empty()) {
    double hdop = 0;
    if (!parse_udecimal(f[8], hdop)) return Problem{Errc::bad_format, "GGA HDOP is not a number"};
    if (hdop < kInvalidHdop) s.accuracy_m = static_cast<float>(hdop) * kUereM;
  }
  return std::nullopt;
}

}  // namespace

bool nmea_checksum_ok(std::string_view sentence) {
  while (!sentence.empty() && (sentence.back() == '\r' || sentence.back() == '\n' || sentence.back() == ' ' ||
                               sentence.back() == '\t'))
    sentence.remove_suffix(1);
  if (sentence.size() < 4 || (sentence[0] != '$' && sentence[0] != '!')) return false;
  size_t star = sentence.size() - 3;
  if (sentence[star] != '*') return false;
  int hi = hex_value(sentence[star + 1]);
  int lo = hex_value(sentence[star + 2]);
  if (hi < 0 || lo < 0) return false;
  unsigned sum = 0;
  for (size_t i = 1; i < star; ++i) sum ^= static_cast<unsigned char>(sentence[i]);
  return sum == static_cast<unsigned>(hi * 16 + lo);
}

// No reserve: a UDP datagram makes a stream per datagram and rarely needs the
// carry-over buffer; it still never grows past max_line.
NmeaStream::NmeaStream(size_t max_line) : max_line_(max_line) {}

namespace {
// Position of the first CR or LF, or npos. (string_view::find_first_of calls
// memchr once per byte: a tenth of the UDP receive thread's time.)
size_t find_eol(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n' || s[i] == '\r') return i;
  return std::string_view::npos;
}
}  // namespace

void NmeaStream::feed(std::string_view bytes, DecodedPings& out) {
  while (!bytes.empty()) {
    size_t eol = find_eol(bytes);
    std::string_view chunk = bytes.substr(0, eol);
    if (discarding_) {
      // the rest of an oversized line: already rejected, drop it
    } else if (line_.size() + chunk.size() > max_line_) {
      ++counters_.oversized_lines;
      out.reject(Errc::bad_format, "line longer than the NMEA line limit");
      line_.clear();
      discarding_ = true;
    } else if (eol != std::string_view::npos && line_.empty()) {
      on_line(chunk, out);  // the common case: a whole line in one read, no copy
    } else {
      line_.append(chunk);
      if (eol != std::string_view::npos) {
        on_line(line_, out);
        line_.clear();
      }
    }
    if (eol == std::string_view::npos) break;
    discarding_ = false;  // a terminator ends every line, oversized ones too
    bytes.remove_prefix(eol + 1);
  }
}

void NmeaStream::flush(DecodedPings& out) {
  if (!discarding_ && !line_.empty()) on_line(line_, out);
  line_.clear();
  discarding_ = false;
  decide_epoch(out);
}

void NmeaStream::reset() {
  size_t max_line = max_line_;
  *this = NmeaStream(max_line);
}

void NmeaStream::on_line(std::string_view line, DecodedPings& out) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (line.empty()) return;  // CRLF, blank lines
  ++counters_.lines;
  size_t start = line.find('$');
  if (start == std::string_view::npos) {
    out.reject(Errc::bad_format, "line is not an NMEA sentence");
    return;
  }
  line.remove_prefix(start);  // noise or an NMEA 4 tag block before '$'
  if (!nmea_checksum_ok(line)) {
    out.reject(Errc::bad_checksum, "NMEA checksum missing or wrong");
    return;
  }
  ++counters_.sentences;
  Fields f = split_fields(line.substr(1, line.size() - 4));
  std::string_view address = f[0];

  if (address == "PGID") {
    if (f.n != 2 || !valid_device_id(f[1])) {
      out.reject(Errc::bad_format, "$PGID must carry a device id of 1..64 characters");
      return;
    }
    on_pgid(f[1], out);
    return;
  }
  // Talker (2 characters: GP, GN, GL, GA, BD, GB, ...) then the sentence type.
  // Proprietary sentences ($P...) have no talker.
  bool rmc = false, gga = false;
  if (address.size() == 5 && address[0] != 'P') {
    std::string_view type = address.substr(2);
    rmc = type == "RMC";
    gga = type == "GGA";
  }
  if (!rmc && !gga) {
    ++counters_.skipped;
    return;
  }
  Sentence s;
  s.kind = rmc ? kRmc : kGga;
  if (auto p = rmc ? parse_rmc(f, s) : parse_gga(f, s)) {
    out.reject(p->code, p->detail);
    return;
  }
  on_position(s, out);
}

void NmeaStream::on_pgid(std::string_view id, DecodedPings& out) {
  if (id == device_) return;  // a repeated identification, e.g. a keep-alive
  decide_epoch(out);          // the pending epoch belongs to the previous device
  device_.assign(id);
  pattern_ = 0;
  has_last_tod_ = false;
  has_anchor_ = false;
}

void NmeaStream::on_position(const NmeaSentence& s, DecodedPings& out) {
  bool timed = s.tod_ms >= 0;
  // Part of an epoch already decided: folding it in keeps one ping per fix.
  if (timed && has_last_tod_ && s.tod_ms == last_tod_ms_) {
    ++counters_.merged;
    return;
  }
  if (has_epoch_) {
    bool same_time = epoch_.tod_ms == s.tod_ms;
    bool same_kind = (epoch_.kinds & s.kind) != 0;
    if (same_time && same_kind && timed) {
      // A second RMC or GGA of one epoch (e.g. GPGGA and GLGGA): first wins.
      ++counters_.merged;
      return;
    }
    if (!same_time || same_kind) {
      pattern_ = epoch_.kinds;  // what this device sends per epoch
      decide_epoch(out);
    }
  }
  if (!has_epoch_) {
    epoch_ = Epoch{};
    epoch_.tod_ms = s.tod_ms;
    has_epoch_ = true;
  }
  Epoch& e = epoch_;
  e.kinds |= s.kind;
  if (!s.fix) e.no_fix = true;
  if (s.has_pos && (!e.has_pos || (s.kind == kRmc && !e.pos_from_rmc))) {
    e.lat = s.lat;
    e.lon = s.lon;
    e.has_pos = true;
    e.pos_from_rmc = s.kind == kRmc;
  }
  if (s.kind == kRmc) {
    if (s.has_date) {
      e.has_date = true;
      e.day = s.day;
    }
    e.speed_mps = s.speed_mps;
    e.heading_deg = s.heading_deg;
  } else {
    e.accuracy_m = s.accuracy_m;
  }
  if (e.kinds == kBoth || (pattern_ != 0 && (e.kinds & pattern_) == pattern_)) {
    pattern_ = e.kinds;
    decide_epoch(out);
  }
}

void NmeaStream::decide_epoch(DecodedPings& out) {
  if (!has_epoch_) return;
  has_epoch_ = false;
  const Epoch& e = epoch_;
  if (e.tod_ms >= 0) {
    has_last_tod_ = true;
    last_tod_ms_ = e.tod_ms;
  }
  if (device_.empty()) return out.reject(Errc::missing_field, "no $PGID line names the device");
  if (e.no_fix) return out.reject(Errc::no_fix, "the receiver reports no fix");
  if (!e.has_pos) return out.reject(Errc::no_fix, "fix without latitude/longitude");
  if (e.tod_ms < 0) return out.reject(Errc::missing_field, "fix without a time");
  EpochMs t = 0;
  if (e.has_date) {
    t = e.day * kDayMs + e.tod_ms;
  } else if (has_anchor_) {
    // The day that puts this time of day nearest the last fix: across
    // midnight, 00:00:01 after 23:59:59 is on the next day.
    EpochMs day_start = anchor_ - ((anchor_ % kDayMs) + kDayMs) % kDayMs;
    t = day_start + e.tod_ms;
    if (t < anchor_ - kHalfDayMs) t += kDayMs;
    else if (t > anchor_ + kHalfDayMs) t -= kDayMs;
  } else {
    return out.reject(Errc::missing_field, "no date: GGA before any RMC");
  }
  has_anchor_ = true;
  anchor_ = t;
  RawPing p;
  p.device = out.keep(device_);
  p.t = t;
  p.lat = e.lat;
  p.lon = e.lon;
  p.speed_mps = e.speed_mps;
  p.heading_deg = e.heading_deg;
  p.accuracy_m = e.accuracy_m;
  out.add(p);
}

void decode_nmea_datagram(std::string_view datagram, DecodedPings& out, size_t max_line) {
  NmeaStream stream(max_line);
  stream.feed(datagram, out);
  stream.flush(out);
}

}  // namespace pm
