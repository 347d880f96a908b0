// Benchmarks of the neural-network layer (docs/performance.md, "Neural-network layer") and of
// W6's field and preconditioner per call (docs/performance-scaling.md).
//
//   ./build/apps/bench/models_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only
//
// GFLOP/s counts 2·m·n·k per matrix product of the nominal layer shapes (the 65-input first layer
// of W4 counts as 64×65·65×128 although t is folded into the bias); activations are not counted.
// Everything runs on one thread (Eigen is built without OpenMP).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/preconditioner.hpp"
#include "models/mlp.hpp"
#include "models/operator_field.hpp"
#include "problems/reaction_diffusion.hpp"

namespace snode {
namespace {

enum class Op { kF, kJvp, kVjpState, kVjpParams, kVjp };

struct Shape {
  std::vector<Index> widths;
  std::vector<std::string> activations;
  bool time_input;
  Index batch;
};

const Shape kW2{{2, 32, 32, 2}, {"tanh"}, false, 1};           // W2: 1 218 parameters
const Shape kW4{{64, 64, 64}, {"tanh"}, true, 128};            // W4's ODE block, 65 → 64 → 64
const Shape kW4Linear{{64, 64, 64}, {"identity"}, true, 128};  // same GEMMs, no tanh

Vector RandomVector(Index n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Vector v(n);
  for (Index i = 0; i < n; ++i) v[i] = normal(rng);
  return v;
}

// Nominal FLOPs of one call: forward GEMMs Σ 2·out·in·B (the derivative products skip an identity
// output layer's forward product: nothing reads it); a tangent or a state back-propagation adds
// Σ 2·out·in·B over the state columns; the weight gradient adds Σ 2·out·in·B.
double Flops(const MlpField& field, Op op) {
  double forward = 0.0, state = 0.0, params = 0.0, last_forward = 0.0;
  const double batch = static_cast<double>(field.batch());
  for (Index l = 0; l < field.num_layers(); ++l) {
    const double out = static_cast<double>(field.layer_outputs(l));
    const double in = static_cast<double>(field.layer_inputs(l));
    const double in_state = l == 0 ? static_cast<double>(field.width()) : in;
    forward += 2.0 * out * in * batch;
    last_forward = 2.0 * out * in * batch;
    state += 2.0 * out * in_state * batch;
    params += 2.0 * out * in * batch;
  }
  if (op == Op::kF) return forward;
  if (field.activation(field.num_layers() - 1) == Activation::kIdentity) forward -= last_forward;
  switch (op) {
    case Op::kF:
      return forward;
    case Op::kJvp:
    case Op::kVjpState:
      return forward + state;
    case Op::kVjpParams:  // the layer-0 state product is skipped
      return forward + params + state -
             2.0 * static_cast<double>(field.layer_outputs(0) * field.width()) * batch;
    case Op::kVjp:
      return forward + params + state;
  }
  return forward;
}

void BM_Mlp(benchmark::State& state, const Shape& shape, Op op) {
  MlpOptions options;
  options.widths = shape.widths;
  options.activations = shape.activations;
  options.time_input = shape.time_input;
  options.batch = shape.batch;
  MlpField field(options);
  const Vector theta = field.InitialParams(1);
  const Vector z = RandomVector(field.state_size(), 2);
  const Vector a = RandomVector(field.state_size(), 3);
  Vector out(field.state_size());
  Vector grad = Vector::Zero(field.num_params());
  const double t = 0.5;
  for (auto _ : state) {
    switch (op) {
      case Op::kF:
        field.F(t, z, theta, out);
        break;
      case Op::kJvp:
        field.Jvp(t, z, theta, a, out);
        break;
      case Op::kVjpState:
        field.VjpState(t, z, theta, a, out);
        break;
      case Op::kVjpParams:
        field.VjpParams(t, z, theta, a, grad);
        break;
      case Op::kVjp:
        field.Vjp(t, z, theta, a, out, grad);
        break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(grad.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(Flops(field, op) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(field.name());
}

// The machine's DGEMM rate through Eigen with this build's flags: C = A·B, m×k times k×n.
void BM_EigenGemm(benchmark::State& state) {
  const Index m = state.range(0), k = state.range(1), n = state.range(2);
  const Matrix a = Matrix::Random(m, k), b = Matrix::Random(k, n);
  Matrix c(m, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * k * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// W6's field (diffusion + the 2-16-16-2 network at every point, in chunks of 1 024 points) and its
// exact preconditioner at N grid points: one call per iteration, the per-call costs behind the
// reaction_diffusion benchmark's breakdown (docs/performance-scaling.md). The state is the
// workload's initial state; the preconditioner is set up at γ = 0.01 (a backward step of the
// W6 gradient is ~0.1 long, an sdirk stage's γ a quarter of it).
enum class W6Op {
  kF,
  kFSaving,
  kVjpSaved,
  kVjpParams,
  kLinearize,
  kVjpStateLinearized,
  kSetup,
  kSolve
};

void BM_W6(benchmark::State& state, W6Op op) {
  problems::ReactionDiffusionOptions options;
  options.points = state.range(0);
  const auto field = problems::MakeNeuralReactionDiffusionField(options);
  const Vector theta = problems::ReactionDiffusionInitialWeights(options);
  const Vector z = problems::ReactionDiffusionInitialState(options.points);
  const Vector a = RandomVector(field->state_size(), 3);
  Vector out(field->state_size());
  Vector grad = Vector::Zero(field->num_params());
  Vector saved(field->ForwardSaveSize());
  field->FSaving(0.5, z, theta, out, saved.data());
  Vector linearization(field->LinearizationSize());
  field->Linearize(0.5, z, theta, linearization.data());
  const auto preconditioner = field->MakePreconditioner(PreconditionerSide::kTransposed);
  preconditioner->Setup(0.5, z, theta, 0.01);
  for (auto _ : state) {
    switch (op) {
      case W6Op::kF:
        field->F(0.5, z, theta, out);
        break;
      case W6Op::kFSaving:
        field->FSaving(0.5, z, theta, out, saved.data());
        break;
      case W6Op::kVjpSaved:
        field->VjpSaved(0.5, z, theta, saved.data(), a, out, VectorRef(grad.head(0)));
        break;
      case W6Op::kVjpParams:
        field->VjpParams(0.5, z, theta, a, grad);
        break;
      case W6Op::kLinearize:
        field->Linearize(0.5, z, theta, linearization.data());
        break;
      case W6Op::kVjpStateLinearized:
        field->VjpStateLinearized(linearization.data(), a, out);
        break;
      case W6Op::kSetup:
        preconditioner->Setup(0.5, z, theta, 0.01);
        break;
      case W6Op::kSolve:
        preconditioner->Solve(a, out);
        break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(grad.data());
    benchmark::ClobberMemory();
  }
  // Seconds per grid point (an inverted rate, printed with its unit: "60.7ns").
  state.counters["per_point"] = benchmark::Counter(
      static_cast<double>(options.points),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The minimum over repetitions: on a shared machine, interference only ever adds time.
double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

BENCHMARK_CAPTURE(BM_Mlp, W2_F, kW2, Op::kF)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W2_Jvp, kW2, Op::kJvp)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W2_VjpState, kW2, Op::kVjpState)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W2_VjpParams, kW2, Op::kVjpParams)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W2_Vjp, kW2, Op::kVjp)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W4_F, kW4, Op::kF)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W4_Jvp, kW4, Op::kJvp)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W4_VjpState, kW4, Op::kVjpState)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W4_VjpParams, kW4, Op::kVjpParams)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W4_Vjp, kW4, Op::kVjp)->ComputeStatistics("min", Min);
BENCHMARK_CAPTURE(BM_Mlp, W4_identity_F, kW4Linear, Op::kF)->ComputeStatistics("min", Min);
// W6 at N = 10³, 10⁴ and 10⁵, the minimum over repetitions beside the usual statistics.
void W6Sizes(benchmark::internal::Benchmark* b) {
  b->Arg(1000)->Arg(10000)->Arg(100000)->ComputeStatistics("min", Min);
}
BENCHMARK_CAPTURE(BM_W6, F, W6Op::kF)->Apply(W6Sizes);
BENCHMARK_CAPTURE(BM_W6, FSaving, W6Op::kFSaving)->Apply(W6Sizes);
BENCHMARK_CAPTURE(BM_W6, VjpSaved, W6Op::kVjpSaved)->Apply(W6Sizes);
BENCHMARK_CAPTURE(BM_W6, VjpParams, W6Op::kVjpParams)->Apply(W6Sizes);
BENCHMARK_CAPTURE(BM_W6, Linearize, W6Op::kLinearize)->Apply(W6Sizes);
BENCHMARK_CAPTURE(BM_W6, VjpStateLinearized, W6Op::kVjpStateLinearized)->Apply(W6Sizes);
BENCHMARK_CAPTURE(BM_W6, PreconditionerSetup, W6Op::kSetup)->Apply(W6Sizes);
BENCHMARK_CAPTURE(BM_W6, PreconditionerSolve, W6Op::kSolve)->Apply(W6Sizes);
BENCHMARK(BM_EigenGemm)
    ->Args({256, 256, 256})
    ->Args({64, 65, 128})
    ->Args({64, 64, 128})
    ->ComputeStatistics("min", Min);

}  // namespace
}  // namespace snode

BENCHMARK_MAIN();
