// hotspots: proposes crime hot spots from police.uk street-level CSV files, as
// patrol areas of kind `hotspot` (GeoJSON for POST /api/v1/areas or the
// daemon's area loading), by the rules hot-spot policing trials used: crimes
// within 150 m of an epicentre, enough of them a year, epicentres at least
// 500 m apart (geo/hotspots.hpp). Rows without coordinates are skipped and
// counted; crime types can be filtered (anti-social behaviour, say).
//
//   hotspots --crime 2022-10-leicestershire-street.csv --bbox -0.85,52.52,-0.39,52.77
//            --min-per-year 24 --out hotspots.geojson
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "geo/hotspots.hpp"
#include "geo/projection.hpp"
#include "tools/load/load_util.hpp"
#include "tools/sim/sim_core.hpp"

namespace {

using pm::load::die;
using pm::load::parse_num;

struct Options {
  std::vector<std::string> crime_files;
  std::vector<std::string> types;  // empty: every crime type
  bool has_bbox = false;
  double bbox[4] = {0, 0, 0, 0};
  pm::geo::HotspotOptions spot;
  double months = 0;  // 0: the distinct months in the files
  std::string crs = "EPSG:27700";
  int target_visits = 3, target_minutes = 45, target_max_gap = 120;
  std::string out = "-";
  std::string id_prefix = "HS-";
};

void usage() {
  std::fputs(R"(hotspots: crime hot spots from police.uk street-level CSV, as patrol areas (GeoJSON)

  --crime FILE           a police.uk *-street.csv file (repeat for several months)
  --type NAME            only this "Crime type" (repeatable; e.g. "Anti-social behaviour")
  --bbox W,S,E,N         only crimes inside (degrees)
  --radius M             crimes within M metres of an epicentre belong to it (default 150)
  --separation M         epicentres at least M metres apart (default 500)
  --min-per-year N       crimes a year within the radius, at least (default 24)
  --months N             months the files cover (default: the distinct Month values)
  --max N                at most N hot spots, most crimes first (default 100)
  --target-visits N      patrol target per shift written on each area (default 3)
  --target-minutes N     minutes of presence per shift (default 45)
  --max-gap-minutes N    longest time unvisited before an alert (default 120)
  --id-prefix P          area ids P01, P02, ... (default HS-)
  --crs CRS              metric projection for distances (default EPSG:27700)
  --out FILE             GeoJSON FeatureCollection (default - : stdout)
  --help                 this text

Each area: properties id, name (the epicentre's "On or near ..." location), kind
"hotspot", crimes, per_year, target {visits, minutes, max_gap_minutes}; a polygon
(32-gon) around the epicentre with the radius of its farthest crime (at least 25 m).
Progress and counts go to stderr.
)",
             stdout);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (pm::load::Args args(argc, argv); args.next();) {
    const std::string& a = args.opt();
    auto value = [&] { return args.value(); };
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--crime") o.crime_files.push_back(value());
    else if (a == "--type") o.types.push_back(value());
    else if (a == "--bbox") {
      std::string v = value();
      if (std::sscanf(v.c_str(), "%lf,%lf,%lf,%lf", &o.bbox[0], &o.bbox[1], &o.bbox[2], &o.bbox[3]) != 4 ||
          !(o.bbox[0] < o.bbox[2] && o.bbox[1] < o.bbox[3]))
        die("--bbox wants W,S,E,N with W < E and S < N");
      o.has_bbox = true;
    } else if (a == "--radius") o.spot.radius_m = parse_num<double>(a, value());
    else if (a == "--separation") o.spot.separation_m = parse_num<double>(a, value());
    else if (a == "--min-per-year") o.spot.min_per_year = parse_num<double>(a, value());
    else if (a == "--months") o.months = parse_num<double>(a, value());
    else if (a == "--max") o.spot.max_spots = parse_num<size_t>(a, value());
    else if (a == "--target-visits") o.target_visits = parse_num<int>(a, value());
    else if (a == "--target-minutes") o.target_minutes = parse_num<int>(a, value());
    else if (a == "--max-gap-minutes") o.target_max_gap = parse_num<int>(a, value());
    else if (a == "--id-prefix") o.id_prefix = value();
    else if (a == "--crs") o.crs = value();
    else if (a == "--out") o.out = value();
    else die("unknown option " + a + " (see --help)");
  }
  if (o.crime_files.empty()) die("--crime FILE is required (see --help)");
  if (o.spot.radius_m <= 0 || o.spot.radius_m > 1000) die("--radius is 1 to 1000 metres");
  return o;
}

// The distinct values of the "Month" column (police.uk: YYYY-MM).
void collect_months(std::string_view text, std::set<std::string>& months) {
  std::vector<std::string> f;
  size_t pos = 0;
  bool header = true;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (header) {
      header = false;
      continue;
    }
    if (!line.empty() && pm::sim::split_csv_line(line, f) && f.size() > 1 && !f[1].empty()) months.insert(f[1]);
  }
}

