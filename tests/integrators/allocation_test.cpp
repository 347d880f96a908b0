// Steady-state heap allocations of the right-hand-side callbacks and of integrator steps.
//
// Claim under test: after a warm-up, a right-hand-side call (and a JVP or dense-Jacobian call)
// allocates nothing, and an integrator step allocates nothing. The second claim is shown by
// solving a problem that takes few steps and one that takes many (same MLP field and number of
// output times; horizon 0.5 vs 20, and for adaptive methods tolerances 100 times tighter): a
// Solve() has a fixed number of allocations (the returned Trajectory), so equal counts after a
// warm-up mean 0 allocations per step. Every integrator in IntegratorRegistry() is covered,
// adaptive and/or fixed-step (whichever it accepts), with the "dense" and "gmres" linear solvers,
// with stop times at the outputs (1 output) and with interpolate_outputs (101 outputs).
//
// What is counted: calls of the C++ global operator new / new[] (plain, nothrow, aligned),
// replaced below and counted into a global atomic. SUNDIALS and the other C libraries allocate
// with malloc, which is NOT counted here: CVODES/ARKODE's own allocations (e.g. CVODES
// checkpoints, re-initialisation) are outside this test. Eigen's heap storage goes through
// std::malloc as well, so a Vector created in a hot path is not seen here either; the MLP's
// malloc-level check is tests/models/mlp_test.cpp (EvaluationDoesNotAllocateInSteadyState).
// Under sanitizers the replacement is compiled out (they supply their own operator new).
//
// When a count is not zero, the call stacks of the extra allocations are printed
// (backtrace_symbols_fd; resolve the addresses with addr2line -C -f -e <test binary>).
#include <gtest/gtest.h>
#include <sunmatrix/sunmatrix_dense.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/callbacks.hpp"
#include "core/errors.hpp"
#include "core/nvector.hpp"
#include "core/ode_problem.hpp"
#include "core/sundials_context.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "tests/test_util/allocation_counter.hpp"

