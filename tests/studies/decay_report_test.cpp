// studies/decay_report: error cells, the table and the CSV/JSON rows.
#include "studies/decay_report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

namespace snode {
namespace {

DecayRow SampleRow() {
  DecayRow row;
  row.lambda = 100.0;
  row.run.spec = MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-8);
  row.run.loss = std::exp(-100.0);
  row.run.gradient = (Vector(2) << -std::exp(-100.0), std::exp(-100.0)).finished();
  row.forward = std::exp(-100.0);
  row.verdict = "ok";
  row.has_reconstruction = true;
  row.y0_rec = 1.0;
  return row;
}

TEST(DecayReport, ErrorCells) {
  EXPECT_EQ(DecayErrorCell(1.1, 1.0), "1.0e-01");
  EXPECT_EQ(DecayErrorCell(3e-10, 0.0), "abs 3.0e-10");
  EXPECT_EQ(DecayErrorCell(NAN, 1.0), "-");
}

TEST(DecayReport, TableShowsReconstructionAndVerdict) {
  DecayRow failed = SampleRow();
  failed.lambda = 1e4;
  failed.run.threw = true;
  failed.run.gradient.resize(0);
  failed.run.message = "state became NaN/Inf";
  failed.verdict = "failed";
  failed.has_reconstruction = false;
  std::ostringstream out;
  PrintDecayTable({SampleRow(), failed}, out);
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("Seed experiment: dy/dt = -λy", 0), 0u);
  EXPECT_NE(text.find("1.00e+00"), std::string::npos);  // y0 rec
  EXPECT_NE(text.find("failed: state became NaN/Inf"), std::string::npos);
}

TEST(DecayReport, CsvAndJsonRows) {
  const DecayRow row = SampleRow();
  const std::vector<std::string> csv = DecayCsvRow(row);
  ASSERT_EQ(csv.size(), DecayCsvHeader().size());
  EXPECT_EQ(csv[0], "100");
  EXPECT_EQ(csv[10], "1");  // y0_reconstructed
  EXPECT_EQ(csv[15], "ok");
  const nlohmann::json json = DecayRowJson(row);
  EXPECT_EQ(json.at("verdict"), "ok");
  EXPECT_EQ(json.at("y0_reconstructed"), 1.0);
  EXPECT_EQ(json.at("exact_y1"), std::exp(-100.0));
}

TEST(DecayReport, BenchRowsTimeTheSweepOfEveryMethod) {
  DecayBench bench;
  bench.problems = {DecayStudyProblem(1.0), DecayStudyProblem(10.0), TwoRateStudyProblem(1.0),
                    TwoRateStudyProblem(10.0)};
  const MethodSpec spec = MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-3);
  bench.methods = {spec};
  for (std::size_t p = 0; p < 4; ++p) bench.cells.push_back({p, spec, {}, {}});
  for (DecayBenchCell& cell : bench.cells) cell.last.status = "ok";
  bench.cells[3].last.status = "failed";
  bench.sweep_seconds["W1|" + spec.Label()] = {0.3, 0.1, 0.2};
  bench.sweep_seconds["W1b|" + spec.Label()] = {0.4};
  const std::vector<bench::BenchRow> rows = DecayBenchRows(bench, 2);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].workload, "W1");
  EXPECT_EQ(rows[0].configuration, spec.Label());
  EXPECT_EQ(rows[0].metric, "time of the λ sweep (2 gradients)");
  EXPECT_EQ(rows[0].spread.median, 0.2);
  EXPECT_EQ(rows[0].target_text, "every λ finishes");
  EXPECT_EQ(rows[0].note, "λ=1 ok, λ=10 ok");
  EXPECT_EQ(rows[0].Met(), 1);
  EXPECT_EQ(rows[1].workload, "W1b");
  EXPECT_EQ(rows[1].Met(), 0);
}

}  // namespace
}  // namespace snode
