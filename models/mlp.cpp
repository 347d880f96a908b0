#include "models/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>

#include "core/dense_kernels.hpp"
#include "core/errors.hpp"

namespace snode {
namespace {

using Array = Eigen::ArrayXd;
using ArrayMap = Eigen::Map<Array>;
using ConstArrayMap = Eigen::Map<const Array>;

// Element-wise kernels run over chunks of at most kChunk values held in stack arrays: an Eigen
// expression used twice is evaluated twice, so shared sub-results (e^{2|x|}) are stored, and the
// stack keeps the calls free of heap allocation.
constexpr Index kChunk = 256;
using Chunk = Eigen::Array<double, Eigen::Dynamic, 1, 0, kChunk, 1>;

// tanh after Cephes (S. L. Moshier, tanh.c): x + x·s·P(s)/Q(s) with s = x² for |x| ≤ 0.625, and
// (e^{2|x|} − 1)/(e^{2|x|} + 1) with the sign of x above; max error ≈ 1 ulp against std::tanh
// (the test checks 1e-15 relative). e^y is computed inline, y = k·ln2 + r with |r| ≤ ln2/2:
// e^r by its degree-13 Taylor polynomial (truncation < 5e-18), 2^k by writing the exponent bits.
// |x| is clamped at 20 (tanh(20) rounds to 1), so 2^k never overflows; NaN survives the clamp
// (std::min(NaN, 20) is NaN) and the polynomial branch.
//
// The loop is branch-free so that GCC vectorises it; that needs -fno-trapping-math for this file
// (set in models/CMakeLists.txt; it permits evaluating both branches and changes no value).
// It is compiled three times, for SSE2 (any x86-64), AVX2+FMA and AVX-512, and the widest one the
// CPU supports is picked once at start-up, so a portable build still gets a fast tanh (measured
// in docs/performance.md; std::tanh is ~12 ns per value there, this loop ~1 ns with AVX-512).
constexpr double kTanhP0 = -9.64399179425052238628e-1;
constexpr double kTanhP1 = -9.92877231001918586564e1;
constexpr double kTanhP2 = -1.61468768441708447952e3;
constexpr double kTanhQ0 = 1.12811678491632931402e2;
constexpr double kTanhQ1 = 2.23548839060100448583e3;
constexpr double kTanhQ2 = 4.84406305325125486048e3;

__attribute__((always_inline)) inline void TanhLoop(const double* x_ptr, double* y_ptr,
                                                    Index count) {
  constexpr double kLog2e = 1.4426950408889634074;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 split for exact k·ln2 (fdlibm)
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kShifter = 6755399441055744.0;  // 1.5·2^52: adding it rounds to an integer
  for (Index i = 0; i < count; ++i) {
    const double x = x_ptr[i];
    const double a = std::min(std::abs(x), 20.0);
    const double y = 2.0 * a;
    double k = y * kLog2e + kShifter;
    std::uint64_t k_bits;
    std::memcpy(&k_bits, &k, sizeof k);  // low bits hold round(y/ln2)
    k -= kShifter;
    const double r = (y - k * kLn2Hi) - k * kLn2Lo;
    double p = 1.0 / 6227020800.0;  // 1/13!
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
    const std::uint64_t scale_bits = (k_bits + 1023) << 52;  // 2^k (0 ≤ k ≤ 58)
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

void TanhSse2(const double* x, double* y, Index count) { TanhLoop(x, y, count); }
__attribute__((target("avx2,fma"))) void TanhAvx2(const double* x, double* y, Index count) {
  TanhLoop(x, y, count);
}
__attribute__((target("avx512f,avx2,fma"))) void TanhAvx512(const double* x, double* y,
                                                            Index count) {
  TanhLoop(x, y, count);
}

using KernelFunction = void (*)(const double*, double*, Index);

KernelFunction SelectTanh() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    return TanhAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return TanhAvx2;
  return TanhSse2;
}

void TanhKernel(const double* x, double* y, Index count) {
  static const KernelFunction kernel = SelectTanh();
  kernel(x, y, count);
}

// 1/(1 + e^{−x}); for x ≪ 0, e^{−x} overflows to +inf and the result is the correct limit 0.
void SigmoidKernel(const double* x_ptr, double* y_ptr, Index count) {
  for (Index start = 0; start < count; start += kChunk) {
    const Index m = std::min(kChunk, count - start);
    const ConstArrayMap x(x_ptr + start, m);
    ArrayMap y(y_ptr + start, m);
    const Chunk e = (-x).exp();
    y = 1.0 / (1.0 + e);
  }
}

// log(1 + e^x) = max(x, 0) + log1p(e^{−|x|}): no overflow for large x, no cancellation for x ≪ 0.
void SoftplusKernel(const double* x, double* y, Index count) {
  for (Index i = 0; i < count; ++i) {
    y[i] = std::max(x[i], 0.0) + std::log1p(std::exp(-std::abs(x[i])));
  }
}

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// Exact GELU, h·Φ(h) (PyTorch's approximate='none'). Φ(h) = ½ erfc(−h/√2) rather than
// ½(1 + erf(h/√2)): the latter cancels for h ≪ 0 (relative error 1e-10 at h = −5).
void GeluKernel(const double* x, double* y, Index count) {
  for (Index i = 0; i < count; ++i) y[i] = 0.5 * x[i] * std::erfc(-x[i] * kInvSqrt2);
}

void ApplyActivation(Activation activation, const double* h, double* out, Index count) {
  switch (activation) {
    case Activation::kTanh:
      TanhKernel(h, out, count);
      return;
    case Activation::kRelu:
      ArrayMap(out, count) = ConstArrayMap(h, count).max(0.0);
      return;
    case Activation::kSoftplus:
      SoftplusKernel(h, out, count);
      return;
    case Activation::kGelu:
      GeluKernel(h, out, count);
      return;
    case Activation::kSigmoid:
      SigmoidKernel(h, out, count);
      return;
    case Activation::kIdentity:
      if (out != h) ArrayMap(out, count) = ConstArrayMap(h, count);
      return;
  }
}

// dst = lhs·rhs for rhs and dst with `cols` columns (contiguous, column-major). One column goes
// straight to Eigen's matrix–vector kernel, chosen at compile time: for the batch-1 fields the
// run-time GEMM/GEMV dispatch of a dynamic matrix product is a noticeable part of a call. Batches
// go to the dense kernels compiled for the processor's instruction set (core/dense_kernels.hpp).
// lhs is a weight matrix, its transpose or a block of either: a direct-access expression.
template <typename Lhs>
void Product(const Lhs& lhs, const double* rhs, Index cols, double* dst) {
  if (cols == 1) {
    Eigen::Map<Vector>(dst, lhs.rows()).noalias() = lhs * Eigen::Map<const Vector>(rhs, lhs.cols());
  } else {
    static_assert(Lhs::InnerStrideAtCompileTime == 1, "lhs must have unit inner stride");
    // A row-major r × c matrix is the column-major c × r matrix of the same memory, transposed.
    constexpr bool row_major = (Lhs::Flags & Eigen::RowMajorBit) != 0;
    DenseGemm(row_major ? DenseOp::kTranspose : DenseOp::kNone, DenseOp::kNone, lhs.rows(), cols,
              lhs.cols(), 1.0, lhs.data(), lhs.outerStride(), rhs, lhs.cols(), 0.0, dst,
              lhs.rows());
  }
}

// grad_w += delta · xᵀ for the row-major out × (leading columns of) in weight gradient at
// grad_w (row stride `stride`), delta out × B and x in × B column-major: in the column-major
// view of grad_w (its transpose) that is grad_wᵀ += x · deltaᵀ.
void AccumulateOuterProducts(Index out, Index in, Index batch, const double* delta, const double* x,
                             double* grad_w, Index stride) {
  if (batch == 1) {
    Eigen::Map<Matrix, 0, Eigen::OuterStride<>>(grad_w, in, out, Eigen::OuterStride<>(stride))
        .noalias() +=
        Eigen::Map<const Vector>(x, in) * Eigen::Map<const Vector>(delta, out).transpose();
  } else {
    DenseGemm(DenseOp::kNone, DenseOp::kTranspose, in, out, batch, 1.0, x, in, delta, out, 1.0,
              grad_w, stride);
  }
}

constexpr std::pair<const char*, Activation> kActivationTable[] = {
    {"gelu", Activation::kGelu},         {"identity", Activation::kIdentity},
    {"relu", Activation::kRelu},         {"sigmoid", Activation::kSigmoid},
    {"softplus", Activation::kSoftplus}, {"tanh", Activation::kTanh},
};

std::string JoinWidths(const std::vector<Index>& widths) {
  std::string s;
  for (size_t i = 0; i < widths.size(); ++i) s += (i ? "-" : "") + std::to_string(widths[i]);
  return s;
}

}  // namespace

// ------------------------------------------------------------------------------- activations
Activation ParseActivation(const std::string& name) {
  for (const auto& [key, value] : kActivationTable) {
    if (name == key) return value;
  }
  std::string known;
  for (const auto& entry : kActivationTable)
    known += (known.empty() ? "" : ", ") + std::string(entry.first);
  throw ConfigError("unknown activation '" + name + "'; known: " + known);
}

std::string ActivationName(Activation activation) {
  for (const auto& [key, value] : kActivationTable) {
    if (value == activation) return key;
  }
  return "unknown";
}

std::vector<std::string> ActivationNames() {
  std::vector<std::string> names;
  for (const auto& entry : kActivationTable) names.emplace_back(entry.first);
  return names;
}

// ------------------------------------------------------------------------------- MlpOptions
void MlpOptions::Validate() const {
  Require(widths.size() >= 2,
          "MlpOptions.widths needs at least an input and an output width, got " +
              std::to_string(widths.size()) + " entries");
  for (size_t i = 0; i < widths.size(); ++i) {
    Require(widths[i] > 0, "MlpOptions.widths[" + std::to_string(i) + "] must be positive, got " +
                               std::to_string(widths[i]));
  }
  Require(widths.front() == widths.back(),
          "MlpOptions.widths: an ODE vector field needs equal input and output widths, got " +
              JoinWidths(widths));
  Require(batch >= 1, "MlpOptions.batch must be at least 1, got " + std::to_string(batch));
  const size_t layers = widths.size() - 1;
  Require(
      activations.size() == layers || activations.size() == 1,
      "MlpOptions.activations needs 1 name (hidden layers; identity output) or one per layer (" +
          std::to_string(layers) + "), got " + std::to_string(activations.size()));
  for (const std::string& name : activations) ParseActivation(name);
}

std::vector<Activation> MlpOptions::LayerActivations() const {
  Validate();
  const size_t layers = widths.size() - 1;
  std::vector<Activation> result;
  if (activations.size() == layers) {
    for (const std::string& name : activations) result.push_back(ParseActivation(name));
  } else {  // one name: hidden layers use it, the output layer is linear
    result.assign(layers - 1, ParseActivation(activations.front()));
    result.push_back(Activation::kIdentity);
  }
  return result;
}

// ------------------------------------------------------------------------------- MlpField
MlpField::MlpField(MlpOptions options) : options_(std::move(options)) {
  activations_ = options_.LayerActivations();  // validates
  width_ = options_.widths.front();
  batch_ = options_.batch;
  const Index layers = num_layers();
  for (Index l = 0; l < layers; ++l) {
    const Index in = options_.widths[l] + ((l == 0 && options_.time_input) ? 1 : 0);
    const Index out = options_.widths[l + 1];
    inputs_.push_back(in);
    outputs_.push_back(out);
    weight_offsets_.push_back(num_params_);
    num_params_ += out * (in + 1);
    max_width_ = std::max(max_width_, std::max(in, out));
  }
  name_ = "mlp " + JoinWidths(options_.widths) + " ";
  if (options_.activations.size() == 1 && layers > 1) {
    name_ += options_.activations.front();
  } else {
    name_ += "[";
    for (Index l = 0; l < layers; ++l) name_ += (l ? "," : "") + ActivationName(activations_[l]);
    name_ += "]";
  }
  if (options_.time_input) name_ += " time_input";
  if (batch_ > 1) name_ += " batch " + std::to_string(batch_);

  for (Index l = 0; l < layers; ++l) {
    pre_.emplace_back(outputs_[l], batch_);
    post_.emplace_back(outputs_[l], batch_);
  }
  // Saved forward pass: the derivative products read σ(h_l) (the next layer's input, and σ' of
  // tanh/sigmoid) and h_l for the other σ', of every layer but an identity output layer.
  saved_layers_ = activations_.back() == Activation::kIdentity ? layers - 1 : layers;
  save_pre_offset_.assign(static_cast<std::size_t>(layers), -1);
  save_post_offset_.assign(static_cast<std::size_t>(layers), -1);
  for (Index l = 0; l < saved_layers_; ++l) {
    const Activation a = activations_[l];
    if (a == Activation::kRelu || a == Activation::kSoftplus || a == Activation::kGelu) {
      save_pre_offset_[l] = save_size_;
      save_size_ += outputs_[l] * batch_;
    }
    save_post_offset_[l] = save_size_;
    save_size_ += outputs_[l] * batch_;
  }
  pre_at_.resize(static_cast<std::size_t>(layers));
  post_at_.resize(static_cast<std::size_t>(layers));
  UseWorkspace();
  tangent_a_.resize(max_width_, batch_);
  tangent_b_.resize(max_width_, batch_);
  jac_a_.resize(max_width_, width_);
  jac_b_.resize(max_width_, width_);
  column_.resize(max_width_);
}

MlpField::MlpField(const MlpField& other) : MlpField(other.options_) {}

std::unique_ptr<VectorField> MlpField::Clone() const { return std::make_unique<MlpField>(*this); }

Index MlpField::layer_inputs(Index layer) const {
  CheckLayer("layer_inputs", layer);
  return inputs_[layer];
}

Index MlpField::layer_outputs(Index layer) const {
  CheckLayer("layer_outputs", layer);
  return outputs_[layer];
}

Activation MlpField::activation(Index layer) const {
  CheckLayer("activation", layer);
  return activations_[layer];
}

Index MlpField::weight_offset(Index layer) const {
  CheckLayer("weight_offset", layer);
  return weight_offsets_[layer];
}

Index MlpField::bias_offset(Index layer) const {
  CheckLayer("bias_offset", layer);
  return weight_offsets_[layer] + outputs_[layer] * inputs_[layer];
}

void MlpField::CheckLayer(const char* method, Index layer) const {
  if (layer < 0 || layer >= num_layers()) {
    throw ConfigError(name_ + ": " + method + ": layer " + std::to_string(layer) +
                      " out of range [0, " + std::to_string(num_layers()) + ")");
  }
}

Vector MlpField::InitialParams(unsigned seed) const {
  std::mt19937_64 rng(seed);
  // 53 random bits → [0, 1) exactly as documented; no library distribution involved.
  auto uniform = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  Vector theta(num_params_);
  for (Index l = 0; l < num_layers(); ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(inputs_[l]));
    const Index begin = weight_offsets_[l];
    const Index end = begin + outputs_[l] * (inputs_[l] + 1);
    for (Index i = begin; i < end; ++i) theta[i] = (2.0 * uniform() - 1.0) * bound;
  }
  return theta;
}

Eigen::Map<const MlpField::RowMatrix> MlpField::Weight(ConstVectorRef theta, Index layer) const {
  CheckLayer("Weight", layer);
  CheckParams("Weight", theta.size());
  return {theta.data() + weight_offsets_[layer], outputs_[layer], inputs_[layer]};
}

Eigen::Map<const Vector> MlpField::Bias(ConstVectorRef theta, Index layer) const {
  CheckLayer("Bias", layer);
  CheckParams("Bias", theta.size());
  return {theta.data() + bias_offset(layer), outputs_[layer]};
}

Eigen::Map<MlpField::RowMatrix> MlpField::MutableWeight(VectorRef theta, Index layer) const {
  CheckLayer("MutableWeight", layer);
  CheckParams("MutableWeight", theta.size());
  return {theta.data() + weight_offsets_[layer], outputs_[layer], inputs_[layer]};
}

Eigen::Map<Vector> MlpField::MutableBias(VectorRef theta, Index layer) const {
  CheckLayer("MutableBias", layer);
  CheckParams("MutableBias", theta.size());
  return {theta.data() + bias_offset(layer), outputs_[layer]};
}

void MlpField::SetLayer(Index layer, const Eigen::Ref<const RowMatrix>& weight, ConstVectorRef bias,
                        VectorRef theta) const {
  CheckLayer("SetLayer", layer);
  const std::string where = name_ + ": SetLayer(" + std::to_string(layer) + "): ";
  Require(weight.rows() == outputs_[layer] && weight.cols() == inputs_[layer],
          where + "weight is " + std::to_string(weight.rows()) + "x" +
              std::to_string(weight.cols()) + ", expected " + std::to_string(outputs_[layer]) +
              "x" + std::to_string(inputs_[layer]) + " (out x in)");
  Require(bias.size() == outputs_[layer], where + "bias has length " + std::to_string(bias.size()) +
                                              ", expected " + std::to_string(outputs_[layer]));
  MutableWeight(theta, layer) = weight;
  MutableBias(theta, layer) = bias;
}

// ------------------------------------------------------------------------------- evaluation
void MlpField::CheckCall(const char* method, Index z_size, Index theta_size) const {
  CheckState(method, "z", z_size);
  CheckParams(method, theta_size);
}

void MlpField::Forward(double t, const double* z, const double* theta, double* out) {
  const Index layers = num_layers();
  // The derivative products (out == nullptr) read σ'(h_l) and x_l only: an identity output layer's
  // own product is never needed there, so it is skipped (one GEMM of a VJP's forward pass).
  const Index computed =
      (out == nullptr && activations_.back() == Activation::kIdentity) ? layers - 1 : layers;
  for (Index l = 0; l < computed; ++l) {
    const Index rows = outputs_[l];
    const Eigen::Map<const RowMatrix> w(theta + weight_offsets_[l], rows, inputs_[l]);
    const Eigen::Map<const Vector> b(theta + weight_offsets_[l] + rows * inputs_[l], rows);
    MatrixMap h(pre_at_[l], rows, batch_);
    if (l == 0) {
      if (options_.time_input) {
        // [W_z w_t]·[Z; t 1ᵀ] + b 1ᵀ = W_z Z + (b + t w_t) 1ᵀ: t is folded into the bias, so Z is
        // used in place and no (n+1) × B input is assembled.
        Product(w.leftCols(width_), z, batch_, h.data());
        column_.head(rows) = b + t * w.col(width_);
        h.colwise() += column_.head(rows);
      } else {
        Product(w, z, batch_, h.data());
        h.colwise() += b;
      }
    } else {
      Product(w, post_at_[l - 1], batch_, h.data());
      h.colwise() += b;
    }
    double* dest = (l == layers - 1 && out != nullptr) ? out : post_at_[l];
    ApplyActivation(activations_[l], h.data(), dest, h.size());
  }
}

void MlpField::MultiplyByDerivative(Index layer, const double* g_ptr, double* delta_ptr) const {
  const Index count = outputs_[layer] * batch_;
  const ConstArrayMap g(g_ptr, count);
  ArrayMap delta(delta_ptr, count);
  const ConstArrayMap h(pre_at_[layer], count);
  const ConstArrayMap a(post_at_[layer], count);
  switch (activations_[layer]) {
    case Activation::kTanh:  // σ' = 1 − σ², from the stored activation: no second tanh
      delta = g * (1.0 - a.square());
      return;
    case Activation::kSigmoid:  // σ' = σ(1 − σ)
      delta = g * (a * (1.0 - a));
      return;
    case Activation::kRelu:  // subgradient 0 at the kink
      delta = (h > 0.0).select(g, 0.0);
      return;
    case Activation::kSoftplus:  // σ' = logistic(h)
      for (Index i = 0; i < count; ++i) delta_ptr[i] = g_ptr[i] / (1.0 + std::exp(-h[i]));
      return;
    case Activation::kGelu:  // σ' = Φ(h) + h φ(h)
      for (Index i = 0; i < count; ++i) {
        const double x = h[i];
        const double cdf = 0.5 * std::erfc(-x * kInvSqrt2);
        const double pdf = kInvSqrt2Pi * std::exp(-0.5 * x * x);
        delta_ptr[i] = g_ptr[i] * (cdf + x * pdf);
      }
      return;
    case Activation::kIdentity:
      if (delta_ptr != g_ptr) delta = g;
      return;
  }
}

void MlpField::PropagateTangent(const double* theta, double* out) {
  // On entry tangent_a_ holds ḣ_0 (out_0 × B). ẋ_{l+1} = σ'(h_l) ⊙ ḣ_l, ḣ_{l+1} = W_{l+1} ẋ_{l+1}.
  const Index layers = num_layers();
  double* current = tangent_a_.data();
  double* other = tangent_b_.data();
  for (Index l = 0; l < layers; ++l) {
    const bool last = (l == layers - 1);
    MultiplyByDerivative(l, current, last ? out : current);
    if (last) break;
    const Eigen::Map<const RowMatrix> w(theta + weight_offsets_[l + 1], outputs_[l + 1],
                                        inputs_[l + 1]);
    Product(w, current, batch_, other);
    std::swap(current, other);
  }
}

void MlpField::Backward(double t, const double* z, const double* theta, const double* a,
                        double* a_state, double* grad) {
  // Reverse mode: Δ_l = σ_l'(h_l) ⊙ G_l, ∂/∂W_l += Δ_l X_lᵀ, ∂/∂b_l += Δ_l 1, G_{l−1} = W_lᵀ Δ_l.
  const Index layers = num_layers();
  double* current = tangent_a_.data();
  double* other = tangent_b_.data();
  MultiplyByDerivative(layers - 1, a, current);
  for (Index l = layers - 1; l >= 0; --l) {
    const Index rows = outputs_[l];
    const Index cols = inputs_[l];
    const ConstMatrixMap delta(current, rows, batch_);
    const Eigen::Map<const RowMatrix> w(theta + weight_offsets_[l], rows, cols);
    if (grad != nullptr) {
      Eigen::Map<RowMatrix> grad_w(grad + weight_offsets_[l], rows, cols);
      Eigen::Map<Vector> grad_b(grad + weight_offsets_[l] + rows * cols, rows);
      if (l == 0) {
        AccumulateOuterProducts(rows, width_, batch_, current, z, grad_w.data(), cols);
      } else {
        AccumulateOuterProducts(rows, cols, batch_, current, post_at_[l - 1], grad_w.data(), cols);
      }
      column_.head(rows) = delta.rowwise().sum();
      grad_b += column_.head(rows);
      if (l == 0 && options_.time_input) grad_w.col(width_) += t * column_.head(rows);
    }
    if (l == 0) {
      if (a_state != nullptr) {
        Product(w.leftCols(width_).transpose(), current, batch_, a_state);
      }
      break;
    }
    Product(w.transpose(), current, batch_, other);
    MultiplyByDerivative(l - 1, other, other);
    std::swap(current, other);
  }
}

void MlpField::UseWorkspace() {
  for (std::size_t l = 0; l < pre_.size(); ++l) {
    pre_at_[l] = pre_[l].data();
    post_at_[l] = post_[l].data();
  }
}

void MlpField::PointIntoSave(double* saved) {
  for (std::size_t l = 0; l < pre_.size(); ++l) {
    pre_at_[l] = save_pre_offset_[l] >= 0 ? saved + save_pre_offset_[l] : pre_[l].data();
    post_at_[l] = save_post_offset_[l] >= 0 ? saved + save_post_offset_[l] : post_[l].data();
  }
}

void MlpField::UseSaved(const double* saved) {
  // Read-only use: the passes that follow only read h_l and σ(h_l).
  PointIntoSave(const_cast<double*>(saved));
}

void MlpField::FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
                       double* saved) {
  const Index n = width_ * batch_;
  if (z.size() != n || theta.size() != num_params_ || out.size() != n) {
    CheckCall("FSaving", z.size(), theta.size());
    CheckState("FSaving", "out", out.size());
  }
  PointIntoSave(saved);
  Forward(t, z.data(), theta.data(), out.data());
  const Index last = num_layers() - 1;
  if (save_post_offset_[last] >= 0) {
    // A non-identity output layer wrote σ(h_L) to out only.
    std::copy(out.data(), out.data() + n, saved + save_post_offset_[last]);
  }
  UseWorkspace();
}

