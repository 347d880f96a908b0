#include "studies/bench_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <limits>

#include "core/dense_kernels.hpp"
#include "core/errors.hpp"
#include "io/files.hpp"
#include "studies/report.hpp"

#ifndef SNODE_SOURCE_DIR
#define SNODE_SOURCE_DIR "."
#endif
#ifndef SNODE_BUILD_TYPE
#define SNODE_BUILD_TYPE "unknown"
#endif
#ifndef SNODE_NATIVE_BUILD
#define SNODE_NATIVE_BUILD 0
#endif

namespace snode::bench {
namespace {

// Runs a shell command and returns its stdout ("" when it cannot run). Only for the fixed
// commands below; stderr is discarded by the commands themselves.
std::string CommandOutput(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  pclose(pipe);
  return output;
}

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// MachineInfo never throws: a bad SNODE_DENSE_ISA shows in the report instead.
std::string DenseKernelVariantOrError() {
  try {
    return DenseKernelVariant();
  } catch (const Error& e) {
    return std::string("unavailable: ") + e.what();
  }
}

std::string CpuModel() {
  const std::string lscpu = CommandOutput("LC_ALL=C lscpu 2>/dev/null");
  const std::string key = "Model name:";
  const auto pos = lscpu.find(key);
  if (pos == std::string::npos) return "unknown";
  const auto end = lscpu.find('\n', pos);
  return Trim(lscpu.substr(pos + key.size(), end - pos - key.size()));
}

std::string Commit() {
  const std::string dir = SNODE_SOURCE_DIR;
  const std::string hash =
      Trim(CommandOutput("git -C '" + dir + "' rev-parse --short HEAD 2>/dev/null"));
  if (hash.empty()) return "unknown";
  const std::string dirty = Trim(CommandOutput(
      "git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null | head -1"));
  return dirty.empty() ? hash : hash + "+dirty";
}

// The 1-minute load average (/proc/loadavg), NaN when unavailable: on a shared machine wall times
// scale with it.
double LoadAverage() {
  double load = std::numeric_limits<double>::quiet_NaN();
  if (FILE* file = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(file, "%lf", &load) != 1) load = std::numeric_limits<double>::quiet_NaN();
    std::fclose(file);
  }
  return load;
}

}  // namespace

double Median(const std::vector<double>& values) { return Summarize(values).median; }

