#include "geo/projection.hpp"

#include <proj.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace pm::geo {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct PjDeleter {
  void operator()(PJ* p) const { proj_destroy(p); }
};
using PjPtr = std::unique_ptr<PJ, PjDeleter>;

struct ContextDeleter {
  void operator()(PJ_CONTEXT* c) const { proj_context_destroy(c); }
};
using ContextPtr = std::unique_ptr<PJ_CONTEXT, ContextDeleter>;

ContextPtr make_context() {
  ContextPtr ctx(proj_context_create());
  // Failures are reported as values (NaN, Expected); PROJ's own stderr logging
  // would only duplicate them.
  if (ctx) proj_log_level(ctx.get(), PJ_LOG_NONE);
  return ctx;
}

std::string context_error(PJ_CONTEXT* ctx) {
  const int err = proj_context_errno(ctx);
  if (err == 0) return "unknown PROJ error";
  const char* msg = proj_context_errno_string(ctx, err);
  return msg ? msg : "unknown PROJ error";
}

// EPSG:4326 -> crs, normalised so that input is lon,lat and output x,y
// (easting, northing) whatever the authorities' axis order.
pm::Expected<PjPtr, std::string> make_transform(PJ_CONTEXT* ctx, const std::string& crs) {
  PjPtr raw(proj_create_crs_to_crs(ctx, "EPSG:4326", crs.c_str(), nullptr));
  if (!raw) {
    return pm::Unexpected{"PROJ cannot build EPSG:4326 -> '" + crs + "': " + context_error(ctx)};
  }
  PjPtr norm(proj_normalize_for_visualization(ctx, raw.get()));
  if (!norm) {
    return pm::Unexpected{"PROJ cannot normalise axis order for '" + crs +
                          "': " + context_error(ctx)};
  }
  return pm::Expected<PjPtr, std::string>(std::move(norm));
}

// Distances and areas are computed in the projected plane, so the target must
// be a projected CRS whose axes are in metres.
std::string check_metric(PJ_CONTEXT* ctx, const std::string& crs) {
  PjPtr target(proj_create(ctx, crs.c_str()));
  if (!target) return "PROJ cannot parse '" + crs + "': " + context_error(ctx);
  if (proj_get_type(target.get()) != PJ_TYPE_PROJECTED_CRS) {
    return "'" + crs + "' is not a projected CRS (distances need metres)";
  }
  PjPtr cs(proj_crs_get_coordinate_system(ctx, target.get()));
  if (!cs) return "PROJ cannot read the coordinate system of '" + crs + "'";
  const int axes = proj_cs_get_axis_count(ctx, cs.get());
  for (int i = 0; i < axes; ++i) {
    double to_metre = 0;
    if (!proj_cs_get_axis_info(ctx, cs.get(), i, nullptr, nullptr, nullptr, &to_metre, nullptr,
                               nullptr, nullptr) ||
        to_metre != 1.0) {
      return "'" + crs + "' has axes not in metres";
    }
  }
  return {};
}

std::atomic<std::uint64_t> g_next_id{1};

// One per thread: a PROJ context and one transformation per CRS string used on
// this thread. The number of distinct CRS strings in a process is tiny (one
// per deployment, a few in tests), so a vector beats a map.
class ThreadCache {
 public:
  ThreadCache() = default;
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;
  ~ThreadCache() {
    // Transformations hold a pointer to the context: destroy them first.
    entries_.clear();
    ctx_.reset();
  }

  // nullptr only if PROJ fails on this thread for a CRS that create() accepted
  // (e.g. out of memory); callers then answer NaN.
  PJ* get(std::uint64_t id, const std::string& crs) {
    if (id == last_id_) return last_;
    PJ* found = nullptr;
    for (auto& e : entries_) {
      if (e.crs == crs) {
        found = e.pj.get();
        break;
      }
    }
    if (!found) {
      if (!ctx_) ctx_ = make_context();
      if (!ctx_) return nullptr;
      auto t = make_transform(ctx_.get(), crs);
      if (!t) return nullptr;
      found = t->get();
      entries_.push_back({crs, std::move(*t)});
    }
    last_id_ = id;
    last_ = found;
    return found;
  }