void MlpField::VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                        ConstVectorRef a, VectorRef a_state, VectorRef grad) {
  CheckCall("VjpSaved", z.size(), theta.size());
  CheckState("VjpSaved", "a", a.size());
  CheckState("VjpSaved", "a_state", a_state.size());
  const bool params = grad.size() != 0;  // empty: the state product only
  if (params) CheckParams("VjpSaved (grad)", grad.size());
  UseSaved(saved);
  Backward(t, z.data(), theta.data(), a.data(), a_state.data(), params ? grad.data() : nullptr);
  UseWorkspace();
}

void MlpField::F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  // Runs on every f call: compare the sizes inline and let the checks build the error only then.
  const Index n = width_ * batch_;
  if (z.size() != n || theta.size() != num_params_ || out.size() != n) {
    CheckCall("F", z.size(), theta.size());
    CheckState("F", "out", out.size());
  }
  Forward(t, z.data(), theta.data(), out.data());
}

void MlpField::Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                   VectorRef out) {
  CheckCall("Jvp", z.size(), theta.size());
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  Forward(t, z.data(), theta.data(), nullptr);
  const Index rows = outputs_[0];
  const Eigen::Map<const RowMatrix> w(theta.data(), rows, inputs_[0]);
  Product(w.leftCols(width_), v.data(), batch_, tangent_a_.data());
  PropagateTangent(theta.data(), out.data());
}

