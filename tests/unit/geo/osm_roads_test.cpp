// Reading roads from OpenStreetMap: the tag rules as pure functions, a
// hand-made .osm file (one-way, oneway=-1, a roundabout, maxspeeds, excluded
// ways) and the real Rutland extract (Oakham -> Uppingham on the A6003).
#include "geo/osm_roads.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <osmium/handler.hpp>
#include <osmium/io/pbf_input.hpp>
#include <osmium/visitor.hpp>
#include <string>
#include <vector>

#include "geo/geodesic.hpp"
#include "tests/support/data_dir.hpp"

namespace pm::geo {
namespace {

constexpr double kMph = 1.609344;

const Projection& bng() {
  static const Projection p = *Projection::create();
  return p;
}

// ---------------------------------------------------------------- tag rules

TEST(OsmTagRules, MaxspeedUnitsAndUkSymbols) {
  const auto kmh = [](std::string_view v, RoadClass c = RoadClass::primary) { return parse_maxspeed_kmh(v, c); };
  EXPECT_DOUBLE_EQ(*kmh("30 mph"), 30 * kMph);
  EXPECT_DOUBLE_EQ(*kmh("30mph"), 30 * kMph);
  EXPECT_DOUBLE_EQ(*kmh(" 20 mph "), 20 * kMph);
  EXPECT_DOUBLE_EQ(*kmh("50"), 50);
  EXPECT_DOUBLE_EQ(*kmh("50 km/h"), 50);
  EXPECT_DOUBLE_EQ(*kmh("GB:nsl_single"), 60 * kMph);
  EXPECT_DOUBLE_EQ(*kmh("UK:nsl_single"), 60 * kMph);
  EXPECT_DOUBLE_EQ(*kmh("GB:nsl_dual"), 70 * kMph);
  EXPECT_DOUBLE_EQ(*kmh("GB:motorway"), 70 * kMph);
  EXPECT_DOUBLE_EQ(*kmh("national"), 60 * kMph);
  EXPECT_DOUBLE_EQ(*kmh("national", RoadClass::motorway), 70 * kMph);
  for (const char* bad : {"", "none", "signals", "walk", "fast", "mph", "30 furlongs", "0", "-5", "900"}) {
    EXPECT_FALSE(kmh(bad).has_value()) << bad;
  }
}

TEST(OsmTagRules, ClassesAndExclusions) {
  EXPECT_EQ(road_class_from_highway("trunk"), RoadClass::trunk);
  EXPECT_EQ(road_class_from_highway("motorway_link"), RoadClass::motorway_link);
  for (const char* no : {"footway", "track", "cycleway", "path", "construction", "proposed", "bus_stop", ""}) {
    EXPECT_FALSE(road_class_from_highway(no).has_value()) << no;
  }
  OsmWayTags t;
  t.highway = "residential";
  ASSERT_TRUE(classify_way(t).has_value());
  EXPECT_DOUBLE_EQ(classify_way(t)->limit_kmh, 25 * kMph);  // class default
  t.access = "private";
  EXPECT_FALSE(classify_way(t).has_value());
  t.motor_vehicle = "yes";  // more specific than access
  EXPECT_TRUE(classify_way(t).has_value());
  t.motor_vehicle = "";
  t.emergency = "yes";  // open to response vehicles
  EXPECT_TRUE(classify_way(t).has_value());
  t = {};
  t.highway = "unclassified";
  t.motorcar = "no";
  EXPECT_FALSE(classify_way(t).has_value());
  t = {};
  t.highway = "service";
  EXPECT_TRUE(classify_way(t).has_value());
  for (const char* s : {"parking_aisle", "driveway", "drive-through"}) {
    t.service = s;
    EXPECT_FALSE(classify_way(t).has_value()) << s;
  }
  t.service = "alley";
  EXPECT_TRUE(classify_way(t).has_value());
  t = {};
  t.highway = "pedestrian";
  EXPECT_FALSE(classify_way(t).has_value());
  t = {};
  t.highway = "service";
  t.area = "yes";
  EXPECT_FALSE(classify_way(t).has_value());
}

TEST(OsmTagRules, OnewayExplicitAndImplied) {
  auto dir = [](std::string_view highway, std::string_view oneway, std::string_view junction = "") {
    OsmWayTags t;
    t.highway = highway;
    t.oneway = oneway;
    t.junction = junction;
    const auto r = classify_way(t);
    return r ? r->oneway : Oneway::no;
  };
  EXPECT_EQ(dir("residential", ""), Oneway::no);
  EXPECT_EQ(dir("residential", "yes"), Oneway::forward);
  EXPECT_EQ(dir("residential", "true"), Oneway::forward);
  EXPECT_EQ(dir("residential", "1"), Oneway::forward);
  EXPECT_EQ(dir("residential", "-1"), Oneway::backward);
  EXPECT_EQ(dir("residential", "no"), Oneway::no);
  EXPECT_EQ(dir("primary", "", "roundabout"), Oneway::forward);
  EXPECT_EQ(dir("primary", "no", "roundabout"), Oneway::no);
  EXPECT_EQ(dir("motorway", ""), Oneway::forward);
  EXPECT_EQ(dir("motorway_link", ""), Oneway::forward);
  EXPECT_EQ(dir("motorway", "no"), Oneway::no);
  OsmWayTags t;
  t.highway = "residential";
  t.oneway = "reversible";
  EXPECT_FALSE(classify_way(t).has_value());
}

TEST(OsmRoads, MissingFileIsAnError) {
  const auto g = load_osm_roads("/nonexistent/roads.osm.pbf", bng());
  ASSERT_FALSE(g.has_value());
  EXPECT_NE(g.error().find("/nonexistent/roads.osm.pbf"), std::string::npos) << g.error();
}

// ---------------------------------------------------------------- hand-made file

// Node positions of tests/data/osm/oneway.osm (see the map in its header).
const std::map<std::string, LonLat>& places() {
  static const std::map<std::string, LonLat> p = {
      {"A", {-0.7300, 52.6700}},  {"n1", {-0.7285, 52.6700}},  {"n2", {-0.7270, 52.6700}}, {"B", {-0.7255, 52.6700}},
      {"n3", {-0.7285, 52.6690}}, {"n4", {-0.7270, 52.6690}},  {"C", {-0.7225, 52.6700}},  {"n5", {-0.7255, 52.6680}},
      {"n6", {-0.7225, 52.6680}}, {"rE", {-0.73225, 52.6700}}, {"rN", {-0.7330, 52.6705}}, {"rW", {-0.73375, 52.6700}},
      {"rS", {-0.7330, 52.6695}}, {"D", {-0.7330, 52.6720}},   {"S", {-0.7330, 52.6680}},  {"P4", {-0.7210, 52.6680}},
  };
  return p;
}
XY at(const std::string& name) { return bng().forward(places().at(name)); }

// Edge speed = limit x this (OsmRoadOptions' default).
constexpr double kFactor = 0.8;
double mps(double mph) { return mph * kMph / 3.6 * kFactor; }

class OnewayFile : public ::testing::Test {
 protected:
  // Loaded once; a failure throws inside each test, which then fails.
  static const RoadGraph& g() {
    static const RoadGraph graph = [] {
      auto r = load_osm_roads(PATROLMAP_SOURCE_DIR "/tests/data/osm/oneway.osm", bng());
      if (!r) throw std::runtime_error(r.error());
      return std::move(*r);
    }();
    return graph;
  }

