#pragma once
// Fields of the form f(t, z; θ) = A z + g(t, z; θ): a fixed linear operator A on the state (a
// diffusion stencil of a method-of-lines PDE) plus a batched pointwise field g (the reaction, e.g.
// an MLP applied at every grid point), with a preconditioner that solves the Newton systems of
// implicit steps exactly in O(N) when A is a periodic three-point stencil.
//
// State layout: `points` grid points of `species` components each, interleaved: z_{i,s} is
// z[i·species + s]. The pointwise field's Jacobian must be block-diagonal with species × species
// blocks R_i = ∂g_i/∂z_i (a batched field with batch = points, e.g. MlpField).
//
// Preconditioner (MakePreconditioner), side kForward: M = I − γ (A + blockdiag(R_i)), the exact
// Newton matrix. Setup gets every R_i from g's JacobianBlocks (by default `species` batched
// JVPs with the comb vectors c_s = Σ_i e_{i,s}, block-diagonality making (J c_s)_{i,·} the column
// s of R_i; MlpField shares one forward pass between them).
//  * A a periodic three-point stencil (LinearOperator::Stencil(), e.g. PeriodicDiffusion1D):
//    (A x)_i = L x_{i−1} + C x_i + U x_{i+1} (indices mod N; L, C, U diagonal species × species
//    matrices), so M is periodic block-tridiagonal with diagonal blocks D_i = I − γ(C + R_i), sub-
//    and super-diagonal blocks −γL, −γU and the corner blocks M_{0,N−1} = −γL, M_{N−1,0} = −γU.
//    Write M = T + W Vᵀ, T the block-tridiagonal part without the corners, W = [E_0(−γL),
//    E_{N−1}(−γU)], Vᵀ x = (x_{N−1}, x_0) (E_i selects the block of point i; rank 2·species).
//    Setup factors T by the block Thomas recurrence P_0 = D_0, P_i = D_i − (−γL) P_{i−1}⁻¹ (−γU)
//    (keeping P_i⁻¹ and P_i⁻¹(−γU)), forms Z = T⁻¹ W (2·species solves with T) and the
//    capacitance matrix K = I + Vᵀ Z; Solve is Sherman–Morrison–Woodbury:
//    x = y − Z K⁻¹ Vᵀ y with y = T⁻¹ r. Exact up to rounding: one Krylov iteration per Newton
//    iteration. Cost per Setup: `species` JVPs of g plus O(N·species³); per Solve O(N·species²);
//    memory (5·species² + 3·species)·N doubles (26·N for two species). The columns of Z decay
//    geometrically away from the two ends; blocks of Z below 1e-20·|W| (under rounding) are set
//    to zero and Solve applies each column over its non-zero range only. No pivoting
//    across blocks (within a block: partial pivoting): T must be block-factorable, true when M is
//    block diagonally dominant (γ ≥ 0 with the diffusion stencil and moderate R_i) and otherwise
//    not guaranteed (γ < 0 with a large γ·D/dx²).
//  * Any other operator: block Jacobi, M̃ = blockdiag(I − γ(diag(A)_i + R_i)), diag(A)_i the
//    diagonal entries of A at point i (LinearOperator::Diagonal); only the point-local part of the
//    Newton matrix, so the Krylov solver has to do the coupling.
// Side kTransposed solves with Mᵀ: the blocks transposed and the sub-/super-diagonals swapped.
// γ may be negative. Setup and Solve allocate nothing (the workspace is sized when the
// preconditioner is made); a singular or non-finite block (or capacitance matrix) throws
// NumericalError naming the point; wrong argument sizes throw ConfigError.
//
// Costs: with a recorder set (SetCostRecorder), every product of A, every call of g (F, JVP, VJPs)
// made through the field, and every preconditioner Setup and Solve add their steady-clock seconds
// and a call to the recorder (Setup's JVPs of g count as setup, not as pointwise calls). Clones
// and preconditioners share the recorder. Single-threaded use only, like the field.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode {

// A periodic 1-D three-point stencil acting on each species separately:
//   (A x)_{i,s} = lower[s] x_{i−1,s} + centre[s] x_{i,s} + upper[s] x_{i+1,s},  i mod points.
struct PeriodicStencil1D {
  Index points = 0;
  Vector lower, centre, upper;  // one coefficient per species
  Index species() const { return centre.size(); }
};

// A linear operator on the state (e.g. a diffusion stencil), with exact products and no matrix.
class LinearOperator {
 public:
  virtual ~LinearOperator() = default;
  virtual std::string name() const = 0;
  virtual Index size() const = 0;
  virtual void Apply(ConstVectorRef x, VectorRef out) const = 0;           // out = A x
  virtual void ApplyTranspose(ConstVectorRef x, VectorRef out) const = 0;  // out = Aᵀ x
  // Half-bandwidth of A ignoring periodic wrap-around corners; -1 when not banded.
  virtual Index HalfBandwidth() const { return -1; }
  virtual std::unique_ptr<LinearOperator> Clone() const = 0;
  // The stencil when A is a periodic 1-D three-point stencil (interleaved layout above), which
  // the preconditioner solves exactly; nullopt (the default) otherwise.
  virtual std::optional<PeriodicStencil1D> Stencil() const { return std::nullopt; }
  // out = diag(A). The default applies A to every unit vector (size() products, O(size()²)):
  // operators with a cheap diagonal override it.
  virtual void Diagonal(VectorRef out) const;
};

