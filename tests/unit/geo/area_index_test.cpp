// AreaIndex on real boundaries (Leicester wards, Rutland parishes) and on
// hand-made shapes whose answers are known exactly. GEOS, driven directly
// here, is the independent oracle for point-in-polygon and clipping.
#include "geo/area_index.hpp"

#include <geos_c.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/data_dir.hpp"
#include "tests/support/geojson_areas.hpp"

namespace pm::geo {
namespace {

constexpr const char* kCastle = "E05010463";
constexpr const char* kAbbey = "E05010458";

Projection bng() {
  auto p = Projection::create();
  if (!p) throw std::runtime_error(p.error());
  return *p;
}

std::string city_dir() { return test::data_dir() + "/boundaries/leicester-city"; }

std::vector<AreaInput> city_wards() { return test::load_ward_files(city_dir()); }

// Independent oracle: the same projected rings handed to GEOS directly.
class GeosOracle {
 public:
  GeosOracle() : ctx_(GEOS_init_r()) {}
  GeosOracle(const GeosOracle&) = delete;
  GeosOracle& operator=(const GeosOracle&) = delete;
  ~GeosOracle() {
    for (auto* g : geoms_) GEOSGeom_destroy_r(ctx_, g);
    GEOS_finish_r(ctx_);
  }
  // Returns the handle of the added geometry.
  std::size_t add(const AreaInput& a, const Projection& p) {
    std::ostringstream wkt;
    wkt.precision(17);
    wkt << "MULTIPOLYGON(";
    for (std::size_t i = 0; i < a.polygons.size(); ++i) {
      wkt << (i ? ",(" : "(");
      for (std::size_t r = 0; r < a.polygons[i].rings.size(); ++r) {
        wkt << (r ? ",(" : "(");
        const auto& ring = a.polygons[i].rings[r];
        for (std::size_t k = 0; k < ring.size(); ++k) {
          // Close exactly, as AreaIndex does.
          const XY xy = p.forward(k + 1 == ring.size() ? ring.front() : ring[k]);
          wkt << (k ? "," : "") << xy.x << " " << xy.y;
        }
        wkt << ")";
      }
      wkt << ")";
    }
    wkt << ")";
    GEOSWKTReader* reader = GEOSWKTReader_create_r(ctx_);
    GEOSGeometry* g = GEOSWKTReader_read_r(ctx_, reader, wkt.str().c_str());
    GEOSWKTReader_destroy_r(ctx_, reader);
    if (!g) throw std::runtime_error("oracle cannot read WKT for " + a.id);
    geoms_.push_back(g);
    return geoms_.size() - 1;
  }
  bool covers(std::size_t g, XY p) const {
    GEOSGeometry* pt = GEOSGeom_createPointFromXY_r(ctx_, p.x, p.y);
    const char r = GEOSCovers_r(ctx_, geoms_[g], pt);
    GEOSGeom_destroy_r(ctx_, pt);
    return r == 1;
  }
  double inside_length(std::size_t g, XY a, XY b) const {
    GEOSCoordSequence* seq = GEOSCoordSeq_create_r(ctx_, 2, 2);
    GEOSCoordSeq_setXY_r(ctx_, seq, 0, a.x, a.y);
    GEOSCoordSeq_setXY_r(ctx_, seq, 1, b.x, b.y);
    GEOSGeometry* line = GEOSGeom_createLineString_r(ctx_, seq);
    GEOSGeometry* cut = GEOSIntersection_r(ctx_, line, geoms_[g]);
    double len = -1;
    if (cut) GEOSLength_r(ctx_, cut, &len);
    GEOSGeom_destroy_r(ctx_, cut);
    GEOSGeom_destroy_r(ctx_, line);
    return len;
  }
  double distance_to_boundary(std::size_t g, XY p) const {
    GEOSGeometry* pt = GEOSGeom_createPointFromXY_r(ctx_, p.x, p.y);
    GEOSGeometry* boundary = GEOSBoundary_r(ctx_, geoms_[g]);
    double d = -1;
    GEOSDistance_r(ctx_, boundary, pt, &d);
    GEOSGeom_destroy_r(ctx_, boundary);
    GEOSGeom_destroy_r(ctx_, pt);
    return d;
  }

