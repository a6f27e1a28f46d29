#include "server/ingest/validate.hpp"

namespace pm {

std::optional<Rejection> validate_ping(const RawPing& p, EpochMs now, const IngestLimits& limits) {
  auto reject = [](Errc c, std::string_view why) { return Rejection{0, c, why}; };
  if (p.device.empty()) return reject(Errc::missing_field, "device is empty");
  if (!valid_id(p.device)) return reject(Errc::bad_format, "device ids are 1-64 letters, digits, - _ . :");
  if (p.no_fix) return reject(Errc::no_fix, "emergency report without a position (the device has no fix)");
  if (!std::isfinite(p.lat) || !std::isfinite(p.lon)) return reject(Errc::bad_coordinate, "lat/lon not finite");
  if (p.lat < -90.0 || p.lat > 90.0) return reject(Errc::bad_coordinate, "lat outside -90..90");
  if (p.lon < -180.0 || p.lon > 180.0) return reject(Errc::bad_coordinate, "lon outside -180..180");
  // 0,0 is what receivers send when they have no fix; no force patrols Null Island.
  if (p.lat == 0.0 && p.lon == 0.0) return reject(Errc::bad_coordinate, "0,0 is the no-fix position");
  if (!std::isnan(p.speed_mps) && !(p.speed_mps >= 0.0f && p.speed_mps < 1000.0f))
    return reject(Errc::bad_format, "speed_mps must be 0..1000");
  if (!std::isnan(p.heading_deg) && !(p.heading_deg >= 0.0f && p.heading_deg <= 360.0f))
    return reject(Errc::bad_format, "heading_deg must be 0..360");
  if (!std::isnan(p.accuracy_m) && !(p.accuracy_m >= 0.0f && p.accuracy_m < 1e6f))
    return reject(Errc::bad_format, "accuracy_m must be >= 0");
  // Years 1..9999 are what ISO 8601 output can carry; with the age check off
  // (replays) this still keeps absurd epoch values out of the store.
  if (p.t < kMinFixTime || p.t > kMaxFixTime) return reject(Errc::bad_format, "t outside years 0001..9999");
  if (p.t > now + limits.future_s * 1000) return reject(Errc::future_time, {});
  if (limits.too_old_s > 0 && p.t < now - limits.too_old_s * 1000) return reject(Errc::too_old, {});
  return std::nullopt;
}

}  // namespace pm
