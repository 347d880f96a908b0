#pragma once
// Output of the stiffness study (studies/stiffness_study.hpp): the per-problem tables, the
// neural training table, the summary, the files in the output directory
//   stiffness_results.csv / .json  one row per gradient run (StiffnessCsvHeader, RecordJson)
//   neural_training.csv            the training loss per method and iteration
// and the bench's table, summary rows and bench.json (studies/bench_util.hpp).

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "studies/bench_util.hpp"
#include "studies/report.hpp"
#include "studies/stiffness_study.hpp"
#include "studies/study_report.hpp"
#include "studies/verdict.hpp"

namespace snode {

// The schema of stiffness_results.csv / .json (docs/file-formats.md); the version goes up when a
// column or field changes meaning or is removed (new columns are added at the end).
inline constexpr const char* kStiffnessSchemaName = "snode-stiffness-results";
inline constexpr int kStiffnessSchemaVersion = 2;

// "snode stiffness study, preset …: N problems, … runs on T threads" and what counts as ok.
void PrintStudyHeader(const StiffnessOptions& options, const StiffnessResults& results,
                      std::size_t runs, std::ostream& out);
// "\n== title ==" and one row per record (a separator between λ values); nothing when empty.
// The error column is ErrorCell's (studies/verdict.hpp): relative where the problem is judged
// relatively, absolute with its allowance where it is judged absolutely.
void PrintProblemTable(const std::string& title, const std::vector<GradientRecord>& records,
                       const Judging& judging, std::ostream& out);
// The training table.
void PrintNeuralTable(const StiffnessOptions& options, const std::vector<NeuralRecord>& neural,
                      std::ostream& out);

// Table cells: status (+ message; + "(<diagnosis>)" when the method flagged its own gradient, or
// "(reconstruction flagged)"), reconstruction error (methods that measure one), the method's
// own error estimate (GradientStats::error_estimate, "-" when it has none). No cell depends on
// the method's name.
std::string StatusCell(const GradientRecord& r);
std::string ReconCell(const GradientRecord& r);
std::string EstimateCell(const GradientRecord& r);

// stiffness_results.csv.
const std::vector<std::string>& StiffnessCsvHeader();
std::vector<std::string> StiffnessCsvRow(const GradientRecord& r);
// One run of stiffness_results.json.
nlohmann::json RecordJson(const GradientRecord& r);
nlohmann::json NeuralJson(const NeuralRecord& n);

// Writes the CSV/JSON files into options.out_dir (the report and its figures are
// studies/study_report.hpp's); prints "wrote …" and the total time since start on out.
void WriteStiffnessOutputs(const StiffnessOptions& options, const StiffnessResults& results,
                           std::chrono::steady_clock::time_point start, std::ostream& out);

// How the reference gradients of a problem were obtained, in one line for the report.
std::string ReferenceSummary(const StudiedProblem& problem);
// report.html and report.md (studies/study_report.hpp) of a finished study in options.out_dir;
// run comes from StartRunInfo, and its preset, threads, ok_tol and times are filled in here.
StudyReportFiles WriteStiffnessReport(const StiffnessOptions& options,
                                      const StiffnessResults& results, RunInfo run);

// The bench's table (spreads[i] belongs to bench.cells[i]), its reference lines and notes.
void PrintRobertsonBenchTable(const RobertsonBench& bench, const std::vector<TimeSpread>& spreads,
                              int repetitions, std::ostream& out);
// One JSON object per cell (everything but the time spread, which the caller adds).
nlohmann::json RobertsonBenchDetail(const RobertsonBench& bench, const RobertsonBenchCell& cell);
// The bench summary note of a cell: "dL/dk rel err …, <status>".
std::string RobertsonBenchNote(const RobertsonBenchCell& cell);
// The summary rows, one per cell (time per gradient); the ladder's target rungs (TargetRungs)
// are held against 10 ms with dL/dk to 1e-6.
std::vector<bench::BenchRow> RobertsonBenchRows(const RobertsonBench& result);
// The bench's table and summary on stdout, <out_dir>/bench.json (bench_util.hpp).
void ReportRobertsonBench(const RobertsonBench& result, int repetitions,
                          const std::string& out_dir);

}  // namespace snode
