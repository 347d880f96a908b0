#pragma once
// The floor for workload W2's forward solve: the smallest program that solves the same problem on
// raw SUNDIALS, used to measure what snode's framework costs on top of it
// (docs/performance-overhead.md).
//
// Problem (the Lotka–Volterra neural fit, workload W2 of docs/performance.md): z' = f(z; θ), f an
// MLP 2 → 32 → 32 → 2,
//   f(z) = W_2 tanh(W_1 tanh(W_0 z + b_0) + b_1) + b_2,
// z(0) = (1, 1), outputs at t_k = 0.1·k, k = 0, …, 100 (W2OutputTimes()), ERKStep with
// ARKODE_DORMAND_PRINCE_7_4_5, rtol 1e-6, atol 1e-8, cubic Hermite interpolant.
//
// Nothing of snode is used: the right-hand side is a plain C callback on a serial N_Vector, the MLP
// is three Eigen matrix–vector products on Eigen::Maps of a flat weight array, and the solver
// memory is created once and ERKStepReInit'ed per solve, with fused vector operations enabled
// (both as snode's integrators do). The arithmetic is the same as snode's MlpField (same Eigen
// expressions, same operation order, the same Cephes-style vectorised tanh, copied because
// MlpField keeps it private), so on the same machine the floor and snode take the same steps and
// produce bit-identical states; what differs is only the framework around the solver.
//
// Output modes (W2FloorOptions::mode):
//   kStopTimes:   every output time is a stop time (ERKStepSetStopTime before each ARK_NORMAL
//                 ERKStepEvolve), as snode's RunOutputLoop does by default;
//   kInterpolate: the only stop time is the last output time; ERKStep steps over the other output
//                 times and returns them by its Hermite interpolant (ARK_NORMAL evolve to each
//                 output time, which ERKStep answers with ERKStepGetDky once a step has passed
//                 it), as torchdiffeq does;
//   kInterpolateOneStep: the same outputs from the same interpolant, but ERKStep takes one step
//                 per call (ARK_ONE_STEP) and every output inside the step is read by
//                 ERKStepGetDky: 10 evolve calls instead of 100 (snode's loop since it was
//                 measured to save ~5% of W2's solve).
//
// Errors: std::runtime_error (the floor deliberately has no error hierarchy) naming the SUNDIALS
// call and its flag, or the JSON file and key. The floor is not thread-safe; one object per thread.

#include <memory>
#include <string>
#include <vector>

namespace snode {

// Sizes of the W2 MLP and of its flat parameter vector.
inline constexpr int kW2Width = 2;
inline constexpr int kW2Hidden = 32;
inline constexpr int kW2NumParams =
    kW2Hidden * (kW2Width + 1) + kW2Hidden * (kW2Hidden + 1) + kW2Width * (kW2Hidden + 1);  // 1218
inline constexpr int kW2NumOutputs = 101;

// θ in MlpField's layout (= PyTorch's): W_0 (32 × 2, row-major), b_0, W_1 (32 × 32), b_1,
// W_2 (2 × 32), b_2; 1 218 values. Read from a PyTorch JSON export ({"params": {"0.weight": ...,
// "0.bias": ..., "2.weight", "2.bias", "4.weight", "4.bias"}}) with nlohmann_json. Throws
// std::runtime_error naming the file and the key on a missing file, key or wrong shape.
std::vector<double> LoadW2FloorWeights(const std::string& json_path);

// t_k = 0.1·k, k = 0, …, 100: the times of ../shared/data/w2/w2_truth.json ("t"), bit for bit.
std::vector<double> W2OutputTimes();

enum class W2OutputMode { kStopTimes, kInterpolate, kInterpolateOneStep };
enum class W2Tanh {
  kKernel,  // the vectorised Cephes-style kernel of MlpField (SSE2/AVX2/AVX-512, run-time choice)
  kStd,     // std::tanh per value (the plain-C floor)
};

struct W2FloorOptions {
  double rtol = 1e-6;
  double atol = 1e-8;
  W2OutputMode mode = W2OutputMode::kStopTimes;
  W2Tanh tanh = W2Tanh::kKernel;
  // N_VEnableFusedOps_Serial on the state vector (and so on ERKStep's clones of it), as snode's
  // MakeNVector does: one pass per stage combination instead of one N_VLinearSum per term.
  bool fused_vector_ops = true;
  // The compiled vector kernels snode's MakeNVector installs (core/nvector_kernels.hpp; the
  // packaged serial kernels are unoptimised): same arithmetic bit for bit, so only the framework
  // differs. false: SUNDIALS' own kernels.
  bool compiled_vector_kernels = true;
};

// One W2 forward solver. Construction creates the SUNDIALS context, vector and ERKStep memory;
// Solve() re-initialises them and writes the 101 output states into states().
class W2Floor {
 public:
  // weights: 1 218 values as LoadW2FloorWeights returns (copied). Throws std::runtime_error on a
  // wrong length or a failed SUNDIALS call.
  W2Floor(const std::vector<double>& weights, W2FloorOptions options);
  ~W2Floor();
  W2Floor(const W2Floor&) = delete;
  W2Floor& operator=(const W2Floor&) = delete;

  // Solves from z(0) = (z0_x, z0_y) through W2OutputTimes(). Throws std::runtime_error on failure.
  void Solve(double z0_x, double z0_y);

  // After Solve(): z(t_k) at states()[2k], states()[2k + 1] (101 × 2 values, row k = time k).
  const std::vector<double>& states() const;
  long rhs_evals() const;  // f evaluations of the last solve (counted in the callback)
  long steps() const;      // accepted steps of the last solve
  const W2FloorOptions& options() const;

  // f(z) into out (2 values) with this floor's arithmetic, for tests.
  void Rhs(const double* z, double* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace snode
