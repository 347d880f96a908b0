// Tests of the choice of cvodes_adjoint's backward algorithm (adjoint/cvodes_strategy_choice.hpp):
// each documented rule (GradientOptions::backward_integrator, CvodesAdjointOptions' quadrature
// "auto", jump_layer "auto", observations "auto") at and around its thresholds, their
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

// What the registered integrator `name` declares (adaptive default options).
IntegratorCapabilities Caps(const std::string& name) {
  return IntegratorRegistry().Create(name, IntegratorOptions())->Capabilities();
}
CvodesMethod Method(const std::string& name) { return Caps(name).cvodes_method; }

using Own = CvodesAdjointOptions;
using Quadrature = CvodesAdjointOptions::Quadrature;
using Layer = CvodesAdjointOptions::JumpLayer;
using Observations = CvodesAdjointOptions::Observations;

TEST(CvodesStrategyChoice, CvodesIntegratorsDeclareBdfAndAdams) {
  EXPECT_EQ(Method("cvodes_bdf"), CvodesMethod::kBdf);
  EXPECT_EQ(Method("cvodes_adams"), CvodesMethod::kAdams);
  EXPECT_EQ(Method("dopri5"), CvodesMethod::kNone);
  EXPECT_EQ(Method("epi2"), CvodesMethod::kNone);
}

// quadrature: "gauss" or "auto" with P > 8·n, and only with a CVODES backward; "auto" with
// P ≤ 8·n ≤ 64·P: the Gauss value on the steps of the error-controlled CVODES quadrature; "auto"
// with n > 8·P: the CVODES quadrature alone.
TEST(CvodesStrategyChoice, GaussQuadratureAboveEightParametersPerState) {
  Own options;
  EXPECT_EQ(options.quadrature, Quadrature::kAuto);
  EXPECT_FALSE(UseGaussQuadrature(options, Method("cvodes_bdf"), 2, 16));
  EXPECT_TRUE(UseControlledGauss(options, Method("cvodes_bdf"), 2, 16));
  EXPECT_TRUE(UseGaussQuadrature(options, Method("cvodes_bdf"), 2, 17));
  EXPECT_FALSE(UseControlledGauss(options, Method("cvodes_bdf"), 2, 17));
  EXPECT_FALSE(UseControlledGauss(options, Method("epi2"), 2, 1));
  // A state more than 8 times longer than θ: the CVODES quadrature alone.
  EXPECT_TRUE(UseControlledGauss(options, Method("cvodes_bdf"), 16, 2));
  EXPECT_FALSE(UseControlledGauss(options, Method("cvodes_bdf"), 17, 2));
  EXPECT_FALSE(UseGaussQuadrature(options, Method("cvodes_bdf"), 17, 2));
  options.quadrature = Quadrature::kGauss;
  EXPECT_TRUE(UseGaussQuadrature(options, Method("cvodes_adams"), 2, 1));
  for (const std::string backward : {"epi2", "dopri5"}) {
    EXPECT_FALSE(UseGaussQuadrature(options, Method(backward), 2, 1000)) << backward;
  }
  options.quadrature = Quadrature::kCvodes;
  EXPECT_FALSE(UseGaussQuadrature(options, Method("cvodes_bdf"), 2, 1000));
  EXPECT_FALSE(UseControlledGauss(options, Method("cvodes_bdf"), 2, 1));
  options.quadrature = Quadrature::kGauss;
  EXPECT_FALSE(UseControlledGauss(options, Method("cvodes_bdf"), 2, 1));
}

// jump_layer "auto": the Gauss quadrature, a cvodes_bdf backward, n + p + 1 ≤ 64 and no
// explicit fundamental matrix; "on" with any CVODES backward; "off" never.
TEST(CvodesStrategyChoice, JumpLayerRules) {
  Own options;
  EXPECT_TRUE(UseJumpLayer(options, Method("cvodes_bdf"), 3, 60, true));
  EXPECT_FALSE(UseJumpLayer(options, Method("cvodes_bdf"), 3, 61, true));
  EXPECT_FALSE(UseJumpLayer(options, Method("cvodes_bdf"), 3, 3, false));
  EXPECT_FALSE(UseJumpLayer(options, Method("cvodes_adams"), 3, 3, true));
  options.observations = Observations::kFundamental;
  EXPECT_FALSE(UseJumpLayer(options, Method("cvodes_bdf"), 3, 3, true));
  options = Own();
  options.jump_layer = Layer::kOn;
  EXPECT_TRUE(UseJumpLayer(options, Method("cvodes_adams"), 3, 1000, false));
  EXPECT_FALSE(UseJumpLayer(options, Method("dopri5"), 3, 3, false));
  options.jump_layer = Layer::kOff;
  EXPECT_FALSE(UseJumpLayer(options, Method("cvodes_bdf"), 3, 3, true));
}

