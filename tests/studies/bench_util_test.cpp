// studies/bench_util: repetition statistics, the summary rows and their targets, the cells' time
// spreads and details, and the report file.
#include "studies/bench_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

namespace snode::bench {
namespace {

TEST(BenchUtil, SummarizeIgnoresNonFiniteValues) {
  const Spread s = Summarize({3.0, std::numeric_limits<double>::quiet_NaN(), 1.0, 2.0});
  EXPECT_EQ(s.median, 2.0);
  EXPECT_EQ(s.min, 1.0);
  EXPECT_EQ(s.max, 3.0);
  EXPECT_EQ(s.count, 3);
  EXPECT_TRUE(std::isnan(Median({})));
  EXPECT_TRUE(SpreadJson(Summarize({}))["median"].is_null());
}

TEST(BenchUtil, RowsAndTargets) {
  BenchRow row = MakeRow("W4", "rk4", "time per epoch", "s", Summarize({0.1, 0.2, 0.3}));
  EXPECT_EQ(row.workload, "W4");
  EXPECT_EQ(row.configuration, "rk4");
  EXPECT_EQ(row.metric, "time per epoch");
  EXPECT_EQ(row.unit, "s");
  EXPECT_EQ(row.spread.median, 0.2);
  EXPECT_EQ(row.Met(), -1);  // no target
  SetTarget(row, 0.18, "<= 0.18 s");
  EXPECT_EQ(row.target_text, "<= 0.18 s");
  EXPECT_EQ(row.Met(), 0);
  SetTarget(row, 0.18, ">= 0.18", false);
  EXPECT_EQ(row.Met(), 1);
  MarkFailed(row, "boom");
  EXPECT_EQ(row.Met(), 0);
  EXPECT_EQ(row.note, "failed: boom");
  EXPECT_EQ(RowJson(row)["met"], false);
  EXPECT_EQ(RowJson(row)["target"], 0.18);
}

struct Cell {
  std::string name;
  std::vector<double> seconds;
};

TEST(BenchUtil, CellTimesPairSpreadsWithDetails) {
  const std::vector<Cell> cells = {{"a", {3.0, 1.0, 2.0}}, {"b", {5.0}}};
  const CellTimes times = SummarizeCellTimes(cells, [](const Cell& cell) {
    return nlohmann::json{{"name", cell.name}};
  });
  ASSERT_EQ(times.spreads.size(), 2u);
  EXPECT_EQ(times.spreads[0].median, 2.0);
  EXPECT_EQ(times.spreads[0].min, 1.0);
  EXPECT_EQ(times.spreads[1].max, 5.0);
  ASSERT_EQ(times.details.size(), 2u);
  EXPECT_EQ(times.details[1]["name"], "b");
  EXPECT_EQ(times.details[0]["seconds_per_gradient"]["count"], 3);
}

TEST(BenchUtil, ReportWritesBenchJson) {
  const auto dir = std::filesystem::temp_directory_path() / "snode_bench_util_report";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  BenchRow row = MakeRow("W1", "bptt/rk4", "time", "s", Summarize({1.0}));
  WriteBenchReport(dir.string(), "app", "W1", 1, {row}, {{"runs", nlohmann::json::array()}});
  std::ifstream file(dir / "bench.json");
  const nlohmann::json report = nlohmann::json::parse(file);
  EXPECT_EQ(report["app"], "app");
  EXPECT_EQ(report["summary"][0]["configuration"], "bptt/rk4");
  EXPECT_TRUE(report["details"]["runs"].is_array());
  EXPECT_TRUE(report["machine"].contains("nproc"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace snode::bench
