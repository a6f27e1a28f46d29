#pragma once
// What a wire decoder produces for the pipeline: pings it could decode,
// rejections for what it could not, both by position in the input, and the
// storage for device ids the pings view (stable addresses: a deque).
//
//   DecodedPings out;
//   nmea_stream.feed(bytes, out);                 // or decode_osmand_query(q, out) ...
//   pipeline.submit(out.pings, out.positions, std::move(out.rejections), channel, done);
//   out.clear();                                   // only after submit returned
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "server/ingest/fix.hpp"

namespace pm {

struct DecodedPings {
  std::vector<RawPing> pings;
  std::vector<uint32_t> positions;    // pings[i] was input item positions[i]
  std::vector<Rejection> rejections;  // by input item position
  std::deque<std::string> ids;        // owns the device ids pings[i].device views
  uint32_t items = 0;                 // input items seen (next position)

  // Copies `id` into storage that outlives the input buffer; returns a view of the copy.
  std::string_view keep(std::string_view id) {
    if (!ids.empty() && ids.back() == id) return ids.back();
    ids.emplace_back(id);
    return ids.back();
  }
  void add(const RawPing& p) {
    pings.push_back(p);
    positions.push_back(items++);
  }
  void reject(Errc code, std::string_view detail = {}) { rejections.push_back({items++, code, detail}); }
  bool empty() const { return pings.empty() && rejections.empty(); }
  void clear() {
    pings.clear();
    positions.clear();
    rejections.clear();
    ids.clear();
    items = 0;
  }
};

}  // namespace pm
