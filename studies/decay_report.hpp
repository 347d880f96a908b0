#pragma once
// Output of the seed's decay experiment (studies/decay_study.hpp): the table, the findings, the
// files decay_results.csv / decay_results.json and the figure decay_backsolve (|y_rec(t)|
// reconstructed backward by the first backsolve method vs e^{−λt}, one panel per λ), and the
// bench's table, summary rows and bench.json (studies/bench_util.hpp).

#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "studies/bench_util.hpp"
#include "studies/decay_study.hpp"
#include "studies/report.hpp"

namespace snode {

// "1.6e+34" (relative) or "abs 3.8e-10" where the exact value underflows; "-" when non-finite.
std::string DecayErrorCell(double value, double exact);
// The explanation lines and the table of rows.
void PrintDecayTable(const std::vector<DecayRow>& rows, std::ostream& out);
// The findings ("- …") and notes.
void PrintDecayFindings(const DecayResults& results, std::ostream& out);

// decay_results.csv.
const std::vector<std::string>& DecayCsvHeader();
std::vector<std::string> DecayCsvRow(const DecayRow& r);
nlohmann::json DecayRowJson(const DecayRow& r);

// Writes the CSV/JSON files and (options.plots) the figure into options.out_dir; prints plot
// notes, "wrote …" and the total time since start on out.
void WriteDecayOutputs(const DecayOptions& options, const DecayResults& results,
                       std::chrono::steady_clock::time_point start, std::ostream& out);

// The bench's header line, table (spreads[i] belongs to bench.cells[i]) and notes.
void PrintDecayBenchTable(const DecayBench& bench, const std::vector<TimeSpread>& spreads,
                          int repetitions, double ok_tol, std::ostream& out);
// One JSON object per cell (everything but the time spread, which the caller adds).
nlohmann::json DecayBenchDetail(const DecayBench& bench, const DecayBenchCell& cell);
// The summary rows: per problem (W1, W1b) and method, the time of the whole sweep over
// lambda_count values of λ; met when every λ finishes with a status (ok, inaccurate or
// non-finite; "failed" is any other exception).
std::vector<bench::BenchRow> DecayBenchRows(const DecayBench& result, std::size_t lambda_count);
// The bench's table on stdout, then the summary and <options.out_dir>/bench.json
// (bench_util.hpp); options gives the λ values and ok_tol the bench ran with.
void ReportDecayBench(const DecayOptions& options, const DecayBench& result, int repetitions);

}  // namespace snode
