#pragma once
// The management reports' inputs read from the store (runs on a StoreReader
// worker: blocking SQLite reads). Each report is one read transaction, so it
// sees one consistent snapshot while the writer commits.
//
//   sql::Db& db = ...;                           // a StoreReader connection
//   auto r = response_report(db, {from, to, now});   // or an error message
//   if (auto* e = std::get_if<std::string>(&r)) answer 500 store_failed
#include <string>
#include <variant>
#include <vector>

#include "server/reports/reports.hpp"
#include "server/store/sqlite.hpp"

namespace pm::reports {

struct ReportQuery {
  EpochMs from = 0, to = 0;  // [from, to)
  EpochMs now = 0;
  const ShiftCalendar* shifts = nullptr;  // mileage and deployments
  const PosixTz* tz = nullptr;            // demand
  StopRules stops;                        // mileage
  double barely_used_km = 5;              // mileage
};

template <class T>
using Result = std::variant<T, std::string>;  // the report, or a store error

Result<std::vector<GradeResponse>> response_report(sql::Db& db, const ReportQuery& q);
Result<std::vector<ShiftDeployments>> deployment_report(sql::Db& db, const ReportQuery& q);

struct MileageReport {
  std::vector<MileageRow> rows;  // by shift, then unit id
  size_t barely_used = 0;
};
Result<MileageReport> mileage_report(sql::Db& db, const ReportQuery& q);
Result<Demand> demand_report(sql::Db& db, const ReportQuery& q);

// The shifts overlapping [from, to), each clipped to the window.
std::vector<Shift> window_shifts(const ShiftCalendar& cal, EpochMs from, EpochMs to);

}  // namespace pm::reports
