#pragma once
// Loading areas into the running daemon: one worker thread parses, checks
// (GEOS) and stores each upload in turn, then publishes the new set, so a
// POST of megabytes never runs on an I/O thread and two uploads never mix.
//
//   AreaService areas(projection, store, metrics, [&] { return current(); }, [&](AreaSet s) { swap(s); });
//   areas.load_stored();                 // before store.start(): the areas a restart must serve
//   store.start(...); areas.start();
//   if (!areas.submit(std::move(body), "hotspot", [](AreaUploadResult&& r) { answer(r); })) answer 503;
//
// Order per upload: parse and plan (server/areas/area_set.hpp) on the worker;
// one WriteJob deletes the replaced kinds' rows and writes the accepted ones;
// only after it committed is the new set published (`publish`, which swaps
// what readers see in one step) and `done` called. If the store fails,
// nothing is published: readers keep the old set, the store the old rows.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "geo/projection.hpp"
#include "server/areas/area_set.hpp"
#include "server/core/metrics.hpp"
#include "server/store/store.hpp"

namespace pm {

class AreaService {
 public:
  using Current = std::function<std::shared_ptr<const std::vector<AreaFeature>>()>;
  using Publish = std::function<void(AreaSet)>;
  using Done = std::function<void(AreaUploadResult&&)>;
  static constexpr std::size_t kMaxQueued = 4;

  AreaService(geo::Projection projection, Store& store, Metrics& metrics, Current current, Publish publish);
  ~AreaService();
  AreaService(const AreaService&) = delete;
  AreaService& operator=(const AreaService&) = delete;

  // Reads and publishes the stored areas (store.read: before store.start()).
  // Returns how many loaded; unreadable or invalid rows are logged and skipped.
  std::size_t load_stored();
  void start();
  // Answers queued uploads with `overloaded`, then joins the worker.
  void stop();

  // Queues an upload: `body` GeoJSON, `kind` the default and replaced kind
  // (may be empty). `done` runs on the worker thread. False (done not
  // called) when kMaxQueued uploads wait already or the service stopped.
  bool submit(std::string body, std::string kind, Done done);

  // submit() and wait: for callers that may block (the demo's files, tests).
  AreaUploadResult upload(std::string body, std::string kind);

 private:
  struct Job {
    std::string body;
    std::string kind;
    Done done;
  };
  void run();
  AreaUploadResult process(const Job& job);

  geo::Projection projection_;
  Store& store_;
  Metrics& metrics_;
  Current current_;
  Publish publish_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace pm
