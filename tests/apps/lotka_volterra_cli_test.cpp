// lotka_volterra's command line (apps/cli/lotka_volterra_cli.hpp) read from argument lists: every
// flag is honoured where it applies and an error naming it and the mode elsewhere, and every
// number is range-checked in the user's units (issue 19).

#include "apps/cli/lotka_volterra_cli.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/apps/cli_test_util.hpp"

namespace snode::app {
namespace {

using Args = std::vector<std::string>;

LotkaVolterraCommandLine Read(const Args& args) {
  return ReadLotkaVolterraCommandLine(test_util::ParseArgs(LotkaVolterraAppCommandLine(), args));
}

void ExpectError(const Args& args, const std::string& needle) {
  test_util::ExpectReadError(LotkaVolterraAppCommandLine(), args, needle);
}

TEST(LotkaVolterraCli, DefaultsAreTheSeedsSettings) {
  const LotkaVolterraCommandLine line = Read({});
  EXPECT_EQ(line.mode, "all");
  EXPECT_EQ(line.t_end, 10.0);
  EXPECT_EQ(line.points, 101);
  EXPECT_EQ(line.noise, 0.05);
  EXPECT_EQ(line.discover.horizons, (std::vector<double>{2, 4, 6, 8, 10}));
  EXPECT_EQ(line.discover.horizons_text, "2,4,6,8,10");
  EXPECT_EQ(line.discover.optimizer, "lbfgs");
  EXPECT_EQ(line.discover.iterations, 100);
  EXPECT_EQ(line.ude.horizons, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(line.ude.iterations, 300);
  EXPECT_EQ(line.neural.iterations, 300);
  EXPECT_EQ(line.neural.lr, 1e-2);
  EXPECT_TRUE(line.neural.weights_defaulted);
  EXPECT_FALSE(line.bench_repetitions);
}

TEST(LotkaVolterraCli, FlagsReachTheirModes) {
  const LotkaVolterraCommandLine discover =
      Read({"--mode", "discover", "--optimizer", "adam", "--lr", "0.1", "--iterations", "7",
            "--horizons", "3,6", "--noise", "0.2", "--t-end", "6", "--points", "61"});
  EXPECT_EQ(discover.discover.optimizer, "adam");
  EXPECT_EQ(discover.discover.lr, 0.1);
  EXPECT_EQ(discover.discover.iterations, 7);
  EXPECT_EQ(discover.discover.horizons, (std::vector<double>{3, 6}));
  EXPECT_EQ(discover.noise, 0.2);
  const LotkaVolterraCommandLine neural =
      Read({"--mode", "neural", "--lr", "0.003", "--skip-bad-steps", "--bench", "2"});
  EXPECT_EQ(neural.neural.lr, 0.003);
  EXPECT_TRUE(neural.neural.skip_bad_steps);
  EXPECT_EQ(neural.bench_repetitions, 2);
  const LotkaVolterraCommandLine ude =
      Read({"--mode", "ude", "--ude-noisy", "true", "--noise", "0.1", "--horizons", "5,10"});
  EXPECT_TRUE(ude.ude.noisy);
  EXPECT_EQ(ude.noise, 0.1);
  // Default horizons follow --t-end.
  EXPECT_EQ(Read({"--mode", "discover", "--t-end", "5"}).discover.horizons,
            (std::vector<double>{1, 2, 3, 4, 5}));
}

// Issue 19 case 1: --lr only applies with adam (discover/ude) or in neural mode.
TEST(LotkaVolterraCli, LearningRateOnlyWhereAdamRuns) {
  ExpectError({"--mode", "discover", "--lr", "-1"},
              "--lr does not apply to --mode discover --optimizer lbfgs; leave it out");
  ExpectError({"--mode", "ude", "--lr", "0.1"}, "--lr does not apply to --mode ude --optimizer");
  ExpectError({"--mode", "discover", "--optimizer", "adam", "--lr", "-1"},
              "--lr must be between 1e-09 and 10 (Adam's learning rate), got -1");
  ExpectError({"--mode", "neural", "--lr", "1e200"}, "--lr must be between 1e-09 and 10");
  ExpectError({"--mode", "neural", "--lr", "0"}, "--lr must be between");
  EXPECT_EQ(Read({"--mode", "all", "--lr", "0.02"}).neural.lr, 0.02);  // the neural fit's
}

// Issue 19 case 2: --optimizer applies only to discover, ude and all.
TEST(LotkaVolterraCli, OptimizerOnlyForDiscoverAndUde) {
  ExpectError({"--mode", "neural", "--optimizer", "sgd"},
              "--optimizer does not apply to --mode neural; leave it out");
  ExpectError({"--mode", "neural", "--optimizer", "adam"}, "--optimizer does not apply");
  ExpectError({"--mode", "discover", "--optimizer", "sgd"},
              "--optimizer must be 'lbfgs' or 'adam', got 'sgd'");
  EXPECT_EQ(Read({"--mode", "all", "--optimizer", "adam"}).ude.optimizer, "adam");
}

// Issue 19 case 3 (first half): --noise in the states' units; only where noisy data are fitted.
TEST(LotkaVolterraCli, NoiseIsRangeCheckedAndOnlyWhereNoisyDataAreFitted) {
  ExpectError({"--mode", "discover", "--noise", "1e300"},
              "--noise must be between 0 and 10 (state units; the states are O(1)), got 1e+300");
  ExpectError({"--noise", "-0.5"}, "--noise must be between 0 and 10");
  ExpectError({"--noise", "nan"}, "--noise must be between 0 and 10");
  ExpectError({"--mode", "neural", "--noise", "0.1"},
              "--noise does not apply to --mode neural; leave it out");
  ExpectError({"--mode", "ude", "--noise", "0.1"}, "--noise does not apply to --mode ude");
}

// Issue 19 case 4: every horizon holds enough observation times.
TEST(LotkaVolterraCli, HorizonsArePositiveIncreasingWithinTEndAndHoldData) {
  ExpectError({"--mode", "discover", "--horizons", "1e-9"},
              "--horizons: horizon 1e-9 holds 0 observation time(s) after t = 0 (they are 0.1 "
              "time units apart); each horizon needs at least 5, so it must be at least 0.5");
  EXPECT_EQ(Read({"--mode", "discover", "--horizons", "0.5"}).discover.horizons.front(), 0.5);
  ExpectError({"--mode", "discover", "--horizons", "0.4"}, "holds 4 observation time(s)");
  ExpectError({"--mode", "discover", "--horizons", "0,2"},
              "--horizons entries must be positive, got 0");
  ExpectError({"--mode", "discover", "--horizons", "-2"}, "--horizons entries must be positive");
  ExpectError({"--mode", "ude", "--horizons", "2,12"},
              "--horizons: 12 lies beyond --t-end 10 (time units)");
  ExpectError({"--mode", "discover", "--horizons", "6,4"},
              "--horizons must increase (the fit's schedule): 4 follows 6");
  ExpectError({"--mode", "discover", "--horizons", "2,2"}, "--horizons must increase");
  ExpectError({"--mode", "discover", "--horizons", "2,x"}, "--horizons");
  // Defaults that hold too few observations say so.
  ExpectError({"--mode", "discover", "--points", "11"},
              "(the default --horizons for --t-end 10) holds 2 observation time(s)");
  ExpectError({"--mode", "neural", "--horizons", "2"},
              "--horizons does not apply to --mode neural; leave it out");
}

// Issue 19 case 5: --t-end and --points give distinct, representable observation times.
TEST(LotkaVolterraCli, TEndAndPointsGiveDistinctTimes) {
  ExpectError({"--t-end", "1e-300"},
              "--t-end must be between 0.001 and 1000 (time units), got 1e-300");
  ExpectError({"--t-end", "5e-324"}, "--t-end must be between 0.001 and 1000 (time units)");
  ExpectError({"--t-end", "1e-400"}, "(a number below 2.2e-308 reads as 0)");
  ExpectError({"--t-end", "1e9"}, "--t-end must be between 0.001 and 1000");
  ExpectError({"--t-end", "inf"}, "--t-end must be between");
  ExpectError({"--points", "1"}, "--points must be between 2 and 10001 (observation times), got 1");
  ExpectError({"--points", "100000"}, "--points must be between 2 and 10001");
  ExpectError({"--mode", "neural", "--t-end", "0.001", "--points", "10001"},
              "--t-end 1e-3 over --points 10001 puts the observation times 1e-7 time units "
              "apart; they must be at least 1e-6 apart");
  EXPECT_EQ(Read({"--mode", "neural", "--t-end", "0.001", "--points", "1001"}).points, 1001);
}

// Issue 19 case 6: an explicit --weights must be a regular file; the default may be absent.
TEST(LotkaVolterraCli, ExplicitWeightsMustBeARegularFile) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  ExpectError({"--mode", "neural", "--weights", dir},
              "--weights '" + dir + "': is a directory, not a file");
  ExpectError({"--mode", "neural", "--weights", "/nonexistent/w.json"},
              "--weights '/nonexistent/w.json': no such file");
  ExpectError({"--mode", "neural", "--weights", "/dev/null"}, "is not a regular file");
  ExpectError({"--mode", "discover", "--weights", dir}, "--weights does not apply to --mode");
  const std::string file = dir + "/snode_lv_cli_weights.json";
  std::ofstream(file) << "{}";
  const LotkaVolterraCommandLine line = Read({"--mode", "neural", "--weights", file});
  EXPECT_EQ(line.neural.weights, file);
  EXPECT_FALSE(line.neural.weights_defaulted);
  std::filesystem::remove(file);
}

// Issue 19 case 7 (and the crash of issue 19 item 1): a budget below 1 fails in the reading.
TEST(LotkaVolterraCli, IterationsAreRangeChecked) {
  ExpectError({"--iterations", "0"},
              "--iterations must be between 1 and 100000 (optimiser iterations), got 0");
  ExpectError({"--mode", "ude", "--iterations", "-3"}, "--iterations must be between 1 and");
  ExpectError({"--iterations", "1000000"}, "--iterations must be between 1 and 100000");
}

// Issue 19 case 9's rule here too: the neural-only and ude-only flags, --bench's modes.
TEST(LotkaVolterraCli, ModeSpecificFlagsAreRejectedElsewhere) {
  ExpectError({"--mode", "discover", "--skip-bad-steps"},
              "--skip-bad-steps does not apply to --mode discover --optimizer lbfgs");
  ExpectError({"--mode", "neural", "--ude-noisy", "true"}, "--ude-noisy does not apply");
  ExpectError({"--mode", "all", "--bench", "1"}, "--bench needs --mode neural or discover");
  ExpectError({"--mode", "discover", "--bench", "0"}, "--bench must be between 1 and 1000");
  ExpectError({"--mode", "bogus"}, "--mode must be discover, neural, ude or all, got 'bogus'");
  ExpectError({"--mode", "discover", "stray"}, "stray");
}

}  // namespace
}  // namespace snode::app
