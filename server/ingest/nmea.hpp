#pragma once
// NMEA 0183 decoder for the TCP and UDP channels (SPEC section 3), pure: it
// turns bytes into pings and rejections, owns no socket and reads no clock.
//
//   NmeaStream stream;                       // one per TCP connection
//   DecodedPings out;
//   stream.feed("$PGID,AVL-0231*40\r\n$GNRMC,0039", out);      // any split
//   stream.feed("56.00,A,4552.65403,S,...*07\r\n", out);
//   ...                                      // out.pings, out.rejections
//   stream.flush(out);                       // connection closed
//
//   DecodedPings d;                          // UDP: one datagram, one stream
//   decode_nmea_datagram(datagram, d);
//
// Input: a `$PGID,<device>*hh` line names the sender (it may change mid-stream),
// then RMC and GGA sentences from any talker (GP, GN, GL, GA, BD, ...). Lines
// end in CR, LF or CRLF; empty lines are ignored; bytes before the first `$` of
// a line (noise, NMEA 4 tag blocks) are ignored.
//
// One ping per fix epoch, not per sentence. RMC and GGA of the same time of day
// describe one fix and are merged: RMC gives the date, speed and course; GGA the
// fix quality, satellites used and HDOP; the position comes from RMC when both
// carry one. The epoch is decided (emitted or rejected) when
//   - both its RMC and GGA have arrived, or
//   - it holds every sentence type the previous epoch held (a device that sends
//     only RMC, or only GGA, is not kept waiting for a sentence it never sends), or
//   - a position sentence with another time of day arrives, or
//   - flush() is called (end of a datagram or connection).
// A RMC/GGA arriving after its epoch was decided (e.g. a second GGA from another
// talker, or a GGA after an RMC-only epoch) is folded in silently (counted in
// `merged`), never emitted as a second ping with the same timestamp.
//
// Each decided epoch is one item of `out` (DecodedPings::add or ::reject); so is
// each line rejected on its own. Reasons:
//   bad_checksum    missing or wrong `*hh` (checked before anything else)
//   bad_format      malformed field or line, too few fields, line over max_line
//   bad_coordinate  latitude/longitude out of range, minutes >= 60
//   no_fix          RMC status V or mode N; GGA quality 0, 7 (manual) or 8
//                   (simulator); GGA quality 1-5 with fewer than 3 satellites
//                   used (gpsd's rule: no such fix exists); empty lat/lon. If
//                   either sentence of an epoch says "no fix", the epoch is no_fix.
//   missing_field   no $PGID line yet (sentences are never attributed to a
//                   guessed device); a fix without a time; a GGA-only fix
//                   before any RMC has given a date.
// Other sentences with a valid checksum (GSV, GSA, VTG, GLL, TXT, proprietary
// $P...) are skipped and counted, not rejected.
//
// Time: RMC date ddmmyy (yy 80-99 -> 19yy, else 20yy, as gpsd) plus time of day
// hhmmss[.sss], UTC, to the millisecond. An epoch without RMC takes its date from
// the last accepted fix of the stream, choosing the day that puts it within 12 h
// of that fix, so a GGA at 00:00:01 after a fix at 23:59:59 is on the next day.
// No GPS week-rollover correction: the device's date is reported as sent (a
// receiver with the 1024-week bug is caught by the too_old check downstream).
// Speed: knots x 1852/3600 -> m/s. Course -> heading_deg. accuracy_m = GGA HDOP
// x 5 m (a typical single-frequency user range error, so roughly the 68 %
// horizontal radius), absent without HDOP or when HDOP >= 99 (the "invalid"
// marker of some receivers).
//
// Memory per stream is bounded: a line longer than max_line is dropped (one
// bad_format rejection, counted in oversized_lines) without buffering more than
// max_line bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/ingest/decoded.hpp"

namespace pm {

struct NmeaSentence;  // one decoded RMC or GGA (nmea.cpp)

// True when `sentence` ("$...*hh", trailing CR/LF/spaces allowed; '$' or '!')
// carries a `*hh` that equals the XOR of the bytes between the start character
// and '*'. Hex digits may be upper or lower case.
[[nodiscard]] bool nmea_checksum_ok(std::string_view sentence);

class NmeaStream {
 public:
  // NMEA limits a sentence to 82 characters; 256 leaves room for long
  // proprietary sentences and tag blocks while bounding memory.
  static constexpr size_t kDefaultMaxLine = 256;
  static constexpr size_t kMaxDeviceId = 64;

  struct Counters {
    uint64_t lines = 0;            // non-empty lines
    uint64_t sentences = 0;        // lines with a valid checksum
    uint64_t skipped = 0;          // valid sentences of types we do not use
    uint64_t merged = 0;           // repeated RMC/GGA of an epoch (second talker, late GGA), folded
    uint64_t oversized_lines = 0;  // lines longer than max_line, dropped
  };

  explicit NmeaStream(size_t max_line = kDefaultMaxLine);

  // Decodes every complete line in `bytes`; keeps an incomplete tail (at most
  // max_line bytes) for the next call. Pings view device ids kept in `out`.
  void feed(std::string_view bytes, DecodedPings& out);
  // End of input (datagram or connection): decodes an unterminated last line
  // and decides the pending epoch.
  void flush(DecodedPings& out);
  // Forgets everything, device included (drops any pending epoch unreported).
  void reset();

  // The device named by the last $PGID line; empty before one.
  const std::string& device() const { return device_; }
  const Counters& counters() const { return counters_; }
  // Bytes of an incomplete line held between feed() calls; never above max_line.
  size_t buffered() const { return line_.size(); }

 private:
  struct Epoch {
    uint8_t kinds = 0;     // RMC/GGA bits of the sentences merged so far
    int64_t tod_ms = -1;   // time of day; -1: the sentences had none
    bool no_fix = false;
    bool has_pos = false;
    bool pos_from_rmc = false;
    bool has_date = false;
    int64_t day = 0;       // days since 1970-01-01, valid when has_date
    double lat = 0;
    double lon = 0;
    float speed_mps = kAbsent;
    float heading_deg = kAbsent;
    float accuracy_m = kAbsent;
  };
  void on_line(std::string_view line, DecodedPings& out);
  void on_pgid(std::string_view id, DecodedPings& out);
  void on_position(const NmeaSentence& s, DecodedPings& out);
  void decide_epoch(DecodedPings& out);

  size_t max_line_;
  std::string line_;        // incomplete line carried between feed() calls
  bool discarding_ = false; // inside an oversized line, until its terminator
  std::string device_;
  bool has_epoch_ = false;  // epoch_ is pending
  Epoch epoch_;
  uint8_t pattern_ = 0;     // sentence kinds of the previous epoch
  bool has_last_tod_ = false;
  int64_t last_tod_ms_ = 0; // time of day of the last decided epoch
  bool has_anchor_ = false;
  EpochMs anchor_ = 0;      // time of the last accepted fix, dates GGA-only epochs
  Counters counters_;
};

// One UDP datagram: a fresh stream fed the whole datagram, then flushed.
void decode_nmea_datagram(std::string_view datagram, DecodedPings& out,
                          size_t max_line = NmeaStream::kDefaultMaxLine);

}  // namespace pm
