// The area worker on a real store in a temporary directory: an upload is
// stored before it is published, a restart reads it back, and a store write
// that fails publishes nothing.
#include "server/areas/area_service.hpp"

#include <gtest/gtest.h>

#include <future>

#include "tests/support/geojson_areas.hpp"
#include "tests/support/temp_dir.hpp"

namespace pm {
namespace {

std::string collection(const std::string& features) {
  return R"({"type":"FeatureCollection","features":[)" + features + "]}";
}

// A store, a worker, and the published set as App keeps it.
struct Daemon {
  explicit Daemon(const std::string& dir) {
    StoreOptions o;
    o.data_dir = dir;
    store = Store::open(o, metrics);
    store->load(live);
    service = std::make_unique<AreaService>(
        live.projection(), *store, metrics, [this] { return published.features; },
        [this](AreaSet s) {
          ++publishes;
          published = std::move(s);
        });
    service->load_stored();
    store->start(live, [](sql::Db&) {});
    service->start();
  }
  ~Daemon() {
    service->stop();
    store->stop();
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    if (published.features)
      for (const auto& f : *published.features) out.push_back(f.input.id);
    return out;
  }
  Metrics metrics;
  LiveState live{*geo::Projection::create("EPSG:27700"), LonLatBox{}};
  std::unique_ptr<Store> store;
  std::unique_ptr<AreaService> service;
  AreaSet published;
  int publishes = 0;
};

TEST(AreaService, StoresThenPublishesAndARestartReadsItBack) {
  test::TempDir dir;
  {
    Daemon d(dir.path());
    EXPECT_TRUE(d.ids().empty());
    auto r = d.service->upload(collection(test::square_feature(R"({"id":"a","target":{"visits":4}})") + "," +
                                          test::square_feature(R"({"id":"b","urban":false})", 1)),
                               "microbeat");
    ASSERT_FALSE(r.error) << r.error->text();
    EXPECT_EQ(r.plan.loaded, 2u);
    EXPECT_EQ(d.ids(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(d.metrics.areas_loaded.load(), 2u);
    auto bad = d.service->upload("no json", "microbeat");
    ASSERT_TRUE(bad.error);
    EXPECT_EQ(bad.error->code, Errc::bad_request);
    EXPECT_EQ(d.ids().size(), 2u);
  }
  Daemon again(dir.path());
  ASSERT_EQ(again.ids(), (std::vector<std::string>{"a", "b"}));
  const auto& f = *again.published.features;
  EXPECT_EQ(f[0].kind, "microbeat");
  ASSERT_TRUE(f[0].target);
  EXPECT_EQ(f[0].target->visits, 4u);
  ASSERT_TRUE(f[1].urban);
  EXPECT_FALSE(*f[1].urban);
  EXPECT_EQ(again.published.index->size(), 2u);
}

TEST(AreaService, AFailedStoreWritePublishesNothing) {
  test::TempDir dir;
  Daemon d(dir.path());
  ASSERT_FALSE(d.service->upload(collection(test::square_feature(R"({"id":"keep"})")), "hotspot").error);
  const int before = d.publishes;
  // Break the table under the worker: the replace cannot be written.
  std::promise<StoreResult> broken;
  d.store->submit(WriteJob{[](sql::Db& db) { return db.exec("DROP TABLE areas"); },
                           [&](const StoreResult& r) { broken.set_value(r); }});
  ASSERT_TRUE(broken.get_future().get().ok);
  auto r = d.service->upload(collection(test::square_feature(R"({"id":"new"})")), "hotspot");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, Errc::store_failed);
  EXPECT_EQ(d.publishes, before);
  EXPECT_EQ(d.ids(), std::vector<std::string>{"keep"});
}

}  // namespace
}  // namespace pm