// observations "auto": the Gauss quadrature without the jump layer, n ≤ 8 and many
// observations; "restart" never, "fundamental" with any CVODES backward.
TEST(CvodesStrategyChoice, FundamentalMatrixRules) {
  Own options;
  EXPECT_TRUE(UseFundamentalMatrix(options, Method("cvodes_bdf"), 8, true, false, true));
  EXPECT_FALSE(UseFundamentalMatrix(options, Method("cvodes_bdf"), 9, true, false, true));
  EXPECT_FALSE(UseFundamentalMatrix(options, Method("cvodes_bdf"), 2, false, false, true));
  EXPECT_FALSE(UseFundamentalMatrix(options, Method("cvodes_bdf"), 2, true, true, true));
  EXPECT_FALSE(UseFundamentalMatrix(options, Method("cvodes_bdf"), 2, true, false, false));
  options.observations = Observations::kRestart;
  EXPECT_FALSE(UseFundamentalMatrix(options, Method("cvodes_bdf"), 2, true, false, true));
  options.observations = Observations::kFundamental;
  EXPECT_TRUE(UseFundamentalMatrix(options, Method("cvodes_bdf"), 20, false, true, false));
  EXPECT_FALSE(UseFundamentalMatrix(options, Method("dopri5"), 2, true, false, true));
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
  const Own defaults;
  // A non-CVODES backward: epi2 or the interpolating adjoint, never with the jump layer.
  CvodesBackwardChoice choice = ChooseCvodesBackward(defaults, Caps("epi2"), 2, 100, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kExponential);
  EXPECT_FALSE(choice.jump_layer);
  choice = ChooseCvodesBackward(defaults, Caps("dopri5"), 2, 100, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kRegistry);
  // Decided by the declared capabilities alone: a step hook without output jumps is still the
  // interpolating adjoint (one solve per interval); without a step hook, the linear system.
  IntegratorCapabilities declared = Caps("dopri5");
  declared.output_jumps = false;
  EXPECT_EQ(ChooseCvodesBackward(defaults, declared, 2, 100, true).kind,
            CvodesBackwardKind::kRegistry);
  declared.step_hook = false;
  declared.dense_output_order = 0;
  EXPECT_EQ(ChooseCvodesBackward(defaults, declared, 2, 100, true).kind,
            CvodesBackwardKind::kExponential);
  declared = IntegratorCapabilities();
  declared.cvodes_method = CvodesMethod::kBdf;
  EXPECT_EQ(ChooseCvodesBackward(defaults, declared, 3, 3, true).kind,
            CvodesBackwardKind::kControlledGauss);
  // Few parameters: Gauss on the steps of CVODES' quadrature, no layer (Robertson,
  // Lotka–Volterra); CVODES' quadrature alone when asked for.
  choice = ChooseCvodesBackward(defaults, Caps("cvodes_bdf"), 3, 3, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kControlledGauss);
  EXPECT_FALSE(choice.jump_layer);
  Own cvodes;
  cvodes.quadrature = Quadrature::kCvodes;
  EXPECT_EQ(ChooseCvodesBackward(cvodes, Caps("cvodes_bdf"), 3, 3, true).kind,
            CvodesBackwardKind::kCvodesQuadrature);
  // Many parameters, BDF: Gauss with restarts and the jump layer (it turns the fundamental
  // matrix off), or without the layer when the backward system is too large for it.
  choice = ChooseCvodesBackward(defaults, Caps("cvodes_bdf"), 2, 42, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kGaussRestart);
  EXPECT_TRUE(choice.jump_layer);
  choice = ChooseCvodesBackward(defaults, Caps("cvodes_bdf"), 2, 1218, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kFundamental);
  choice = ChooseCvodesBackward(defaults, Caps("cvodes_bdf"), 2, 1218, false);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kGaussRestart);
  EXPECT_FALSE(choice.jump_layer);
  // Adams: no automatic layer, so the fundamental matrix with many observations.
  EXPECT_EQ(ChooseCvodesBackward(defaults, Caps("cvodes_adams"), 2, 42, true).kind,
            CvodesBackwardKind::kFundamental);
  // With "on": the layer on top of the controlled Gauss quadrature or of CVODES' quadrature.
  Own options;
  options.jump_layer = Layer::kOn;
  choice = ChooseCvodesBackward(options, Caps("cvodes_bdf"), 3, 3, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kControlledGauss);
  EXPECT_TRUE(choice.jump_layer);
  options.quadrature = Quadrature::kCvodes;
  choice = ChooseCvodesBackward(options, Caps("cvodes_bdf"), 3, 3, true);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kCvodesQuadrature);
  EXPECT_TRUE(choice.jump_layer);
}