  // The route's polyline, as the names of the places it passes.
  static std::vector<std::string> passes(const RoadRoute& r) {
    std::vector<std::string> out;
    for (XY p : r.polyline) {
      for (const auto& [name, ll] : places()) {
        if (planar_distance_m(p, bng().forward(ll)) < 0.01) out.push_back(name);
      }
    }
    return out;
  }
  static double d(const std::string& a, const std::string& b) { return planar_distance_m(at(a), at(b)); }
};

TEST_F(OnewayFile, KeepsOnlyDrivableWays) {
  // 16 vertices of kept ways; the parking aisle, footway and private road
  // ends are not nodes.
  EXPECT_EQ(g().node_count(), 16u);
  // Every kept node is in one strongly connected network.
  EXPECT_EQ(g().main_component_nodes(), 16u);
  // Directed edges: two-way segments twice, one-way once. Two-way: A-n1,
  // n2-B, Loop (3), South Road (3), West Road, two spokes, the service road
  // = 12 -> 24; one-way: Short Street, Back Lane, roundabout (4) = 6.
  EXPECT_EQ(g().edge_count(), 30u);
}

TEST_F(OnewayFile, SpeedsFromMaxspeedOrClassDefault) {
  const std::map<std::string, double> mph = {
      {"Short Street", 25},   {"Main Road West", 40},
      {"Main Road East", 40}, {"Loop Road", 20},
      {"Back Lane", 30},      {"South Road", 60},
      {"West Road", 50},      {"North Spoke", 45},
      {"South Spoke", 45},    {"", 50},  // the roundabout (primary) ...
  };
  std::size_t checked = 0;
  for (std::uint32_t e = 0; e < g().edge_count(); ++e) {
    const std::string& name = g().edge_labels(e).name;
    double want = 0;
    if (g().edge_class(e) == RoadClass::service) {
      want = 10;  // ... and the unnamed service road
    } else {
      ASSERT_TRUE(mph.count(name)) << name;
      want = mph.at(name);
    }
    EXPECT_NEAR(g().edge_length_m(e) / g().edge_time_s(e), mps(want), 1e-4) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 30u);
  EXPECT_EQ(OsmRoadOptions{}.speed_factor, kFactor);
}

TEST_F(OnewayFile, AToBGoesAroundTheOneWayStreet) {
  const auto r = g().route(at("A"), at("B"));
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_EQ(passes(*r), (std::vector<std::string>{"A", "n1", "n3", "n4", "n2", "B"}));
  const double want_s =
      d("A", "n1") / mps(40) + (d("n1", "n3") + d("n3", "n4") + d("n4", "n2")) / mps(20) + d("n2", "B") / mps(40);
  EXPECT_NEAR(r->time_s, want_s, 1e-3);
  EXPECT_NEAR(r->length_m, d("A", "n1") + d("n1", "n3") + d("n3", "n4") + d("n4", "n2") + d("n2", "B"), 1e-2);
}

TEST_F(OnewayFile, BToAUsesTheOneWayStreet) {
  const auto r = g().route(at("B"), at("A"));
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_EQ(passes(*r), (std::vector<std::string>{"B", "n2", "n1", "A"}));
  const double want_s = (d("B", "n2") + d("n1", "A")) / mps(40) + d("n2", "n1") / mps(25);
  EXPECT_NEAR(r->time_s, want_s, 1e-3);
}

TEST_F(OnewayFile, ReverseOnewayIsDrivenFromLastNodeToFirst) {
  // Back Lane is drawn C -> B with oneway=-1: B -> C only.
  const auto bc = g().route(at("B"), at("C"));
  ASSERT_TRUE(bc.has_value());
  EXPECT_EQ(passes(*bc), (std::vector<std::string>{"B", "C"}));
  EXPECT_NEAR(bc->time_s, d("B", "C") / mps(30), 1e-3);
  const auto cb = g().route(at("C"), at("B"));
  ASSERT_TRUE(cb.has_value());
  EXPECT_EQ(passes(*cb), (std::vector<std::string>{"C", "n6", "n5", "B"}));
}

TEST_F(OnewayFile, RoundaboutIsDrivenClockwiseOnly) {
  const auto in = g().route(at("D"), at("A"));  // rN -> rE: a quarter
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(passes(*in), (std::vector<std::string>{"D", "rN", "rE", "A"}));
  const auto out = g().route(at("A"), at("D"));  // rE -> rS -> rW -> rN: three quarters
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(passes(*out), (std::vector<std::string>{"A", "rE", "rS", "rW", "rN", "D"}));
  EXPECT_EQ(out->refs, (std::vector<std::string>{"B9999"}));
}

TEST_F(OnewayFile, ExcludedWaysAreNotSnapTargets) {
  // The far end of the private road (P3, 111 m south of n5) snaps to n5, not onto that road.
  const XY p3 = bng().forward({-0.7255, 52.6670});
  const auto s = g().snap(p3);
  ASSERT_TRUE(s.has_value());
  EXPECT_GT(s->distance_m, 100);
  EXPECT_NEAR(s->distance_m, planar_distance_m(p3, at("n5")), 1e-6);
  EXPECT_LT(planar_distance_m(s->point, at("n5")), 1e-6);
}

// ---------------------------------------------------------------- Rutland

// place=town nodes by name, read straight from the file: an answer
// independent of the road reader.
std::map<std::string, LonLat> towns(const std::string& path) {
  struct Towns : osmium::handler::Handler {
    std::map<std::string, LonLat> found;
    void node(const osmium::Node& n) {
      if (std::string_view(n.tags().get_value_by_key("place", "")) == "town" && n.tags()["name"]) {
        found[n.tags()["name"]] = {n.location().lon(), n.location().lat()};
      }
    }
  } h;
  osmium::io::Reader reader{path, osmium::osm_entity_bits::node};
  osmium::apply(reader, h);
  reader.close();
  return h.found;
}

TEST(OsmRoadsRutland, OakhamToUppinghamUsesTheA6003) {
  const std::string path = test::data_dir() + "/osm/rutland-latest.osm.pbf";
  const auto g = load_osm_roads(path, bng());
  ASSERT_TRUE(g.has_value()) << g.error();
  EXPECT_GT(g->node_count(), 10000u);
  EXPECT_GT(g->edge_count(), 20000u);
  EXPECT_GT(g->main_component_nodes(), g->node_count() * 9 / 10);

  const auto t = towns(path);
  ASSERT_TRUE(t.count("Oakham") && t.count("Uppingham"));
  const LonLat oakham = t.at("Oakham"), uppingham = t.at("Uppingham");
  const double straight_m = geodesic_distance_m(oakham, uppingham);
  EXPECT_GT(straight_m, 8500);
  EXPECT_LT(straight_m, 9500);

  const auto r = g->route(bng().forward(oakham), bng().forward(uppingham));
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  std::printf("  Oakham -> Uppingham: %.0f m, %.1f min, straight line %.0f m, refs:", r->length_m, r->time_s / 60,
              straight_m);
  for (const auto& ref : r->refs) std::printf(" %s", ref.c_str());
  std::printf("\n");
  EXPECT_GT(r->length_m, 9000);
  EXPECT_LT(r->length_m, 14000);
  EXPECT_GT(r->time_s, 8 * 60);
  EXPECT_LT(r->time_s, 20 * 60);
  EXPECT_NE(std::find(r->refs.begin(), r->refs.end(), "A6003"), r->refs.end());
  // The polyline starts and ends at the snapped town centres.
  const auto ll = r->lonlat(bng());
  ASSERT_GE(ll.size(), 2u);
  EXPECT_LT(geodesic_distance_m(ll.front(), oakham), r->from.distance_m + 1);
  EXPECT_LT(geodesic_distance_m(ll.back(), uppingham), r->to.distance_m + 1);
  EXPECT_LT(r->from.distance_m, 100);
  EXPECT_LT(r->to.distance_m, 100);
  // And it is a path: consecutive points are joined, its length adds up.
  double sum = 0;
  for (std::size_t i = 1; i < r->polyline.size(); ++i) sum += planar_distance_m(r->polyline[i - 1], r->polyline[i]);
  EXPECT_NEAR(sum, r->length_m, 1.0);
}

}  // namespace
}  // namespace pm::geo
