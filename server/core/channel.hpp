#pragma once
// The ingest channels (SPEC section 3). Each fix remembers which one it came
// by; metrics count accepted and rejected pings per channel. The numeric value
// is stored with each fix: append new channels before kCount, never reorder.
#include <cstdint>
#include <string_view>

namespace pm {

// json_udp: JSON ping datagrams on the NMEA UDP port (docs/api.md, device channels).
// gpx: tracks imported with POST /api/v1/tracks/import.
enum class Channel : uint8_t { json, osmand, nmea_tcp, nmea_udp, pei_tcp, lip_udp, json_udp, gpx, kCount };
constexpr size_t kChannelCount = static_cast<size_t>(Channel::kCount);

constexpr std::string_view channel_name(Channel c) {
  switch (c) {
    case Channel::json: return "json";
    case Channel::osmand: return "osmand";
    case Channel::nmea_tcp: return "nmea_tcp";
    case Channel::nmea_udp: return "nmea_udp";
    case Channel::pei_tcp: return "pei_tcp";
    case Channel::lip_udp: return "lip_udp";
    case Channel::json_udp: return "json_udp";
    case Channel::gpx: return "gpx";
    case Channel::kCount: break;
  }
  return "unknown";
}

}  // namespace pm
