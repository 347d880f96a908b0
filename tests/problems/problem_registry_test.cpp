// problems/problem_registry: every built-in problem is made at each of its default λ with
// consistent sizes and a finite loss, declares sane capabilities, and - where it declares an
// exact gradient - that gradient agrees with central differences of a tight cvodes_bdf solve
// (rtol 1e-12, step 1e-6) to 1e-5 relative per component (floor 1e-3·‖g‖∞; wider where the
// differences' truncation error is larger, see DifferenceTolerance); bad names and out-of-range λ
// are ConfigErrors that say what is wrong.
#include "problems/problem_registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "problems/decay.hpp"
#include "problems/reference.hpp"

namespace snode::problems {
namespace {

std::string ConfigErrorOf(const std::function<void()>& run) {
  try {
    run();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ctest runs each test in its own process, so here the registry's first use is concurrent: every
// thread sees the one registry with every built-in registered once.
TEST(ProblemRegistry, FirstUseFromSeveralThreadsSeesOneCompleteRegistry) {
  std::vector<const ProblemRegistryType*> seen(4);
  std::vector<std::size_t> sizes(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      seen[i] = &ProblemRegistry();
      sizes[i] = seen[i]->Names().size();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], &ProblemRegistry());
    EXPECT_EQ(sizes[i], 12u);  // the built-ins of HasTheBuiltins
  }
}

TEST(ProblemRegistry, HasTheBuiltins) {
  for (const char* name :
       {"w1", "w1b", "robertson", "robertson_sum", "vdp", "lotka_volterra", "nonnormal", "neural",
        "oregonator", "boundary_layer", "stiff_mlp", "reaction_diffusion"}) {
    EXPECT_TRUE(ProblemRegistry().Contains(name)) << name;
  }
}

void ExpectSaneCapabilities(const std::string& name, const ProblemCapabilities& c) {
  EXPECT_FALSE(c.description.empty()) << name;
  EXPECT_EQ(c.description.find('\n'), std::string::npos) << name;
  EXPECT_FALSE(c.parameter.empty()) << name;
  ASSERT_FALSE(c.default_lambdas.empty()) << name;
  EXPECT_TRUE(std::is_sorted(c.default_lambdas.begin(), c.default_lambdas.end())) << name;
  if (c.sweeps) {
    EXPECT_FALSE(c.parameter_meaning.empty()) << name;
    for (const double lambda : c.default_lambdas) EXPECT_GE(lambda, c.min_lambda) << name;
  } else {
    EXPECT_EQ(c.default_lambdas.size(), 1u) << name;
  }
  EXPECT_GT(c.atol_scale, 0.0) << name;
  EXPECT_LE(c.atol_scale, 1.0) << name;
  EXPECT_GT(c.fixed_steps, 0) << name;
}

// Sizes agree with the field, times increase after t0, f(z0) and one tight solve's loss are
// finite, the exact gradient is there exactly when declared.
void ExpectValidSetup(const std::string& name, const ProblemCapabilities& c,
                      const ProblemSetup& setup) {
  const OdeProblem& ode = setup.ode;
  ASSERT_TRUE(ode.field) << name;
  ASSERT_TRUE(setup.loss) << name;
  EXPECT_EQ(setup.name, name);
  EXPECT_EQ(ode.z0.size(), ode.field->state_size()) << name;
  EXPECT_EQ(ode.theta.size(), ode.field->num_params()) << name;
  ASSERT_FALSE(ode.output_times.empty()) << name;
  EXPECT_GE(ode.output_times.front(), ode.t0) << name;
  EXPECT_TRUE(std::is_sorted(ode.output_times.begin(), ode.output_times.end())) << name;
  EXPECT_TRUE(ode.z0.allFinite() && ode.theta.allFinite()) << name;
  Vector f(ode.z0.size());
  ode.field->Clone()->F(ode.t0, ode.z0, ode.theta, f);
  EXPECT_TRUE(f.allFinite()) << name;
  EXPECT_EQ(setup.exact_gradient.has_value(), c.exact_gradient) << name;
  if (setup.exact_gradient) {
    EXPECT_EQ(setup.exact_gradient->size(), ode.theta.size() + ode.z0.size()) << name;
    EXPECT_TRUE(setup.exact_gradient->allFinite()) << name;
  }
  IntegratorOptions options;
  options.rtol = 1e-8;
  options.atol = 1e-8 * c.atol_scale;
  auto integrator = IntegratorRegistry().Create("cvodes_bdf", options);
  EXPECT_TRUE(std::isfinite(EvaluateLoss(ode, *setup.loss, *integrator))) << name;
}

TEST(ProblemRegistry, EveryBuiltinIsValidAtItsDefaultLambdas) {
  if (!IntegratorRegistry().Contains("cvodes_bdf")) GTEST_SKIP() << "no cvodes_bdf";
  for (const std::string& name : ProblemRegistry().Names()) {
    const auto definition = ProblemRegistry().Create(name, ProblemOptions());
    const ProblemCapabilities c = definition->Capabilities();
    ExpectSaneCapabilities(name, c);
    for (const double lambda : c.default_lambdas) {
      SCOPED_TRACE(name + " at " + std::to_string(lambda));
      const ProblemSetup setup = definition->Make(lambda);
      ExpectValidSetup(name, c, setup);
      if (c.sweeps) {
        EXPECT_EQ(setup.stiffness, lambda) << name;
      }
    }
  }
}

// The differences' step h_i = 1e-6·max(1, |x_i|) limits their accuracy where L curves strongly:
// on nonnormal (s = 1e5) h moves the entries of A by 0.1 … 0.5 and the non-normal exponential's
// truncation error is ≈ 8e-4 (measured); on boundary_layer (λ = 1e4) ≈ 8e-5.
double DifferenceTolerance(const std::string& name) {
  if (name == "nonnormal") return 2e-3;
  if (name == "boundary_layer") return 3e-4;
  return 1e-5;
}

// What a study's first run does: cvodes_adjoint at rtol 1e-6 on every built-in at every default λ
// (van der Pol up to μ = 1e5, Robertson to T = 1e5) returns a finite loss and gradient.
TEST(ProblemRegistry, EveryBuiltinHasAFiniteCvodesAdjointGradient) {
  if (!GradientRegistry().Contains("cvodes_adjoint")) GTEST_SKIP() << "no cvodes_adjoint";
  for (const std::string& name : ProblemRegistry().Names()) {
    const auto definition = ProblemRegistry().Create(name, ProblemOptions());
    const ProblemCapabilities c = definition->Capabilities();
    GradientOptions options;
    options.integrator = "cvodes_bdf";
    options.integrator_options.rtol = 1e-6;
    options.integrator_options.atol = 1e-6 * c.atol_scale;
    for (const double lambda : c.default_lambdas) {
      const ProblemSetup setup = definition->Make(lambda);
      const LossAndGradient result =
          GradientRegistry().Create("cvodes_adjoint", options)->Compute(setup.ode, *setup.loss);
      EXPECT_TRUE(std::isfinite(result.loss)) << name << " at " << lambda;
      EXPECT_TRUE(result.Joined().allFinite()) << name << " at " << lambda;
      EXPECT_EQ(result.Joined().size(), setup.ode.theta.size() + setup.ode.z0.size()) << name;
    }
  }
}

TEST(ProblemRegistry, ExactGradientsAgreeWithCentralDifferences) {
  if (!IntegratorRegistry().Contains("cvodes_bdf")) GTEST_SKIP() << "no cvodes_bdf";
  int checked = 0;
  for (const std::string& name : ProblemRegistry().Names()) {
    const auto definition = ProblemRegistry().Create(name, ProblemOptions());
    const ProblemCapabilities c = definition->Capabilities();
    if (!c.exact_gradient) continue;
    const double lambda = c.default_lambdas.front();
    const ProblemSetup setup = definition->Make(lambda);
    const ReferenceTolerances tight = ReferenceTolerancesFor(setup, c.atol_scale);
    const LossAndGradient fd = CentralDifferenceGradient(setup.ode, *setup.loss,
                                                         TightGradientOptions("cvodes_bdf", tight));
    const double agreement = ReferenceAgreement(*setup.exact_gradient, fd.Joined());
    EXPECT_LT(agreement, DifferenceTolerance(name)) << name << " at " << lambda;
    ++checked;
  }
  EXPECT_GE(checked, 4);  // w1, w1b, nonnormal, boundary_layer
}

TEST(ProblemRegistry, UnknownNameIsAConfigErrorListingTheNames) {
  const std::string message =
      ConfigErrorOf([] { ProblemRegistry().Create("no_such_problem", ProblemOptions()); });
  EXPECT_TRUE(Contains(message, "unknown problem 'no_such_problem'")) << message;
  EXPECT_TRUE(Contains(message, "robertson, robertson_sum")) << message;
  EXPECT_TRUE(Contains(message, "w1, w1b")) << message;
}

TEST(ProblemRegistry, LambdaOutOfRangeIsAConfigErrorNamingProblemAndRange) {
  const auto nonnormal = ProblemRegistry().Create("nonnormal", ProblemOptions());
  EXPECT_EQ(nonnormal->Capabilities().min_lambda, 1.0);
  std::string message = ConfigErrorOf([&] { nonnormal->Make(0.5); });
  EXPECT_TRUE(Contains(message, "problem 'nonnormal'")) << message;
  EXPECT_TRUE(Contains(message, "s = 0.5")) << message;
  EXPECT_TRUE(Contains(message, "≥ 1")) << message;
  const auto w1 = ProblemRegistry().Create("w1", ProblemOptions());
  message = ConfigErrorOf([&] { w1->Make(0.0); });
  EXPECT_TRUE(Contains(message, "problem 'w1'")) << message;
  EXPECT_TRUE(Contains(message, "> 0")) << message;
  ConfigErrorOf([&] { w1->Make(std::numeric_limits<double>::quiet_NaN()); });
  ConfigErrorOf([&] { w1->Make(std::numeric_limits<double>::infinity()); });
  const auto sum = ProblemRegistry().Create("robertson_sum", ProblemOptions());
  message = ConfigErrorOf([&] { sum->Make(1e-6); });  // before the first observation
  EXPECT_TRUE(Contains(message, "T = 1e-06")) << message;
}

TEST(ProblemRegistry, ProblemThatDoesNotSweepIgnoresLambda) {
  const auto lv = ProblemRegistry().Create("lotka_volterra", ProblemOptions());
  EXPECT_FALSE(lv->Capabilities().sweeps);
  const ProblemSetup a = lv->Make(123.0);
  const ProblemSetup b = lv->Make(lv->Capabilities().default_lambdas.front());
  EXPECT_EQ(a.ode.theta, b.ode.theta);
  EXPECT_EQ(a.ode.output_times, b.ode.output_times);
}

TEST(ProblemRegistry, SeedReachesProblemsWithRandomParts) {
  ProblemOptions other;
  other.seed = 5;
  const ProblemSetup a = ProblemRegistry().Create("neural", ProblemOptions())->Make(1e3);
  const ProblemSetup b = ProblemRegistry().Create("neural", other)->Make(1e3);
  EXPECT_NE(a.ode.theta, b.ode.theta);
}

TEST(ProblemRegistry, MakeIsSafeFromSeveralThreads) {
  const auto definition = ProblemRegistry().Create("w1b", ProblemOptions());
  ProblemSetup first, second;
  std::thread one([&] { first = definition->Make(1e3); });
  std::thread two([&] { second = definition->Make(1e3); });
  one.join();
  two.join();
  EXPECT_EQ(*first.exact_gradient, *second.exact_gradient);
  EXPECT_EQ(*first.exact_gradient, TwoRateDecayExactGradient(1e3));
}

TEST(MakeProblemDefinition, ChecksItsArguments) {
  ProblemCapabilities c;
  c.description = "decay";
  c.sweeps = true;
  std::string message = ConfigErrorOf(
      [&] { MakeProblemDefinition("mine", c, [](double l) { return MakeDecay(l); }); });
  EXPECT_TRUE(Contains(message, "problem 'mine' sweeps λ but has no default values")) << message;
  c.default_lambdas = {1.0};
  message = ConfigErrorOf([&] { MakeProblemDefinition("mine", c, nullptr); });
  EXPECT_TRUE(Contains(message, "problem 'mine' needs a function")) << message;
  c.min_lambda = 2.0;
  message = ConfigErrorOf(
      [&] { MakeProblemDefinition("mine", c, [](double l) { return MakeDecay(l); }); });
  EXPECT_TRUE(Contains(message, "λ = 1 is out of range")) << message;
  // Without a name: the description names the problem; the factory's name is kept.
  c.min_lambda = 0.0;
  const auto unnamed = MakeProblemDefinition(c, [](double l) { return MakeDecay(l); });
  EXPECT_EQ(unnamed->Make(3.0).name, "decay");
  message = ConfigErrorOf([&] { unnamed->Make(-1.0); });
  EXPECT_TRUE(Contains(message, "problem 'decay'")) << message;
}

TEST(ProblemRegistry, LibraryApiAddsAProblemUsableByName) {
  ProblemCapabilities c;
  c.description = "decay with an exact gradient, added by the test";
  c.sweeps = true;
  c.default_lambdas = {2.0};
  c.exact_gradient = true;
  ProblemRegistry().Add("test_added_decay", [c](const ProblemOptions&) {
    return MakeProblemDefinition("test_added_decay", c, [](double l) { return MakeDecay(l); });
  });
  const ProblemSetup setup = ProblemRegistry().Create("test_added_decay", {})->Make(2.0);
  EXPECT_EQ(setup.name, "test_added_decay");
  EXPECT_EQ(*setup.exact_gradient, DecayExactGradient(2.0));
}

}  // namespace
}  // namespace snode::problems