 private:
  struct Entry {
    std::string crs;
    PjPtr pj;
  };
  ContextPtr ctx_;
  std::vector<Entry> entries_;
  std::uint64_t last_id_ = 0;  // ids start at 1
  PJ* last_ = nullptr;
};

thread_local ThreadCache t_cache;

}  // namespace

// ---------------------------------------------------------------------------
// The British National Grid without PROJ's pipeline.
//
// Inside Great Britain PROJ turns WGS 84 lon/lat into EPSG:27700 through
//   cart (WGS 84) -> inverse Helmert EPSG:1314 (position vector) ->
//   inverse cart (Airy 1830) -> Transverse Mercator (Airy, lat_0 49, lon_0 -2,
//   k 0.9996012717, false origin 400000, -100000),
// at ~650 ns a point: a third of the UDP receive thread at 500,000 pings/s.
// The same steps here, in closed form: geocentric coordinates, the Helmert
// inverted as PROJ does (transpose of the small-angle rotation, divided by
// the scale), Bowring's latitude (PROJ's inverse cart), and the Transverse
// Mercator by the Krueger series to n^6 (Karney 2011, eqs. 7-9, 35) which
// agrees with PROJ's Poder/Engsager algorithm to nanometres.
//
// PROJ picks its operation by the point's area of use: offshore and in
// Ireland another operation applies. So create() checks this code against
// PROJ on a 0.25 degree grid (3 x 3 points a cell) over 10W..4E, 48N..62N and
// keeps the cells where every point agrees within 1e-6 m; elsewhere, and if
// the deployment's PROJ chooses differently (the OSTN15 grid installed, say),
// points go through PROJ.
struct Projection::FastBng {
  static constexpr double kLon0 = -10, kLat0 = 48, kStep = 0.25;
  static constexpr int kCols = 56, kRows = 56;
  static constexpr double kTolerance = 1e-6;  // metres

  double e2_wgs, a_wgs = 6378137.0;
  double a = 6377563.396, b, e2, ep2, e;
  double r[3][3];
  double t[3] = {446.448, -125.157, 542.06};
  double scale;
  double alpha[7];
  double k0a;  // k0 * A
  double xi0;
  std::vector<std::uint8_t> ok;  // kCols * kRows cells

