#pragma once
// MlpField: a multilayer perceptron as the right-hand side of a neural ODE, evaluated in batches.
//
// Architecture (widths = {n, h_1, ..., h_{L-1}, n}, L = widths.size() − 1 dense layers):
//   x_0 = z                  (n inputs)      or  x_0 = [z; t]  (n + 1 inputs, time_input = true)
//   h_l = W_l x_l + b_l,  x_{l+1} = σ_l(h_l),   l = 0, …, L − 1
//   f(t, z; θ) = x_L         (n outputs)
//
// Batching: with batch = B the state holds B samples of width n back to back,
// z = [z_1; …; z_B] ∈ R^{B·n}. Internally z is viewed as the n × B column-major matrix Z and every
// layer is one matrix–matrix product H_l = W_l X_l + b_l 1ᵀ. All samples share t and θ. The state
// Jacobian ∂f/∂z is block-diagonal with B blocks of n × n.
//
// Parameter layout (flat θ, length Σ_l out_l·(in_l + 1); 1 218 for 2-32-32-2): for l = 0, 1, …
//   W_l (out_l × in_l, ROW-MAJOR, i.e. PyTorch's nn.Linear.weight (out, in) copied in order), then
//   b_l (out_l). With time input the last column of W_0 multiplies t.
// Weight()/Bias() return Eigen maps onto θ (no copies).
//
// Activations (names are the registry-style strings below):
//   tanh (a vectorised kernel within ~1 ulp of std::tanh, SSE2/AVX2/AVX-512 picked at run time),
//   relu (max(h,0); derivative 0 at h = 0), softplus (log(1 + e^h), evaluated stably),
//   gelu (exact: h·Φ(h), Φ(h) = ½ erfc(−h/√2) the standard normal CDF), sigmoid (1/(1 + e^{−h})),
//   identity.
// Activation rule (MlpOptions::activations):
//   * L names: one per layer, in order (the last one acts on the output layer);
//   * 1 name and L > 1: that activation on every hidden layer and identity on the output layer
//     (the usual "MLP with tanh" meaning). With L = 1 a single name is the per-layer rule.
//   Anything else is a ConfigError.
//
// Initialisation (InitialParams(seed)): PyTorch's nn.Linear default distribution,
// W_l, b_l ~ U(−1/√in_l, 1/√in_l), drawn in θ order from std::mt19937_64(seed). Each double is
// built from one raw 64-bit output as u = (x >> 11)·2⁻⁵³ ∈ [0, 1), value = (2u − 1)·bound, so the
// vector is identical on every platform (std::uniform_real_distribution is implementation-defined).
//
// Cost and memory: F/Jvp/Vjp* allocate nothing on the heap in steady state (the workspace is sized
// in the constructor; large GEMMs may use Eigen's stack buffers). Every call recomputes the forward
// pass, so derivative calls never depend on a previous F call. DenseJacobian writes a
// (B·n) × (B·n) matrix, mostly zeros: prefer Jvp/Vjp for large batches.
//
// Throws: ConfigError from the constructor (bad options) and from every method on wrong argument
// lengths. Not thread-safe (mutable workspace): Clone() per thread.

#include <memory>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode {

enum class Activation { kTanh, kRelu, kSoftplus, kGelu, kSigmoid, kIdentity };

// "tanh" → Activation::kTanh, …; throws ConfigError listing the known names.
Activation ParseActivation(const std::string& name);
// The inverse of ParseActivation.
std::string ActivationName(Activation activation);
// All known names, sorted: gelu, identity, relu, sigmoid, softplus, tanh.
std::vector<std::string> ActivationNames();

struct MlpOptions {
  std::vector<Index> widths;                        // {n, h_1, ..., n}; ≥ 2 entries, all > 0
  std::vector<std::string> activations = {"tanh"};  // see the activation rule above
  bool time_input = false;                          // append t to the input of the first layer
  Index batch = 1;                                  // samples per state vector, ≥ 1
  // Throws ConfigError naming the offending field.
  void Validate() const;
  // The per-layer activations after applying the rule above (calls Validate()).
  std::vector<Activation> LayerActivations() const;
};

class MlpField final : public VectorField {
 public:
  using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  // Validates options (ConfigError) and allocates the workspace for options.batch samples.
  explicit MlpField(MlpOptions options);
  MlpField(const MlpField& other);
  MlpField& operator=(const MlpField&) = delete;