// police.uk's "On or near <street>", or the id where the street is blank.
std::string spot_name(const std::string& location, const std::string& id) {
  std::string_view s = location;
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty() || s == "On or near") return "Hot spot " + id;
  return std::string(s);
}

}  // namespace

int main(int argc, char** argv) {
  pm::load::program_name = "hotspots";
  Options o = parse_options(argc, argv);
  auto proj = pm::geo::Projection::create(o.crs);
  if (!proj) die("projection " + o.crs + ": " + proj.error());

  std::vector<pm::sim::CrimePoint> crimes;
  std::set<std::string> months;
  pm::sim::CrimeStats total;
  size_t other_type = 0;
  for (const auto& path : o.crime_files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) die("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    collect_months(text, months);
    pm::sim::CrimeStats st;
    auto pts = pm::sim::read_crime_csv(text, st, [&](pm::geo::LonLat ll) {
      return !o.has_bbox || (ll.lon >= o.bbox[0] && ll.lon <= o.bbox[2] && ll.lat >= o.bbox[1] && ll.lat <= o.bbox[3]);
    });
    for (auto& p : pts) {
      if (!o.types.empty() && std::find(o.types.begin(), o.types.end(), p.category) == o.types.end()) {
        ++other_type;
        continue;
      }
      crimes.push_back(std::move(p));
    }
    std::fprintf(stderr, "hotspots: %s: %zu rows, %zu without coordinates (skipped), %zu outside the bbox\n",
                 path.c_str(), st.rows, st.no_coordinates, st.outside);
    total.rows += st.rows;
    total.no_coordinates += st.no_coordinates;
  }
  o.spot.months = o.months > 0 ? o.months : static_cast<double>(std::max<size_t>(1, months.size()));
  std::fprintf(stderr, "hotspots: %zu crimes kept (%zu of other types), %.0f month(s)\n", crimes.size(), other_type,
               o.spot.months);

  std::vector<pm::geo::XY> xy(crimes.size());
  for (size_t i = 0; i < crimes.size(); ++i) xy[i] = proj->forward(crimes[i].ll);
  auto spots = pm::geo::find_hotspots(xy, o.spot);

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("type");
  w.String("FeatureCollection");
  w.Key("features");
  w.StartArray();
  for (size_t k = 0; k < spots.size(); ++k) {
    const auto& h = spots[k];
    char id[64];
    std::snprintf(id, sizeof id, "%s%02zu", o.id_prefix.c_str(), k + 1);
    w.StartObject();
    w.Key("type");
    w.String("Feature");
    w.Key("properties");
    w.StartObject();
    w.Key("id");
    w.String(id);
    w.Key("name");
    w.String(spot_name(crimes[h.epicentre].location, id).c_str());
    w.Key("kind");
    w.String("hotspot");
    w.Key("crimes");
    w.Uint64(h.members.size());
    w.Key("per_year");
    w.Double(std::round(h.per_year * 10) / 10);
    w.Key("radius_m");
    w.Double(std::round(h.radius_m * 10) / 10);
    w.Key("target");
    w.StartObject();
    w.Key("visits");
    w.Int(o.target_visits);
    w.Key("minutes");
    w.Int(o.target_minutes);
    w.Key("max_gap_minutes");
    w.Int(o.target_max_gap);
    w.EndObject();
    w.EndObject();
    w.Key("geometry");
    w.StartObject();
    w.Key("type");
    w.String("Polygon");
    w.Key("coordinates");
    w.StartArray();
    w.StartArray();
    for (const auto& p : pm::geo::circle_ring(h.centre, h.radius_m)) {
      auto ll = proj->inverse(p);
      w.StartArray();
      w.Double(std::round(ll.lon * 1e7) / 1e7);
      w.Double(std::round(ll.lat * 1e7) / 1e7);
      w.EndArray();
    }
    w.EndArray();
    w.EndArray();
    w.EndObject();
    w.EndObject();
    std::fprintf(stderr, "hotspots: %s %-40s %3zu crimes (%.0f a year), radius %.0f m\n", id,
                 spot_name(crimes[h.epicentre].location, id).c_str(), h.members.size(), h.per_year, h.radius_m);
  }
  w.EndArray();
  w.EndObject();
  if (o.out == "-") {
    std::fwrite(buf.GetString(), 1, buf.GetSize(), stdout);
    std::fputc('\n', stdout);
  } else {
    std::ofstream out(o.out, std::ios::binary);
    out.write(buf.GetString(), static_cast<std::streamsize>(buf.GetSize()));
    if (!out) die("cannot write " + o.out);
  }
  std::fprintf(stderr, "hotspots: %zu hot spots (radius %.0f m, %.0f m apart, >= %.0f crimes a year)\n", spots.size(),
               o.spot.radius_m, o.spot.separation_m, o.spot.min_per_year);
  return 0;
}
