#pragma once
// Areas in the store (table `areas`: id, kind, name, parent, urban, target
// as JSON, geometry as GeoJSON), so that a restart serves the areas that
// were loaded. Both run with the store's connection: replace_area_rows
// inside a WriteJob (the same transaction as the upload's answer),
// load_area_rows before the daemon serves.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "server/areas/geojson.hpp"
#include "server/store/sqlite.hpp"

namespace pm {

// Deletes every row of `kinds`, then writes `rows` (an id already stored is
// overwritten). Returns an error message: the caller's savepoint rolls back.
std::optional<std::string> replace_area_rows(sql::Db& db, std::span<const std::string> kinds,
                                             std::span<const AreaFeature> rows);

// The stored areas in the order they were written; rows that cannot be read
// back are reported in `problems` (index: their position) and skipped.
std::vector<AreaFeature> load_area_rows(sql::Db& db, std::vector<AreaProblem>& problems);

}  // namespace pm
