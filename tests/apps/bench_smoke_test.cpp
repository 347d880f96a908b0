// Smoke test of the benchmark command: `scripts/bench.sh --quick --only W1` with this build's
// binaries must finish, write results/bench-style JSON (the app's bench.json and summary.json)
// that parses, name the machine and build, and report every W1/W1b (method, integrator) pair.
// It checks that the command works and what it records, not how fast anything is.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/apps/app_run_util.hpp"

namespace {

namespace fs = std::filesystem;

nlohmann::json ReadJson(const fs::path& path) {
  return nlohmann::json::parse(test_util::ReadFile(path));  // throws on malformed JSON
}

TEST(BenchCommand, QuickW1WritesParsableReportsWithMachineAndEveryPair) {
  const fs::path out =
      fs::temp_directory_path() / ("snode_bench_smoke_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const test_util::AppResult run = test_util::RunApp(
      "bash", std::string("'") + SNODE_BENCH_SCRIPT + "' --quick --only W1 " +
                  "--no-build --build-dir '" + SNODE_BUILD_DIR + "' --out '" + out.string() + "'");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("met?"), std::string::npos) << run.out;  // the summary table

  ASSERT_TRUE(fs::exists(out / "w1" / "bench.json"));
  ASSERT_TRUE(fs::exists(out / "summary.json"));
  const nlohmann::json report = ReadJson(out / "w1" / "bench.json");
  const nlohmann::json summary = ReadJson(out / "summary.json");

  // Machine and build, as every bench JSON must carry them.
  for (const nlohmann::json* j : {&report["machine"], &summary["machine"]}) {
    for (const char* key : {"cpu_model", "nproc", "commit", "build_type", "native", "date"}) {
      EXPECT_TRUE(j->contains(key)) << key;
    }
    EXPECT_GE((*j)["nproc"].get<long>(), 1);
    EXPECT_FALSE((*j)["commit"].get<std::string>().empty());
  }
  EXPECT_EQ(report["app"], "exponential_decay");
  EXPECT_GE(report["repetitions"].get<int>(), 3);

  // Every W1 and W1b pair appears in the summary with a median time and a verdict.
  std::set<std::string> w1, w1b;
  for (const nlohmann::json& row : summary["rows"]) {
    ASSERT_TRUE(row["median"].is_number()) << row.dump();
    EXPECT_GT(row["median"].get<double>(), 0.0);
    EXPECT_LE(row["min"].get<double>(), row["median"].get<double>());
    EXPECT_GE(row["max"].get<double>(), row["median"].get<double>());
    ASSERT_TRUE(row["met"].is_boolean()) << row.dump();
    (row["workload"] == "W1" ? w1 : w1b).insert(row["configuration"].get<std::string>());
  }
  EXPECT_GE(w1.size(), 6u);
  EXPECT_EQ(w1, w1b);
  // Per (pair, λ) details: λ = 1, 10, 100, 1e3, 1e4 on both problems.
  const nlohmann::json& runs = report["details"]["runs"];
  EXPECT_EQ(runs.size(), 2 * 5 * w1.size());
  for (const nlohmann::json& r : runs) {
    const std::string status = r["status"];
    EXPECT_TRUE(status == "ok" || status == "inaccurate" || status == "non-finite" ||
                status == "failed" || status == "flagged")
        << status;
    EXPECT_EQ(r["seconds_per_gradient"]["count"].get<int>(), report["repetitions"].get<int>());
  }
  // λ = 1 is easy for the adaptive pairs (fixed-step backward Euler at h = 1e-3 is only
  // first-order accurate, so it is left out): all of them must be ok there.
  for (const nlohmann::json& r : runs) {
    if (r["lambda"].get<double>() == 1.0 && r["integrator"] != "backward_euler") {
      EXPECT_EQ(r["status"], "ok") << r.dump();
    }
  }
  fs::remove_all(out);
}

}  // namespace