namespace snode {
namespace {

using test_util::CallStack;
using test_util::NewCounter;
using test_util::PrintExtraAllocations;

MlpOptions Mlp(Index batch) {
  MlpOptions options;
  options.widths = {2, 32, 32, 2};
  options.activations = {"tanh"};
  options.batch = batch;
  return options;
}

Vector Wave(Index n, double phase) {
  Vector v(n);
  for (Index i = 0; i < n; ++i) v[i] = 0.8 * std::sin(1.3 * static_cast<double>(i) + phase);
  return v;
}

// ------------------------------------------------------------------ per right-hand-side call
TEST(CounterSelfCheck, CountsEveryOperatorNewVariant) {
  SKIP_WITHOUT_COUNTER();
  NewCounter counter;
  counter.Start();
  auto* a = new double(1.0);
  auto* b = new double[8];
  auto* c = new (std::nothrow) int(3);
  struct alignas(64) Wide {
    double x[8];
  };
  auto* d = new Wide;
  auto* e = new Wide[2];
  std::vector<int> f(10);
  // Escape every pointer: an unobserved new/delete pair may be elided by the optimiser.
  static void* volatile sink;
  sink = a;
  sink = b;
  sink = c;
  sink = d;
  sink = e;
  sink = f.data();
  (void)sink;
  const long count = counter.Stop();
  delete a;
  delete[] b;
  delete c;
  delete d;
  delete[] e;
  EXPECT_EQ(count, 6);
}

enum class Trampoline { kRhs, kJacTimes, kDenseJacobian };

// The trampoline on an MLP 2-32-32-2 tanh with batch 1 and 16 (state wrapped in N_Vectors, a
// CallbackData bound to the field): one warm-up call, then 1000 counted calls; the result must
// equal the field's own.
void ExpectTrampolineDoesNotAllocate(Trampoline which, const std::string& /*case_name*/) {
  NewCounter counter;
  Context ctx;
  for (Index batch : {1, 16}) {
    MlpField field(Mlp(batch));
    const Index n = field.state_size();
    const Vector theta = field.InitialParams(7);
    Vector z = Wave(n, 0.1), v = Wave(n, 0.7), out(n), jv(n), tmp(n);
    NVectorPtr y_nv = WrapNVector(z.data(), n, ctx), v_nv = WrapNVector(v.data(), n, ctx);
    NVectorPtr out_nv = WrapNVector(out.data(), n, ctx), jv_nv = WrapNVector(jv.data(), n, ctx);
    NVectorPtr tmp_nv = WrapNVector(tmp.data(), n, ctx);
    SunMatrixPtr jac(SUNDenseMatrix(n, n, ctx));
    ASSERT_TRUE(jac);
    CallbackData data;
    data.Bind(&field, &theta);
    auto call = [&] {
      switch (which) {
        case Trampoline::kRhs:
          return RhsTrampoline(0.3, y_nv.get(), out_nv.get(), &data);
        case Trampoline::kJacTimes:
          return JacTimesTrampoline(v_nv.get(), jv_nv.get(), 0.3, y_nv.get(), out_nv.get(), &data,
                                    tmp_nv.get());
        case Trampoline::kDenseJacobian:
          return DenseJacobianTrampoline(0.3, y_nv.get(), out_nv.get(), jac.get(), &data,
                                         tmp_nv.get(), tmp_nv.get(), tmp_nv.get());
      }
      return -2;
    };
    ASSERT_EQ(call(), 0);  // warm-up
    int failures = 0;
    counter.Start();
    for (int i = 0; i < 1000; ++i) failures += call() != 0;
    const long count = counter.Stop();
    EXPECT_EQ(failures, 0) << field.name();
    if (count != 0) PrintExtraAllocations(field.name(), counter.Stacks());
    EXPECT_EQ(count, 0) << field.name() << ": operator new calls in 1000 calls";
    EXPECT_EQ(data.rhs_evals + data.jvp_evals + data.jacobian_evals, 1001);
    // The trampoline computed what the field computes.
    switch (which) {
      case Trampoline::kRhs: {
        Vector expected(n);
        field.F(0.3, z, theta, expected);
        EXPECT_EQ(out, expected);
        break;
      }
      case Trampoline::kJacTimes: {
        Vector expected(n);
        field.Jvp(0.3, z, theta, v, expected);
        EXPECT_EQ(jv, expected);
        break;
      }
      case Trampoline::kDenseJacobian: {
        Matrix expected(n, n);
        field.DenseJacobian(0.3, z, theta, expected);
        EXPECT_EQ(Eigen::Map<const Matrix>(SUNDenseMatrix_Data(jac.get()), n, n), expected);
        break;
      }
    }
  }
}

TEST(RhsCallbacks, RhsTrampolineDoesNotAllocateAfterWarmUp) {
  SKIP_WITHOUT_COUNTER();
  ExpectTrampolineDoesNotAllocate(Trampoline::kRhs, "rhs_trampoline");
}

TEST(RhsCallbacks, JacTimesTrampolineDoesNotAllocateAfterWarmUp) {
  SKIP_WITHOUT_COUNTER();
  ExpectTrampolineDoesNotAllocate(Trampoline::kJacTimes, "jac_times_trampoline");
}

TEST(RhsCallbacks, DenseJacobianTrampolineDoesNotAllocateAfterWarmUp) {
  SKIP_WITHOUT_COUNTER();
  ExpectTrampolineDoesNotAllocate(Trampoline::kDenseJacobian, "dense_jacobian_trampoline");
}

// F, Jvp, VjpState, VjpParams and Vjp, 1000 times each after one warm-up call.
void ExpectFieldCallsDoNotAllocate(VectorField& field, const Vector& theta) {
  NewCounter counter;
  const Index n = field.state_size();
  const Vector z = Wave(n, 0.2), v = Wave(n, 1.1);
  Vector out(n), a_state(n), grad = Vector::Zero(field.num_params());
  struct Case {
    const char* name;
    std::function<void()> call;
  };
  const std::vector<Case> cases = {
      {"F", [&] { field.F(0.4, z, theta, out); }},
      {"Jvp", [&] { field.Jvp(0.4, z, theta, v, out); }},
      {"VjpState", [&] { field.VjpState(0.4, z, theta, v, a_state); }},
      {"VjpParams", [&] { field.VjpParams(0.4, z, theta, v, grad); }},
      {"Vjp", [&] { field.Vjp(0.4, z, theta, v, a_state, grad); }},
  };
  for (const Case& c : cases) {
    c.call();  // warm-up
    counter.Start();
    for (int i = 0; i < 1000; ++i) c.call();
    const long count = counter.Stop();
    const std::string what = field.name() + " " + c.name;
    EXPECT_EQ(count, 0) << what << ": operator new calls in 1000 calls";
    if (count != 0) PrintExtraAllocations(what, counter.Stacks());
  }
  EXPECT_TRUE(out.allFinite() && a_state.allFinite() && grad.allFinite()) << field.name();
}

TEST(RhsCallbacks, FieldProductsDoNotAllocateAfterWarmUp) {
  SKIP_WITHOUT_COUNTER();
  for (Index batch : {1, 16}) {
    MlpField mlp(Mlp(batch));
    ExpectFieldCallsDoNotAllocate(mlp, mlp.InitialParams(3));
  }
  DecayField decay(3);
  ExpectFieldCallsDoNotAllocate(decay, (Vector(3) << 0.5, 1.0, 2.0).finished());
  LinearField linear(3, (Vector(3) << 0.1, -0.2, 0.3).finished());
  ExpectFieldCallsDoNotAllocate(linear, Wave(9, 0.5));
  LotkaVolterraField lotka;
  ExpectFieldCallsDoNotAllocate(lotka, (Vector(4) << 1.5, 1.0, 1.0, 3.0).finished());
  RobertsonField robertson;
  ExpectFieldCallsDoNotAllocate(robertson, RobertsonField::ClassicRates());
}

// ------------------------------------------------------------------ per integrator step
struct StepCase {
  std::string integrator;
  IntegratorOptions options;
  std::string label;
};

OdeProblem MlpProblem(double horizon, int num_outputs) {
  OdeProblem problem;
  auto field = std::make_shared<MlpField>(Mlp(1));
  problem.theta = field->InitialParams(5);
  problem.field = field;
  problem.z0 = (Vector(2) << 1.0, -0.5).finished();
  problem.t0 = 0.0;
  for (int i = 1; i <= num_outputs; ++i) problem.output_times.push_back(horizon * i / num_outputs);
  return problem;
}

// Whether the integrator takes these options (Create, and a short Solve: some options are only
// checked against the problem).
// Readable parameter in failure messages.
void PrintTo(const StepCase& c, std::ostream* os) { *os << c.label; }

bool Accepts(const std::string& name, const IntegratorOptions& options) {
  try {
    IntegratorRegistry().Create(name, options)->Solve(MlpProblem(0.1, 3));
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

// Every registered integrator: adaptive if it accepts fixed_step = 0, fixed-step if it accepts
// fixed_step > 0 (both for heun and epi2); each with the dense and the GMRES linear solver
// (ignored by explicit methods, which then run twice).
std::vector<StepCase> StepCases(bool interpolate_outputs) {
  std::vector<StepCase> cases;
  for (const std::string& name : IntegratorRegistry().Names()) {
    for (double fixed_step : {0.0, 0.02}) {
      for (const char* solver : {"dense", "gmres"}) {
        IntegratorOptions options;
        options.rtol = 1e-6;
        options.atol = 1e-8;
        options.fixed_step = fixed_step;
        options.linear_solver = solver;
        options.interpolate_outputs = interpolate_outputs;
        if (!Accepts(name, options)) continue;
        cases.push_back({name, options,
                         name + (fixed_step > 0 ? " fixed" : " adaptive") + " " + solver +
                             (interpolate_outputs ? " interpolated" : "")});
      }
    }
  }
  return cases;
}

struct Measured {
  long allocations = 0;
  long steps = 0;
};

// The few-step run: horizon 0.5 at the case's options. The many-step run: horizon 20 and, for
// adaptive methods, a second instance with rtol and atol 100 times tighter (the MLP's flow
// settles, so a longer horizon alone adds few adaptive steps). Both instances are warmed up
// with both problems, then one Solve() of each is counted.
void ExpectStepsDoNotAllocate(const StepCase& c, int num_outputs) {
  SCOPED_TRACE(c.label);
  NewCounter counter;
  IntegratorOptions tight = c.options;
  if (tight.fixed_step == 0.0) {
    tight.rtol *= 1e-2;
    tight.atol *= 1e-2;
  }
  std::unique_ptr<Integrator> integrators[2] = {
      IntegratorRegistry().Create(c.integrator, c.options),
      IntegratorRegistry().Create(c.integrator, tight)};
  const OdeProblem problems[2] = {MlpProblem(0.5, num_outputs), MlpProblem(20.0, num_outputs)};
  for (int k : {1, 0}) {
    integrators[k]->Solve(problems[1]);
    integrators[k]->Solve(problems[0]);
  }
  Measured m[2];
  std::vector<CallStack> stacks[2];
  for (int k = 0; k < 2; ++k) {
    counter.Start();
    long steps = 0;
    {
      const Trajectory trajectory = integrators[k]->Solve(problems[k]);
      steps = trajectory.stats.steps;
    }
    m[k] = {counter.Stop(), steps};
    stacks[k] = counter.Stacks();
  }
  if (m[1].allocations != m[0].allocations) PrintExtraAllocations(c.label, stacks[1], stacks[0]);
  std::printf("%-40s outputs %3d: %4ld steps -> %3ld operator new; %5ld steps -> %3ld\n",
              c.label.c_str(), num_outputs, m[0].steps, m[0].allocations, m[1].steps,
              m[1].allocations);
  EXPECT_GT(m[1].steps, 4 * m[0].steps);
  std::string case_name = c.label;
  std::replace(case_name.begin(), case_name.end(), ' ', '_');
  EXPECT_EQ(m[1].allocations, m[0].allocations)
      << "allocations per solve differ between " << m[0].steps << " and " << m[1].steps << " steps";
}

std::string CaseName(const ::testing::TestParamInfo<StepCase>& info) {
  std::string name = info.param.label;
  std::replace(name.begin(), name.end(), ' ', '_');
  return name;
}

class IntegratorSteps : public ::testing::TestWithParam<StepCase> {};

TEST_P(IntegratorSteps, DoNotAllocateInSteadyState) {
  SKIP_WITHOUT_COUNTER();
  ExpectStepsDoNotAllocate(GetParam(), 1);
}

INSTANTIATE_TEST_SUITE_P(StopAtOutputs, IntegratorSteps, ::testing::ValuesIn(StepCases(false)),
                         CaseName);

class InterpolatedIntegratorSteps : public ::testing::TestWithParam<StepCase> {};

TEST_P(InterpolatedIntegratorSteps, DoNotAllocateInSteadyState) {
  SKIP_WITHOUT_COUNTER();
  ExpectStepsDoNotAllocate(GetParam(), 101);
}

INSTANTIATE_TEST_SUITE_P(InterpolatedOutputs, InterpolatedIntegratorSteps,
                         ::testing::ValuesIn(StepCases(true)), CaseName);

// The integrators with dense output are all among the interpolated cases.
TEST(InterpolatedIntegratorSteps, CoverEveryIntegratorWithDenseOutput) {
  std::vector<std::string> names;
  for (const StepCase& c : StepCases(true)) names.push_back(c.integrator);
  for (const char* expected : {"cvodes_adams", "cvodes_bdf", "dopri5", "sdirk"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

}  // namespace
}  // namespace snode
