// Tests of the gradient methods' options: the shared GradientOptions, each built-in method's own
// options struct read from Settings (GradientOptions::method_settings), the registry factories
// that read them, and the rules that decide what an option means for a given problem.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "adjoint/backsolve_adjoint.hpp"
#include "adjoint/backsolve_adjoint_options.hpp"
#include "adjoint/bptt.hpp"
#include "adjoint/bptt_options.hpp"
#include "adjoint/cvodes_adjoint_options.hpp"
#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"

namespace snode {
namespace {

// The ConfigError message of fn, or "" when it does not throw one.
template <class Fn>
std::string ConfigErrorOf(Fn fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(GradientOptions, BackwardDefaultsToTheForwardIntegratorAndOptions) {
  GradientOptions options;
  options.integrator = "cvodes_bdf";
  options.integrator_options.rtol = 1e-9;
  EXPECT_EQ(options.EffectiveBackwardIntegrator(), "cvodes_bdf");
  EXPECT_EQ(options.EffectiveBackwardOptions().rtol, 1e-9);
  options.backward_integrator = "dopri5";
  options.backward_options = options.integrator_options;
  options.backward_options->rtol = 1e-4;
  EXPECT_EQ(options.EffectiveBackwardIntegrator(), "dopri5");
  EXPECT_EQ(options.EffectiveBackwardOptions().rtol, 1e-4);
  EXPECT_EQ(options.integrator_options.rtol, 1e-9);
}

TEST(GradientOptions, ValidatesTheBackwardOptionsOnlyWhenGiven) {
  GradientOptions options;
  EXPECT_NO_THROW(options.Validate());
  options.backward_options = IntegratorOptions();
  options.backward_options->atol = -1.0;
  EXPECT_THROW(options.Validate(), ConfigError);
}

TEST(BpttOptions, FromSettingsReadsItsOptionAndRejectsOthers) {
  EXPECT_EQ(BpttOptions::FromSettings({}).max_trajectory_bytes, BpttOptions().max_trajectory_bytes);
  EXPECT_EQ(BpttOptions::FromSettings({{"max_trajectory_bytes", "1e6"}}).max_trajectory_bytes, 1e6);
  const std::string foreign = ConfigErrorOf([] {
    BpttOptions::FromSettings({{"seminorm", "off"}});
  });
  EXPECT_NE(foreign.find("gradient 'bptt' has no setting seminorm"), std::string::npos) << foreign;
  EXPECT_NE(foreign.find("max_trajectory_bytes"), std::string::npos) << foreign;
  EXPECT_THROW(BpttOptions::FromSettings({{"max_trajectory_bytes", "-1"}}), ConfigError);
  EXPECT_THROW(BpttOptions::FromSettings({{"max_trajectory_bytes", "lots"}}), ConfigError);
}

TEST(BacksolveOptions, FromSettingsReadsEveryOption) {
  const BacksolveOptions defaults = BacksolveOptions::FromSettings({});
  EXPECT_EQ(defaults.reconstruction_tolerance, 1e-2);
  EXPECT_TRUE(defaults.seminorm);
  EXPECT_TRUE(defaults.quadrature);
  EXPECT_TRUE(defaults.checkpoints);
  const BacksolveOptions read = BacksolveOptions::FromSettings({{"reconstruction_tolerance", "0.5"},
                                                                {"seminorm", "off"},
                                                                {"quadrature", "false"},
                                                                {"checkpoints", "no"}});
  EXPECT_EQ(read.reconstruction_tolerance, 0.5);
  EXPECT_FALSE(read.seminorm);
  EXPECT_FALSE(read.quadrature);
  EXPECT_FALSE(read.checkpoints);
  const std::string misspelt = ConfigErrorOf([] {
    BacksolveOptions::FromSettings({{"checkpoint", "off"}});
  });
  EXPECT_NE(misspelt.find("gradient 'backsolve_adjoint' has no setting checkpoint"),
            std::string::npos)
      << misspelt;
  EXPECT_THROW(BacksolveOptions::FromSettings({{"seminorm", "maybe"}}), ConfigError);
  EXPECT_THROW(BacksolveOptions::FromSettings({{"reconstruction_tolerance", "0"}}), ConfigError);
}

TEST(BacksolveOptions, QuadratureAdjointNeedsAnExplicitBackwardWithOutputJumps) {
  BacksolveOptions options;
  const auto declared = [](const std::string& name) {
    IntegratorOptions io;
    io.fixed_step = name == "rk4" || name == "euler" ? 0.1 : 0.0;
    return IntegratorRegistry().Create(name, io)->Capabilities();
  };
  for (const char* name : {"dopri5", "rk4", "euler", "heun"}) {
    IntegratorCapabilities capabilities = declared(name);
    EXPECT_TRUE(UseQuadratureAdjoint(options, capabilities)) << name;
    capabilities.output_jumps = false;
    EXPECT_FALSE(UseQuadratureAdjoint(options, capabilities)) << name;
    capabilities = declared(name);
    capabilities.step_hook = false;
    capabilities.dense_output_order = 0;
    EXPECT_FALSE(UseQuadratureAdjoint(options, capabilities)) << name;
  }
  for (const char* name : {"sdirk", "cvodes_bdf", "epi2"}) {
    EXPECT_FALSE(UseQuadratureAdjoint(options, declared(name))) << name;
  }
  options.quadrature = false;
  EXPECT_FALSE(UseQuadratureAdjoint(options, declared("dopri5")));
}

TEST(BacksolveOptions, SeminormOnlyOnTheAugmentedPathWithoutGmres) {
  BacksolveOptions options;
  IntegratorOptions dense, gmres;
  gmres.linear_solver = "gmres";
  EXPECT_TRUE(UseSeminorm(options, false, dense));
  EXPECT_FALSE(UseSeminorm(options, true, dense));
  EXPECT_FALSE(UseSeminorm(options, false, gmres));
  options.seminorm = false;
  EXPECT_FALSE(UseSeminorm(options, false, dense));
}

TEST(CvodesAdjointOptions, FromSettingsReadsEveryOption) {
  using O = CvodesAdjointOptions;
  const O defaults = O::FromSettings({});
  EXPECT_EQ(defaults.checkpoint_interval, 100);
  EXPECT_EQ(defaults.interpolation, O::Interpolation::kHermite);
  EXPECT_EQ(defaults.quadrature, O::Quadrature::kAuto);
  EXPECT_EQ(defaults.jump_layer, O::JumpLayer::kAuto);
  EXPECT_EQ(defaults.observations, O::Observations::kAuto);
  EXPECT_EQ(defaults.fundamental_condition, 1e3);
  EXPECT_EQ(defaults.fundamental_growth, 1e3);
  const O read = O::FromSettings({{"checkpoint_interval", "20"},
                                  {"interpolation", "polynomial"},
                                  {"quadrature", "gauss"},
                                  {"jump_layer", "off"},
                                  {"observations", "fundamental"},
                                  {"fundamental_condition", "50"},
                                  {"fundamental_growth", "1"}});
  EXPECT_EQ(read.fundamental_condition, 50.0);
  EXPECT_EQ(read.fundamental_growth, 1.0);
  EXPECT_EQ(read.checkpoint_interval, 20);
  EXPECT_EQ(read.interpolation, O::Interpolation::kPolynomial);
  EXPECT_EQ(read.quadrature, O::Quadrature::kGauss);
  EXPECT_EQ(read.jump_layer, O::JumpLayer::kOff);
  EXPECT_EQ(read.observations, O::Observations::kFundamental);
  const std::string bad = ConfigErrorOf([] { O::FromSettings({{"quadrature", "simpson"}}); });
  EXPECT_NE(bad.find("quadrature must be one of auto, gauss, cvodes, got 'simpson'"),
            std::string::npos)
      << bad;
  EXPECT_THROW(O::FromSettings({{"checkpoint_interval", "0"}}), ConfigError);
  const std::string condition = ConfigErrorOf([] {
    O::FromSettings({{"fundamental_condition", "1"}});
  });
  EXPECT_NE(condition.find("fundamental_condition must be greater than 1"), std::string::npos)
      << condition;
  const std::string growth = ConfigErrorOf([] {
    O::FromSettings({{"fundamental_growth", "0.5"}});
  });
  EXPECT_NE(growth.find("fundamental_growth must be at least 1"), std::string::npos) << growth;
  EXPECT_THROW(O::FromSettings({{"cvodes_quadrature", "gauss"}}), ConfigError);
}

// The registry's factories read the method's settings, so a misspelt or foreign name is an error
// and a given value reaches the method.
TEST(GradientRegistryOptions, FactoriesReadTheMethodSettings) {
  if (!IntegratorRegistry().Contains("dopri5")) GTEST_SKIP() << "dopri5 not registered";
  GradientOptions options;
  options.integrator = "dopri5";
  options.method_settings.Set("checkpoints", "off");
  const auto backsolve = GradientRegistry().Create("backsolve_adjoint", options);
  ASSERT_NE(dynamic_cast<const BacksolveAdjoint*>(backsolve.get()), nullptr);
  EXPECT_FALSE(dynamic_cast<const BacksolveAdjoint&>(*backsolve).method_options().checkpoints);
  const std::string foreign = ConfigErrorOf([&] { GradientRegistry().Create("bptt", options); });
  EXPECT_NE(foreign.find("gradient 'bptt' has no setting checkpoints"), std::string::npos)
      << foreign;
  options.method_settings = Settings{{"max_trajectory_bytes", "1000"}};
  const auto bptt = GradientRegistry().Create("bptt", options);
  EXPECT_EQ(dynamic_cast<const Bptt&>(*bptt).method_options().max_trajectory_bytes, 1000.0);
  if (IntegratorRegistry().Contains("cvodes_bdf")) {
    options.integrator = "cvodes_bdf";
    options.method_settings = Settings{{"observation", "restart"}};
    EXPECT_THROW(GradientRegistry().Create("cvodes_adjoint", options), ConfigError);
  }
}

}  // namespace
}  // namespace snode