TEST(CvodesStrategyChoice, ExplicitFundamentalMatrixNeedsGaussAndNoLayer) {
  Own options;
  options.observations = Observations::kFundamental;
  options.quadrature = Quadrature::kGauss;
  const CvodesBackwardChoice choice =
      ChooseCvodesBackward(options, Caps("cvodes_bdf"), 2, 42, false);
  EXPECT_EQ(choice.kind, CvodesBackwardKind::kFundamental);
  EXPECT_FALSE(choice.jump_layer);
  options.jump_layer = Layer::kOn;
  EXPECT_THROW(ChooseCvodesBackward(options, Caps("cvodes_bdf"), 2, 42, false), ConfigError);
  options.jump_layer = Layer::kAuto;
  options.quadrature = Quadrature::kCvodes;
  EXPECT_THROW(ChooseCvodesBackward(options, Caps("cvodes_bdf"), 2, 42, false), ConfigError);
}

TEST(CvodesStrategyChoice, ValidationNamesTheOffendingOption) {
  EXPECT_NO_THROW(ValidateCvodesAdjointOptions(Options(), Own()));
  EXPECT_NO_THROW(ValidateCvodesAdjointOptions(Options("cvodes_adams", "dopri5"), Own()));
  // heun (a StepIntegrator, so with output jumps) is a valid backward integrator; one without
  // jumps is accepted too (one solve per interval: integrator_capabilities_test).
  const CvodesAdjointIntegrators integrators =
      ValidateCvodesAdjointOptions(Options("cvodes_bdf", "heun"), Own());
  EXPECT_EQ(integrators.forward.cvodes_method, CvodesMethod::kBdf);
  EXPECT_TRUE(integrators.backward.output_jumps);
  const std::vector<GradientOptions> bad = {Options("dopri5"),
                                            Options("cvodes_bdf", "no_such_integrator")};
  for (const GradientOptions& options : bad) {
    EXPECT_THROW(ValidateCvodesAdjointOptions(options, Own()), ConfigError)
        << options.integrator << "/" << options.backward_integrator;
  }
  Own zero_interval;
  zero_interval.checkpoint_interval = 0;
  EXPECT_THROW(ValidateCvodesAdjointOptions(Options(), zero_interval), ConfigError);
  Own fundamental;
  fundamental.observations = Observations::kFundamental;
  try {
    ValidateCvodesAdjointOptions(Options("cvodes_bdf", "epi2"), fundamental);
    FAIL() << "a fundamental matrix with epi2 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("observations 'fundamental'"), std::string::npos)
        << e.what();
  }
  // CVODES' quadrature needs a CVODES backward; Gauss and auto go with any.
  Own cvodes_quadrature;
  cvodes_quadrature.quadrature = Quadrature::kCvodes;
  EXPECT_NO_THROW(
      ValidateCvodesAdjointOptions(Options("cvodes_bdf", "cvodes_adams"), cvodes_quadrature));
  try {
    ValidateCvodesAdjointOptions(Options("cvodes_bdf", "sdirk"), cvodes_quadrature);
    FAIL() << "CVODES' quadrature with an sdirk backward was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("quadrature 'cvodes'"), std::string::npos) << e.what();
  }
  Own gauss;
  gauss.quadrature = Quadrature::kGauss;
  EXPECT_NO_THROW(ValidateCvodesAdjointOptions(Options("cvodes_bdf", "sdirk"), gauss));
}

}  // namespace
}  // namespace snode
