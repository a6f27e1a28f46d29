#pragma once
// JSON for the dispatch domain: the API's shapes (ISO 8601 times) and the
// stored event log (epoch milliseconds and projected x/y, so a replay needs
// no projection and gives exactly the same state).
//
//   std::string line = event_to_json(e);           // what the store keeps
//   auto back = event_from_json(line, t);          // nullopt if unreadable
//   write_incident(w, inc, {.now = now, .engine = &engine});   // the API
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "server/dispatch/engine.hpp"

namespace pm::dispatch {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

struct ApiJson {
  EpochMs now = 0;                 // for time_left_s and fix ages
  const Engine* engine = nullptr;  // resolves flagged location ids to their details
};

// `recs`: the ranked units to include (on creation), or none.
void write_incident(JsonWriter& w, const Incident& inc, const ApiJson& ctx,
                    const std::vector<Recommendation>* recs = nullptr);
void write_recommendations(JsonWriter& w, const std::vector<Recommendation>& recs);
void write_alert(JsonWriter& w, const Alert& a, const Engine* engine);
void write_location(JsonWriter& w, const FlaggedLocation& l);
// {"type":"incident_created",...} etc: what a live client or a log reader sees.
void write_event_api(JsonWriter& w, const Event& e, const Engine* engine);

std::string event_kind(const Event& e);
std::string event_to_json(const Event& e);
std::optional<Event> event_from_json(std::string_view json, EpochMs t);

}  // namespace pm::dispatch
