// snode's framework overhead on W2's forward solve, against the raw-SUNDIALS floor
// (apps/bench/w2_floor_lib.hpp; docs/performance-overhead.md).
//
//   ./build/apps/bench/overhead_bench                 # 5 repetitions each, medians reported
//
// BM_Floor/<mode>_<tanh>[_unfused]: the floor's solve (raw ERKStep, same MLP arithmetic; tanh =
//   the MlpField kernel or std::tanh; fused N_Vector operations as in snode, or off);
//   interpolate_one_step_kernel: the floor with snode's output loop (one step per evolve call).
// BM_Snode/<mode>: IntegratorRegistry().Create("dopri5", options)->SolveInto(problem, trajectory)
//   (the trajectory reused like the floor's state buffer) with an
//   MlpField, the integrator reused across iterations as in training.
// BM_Overhead/<mode>: one floor solve and one snode solve per iteration, interleaved so that both
//   see the same machine load; counters floor_cpu_us, snode_cpu_us, floor_wall_us, snode_wall_us
//   (per solve) and ratio_cpu, ratio_wall = snode / floor. The overhead is ratio − 1.
// BM_Overhead/interpolate_vs_one_step_floor: the same against the one-step floor, so that the
//   ratio holds only what the framework adds, not the better output loop.
// <mode> is stop_times (every output time a stop time, snode's default) or interpolate (outputs
// by the Hermite interpolant, IntegratorOptions::interpolate_outputs). snode keeps ARKODE's own
// first step and ERKStep's step control here (initial_step_estimate = "sundials",
// step_controller = "arkode"), as the floor does.
// Every benchmark also reports nfe and steps per solve; the floor and snode must agree (the test
// tests/apps/w2_floor_test.cpp checks that the states agree to 1e-12 and the NFE exactly).

#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "apps/bench/w2_floor_lib.hpp"
#include "integrators/integrator.hpp"
#include "io/torch_weights.hpp"
#include "models/mlp.hpp"

#ifndef SNODE_W2_WEIGHTS
#define SNODE_W2_WEIGHTS "/work/shared/data/w2/w2_init_weights.json"
#endif