  FastBng() {
    const double f_wgs = 1 / 298.257223563, f = 1 / 299.3249646;
    e2_wgs = f_wgs * (2 - f_wgs);
    b = a * (1 - f);
    e2 = f * (2 - f);
    ep2 = e2 / (1 - e2);
    e = std::sqrt(e2);
    const double sec = std::acos(-1.0) / (180.0 * 3600.0);
    const double rx = 0.15 * sec, ry = 0.247 * sec, rz = 0.842 * sec;
    // Position-vector small-angle rotation of EPSG:1314 (OSGB36 -> WGS 84).
    const double rot[3][3] = {{1, -rz, ry}, {rz, 1, -rx}, {-ry, rx, 1}};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) r[i][j] = rot[i][j];
    scale = 1 + (-20.489) * 1e-6;
    const double n = f / (2 - f), n2 = n * n, n3 = n2 * n, n4 = n3 * n, n5 = n4 * n, n6 = n5 * n;
    alpha[0] = 0;
    alpha[1] = n / 2 - 2 * n2 / 3 + 5 * n3 / 16 + 41 * n4 / 180 - 127 * n5 / 288 + 7891 * n6 / 37800;
    alpha[2] = 13 * n2 / 48 - 3 * n3 / 5 + 557 * n4 / 1440 + 281 * n5 / 630 - 1983433 * n6 / 1935360;
    alpha[3] = 61 * n3 / 240 - 103 * n4 / 140 + 15061 * n5 / 26880 + 167603 * n6 / 181440;
    alpha[4] = 49561 * n4 / 161280 - 179 * n5 / 168 + 6601661 * n6 / 7257600;
    alpha[5] = 34729 * n5 / 80640 - 3418889 * n6 / 1995840;
    alpha[6] = 212378941 * n6 / 319334400;
    k0a = 0.9996012717 * a / (1 + n) * (1 + n2 / 4 + n4 / 64 + n6 / 256);
    double eta0 = 0;
    tm(std::tan(49 * kDegToRad), 0, 1, xi0, eta0);
  }

  static constexpr double kDegToRad = 0.017453292519943295;
  const double kSin2 = std::sin(2 * kDegToRad), kCos2 = std::cos(2 * kDegToRad);  // lon_0 = -2

  // Transverse Mercator on Airy in units of k0 * A, from tau = tan(phi) and
  // the sine and cosine of lam - lon_0. The series by Clenshaw's recurrence
  // on the complex angle 2 zeta' (one sincos, one exp, no trigonometry per term).
  void tm(double tau, double sl, double cl, double& xi, double& eta) const {
    const double sig = std::sinh(e * std::atanh(e * tau / std::sqrt(1 + tau * tau)));
    const double taup = tau * std::sqrt(1 + sig * sig) - sig * std::sqrt(1 + tau * tau);
    const double r2 = taup * taup + cl * cl, rr = std::sqrt(r2);
    const double xip = std::atan2(taup, cl);
    const double sh = sl / rr;                   // sinh(eta')
    const double etap = std::asinh(sh);
    const double ch = std::sqrt(1 + sh * sh);    // cosh(eta')
    // sin, cos of 2 xi' and sinh, cosh of 2 eta'.
    const double s2 = 2 * taup * cl / r2, c2 = (cl * cl - taup * taup) / r2;
    const double sh2 = 2 * sh * ch, ch2 = 1 + 2 * sh * sh;
    // sin(2 zeta') = s2 ch2 + i c2 sh2; cos(2 zeta') = c2 ch2 - i s2 sh2.
    const double yr = 2 * c2 * ch2, yi = -2 * s2 * sh2;
    double b1r = 0, b1i = 0, b2r = 0, b2i = 0;
    for (int k = 6; k >= 1; --k) {
      const double br = alpha[k] + yr * b1r - yi * b1i - b2r;
      const double bi = yr * b1i + yi * b1r - b2i;
      b2r = b1r;
      b2i = b1i;
      b1r = br;
      b1i = bi;
    }
    const double sr = s2 * ch2, si = c2 * sh2;
    xi = xip + (sr * b1r - si * b1i);
    eta = etap + (sr * b1i + si * b1r);
  }

  XY forward(LonLat ll) const {
    const double phi = ll.lat * kDegToRad, lam = ll.lon * kDegToRad;
    const double sp = std::sin(phi), cp = std::cos(phi), sl = std::sin(lam), cl = std::cos(lam);
    const double nu = a_wgs / std::sqrt(1 - e2_wgs * sp * sp);
    const double x = nu * cp * cl - t[0], y = nu * cp * sl - t[1], z = nu * (1 - e2_wgs) * sp - t[2];
    const double x1 = (r[0][0] * x + r[1][0] * y + r[2][0] * z) / scale;
    const double y1 = (r[0][1] * x + r[1][1] * y + r[2][1] * z) / scale;
    const double z1 = (r[0][2] * x + r[1][2] * y + r[2][2] * z) / scale;
    // Bowring's latitude on Airy, as its tangent.
    const double p = std::hypot(x1, y1);
    const double tth = z1 * a / (p * b), ct = 1 / std::sqrt(1 + tth * tth), st = tth * ct;
    const double tau = (z1 + ep2 * b * st * st * st) / (p - e2 * a * ct * ct * ct);
    // lam - lon_0 = atan2(y1, x1) + 2 degrees, as its sine and cosine.
    const double sl2 = (y1 * kCos2 + x1 * kSin2) / p, cl2 = (x1 * kCos2 - y1 * kSin2) / p;
    double xi = 0, eta = 0;
    tm(tau, sl2, cl2, xi, eta);
    return {400000 + k0a * eta, -100000 + k0a * (xi - xi0)};
  }

  bool covers(LonLat ll) const {
    const double cx = (ll.lon - kLon0) / kStep, cy = (ll.lat - kLat0) / kStep;
    if (!(cx >= 0 && cx < kCols && cy >= 0 && cy < kRows)) return false;
    return ok[static_cast<size_t>(cy) * kCols + static_cast<size_t>(cx)] != 0;
  }

  // Marks the cells where PROJ (`pj`, EPSG:4326 -> EPSG:27700, lon/lat in)
  // and forward() agree; false if none do.
  bool check_against(PJ* pj) {
    ok.assign(static_cast<size_t>(kCols) * kRows, 0);
    bool any = false;
    for (int row = 0; row < kRows; ++row)
      for (int col = 0; col < kCols; ++col) {
        bool agree = true;
        for (int i = 0; i <= 2 && agree; ++i)
          for (int j = 0; j <= 2 && agree; ++j) {
            // Corners and midpoints, the corners nudged inside the cell.
            const double fx = i == 0 ? 1e-9 : i == 1 ? 0.5 : 1 - 1e-9, fy = j == 0 ? 1e-9 : j == 1 ? 0.5 : 1 - 1e-9;
            const LonLat ll{kLon0 + (col + fx) * kStep, kLat0 + (row + fy) * kStep};
            const PJ_COORD c = proj_trans(pj, PJ_FWD, proj_coord(ll.lon, ll.lat, 0, 0));
            const XY mine = forward(ll);
            agree = std::isfinite(c.xy.x) && std::isfinite(c.xy.y) &&
                    std::hypot(c.xy.x - mine.x, c.xy.y - mine.y) <= kTolerance;
          }
        if (agree) proj_errno_reset(pj);
        ok[static_cast<size_t>(row) * kCols + col] = agree;
        any = any || agree;
      }
    proj_errno_reset(pj);
    return any;
  }
};

