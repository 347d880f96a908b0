#pragma once
// Shared pieces of the apps' --bench modes (the benchmark workloads W1–W5 of docs/performance.md):
// repetition statistics (median, min, max), a description of the machine and build, a stdout
// silencer for the repeated runs, and the bench report: a short table on stdout and
// <out>/bench.json.
//
// bench.json layout (every app):
//   {"app": "...", "workloads": "W2", "repetitions": N, "machine": MachineInfo(),
//    "summary": [BenchRow...], "details": {...app specific...}}
// A BenchRow is {"workload", "configuration", "metric", "unit", "median", "min", "max",
//   "target" (number or null), "target_text", "met" (true/false, or null without a target),
//   "note", "cpu_median", "cpu_min", "cpu_max" (CPU seconds of the same runs for time rows,
//   null otherwise)}. scripts/bench.sh gathers the "summary" rows of every app into
// results/bench/summary.json.

#include <chrono>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <streambuf>
#include <string>
#include <vector>

#include "studies/report.hpp"

namespace snode::bench {

// median / min / max of a set of repetitions (NaN for an empty set; non-finite values are
// ignored, count says how many were finite).
struct Spread {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  int count = 0;
};
Spread Summarize(const std::vector<double>& values);
double Median(const std::vector<double>& values);
// {"median", "min", "max", "count"} (non-finite as null).
nlohmann::json SpreadJson(const Spread& spread);

// The machine and build: {"cpu_model" (lscpu "Model name"), "nproc", "commit" (git rev-parse
// --short HEAD of the source tree at run time, "+dirty" appended when the tree has local
// changes, "unknown" without git), "build_type" (CMAKE_BUILD_TYPE at configure time), "native"
// (SNODE_NATIVE: -march=native), "dense_kernels" (the instruction set the dense products run
// with, core/dense_kernels.hpp), "date" (UTC, ISO 8601), "load_average" (1-minute, from
// /proc/loadavg; wall times on a shared machine scale with it)}. Never throws.
nlohmann::json MachineInfo();
// "AMD EPYC, nproc 2, commit 4d698c4, Release, native off, dense kernels avx512,
// 2026-11-27T22:00:00Z, load 2.1"
std::string MachineLine(const nlohmann::json& machine);

// Seconds of wall time since construction (steady clock).
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// CPU seconds this process has used so far, all its threads together (CLOCK_PROCESS_CPUTIME_ID).
// Beside wall time because on a shared machine a short run's wall time depends on the scheduler.
double ProcessCpuSeconds();

// CPU seconds the calling thread has used so far (CLOCK_THREAD_CPUTIME_ID): the cost of one
// computation while other threads run others.
double ThreadCpuSeconds();

// CPU seconds of this process since construction.
class CpuStopwatch {
 public:
  CpuStopwatch() : start_(ProcessCpuSeconds()) {}
  double Seconds() const { return ProcessCpuSeconds() - start_; }

 private:
  double start_;
};

// Discards everything written to std::cout while alive (the repeated runs of a bench print
// their usual tables; the bench prints only its own). Restores the buffer on destruction.
class SilenceStdout {
 public:
  SilenceStdout();
  ~SilenceStdout();
  SilenceStdout(const SilenceStdout&) = delete;
  SilenceStdout& operator=(const SilenceStdout&) = delete;

 private:
  class NullBuffer : public std::streambuf {
   protected:
    int overflow(int c) override { return c; }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
  };
  NullBuffer null_;
  std::streambuf* saved_;
};

// One line of the summary: the median (min, max) of a metric over the repetitions and, when
// the workload states one, its target. upper_bound: met when median <= target (times, errors);
// otherwise met when median >= target (accuracies).
struct BenchRow {
  std::string workload;       // "W2"
  std::string configuration;  // "bptt/dopri5 outputs=stop"
  std::string metric;         // "time per iteration"
  std::string unit;           // "s", "", "%"
  Spread spread;
  bool has_target = false;
  double target = 0.0;
  bool upper_bound = true;
  std::string target_text;  // e.g. "<= 0.66 ms"; a non-numeric target sets met_override
  int met_override = -1;    // -1: decided by target; 0/1: given (e.g. "every λ finishes")
  std::string note;
  bool has_cpu = false;  // for time rows: the CPU time of the same runs (SetCpu)
  Spread cpu;

  // true/false when there is a target, -1 when there is none.
  int Met() const;
};
nlohmann::json RowJson(const BenchRow& row);
// A row without a target.
BenchRow MakeRow(const std::string& workload, const std::string& configuration,
                 const std::string& metric, const std::string& unit, const Spread& spread);
// Gives the row a numeric target (upper_bound: met when median <= target).
void SetTarget(BenchRow& row, double target, const std::string& text, bool upper_bound = true);
// Adds the CPU time (seconds, same repetitions) to a time row.
void SetCpu(BenchRow& row, const Spread& cpu);
// Marks the row not met, its note "failed: <what>".
void MarkFailed(BenchRow& row, const std::string& what);

// The time spreads of a bench's cells (each with `seconds`, one entry per repetition) for its
// table, and their entries of bench.json's "runs": detail(cell) plus "seconds_per_gradient".
struct CellTimes {
  std::vector<TimeSpread> spreads;  // spreads[i] belongs to cells[i]
  nlohmann::json details = nlohmann::json::array();
};
template <class Cell, class Detail>
CellTimes SummarizeCellTimes(const std::vector<Cell>& cells, Detail detail) {
  CellTimes times;
  for (const Cell& cell : cells) {
    const Spread t = Summarize(cell.seconds);
    times.spreads.push_back({t.median, t.min, t.max});
    times.details.push_back(detail(cell));
    times.details.back()["seconds_per_gradient"] = SpreadJson(t);
  }
  return times;
}
// The value in its unit: seconds as "1.23 ms", others in %.4g (+ unit).
std::string FormatValue(double value, const std::string& unit);

// Prints the rows as a table (workload, configuration, metric, median, min, max, target, met)
// after a header line naming the machine, and writes <out_dir>/bench.json (atomically).
void WriteBenchReport(const std::string& out_dir, const std::string& app,
                      const std::string& workloads, int repetitions,
                      const std::vector<BenchRow>& rows, const nlohmann::json& details);

// Checks --bench N: N >= 1 (ConfigError otherwise); prints a note on stderr when N < 3 (the
// workloads ask for medians of >= 3 repetitions).
int CheckRepetitions(long repetitions);

}  // namespace snode::bench
