#include "server/ingest/rota.hpp"

#include <array>
#include <charconv>

#include "server/core/time_format.hpp"

namespace pm {
namespace {

constexpr EpochMs kHourMs = 3'600'000;
constexpr EpochMs kMaxShiftMs = 24 * kHourMs;
constexpr size_t kMaxOfficerLen = 128;
constexpr size_t kMaxUnitLen = 64;
constexpr size_t kMaxSkillLen = 64;
constexpr size_t kMaxSkills = 32;        // also keeps the duplicate check cheap on hostile input
constexpr uint32_t kMaxIssi = 16777215;  // 2^24 - 1

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = lower(c);
  return r;
}

bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int month_days(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[static_cast<size_t>(m - 1)] + (m == 2 && leap(y) ? 1 : 0);
}

EpochMs civil_ms(int y, int mo, int d, int h, int mi, int s) {
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi) * 60'000 + int64_t{s} * 1000;
}

// 01:00 UTC on the last Sunday of `month` (1970-01-01 was a Thursday).
EpochMs last_sunday_0100_utc(int y, int month) {
  int64_t last = days_from_civil(y, static_cast<unsigned>(month), static_cast<unsigned>(month_days(y, month)));
  int64_t weekday = ((last + 4) % 7 + 7) % 7;  // 0 = Sunday
  return (last - weekday) * 86'400'000 + kHourMs;
}

// ---- times ----------------------------------------------------------------

// Reads exactly n digits at s[pos..].
bool digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// ---- CSV ------------------------------------------------------------------

