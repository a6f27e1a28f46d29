#pragma once
// TETRA radio positions: the Location Information Protocol (ETSI TS 100 392-18-1)
// carried in SDS type-4 messages, as it reaches us over a radio's PEI serial
// stream (AT commands over TCP) or as `<ISSI>,<hex>` UDP datagrams.
//
//   // one LIP payload (hex of the whole SDS user data, protocol identifier 0A first)
//   auto r = pm::decode_lip("0A007264B2654EB2000810");
//   if (r) { r->lat; r->lon; r->accuracy_m; r->reason; }   // 53.90397, 10.05410, 200 m, 129
//   else   { r.error().code; r.error().detail; }           // Errc::bad_format, static text
//
//   // the PEI stream of a radio or gateway, bytes as the socket delivers them
//   pm::PeiStream pei;
//   pm::DecodedPings out;
//   pei.feed(bytes, now, out);        // any split: a line may arrive one byte at a time
//   pei.counters().lip;               // LIP location reports seen, ...
//
//   // one UDP datagram: "2001234,0A007264B2654EB2000810\r\n"
//   pm::decode_lip_datagram(datagram, now, out);
//
// Pure code: no sockets, no clock (`now` is a parameter), no allocation per byte.
// The device id of a radio is its source ISSI as a decimal string without leading
// zeros ("2001234"), the same whichever channel the report came in on.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "geo/expected.hpp"
#include "server/core/clock.hpp"
#include "server/core/errors.hpp"
#include "server/ingest/decoded.hpp"
#include "server/ingest/fix.hpp"

namespace pm {

// Why a payload could not be decoded. `detail` is static text, so it can go
// straight into a Rejection without an allocation.
struct LipError {
  Errc code = Errc::bad_format;
  std::string_view detail;
  Error to_error() const { return Error{code, std::string(detail)}; }
};

// One decoded LIP location report, before it is tied to a device and a time.
struct LipReport {
  enum class Kind : uint8_t { short_report, long_report };
  // Long reports carry no time, a coarse "time elapsed", or the day-of-month
  // time of the fix; short reports always carry "time elapsed".
  enum class TimeKind : uint8_t { none, elapsed, time_of_position };

  Kind kind = Kind::short_report;
  // The radio has no position: raw latitude and longitude both zero (what radios
  // send without a GPS fix, with position error "not known"), or a long report
  // with location shape "no shape".
  bool no_fix = false;
  double lat = 0;  // degrees WGS 84
  double lon = 0;
  float accuracy_m = kAbsent;   // upper bound of the reported error; NaN: not known
  float speed_mps = kAbsent;    // NaN: not known or not reported
  float heading_deg = kAbsent;  // NaN: not reported, or speed not known
  float altitude_m = kAbsent;   // long report shapes with altitude only

  TimeKind time_kind = TimeKind::elapsed;
  uint8_t time_elapsed = 0;                           // 0 <5 s, 1 <5 min, 2 <30 min, 3 not known
  uint8_t day = 0, hour = 0, minute = 0, second = 0;  // time_of_position, UTC

  uint8_t location_shape = 0;  // long reports: the ETSI location shape code
  bool ack_requested = false;  // long reports
  int reason = -1;             // reason for sending (0 power on, 2 emergency, ...); -1: user data instead
  int user_data = -1;          // user-defined additional data; -1: reason instead
  int message_ref = -1;        // long reports with an acknowledgement request; -1: absent
  bool emergency = false;      // reason for sending 2, "emergency condition detected"
};

// What an SDS payload is, from its first bits; lets a stream skip protocol
// traffic that is not a position without counting it as a broken report.
enum class LipPdu : uint8_t {
  not_lip,          // protocol identifier is not 0A (or the payload is not even that long)
  location_report,  // short or long location report, or LIP too broken to tell
  other,            // a LIP PDU that is not a location report (acknowledgement, trigger response, ...)
};
LipPdu classify_lip(std::string_view hex_payload);

// Decodes a LIP short (PDU type 00) or long (01, extension 0011) location report.
// `hex_payload` is the SDS user data in hex, protocol identifier 0A included;
// upper or lower case, any number of digits (radios pad to whole octets, but a
// payload cut short after the last field still decodes). no_fix is a valid report.
Expected<LipReport, LipError> decode_lip(std::string_view hex_payload);

// Fix time of a report received at `now`:
// - time elapsed: `now` minus the lower bound of the bucket (0 s, 5 s, 5 min), the
//   newest time the fix can have; "not known" and long reports without time: `now`.
// - time of position (day of month, hour, minute, second, UTC): the latest such
//   time, in the months around `now`, that is at most one day ahead of `now`; so
//   a fix from the 31st received on the 1st lands in the previous month, and a
//   radio clock slightly ahead across a month end stays next to `now`.
EpochMs lip_fix_time(const LipReport& report, EpochMs now);

// Adds the report as a ping of device `issi` (kept in out.ids), or a `no_fix`
// rejection when the radio has no position.
void lip_to_ping(const LipReport& report, std::string_view issi, EpochMs now, DecodedPings& out);

// One UDP datagram `<ISSI>,<LIP payload hex>` (a trailing CR/LF is allowed):
// exactly one ping or one rejection in `out`.
void decode_lip_datagram(std::string_view datagram, EpochMs now, DecodedPings& out);

// The PEI (AT command) stream of one radio or gateway connection. Keeps only the
// current line (bounded by kMaxLine) and the last +CTSDSR header; every LIP
// location report becomes one ping or one rejection in `out`, everything else
// (OK, +CTXD, +ENCR, AT echo, status and text SDS, non-LIP payloads) is skipped
// and counted. Never fails: a stream carries on after any garbage.
class PeiStream {
 public:
  // Longer lines are dropped. An SDS type-4 payload is at most 2047 bits, 512 hex digits.
  static constexpr size_t kMaxLine = 1024;

  struct Counters {
    uint64_t lines = 0;            // non-empty lines seen (including dropped ones)
    uint64_t sds = 0;              // +CTSDSR headers followed by their payload line
    uint64_t lip = 0;              // of those, LIP location reports (decoded or rejected)
    uint64_t lip_other = 0;        // LIP PDUs that are not location reports
    uint64_t non_lip_sds = 0;      // status, text and other SDS: skipped
    uint64_t oversized = 0;        // lines longer than kMaxLine: dropped
    uint64_t bad_headers = 0;      // +CTSDSR lines that do not parse (a cut-off header)
    uint64_t orphan_headers = 0;   // headers whose payload line never came
    uint64_t length_mismatch = 0;  // payloads whose hex length differs from the header's bit count
    uint64_t other_lines = 0;      // any other line: skipped
  };

  void feed(std::string_view bytes, EpochMs now, DecodedPings& out);
  const Counters& counters() const { return counters_; }

 private:
  void on_line(std::string_view line, EpochMs now, DecodedPings& out);
  bool parse_header(std::string_view line);
  void on_payload(std::string_view hex, EpochMs now, DecodedPings& out);
  void drop_pending();

  std::string line_;         // the line being assembled, never longer than kMaxLine
  bool discarding_ = false;  // inside an oversized line: drop bytes up to its end
  // The pending +CTSDSR header, waiting for its payload line.
  bool pending_ = false;
  int pending_ai_ = 0;  // AI service: 12 is SDS type 4; 9..11 (SDS 1-3) and 13 (status) have no protocol id
  uint32_t pending_bits_ = 0;
  std::array<char, 24> pending_issi_{};
  uint8_t pending_issi_len_ = 0;  // 0: the header had no source identity
  Counters counters_;
};

}  // namespace pm
