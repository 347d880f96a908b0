// studies/lotka_volterra_report: the discovery and UDE tables, the loss-curve CSV (with and
// without reconstruction errors) and the trajectory data file.

#include "studies/lotka_volterra_report.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace snode::lotka_volterra {
namespace {

std::string TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("snode_lv_report_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Observations TwoTimes() {
  Observations obs;
  obs.times = {0.0, 1.0};
  obs.clean = {Vector{{1.0, 1.0}}, Vector{{2.0, 0.5}}};
  obs.noisy = obs.clean;
  return obs;
}

TEST(LotkaVolterraReport, DiscoveryTableNamesEveryRateAndTheOnePercentPoint) {
  DiscoverResult result;
  result.rates = (Vector(4) << 1.5, 1.01, 1.0, 3.0).finished();
  result.error = 0.01;
  result.evaluations = 12;
  result.seconds = 0.5;
  result.evaluations_to_one_percent = 9;
  result.seconds_to_one_percent = 0.25;
  DiscoverOptions options;
  options.optimizer = "lbfgs";
  options.horizons_text = "2,4";
  StudySettings settings;
  settings.gradient = "bptt";
  settings.integrator = "dopri5";
  std::ostringstream out;
  PrintDiscovery(out, TwoTimes(), options, settings, result);
  const std::string text = out.str();
  EXPECT_NE(text.find("2 noisy observations on [0, 1], gradient bptt/dopri5, lbfgs, horizons 2,4"),
            std::string::npos)
      << text;
  for (const char* name : {"alpha", "beta", "delta", "gamma"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
  EXPECT_NE(text.find("after 12 loss+gradient evaluations"), std::string::npos) << text;
  EXPECT_NE(text.find("below 1% on the full horizon after 9 evaluations"), std::string::npos);
  result.evaluations_to_one_percent = -1;
  std::ostringstream never;
  PrintDiscovery(never, TwoTimes(), options, settings, result);
  EXPECT_EQ(never.str().find("below 1%"), std::string::npos);
}

TEST(LotkaVolterraReport, LossCurveHasReconstructionErrorsOnlyWhenRecordedForEveryIteration) {
  const std::string dir = TempDir("loss");
  TrainResult train;
  train.losses = {2.0, 1.0};
  train.iteration_seconds = {0.1, 0.2};
  WriteLossCurve(dir + "/plain.csv", train);
  EXPECT_EQ(ReadFile(dir + "/plain.csv").substr(0, 24), "iteration,loss,seconds\n0");
  train.reconstruction_errors = {0.0, 1e-3};
  WriteLossCurve(dir + "/recon.csv", train);
  EXPECT_EQ(ReadFile(dir + "/recon.csv").rfind("iteration,loss,seconds,reconstruction_error\n", 0),
            0u);
}

TEST(LotkaVolterraReport, TrajectoryDataHasTimeDataAndFittedColumns) {
  const std::string dir = TempDir("trajectory");
  std::ostringstream out;
  WriteTrajectoryPlot(dir, "fit", "title", TwoTimes(), {Vector{{1.1, 0.9}}, Vector{{2.1, 0.4}}},
                      out);
  EXPECT_EQ(ReadFile(dir + "/fit.dat"), "0 1 1 1.1 0.9\n1 2 0.5 2.1 0.4\n");
}

}  // namespace
}  // namespace snode::lotka_volterra