namespace {

// One checked FastBng per process (the check costs ~30,000 PROJ calls).
std::shared_ptr<const Projection::FastBng> fast_bng(PJ* pj) {
  static std::mutex mu;
  static std::shared_ptr<const Projection::FastBng> made;
  static bool tried = false;
  std::lock_guard lock(mu);
  if (!tried) {
    tried = true;
    auto f = std::make_shared<Projection::FastBng>();
    if (f->check_against(pj)) made = std::move(f);
  }
  return made;
}

bool usable(double v) { return std::isfinite(v) && v != HUGE_VAL && v != -HUGE_VAL; }

}  // namespace

pm::Expected<Projection, std::string> Projection::create(std::string crs) {
  ContextPtr ctx = make_context();
  if (!ctx) return pm::Unexpected{std::string("PROJ cannot create a context")};
  if (std::string err = check_metric(ctx.get(), crs); !err.empty()) return pm::Unexpected{err};
  auto t = make_transform(ctx.get(), crs);
  if (!t) return pm::Unexpected{t.error()};
  std::shared_ptr<const FastBng> fast;
  if (crs == "EPSG:27700") fast = fast_bng(t->get());
  t->reset();  // destroy before its context
  const std::uint64_t id = g_next_id.fetch_add(1, std::memory_order_relaxed);
  return Projection(std::make_shared<const State>(State{std::move(crs), id, std::move(fast)}));
}

