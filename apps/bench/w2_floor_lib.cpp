#include "apps/bench/w2_floor_lib.hpp"

#include <arkode/arkode_erkstep.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/nvector_kernels.hpp"

namespace snode {
namespace {

using Vector = Eigen::VectorXd;
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// ---------------------------------------------------------------------------------------- tanh
// A copy of MlpField's kernel (models/mlp.cpp, which keeps it in an anonymous namespace): the
// floor must do the same arithmetic as snode, so the comparison measures the framework alone.
// Cephes tanh: x + x·s·P(s)/Q(s), s = x², for |x| ≤ 0.625, else (e^{2|x|} − 1)/(e^{2|x|} + 1)
// with an inline exp; branch-free so GCC vectorises it (needs -fno-trapping-math, set for this
// file in apps/bench/CMakeLists.txt exactly as for mlp.cpp).
constexpr double kTanhP0 = -9.64399179425052238628e-1;
constexpr double kTanhP1 = -9.92877231001918586564e1;
constexpr double kTanhP2 = -1.61468768441708447952e3;
constexpr double kTanhQ0 = 1.12811678491632931402e2;
constexpr double kTanhQ1 = 2.23548839060100448583e3;
constexpr double kTanhQ2 = 4.84406305325125486048e3;

__attribute__((always_inline)) inline void TanhLoop(const double* x_ptr, double* y_ptr,
                                                    long count) {
  constexpr double kLog2e = 1.4426950408889634074;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kShifter = 6755399441055744.0;
  for (long i = 0; i < count; ++i) {
    const double x = x_ptr[i];
    const double a = std::min(std::abs(x), 20.0);
    const double y = 2.0 * a;
    double k = y * kLog2e + kShifter;
    std::uint64_t k_bits;
    std::memcpy(&k_bits, &k, sizeof k);
    k -= kShifter;
    const double r = (y - k * kLn2Hi) - k * kLn2Lo;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    const std::uint64_t scale_bits = (k_bits + 1023) << 52;
    double scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    const double e = p * scale;
    const double s = x * x;
    const double q = ((s + kTanhQ0) * s + kTanhQ1) * s + kTanhQ2;
    const double num_small = a * (q + s * ((kTanhP0 * s + kTanhP1) * s + kTanhP2));
    const bool large = a > 0.625;
    const double num = large ? e - 1.0 : num_small;
    const double den = large ? e + 1.0 : q;
    y_ptr[i] = std::copysign(num / den, x);
  }
}

void TanhSse2(const double* x, double* y, long count) { TanhLoop(x, y, count); }
__attribute__((target("avx2,fma"))) void TanhAvx2(const double* x, double* y, long count) {
  TanhLoop(x, y, count);
}
__attribute__((target("avx512f,avx2,fma"))) void TanhAvx512(const double* x, double* y,
                                                            long count) {
  TanhLoop(x, y, count);
}

using TanhFunction = void (*)(const double*, double*, long);

TanhFunction SelectTanhKernel() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    return TanhAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return TanhAvx2;
  return TanhSse2;
}

void TanhStd(const double* x, double* y, long count) {
  for (long i = 0; i < count; ++i) y[i] = std::tanh(x[i]);
}

void Check(int flag, const char* call) {
  if (flag < 0)
    throw std::runtime_error(std::string(call) + " failed with flag " + std::to_string(flag));
}

}  // namespace

