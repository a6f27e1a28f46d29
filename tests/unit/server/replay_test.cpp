// Stops, trips and GPX parsing, against hand-worked tracks, Karney's geodesic
// and the real GPSBabel drive (data README: 958 points, 16.7 km).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "geo/geodesic.hpp"
#include "server/core/time_format.hpp"
#include "server/replay/gpx.hpp"
#include "server/replay/replay_query.hpp"
#include "server/replay/track_analysis.hpp"
#include "tests/support/data_dir.hpp"

namespace pm {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TrackPoint at(int64_t t_s, double lat, double lon) {
  return {.t = t_s * 1000, .lat_e7 = to_e7(lat), .lon_e7 = to_e7(lon), .speed_mps = kNaN, .heading_deg = kNaN,
          .accuracy_m = kNaN};
}

double geodesic(const TrackPoint& a, const TrackPoint& b) {
  return geo::geodesic_distance_m({a.lon(), a.lat()}, {b.lon(), b.lat()});
}

TEST(TrackAnalysis, LocalDistanceMatchesTheGeodesic) {
  for (double lat : {0.0, 50.0, 52.6, 60.0})
    for (double d : {1e-5, 1e-4, 1e-3, 1e-2}) {
      double g = geo::geodesic_distance_m({-1.0, lat}, {-1.0 + d, lat + d});
      EXPECT_NEAR(local_distance_m(lat, -1.0, lat + d, -1.0 + d), g, g * 1e-5) << lat << " " << d;
    }
}

TEST(TrackAnalysis, StopBetweenTwoTripsIgnoresJitter) {
  // 0.0009 deg of latitude ~ 100 m: fixes 0..9 drive north every 10 s,
  // 10..29 wait 190 s jittering +-0.00004 deg (~4.5 m), 30..39 drive on.
  std::vector<TrackPoint> p;
  double lat = 52.6;
  for (int i = 0; i < 10; ++i) p.push_back(at(i * 10, lat += 0.0009, -0.7));
  const double park = lat + 0.0009;
  for (int i = 10; i < 30; ++i) p.push_back(at(i * 10, park + ((i % 2) ? 0.00004 : -0.00004), -0.7));
  lat = park;
  for (int i = 30; i < 40; ++i) p.push_back(at(i * 10, lat += 0.0009, -0.7));
  auto a = analyse_track(p, {30, 120});
  ASSERT_EQ(a.stops.size(), 1u);
  EXPECT_EQ(a.stops[0].first, 10u);
  EXPECT_EQ(a.stops[0].last, 29u);
  EXPECT_EQ(a.stops[0].start, 100'000);
  EXPECT_EQ(a.stops[0].end, 290'000);
  EXPECT_NEAR(a.stops[0].lat, park, 1e-7);  // jitter averages out
  ASSERT_EQ(a.trips.size(), 2u);
  double d1 = 0, d2 = 0;
  for (int i = 0; i < 10; ++i) d1 += geodesic(p[i], p[i + 1]);
  for (int i = 29; i < 39; ++i) d2 += geodesic(p[i], p[i + 1]);
  EXPECT_EQ(a.trips[0].start, 0);
  EXPECT_EQ(a.trips[0].end, 100'000);
  EXPECT_NEAR(a.trips[0].distance_m, d1, 0.01);
  EXPECT_NEAR(a.trips[0].distance_m, 10 * 100.1, 5);  // ten ~100 m hops
  EXPECT_EQ(a.trips[1].start, 290'000);
  EXPECT_EQ(a.trips[1].end, 390'000);
  EXPECT_NEAR(a.trips[1].distance_m, d2, 0.01);
}

TEST(TrackAnalysis, TooShortOrTooWideIsNoStop) {
  std::vector<TrackPoint> p;
  for (int i = 0; i < 12; ++i) p.push_back(at(i * 10, 52.6, -0.7));  // 110 s < 120 s
  EXPECT_TRUE(analyse_track(p, {30, 120}).stops.empty());
  p.push_back(at(120, 52.6, -0.7));  // now exactly 120 s: a stop (inclusive)
  EXPECT_EQ(analyse_track(p, {30, 120}).stops.size(), 1u);
  std::vector<TrackPoint> slow;  // 0.0003 deg ~ 33 m per minute: every next fix is outside 30 m
  for (int i = 0; i < 10; ++i) slow.push_back(at(i * 60, 52.6 + i * 0.0003, -0.7));
  auto a = analyse_track(slow, {30, 120});
  EXPECT_TRUE(a.stops.empty());
  ASSERT_EQ(a.trips.size(), 1u);
  EXPECT_TRUE(analyse_track({}, {30, 120}).trips.empty());
}

TEST(Gpx, ParsesPointsAttributesAndCounts) {
  std::string gpx = R"(<?xml version="1.0"?>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">
 <wpt lat="1" lon="2"><name>x</name></wpt>
 <rte><rtept lat="1" lon="2"/></rte>
 <trk><trkseg>
  <trkpt lon='-0.5' lat="51.25"><time>2010-05-28T18:55:34Z</time></trkpt>
  <trkpt lat="51.5" lon="-0.25"><ele>3</ele><time>2010-05-28T18:55:39.500Z</time><speed>4.5</speed><course>90</course></trkpt>
  <trkpt lat="51.5" lon="-0.25"/>
  <trkpt lat="51.5" lon="-0.25"><time>not a time</time></trkpt>
 </trkseg></trk></gpx>)";
  GpxTrack g;
  ASSERT_FALSE(parse_gpx(gpx, g).has_value());
  ASSERT_EQ(g.points.size(), 2u);
  EXPECT_EQ(g.skipped_no_time, 2u);
  EXPECT_EQ(g.ignored_waypoints, 2u);
  EXPECT_EQ(g.points[0].lat, 51.25);
  EXPECT_EQ(g.points[0].lon, -0.5);
  EXPECT_EQ(g.points[0].t, 1275072934000);  // date -u -d 2010-05-28T18:55:34Z +%s
  EXPECT_EQ(g.points[1].t, 1275072939500);
  EXPECT_EQ(g.points[1].speed_mps, 4.5f);
  EXPECT_EQ(g.points[1].heading_deg, 90.f);
  EXPECT_TRUE(std::isnan(g.points[0].speed_mps));
}

TEST(Gpx, ImplausibleSpeedsAreDroppedNotConverted) {
  // 1e300 m/s does not fit a float (converting it is undefined behaviour):
  // above 1,000 m/s the speed is treated as absent; the point itself stays.
  GpxTrack g;
  ASSERT_FALSE(parse_gpx("<gpx><trk><trkseg>"
                         "<trkpt lat=\"51\" lon=\"-1\"><time>2010-05-28T18:55:34Z</time><speed>1e300</speed></trkpt>"
                         "<trkpt lat=\"51\" lon=\"-1\"><time>2010-05-28T18:55:35Z</time><speed>1000</speed></trkpt>"
                         "</trkseg></trk></gpx>",
                         g)
                   .has_value());
  ASSERT_EQ(g.points.size(), 2u);
  EXPECT_TRUE(std::isnan(g.points[0].speed_mps));
  EXPECT_EQ(g.points[1].speed_mps, 1000.f);
}

TEST(Gpx, RefusesWhatIsNotATrack) {
  GpxTrack g;
  EXPECT_TRUE(parse_gpx("", g).has_value());
  EXPECT_TRUE(parse_gpx("{\"type\":\"FeatureCollection\"}", g).has_value());
  EXPECT_TRUE(parse_gpx("<gpx><wpt lat=\"1\" lon=\"2\"/></gpx>", g).has_value());  // no track points
  EXPECT_TRUE(parse_gpx("<gpx><trk><trkseg><trkpt lat=\"91\" lon=\"2\"><time>2010-05-28T18:55:34Z</time></trkpt>",
                        g).has_value());
  EXPECT_TRUE(parse_gpx("<gpx><trkpt lat=\"1\" lon=\"2\"", g).has_value());          // cut off
  EXPECT_TRUE(parse_gpx("<gpx><trkpt lat=\"1\" lon=\"2\"><time>", g).has_value());   // cut off
  std::string many = "<gpx>";
  for (int i = 0; i < 5; ++i) many += "<trkpt lat=\"1\" lon=\"2\"><time>2010-05-28T18:55:3" + std::to_string(i) + "Z</time></trkpt>";
  EXPECT_TRUE(parse_gpx(many, g, 4).has_value());
  EXPECT_FALSE(parse_gpx(many, g, 5).has_value());
}

TEST(Gpx, RealDriveHas958PointsAnd16Point7Km) {
  std::ifstream in(test::data_dir() + "/gpx/gpsbabel_garmin_xt_strk.gpx");
  ASSERT_TRUE(in) << "PATROLMAP_DATA";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  GpxTrack g;
  ASSERT_FALSE(parse_gpx(body, g).has_value());
  // Independent reading: the quoted values after each `<trkpt lat="` and `<time>`.
  struct Raw {
    std::string lat, lon, time;
  };
  std::vector<Raw> raw;
  auto between = [&](size_t from, std::string_view open, char close, size_t& next) {
    size_t a = body.find(open, from) + open.size();
    next = body.find(close, a);
    return body.substr(a, next - a);
  };
  for (size_t p = body.find("<trkpt lat=\""); p != std::string::npos; p = body.find("<trkpt lat=\"", p + 1)) {
    size_t n = 0;
    Raw r;
    r.lat = between(p, "lat=\"", '"', n);
    r.lon = between(n, "lon=\"", '"', n);
    r.time = between(n, "<time>", '<', n);
    raw.push_back(r);
  }
  ASSERT_EQ(raw.size(), 958u);
  ASSERT_EQ(g.points.size(), 958u);
  EXPECT_EQ(g.points.front().lat, std::stod(raw.front().lat));
  EXPECT_EQ(g.points.back().lon, std::stod(raw.back().lon));
  EXPECT_EQ(format_iso8601(g.points.front().t).substr(0, 19) + "Z", raw.front().time);
  EXPECT_EQ(format_iso8601(g.points.back().t).substr(0, 19) + "Z", raw.back().time);
  double km = 0;
  for (size_t i = 1; i < g.points.size(); ++i)
    km += geo::geodesic_distance_m({g.points[i - 1].lon, g.points[i - 1].lat}, {g.points[i].lon, g.points[i].lat});
  EXPECT_NEAR(km / 1000, 16.7, 0.1);
}

// Douglas-Peucker on a hand-made kink: fix 2 lies 0.0001 deg (~11.1 m) north of
// the straight line from fix 0 to fix 4; fixes 1 and 3 lie on the lines 0-2
// and 2-4 (halfway up and down). Fixes of a stop are always kept.
TEST(SimplifyTrack, KeepsWhatLiesBeyondTheToleranceAndEveryStopFix) {
  std::vector<TrackPoint> p;
  for (int i = 0; i < 5; ++i) p.push_back(at(i * 10, 52.0 + (i <= 2 ? i : 4 - i) * 0.00005, -1.0 + i * 0.001));
  const double off = geodesic(at(0, 52.0, -0.998), at(0, 52.0001, -0.998));  // fix 2's offset
  ASSERT_NEAR(off, 11.13, 0.05);
  TrackAnalysis none;
  EXPECT_EQ(simplify_track(p, none, 0), (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(simplify_track(p, none, 0.01), (std::vector<size_t>{0, 2, 4}));
  EXPECT_EQ(simplify_track(p, none, off - 0.2), (std::vector<size_t>{0, 2, 4}));
  EXPECT_EQ(simplify_track(p, none, off + 0.2), (std::vector<size_t>{0, 4}));
  TrackAnalysis stop;
  stop.stops.push_back(TrackStop{1, 1, 10'000, 10'000, 52.00005, -0.999});
  EXPECT_EQ(simplify_track(p, stop, off + 0.2), (std::vector<size_t>{0, 1, 4}));
}

TEST(TrackFormat, NamesAndContentTypes) {
  for (auto f : {TrackFormat::json, TrackFormat::geojson, TrackFormat::gpx, TrackFormat::csv})
    EXPECT_EQ(parse_track_format(track_format_name(f)), f);
  EXPECT_EQ(parse_track_format(""), TrackFormat::json);
  EXPECT_FALSE(parse_track_format("kml").has_value());
  EXPECT_EQ(track_content_type(TrackFormat::gpx), "application/gpx+xml");
}

}  // namespace
}  // namespace pm
