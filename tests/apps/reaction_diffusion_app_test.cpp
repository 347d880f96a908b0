// Runs the built reaction_diffusion binary on small grids: one gradient against its tight
// reference, the scaling benchmark's files and rows, and bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "app_run_util.hpp"

#ifndef SNODE_REACTION_DIFFUSION_BINARY
#error "SNODE_REACTION_DIFFUSION_BINARY must name the reaction_diffusion executable"
#endif

namespace {

namespace fs = std::filesystem;
using test_util::AppResult;

AppResult RunBinary(const std::string& args) {
  return test_util::RunApp(SNODE_REACTION_DIFFUSION_BINARY, args);
}

fs::path TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

TEST(ReactionDiffusionApp, OneGradientMatchesItsTightReference) {
  const fs::path dir = TempDir("snode_rd_run");
  const AppResult result = RunBinary("--points 24 --reference --out '" + dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("48 states, 354 parameters"), std::string::npos) << result.out;
  const std::size_t at = result.out.find("‖Δ‖₂/‖g_ref‖₂ = ");
  ASSERT_NE(at, std::string::npos) << result.out;
  const double error = std::stod(result.out.substr(at + std::string("‖Δ‖₂/‖g_ref‖₂ = ").size()));
  EXPECT_LT(error, 1e-4) << result.out;  // the workload's tolerance at rtol 1e-6
  EXPECT_EQ(test_util::ReadCsv(dir / "gradient.csv").size(), 354u);
}

TEST(ReactionDiffusionApp, BenchWritesItsReportAndMeetsTheErrorTarget) {
  const fs::path dir = TempDir("snode_rd_bench");
  const AppResult result =
      RunBinary("--bench 1 --sizes 16,24 --no-plots --quiet --out '" + dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("time(10N)/time(N)"), std::string::npos) << result.out;
  std::ifstream in(dir / "bench.json");
  const nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_EQ(report["app"], "reaction_diffusion");
  int error_rows = 0;
  for (const auto& row : report["summary"]) {
    if (row["metric"] != "dL/dθ error vs reference") continue;
    ++error_rows;
    EXPECT_EQ(row["met"], true) << row.dump();
  }
  EXPECT_EQ(error_rows, 2);
  const auto rows = test_util::ReadCsv(dir / "w6_scaling.csv");
  ASSERT_FALSE(rows.empty());
  for (const auto& row : rows) {
    // Every method runs at these sizes and none fails.
    EXPECT_EQ(row.at("status"), "ok") << row.at("method") << " at N = " << row.at("points");
  }
}

// Sizes a decade apart get the main method's back-to-back pairs (one per repetition, each ratio
// the pair's own seconds), other sizes none.
TEST(ReactionDiffusionApp, BenchPairsSizesADecadeApart) {
  const fs::path dir = TempDir("snode_rd_pairs");
  const AppResult result =
      RunBinary("--bench 2 --sizes 8,80,200 --no-plots --quiet --out '" + dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("8 → 80"), std::string::npos) << result.out;
  std::ifstream in(dir / "bench.json");
  const nlohmann::json details = nlohmann::json::parse(in)["details"];
  ASSERT_EQ(details.size(), 3u);
  EXPECT_FALSE(details[0].contains("paired"));
  EXPECT_FALSE(details[2].contains("paired"));  // 200 is not 10 × 80
  ASSERT_TRUE(details[1].contains("paired")) << details[1].dump();
  const nlohmann::json& paired = details[1]["paired"];
  ASSERT_EQ(paired["ratios"].size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) {
    const double small = paired["smaller_seconds"][k], large = paired["seconds"][k];
    EXPECT_GT(small, 0.0);
    EXPECT_DOUBLE_EQ(paired["ratios"][k].get<double>(), large / small);
  }
}

TEST(ReactionDiffusionApp, BadInputIsOneLineAndNothingRuns) {
  const AppResult result = RunBinary("--points 1");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "error: --points must be between 3 and 10000000 (grid points), got 1\n");
  // A method option that does not fit the backward integrator is refused before the data.
  const AppResult unused = RunBinary("--points 100000 --gradient-option quadrature=cvodes");
  EXPECT_EQ(unused.exit_code, 1);
  EXPECT_NE(unused.err.find("quadrature 'cvodes' needs a CVODES backward_integrator"),
            std::string::npos)
      << unused.err;
  EXPECT_EQ(unused.out.find("Brusselator data"), std::string::npos) << unused.out;
}

}  // namespace
