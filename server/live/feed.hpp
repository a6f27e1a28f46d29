#pragma once
// The live map's feed in the daemon (SPEC section 6): keeps pm_live's FanOut
// current from the store writer and hands WebSocket sessions their
// subscriptions. The FanOut decides who gets what; this class only reads the
// state that changed (live units, dispatch's incidents and alerts) and
// publishes it.
//
//   LiveFeed feed(opts, dispatch, live, clock);
//   feed.seed();                                   // before serving
//   pipeline hook:  feed.on_fixes(fixes, stored);  // store thread, after commit
//   dispatch hook:  feed.on_events(events);        // store thread, after commit
//   session:        auto sub = feed.subscribe(bbox, layers, deflate, deliver);
//                   deliver(snapshot, body) is called from the feed's flush
//                   thread every live.flush_ms while there is something to
//                   send; the session writes it, then calls feed.ready(sub).
//
// With nobody watching, unit updates are not published at all (the store
// writer then pays nothing for the map); the first subscriber republishes
// every unit before it is added, under the same mutex the writer publishes
// under, so no update falls between the two.
//
// One flush thread cuts every ready subscriber's frame at the same tick, so
// screens showing the same window share one frame body (FanOut::cut_ready):
// twenty dispatchers watching the whole county cost one frame, not twenty.
// A body that goes to any session which agreed permessage-deflate is also
// deflated once, on the flush thread (never on an I/O thread), and the
// compressed bytes are shared the same way (pm::ws::deflate_body).
#include <condition_variable>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/dispatch/service.hpp"
#include "server/live/fanout.hpp"

namespace pm::live {

class LiveFeed {
 public:
  // A frame body as cut (shared by every subscriber in the same state), and
  // the same body deflated (ws::deflate_body) for subscribers that asked for
  // it; null for the others.
  struct Body {
    std::shared_ptr<const std::string> text;
    std::shared_ptr<const std::string> deflated;
  };
  // Called on the flush thread: must only hand the frame over (post it).
  using Deliver = std::function<void(bool snapshot, Body body)>;

  LiveFeed(FanOutOptions opt, unsigned flush_ms, const dispatch::DispatchService& dispatch, const Clock& clock);
  ~LiveFeed();
  LiveFeed(const LiveFeed&) = delete;
  LiveFeed& operator=(const LiveFeed&) = delete;

  // Publishes every unit with its state, the open incidents and active alerts.
  void seed();
  // The flush thread; stop() before the sessions' executors go away.
  void start();
  void stop();
  // Store thread, after the commit and after dispatch saw the fixes.
  void on_fixes(std::span<const Fix> fixes, std::span<const uint8_t> stored);
  // Store thread, committed dispatch events: incidents, alerts and the units
  // whose status, incident or emergency flag they change.
  void on_events(const std::vector<dispatch::Event>& events);

  // `deflate`: deliver bodies deflated as well (permessage-deflate agreed).
  SubscriberId subscribe(const Bbox& bbox, uint8_t layers, bool deflate, Deliver deliver);
  void unsubscribe(SubscriberId sub);
  // Applied at the subscriber's next frame.
  void set_viewport(SubscriberId sub, const Bbox& bbox) { fan_.request_viewport(sub, bbox); }
  // The subscriber's last frame is written: it may be sent the next one.
  void ready(SubscriberId sub) { fan_.set_ready(sub); }
  SubscriberStats stats(SubscriberId sub) const { return fan_.stats(sub); }

 private:
  // Under mu_: reads the units' state (dispatch lock, then LiveState) and publishes it.
  void publish_units_locked(std::span<const uint32_t> units, bool all);
  void flush_loop();

  FanOut fan_;
  const unsigned flush_ms_;
  const dispatch::DispatchService& dispatch_;
  const Clock& clock_;
  std::mutex mu_;             // publishing units vs the first subscriber's republish
  bool units_stale_ = false;  // unit updates skipped while nobody subscribed
  std::mutex sinks_mu_;
  struct Sink {
    Deliver deliver;
    bool deflate;
  };
  std::unordered_map<SubscriberId, Sink> sinks_;
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool running_ = false;
  std::thread flusher_;
};

}  // namespace pm::live
