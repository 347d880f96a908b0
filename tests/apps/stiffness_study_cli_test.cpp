// stiffness_study's command line (apps/cli/stiffness_study_cli.hpp) read from argument lists:
// every flag is honoured or an error naming it, every number range-checked (issue 19, case 9).

#include "apps/cli/stiffness_study_cli.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/apps/cli_test_util.hpp"

namespace snode::app {
namespace {

using Args = std::vector<std::string>;

StiffnessCommandLine Read(const Args& args) {
  return ReadStiffnessCommandLine(test_util::ParseArgs(StiffnessStudyCommandLine(), args));
}

void ExpectError(const Args& args, const std::string& needle) {
  test_util::ExpectReadError(StiffnessStudyCommandLine(), args, needle);
}

TEST(StiffnessStudyCli, FlagsReachTheStudy) {
  const StiffnessCommandLine line =
      Read({"--preset", "quick", "--problems", "w1,w1b", "--lambdas", "1,100", "--methods",
            "bptt/dopri5", "--tolerances", "1e-8,1e-6", "--threads", "3", "--ok-tol", "1e-4",
            "--tables", "--no-plots"});
  const StiffnessOptions& o = line.study;
  EXPECT_EQ(o.preset, "quick");
  EXPECT_EQ(o.problems, (std::vector<std::string>{"w1", "w1b"}));
  EXPECT_EQ(o.lambdas, (std::vector<double>{1, 100}));
  ASSERT_EQ(o.methods.size(), 1u);
  EXPECT_EQ(o.tolerances, (std::vector<double>{1e-8, 1e-6}));
  EXPECT_EQ(o.threads, 3);
  EXPECT_EQ(o.ok_tol, 1e-4);
  EXPECT_TRUE(o.tables);
  EXPECT_FALSE(o.plots);
  EXPECT_FALSE(line.bench_repetitions);
  const StiffnessCommandLine trained = Read(
      {"--problems", "neural", "--train", "on", "--neural-iterations", "5", "--neural-lr", "0.05"});
  EXPECT_EQ(trained.study.train_neural, 1);
  EXPECT_EQ(trained.study.neural_iterations, 5);
  EXPECT_EQ(trained.study.neural_lr, 0.05);
  // --preset full trains, and every registered problem includes the trainable one.
  EXPECT_EQ(Read({"--preset", "full", "--neural-iterations", "4"}).study.neural_iterations, 4);
}

// The training flags apply only when a trainable problem is trained.
TEST(StiffnessStudyCli, TrainingFlagsWithoutTrainingAreErrors) {
  ExpectError({"--problems", "w1", "--neural-iterations", "5"},
              "--neural-iterations applies only when the study trains (--train on or --preset "
              "full, with a trainable problem such as neural); this run trains nothing");
  ExpectError({"--neural-lr", "0.5"}, "--neural-lr applies only when the study trains");
  ExpectError({"--preset", "full", "--problems", "w1", "--neural-lr", "0.5"},
              "--neural-lr applies only when the study trains");
  ExpectError({"--problems", "neural", "--train", "off", "--neural-iterations", "5"},
              "--neural-iterations applies only when the study trains");
  ExpectError({"--problems", "w1,vdp", "--train", "on"},
              "--train on: none of the selected problems is trainable");
  ExpectError({"--train", "maybe"}, "--train must be on or off, got 'maybe'");
  ExpectError({"--problems", "neural", "--train", "on", "--neural-iterations", "0"},
              "--neural-iterations must be between 1 and 100000 (Adam steps), got 0");
  ExpectError({"--problems", "neural", "--train", "on", "--neural-lr", "1e300"},
              "--neural-lr must be between 1e-09 and 10");
  ExpectError({"--problems", "neural", "--train", "on", "--neural-lr", "-1"},
              "--neural-lr must be between");
}

TEST(StiffnessStudyCli, BenchFlagsOnlyWithBenchAndSweepFlagsNotWithIt) {
  ExpectError({"--robertson-horizons", "7"},
              "--robertson-horizons does not apply to stiffness_study without --bench; leave it "
              "out");
  const StiffnessCommandLine bench =
      Read({"--bench", "1", "--robertson-horizons", "40", "--ok-tol", "1e-2", "--no-plots"});
  EXPECT_EQ(bench.bench_repetitions, 1);
  EXPECT_EQ(bench.study.robertson_horizons, (std::vector<double>{40}));
  EXPECT_EQ(bench.study.ok_tol, 1e-2);
  for (const Args& flag : {Args{"--methods", "bptt/dopri5"}, Args{"--threads", "2"},
                           Args{"--tables"}, Args{"--lambdas", "10"}, Args{"--problems", "w1"},
                           Args{"--tolerances", "1e-6"}, Args{"--train", "on"}}) {
    Args args = {"--bench", "1"};
    args.insert(args.end(), flag.begin(), flag.end());
    ExpectError(args, flag.front() + " does not apply to stiffness_study --bench; leave it out");
  }
  // With --check-gradient the problem flags choose what the check runs on.
  EXPECT_EQ(Read({"--bench", "1", "--check-gradient", "--problems", "w1"}).study.problems,
            (std::vector<std::string>{"w1"}));
  ExpectError({"--bench", "1", "--robertson-horizons", "0"},
              "--robertson-horizons: T must be positive, got 0");
  ExpectError({"--bench", "1", "--robertson-horizons", "1e300"},
              "--robertson-horizons: T must be between 1e-6 and 1e11 (time units)");
  ExpectError({"--bench", "0"}, "--bench must be between 1 and 1000 (repetitions), got 0");
}

TEST(StiffnessStudyCli, NumbersAreRangeChecked) {
  ExpectError({"--threads", "0"}, "--threads must be between 1 and 256 (runs in parallel), got 0");
  ExpectError({"--threads", "257"}, "--threads must be between 1 and 256");
  ExpectError({"--ok-tol", "1e300"},
              "--ok-tol must be between 1e-16 and 1 (a relative error), got 1e+300");
  ExpectError({"--ok-tol", "0"}, "--ok-tol must be between 1e-16 and 1");
  ExpectError({"--ok-tol", "nan"}, "--ok-tol must be between");
  ExpectError({"--tolerances", "1e-20"}, "--tolerances: rtol must lie in [1e-15, 1)");
  ExpectError({"--lambdas", "1,-5"}, "--lambdas: λ must be positive");
  ExpectError({"--lambda-max", "0"}, "--lambda-max must be a finite number >= 1");
  ExpectError({"--lambda-max", "1e300"}, "more than 61 values of λ");
  ExpectError({"--lambdas", "10", "--lambda-max", "100"}, "give either --lambdas or --lambda-max");
}

TEST(StiffnessStudyCli, NamesAndFilesAreChecked) {
  ExpectError({"--problems", "nope"}, "--problems: unknown problem 'nope'");
  ExpectError({"--preset", "huge"}, "--preset: unknown preset 'huge'");
  ExpectError({"--methods", "bptt"}, "--methods");
  ExpectError({"--problem-file", "/nonexistent/p.json"},
              "--problem-file '/nonexistent/p.json': no such file");
  const std::string dir = std::filesystem::temp_directory_path().string();
  ExpectError({"--problem-file", dir}, "--problem-file '" + dir + "': is a directory");
  // Names from a problem file are checked once the app has registered it.
  const std::string file = dir + "/snode_stiffness_cli_problem.json";
  std::ofstream(file) << "{}";
  const StiffnessCommandLine line = Read({"--problem-file", file, "--problems", "from_file"});
  EXPECT_EQ(line.problem_files, (std::vector<std::string>{file}));
  EXPECT_THROW(CheckProblemNames(line.study), ConfigError);
  std::filesystem::remove(file);
}

TEST(StiffnessStudyCli, ListProblemsTakesProblemFilesOnly) {
  EXPECT_TRUE(Read({"--list-problems"}).list_problems);
  ExpectError({"--list-problems", "--lambdas", "10"},
              "--lambdas does not apply to --list-problems; leave it out");
}

}  // namespace
}  // namespace snode::app
