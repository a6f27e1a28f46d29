// import-areas: patrol areas from boundary files, as GeoJSON for the daemon
// (POST /api/v1/areas), written to a file and/or posted to a running daemon.
//
//   import-areas --osm rutland-latest.osm.pbf --admin-level 10 --kind neighbourhood --out parishes.geojson
//   import-areas --kml neighbourhoods.kml --kind neighbourhood --post http://127.0.0.1:8080 --token T
//   import-areas --geojson ward.geojsonl --kind microbeat --target-visits 2 --target-minutes 30 --out -
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "geo/area_index.hpp"
#include "geo/osm_areas.hpp"
#include "geo/projection.hpp"
#include "tools/areas/import.hpp"
#include "tools/areas/kml.hpp"
#include "tools/load/load_util.hpp"

namespace {

using pm::load::die;

struct Options {
  std::vector<std::string> osm, geojson, kml;
  std::string admin_level = "10";
  std::string boundary = "administrative";
  std::string kind = "neighbourhood";
  std::optional<double> target_visits, target_minutes, max_gap_minutes;
  std::string crs = "EPSG:27700";
  std::string out;
  std::string post, token;
};

void usage() {
  std::fputs(R"(import-areas: patrol areas from boundary files, as GeoJSON for patrolmapd

Sources (repeatable; the areas come out --osm first, then --geojson, then --kml):
  --osm FILE             OpenStreetMap .osm.pbf / .osm: boundary relations assembled
                         into (multi)polygons by libosmium; id ref:gss, else r<relation id>;
                         name from name
  --admin-level N        which boundaries from --osm (admin_level=N, default 10:
                         civil parishes in England; "" for any level)
  --boundary V           boundary=V for --osm (default administrative; "" for any)
  --geojson FILE         GeoJSON FeatureCollection, Feature or GeoJSON-lines
                         (id/name as the daemon reads them: id, ref:gss, wd19cd, ...)
  --kml FILE             KML as data.police.uk publishes neighbourhood boundaries:
                         Placemark name, Polygon or MultiGeometry, outer/inner rings

Areas:
  --kind K               kind of every area without one (default neighbourhood;
                         also microbeat, hotspot)
  --target-visits N      patrol target per shift on every area: visits,
  --target-minutes N     minutes of presence,
  --max-gap-minutes N    longest time unvisited (hot spots default to 120)
  --crs CRS              metric projection for the validity check (default EPSG:27700)

Output (at least one):
  --out FILE             GeoJSON FeatureCollection (- : stdout)
  --post URL             POST the collection to a running daemon: http://HOST:PORT
                         (posts to /api/v1/areas?kind=K) or the full URL
  --token T              bearer token for --post (role sergeant or admin)
  --help                 this text

Invalid geometries (GEOS's reason, e.g. Self-intersection) and features without
an id are reported one per line on stderr and left out; progress and a summary
line go to stderr. Exit status 0, 1 when nothing valid was read, 2 on errors.
)",
             stdout);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (pm::load::Args args(argc, argv); args.next();) {
    const std::string& a = args.opt();
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--osm") o.osm.push_back(args.value());
    else if (a == "--geojson") o.geojson.push_back(args.value());
    else if (a == "--kml") o.kml.push_back(args.value());
    else if (a == "--admin-level") o.admin_level = args.value();
    else if (a == "--boundary") o.boundary = args.value();
    else if (a == "--kind") o.kind = args.value();
    else if (a == "--target-visits") o.target_visits = args.num<unsigned>();
    else if (a == "--target-minutes") o.target_minutes = args.num<double>();
    else if (a == "--max-gap-minutes") o.max_gap_minutes = args.num<double>();
    else if (a == "--crs") o.crs = args.value();
    else if (a == "--out") o.out = args.value();
    else if (a == "--post") o.post = args.value();
    else if (a == "--token") o.token = args.value();
    else die("unknown option " + a + " (see --help)");
  }
  if (o.osm.empty() && o.geojson.empty() && o.kml.empty()) die("no source: give --osm, --geojson or --kml (see --help)");
  if (o.out.empty() && o.post.empty()) die("no output: give --out FILE and/or --post URL (see --help)");
  if (!o.post.empty() && o.token.empty()) die("--post needs --token");
  if (o.kind.empty()) die("--kind must not be empty");
  return o;
}

void progress(const std::string& line) { std::fprintf(stderr, "import-areas: %s\n", line.c_str()); }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// POSTs `body` to the daemon; returns the answer body, dies on failure.
std::string post(const std::string& url, const std::string& kind, const std::string& token, const std::string& body) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) die("--post: only http:// URLs (put TLS in front with a proxy)");
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string target = slash == std::string::npos ? "/api/v1/areas?kind=" + kind : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  std::string host = hostport.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  try {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::minutes(5));
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, hostport);
    req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::content_type, "application/geo+json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream, buf, parser);
    auto res = parser.release();
    if (res.result_int() != 200)
      die("POST " + target + ": HTTP " + std::to_string(res.result_int()) + ": " + res.body());
    return res.body();
  } catch (const std::exception& e) {
    die("POST to " + hostport + ": " + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  pm::load::program_name = "import-areas";
  const Options o = parse_options(argc, argv);
  auto projection = pm::geo::Projection::create(o.crs);
  if (!projection) die("--crs " + o.crs + ": " + projection.error());

  std::vector<pm::AreaFeature> all;
  size_t skipped = 0;  // left out before the geometry check (no id, not a polygon, ...)
  auto add = [&](std::vector<pm::AreaFeature> features, const std::string& file) {
    progress(file + ": " + std::to_string(features.size()) + " areas read");
    for (auto& f : features) all.push_back(std::move(f));
  };
  for (const auto& path : o.osm) {
    auto b = pm::geo::read_osm_boundaries(path, {.boundary = o.boundary, .admin_level = o.admin_level}, progress);
    if (!b) die(b.error());
    if (b->incomplete) progress(path + ": " + std::to_string(b->incomplete) + " boundary relations incomplete in the extract, left out");
    skipped += b->incomplete;
    add(pm::areas::from_osm(*b, o.kind), path);
  }
  for (const auto& path : o.geojson) {
    std::vector<pm::AreaProblem> problems;
    std::string not_geojson;
    auto f = pm::read_area_features(slurp(path), o.kind, problems, &not_geojson);
    if (!not_geojson.empty()) die(path + ": " + not_geojson);
    for (const auto& p : problems)
      std::fprintf(stderr, "import-areas: %s: feature %zu %s: %s (%s)\n", path.c_str(), p.index, p.id.c_str(),
                   p.message.c_str(), p.code.c_str());
    skipped += problems.size();
    add(std::move(f), path);
  }
  for (const auto& path : o.kml) {
    auto k = pm::areas::parse_kml(slurp(path));
    if (!k) die(path + ": " + k.error());
    for (const auto& p : k->problems)
      std::fprintf(stderr, "import-areas: %s: Placemark %zu %s: %s\n", path.c_str(), p.index, p.name.c_str(),
                   p.message.c_str());
    skipped += k->problems.size();
    add(pm::areas::from_kml(*k, o.kind), path);
  }
  if (o.target_visits || o.target_minutes || o.max_gap_minutes) {
    pm::geo::PatrolTarget t;
    t.visits = static_cast<std::uint32_t>(o.target_visits.value_or(0));
    t.minutes = o.target_minutes.value_or(0);
    t.max_gap_minutes = o.max_gap_minutes;
    pm::areas::set_target(all, t);
  }

  // The daemon's own check (GEOS validity in the projection, duplicate ids):
  // what it would refuse is reported here and left out.
  progress("checking " + std::to_string(all.size()) + " areas (GEOS, " + o.crs + ")");
  std::vector<pm::geo::AreaInput> inputs;
  for (const auto& f : all) inputs.push_back(f.input);
  std::vector<pm::geo::AreaError> errors;
  auto index = pm::geo::AreaIndex::build(inputs, *projection, &errors);
  std::vector<bool> bad(all.size());
  for (const auto& e : errors) {
    bad[e.index] = true;
    std::fprintf(stderr, "import-areas: invalid area %s (%s): %s\n", e.id.c_str(), all[e.index].name.c_str(),
                 e.reason.c_str());
  }
  std::vector<pm::AreaFeature> valid;
  for (size_t i = 0; i < all.size(); ++i)
    if (!bad[i]) valid.push_back(std::move(all[i]));
  double area_km2 = 0;
  for (uint32_t a = 0; a < index.size(); ++a) area_km2 += index.area_m2(a) / 1e6;

  const std::string json = pm::write_area_features(valid);
  if (!o.out.empty()) {
    if (o.out == "-") {
      std::fwrite(json.data(), 1, json.size(), stdout);
      std::fputc('\n', stdout);
    } else {
      std::ofstream out(o.out, std::ios::binary);
      out << json << '\n';
      if (!out) die("cannot write " + o.out);
    }
  }
  char summary[256];
  std::snprintf(summary, sizeof summary, "%zu areas valid (%.3f km2), %zu invalid geometry, %zu skipped", valid.size(),
                area_km2, errors.size(), skipped);
  progress(summary);
  if (!o.post.empty()) {
    std::string answer = post(o.post, o.kind, o.token, json);
    progress("posted: " + answer);
  }
  return valid.empty() ? 1 : 0;
}
