#include "server/api/basemap_api.hpp"

#include <zlib.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

#include "server/api/api_util.hpp"

namespace pm {

namespace {

using api_util::Writer;
using api_util::write_sv;

// FNV-1a, 64 bit: a cheap content validator (not a security hash).
std::string etag_of(std::string_view body) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

double round6(double v) { return std::round(v * 1e6) / 1e6; }

// Rounded positions without consecutive repeats.
std::vector<geo::LonLat> rounded(const std::vector<geo::LonLat>& pts) {
  std::vector<geo::LonLat> out;
  out.reserve(pts.size());
  for (const geo::LonLat& p : pts) {
    const geo::LonLat r{round6(p.lon), round6(p.lat)};
    if (out.empty() || !(out.back() == r)) out.push_back(r);
  }
  return out;
}

void write_position(Writer& w, geo::LonLat p) {
  w.StartArray();
  w.Double(p.lon);
  w.Double(p.lat);
  w.EndArray();
}

void write_positions(Writer& w, const std::vector<geo::LonLat>& pts) {
  w.StartArray();
  for (const geo::LonLat& p : pts) write_position(w, p);
  w.EndArray();
}

// Writes one feature; false (and nothing written) when its geometry degenerates.
bool write_feature(Writer& w, const geo::BasemapFeature& f) {
  std::vector<std::vector<std::vector<geo::LonLat>>> parts;
  switch (f.type) {
    case geo::BasemapGeometry::point:
      if (f.parts.empty() || f.parts[0].empty() || f.parts[0][0].empty()) return false;
      parts = {{rounded({f.parts[0][0][0]})}};
      break;
    case geo::BasemapGeometry::line_string:
      if (f.parts.empty() || f.parts[0].empty()) return false;
      parts = {{rounded(f.parts[0][0])}};
      if (parts[0][0].size() < 2) return false;
      break;
    case geo::BasemapGeometry::multi_polygon:
      for (const auto& polygon : f.parts) {
        std::vector<std::vector<geo::LonLat>> rings;
        for (const auto& ring : polygon) {
          auto r = rounded(ring);
          if (r.size() < 4 || !(r.front() == r.back())) {
            if (rings.empty()) break;  // no outer ring: drop the polygon with its holes
            continue;
          }
          rings.push_back(std::move(r));
        }
        if (!rings.empty()) parts.push_back(std::move(rings));
      }
      if (parts.empty()) return false;
      break;
  }
  w.StartObject();
  w.Key("type"); w.String("Feature");
  w.Key("geometry");
  w.StartObject();
  switch (f.type) {
    case geo::BasemapGeometry::point:
      w.Key("type"); w.String("Point");
      w.Key("coordinates"); write_position(w, parts[0][0][0]);
      break;
    case geo::BasemapGeometry::line_string:
      w.Key("type"); w.String("LineString");
      w.Key("coordinates"); write_positions(w, parts[0][0]);
      break;
    case geo::BasemapGeometry::multi_polygon:
      // One polygon is written as a Polygon: what most readers expect of a lake.
      w.Key("type"); w.String(parts.size() == 1 ? "Polygon" : "MultiPolygon");
      w.Key("coordinates");
      if (parts.size() > 1) w.StartArray();
      for (const auto& polygon : parts) {
        w.StartArray();
        for (const auto& ring : polygon) write_positions(w, ring);
        w.EndArray();
      }
      if (parts.size() > 1) w.EndArray();
      break;
  }
  w.EndObject();
  w.Key("properties");
  w.StartObject();
  for (const auto& [k, v] : f.properties) {
    write_sv(w, k);
    write_sv(w, v);
  }
  w.EndObject();
  w.EndObject();
  return true;
}

BasemapBlob make_blob(std::string content_type, std::string body, std::size_t features, bool compress) {
  BasemapBlob b;
  b.content_type = std::move(content_type);
  b.etag = etag_of(body);
  if (compress) {
    b.gzip = gzip_compress(body);
    b.gzip_etag = etag_of(b.gzip);
  }
  b.body = std::move(body);
  b.features = features;
  return b;
}

}  // namespace

std::string basemap_layer_geojson(const geo::BasemapLayer& layer) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("type"); w.String("FeatureCollection");
  w.Key("features");
  w.StartArray();
  for (const geo::BasemapFeature& f : layer.features) {
    // A degenerate feature must leave no half-written object behind: write it
    // to its own buffer first.
    rapidjson::StringBuffer one;
    Writer fw(one);
    if (write_feature(fw, f)) w.RawValue(one.GetString(), one.GetSize(), rapidjson::kObjectType);
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer rather than raw zlib.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const auto written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
  out.resize(written);
  return out;
}

bool accepts_gzip(std::string_view header) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  auto lower_eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return true;
  };
  bool star = false, gzip = false, gzip_refused = false;
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const std::size_t semi = item.find(';');
    const std::string_view coding = trim(item.substr(0, semi));
    bool refused = false;
    if (semi != std::string_view::npos) {
      std::string_view param = trim(item.substr(semi + 1));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        // q=0, q=0.0, q=0.00, q=0.000 refuse the coding.
        param = trim(param.substr(2));
        refused = !param.empty() && param.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    if (lower_eq(coding, "gzip") || lower_eq(coding, "x-gzip")) {
      (refused ? gzip_refused : gzip) = true;
    } else if (coding == "*" && !refused) {
      star = true;
    }
  }
  return gzip || (star && !gzip_refused);
}

BasemapTiles BasemapTiles::build(const geo::Basemap& map) {
  BasemapTiles t;
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("bbox");
  w.StartArray();
  for (double v : map.bbox) w.Double(round6(v));
  w.EndArray();
  w.Key("attribution"); w.String("\xC2\xA9 OpenStreetMap contributors");
  w.Key("layers");
  w.StartArray();
  for (const geo::BasemapLayer& l : map.layers) {
    w.StartObject();
    w.Key("name"); write_sv(w, l.name);
    w.Key("min_zoom"); w.Int(l.min_zoom);
    w.EndObject();
    t.layers_.emplace_back(l.name,
                           make_blob("application/geo+json", basemap_layer_geojson(l), l.features.size(), true));
  }
  w.EndArray();
  w.EndObject();
  t.index_ = make_blob("application/json", std::string(sb.GetString(), sb.GetSize()), map.layers.size(), false);
  return t;
}

const BasemapBlob* BasemapTiles::layer(std::string_view name) const {
  for (const auto& [n, blob] : layers_)
    if (n == name) return &blob;
  return nullptr;
}

Response basemap_response(const BasemapBlob& blob, const Request& req) {
  const bool gz = !blob.gzip.empty() && accepts_gzip(req[http::field::accept_encoding]);
  const std::string& etag = gz ? blob.gzip_etag : blob.etag;
  const std::string_view inm = req[http::field::if_none_match];
  // A list of validators, or "*".
  const bool not_modified = !inm.empty() && (inm.find(etag) != std::string_view::npos || inm == "*");
  Response res{not_modified ? http::status::not_modified : http::status::ok, req.version()};
  res.keep_alive(req.keep_alive());
  res.set(http::field::content_type, blob.content_type);
  // Map data, not personal data; it changes only with a restart on a new extract.
  res.set(http::field::cache_control, "private, max-age=3600");
  if (!blob.gzip.empty()) res.set(http::field::vary, "Accept-Encoding");
  res.set(http::field::etag, etag);
  if (gz) res.set(http::field::content_encoding, "gzip");
  if (not_modified) return res;
  res.body() = gz ? blob.gzip : blob.body;
  res.prepare_payload();
  return res;
}

}  // namespace pm
