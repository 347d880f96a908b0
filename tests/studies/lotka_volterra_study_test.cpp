// studies/lotka_volterra_study: the discovery recovers the rates, TrainAdam's record and its
// skipping of refused gradients, the neural problem's initialisation, the UDE fit and the
// least-squares interaction coefficients, and the summaries of the Run…Study functions.

#include "studies/lotka_volterra_study.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.hpp"
#include "models/analytic_fields.hpp"

namespace snode::lotka_volterra {
namespace {

const Observations& Data() {
  static const Observations obs =
      problems::MakeLotkaVolterraObservations(problems::EquallySpacedTimes(10.0, 101), 0.05, 0);
  return obs;
}

StudySettings Settings(double rtol = 1e-6, double atol = 1e-8) {
  StudySettings settings;
  settings.gradient = "bptt";
  settings.integrator = "dopri5";
  settings.gradient_options.integrator = "dopri5";
  settings.gradient_options.integrator_options.rtol = rtol;
  settings.gradient_options.integrator_options.atol = atol;
  settings.integrator_options.rtol = 1e-6;
  settings.integrator_options.atol = 1e-8;
  settings.quiet = true;
  return settings;
}

DiscoverOptions DefaultDiscovery() {
  DiscoverOptions options;
  options.horizons = {2, 4, 6, 8, 10};
  options.horizons_text = "2,4,6,8,10";
  options.optimizer = "lbfgs";
  return options;
}

std::string TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("snode_lv_study_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(LotkaVolterraStudy, DiscoveryRecoversTheRatesWithinOnePercent) {
  const DiscoverResult result = Discover(Data(), DefaultDiscovery(), Settings(1e-8, 1e-10));
  EXPECT_LT(result.error, 0.01);
  EXPECT_EQ(result.error, problems::RelativeRateError(result.rates));
  EXPECT_EQ(static_cast<long>(result.curve.size()), result.evaluations);
  EXPECT_GT(result.evaluations_to_one_percent, 0);
  EXPECT_LE(result.seconds_to_one_percent, result.seconds);
  EXPECT_EQ(result.curve.front().horizon, 2.0);
  EXPECT_EQ(result.curve.back().horizon, 10.0);
}

TEST(LotkaVolterraStudy, DiscoveryWithAdamTakesItsBudgetPerHorizon) {
  DiscoverOptions options = DefaultDiscovery();
  options.optimizer = "adam";
  options.horizons = {2, 4};
  options.iterations = 7;
  const DiscoverResult result = Discover(Data(), options, Settings());
  EXPECT_EQ(result.evaluations, 14);
  EXPECT_EQ(result.curve[6].horizon, 2.0);
  EXPECT_EQ(result.curve[7].horizon, 4.0);
  EXPECT_LT(result.curve[6].loss, result.curve[0].loss);  // Adam lowers the first window's loss
}

TEST(LotkaVolterraStudy, DiscoveryRejectsBadOptions) {
  DiscoverOptions options = DefaultDiscovery();
  options.optimizer = "sgd";
  EXPECT_THROW(Discover(Data(), options, Settings()), ConfigError);
  options = DefaultDiscovery();
  options.horizons = {2, -1};
  EXPECT_THROW(Discover(Data(), options, Settings()), ConfigError);
}

// Data whose loss overflows (noise 1e300, issue 19): every fit ends with a NumericalError naming
// the loss, never a "recovered" starting guess with success.
Observations OverflowingData() {
  return problems::MakeLotkaVolterraObservations(problems::EquallySpacedTimes(10.0, 101), 1e300, 0);
}

TEST(LotkaVolterraStudy, DiscoveryOnANonFiniteLossIsANumericalError) {
  const Observations obs = OverflowingData();
  for (const std::string optimizer : {"lbfgs", "adam"}) {
    DiscoverOptions options = DefaultDiscovery();
    options.optimizer = optimizer;
    options.iterations = 3;
    try {
      Discover(obs, options, Settings());
      ADD_FAILURE() << optimizer << ": no error";
    } catch (const NumericalError& e) {
      EXPECT_NE(std::string(e.what()).find("discover: the loss is inf on the fit horizon 2"),
                std::string::npos)
          << optimizer << ": " << e.what();
    }
  }
}

TEST(LotkaVolterraStudy, UdeOnANonFiniteLossIsANumericalError) {
  UdeOptions options;
  options.horizons = {1, 2};
  options.optimizer = "lbfgs";
  options.iterations = 3;
  options.noisy = true;
  EXPECT_THROW(FitUde(OverflowingData(), options, Settings()), NumericalError);
}

TEST(LotkaVolterraStudy, DiscoverySummaryAndFiles) {
  const std::string dir = TempDir("discover");
  StudySettings settings = Settings(1e-8, 1e-10);
  settings.out_dir = dir;
  std::ostringstream out;
  const nlohmann::json summary = RunDiscoverStudy(Data(), DefaultDiscovery(), settings, out);
  EXPECT_LT(summary["max_relative_error"].get<double>(), 0.01);
  EXPECT_EQ(summary["optimizer"], "lbfgs");
  EXPECT_EQ(summary["recovered"].size(), 4u);
  EXPECT_NE(out.str().find("Lotka-Volterra parameter discovery (W3)"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir + "/discover_curve.csv"));
  const std::string quiet_dir = TempDir("discover_no_files");
  settings.out_dir = quiet_dir;
  RunDiscoverStudy(Data(), DefaultDiscovery(), settings, out, false);
  EXPECT_FALSE(std::filesystem::exists(quiet_dir + "/discover_curve.csv"));
}

// Rates as parameters: an Adam fit of the Lotka–Volterra field itself.
struct RateFit {
  OdeProblem problem = problems::LotkaVolterraProblem((Vector(4) << 1.3, 0.9, 1.1, 2.7).finished(),
                                                      problems::EquallySpacedTimes(2.0, 11));
  MseLoss loss{problems::LotkaVolterraTruth(problems::EquallySpacedTimes(2.0, 11))};
  std::unique_ptr<GradientMethod> method =
      GradientRegistry().Create("bptt", Settings().gradient_options);
};

TEST(LotkaVolterraStudy, TrainAdamRecordsEveryIteration) {
  RateFit fit;
  const TrainResult train = TrainAdam(*fit.method, fit.problem, fit.loss, 20, 1e-2, true, "test");
  EXPECT_EQ(train.losses.size(), 20u);
  EXPECT_EQ(train.iteration_seconds.size(), 20u);
  ASSERT_EQ(train.iteration_cpu_seconds.size(), 20u);
  ASSERT_EQ(train.iteration_counts.size(), 20u);
  EXPECT_EQ(train.reconstruction_errors.size(), 20u);
  double forward_nfe = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_GE(train.iteration_cpu_seconds[i], 0.0);
    EXPECT_GT(train.iteration_counts[i].forward_nfe, 0);
    EXPECT_GT(train.iteration_counts[i].forward_steps, 0);
    EXPECT_GT(train.iteration_counts[i].backward_steps, 0);  // bptt: the reverse steps
    forward_nfe += static_cast<double>(train.iteration_counts[i].forward_nfe) / 20;
  }
  EXPECT_NEAR(forward_nfe, train.mean_forward_nfe, 1e-9 * forward_nfe);
  EXPECT_EQ(train.skipped_steps, 0);
  EXPECT_LT(train.losses.back(), train.losses.front());
  EXPECT_GT(train.mean_forward_nfe, 0.0);
  EXPECT_THROW(TrainAdam(*fit.method, fit.problem, fit.loss, 0, 1e-2, true, "test"), ConfigError);
}

TEST(LotkaVolterraStudy, TrainAdamSkipsRefusedGradientsOnlyWhenAsked) {
  int calls = 0;
  const GradientCheck refuse_third = [&](const LossAndGradient&, const std::string&,
                                         const std::string& what) {
    if (++calls == 3) throw NumericalError("refused at " + what);
  };
  RateFit fit;
  const TrainResult train =
      TrainAdam(*fit.method, fit.problem, fit.loss, 5, 1e-2, true, "test", true, refuse_third);
  EXPECT_EQ(train.skipped_steps, 1);
  ASSERT_EQ(train.losses.size(), 5u);
  EXPECT_EQ(train.losses[2], train.losses[1]);
  EXPECT_TRUE(std::isnan(train.reconstruction_errors[2]));
  calls = 0;
  RateFit again;
  EXPECT_THROW(TrainAdam(*again.method, again.problem, again.loss, 5, 1e-2, true, "test", false,
                         refuse_third),
               NumericalError);
  // A refused first gradient has nothing to fall back on, even with skipping.
  calls = 2;
  RateFit first;
  EXPECT_THROW(TrainAdam(*first.method, first.problem, first.loss, 5, 1e-2, true, "test", true,
                         refuse_third),
               NumericalError);
}

TEST(LotkaVolterraStudy, MedianOfOddEvenAndEmpty) {
  EXPECT_EQ(Median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(Median({4.0, 1.0, 2.0, 3.0}), 2.5);
  EXPECT_TRUE(std::isnan(Median({})));
}

TEST(LotkaVolterraStudy, NeuralProblemFallsBackToASeededInitOnlyForTheDefaultWeights) {
  NeuralOptions options;
  options.weights = "/nonexistent/w2.json";
  const NeuralProblem seeded = MakeNeuralProblem(options, 3, Data().times);
  EXPECT_EQ(seeded.mlp->num_params(), 1218);
  EXPECT_EQ(seeded.problem.theta, seeded.mlp->InitialParams(3));
  EXPECT_EQ(seeded.problem.output_times, Data().times);
  EXPECT_NE(seeded.init.find("seeded initialisation (seed 3"), std::string::npos);
  options.weights_defaulted = false;
  EXPECT_THROW(MakeNeuralProblem(options, 3, Data().times), ConfigError);
}

// A directory in place of the weights file: the default path falls back to the seeded init, an
// explicit one is an error naming the path (it was a bare "basic_filebuf::underflow" before).
TEST(LotkaVolterraStudy, NeuralProblemWithADirectoryForWeights) {
  NeuralOptions options;
  options.weights = std::filesystem::temp_directory_path().string();
  const NeuralProblem seeded = MakeNeuralProblem(options, 3, Data().times);
  EXPECT_EQ(seeded.problem.theta, seeded.mlp->InitialParams(3));
  options.weights_defaulted = false;
  try {
    MakeNeuralProblem(options, 3, Data().times);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(options.weights), std::string::npos) << e.what();
  }
}

// A weights file the JSON reader cannot take is an InputError naming the file.
TEST(LotkaVolterraStudy, NeuralProblemWithUnreadableWeightsNamesTheFile) {
  const std::string path = TempDir("bad_weights") + "/w.json";
  std::ofstream(path) << "{\"params\": [";
  NeuralOptions options;
  options.weights = path;
  options.weights_defaulted = false;
  try {
    MakeNeuralProblem(options, 3, Data().times);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(LotkaVolterraStudy, NeuralFitTrainsAndSolves) {
  NeuralOptions options;
  options.weights = "/nonexistent/w2.json";
  options.iterations = 5;
  NeuralFit fit = TrainNeural(Data(), options, Settings());
  EXPECT_EQ(fit.train.losses.size(), 5u);
  SolveNeuralFit(fit, Data(), Settings());
  EXPECT_EQ(fit.fitted.size(), Data().times.size());
  EXPECT_TRUE(std::isfinite(fit.final_loss));
  EXPECT_GT(fit.final_loss, 0.0);
}

TEST(LotkaVolterraStudy, UdeFitRunsItsBudgetOnEveryHorizon) {
  UdeOptions options;
  options.horizons = {1, 2};
  options.horizons_text = "1,2";
  options.optimizer = "adam";
  options.iterations = 4;
  const UdeFit fit = FitUde(Data(), options, Settings());
  EXPECT_EQ(fit.theta.size(), 354);
  EXPECT_EQ(fit.train.losses.size(), 8u);
  options.optimizer = "sgd";
  EXPECT_THROW(FitUde(Data(), options, Settings()), ConfigError);
}

TEST(LotkaVolterraStudy, InteractionCoefficientsAreTheLeastSquaresFitOnXy) {
  UdeOptions options;
  options.horizons = {1};
  options.optimizer = "lbfgs";
  options.iterations = 3;
  const UdeFit fit = FitUde(Data(), options, Settings());
  const InteractionCoefficients c = FitInteractionCoefficients(*fit.field, fit.theta, Data().clean);
  double sxx = 0, sgx = 0, sgy = 0;
  Vector g(2);
  for (const Vector& z : Data().clean) {
    fit.field->LearnedTerm(0.0, z, fit.theta, g);
    sxx += z[0] * z[1] * z[0] * z[1];
    sgx += g[0] * z[0] * z[1];
    sgy += g[1] * z[0] * z[1];
  }
  EXPECT_NEAR(c.beta, -sgx / sxx, 1e-12);
  EXPECT_NEAR(c.delta, sgy / sxx, 1e-12);
}

TEST(LotkaVolterraStudy, UdeSummaryAndFiles) {
  const std::string dir = TempDir("ude");
  StudySettings settings = Settings();
  settings.out_dir = dir;
  UdeOptions options;
  options.horizons = {1, 2};
  options.horizons_text = "1,2";
  options.optimizer = "adam";
  options.iterations = 3;
  std::ostringstream out;
  const nlohmann::json summary = RunUdeStudy(Data(), options, settings, out);
  EXPECT_TRUE(summary["beta"].is_number());
  EXPECT_FALSE(summary["noisy_data"].get<bool>());
  EXPECT_NE(out.str().find("Universal differential equation"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir + "/ude_loss.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/ude_terms.dat"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/ude_fit.dat"));
}

}  // namespace
}  // namespace snode::lotka_volterra
