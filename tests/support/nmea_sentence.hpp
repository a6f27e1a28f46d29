#pragma once
// An NMEA 0183 sentence framed by the test itself, checksum computed here
// (XOR of the bytes between '$' and '*'), not by the decoder under test.
//
//   nmea("PGID,VAN-8")  ->  "$PGID,VAN-8*hh\r\n"
#include <cstdio>
#include <string>

namespace pm::test {

inline std::string nmea(const std::string& body) {
  unsigned x = 0;
  for (char c : body) x ^= static_cast<unsigned char>(c);
  char buf[8];
  std::snprintf(buf, sizeof buf, "*%02X\r\n", x);
  return "$" + body + buf;
}

}  // namespace pm::test
