// Micro benchmarks of one gradient per gradient method and of one step per integrator
// (docs/performance-scaling.md).
//
//   ./build/apps/bench/gradients_bench --benchmark_repetitions=3
//   --benchmark_report_aggregates_only=true
//
// BM_GradientW2/<method>/<integrator>[/interpolate]: one Compute() of workload W2's loss: MLP
// 2-32-32-2 tanh with W2's initial weights (../shared/data/w2/w2_init_weights.json; a seeded
// PyTorch-style init when the file is absent), z0 = (1, 1), 101 output times on [0, 10], MSE
// against ../shared/data/w2/w2_truth.json (or, when absent, the Lotka–Volterra truth solved here
// by cvodes_bdf at rtol 1e-10), rtol 1e-6, atol 1e-8 for the forward and the backward problem.
// The gradient object is created once and reused, as in training. Rows ending in /interpolate
// set IntegratorOptions::interpolate_outputs (outputs read off the dense output instead of a stop
// at each of them); they are registered only when this build has the option.
// Counters per gradient: fwd_nfe, bwd_nfe, vjp, fwd_steps, bwd_steps, stored_bytes
// (GradientStats::stored_bytes: bptt's trajectory, backsolve's output-time states, the CVODES
// checkpoints plus one interval of interpolation data) and the loss.
//
// BM_GradientTiny/<method>: the same methods and central finite differences
// (CentralDifferenceGradient, 2·(P + n) + 1 = 13 solves) on a tiny problem where differencing is
// affordable: Lotka–Volterra with θ = (1.3, 0.9, 1.1, 2.7) (4 parameters), z0 = (1, 1), 11 outputs
// on [0, 1], MSE against the true-rate trajectory.
//
// BM_IntegratorStep/<name>: one per IntegratorRegistry() entry, the CPU time of one accepted
// step on W2's field (W2 weights, z0 = (1, 1)): Solve() from t = 0 to a single output time
// t = 10 (no intermediate stop times), divided by the number of accepted steps (counter
// time_per_step). To amortise Solve()'s set-up over ~1 000 steps, every integrator with a
// fixed-step mode runs at h = 0.01; the others (cvodes_bdf, cvodes_adams) run adaptively at rtol
// 1e-6 / atol 1e-8 with max_step = 0.01. The label says which.
// BM_IntegratorSolveW2/<name>: the same solve adaptively at rtol 1e-6 / atol 1e-8 with the
// integrator's natural steps (registered only for integrators that accept adaptive stepping):
// what one forward solve with a single output costs, and the per-step figure including set-up.
//
// BM_TrainW2/<method>/<integrator>: W2's training, Adam (lr 1e-2) from W2's initial weights:
// 301 Compute() calls (iterations 0..300) and 300 updates per run; counter per_it: CPU time / 301
// (one training iteration: forward + gradient + update); loss0 / loss150 / loss300: the curve.
//
// BM_MlpFieldF/<B>: one MlpField::F of 2-32-32-2 tanh for a batch of B (counter per_sample: CPU
// time per sample), the per-call cost behind scaling_study's batch sweep.

#include <benchmark/benchmark.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "io/torch_weights.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "optim/training_loop.hpp"
#include "problems/decay.hpp"
#include "problems/lotka_volterra.hpp"

#ifndef SNODE_W2_DATA_DIR
#define SNODE_W2_DATA_DIR "/work/shared/data/w2"
#endif