// ------------------------------------------------------------------------------------ weights
std::vector<double> LoadW2FloorWeights(const std::string& json_path) {
  std::ifstream file(json_path);
  if (!file) throw std::runtime_error("cannot open " + json_path);
  nlohmann::json root;
  try {
    file >> root;
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(json_path + ": not valid JSON: " + error.what());
  }
  const struct {
    const char* name;
    int out, in;
  } layers[] = {
      {"0", kW2Hidden, kW2Width}, {"2", kW2Hidden, kW2Hidden}, {"4", kW2Width, kW2Hidden}};
  std::vector<double> theta;
  theta.reserve(kW2NumParams);
  try {
    const nlohmann::json& params = root.at("params");
    for (const auto& layer : layers) {
      const std::string weight_key = std::string(layer.name) + ".weight";
      const std::string bias_key = std::string(layer.name) + ".bias";
      const nlohmann::json& weight = params.at(weight_key);
      const nlohmann::json& bias = params.at(bias_key);
      if (weight.size() != static_cast<size_t>(layer.out) ||
          bias.size() != static_cast<size_t>(layer.out)) {
        throw std::runtime_error(json_path + ": " + weight_key + "/" + bias_key +
                                 " have the wrong number of rows");
      }
      for (const nlohmann::json& row : weight) {  // PyTorch (out, in), row by row = row-major
        if (row.size() != static_cast<size_t>(layer.in)) {
          throw std::runtime_error(json_path + ": " + weight_key +
                                   " has a row of the wrong length");
        }
        for (const nlohmann::json& value : row) theta.push_back(value.get<double>());
      }
      for (const nlohmann::json& value : bias) theta.push_back(value.get<double>());
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(json_path + ": " + error.what());
  }
  return theta;
}

std::vector<double> W2OutputTimes() {
  std::vector<double> times(kW2NumOutputs);
  for (int k = 0; k < kW2NumOutputs; ++k) times[k] = 0.1 * k;
  return times;
}

// -------------------------------------------------------------------------------------- floor
struct W2Floor::Impl {
  W2FloorOptions options;
  std::vector<double> theta;  // MlpField layout; the six blocks below point into it
  const double* w0 = nullptr;
  const double* b0 = nullptr;
  const double* w1 = nullptr;
  const double* b1 = nullptr;
  const double* w2 = nullptr;
  const double* b2 = nullptr;
  TanhFunction tanh = nullptr;
  alignas(64) double h0[kW2Hidden];  // pre-activations and activations of the hidden layers
  alignas(64) double a0[kW2Hidden];
  alignas(64) double h1[kW2Hidden];
  alignas(64) double a1[kW2Hidden];
  std::vector<double> times;
  std::vector<double> states;
  long rhs_evals = 0;
  long steps = 0;
  SUNContext context = nullptr;
  N_Vector y = nullptr;
  N_Vector out = nullptr;  // interpolated outputs (kInterpolateOneStep)
  void* mem = nullptr;

  // f(z) in the operation order of MlpField::Forward (h = W x, then h += b, then σ).
  void Mlp(const double* z, double* out) {
    Eigen::Map<Vector> h0v(h0, kW2Hidden);
    h0v.noalias() = Eigen::Map<const RowMatrix>(w0, kW2Hidden, kW2Width) *
                    Eigen::Map<const Vector>(z, kW2Width);
    h0v += Eigen::Map<const Vector>(b0, kW2Hidden);
    tanh(h0, a0, kW2Hidden);
    Eigen::Map<Vector> h1v(h1, kW2Hidden);
    h1v.noalias() = Eigen::Map<const RowMatrix>(w1, kW2Hidden, kW2Hidden) *
                    Eigen::Map<const Vector>(a0, kW2Hidden);
    h1v += Eigen::Map<const Vector>(b1, kW2Hidden);
    tanh(h1, a1, kW2Hidden);
    Eigen::Map<Vector> o(out, kW2Width);
    o.noalias() = Eigen::Map<const RowMatrix>(w2, kW2Width, kW2Hidden) *
                  Eigen::Map<const Vector>(a1, kW2Hidden);
    o += Eigen::Map<const Vector>(b2, kW2Width);
  }

  static int RhsCallback(sunrealtype /*t*/, N_Vector y, N_Vector ydot, void* user_data) {
    auto* self = static_cast<Impl*>(user_data);
    ++self->rhs_evals;
    self->Mlp(NV_DATA_S(y), NV_DATA_S(ydot));
    return 0;
  }

  ~Impl() {
    if (mem != nullptr) ERKStepFree(&mem);
    if (out != nullptr) N_VDestroy(out);
    if (y != nullptr) N_VDestroy(y);
    if (context != nullptr) SUNContext_Free(&context);
  }
};

W2Floor::W2Floor(const std::vector<double>& weights, W2FloorOptions options)
    : impl_(std::make_unique<Impl>()) {
  if (weights.size() != static_cast<size_t>(kW2NumParams)) {
    throw std::runtime_error("W2Floor: expected " + std::to_string(kW2NumParams) +
                             " weights, got " + std::to_string(weights.size()));
  }
  Impl& s = *impl_;
  s.options = options;
  s.theta = weights;
  s.w0 = s.theta.data();
  s.b0 = s.w0 + kW2Hidden * kW2Width;
  s.w1 = s.b0 + kW2Hidden;
  s.b1 = s.w1 + kW2Hidden * kW2Hidden;
  s.w2 = s.b1 + kW2Hidden;
  s.b2 = s.w2 + kW2Width * kW2Hidden;
  s.tanh = options.tanh == W2Tanh::kKernel ? SelectTanhKernel() : TanhStd;
  s.times = W2OutputTimes();
  s.states.assign(2 * kW2NumOutputs, 0.0);

  Check(SUNContext_Create(nullptr, &s.context), "SUNContext_Create");
  s.y = N_VNew_Serial(kW2Width, s.context);
  if (s.y == nullptr) throw std::runtime_error("N_VNew_Serial returned NULL");
  // Fused vector kernels as snode's MakeNVector enables them (ERKStep's clones inherit the
  // setting): same solver configuration on both sides, so only the framework differs.
  if (options.fused_vector_ops) {
    Check(N_VEnableFusedOps_Serial(s.y, SUNTRUE), "N_VEnableFusedOps_Serial");
  }
  if (options.compiled_vector_kernels) snode::detail::InstallFastKernels(s.y);
  NV_Ith_S(s.y, 0) = 1.0;
  NV_Ith_S(s.y, 1) = 1.0;
  s.out = N_VClone(s.y);
  if (s.out == nullptr) throw std::runtime_error("N_VClone returned NULL");
  s.mem = ERKStepCreate(Impl::RhsCallback, 0.0, s.y, s.context);
  if (s.mem == nullptr) throw std::runtime_error("ERKStepCreate returned NULL");
  Check(ERKStepSetUserData(s.mem, &s), "ERKStepSetUserData");
  Check(ERKStepSetTableNum(s.mem, ARKODE_DORMAND_PRINCE_7_4_5), "ERKStepSetTableNum");
  // Degree 3 as snode's dopri5: the default degree 4 spends one f per output time.
  Check(ERKStepSetInterpolantDegree(s.mem, 3), "ERKStepSetInterpolantDegree");
  Check(ERKStepSStolerances(s.mem, options.rtol, options.atol), "ERKStepSStolerances");
  Check(ERKStepSetMaxNumSteps(s.mem, 100000), "ERKStepSetMaxNumSteps");
}

W2Floor::~W2Floor() = default;

void W2Floor::Solve(double z0_x, double z0_y) {
  Impl& s = *impl_;
  double* y = NV_DATA_S(s.y);
  y[0] = z0_x;
  y[1] = z0_y;
  Check(ERKStepReInit(s.mem, Impl::RhsCallback, s.times[0], s.y), "ERKStepReInit");
  s.rhs_evals = 0;
  s.states[0] = z0_x;
  s.states[1] = z0_y;
  const bool interpolate = s.options.mode != W2OutputMode::kStopTimes;
  // 6.4.1 leaves a stop time equal to tout set after reaching it, so stop-time mode sets it
  // before every evolve call; interpolation mode stops only at the end.
  if (interpolate) Check(ERKStepSetStopTime(s.mem, s.times.back()), "ERKStepSetStopTime");
  double t = s.times[0];
  if (s.options.mode == W2OutputMode::kInterpolateOneStep) {
    for (int k = 1; k < kW2NumOutputs; ++k) {
      while (t < s.times[k]) {
        Check(ERKStepEvolve(s.mem, s.times[k], s.y, &t, ARK_ONE_STEP), "ERKStepEvolve");
      }
      // y holds the step's end state; an output inside the step comes from the interpolant.
      if (s.times[k] != t) Check(ERKStepGetDky(s.mem, s.times[k], 0, s.out), "ERKStepGetDky");
      const double* value = s.times[k] != t ? NV_DATA_S(s.out) : y;
      s.states[2 * k] = value[0];
      s.states[2 * k + 1] = value[1];
    }
    Check(ERKStepGetNumSteps(s.mem, &s.steps), "ERKStepGetNumSteps");
    return;
  }
  for (int k = 1; k < kW2NumOutputs; ++k) {
    if (!interpolate) Check(ERKStepSetStopTime(s.mem, s.times[k]), "ERKStepSetStopTime");
    Check(ERKStepEvolve(s.mem, s.times[k], s.y, &t, ARK_NORMAL), "ERKStepEvolve");
    s.states[2 * k] = y[0];
    s.states[2 * k + 1] = y[1];
  }
  Check(ERKStepGetNumSteps(s.mem, &s.steps), "ERKStepGetNumSteps");
}

const std::vector<double>& W2Floor::states() const { return impl_->states; }
long W2Floor::rhs_evals() const { return impl_->rhs_evals; }
long W2Floor::steps() const { return impl_->steps; }
const W2FloorOptions& W2Floor::options() const { return impl_->options; }
void W2Floor::Rhs(const double* z, double* out) { impl_->Mlp(z, out); }

}  // namespace snode