XY Projection::forward(LonLat ll) const {
  if (!is_valid(ll)) return {kNaN, kNaN};
  if (state_->fast && state_->fast->covers(ll)) return state_->fast->forward(ll);
  return forward_with_proj(ll);
}

bool Projection::fast_path_covers(LonLat ll) const {
  return state_->fast && is_valid(ll) && state_->fast->covers(ll);
}

XY Projection::forward_with_proj(LonLat ll) const {
  if (!is_valid(ll)) return {kNaN, kNaN};
  PJ* pj = t_cache.get(state_->id, state_->crs);
  if (!pj) return {kNaN, kNaN};
  PJ_COORD c = proj_coord(ll.lon, ll.lat, 0, 0);
  PJ_COORD r = proj_trans(pj, PJ_FWD, c);
  if (!usable(r.xy.x) || !usable(r.xy.y)) {
    proj_errno_reset(pj);
    return {kNaN, kNaN};
  }
  return {r.xy.x, r.xy.y};
}

LonLat Projection::inverse(XY p) const {
  if (!std::isfinite(p.x) || !std::isfinite(p.y)) return {kNaN, kNaN};
  PJ* pj = t_cache.get(state_->id, state_->crs);
  if (!pj) return {kNaN, kNaN};
  auto trans = [pj](PJ_DIRECTION dir, double a, double b, double out[2]) {
    const PJ_COORD r = proj_trans(pj, dir, proj_coord(a, b, 0, 0));
    out[0] = r.v[0];
    out[1] = r.v[1];
    if (usable(out[0]) && usable(out[1])) return true;
    proj_errno_reset(pj);
    return false;
  };
  // PROJ inverts a 7-parameter Helmert (EPSG:27700's datum shift without the
  // OSTN15 grid) only approximately: inverse(forward(x)) is ~1 mm off. One
  // fixed-point step, x1 = 2 x0 - inverse(forward(x0)), removes that error
  // (to ~1e-9 m), so areas built from inverse()d points land where intended.
  double x0[2], f0[2], back[2];
  if (!trans(PJ_INV, p.x, p.y, x0)) return {kNaN, kNaN};
  if (!trans(PJ_FWD, x0[0], x0[1], f0) || !trans(PJ_INV, f0[0], f0[1], back)) {
    return {x0[0], x0[1]};
  }
  return {2 * x0[0] - back[0], 2 * x0[1] - back[1]};
}

void Projection::forward(std::span<const LonLat> in, std::span<XY> out) const {
  assert(out.size() >= in.size());
  const std::size_t n = std::min(in.size(), out.size());
  if (n == 0) return;
  if (state_->fast) {
    // Point by point: each inside the checked cells by the fast path, any
    // other (or invalid) one as the single-point forward() answers it.
    for (std::size_t i = 0; i < n; ++i) out[i] = forward(in[i]);
    return;
  }
  PJ* pj = t_cache.get(state_->id, state_->crs);
  // proj_trans_generic works in place on strided x and y arrays, so stage the
  // input in `out`; invalid points are replaced by a harmless valid one and
  // set to NaN afterwards, so one bad fix cannot disturb the batch.
  bool any_invalid = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (is_valid(in[i])) {
      out[i] = {in[i].lon, in[i].lat};
    } else {
      out[i] = {0, 0};
      any_invalid = true;
    }
  }
  if (!pj) {
    for (std::size_t i = 0; i < n; ++i) out[i] = {kNaN, kNaN};
    return;
  }
  proj_trans_generic(pj, PJ_FWD, &out[0].x, sizeof(XY), n, &out[0].y, sizeof(XY), n, nullptr, 0, 0,
                     nullptr, 0, 0);
  bool any_failed = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (!usable(out[i].x) || !usable(out[i].y) || (any_invalid && !is_valid(in[i]))) {
      any_failed = any_failed || is_valid(in[i]);
      out[i] = {kNaN, kNaN};
    }
  }
  if (any_failed) proj_errno_reset(pj);
}

}  // namespace pm::geo