// RFC 4180 records with the line each starts on. Lenient where spreadsheets
// and hand edits are: blanks around a quoted field, a lone CR as line end.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : s_(text) {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") s_.remove_prefix(3);  // Excel's UTF-8 BOM
  }

  // False at the end of the text. Otherwise one record in `fields`, or an
  // `error` (the rest of that line is skipped so the next record still loads).
  bool next(std::vector<std::string>& fields, size_t& line, const char*& error) {
    if (pos_ >= s_.size()) return false;
    fields.clear();
    error = nullptr;
    line = line_;
    std::string field;
    for (;;) {
      field.clear();
      size_t start = pos_;
      while (pos_ < s_.size() && is_blank(s_[pos_])) ++pos_;
      if (pos_ < s_.size() && s_[pos_] == '"') {
        ++pos_;
        if (!read_quoted(field)) {
          error = "a quoted field is not closed";
          return true;
        }
        while (pos_ < s_.size() && is_blank(s_[pos_])) ++pos_;
        if (pos_ < s_.size() && s_[pos_] != ',' && !at_eol()) {
          error = "text after the closing quote of a field";
          skip_line();
          return true;
        }
      } else {
        pos_ = start;
        while (pos_ < s_.size() && s_[pos_] != ',' && !at_eol()) {
          if (s_[pos_] == '"') {
            error = "a quote inside an unquoted field (quote the whole field and double the quote)";
            skip_line();
            return true;
          }
          field.push_back(s_[pos_++]);
        }
      }
      fields.emplace_back(trim(field));
      if (pos_ >= s_.size()) return true;
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      eat_eol();
      return true;
    }
  }

 private:
  bool at_eol() const { return s_[pos_] == '\n' || s_[pos_] == '\r'; }

  void eat_eol() {
    if (s_[pos_] == '\r' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  void skip_line() {
    while (pos_ < s_.size() && !at_eol()) ++pos_;
    if (pos_ < s_.size()) eat_eol();
  }

  // After the opening quote; stops after the closing one. False at the end of
  // the text without one (everything after it was swallowed by the field).
  bool read_quoted(std::string& field) {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '"') {
        if (pos_ + 1 < s_.size() && s_[pos_ + 1] == '"') {
          field.push_back('"');
          pos_ += 2;
          continue;
        }
        ++pos_;
        return true;
      }
      if (c == '\n' || (c == '\r' && !(pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n'))) ++line_;
      field.push_back(c);
      ++pos_;
    }
    return false;
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t line_ = 1;
};

// ---- rows -----------------------------------------------------------------

enum Column : size_t { kOfficer, kIssi, kUnit, kStart, kEnd, kSkills, kColumns };
constexpr std::array<std::string_view, kColumns> kColumnNames = {"officer", "issi", "unit", "start", "end", "skills"};
constexpr size_t kNone = static_cast<size_t>(-1);

// Where each column is in a record; kNone: not present.
using Layout = std::array<size_t, kColumns>;

const char* check_issi(std::string_view s, std::string& out) {
  out.clear();
  if (s.empty()) return nullptr;
  if (s.size() > 8) return "issi must be at most 8 digits";
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return "issi must be digits only";
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > kMaxIssi) return "issi must be at most 16777215 (24 bits)";
  out = std::to_string(v);
  return nullptr;
}

const char* check_unit(std::string_view s) {
  if (s.empty()) return "unit is required";
  if (s.size() > kMaxUnitLen) return "unit must be at most 64 characters";
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':';
    if (!ok) return "unit may hold only letters, digits and -_.:";
  }
  return nullptr;
}

const char* split_skills(std::string_view s, std::vector<std::string>& out) {
  while (!s.empty()) {
    size_t semi = s.find(';');
    std::string_view item = trim(s.substr(0, semi));
    s = semi == std::string_view::npos ? std::string_view{} : s.substr(semi + 1);
    if (item.empty()) continue;
    if (item.size() > kMaxSkillLen) return "a skill is longer than 64 characters";
    if (has_control(item)) return "a skill has control characters";
    std::string skill = lowered(item);
    bool seen = false;
    for (const auto& k : out) seen = seen || k == skill;
    if (seen) continue;
    if (out.size() == kMaxSkills) return "more than 32 skills";
    out.push_back(std::move(skill));
  }
  return nullptr;
}

// nullptr and a filled row, or the reason the record is not a rota row.
const char* make_row(const std::vector<std::string>& f, const Layout& at, RotaRow& row) {
  auto cell = [&](Column c) -> std::string_view { return at[c] < f.size() ? std::string_view(f[at[c]]) : ""; };
  std::string_view officer = cell(kOfficer);
  if (officer.empty()) return "officer is required";
  if (officer.size() > kMaxOfficerLen) return "officer must be at most 128 characters";
  if (has_control(officer)) return "officer has control characters";
  row.officer = officer;
  if (const char* why = check_issi(cell(kIssi), row.issi)) return why;
  if (const char* why = check_unit(cell(kUnit))) return why;
  row.unit = cell(kUnit);
  if (cell(kStart).empty()) return "start is required";
  if (cell(kEnd).empty()) return "end is required";
  auto start = parse_rota_time(cell(kStart));
  if (!start) return "start is not a time (2026-11-22T07:00:00Z, or UK local 2026-11-22 07:00)";
  auto end = parse_rota_time(cell(kEnd));
  if (!end) return "end is not a time (2026-11-22T17:00:00Z, or UK local 2026-11-22 17:00)";
  if (*end <= *start) return "end must be after start";
  if (*end - *start > kMaxShiftMs) return "a shift may last at most 24 hours";
  row.start = *start;
  row.end = *end;
  return split_skills(cell(kSkills), row.skills);
}

// A header names at least three of the columns; it then sets the layout.
// Returns false when the record is data. `error` is set for a header that
// lacks a required column or names one twice.
bool read_header(const std::vector<std::string>& f, Layout& at, const char*& error) {
  Layout found;
  found.fill(kNone);
  size_t named = 0;
  bool twice = false;
  for (size_t i = 0; i < f.size(); ++i) {
    std::string name = lowered(f[i]);
    for (size_t c = 0; c < kColumns; ++c) {
      if (name != kColumnNames[c]) continue;
      if (found[c] != kNone) twice = true;
      found[c] = i;
      ++named;
    }
  }
  if (named < 3) return false;
  error = nullptr;
  if (twice) error = "the header names a column twice";
  for (size_t c = 0; c < kSkills && !error; ++c)
    if (found[c] == kNone) error = "the header lacks a required column (officer, issi, unit, start, end)";
  at = found;
  return true;
}

}  // namespace

