// Tests of the choice of cvodes_adjoint's backward algorithm (adjoint/cvodes_strategy_choice.hpp):
// each documented rule of GradientOptions (backward_integrator, cvodes_quadrature "auto",
// cvodes_jump_layer "auto", cvodes_observations "auto") at and around its thresholds, their
// combination, and the option checks of the constructor.
#include "adjoint/cvodes_strategy_choice.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "models/analytic_fields.hpp"

namespace snode {
namespace {

GradientOptions Options(const std::string& integrator = "cvodes_bdf",
                        const std::string& backward = "") {
  GradientOptions options;
  options.integrator = integrator;
  options.backward_integrator = backward;
  return options;
}

TEST(CvodesStrategyChoice, CvodesIntegratorsAreBdfAndAdams) {
  EXPECT_TRUE(IsCvodesIntegrator("cvodes_bdf"));
  EXPECT_TRUE(IsCvodesIntegrator("cvodes_adams"));
  EXPECT_FALSE(IsCvodesIntegrator("dopri5"));
  EXPECT_FALSE(IsCvodesIntegrator("epi2"));
}

// cvodes_quadrature: "gauss" or "auto" with P > 8·n, and only with a CVODES backward.
TEST(CvodesStrategyChoice, GaussQuadratureAboveEightParametersPerState) {
  GradientOptions options = Options();
  EXPECT_EQ(options.cvodes_quadrature, "auto");
  EXPECT_FALSE(UseGaussQuadrature(options, 2, 16));
  EXPECT_TRUE(UseGaussQuadrature(options, 2, 17));
  options.cvodes_quadrature = "gauss";
  EXPECT_TRUE(UseGaussQuadrature(options, 2, 1));
  options.cvodes_quadrature = "cvodes";
  EXPECT_FALSE(UseGaussQuadrature(options, 2, 1000));
  for (const std::string backward : {"epi2", "dopri5"}) {
    options = Options("cvodes_bdf", backward);
    options.cvodes_quadrature = "gauss";
    EXPECT_FALSE(UseGaussQuadrature(options, 2, 1000)) << backward;
  }
}

// cvodes_jump_layer "auto": the Gauss quadrature, a cvodes_bdf backward, n + p + 1 ≤ 64 and no
// explicit fundamental matrix; "on" with any CVODES backward; "off" never.
TEST(CvodesStrategyChoice, JumpLayerRules) {
  GradientOptions options = Options();
  EXPECT_TRUE(UseJumpLayer(options, 3, 60, true));
  EXPECT_FALSE(UseJumpLayer(options, 3, 61, true));
  EXPECT_FALSE(UseJumpLayer(options, 3, 3, false));
  options.cvodes_observations = "fundamental";
  EXPECT_FALSE(UseJumpLayer(options, 3, 3, true));
  options = Options("cvodes_bdf", "cvodes_adams");
  EXPECT_FALSE(UseJumpLayer(options, 3, 3, true));
  options.cvodes_jump_layer = "on";
  EXPECT_TRUE(UseJumpLayer(options, 3, 1000, false));
  options.backward_integrator = "dopri5";
  EXPECT_FALSE(UseJumpLayer(options, 3, 3, false));
  options = Options();
  options.cvodes_jump_layer = "off";
  EXPECT_FALSE(UseJumpLayer(options, 3, 3, true));
}

// cvodes_observations "auto": the Gauss quadrature without the jump layer, n ≤ 8 and many
// observations; "restart" never, "fundamental" with any CVODES backward.
TEST(CvodesStrategyChoice, FundamentalMatrixRules) {
  GradientOptions options = Options();
  EXPECT_TRUE(UseFundamentalMatrix(options, 8, true, false, true));
  EXPECT_FALSE(UseFundamentalMatrix(options, 9, true, false, true));
  EXPECT_FALSE(UseFundamentalMatrix(options, 2, false, false, true));
  EXPECT_FALSE(UseFundamentalMatrix(options, 2, true, true, true));
  EXPECT_FALSE(UseFundamentalMatrix(options, 2, true, false, false));
  options.cvodes_observations = "restart";
  EXPECT_FALSE(UseFundamentalMatrix(options, 2, true, false, true));
  options.cvodes_observations = "fundamental";
  EXPECT_TRUE(UseFundamentalMatrix(options, 20, false, true, false));
  options.backward_integrator = "dopri5";
  EXPECT_FALSE(UseFundamentalMatrix(options, 2, true, false, true));
}

// At least n output times strictly inside (t0, T).
TEST(CvodesStrategyChoice, ManyObservationsCountsTimesInsideTheInterval) {
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(2);
  problem.t0 = 0.0;
  problem.output_times = {0.5, 1.0, 2.0};
  EXPECT_TRUE(ManyObservations(problem));
  problem.output_times = {0.0, 1.0, 2.0};  // t0 does not count
  EXPECT_FALSE(ManyObservations(problem));
  problem.output_times = {2.0};
  EXPECT_FALSE(ManyObservations(problem));
}

TEST(CvodesStrategyChoice, ChoosesTheDocumentedAlgorithm) {
  // A non-CVODES backward: epi2 or the interpolating adjoint, never with the jump layer.
  CvodesBackwardChoice choice = ChooseCvodesBackward(Options("cvodes_bdf", "epi2"), 2, 100, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kEpi2);
  EXPECT_FALSE(choice.jump_layer);
  choice = ChooseCvodesBackward(Options("cvodes_adams", "dopri5"), 2, 100, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kRegistry);
  // Few parameters: CVODES' quadrature, no layer (Robertson, Lotka–Volterra).
  choice = ChooseCvodesBackward(Options(), 3, 3, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kCvodesQuadrature);
  EXPECT_FALSE(choice.jump_layer);
  // Many parameters, BDF: Gauss with restarts and the jump layer (it turns the fundamental
  // matrix off), or without the layer when the backward system is too large for it.
  choice = ChooseCvodesBackward(Options(), 2, 42, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kGaussRestart);
  EXPECT_TRUE(choice.jump_layer);
  choice = ChooseCvodesBackward(Options(), 2, 1218, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kFundamental);
  choice = ChooseCvodesBackward(Options(), 2, 1218, false);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kGaussRestart);
  EXPECT_FALSE(choice.jump_layer);
  // Adams: no automatic layer, so the fundamental matrix with many observations.
  EXPECT_EQ(ChooseCvodesBackward(Options("cvodes_adams"), 2, 42, true).kind,
            CvodesBackwardKind::kFundamental);
  // The CVODES quadrature with "on": the layer on top of it.
  GradientOptions options = Options();
  options.cvodes_jump_layer = "on";
  choice = ChooseCvodesBackward(options, 3, 3, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kCvodesQuadrature);
  EXPECT_TRUE(choice.jump_layer);
}

TEST(CvodesStrategyChoice, ExplicitFundamentalMatrixNeedsGaussAndNoLayer) {
  GradientOptions options = Options();
  options.cvodes_observations = "fundamental";
  options.cvodes_quadrature = "gauss";
  const CvodesBackwardChoice choice = ChooseCvodesBackward(options, 2, 42, false);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kFundamental);
  EXPECT_FALSE(choice.jump_layer);
  options.cvodes_jump_layer = "on";
  EXPECT_THROW(ChooseCvodesBackward(options, 2, 42, false), ConfigError);
  options.cvodes_jump_layer = "auto";
  options.cvodes_quadrature = "cvodes";
  EXPECT_THROW(ChooseCvodesBackward(options, 2, 42, false), ConfigError);
}

TEST(CvodesStrategyChoice, ValidationNamesTheOffendingOption) {
  EXPECT_NO_THROW(ValidateCvodesAdjointOptions(Options()));
  EXPECT_NO_THROW(ValidateCvodesAdjointOptions(Options("cvodes_adams", "dopri5")));
  const std::vector<GradientOptions> bad = {Options("dopri5"), Options("cvodes_bdf", "heun"),
                                            Options("cvodes_bdf", "no_such_integrator")};
  for (const GradientOptions& options : bad) {
    EXPECT_THROW(ValidateCvodesAdjointOptions(options), ConfigError)
        << options.integrator << "/" << options.backward_integrator;
  }
  GradientOptions options = Options();
  options.cvodes_quadrature = "simpson";
  EXPECT_THROW(ValidateCvodesAdjointOptions(options), ConfigError);
  options = Options("cvodes_bdf", "epi2");
  options.cvodes_observations = "fundamental";
  try {
    ValidateCvodesAdjointOptions(options);
    FAIL() << "a fundamental matrix with epi2 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cvodes_observations"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace snode
