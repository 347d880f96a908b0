// Steady-state heap allocations of the gradient methods: after a warm-up, a Compute() on a
// problem that takes few steps allocates exactly as often as one on a problem that takes many
// steps (same MLP 2-32-32-2 field, MSE loss and 5 output times; horizon 0.5 vs 20, and for
// adaptive integrators tolerances 100 times tighter), i.e. 0 allocations per forward and per
// backward step. Cases: bptt with dopri5, sdirk (adaptive) and rk4 (fixed step);
// backsolve_adjoint with dopri5; cvodes_adjoint with cvodes_bdf and cvodes_adams. The warm-up runs
// the many-step problem first, so that workspaces that grow with the trajectory (bptt's stored
// steps) reach their final size there.
//
// What is counted: calls of the C++ global operator new / new[] (plain, nothrow, aligned),
// replaced below and counted into a global atomic. SUNDIALS and the other C libraries allocate
// with malloc, which is NOT counted here: CVODES checkpoints (CVodeF stores one per
// checkpoint_interval steps with malloc) and other C-level allocations are outside this test.
// Eigen's heap storage goes through std::malloc as well and is not seen either.
// Under sanitizers the replacement is compiled out (they supply their own operator new).
//
// When the counts differ, the call stacks of the many-step Compute()'s extra allocations are
// printed (backtrace_symbols_fd; resolve the addresses with addr2line -C -f -e <test binary>).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "core/ode_problem.hpp"
#include "integrators/integrator.hpp"
#include "models/mlp.hpp"
#include "tests/test_util/allocation_counter.hpp"

namespace snode {
namespace {

using test_util::CallStack;
using test_util::NewCounter;
using test_util::PrintExtraAllocations;

MlpOptions Mlp() {
  MlpOptions options;
  options.widths = {2, 32, 32, 2};
  options.activations = {"tanh"};
  return options;
}

constexpr int kOutputs = 5;

OdeProblem MlpProblem(double horizon) {
  OdeProblem problem;
  auto field = std::make_shared<MlpField>(Mlp());
  problem.theta = field->InitialParams(5);
  problem.field = field;
  problem.z0 = (Vector(2) << 1.0, -0.5).finished();
  problem.t0 = 0.0;
  for (int i = 1; i <= kOutputs; ++i) problem.output_times.push_back(horizon * i / kOutputs);
  return problem;
}

MseLoss Targets() {
  std::vector<Vector> targets;
  for (int i = 0; i < kOutputs; ++i) targets.push_back((Vector(2) << 0.3 * i, -0.1 * i).finished());
  return MseLoss(std::move(targets));
}

struct GradientCase {
  std::string method;
  std::string integrator;
  double fixed_step;
};

// Every registered method with the integrators listed here; a method the table does not know
// is run with dopri5, so a new registration is covered too.
std::vector<GradientCase> GradientCases() {
  std::vector<GradientCase> cases;
  for (const std::string& method : GradientRegistry().Names()) {
    // finite_difference is a reference, not a training method: a whole solve per difference,
    // and a diagnosis (a string) whose presence depends on the tolerances.
    if (method == "finite_difference") continue;
    if (method == "bptt") {
      cases.push_back({method, "dopri5", 0.0});
      cases.push_back({method, "sdirk", 0.0});
      cases.push_back({method, "rk4", 0.02});
    } else if (method == "cvodes_adjoint") {
      cases.push_back({method, "cvodes_bdf", 0.0});
      cases.push_back({method, "cvodes_adams", 0.0});
    } else {
      cases.push_back({method, "dopri5", 0.0});
    }
  }
  return cases;
}

void PrintTo(const GradientCase& c, std::ostream* os) { *os << c.method << "/" << c.integrator; }

std::string CaseName(const ::testing::TestParamInfo<GradientCase>& info) {
  return info.param.method + "_" + info.param.integrator;
}

class GradientSteps : public ::testing::TestWithParam<GradientCase> {};

// The few-step run: horizon 0.5 at rtol 1e-6 / atol 1e-8; the many-step run: horizon 20 and,
// for adaptive integrators, a second instance with tolerances 100 times tighter (the MLP's flow
// settles, so the horizon alone adds few steps). Same 5 output times and MSE loss in both.
TEST_P(GradientSteps, DoNotAllocateInSteadyState) {
  SKIP_WITHOUT_COUNTER();
  const GradientCase& c = GetParam();
  NewCounter counter;
  const OdeProblem few = MlpProblem(0.5);
  const OdeProblem many = MlpProblem(20.0);
  const MseLoss loss = Targets();
  const std::string label = c.method + "/" + c.integrator;
  GradientOptions options[2];
  for (int k = 0; k < 2; ++k) {
    const double tighten = (k == 1 && c.fixed_step == 0.0) ? 1e-2 : 1.0;
    options[k].integrator = c.integrator;
    options[k].integrator_options.rtol = 1e-6 * tighten;
    options[k].integrator_options.atol = 1e-8 * tighten;
    options[k].integrator_options.fixed_step = c.fixed_step;
  }
  std::unique_ptr<GradientMethod> methods[2] = {GradientRegistry().Create(c.method, options[0]),
                                                GradientRegistry().Create(c.method, options[1])};
  for (auto& method : methods) {
    method->Compute(many, loss);  // warm-up, many-step problem first
    method->Compute(few, loss);
  }
  long allocations[2] = {0, 0}, forward_steps[2] = {0, 0}, backward_steps[2] = {0, 0};
  std::vector<CallStack> stacks[2];
  const OdeProblem* problems[2] = {&few, &many};
  for (int k = 0; k < 2; ++k) {
    counter.Start();
    {
      const LossAndGradient result = methods[k]->Compute(*problems[k], loss);
      forward_steps[k] = result.stats.forward_steps;
      backward_steps[k] = result.stats.backward_steps;
      EXPECT_TRUE(result.dtheta.allFinite());
    }
    allocations[k] = counter.Stop();
    stacks[k] = counter.Stacks();
  }
  if (allocations[1] != allocations[0]) PrintExtraAllocations(label, stacks[1], stacks[0]);
  std::printf("%-28s outputs %d: %4ld+%4ld steps -> %3ld operator new; %5ld+%5ld steps -> %3ld\n",
              label.c_str(), kOutputs, forward_steps[0], backward_steps[0], allocations[0],
              forward_steps[1], backward_steps[1], allocations[1]);
  EXPECT_GT(forward_steps[1], 4 * forward_steps[0]);
  EXPECT_EQ(allocations[1], allocations[0])
      << "allocations per Compute() differ between " << forward_steps[0] << "+" << backward_steps[0]
      << " and " << forward_steps[1] << "+" << backward_steps[1] << " forward+backward steps";
}

INSTANTIATE_TEST_SUITE_P(AllMethods, GradientSteps, ::testing::ValuesIn(GradientCases()), CaseName);

}  // namespace
}  // namespace snode