EpochMs uk_local_to_utc(int y, int mo, int d, int h, int mi, int s) {
  const EpochMs wall = civil_ms(y, mo, d, h, mi, s);  // the wall clock read as if it were UTC
  const EpochMs bst_from = last_sunday_0100_utc(y, 3);
  const EpochMs bst_to = last_sunday_0100_utc(y, 10);
  const EpochMs as_bst = wall - kHourMs;
  // BST when that reading falls inside summer time: in the October overlap
  // (where GMT fits as well) this is the earlier of the two instants.
  if (as_bst >= bst_from && as_bst < bst_to) return as_bst;
  // GMT: winter, and also the March gap, where neither reading fits and the
  // offset in force before the change applies.
  return wall;
}

std::optional<EpochMs> parse_rota_time(std::string_view s) {
  s = trim(s);
  size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (s.size() >= 10 && s[2] == '/') {  // 22/11/2026 07:00[:00], the UK spreadsheet form
    if (!digits(s, pos, 2, d) || !expect(s, pos, '/') || !digits(s, pos, 2, mo) || !expect(s, pos, '/') ||
        !digits(s, pos, 4, y))
      return std::nullopt;
  } else {
    if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) || !expect(s, pos, '-') ||
        !digits(s, pos, 2, d))
      return std::nullopt;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi)) return std::nullopt;
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!digits(s, pos, 2, se)) return std::nullopt;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      size_t first = pos;
      int64_t scale = 100;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        ms += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == first || pos - first > 9) return std::nullopt;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || se > 59) return std::nullopt;

  if (pos == s.size()) return uk_local_to_utc(y, mo, d, h, mi, se) + ms;
  int offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!digits(s, pos, 2, oh)) return std::nullopt;
    if (pos < s.size()) {
      if (s[pos] == ':') ++pos;
      if (!digits(s, pos, 2, om)) return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset_min = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  return civil_ms(y, mo, d, h, mi, se) + ms - int64_t{offset_min} * 60'000;
}

std::vector<RotaRow> parse_rota_csv(std::string_view text, std::vector<RotaProblem>& problems) {
  std::vector<RotaRow> rows;
  size_t left_out = 0;
  auto problem = [&](size_t line, std::string message) {
    if (problems.size() < kMaxRotaProblems) {
      problems.push_back({line, std::move(message)});
    } else {
      ++left_out;
    }
  };

  CsvReader csv(text);
  std::vector<std::string> fields;
  size_t line = 0;
  const char* error = nullptr;
  Layout layout = {kOfficer, kIssi, kUnit, kStart, kEnd, kSkills};
  size_t expected = kColumns;  // fields a row may fill; more must be empty
  bool first = true;
  while (csv.next(fields, line, error)) {
    if (error) {
      problem(line, error);
      first = false;
      continue;
    }
    bool blank = true;
    for (const auto& f : fields) blank = blank && f.empty();
    if (blank) continue;  // empty lines, and the ",,,,," rows spreadsheets leave
    if (first) {
      first = false;
      const char* header_error = nullptr;
      if (read_header(fields, layout, header_error)) {
        if (header_error) {
          problem(line, header_error);
          return rows;  // no row can be read without knowing its columns
        }
        expected = fields.size();
        continue;
      }
    }
    bool extra = false;
    for (size_t i = expected; i < fields.size(); ++i) extra = extra || !fields[i].empty();
    if (extra) {
      problem(line, "more columns than officer,issi,unit,start,end,skills");
      continue;
    }
    RotaRow row;
    if (const char* why = make_row(fields, layout, row)) {
      problem(line, why);
      continue;
    }
    row.line = line;
    rows.push_back(std::move(row));
  }
  if (left_out > 0) problems.push_back({0, std::to_string(left_out) + " more problems not listed"});
  return rows;
}

}  // namespace pm
