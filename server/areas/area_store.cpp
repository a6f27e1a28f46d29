#include "server/areas/area_store.hpp"

namespace pm {

std::optional<std::string> replace_area_rows(sql::Db& db, std::span<const std::string> kinds,
                                             std::span<const AreaFeature> rows) {
  auto del = db.prepare("DELETE FROM areas WHERE kind=?");
  if (!del.ok()) return del.error();
  for (const auto& k : kinds) {
    del.bind(1, k);
    int rc = del.step();
    del.reset();
    if (rc != SQLITE_DONE) return db.errmsg();
  }
  auto ins = db.prepare("INSERT OR REPLACE INTO areas(id,kind,name,parent,urban,target,geometry) VALUES(?,?,?,?,?,?,?)");
  if (!ins.ok()) return ins.error();
  for (const auto& f : rows) {
    ins.bind(1, f.input.id).bind(2, f.kind).bind(3, f.name).bind(4, f.parent);
    if (f.urban) ins.bind(5, int64_t{*f.urban ? 1 : 0});
    else ins.bind_null(5);
    if (f.target) ins.bind(6, write_target(*f.target));
    else ins.bind_null(6);
    ins.bind(7, write_area_geometry(f.input));
    int rc = ins.step();
    ins.reset();
    if (rc != SQLITE_DONE) return db.errmsg();
  }
  return std::nullopt;
}

std::vector<AreaFeature> load_area_rows(sql::Db& db, std::vector<AreaProblem>& problems) {
  std::vector<AreaFeature> out;
  auto st = db.prepare("SELECT id,kind,name,parent,urban,target,geometry FROM areas ORDER BY rowid");
  size_t row = 0;
  while (st.ok() && st.step() == SQLITE_ROW) {
    AreaFeature f;
    f.source = row++;
    f.input.id = st.text(0);
    f.kind = st.text(1);
    f.name = st.text(2);
    f.parent = st.text(3);
    if (!st.is_null(4)) f.urban = st.i64(4) != 0;
    auto problem = [&](std::string code, std::string why) {
      problems.push_back({f.source, std::move(why), std::move(code), f.input.id});
    };
    if (!st.is_null(5)) {
      geo::PatrolTarget t;
      if (auto e = read_target(st.text(5), t)) {
        problem("invalid_target", *e);
        continue;
      }
      f.target = t;
    }
    if (auto e = read_area_geometry(st.text(6), f.input)) {
      problem("invalid_geometry", *e);
      continue;
    }
    out.push_back(std::move(f));
  }
  if (!st.ok()) problems.push_back({0, st.error(), "store", {}});
  return out;
}

}  // namespace pm
