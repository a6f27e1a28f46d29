#include "geo/projection.hpp"

#include <proj.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <limits>
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

bool usable(double v) { return std::isfinite(v) && v != HUGE_VAL && v != -HUGE_VAL; }

}  // namespace

pm::Expected<Projection, std::string> Projection::create(std::string crs) {
  ContextPtr ctx = make_context();
  if (!ctx) return pm::Unexpected{std::string("PROJ cannot create a context")};
  if (std::string err = check_metric(ctx.get(), crs); !err.empty()) return pm::Unexpected{err};
  auto t = make_transform(ctx.get(), crs);
  if (!t) return pm::Unexpected{t.error()};
  t->reset();  // destroy before its context
  const std::uint64_t id = g_next_id.fetch_add(1, std::memory_order_relaxed);
  return Projection(std::make_shared<const State>(State{std::move(crs), id}));
}

XY Projection::forward(LonLat ll) const {
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