namespace snode {
namespace {

const std::string kWeightsPath = std::string(SNODE_W2_DATA_DIR) + "/w2_init_weights.json";
const std::string kTruthPath = std::string(SNODE_W2_DATA_DIR) + "/w2_truth.json";

struct Workload {
  OdeProblem problem;
  std::shared_ptr<Loss> loss;
  std::string source;  // where weights and truth came from
};

// W2: see the file comment.
const Workload& W2() {
  static const Workload workload = [] {
    Workload w;
    MlpOptions mlp;
    mlp.widths = {2, 32, 32, 2};
    mlp.activations = {"tanh"};
    auto field = std::make_shared<MlpField>(mlp);
    w.problem.field = field;
    if (std::ifstream(kWeightsPath).good()) {
      w.problem.theta = LoadTorchMlpParams(kWeightsPath, *field);
      w.source = "W2 weights";
    } else {
      w.problem.theta = field->InitialParams(1);
      w.source = "seeded weights";
    }
    w.problem.z0 = Vector::Ones(2);
    for (int k = 0; k <= 100; ++k) w.problem.output_times.push_back(0.1 * k);
    std::vector<Vector> targets;
    std::ifstream truth_file(kTruthPath);
    if (truth_file.good()) {
      const nlohmann::json truth = nlohmann::json::parse(truth_file);
      for (const auto& xy : truth.at("xy")) {
        targets.push_back((Vector(2) << xy.at(0).get<double>(), xy.at(1).get<double>()).finished());
      }
      Require(targets.size() == w.problem.output_times.size(),
              kTruthPath + ": expected 101 states in \"xy\"");
      w.source += ", w2_truth.json";
    } else {
      targets = problems::LotkaVolterraTruth(w.problem.output_times);
      w.source += ", generated truth";
    }
    w.loss = std::make_shared<MseLoss>(std::move(targets));
    return w;
  }();
  return workload;
}

// The tiny Lotka–Volterra problem of the file comment.
const Workload& Tiny() {
  static const Workload workload = [] {
    Workload w;
    std::vector<double> times;
    for (int k = 0; k <= 10; ++k) times.push_back(0.1 * k);
    w.problem = problems::LotkaVolterraProblem((Vector(4) << 1.3, 0.9, 1.1, 2.7).finished(), times);
    w.loss = std::make_shared<MseLoss>(problems::LotkaVolterraTruth(times));
    w.source = "Lotka-Volterra, 4 parameters, 11 outputs";
    return w;
  }();
  return workload;
}

// integrator "forward+backward" (e.g. cvodes_adams+dopri5) sets GradientOptions::
// backward_integrator too (cvodes_adjoint's interpolating adjoint).
GradientOptions MakeGradientOptions(const std::string& integrator, bool interpolate) {
  GradientOptions options;
  const std::size_t plus = integrator.find('+');
  options.integrator = integrator.substr(0, plus);
  if (plus != std::string::npos) options.backward_integrator = integrator.substr(plus + 1);
  options.integrator_options.rtol = 1e-6;
  options.integrator_options.atol = 1e-8;
  options.integrator_options.interpolate_outputs = interpolate;
  return options;
}

void ReportGradient(benchmark::State& state, const LossAndGradient& result) {
  const GradientStats& s = result.stats;
  state.counters["fwd_nfe"] = static_cast<double>(s.forward_rhs_evals);
  state.counters["bwd_nfe"] = static_cast<double>(s.backward_rhs_evals);
  state.counters["vjp"] = static_cast<double>(s.vjp_evals);
  state.counters["fwd_steps"] = static_cast<double>(s.forward_steps);
  state.counters["bwd_steps"] = static_cast<double>(s.backward_steps);
  state.counters["stored_bytes"] = s.stored_bytes;
  state.counters["loss"] = result.loss;
}

// method "finite_difference" is CentralDifferenceGradient (not a registered method).
void BM_Gradient(benchmark::State& state, const Workload& workload, const std::string& method,
                 const std::string& integrator, bool interpolate) {
  LossAndGradient result;
  try {
    const GradientOptions options = MakeGradientOptions(integrator, interpolate);
    if (method == "finite_difference") {
      result = CentralDifferenceGradient(workload.problem, *workload.loss, options);  // warm-up
      for (auto _ : state) {
        result = CentralDifferenceGradient(workload.problem, *workload.loss, options);
        benchmark::DoNotOptimize(result.dtheta.data());
      }
    } else {
      const std::unique_ptr<GradientMethod> gradient = GradientRegistry().Create(method, options);
      result = gradient->Compute(workload.problem, *workload.loss);  // warm-up: solver set-up
      for (auto _ : state) {
        result = gradient->Compute(workload.problem, *workload.loss);
        benchmark::DoNotOptimize(result.dtheta.data());
      }
    }
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return;
  }
  ReportGradient(state, result);
  state.SetLabel(workload.source);
}

// Solves W2's field from 0 to 10 with no intermediate output; see the file comment.
// per_step = true: ~1 000 steps (fixed h 0.01, or adaptive with max_step 0.01 for integrators
// without a fixed-step mode), so Solve()'s set-up is amortised and the figure is the cost of one
// step. per_step = false: adaptive at rtol 1e-6 / atol 1e-8 with its natural steps.
void BM_IntegratorStep(benchmark::State& state, const std::string& name, bool per_step) {
  OdeProblem problem = W2().problem;
  problem.output_times = {10.0};
  IntegratorOptions options;
  options.rtol = 1e-6;
  options.atol = 1e-8;
  std::unique_ptr<Integrator> integrator;
  std::string mode;
  Trajectory trajectory;
  const auto attempt = [&](const IntegratorOptions& o, const std::string& label) {
    integrator = IntegratorRegistry().Create(name, o);
    trajectory = integrator->Solve(problem);
    mode = label;
  };
  try {
    if (per_step) {
      IntegratorOptions fixed = options;
      fixed.fixed_step = 0.01;
      try {
        attempt(fixed, "fixed h 0.01");
      } catch (const ConfigError&) {  // no fixed-step mode
        IntegratorOptions capped = options;
        capped.max_step = 0.01;
        attempt(capped, "adaptive, max_step 0.01");
      }
    } else {
      attempt(options, "adaptive rtol 1e-6 atol 1e-8");
    }
    for (auto _ : state) {
      trajectory = integrator->Solve(problem);
      benchmark::DoNotOptimize(trajectory.states.back().data());
    }
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return;
  }
  const double steps = static_cast<double>(trajectory.stats.steps);
  state.counters["steps"] = steps;
  state.counters["nfe"] = static_cast<double>(trajectory.stats.rhs_evals);
  state.counters["jvp"] = static_cast<double>(trajectory.stats.jvp_evals);
  // steps·iterations / CPU time, inverted: CPU seconds per accepted step.
  state.counters["time_per_step"] = benchmark::Counter(
      steps, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetLabel(mode);
}

// One MlpField::F of the 2-32-32-2 tanh field (InitialParams(1)) for a batch of `batch` samples:
// the per-call cost behind the batch sweep of scaling_study (batch 1 takes Eigen's matrix–vector
// path, batch >= 2 the matrix–matrix one).
void BM_MlpFieldF(benchmark::State& state, Index batch) {
  MlpOptions options;
  options.widths = {2, 32, 32, 2};
  options.activations = {"tanh"};
  options.batch = batch;
  MlpField field(options);
  const Vector theta = field.InitialParams(1);
  const Vector z = Vector::Constant(field.state_size(), 0.5);
  Vector out(field.state_size());
  for (auto _ : state) {
    field.F(0.0, z, theta, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["per_sample"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
}

// Whether the integrator solves without a fixed step (probed on y' = −y to t = 0.1): the
// fixed-step-only ones (euler, rk4, backward_euler) throw ConfigError.
bool AcceptsAdaptiveSteps(const std::string& name) {
  const OdeProblem probe = problems::DecayOde(1.0, {0.1});
  try {
    IntegratorRegistry().Create(name, IntegratorOptions())->Solve(probe);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void BM_TrainW2(benchmark::State& state, const std::string& method, const std::string& integrator) {
  constexpr int kIterations = 300;
  double losses[3] = {0, 0, 0};
  try {
    const GradientOptions options = MakeGradientOptions(integrator, false);
    const std::unique_ptr<GradientMethod> gradient = GradientRegistry().Create(method, options);
    OdeProblem problem = W2().problem;
    // The loop updates problem.theta itself, so every Compute sees the latest parameters.
    const Objective objective = [&](const Vector&, Vector& grad) {
      LossAndGradient result = gradient->Compute(problem, *W2().loss);
      grad = std::move(result.dtheta);
      return result.loss;
    };
    TrainingOptions training;
    training.iterations = kIterations;
    training.adam.lr = 1e-2;
    training.evaluate_final = true;  // iteration 300's loss, after the last update
    for (auto _ : state) {
      problem.theta = W2().problem.theta;
      const TrainingRecord record = RunTraining(objective, problem.theta, training);
      losses[0] = record.losses[0];
      losses[1] = record.losses[kIterations / 2];
      losses[2] = record.final_loss;
    }
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return;
  }
  state.counters["per_it"] = benchmark::Counter(
      kIterations + 1, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["loss0"] = losses[0];
  state.counters["loss150"] = losses[1];
  state.counters["loss300"] = losses[2];
}

void RegisterAll() {
  struct GradientCase {
    const char* method;
    const char* integrator;
  };
  const std::vector<GradientCase> w2_cases = {{"bptt", "dopri5"},
                                              {"backsolve_adjoint", "dopri5"},
                                              {"cvodes_adjoint", "cvodes_bdf"},
                                              {"cvodes_adjoint", "cvodes_adams"},
                                              {"cvodes_adjoint", "cvodes_adams+dopri5"},
                                              {"cvodes_adjoint", "cvodes_bdf+dopri5"}};
  std::vector<bool> modes = {false};
  modes.push_back(true);
  for (const bool interpolate : modes) {
    for (const GradientCase& c : w2_cases) {
      const std::string name = std::string("BM_GradientW2/") + c.method + "/" + c.integrator +
                               (interpolate ? "/interpolate" : "");
      const std::string method = c.method, integrator = c.integrator;
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
        BM_Gradient(state, W2(), method, integrator, interpolate);
      })->Unit(benchmark::kMillisecond);
    }
  }
  for (const GradientCase& c : w2_cases) {
    const std::string name = std::string("BM_TrainW2/") + c.method + "/" + c.integrator;
    const std::string method = c.method, integrator = c.integrator;
    benchmark::RegisterBenchmark(
        name.c_str(), [=](benchmark::State& state) { BM_TrainW2(state, method, integrator); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
  }
  std::vector<GradientCase> tiny_cases = w2_cases;
  tiny_cases.push_back({"finite_difference", "dopri5"});
  for (const GradientCase& c : tiny_cases) {
    const std::string name = std::string("BM_GradientTiny/") + c.method + "/" + c.integrator;
    const std::string method = c.method, integrator = c.integrator;
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
      BM_Gradient(state, Tiny(), method, integrator, false);
    })->Unit(benchmark::kMicrosecond);
  }
  for (const bool per_step : {true, false}) {
    for (const std::string& name : IntegratorRegistry().Names()) {
      if (!per_step && !AcceptsAdaptiveSteps(name)) continue;
      const std::string bench =
          std::string(per_step ? "BM_IntegratorStep/" : "BM_IntegratorSolveW2/") + name;
      benchmark::RegisterBenchmark(bench.c_str(), [name, per_step](benchmark::State& state) {
        BM_IntegratorStep(state, name, per_step);
      })->Unit(benchmark::kMicrosecond);
    }
  }
  for (const Index batch : {1, 2, 4, 16, 64, 512}) {
    benchmark::RegisterBenchmark(("BM_MlpFieldF/" + std::to_string(batch)).c_str(),
                                 [batch](benchmark::State& state) { BM_MlpFieldF(state, batch); })
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace
}  // namespace snode

int main(int argc, char** argv) {
  snode::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
