#pragma once
// Decodes the body of POST /api/v1/pings: one ping object or an array of them.
//
//   std::string body = R"([{"device":"AVL-0231","t":"2026-11-22T10:15:03.250Z","lat":52.67,"lon":-0.73}])";
//   JsonPingBatch batch;
//   auto err = decode_json_pings(body, 5000, batch);   // parses in place: body is modified
//   // batch.pings[i] valid; batch.rejections has items that could not be decoded
//
// Each item is decoded on its own: a bad item is a Rejection, the rest still
// load. Only a body that is not JSON, not an object/array, or too large a
// batch fails as a whole. Unknown members are ignored (forward compatibility).
#include <optional>
#include <string>
#include <vector>

#include "server/core/errors.hpp"
#include "server/ingest/fix.hpp"

namespace pm {

struct JsonPingBatch {
  std::vector<RawPing> pings;        // decoded items
  std::vector<uint32_t> positions;   // pings[i] was item positions[i] of the request
  std::vector<Rejection> rejections; // undecodable items, by request position
  size_t items = 0;                  // items in the request
  void clear() { pings.clear(); positions.clear(); rejections.clear(); items = 0; }
};

// `body` must stay alive while the batch's string_views are used.
std::optional<Error> decode_json_pings(std::string& body, size_t max_batch, JsonPingBatch& out);

}  // namespace pm