void MlpField::JacobianBlocks(double t, ConstVectorRef z, ConstVectorRef theta, Index block,
                              double* blocks) {
  if (block != width_) {
    VectorField::JacobianBlocks(t, z, theta, block, blocks);
    return;
  }
  CheckCall("JacobianBlocks", z.size(), theta.size());
  Forward(t, z.data(), theta.data(), nullptr);
  if (block_column_.rows() != width_ || block_column_.cols() != batch_) {
    block_column_.resize(width_, batch_);
  }
  const Index rows = outputs_[0];
  const Eigen::Map<const RowMatrix> w(theta.data(), rows, inputs_[0]);
  for (Index c = 0; c < width_; ++c) {
    // The comb vector e_c at every sample enters layer 0 as ḣ_0 = W_0[:, c].
    MatrixMap(tangent_a_.data(), rows, batch_).colwise() = w.col(c);
    PropagateTangent(theta.data(), block_column_.data());
    for (Index i = 0; i < batch_; ++i) {
      double* block_column = blocks + (i * width_ + c) * width_;
      for (Index r = 0; r < width_; ++r) block_column[r] = block_column_(r, i);
    }
  }
}

void MlpField::TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckCall("TimeDerivative", z.size(), theta.size());
  CheckState("TimeDerivative", "out", out.size());
  if (!options_.time_input) {
    out.setZero();
    return;
  }
  Forward(t, z.data(), theta.data(), nullptr);
  const Index rows = outputs_[0];
  const Eigen::Map<const RowMatrix> w(theta.data(), rows, inputs_[0]);
  // ∂h_0/∂t = W_0[:, n] for every sample.
  MatrixMap(tangent_a_.data(), rows, batch_).colwise() = w.col(width_);
  PropagateTangent(theta.data(), out.data());
}

