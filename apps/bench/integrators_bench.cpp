// Benchmarks of the integrators (docs/performance.md, "Integrators"; docs/integrators.md).
//
//   ./build/apps/bench/integrators_bench --benchmark_repetitions=5
//   --benchmark_report_aggregates_only
//
// BM_Dopri5W2Forward: the forward solve of workload W2 (MLP 2-32-32-2 tanh, PyTorch initial
// weights, z0 = (1, 1), 101 output times on [0, 10], dopri5 rtol 1e-6 atol 1e-8), one integrator
// object reused across iterations as in training. Counters: steps and f evaluations (NFE) per
// solve. BM_Robertson/<integrator>/<linear solver>: Robertson kinetics (k = 0.04, 3e7, 1e4) to t =
// 1e5, outputs at 1, 100, 1e5, rtol 1e-7, atol 1e-14 (1e-15 for sdirk), the settings of
// tests/integrators/stiffness_test.
// Counters: steps, f evaluations, JVPs, dense Jacobians per solve.

#include <benchmark/benchmark.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "integrators/integrator.hpp"
#include "io/torch_weights.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "problems/robertson.hpp"

#ifndef SNODE_W2_WEIGHTS
#define SNODE_W2_WEIGHTS "/work/shared/data/w2/w2_init_weights.json"
#endif

namespace snode {
namespace {

OdeProblem W2Problem(bool* from_file) {
  MlpOptions mlp;
  mlp.widths = {2, 32, 32, 2};
  mlp.activations = {"tanh"};
  auto field = std::make_shared<MlpField>(mlp);
  OdeProblem problem;
  problem.field = field;
  if (std::ifstream(SNODE_W2_WEIGHTS).good()) {
    problem.theta = LoadTorchMlpParams(SNODE_W2_WEIGHTS, *field);
    *from_file = true;
  } else {
    // Fallback without the data set: PyTorch-like uniform(±1/sqrt(fan_in)) weights, fixed seed.
    std::mt19937_64 rng(2);
    std::uniform_real_distribution<double> uniform(-1.0 / std::sqrt(2.0), 1.0 / std::sqrt(2.0));
    problem.theta = Vector(field->num_params());
    for (Index i = 0; i < problem.theta.size(); ++i) problem.theta[i] = uniform(rng);
    *from_file = false;
  }
  problem.z0 = (Vector(2) << 1.0, 1.0).finished();
  for (int k = 0; k <= 100; ++k) problem.output_times.push_back(0.1 * k);
  return problem;
}

void BM_Dopri5W2Forward(benchmark::State& state) {
  bool from_file = false;
  const OdeProblem problem = W2Problem(&from_file);
  IntegratorOptions options;
  options.rtol = 1e-6;
  options.atol = 1e-8;
  const std::unique_ptr<Integrator> dopri5 = IntegratorRegistry().Create("dopri5", options);
  Trajectory trajectory;
  for (auto _ : state) {
    trajectory = dopri5->Solve(problem);
    benchmark::DoNotOptimize(trajectory.states.back().data());
  }
  state.counters["steps"] = static_cast<double>(trajectory.stats.steps);
  state.counters["nfe"] = static_cast<double>(trajectory.stats.rhs_evals);
  state.SetLabel(from_file ? "w2_init_weights.json" : "random weights (W2 file not found)");
}
BENCHMARK(BM_Dopri5W2Forward)->Unit(benchmark::kMicrosecond);

void BM_Robertson(benchmark::State& state, const std::string& name,
                  const std::string& linear_solver) {
  if (!IntegratorRegistry().Contains(name)) {
    state.SkipWithError((name + " is not registered").c_str());
    return;
  }
  const OdeProblem problem = problems::RobertsonOde({1.0, 100.0, 1e5});
  IntegratorOptions options;
  options.rtol = 1e-7;
  options.atol = name == "sdirk" ? 1e-15 : 1e-14;
  options.linear_solver = linear_solver;
  const std::unique_ptr<Integrator> integrator = IntegratorRegistry().Create(name, options);
  Trajectory trajectory;
  for (auto _ : state) {
    trajectory = integrator->Solve(problem);
    benchmark::DoNotOptimize(trajectory.states.back().data());
  }
  state.counters["steps"] = static_cast<double>(trajectory.stats.steps);
  state.counters["f"] = static_cast<double>(trajectory.stats.rhs_evals);
  state.counters["jvp"] = static_cast<double>(trajectory.stats.jvp_evals);
  state.counters["jac"] = static_cast<double>(trajectory.stats.jacobian_evals);
}
BENCHMARK_CAPTURE(BM_Robertson, cvodes_bdf_dense, "cvodes_bdf", "dense")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Robertson, cvodes_bdf_gmres, "cvodes_bdf", "gmres")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Robertson, sdirk_dense, "sdirk", "dense")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Robertson, sdirk_gmres, "sdirk", "gmres")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Robertson, epi2, "epi2", "gmres")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace snode

BENCHMARK_MAIN();
