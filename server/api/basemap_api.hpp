#pragma once
// The offline basemap over HTTP (docs/api.md "Basemap"): every layer is
// serialised to GeoJSON once at load, and gzipped once, so a request is a copy.
//
//   auto map = geo::read_basemap(path, projection);                        // geo/osm_basemap.hpp
//   auto tiles = std::make_shared<const BasemapTiles>(BasemapTiles::build(*map));
//   ApiDeps{..., .basemap = tiles};
//   GET /api/v1/basemap            -> tiles->index()          (application/json)
//   GET /api/v1/basemap/roads_major -> *tiles->layer("roads_major") (application/geo+json)
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "geo/basemap.hpp"
#include "server/api/api.hpp"

namespace pm {

// One pre-serialised answer.
struct BasemapBlob {
  std::string content_type;
  std::string body;       // identity
  std::string gzip;       // body gzip-compressed; "" = served identity only
  std::string etag;       // quoted, of the identity body
  std::string gzip_etag;  // quoted, of the gzip body (a different representation)
  std::size_t features = 0;
};

class BasemapTiles {
 public:
  static BasemapTiles build(const geo::Basemap& map);

  // {"bbox":[w,s,e,n],"attribution":"...","layers":[{"name","min_zoom"},...]}
  const BasemapBlob& index() const { return index_; }
  // A layer by name, or nullptr.
  const BasemapBlob* layer(std::string_view name) const;
  const std::vector<std::pair<std::string, BasemapBlob>>& layers() const { return layers_; }

 private:
  BasemapBlob index_;
  std::vector<std::pair<std::string, BasemapBlob>> layers_;
};

// A FeatureCollection, coordinates rounded to 6 decimals (~0.1 m), repeated
// vertices (after rounding) dropped, degenerate lines and rings left out.
std::string basemap_layer_geojson(const geo::BasemapLayer& layer);
// gzip (RFC 1952) at the best compression; throws std::runtime_error when zlib fails.
std::string gzip_compress(std::string_view data);
// Whether an Accept-Encoding header value admits gzip (a "gzip" or "*" coding
// whose q is not 0).
bool accepts_gzip(std::string_view accept_encoding);

// 200 with the gzip body when the request accepts it, 304 on a matching
// If-None-Match; Vary: Accept-Encoding, Cache-Control: private, max-age=3600.
Response basemap_response(const BasemapBlob& blob, const Request& req);

}  // namespace pm