void MlpField::VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                        VectorRef out) {
  CheckCall("VjpState", z.size(), theta.size());
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  Forward(t, z.data(), theta.data(), nullptr);
  Backward(t, z.data(), theta.data(), a.data(), out.data(), nullptr);
}

void MlpField::VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                         VectorRef grad) {
  CheckCall("VjpParams", z.size(), theta.size());
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams (grad)", grad.size());
  Forward(t, z.data(), theta.data(), nullptr);
  Backward(t, z.data(), theta.data(), a.data(), nullptr, grad.data());
}

void MlpField::VjpParamsSum(const double* times, ConstMatrixRef z, ConstVectorRef theta,
                            ConstMatrixRef a, VectorRef grad) {
  const Index points = a.cols();
  bool one_time = true;
  for (Index k = 1; k < points && options_.time_input; ++k)
    one_time = one_time && times[k] == times[0];
  const bool contiguous = z.outerStride() == z.rows() && a.outerStride() == a.rows();
  if (batch_ != 1 || points < 2 || !one_time || !contiguous || z.rows() != width_ ||
      a.rows() != width_ || z.cols() != points) {
    VectorField::VjpParamsSum(times, z, theta, a, grad);
    return;
  }
  CheckCall("VjpParamsSum", width_, theta.size());
  CheckParams("VjpParamsSum (grad)", grad.size());
  for (Index first = 0; first < points; first += kMaxSumPoints) {
    const Index count = std::min(kMaxSumPoints, points - first);
    if (count == 1) {
      VjpParams(times[first], z.col(first), theta, a.col(first), grad);
      continue;
    }
    if (sum_fields_.size() < static_cast<std::size_t>(count - 1)) {
      sum_fields_.resize(static_cast<std::size_t>(count - 1));
    }
    std::unique_ptr<MlpField>& field = sum_fields_[static_cast<std::size_t>(count - 2)];
    if (!field) {
      MlpOptions options = options_;
      options.batch = count;
      field = std::make_unique<MlpField>(options);
    }
    const Eigen::Map<const Vector> z_all(z.data() + first * width_, width_ * count);
    const Eigen::Map<const Vector> a_all(a.data() + first * width_, width_ * count);
    field->VjpParams(times[first], z_all, theta, a_all, grad);
  }
}