// out_{i,s} = D_s (x_{i+1,s} − 2 x_{i,s} + x_{i−1,s}) / dx², periodic, interleaved index
// i·species + s, dx = length / points. ConfigError for points < 3, no species, D_s < 0 or
// non-finite, or a non-positive or non-finite length. Symmetric: ApplyTranspose = Apply.
class PeriodicDiffusion1D final : public LinearOperator {
 public:
  PeriodicDiffusion1D(Index points, std::vector<double> diffusion_per_species, double length = 1.0);
  std::string name() const override;
  Index size() const override { return points_ * species_; }
  void Apply(ConstVectorRef x, VectorRef out) const override;
  void ApplyTranspose(ConstVectorRef x, VectorRef out) const override { Apply(x, out); }
  Index HalfBandwidth() const override { return species_; }
  std::unique_ptr<LinearOperator> Clone() const override;
  std::optional<PeriodicStencil1D> Stencil() const override;
  void Diagonal(VectorRef out) const override;

  Index points() const { return points_; }
  Index species() const { return species_; }
  double dx() const { return dx_; }
  // D_s / dx² per species.
  const Vector& coefficients() const { return coefficients_; }

 private:
  void Check(const char* method, Index x_size, Index out_size) const;

  Index points_;
  Index species_;
  double dx_;
  std::vector<double> diffusion_;
  Vector coefficients_;
};

// Per-component costs for a benchmark's breakdown: seconds (steady clock) and call counts of the
// operator products, the pointwise field's evaluations/products, and the preconditioner's setups
// and solves. Recording is off unless a recorder is set; clones share the recorder (single-thread
// use).
struct OperatorFieldCosts {
  double operator_seconds = 0, pointwise_seconds = 0, setup_seconds = 0, solve_seconds = 0;
  long operator_calls = 0, pointwise_calls = 0, setups = 0, solves = 0;
};

// f(t, z; θ) = A z + g(t, z; θ), g a batched pointwise field (state_size() = points·species,
// Jacobian block-diagonal with species×species blocks, e.g. MlpField with batch = points) whose
// parameters are θ. ConfigError when an argument is null, species < 1, or the sizes disagree
// (A's size, g's state size, a multiple of species; a stencil's species and points).
class OperatorPlusPointwiseField final : public VectorField {
 public:
  OperatorPlusPointwiseField(std::unique_ptr<LinearOperator> op,
                             std::unique_ptr<VectorField> pointwise, Index species);

  void SetCostRecorder(std::shared_ptr<OperatorFieldCosts> recorder);
  const std::shared_ptr<OperatorFieldCosts>& cost_recorder() const { return costs_; }

  std::string name() const override;
  Index state_size() const override { return op_->size(); }
  Index num_params() const override { return pointwise_->num_params(); }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override;
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override;
  // g's (A has no parameters).
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override;
  // Forwarded to g's batched VjpParamsSum (one pass over all points per quadrature node).
  void VjpParamsSum(const double* times, ConstMatrixRef z, ConstVectorRef theta, ConstMatrixRef a,
                    VectorRef grad) override;
  void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef a_state,
           VectorRef grad) override;
  Index ForwardSaveSize() const override { return pointwise_->ForwardSaveSize(); }
  void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
               double* saved) override;
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                ConstVectorRef a, VectorRef a_state, VectorRef grad) override;
  bool IsAutonomous() const override { return pointwise_->IsAutonomous(); }
  void TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  // The linearisation is the blocks R_i (points · species² doubles), g's JacobianBlocks as in
  // the preconditioner's Setup; VjpStateLinearized is then Aᵀ a + blockdiag(R_iᵀ) a, with
  // no network pass.
  Index LinearizationSize() const override { return state_size() * species_; }
  void Linearize(double t, ConstVectorRef z, ConstVectorRef theta, double* linearization) override;
  void VjpStateLinearized(const double* linearization, ConstVectorRef a, VectorRef out) override;
  std::unique_ptr<VectorField> Clone() const override;
  // See the file comment: exact periodic block-tridiagonal solves or block Jacobi.
  std::unique_ptr<Preconditioner> MakePreconditioner(PreconditionerSide side) override;
  // max(A's half-bandwidth, species − 1); -1 when A declares none.
  Index JacobianHalfBandwidth() const override;

  const LinearOperator& op() const { return *op_; }
  VectorField& pointwise() { return *pointwise_; }
  Index species() const { return species_; }
  Index points() const { return state_size() / species_; }

 private:
  // out += A x (or Aᵀ x), through the scratch vector.
  void AddOperator(ConstVectorRef x, VectorRef out, bool transpose);

  std::unique_ptr<LinearOperator> op_;
  std::unique_ptr<VectorField> pointwise_;
  Index species_;
  Vector scratch_;
  std::shared_ptr<OperatorFieldCosts> costs_;
};

}  // namespace snode