Spread Summarize(const std::vector<double>& values) {
  std::vector<double> finite;
  for (const double v : values) {
    if (std::isfinite(v)) finite.push_back(v);
  }
  Spread s;
  s.count = static_cast<int>(finite.size());
  if (finite.empty()) {
    s.median = s.min = s.max = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  std::sort(finite.begin(), finite.end());
  const std::size_t n = finite.size();
  s.median = n % 2 ? finite[n / 2] : 0.5 * (finite[n / 2 - 1] + finite[n / 2]);
  s.min = finite.front();
  s.max = finite.back();
  return s;
}

nlohmann::json SpreadJson(const Spread& spread) {
  return {{"median", JsonNumber(spread.median)},
          {"min", JsonNumber(spread.min)},
          {"max", JsonNumber(spread.max)},
          {"count", spread.count}};
}

namespace {
double ClockSeconds(clockid_t clock) {
  timespec now{};
  if (clock_gettime(clock, &now) != 0) return std::nan("");
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}
}  // namespace

double ProcessCpuSeconds() { return ClockSeconds(CLOCK_PROCESS_CPUTIME_ID); }
double ThreadCpuSeconds() { return ClockSeconds(CLOCK_THREAD_CPUTIME_ID); }

nlohmann::json MachineInfo() {
  char date[32] = "unknown";
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  if (gmtime_r(&now, &utc) != nullptr) std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  const long nproc = sysconf(_SC_NPROCESSORS_ONLN);
  return {{"cpu_model", CpuModel()},
          {"nproc", nproc},
          {"commit", Commit()},
          {"build_type", SNODE_BUILD_TYPE},
          {"native", SNODE_NATIVE_BUILD != 0},
          {"dense_kernels", DenseKernelVariantOrError()},
          {"date", date},
          {"load_average", JsonNumber(LoadAverage())}};
}

std::string MachineLine(const nlohmann::json& m) {
  return m.value("cpu_model", "unknown") + ", nproc " + std::to_string(m.value("nproc", 0L)) +
         ", commit " + m.value("commit", "unknown") + ", " + m.value("build_type", "unknown") +
         ", native " + (m.value("native", false) ? "on" : "off") + ", dense kernels " +
         m.value("dense_kernels", "unknown") + ", " + m.value("date", "unknown") +
         (m.contains("load_average") && m["load_average"].is_number()
              ? ", load " + FormatNumber(m["load_average"].get<double>(), 3)
              : std::string());
}

SilenceStdout::SilenceStdout() : saved_(std::cout.rdbuf(&null_)) {}
SilenceStdout::~SilenceStdout() { std::cout.rdbuf(saved_); }

int BenchRow::Met() const {
  if (met_override >= 0) return met_override;
  if (!has_target) return -1;
  if (!std::isfinite(spread.median)) return 0;
  return upper_bound ? (spread.median <= target) : (spread.median >= target);
}

nlohmann::json RowJson(const BenchRow& row) {
  const int met = row.Met();
  return {{"workload", row.workload},
          {"configuration", row.configuration},
          {"metric", row.metric},
          {"unit", row.unit},
          {"median", JsonNumber(row.spread.median)},
          {"min", JsonNumber(row.spread.min)},
          {"max", JsonNumber(row.spread.max)},
          {"count", row.spread.count},
          {"target", row.has_target ? JsonNumber(row.target) : nlohmann::json()},
          {"target_text", row.target_text},
          {"met", met < 0 ? nlohmann::json() : nlohmann::json(met == 1)},
          {"note", row.note},
          {"cpu_median", row.has_cpu ? JsonNumber(row.cpu.median) : nlohmann::json()},
          {"cpu_min", row.has_cpu ? JsonNumber(row.cpu.min) : nlohmann::json()},
          {"cpu_max", row.has_cpu ? JsonNumber(row.cpu.max) : nlohmann::json()}};
}

void SetCpu(BenchRow& row, const Spread& cpu) {
  row.has_cpu = true;
  row.cpu = cpu;
}

BenchRow MakeRow(const std::string& workload, const std::string& configuration,
                 const std::string& metric, const std::string& unit, const Spread& spread) {
  BenchRow row;
  row.workload = workload;
  row.configuration = configuration;
  row.metric = metric;
  row.unit = unit;
  row.spread = spread;
  return row;
}

void SetTarget(BenchRow& row, double target, const std::string& text, bool upper_bound) {
  row.has_target = true;
  row.target = target;
  row.target_text = text;
  row.upper_bound = upper_bound;
}

void MarkFailed(BenchRow& row, const std::string& what) {
  row.met_override = 0;
  row.note = "failed: " + what;
}

std::string FormatValue(double value, const std::string& unit) {
  if (!std::isfinite(value)) return "-";
  if (unit == "s") return FormatSeconds(value);
  const std::string number = FormatNumber(value, 4);
  if (unit.empty()) return number;
  return number + (unit == "%" ? "%" : " " + unit);
}

void WriteBenchReport(const std::string& out_dir, const std::string& app,
                      const std::string& workloads, int repetitions,
                      const std::vector<BenchRow>& rows, const nlohmann::json& details) {
  const nlohmann::json machine = MachineInfo();
  std::cout << "\n"
            << app << " --bench " << repetitions << " (" << workloads << "): medians of "
            << repetitions << " repetition" << (repetitions == 1 ? "" : "s") << " [min, max]\n"
            << "machine: " << MachineLine(machine) << "\n";
  Table table({"workload", "configuration", "metric", "median", "min", "max", "cpu", "target",
               "met", "note"});
  nlohmann::json summary = nlohmann::json::array();
  for (const BenchRow& row : rows) {
    const int met = row.Met();
    table.AddRow({row.workload, row.configuration, row.metric,
                  FormatValue(row.spread.median, row.unit), FormatValue(row.spread.min, row.unit),
                  FormatValue(row.spread.max, row.unit),
                  row.has_cpu ? FormatValue(row.cpu.median, "s") : "-",
                  row.target_text.empty() ? "-" : row.target_text,
                  met < 0 ? "-" : (met ? "yes" : "NO"), row.note});
    summary.push_back(RowJson(row));
  }
  table.Print(std::cout);
  EnsureDirectory(out_dir);
  WriteJson(out_dir + "/bench.json", {{"app", app},
                                      {"workloads", workloads},
                                      {"repetitions", repetitions},
                                      {"machine", machine},
                                      {"summary", summary},
                                      {"details", details}});
  std::cout << "wrote " << out_dir << "/bench.json\n";
}

int CheckRepetitions(long repetitions) {
  if (repetitions < 1 || repetitions > 1000) {
    throw ConfigError("--bench N: N must be in 1..1000, got " + std::to_string(repetitions));
  }
  if (repetitions < 3) {
    std::cerr << "note: --bench " << repetitions
              << ": the workloads ask for medians of at least 3 repetitions\n";
  }
  return static_cast<int>(repetitions);
}

}  // namespace snode::bench