void MlpField::Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                   VectorRef a_state, VectorRef grad) {
  CheckCall("Vjp", z.size(), theta.size());
  CheckState("Vjp", "a", a.size());
  CheckState("Vjp", "a_state", a_state.size());
  CheckParams("Vjp (grad)", grad.size());
  Forward(t, z.data(), theta.data(), nullptr);
  Backward(t, z.data(), theta.data(), a.data(), a_state.data(), grad.data());
}

void MlpField::DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) {
  CheckCall("DenseJacobian", z.size(), theta.size());
  const Index n = state_size();
  Require(jac.rows() == n && jac.cols() == n, [&] {
    return name_ + ": DenseJacobian: jac is " + std::to_string(jac.rows()) + "x" +
           std::to_string(jac.cols()) + ", expected " + std::to_string(n) + "x" + std::to_string(n);
  });
  Forward(t, z.data(), theta.data(), nullptr);
  // σ'(h_l) for every layer and sample, in place of the pre-activations (no longer needed):
  // MultiplyByDerivative with g = 1 reads h and a element by element before writing.
  const Index layers = num_layers();
  for (Index l = 0; l < layers; ++l) {
    ArrayMap ones(tangent_a_.data(), pre_[l].size());
    ones.setOnes();
    MultiplyByDerivative(l, tangent_a_.data(), pre_[l].data());
  }
  jac.setZero();
  // Per sample: M_0 = D_0 W_0[:, :n], M_l = D_l W_l M_{l−1}; J_b = M_{L−1}. Multiplying from the
  // input side keeps every intermediate at width n (the narrowest side for an ODE field).
  for (Index b = 0; b < batch_; ++b) {
    const Eigen::Map<const RowMatrix> w0(theta.data(), outputs_[0], inputs_[0]);
    MatrixMap m(jac_a_.data(), outputs_[0], width_);
    m.noalias() = pre_[0].col(b).asDiagonal() * w0.leftCols(width_);
    double* current = jac_a_.data();
    double* other = jac_b_.data();
    for (Index l = 1; l < layers; ++l) {
      const Eigen::Map<const RowMatrix> w(theta.data() + weight_offsets_[l], outputs_[l],
                                          inputs_[l]);
      MatrixMap next(other, outputs_[l], width_);
      next.noalias() = w * ConstMatrixMap(current, outputs_[l - 1], width_);
      next.array().colwise() *= pre_[l].col(b).array();
      std::swap(current, other);
    }
    jac.block(b * width_, b * width_, width_, width_) = ConstMatrixMap(current, width_, width_);
  }
}

}  // namespace snode