  // e.g. "mlp 2-32-32-2 tanh", "mlp 64-64-64 [tanh,identity] time_input batch 128".
  std::string name() const override { return name_; }
  Index state_size() const override { return width_ * batch_; }
  Index num_params() const override { return num_params_; }

  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override;
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override;
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override;
  // For a single-sample field (batch 1): the K points as one batch-K pass through a copy of
  // this field made on first use (K ≤ kMaxSumPoints; more points go in chunks), when the points
  // share t or the field has no time input; otherwise VjpParams per point.
  void VjpParamsSum(const double* times, ConstMatrixRef z, ConstVectorRef theta, ConstMatrixRef a,
                    VectorRef grad) override;
  static constexpr Index kMaxSumPoints = 32;
  // One forward and one backward pass for both products.
  void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef a_state,
           VectorRef grad) override;
  // Saved forward pass: the hidden layers' activations σ(h_l) (and h_l where σ' needs it: relu,
  // softplus, gelu), and the output layer's when it is not the identity.
  Index ForwardSaveSize() const override { return save_size_; }
  void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
               double* saved) override;
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                ConstVectorRef a, VectorRef a_state, VectorRef grad) override;
  bool HasDenseJacobian() const override { return true; }
  // Closed form per sample: J_b = D_{L−1} W_{L−1} ⋯ D_0 W_0[:, :n], D_l = diag(σ_l'(h_l)); the
  // off-diagonal blocks are set to zero. jac must be (B·n) × (B·n).
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override;
  // With block = width(): one forward pass and `width` tangent passes, the tangent of comb
  // column c entering as W_0[:, c] (about half the cost of `width` JVPs). Other blocks: the
  // default comb JVPs.
  void JacobianBlocks(double t, ConstVectorRef z, ConstVectorRef theta, Index block,
                      double* blocks) override;
  bool IsAutonomous() const override { return !options_.time_input; }
  // Exact ∂f/∂t: the forward-mode derivative along the t column of W_0 (zero when autonomous).
  void TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  std::unique_ptr<VectorField> Clone() const override;

  // Architecture.
  const MlpOptions& options() const { return options_; }
  Index width() const { return width_; }  // n, the width of one sample
  Index batch() const { return batch_; }
  Index num_layers() const { return static_cast<Index>(activations_.size()); }
  Index layer_inputs(Index layer) const;   // in_l (n + 1 for layer 0 with time input)
  Index layer_outputs(Index layer) const;  // out_l
  Activation activation(Index layer) const;
  Index weight_offset(Index layer) const;  // index of W_l(0, 0) in θ
  Index bias_offset(Index layer) const;    // index of b_l(0) in θ

  // Deterministic initial parameters (scheme in the header comment).
  Vector InitialParams(unsigned seed) const;

  // Views onto θ (θ must stay alive and must not be resized while a view is used). Throw
  // ConfigError for a bad layer index or a θ of the wrong length.
  Eigen::Map<const RowMatrix> Weight(ConstVectorRef theta, Index layer) const;
  Eigen::Map<const Vector> Bias(ConstVectorRef theta, Index layer) const;
  Eigen::Map<RowMatrix> MutableWeight(VectorRef theta, Index layer) const;
  Eigen::Map<Vector> MutableBias(VectorRef theta, Index layer) const;
  // Copies a PyTorch-layout layer (weight out × in, bias out) into θ; ConfigError on a shape
  // mismatch.
  void SetLayer(Index layer, const Eigen::Ref<const RowMatrix>& weight, ConstVectorRef bias,
                VectorRef theta) const;

 private:
  using MatrixMap = Eigen::Map<Matrix>;
  using ConstMatrixMap = Eigen::Map<const Matrix>;

  void CheckLayer(const char* method, Index layer) const;
  // Forward pass: fills pre_[l] (h_l) and post_[l] (σ(h_l)) for every layer; with `out` non-null
  // the last layer's activation goes to out instead of post_.back(). With `out` null (the
  // derivative products) an identity last layer is not evaluated: nothing reads its h or σ.
  void Forward(double t, const double* z, const double* theta, double* out);
  // Points the layer buffers (h_l, σ(h_l)) at the workspace, or at a saved forward pass.
  void UseWorkspace();
  void UseSaved(const double* saved);
  void PointIntoSave(double* saved);
  // Writes σ_l'(h_l) ⊙ g into delta (g and delta may be the same buffer).
  void MultiplyByDerivative(Index layer, const double* g, double* delta) const;
  // Given the layer-0 tangent of h_0 in tangent_a_, propagates it to the output (forward mode).
  void PropagateTangent(const double* theta, double* out);
  // Backward pass from adjoint a (n × B); accumulates into grad if non-null and writes the state
  // adjoint into a_state if non-null. Requires a prior Forward().
  void Backward(double t, const double* z, const double* theta, const double* a, double* a_state,
                double* grad);
  void CheckCall(const char* method, Index z_size, Index theta_size) const;

  MlpOptions options_;
  std::vector<Activation> activations_;
  std::vector<Index> inputs_, outputs_, weight_offsets_;
  Index width_ = 0;
  Index batch_ = 1;
  Index num_params_ = 0;
  Index max_width_ = 0;
  std::string name_;

  // Workspace (mutable state of the evaluation; sized once).
  std::vector<Matrix> pre_;   // h_l, out_l × B
  std::vector<Matrix> post_;  // σ(h_l), out_l × B
  // Where the passes read and write h_l and σ(h_l): the workspace above, or a saved forward pass
  // (FSaving writes into it, VjpSaved reads from it).
  std::vector<double*> pre_at_, post_at_;
  std::vector<Index> save_pre_offset_, save_post_offset_;  // −1: not saved
  Index saved_layers_ = 0;  // layers whose buffers a derivative product reads
  Index save_size_ = 0;
  Matrix tangent_a_, tangent_b_;  // max_width × B ping-pong buffers (tangents / adjoints)
  Matrix jac_a_, jac_b_;          // max_width × n (dense Jacobian of one sample)
  Vector column_;                 // max_width (bias + t·W_0[:, n], bias gradients)
  Matrix block_column_;           // n × B: one column position of every Jacobian block
  // Batch-K copies for VjpParamsSum, index K − 2 (made on first use, not copied with the field:
  // a copy for another thread makes its own).
  std::vector<std::unique_ptr<MlpField>> sum_fields_;
};

}  // namespace snode