namespace snode {
namespace {

OdeProblem SnodeW2Problem() {
  MlpOptions mlp;
  mlp.widths = {2, 32, 32, 2};
  mlp.activations = {"tanh"};
  auto field = std::make_shared<MlpField>(mlp);
  OdeProblem problem;
  problem.field = field;
  problem.theta = LoadTorchMlpParams(SNODE_W2_WEIGHTS, *field);
  problem.z0 = Vector::Ones(2);
  problem.t0 = 0.0;
  problem.output_times = W2OutputTimes();
  return problem;
}

W2FloorOptions FloorOptions(bool interpolate, W2Tanh tanh, bool fused = true,
                            bool one_step = false) {
  W2FloorOptions options;
  options.mode = !interpolate ? W2OutputMode::kStopTimes
                 : one_step   ? W2OutputMode::kInterpolateOneStep
                              : W2OutputMode::kInterpolate;
  options.tanh = tanh;
  options.fused_vector_ops = fused;
  return options;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void BM_Floor(benchmark::State& state, bool interpolate, W2Tanh tanh, bool fused,
              bool one_step = false) {
  W2Floor floor_solver(LoadW2FloorWeights(SNODE_W2_WEIGHTS),
                       FloorOptions(interpolate, tanh, fused, one_step));
  for (auto _ : state) {
    floor_solver.Solve(1.0, 1.0);
    benchmark::DoNotOptimize(floor_solver.states().data());
  }
  state.counters["nfe"] = static_cast<double>(floor_solver.rhs_evals());
  state.counters["steps"] = static_cast<double>(floor_solver.steps());
}

void BM_Snode(benchmark::State& state, bool interpolate) {
  IntegratorOptions options;
  options.rtol = 1e-6;
  options.atol = 1e-8;
  options.initial_step_estimate = "sundials";  // the floor keeps ARKODE's own first step
  options.step_controller = "arkode";          // and ERKStep's own step control
  options.interpolate_outputs = interpolate;
  const OdeProblem problem = SnodeW2Problem();
  const std::unique_ptr<Integrator> dopri5 = IntegratorRegistry().Create("dopri5", options);
  Trajectory trajectory;
  for (auto _ : state) {
    dopri5->SolveInto(problem, trajectory);
    benchmark::DoNotOptimize(trajectory.states.back().data());
  }
  state.counters["nfe"] = static_cast<double>(trajectory.stats.rhs_evals);
  state.counters["steps"] = static_cast<double>(trajectory.stats.steps);
}

void BM_Overhead(benchmark::State& state, bool interpolate, bool one_step_floor = false) {
  IntegratorOptions options;
  options.rtol = 1e-6;
  options.atol = 1e-8;
  options.initial_step_estimate = "sundials";  // the floor keeps ARKODE's own first step
  options.step_controller = "arkode";          // and ERKStep's own step control
  options.interpolate_outputs = interpolate;
  const OdeProblem problem = SnodeW2Problem();
  const std::unique_ptr<Integrator> dopri5 = IntegratorRegistry().Create("dopri5", options);
  W2Floor floor_solver(LoadW2FloorWeights(SNODE_W2_WEIGHTS),
                       FloorOptions(interpolate, W2Tanh::kKernel, true, one_step_floor));
  Trajectory trajectory;
  double floor_cpu = 0, snode_cpu = 0, floor_wall = 0, snode_wall = 0;
  for (auto _ : state) {
    const double c0 = ThreadCpuSeconds(), w0 = WallSeconds();
    floor_solver.Solve(1.0, 1.0);
    benchmark::DoNotOptimize(floor_solver.states().data());
    const double c1 = ThreadCpuSeconds(), w1 = WallSeconds();
    dopri5->SolveInto(problem, trajectory);
    benchmark::DoNotOptimize(trajectory.states.back().data());
    const double c2 = ThreadCpuSeconds(), w2 = WallSeconds();
    floor_cpu += c1 - c0;
    snode_cpu += c2 - c1;
    floor_wall += w1 - w0;
    snode_wall += w2 - w1;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["floor_cpu_us"] = 1e6 * floor_cpu / n;
  state.counters["snode_cpu_us"] = 1e6 * snode_cpu / n;
  state.counters["floor_wall_us"] = 1e6 * floor_wall / n;
  state.counters["snode_wall_us"] = 1e6 * snode_wall / n;
  state.counters["ratio_cpu"] = snode_cpu / floor_cpu;
  state.counters["ratio_wall"] = snode_wall / floor_wall;
  state.counters["nfe_floor"] = static_cast<double>(floor_solver.rhs_evals());
  state.counters["nfe_snode"] = static_cast<double>(trajectory.stats.rhs_evals);
}

constexpr int kRepetitions = 5;

BENCHMARK_CAPTURE(BM_Floor, stop_times_kernel, false, W2Tanh::kKernel, true)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Floor, stop_times_std_tanh, false, W2Tanh::kStd, true)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Floor, stop_times_kernel_unfused, false, W2Tanh::kKernel, false)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Snode, stop_times, false)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Overhead, stop_times, false)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Floor, interpolate_kernel, true, W2Tanh::kKernel, true)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Floor, interpolate_std_tanh, true, W2Tanh::kStd, true)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Floor, interpolate_kernel_unfused, true, W2Tanh::kKernel, false)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Floor, interpolate_one_step_kernel, true, W2Tanh::kKernel, true, true)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Snode, interpolate, true)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Overhead, interpolate, true)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_Overhead, interpolate_vs_one_step_floor, true, true)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(kRepetitions)
    ->DisplayAggregatesOnly(true);

}  // namespace
}  // namespace snode

BENCHMARK_MAIN();
