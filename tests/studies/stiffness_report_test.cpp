// studies/stiffness_report: table cells, the problem table, the CSV/JSON rows and the files.
#include "studies/stiffness_report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace snode {
namespace {

GradientRecord Record(const std::string& problem, double lambda, const std::string& status) {
  GradientRecord r;
  r.problem = problem;
  r.lambda = lambda;
  r.run.spec = MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6);
  r.run.loss = 0.5;
  r.run.gradient = Vector::Ones(2);
  r.run.stats.reconstruction_error = 0.25;
  r.exact = Vector::Ones(2);
  r.error.rel = 1e-7;
  r.error.abs = 2e-7;
  r.status = status;
  return r;
}

TEST(StiffnessReport, Cells) {
  GradientRecord r = Record("W1", 1.0, "ok");
  EXPECT_EQ(ReconCell(r), "2.5e-01");
  EXPECT_EQ(StatusCell(r), "ok");
  EXPECT_EQ(EstimateCell(r), "-");  // no estimate (NaN)
  r.run.stats.error_estimate = 3e-5;
  EXPECT_EQ(EstimateCell(r), "3.0e-05");
  r.exact = Vector::Zero(2);
  r.error = CompareGradient(r.run.gradient, r.exact);
  r.error.rel = 0.0;
  r.run.stats.reconstruction_failed = true;
  EXPECT_EQ(StatusCell(r), "ok (reconstruction flagged)");
  // Any method's own flag shows its diagnosis; no cell looks at the method's name.
  GradientRecord flagged = Record("nonnormal", 1e5, "flagged");
  flagged.run.spec = MakeMethod("bptt", "dopri5", 1e-10, 1e-12);
  flagged.run.stats.reconstruction_error = 0.0;
  flagged.run.stats.Flag("round-off amplified");
  EXPECT_EQ(StatusCell(flagged), "flagged (round-off amplified)");
  EXPECT_EQ(ReconCell(flagged), "-");
  r.run.threw = true;
  r.run.message = "solver\nfailed";
  r.status = "failed";
  EXPECT_EQ(StatusCell(r), "failed: solver failed");
  EXPECT_EQ(ReconCell(r), "-");
}

TEST(StiffnessReport, ProblemTableSeparatesLambdas) {
  std::ostringstream out;
  PrintProblemTable("title", {Record("W1", 1.0, "ok"), Record("W1", 10.0, "inaccurate")}, Judging{},
                    out);
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("\n== title ==\nλ", 0), 0u);
  EXPECT_NE(text.find("inaccurate"), std::string::npos);
  std::ostringstream none;
  PrintProblemTable("title", {}, Judging{}, none);
  EXPECT_TRUE(none.str().empty());
}

TEST(StiffnessReport, CsvAndJsonRows) {
  const GradientRecord r = Record("W1b", 100.0, "ok");
  const std::vector<std::string> row = StiffnessCsvRow(r);
  ASSERT_EQ(row.size(), StiffnessCsvHeader().size());
  EXPECT_EQ(row[0], "2");  // schema_version
  EXPECT_EQ(row[1], "W1b");
  EXPECT_EQ(row[2], "λ");
  EXPECT_EQ(row[3], "100");
  EXPECT_EQ(row[8], "1;1");
  EXPECT_EQ(row[14], "0.25");  // recon_err of a backsolve run
  const nlohmann::json json = RecordJson(r);
  EXPECT_EQ(json.at("problem"), "W1b");
  EXPECT_EQ(json.at("gradient").size(), 2u);
  EXPECT_EQ(json.at("reconstruction_error"), 0.25);
  EXPECT_EQ(json.at("status"), "ok");
  EXPECT_EQ(json.at("flagged"), false);
  GradientRecord flagged = r;
  flagged.run.stats.Flag("why");
  flagged.run.stats.amplification = 1e6;
  const std::vector<std::string> flagged_row = StiffnessCsvRow(flagged);
  const auto& header = StiffnessCsvHeader();
  const auto column = [&](const std::string& name) {
    return flagged_row[static_cast<std::size_t>(std::find(header.begin(), header.end(), name) -
                                                header.begin())];
  };
  EXPECT_EQ(column("flagged"), "1");
  EXPECT_EQ(column("diagnosis"), "why");
  EXPECT_EQ(column("amplification"), "1000000");
  EXPECT_EQ(RecordJson(flagged).at("diagnosis"), "why");
}

TEST(StiffnessReport, WritesFilesWithoutPlots) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / "snode_stiffness_report_test").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  StiffnessOptions options;
  options.out_dir = dir;
  options.plots = false;
  options.lambdas = {1.0};
  StiffnessResults results;
  results.records = {Record("W1", 1.0, "ok")};
  NeuralRecord neural;
  neural.spec = MakeMethod("bptt", "dopri5", 1e-6, 1e-8);
  neural.losses = {1.0, 0.5};
  results.neural = {neural};
  std::ostringstream out;
  WriteStiffnessOutputs(options, results, std::chrono::steady_clock::now(), out);
  EXPECT_NE(out.str().find("stiffness_results.json, neural_training.csv"), std::string::npos);
  std::ifstream csv(dir + "/stiffness_results.csv");
  std::string line;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 2);  // header + one record
  std::ifstream neural_csv(dir + "/neural_training.csv");
  lines = 0;
  while (std::getline(neural_csv, line)) ++lines;
  EXPECT_EQ(lines, 3);  // header + two iterations
  const nlohmann::json json = nlohmann::json::parse(std::ifstream(dir + "/stiffness_results.json"));
  EXPECT_EQ(json.at("runs").size(), 1u);
  EXPECT_EQ(json.at("abs_tol"), kGradientAbsTol);
  EXPECT_EQ(json.at("schema"), "snode-stiffness-results");
  EXPECT_EQ(json.at("schema_version"), 2);
  std::filesystem::remove_all(dir);
}

TEST(StiffnessReport, BenchRowsHoldTheTargetRungAgainstTenMilliseconds) {
  RobertsonBench bench;
  bench.problems.resize(2);
  bench.problems[0].name = "W5 T=40 final";
  bench.problems[0].lambda = 40;  // no target below T = 1e5
  bench.problems[1].name = "W5 T=1e5 final";
  bench.problems[1].lambda = 1e5;
  auto cell = [](std::size_t problem, double seconds, double dk_rel) {
    RobertsonBenchCell c;
    c.problem = problem;
    c.spec = MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-10);
    c.ladder = true;
    c.seconds = {seconds, 2 * seconds};
    c.dk_rel = dk_rel;
    c.last.status = "ok";
    return c;
  };
  bench.cells = {cell(0, 1e-3, 1e-9), cell(1, 4e-3, 1e-7), cell(1, 2e-2, 1e-3)};
  const std::vector<bench::BenchRow> rows = RobertsonBenchRows(bench);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].workload, "W5");
  EXPECT_EQ(rows[0].configuration, "T=40 final: " + bench.cells[0].spec.Label());
  EXPECT_EQ(rows[0].metric, "time per gradient");
  EXPECT_EQ(rows[0].spread.median, 1.5e-3);
  EXPECT_EQ(rows[0].note, "dL/dk rel err 1.0e-09, ok");
  EXPECT_EQ(rows[0].Met(), -1);
  EXPECT_EQ(rows[2].Met(), -1);
  EXPECT_EQ(rows[1].target, 0.01);  // the fastest rung with dL/dk to 1e-6
  EXPECT_EQ(rows[1].target_text, "<= 10 ms, dL/dk to 1e-6");
  EXPECT_EQ(rows[1].Met(), 1);
}

}  // namespace
}  // namespace snode
