#include "server/areas/area_set.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include "tests/support/geojson_areas.hpp"

namespace pm {
namespace {

std::string square(const std::string& props, int dx = 0) { return test::square_feature(props, dx); }

// A bow tie: its two edges cross at (-0.715, 52.665).
const std::string kBowTie = R"({"type":"Feature","properties":{"id":"bow","kind":"hotspot"},"geometry":{"type":"Polygon",)"
                            R"("coordinates":[[[-0.72,52.66],[-0.71,52.67],[-0.71,52.66],[-0.72,52.67],[-0.72,52.66]]]}})";

struct AreaReplace : ::testing::Test {
  geo::Projection projection = *geo::Projection::create();
  std::vector<AreaFeature> current;

  AreaPlan upload(const std::string& features, std::string_view kind = {}) {
    std::vector<AreaProblem> problems;
    std::string not_geojson;
    auto in = read_area_features(R"({"type":"FeatureCollection","features":[)" + features + "]}", kind, problems,
                                 &not_geojson);
    EXPECT_EQ(not_geojson, "");
    AreaPlan plan = plan_area_replace(current, std::move(in), std::move(problems), kind, projection);
    // The served set and its index agree handle by handle.
    EXPECT_EQ(plan.next.index->size(), plan.next.features->size());
    for (uint32_t a = 0; a < plan.next.index->size(); ++a) EXPECT_EQ(plan.next.index->id(a), (*plan.next.features)[a].input.id);
    return plan;
  }
  std::vector<std::string> ids(const AreaPlan& plan) {
    std::vector<std::string> out;
    for (const auto& f : *plan.next.features) out.push_back(f.input.id + "/" + f.kind);
    return out;
  }
};

TEST_F(AreaReplace, ReplacesTheKindsUploadedAndKeepsTheOthers) {
  current = *upload(square(R"({"id":"n1"})", 0) + "," + square(R"({"id":"n2"})", 1) + "," +
                    square(R"({"id":"h1","kind":"hotspot"})", 2),
                    "neighbourhood")
                 .next.features;
  ASSERT_EQ(current.size(), 3u);

  AreaPlan p = upload(square(R"({"id":"h2","kind":"hotspot","target":{"visits":2}})", 3) + "," + kBowTie + "," +
                      square(R"({"kind":"hotspot"})", 4) + "," + square(R"({"id":"h2","kind":"hotspot"})", 5) + "," +
                      square(R"({"id":"n1","kind":"hotspot"})", 6));
  EXPECT_EQ(p.replaced_kinds, std::vector<std::string>{"hotspot"});
  EXPECT_EQ(p.loaded, 1u);
  ASSERT_EQ(p.stored.size(), 1u);
  EXPECT_EQ(p.stored[0].input.id, "h2");
  EXPECT_EQ(ids(p), (std::vector<std::string>{"n1/neighbourhood", "n2/neighbourhood", "h2/hotspot"}));
  ASSERT_EQ(p.rejected.size(), 4u);
  EXPECT_EQ(p.rejected[0].index, 1u);
  EXPECT_EQ(p.rejected[0].code, "invalid_geometry");
  EXPECT_EQ(p.rejected[0].id, "bow");
  EXPECT_EQ(p.rejected[0].message.rfind("Self-intersection", 0), 0u) << p.rejected[0].message;
  EXPECT_EQ(p.rejected[1].index, 2u);
  EXPECT_EQ(p.rejected[1].code, "missing_id");
  EXPECT_EQ(p.rejected[2].index, 3u);
  EXPECT_EQ(p.rejected[2].code, "duplicate_id");  // h2 twice in the upload
  EXPECT_EQ(p.rejected[3].index, 4u);
  EXPECT_EQ(p.rejected[3].code, "duplicate_id");  // n1 stays a neighbourhood
  EXPECT_FALSE(p.next.index->find("h1"));

  // The answer's JSON.
  rapidjson::Document d;
  d.Parse(write_area_plan(p).c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_EQ(d["loaded"].GetUint(), 1u);
  EXPECT_STREQ(d["replaced_kinds"][0].GetString(), "hotspot");
  ASSERT_EQ(d["rejected"].Size(), 4u);
  EXPECT_STREQ(d["rejected"][0]["id"].GetString(), "bow");
  EXPECT_STREQ(d["rejected"][0]["code"].GetString(), "invalid_geometry");
  EXPECT_FALSE(d["rejected"][1].HasMember("id"));
}

TEST_F(AreaReplace, AnEmptyUploadOfAKindClearsIt) {
  current = *upload(square(R"({"id":"n1"})", 0) + "," + square(R"({"id":"h1","kind":"hotspot"})", 2), "neighbourhood")
                 .next.features;
  AreaPlan p = upload("", "hotspot");
  EXPECT_EQ(p.replaced_kinds, std::vector<std::string>{"hotspot"});
  EXPECT_EQ(p.loaded, 0u);
  EXPECT_EQ(ids(p), std::vector<std::string>{"n1/neighbourhood"});
  // Without a kind and nothing valid, nothing is replaced.
  AreaPlan q = upload(kBowTie);
  EXPECT_TRUE(q.replaced_kinds.empty());
  EXPECT_EQ(ids(q), (std::vector<std::string>{"n1/neighbourhood", "h1/hotspot"}));
}

}  // namespace
}  // namespace pm
