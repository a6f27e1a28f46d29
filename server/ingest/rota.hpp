#pragma once
// Parses the duty rota CSV of POST /api/v1/rota: who (officer, radio ISSI) is
// in which unit for which shift, with which skills.
//
//   std::vector<RotaProblem> problems;
//   auto rows = parse_rota_csv(
//       "officer,issi,unit,start,end,skills\n"
//       "PC 1234 Smith,2001234,NA21,2026-11-22 07:00,2026-11-22 17:00,afo;taser\n"
//       "\"Jones, A\",2001235,NA22,2026-11-22T07:00:00Z,2026-11-22T19:00:00Z,first_aid\n",
//       problems);
//   // rows[0].start == 2026-11-22T07:00Z (GMT in November); problems lists
//   // {line, message} for every row that could not be loaded; good rows load.
//
// Format:
// - Columns officer,issi,unit,start,end,skills. A first row naming at least
//   three of them is a header; then columns may come in any order and unknown
//   ones are ignored. Without a header the order is fixed and skills may be
//   left off. RFC 4180 quoting (commas, quotes and line breaks inside quotes),
//   LF or CRLF line ends, a UTF-8 byte-order mark (Excel writes one) and blank
//   lines are accepted; fields are trimmed.
// - officer: 1..128 characters. issi: empty (no radio this shift) or up to 8
//   digits, at most 16777215 (a TETRA ISSI is 24 bits); stored without leading
//   zeros so it matches the ISSI the radio channels decode. unit: 1..64 of
//   letters, digits and -_.:
// - start/end: ISO 8601 with a zone (2026-11-22T07:00:00Z, +01:00), or UK wall
//   clock time without one (2026-11-22 07:00, 2026-11-22T07:00:00, 22/11/2026
//   07:00), read as Europe/London: see uk_local_to_utc. end must be after start
//   and at most 24 h later.
// - skills: separated by ';', trimmed, lower-cased (incidents require "afo",
//   whoever typed "AFO"), duplicates and empty items dropped; at most 32.
// Line numbers are 1-based physical lines of the text; a row spanning lines
// (a quoted line break) is reported at its first line.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/clock.hpp"

namespace pm {

struct RotaRow {
  std::string officer;
  std::string issi;  // canonical decimal; empty when no radio is listed
  std::string unit;
  EpochMs start = 0;
  EpochMs end = 0;
  std::vector<std::string> skills;
  size_t line = 0;
};

struct RotaProblem {
  size_t line = 0;  // 0: about the whole file (e.g. the problem list was cut short)
  std::string message;
};

// At most this many problems are listed; one more entry (line 0) then says
// how many were left out, so a wrong file cannot produce an unbounded answer.
constexpr size_t kMaxRotaProblems = 200;

// Good rows in file order; every bad row is appended to `problems`.
std::vector<RotaRow> parse_rota_csv(std::string_view text, std::vector<RotaProblem>& problems);

// UK civil time (Europe/London) to UTC, with the rule in force since 1996:
// BST (UTC+1) from 01:00 UTC on the last Sunday of March to 01:00 UTC on the
// last Sunday of October, GMT otherwise. Times the change makes ambiguous or
// nonexistent resolve as java.time does:
// - autumn, 01:00-01:59 happens twice: the earlier (BST) one is taken, so a
//   shift written as starting 01:30 starts at the first 01:30;
// - spring, 01:00-01:59 does not exist: the GMT offset in force before the
//   change is used, i.e. 01:30 is read as 02:30 BST (01:30 UTC).
// The arguments must form a valid date and time (the parser checks them).
EpochMs uk_local_to_utc(int y, int mo, int d, int h, int mi, int s);

// One start/end cell as described above; nullopt when it is not a time.
std::optional<EpochMs> parse_rota_time(std::string_view s);

}  // namespace pm