 private:
  GEOSContextHandle_t ctx_;
  std::vector<GEOSGeometry*> geoms_;
};

// Shoelace area of the projected rings (holes subtract whatever their
// orientation), independent of GEOS.
double shoelace_m2(const AreaInput& a, const Projection& p) {
  double total = 0;
  for (const auto& poly : a.polygons) {
    for (std::size_t r = 0; r < poly.rings.size(); ++r) {
      double s = 0;
      const auto& ring = poly.rings[r];
      for (std::size_t k = 0; k + 1 < ring.size(); ++k) {
        const XY u = p.forward(ring[k]), v = p.forward(ring[k + 1]);
        s += u.x * v.y - v.x * u.y;
      }
      total += (r == 0 ? 1 : -1) * std::fabs(s) / 2;
    }
  }
  return total;
}

// Even-odd ray cast in lon/lat, independent of the code under test.
bool lonlat_in(const AreaInput& a, LonLat p) {
  bool inside = false;
  for (const auto& poly : a.polygons)
    for (const auto& ring : poly.rings)
      for (std::size_t i = 0; i + 1 < ring.size(); ++i) {
        const LonLat u = ring[i], v = ring[i + 1];
        if ((u.lat > p.lat) != (v.lat > p.lat) &&
            p.lon < u.lon + (p.lat - u.lat) * (v.lon - u.lon) / (v.lat - u.lat)) {
          inside = !inside;
        }
      }
  return inside;
}

// A 100 m square (optionally with a centred hole) built in projected metres
// and handed over as lon/lat, as a client would send it.
AreaInput square(const Projection& p, std::string id, XY origin, double side, double hole = 0) {
  auto ring = [&](double x0, double y0, double x1, double y1) {
    std::vector<LonLat> r;
    for (XY c : {XY{x0, y0}, XY{x1, y0}, XY{x1, y1}, XY{x0, y1}, XY{x0, y0}}) {
      r.push_back(p.inverse({origin.x + c.x, origin.y + c.y}));
    }
    return r;
  };
  AreaInput a{std::move(id), {}};
  PolygonRings poly;
  poly.rings.push_back(ring(0, 0, side, side));
  if (hole > 0) {
    const double lo = (side - hole) / 2;
    poly.rings.push_back(ring(lo, lo, lo + hole, lo + hole));
  }
  a.polygons.push_back(std::move(poly));
  return a;
}

TEST(AreaIndex, CastleAndAbbeyWards) {
  const Projection p = bng();
  std::vector<AreaError> errors;
  const AreaIndex idx = AreaIndex::build(city_wards(), p, &errors);
  EXPECT_TRUE(errors.empty()) << errors.front().id << ": " << errors.front().reason;
  ASSERT_EQ(idx.size(), 21u);
  const auto castle = idx.find(kCastle);
  const auto abbey = idx.find(kAbbey);
  ASSERT_TRUE(castle && abbey);
  EXPECT_EQ(idx.id(*castle), kCastle);
  EXPECT_FALSE(idx.find("E05999999").has_value());

  // Leicester Cathedral / Castle area (checked on the map and by a separate
  // ray cast over the same file): Castle ward only.
  std::vector<std::uint32_t> hits;
  for (LonLat ll : {LonLat{-1.1352, 52.6345}, LonLat{-1.1368, 52.6347}}) {
    idx.areas_containing(p.forward(ll), hits);
    EXPECT_EQ(hits, std::vector<std::uint32_t>{*castle});
    EXPECT_TRUE(idx.contains(*castle, p.forward(ll)));
    EXPECT_FALSE(idx.contains(*abbey, p.forward(ll)));
  }
  // Abbey Park: Abbey ward only.
  const XY park = p.forward({-1.1336, 52.6470});
  idx.areas_containing(park, hits);
  EXPECT_EQ(hits, std::vector<std::uint32_t>{*abbey});
  EXPECT_FALSE(idx.contains(*castle, park));
  // Oakham is in no city ward.
  idx.areas_containing(p.forward({-0.7296, 52.6700}), hits);
  EXPECT_TRUE(hits.empty());
}

TEST(AreaIndex, CityWardsPartitionTheCity) {
  const Projection p = bng();
  const auto wards = city_wards();
  const auto city = test::load_areas(city_dir() + "/LAD19_E06000016_Leicester.geojsonl", "lad19cd");
  ASSERT_EQ(city.size(), 1u);
  std::vector<AreaError> errors;
  const AreaIndex idx = AreaIndex::build(wards, p, &errors);
  ASSERT_EQ(idx.size(), 21u);
  GeosOracle oracle;
  for (const auto& w : wards) oracle.add(w, p);

  // Ward areas add up to the city's (independent shoelace over the LAD).
  double sum = 0;
  for (std::uint32_t a = 0; a < idx.size(); ++a) sum += idx.area_m2(a);
  const double city_m2 = shoelace_m2(city[0], p);
  std::printf("  wards %.0f m2, city %.0f m2\n", sum, city_m2);
  EXPECT_NEAR(sum / city_m2, 1.0, 1e-6);  // the ONS outline is the wards' union

  // ~150 m grid over the city: each point in the city lies in exactly one
  // ward, except within a few metres of a boundary, where the generalised
  // ward and city outlines (5-decimal coordinates, ~1 m) may disagree.
  constexpr double kBoundarySlack_m = 5.0;
  std::size_t inside_city = 0, exactly_one = 0, near_boundary = 0;
  std::vector<std::uint32_t> hits;
  for (double lat = 52.575; lat <= 52.695; lat += 0.00135) {
    for (double lon = -1.225; lon <= -1.045; lon += 0.0022) {
      const LonLat ll{lon, lat};
      const XY xy = p.forward(ll);
      idx.areas_containing(xy, hits);
      // The index agrees with GEOS everywhere, in the city or not.
      for (std::uint32_t a = 0; a < idx.size(); ++a) {
        const bool in_hits = std::find(hits.begin(), hits.end(), a) != hits.end();
        ASSERT_EQ(in_hits, oracle.covers(a, xy)) << idx.id(a) << " at " << lon << "," << lat;
        ASSERT_EQ(idx.contains(a, xy), in_hits);
      }
      if (!lonlat_in(city[0], ll)) continue;
      ++inside_city;
      if (hits.size() == 1) {
        ++exactly_one;
        continue;
      }
      double nearest = 1e300;
      for (std::uint32_t a = 0; a < idx.size(); ++a) {
        nearest = std::min(nearest, oracle.distance_to_boundary(a, xy));
      }
      EXPECT_LT(nearest, kBoundarySlack_m) << hits.size() << " wards at " << lon << "," << lat;
      ++near_boundary;
    }
  }
  std::printf("  %zu grid points in the city, %zu in exactly one ward, %zu near a boundary\n",
              inside_city, exactly_one, near_boundary);
  EXPECT_GT(inside_city, 2000u);
  EXPECT_LE(near_boundary * 100, inside_city);
}

TEST(AreaIndex, AllRutlandParishesLoad) {
  const Projection p = bng();
  const auto parishes =
      test::load_areas(test::data_dir() + "/boundaries/rutland-parishes.geojson", "ref:gss");
  ASSERT_EQ(parishes.size(), 57u);
  std::vector<AreaError> errors;
  const AreaIndex idx = AreaIndex::build(parishes, p, &errors);
  for (const auto& e : errors) ADD_FAILURE() << e.id << ": " << e.reason;
  ASSERT_EQ(idx.size(), 57u);
  double total = 0;
  for (std::uint32_t a = 0; a < idx.size(); ++a) {
    EXPECT_EQ(idx.source_index(a), a);
    EXPECT_EQ(idx.find(idx.id(a)), a);
    EXPECT_NEAR(idx.area_m2(a), shoelace_m2(parishes[a], p), 1e-6 * idx.area_m2(a)) << idx.id(a);
    total += idx.area_m2(a);
  }
  // The parishes tile the county: compare with the ONS outline of Rutland.
  const auto county =
      test::load_areas(test::data_dir() + "/boundaries/rutland-boundary.geojsonl", "lad19cd");
  const double county_m2 = shoelace_m2(county[0], p);
  std::printf("  parishes %.1f km2, county outline %.1f km2\n", total / 1e6, county_m2 / 1e6);
  EXPECT_NEAR(total / county_m2, 1.0, 0.02);

  std::vector<std::uint32_t> hits;
  idx.areas_containing(p.forward({-0.7296, 52.6700}), hits);  // Oakham town centre
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(idx.id(hits[0]), "E04012676");                    // Oakham parish
  idx.areas_containing(p.forward({-0.7226, 52.5893}), hits);  // Uppingham market place
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(idx.id(hits[0]), "E04000677");  // Uppingham parish
}

TEST(AreaIndex, InvalidFeaturesAreReportedAndSkipped) {
  const Projection p = bng();
  const XY o = p.forward({-1.1352, 52.6345});
  std::vector<AreaInput> in;
  in.push_back(square(p, "good-1", o, 100));
  AreaInput bowtie{"bowtie", {}};  // self-intersecting figure of eight
  {
    PolygonRings r;
    r.rings.push_back({p.inverse({o.x, o.y}), p.inverse({o.x + 100, o.y + 100}),
                       p.inverse({o.x + 100, o.y}), p.inverse({o.x, o.y + 100}),
                       p.inverse({o.x, o.y})});
    bowtie.polygons.push_back(r);
  }
  in.push_back(bowtie);
  AreaInput unclosed = square(p, "unclosed", o, 50);
  unclosed.polygons[0].rings[0].back().lon += 0.001;
  in.push_back(unclosed);
  AreaInput short_ring{"short", {PolygonRings{{{{0, 52}, {0.1, 52}, {0, 52}}}}}};
  in.push_back(short_ring);
  AreaInput nan_point = square(p, "nan", o, 50);
  nan_point.polygons[0].rings[0][1].lat = std::nan("");
  in.push_back(nan_point);
  in.push_back(AreaInput{"empty", {}});
  in.push_back(square(p, "good-1", {o.x + 500, o.y}, 100));  // duplicate id
  in.push_back(square(p, "good-2", {o.x + 1000, o.y}, 100));

  std::vector<AreaError> errors;
  const AreaIndex idx = AreaIndex::build(in, p, &errors);
  ASSERT_EQ(idx.size(), 2u);
  EXPECT_EQ(idx.id(0), "good-1");
  EXPECT_EQ(idx.id(1), "good-2");
  EXPECT_EQ(idx.source_index(1), 7u);
  ASSERT_EQ(errors.size(), 6u);
  auto expect_error = [&](std::size_t k, std::size_t index, const std::string& id,
                          const std::string& fragment) {
    EXPECT_EQ(errors[k].index, index);
    EXPECT_EQ(errors[k].id, id);
    EXPECT_NE(errors[k].reason.find(fragment), std::string::npos) << errors[k].reason;
  };
  expect_error(0, 1, "bowtie", "Self-intersection");  // GEOS's isValidReason
  expect_error(1, 2, "unclosed", "not closed");
  expect_error(2, 3, "short", "at least 4");
  expect_error(3, 4, "nan", "non-finite");
  expect_error(4, 5, "empty", "no polygons");
  expect_error(5, 6, "good-1", "duplicate id");
  // A null error sink is allowed.
  EXPECT_EQ(AreaIndex::build(in, p, nullptr).size(), 2u);
}

TEST(AreaIndex, SquareWithAHole) {
  const Projection p = bng();
  const XY o{450000, 300000};
  std::vector<AreaInput> in{square(p, "ring", o, 100, 20)};
  std::vector<AreaError> errors;
  const AreaIndex idx = AreaIndex::build(in, p, &errors);
  ASSERT_EQ(idx.size(), 1u) << (errors.empty() ? "" : errors[0].reason);
  EXPECT_NEAR(idx.area_m2(0), 100.0 * 100 - 20 * 20, 1e-3);
  const Box b = idx.bounds(0);
  EXPECT_NEAR(b.min_x, o.x, 1e-6);
  EXPECT_NEAR(b.max_y, o.y + 100, 1e-6);
  auto at = [&](double x, double y) { return idx.contains(0, {o.x + x, o.y + y}); };
  EXPECT_TRUE(at(10, 10));
  EXPECT_TRUE(at(35, 50));
  EXPECT_FALSE(at(50, 50));    // in the hole
  EXPECT_FALSE(at(45, 55));    // in the hole
  EXPECT_FALSE(at(-1, 50));    // outside
  EXPECT_FALSE(at(101, 101));  // outside
  // Boundaries are inside (covers): outer edge, corner, hole edge.
  EXPECT_TRUE(at(0, 50));
  EXPECT_TRUE(at(100, 100));
  EXPECT_TRUE(at(40, 50));
  EXPECT_TRUE(at(50, 60));
  EXPECT_FALSE(at(-0.001, 50));
  EXPECT_FALSE(at(40.001, 50));
  EXPECT_FALSE(idx.contains(0, {std::nan(""), o.y}));
  // Two squares sharing an edge: a point on it is in both.
  std::vector<AreaInput> two{square(p, "w", o, 100), square(p, "e", {o.x + 100, o.y}, 100)};
  const AreaIndex pair = AreaIndex::build(two, p, nullptr);
  std::vector<std::uint32_t> hits;
  pair.areas_containing({o.x + 100, o.y + 30}, hits);
  EXPECT_EQ(hits, (std::vector<std::uint32_t>{0, 1}));
  pair.areas_containing({o.x + 99, o.y + 30}, hits);
  EXPECT_EQ(hits, (std::vector<std::uint32_t>{0}));
}

TEST(AreaIndex, InsideFractionOnSquares) {
  const Projection p = bng();
  const XY o{450000, 300000};
  std::vector<AreaInput> in{square(p, "plain", o, 100),
                            square(p, "holed", {o.x, o.y + 1000}, 100, 20)};
  const AreaIndex idx = AreaIndex::build(in, p, nullptr);
  ASSERT_EQ(idx.size(), 2u);
  auto frac = [&](std::uint32_t a, double x0, double y0, double x1, double y1) {
    const double dy = a == 1 ? 1000 : 0;
    return idx.inside_fraction(a, {o.x + x0, o.y + y0 + dy}, {o.x + x1, o.y + y1 + dy});
  };
  constexpr double kEps = 1e-9;
  EXPECT_NEAR(frac(0, 0, 0, 100, 100), 1.0, kEps);        // the diagonal itself
  EXPECT_NEAR(frac(0, -50, -50, 150, 150), 0.5, kEps);    // diagonal, extended 50 m each way
  EXPECT_NEAR(frac(0, -100, -100, 100, 100), 0.5, kEps);  // half of it inside
  EXPECT_NEAR(frac(0, 50, -50, 50, 150), 0.5, kEps);
  EXPECT_NEAR(frac(0, 10, 10, 20, 30), 1.0, kEps);
  EXPECT_NEAR(frac(0, 200, 0, 300, 100), 0.0, kEps);
  EXPECT_NEAR(frac(0, 0, 0, 100, 0), 1.0, kEps);              // along an edge: boundary counts
  EXPECT_NEAR(frac(0, -100, 0, 0, 0), 0.0, kEps);             // touches a corner only
  EXPECT_NEAR(frac(0, -50, 100, 50, 100), 0.5, kEps);         // half along the top edge
  EXPECT_NEAR(frac(1, -100, 50, 200, 50), 80.0 / 300, kEps);  // crosses the hole
  EXPECT_NEAR(frac(1, 50, 50, 50, 150), 40.0 / 100, kEps);    // from the hole outwards
  EXPECT_EQ(frac(0, 30, 30, 30, 30), 1.0);                    // stationary, inside
  EXPECT_EQ(frac(1, 50, 50, 50, 50), 0.0);                    // stationary, in the hole
  EXPECT_EQ(frac(0, 0, 100, 0, 100), 1.0);                    // stationary, on the boundary
}

TEST(AreaIndex, InsideFractionMatchesGeosOnRealWards) {
  const Projection p = bng();
  const auto wards = city_wards();
  const AreaIndex idx = AreaIndex::build(wards, p, nullptr);
  ASSERT_EQ(idx.size(), 21u);
  GeosOracle oracle;
  for (const auto& w : wards) oracle.add(w, p);
  const unsigned seed = 99;
  std::printf("  seed %u\n", seed);
  std::mt19937_64 rng(seed);
  const Box e = idx.extent();
  std::uniform_real_distribution<double> x(e.min_x, e.max_x), y(e.min_y, e.max_y);
  std::uniform_real_distribution<double> step(-3000, 3000);
  std::size_t partial = 0;
  for (int i = 0; i < 400; ++i) {
    const XY a{x(rng), y(rng)};
    const XY b{a.x + step(rng), a.y + step(rng)};
    const double len = planar_distance_m(a, b);
    for (std::uint32_t w = 0; w < idx.size(); ++w) {
      const double want = oracle.inside_length(w, a, b) / len;
      const double got = idx.inside_fraction(w, a, b);
      ASSERT_NEAR(got, want, 1e-9) << idx.id(w) << " segment " << i;
      if (got > 0 && got < 1) ++partial;
    }
  }
  std::printf("  %zu segment/ward pairs partly inside\n", partial);
  EXPECT_GT(partial, 300u);  // the test exercises real crossings
}

TEST(AreaIndex, ConcurrentQueriesFromTwoThreads) {
  const Projection p = bng();
  auto inputs = city_wards();
  auto county = test::load_areas(
      test::data_dir() + "/boundaries/leicestershire-county-wards.geojson", "ward_code");
  inputs.insert(inputs.end(), county.begin(), county.end());
  std::vector<AreaError> errors;
  const AreaIndex idx = AreaIndex::build(inputs, p, &errors);
  for (const auto& e : errors) std::printf("  skipped %s: %s\n", e.id.c_str(), e.reason.c_str());
  ASSERT_GT(idx.size(), 150u);

  std::mt19937_64 rng(5);
  const Box e = idx.extent();
  std::uniform_real_distribution<double> x(e.min_x, e.max_x), y(e.min_y, e.max_y);
  std::vector<XY> pts(20000);
  for (auto& q : pts) q = {x(rng), y(rng)};
  std::vector<std::vector<std::uint32_t>> want(pts.size());
  std::vector<double> want_frac(pts.size());
  for (std::size_t i = 0; i < pts.size(); ++i) {
    idx.areas_containing(pts[i], want[i]);
    const std::uint32_t a = want[i].empty() ? 0 : want[i][0];
    want_frac[i] = idx.inside_fraction(a, pts[i], pts[(i + 1) % pts.size()]);
  }
  std::atomic<int> mismatches{0};
  auto worker = [&] {
    std::vector<std::uint32_t> hits;
    for (int round = 0; round < 3; ++round) {
      for (std::size_t i = 0; i < pts.size(); ++i) {
        idx.areas_containing(pts[i], hits);
        if (hits != want[i]) ++mismatches;
        const std::uint32_t a = want[i].empty() ? 0 : want[i][0];
        if (idx.inside_fraction(a, pts[i], pts[(i + 1) % pts.size()]) != want_frac[i]) ++mismatches;
      }
    }
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(AreaIndex, EmptyIndex) {
  const AreaIndex idx;
  std::vector<std::uint32_t> hits{1, 2};
  idx.areas_containing({0, 0}, hits);
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_FALSE(idx.find("x").has_value());
  const AreaIndex built = AreaIndex::build({}, bng(), nullptr);
  built.areas_containing({0, 0}, hits);
  EXPECT_TRUE(hits.empty());
}

TEST(AreaIndex, QueriesDoNotAllocate) {
  const Projection p = bng();
  const AreaIndex idx = AreaIndex::build(city_wards(), p, nullptr);
  std::vector<std::uint32_t> hits;
  hits.reserve(8);
  const auto* data = hits.data();
  for (double lon = -1.2; lon < -1.05; lon += 0.01) {
    idx.areas_containing(p.forward({lon, 52.63}), hits);
    ASSERT_EQ(hits.data(), data);
  }
}

}  // namespace
}  // namespace pm::geo
