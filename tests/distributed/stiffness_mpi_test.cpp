// stiffness_study over ranks (label "mpi"): under mpirun with 2 and 4 ranks, rank 0 writes the
// serial study's results (every CSV column and JSON field but the times, and the verdict table);
// a rank that fails ends the job; --bench is refused. The test program starts mpirun itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/apps/app_run_util.hpp"

#if !defined(STIFFNESS_STUDY_PATH) || !defined(MPIEXEC_PATH)
#error "STIFFNESS_STUDY_PATH and MPIEXEC_PATH must name stiffness_study and mpirun"
#endif

namespace snode {
namespace {

namespace fs = std::filesystem;

fs::path OutDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() /
                       ("snode_stiffness_mpi_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// The quick preset's three problems (robertson with a computed reference) at two λ each.
std::string Study(const fs::path& out) {
  return "--preset quick --lambdas 100,1e4 --threads 2 --quiet --out '" + out.string() + "'";
}

std::string Mpirun(int ranks, const std::string& args) {
  return "--oversubscribe -np " + std::to_string(ranks) + " '" + STIFFNESS_STUDY_PATH + "' " + args;
}

// Wall and CPU times differ from run to run; nothing else may.
bool IsTime(const std::string& key) {
  return key.find("seconds") != std::string::npos || key.find("time") != std::string::npos;
}

std::vector<std::map<std::string, std::string>> CsvWithoutTimes(const fs::path& path) {
  auto rows = test_util::ReadCsv(path);
  for (auto& row : rows) {
    for (auto it = row.begin(); it != row.end();) it = IsTime(it->first) ? row.erase(it) : ++it;
  }
  return rows;
}

nlohmann::json WithoutTimes(nlohmann::json j) {
  if (j.is_object()) {
    nlohmann::json kept = nlohmann::json::object();
    for (auto& [key, value] : j.items()) {
      if (!IsTime(key)) kept[key] = WithoutTimes(value);
    }
    return kept;
  }
  if (j.is_array()) {
    for (auto& item : j) item = WithoutTimes(item);
  }
  return j;
}

nlohmann::json Runs(const fs::path& dir) {
  const auto json = nlohmann::json::parse(test_util::ReadFile(dir / "stiffness_results.json"));
  return WithoutTimes(json.at("runs"));
}

// The verdict table: stdout from its first line to the line before "report: ".
std::string Verdict(const std::string& out) {
  const std::size_t start = out.find("\nVerdict per problem");
  const std::size_t end = out.find("\nreport: ");
  if (start == std::string::npos || end == std::string::npos || end < start) return "";
  return out.substr(start, end - start);
}

void ExpectSameResultsAsSerial(int ranks) {
  const fs::path serial = OutDir("serial"), parallel = OutDir("parallel");
  const test_util::AppResult one = test_util::RunApp(STIFFNESS_STUDY_PATH, Study(serial));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const test_util::AppResult many = test_util::RunApp(MPIEXEC_PATH, Mpirun(ranks, Study(parallel)));
  ASSERT_EQ(many.exit_code, 0) << many.out << many.err;
  const auto expected = CsvWithoutTimes(serial / "stiffness_results.csv");
  ASSERT_GT(expected.size(), 20u);
  const auto got = CsvWithoutTimes(parallel / "stiffness_results.csv");
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) EXPECT_EQ(got[k], expected[k]) << "row " << k;
  EXPECT_EQ(Runs(parallel), Runs(serial));
  const std::string verdict = Verdict(one.out);
  EXPECT_FALSE(verdict.empty()) << one.out;
  EXPECT_EQ(Verdict(many.out), verdict);
  // Rank 0 alone reports: one header, one verdict.
  const std::string header = "snode stiffness study, preset quick";
  EXPECT_EQ(many.out.find(header), many.out.rfind(header)) << many.out;
  EXPECT_NE(many.out.find("the runs spread over " + std::to_string(ranks) + " ranks"),
            std::string::npos)
      << many.out;
  fs::remove_all(serial);
  fs::remove_all(parallel);
}

TEST(StiffnessMpi, SameResultsAsSerialOn2Ranks) { ExpectSameResultsAsSerial(2); }

TEST(StiffnessMpi, SameResultsAsSerialOn4Ranks) { ExpectSameResultsAsSerial(4); }

// Rank 0 cannot write its --out: it fails before any work and the other ranks, already in the
// study, end with it instead of waiting for it in a collective.
TEST(StiffnessMpi, AFailingRankEndsTheJob) {
  const fs::path file = OutDir("not_a_directory");
  test_util::RunApp("/bin/sh", "-c 'echo x > \"" + file.string() + "\"'");
  const test_util::AppResult result = test_util::RunApp(
      MPIEXEC_PATH, Mpirun(2, "--preset quick --quiet --out '" + (file / "sub").string() + "'"));
  EXPECT_NE(result.exit_code, 0) << result.out;
  EXPECT_NE(result.err.find("error: "), std::string::npos) << result.err;
  fs::remove(file);
}

TEST(StiffnessMpi, BenchIsRefusedUnderMpirun) {
  const test_util::AppResult result =
      test_util::RunApp(MPIEXEC_PATH, Mpirun(2, "--bench 1 --quiet"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("--bench measures one process; run it without mpirun"),
            std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace snode
