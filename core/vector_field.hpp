#pragma once
// VectorField: the right-hand side f(t, z; θ) of a (neural) ODE z' = f(t, z; θ) together with the
// derivative products every integrator and gradient method needs.
//
// Shapes: z, f, v, a have length state_size(); θ has length num_params(). A batched field holds
// B samples of width n back to back (z = [z_1; …; z_B], state_size() = B·n) and its Jacobian is
// block-diagonal over the batch.
//
// Ownership and threading: θ is passed in on every call, so one field object can be evaluated at
// many parameter vectors (finite differences, optimisers). Implementations may keep mutable
// workspace, so one object must not be used from two threads at once: Clone() one per thread.
//
// Every method throws ConfigError on wrong argument sizes.

#include <memory>
#include <string>

#include "core/preconditioner.hpp"
#include "core/types.hpp"

namespace snode {

class VectorField {
 public:
  virtual ~VectorField() = default;

  // A short human-readable description, e.g. "mlp 2-32-32-2 tanh".
  virtual std::string name() const = 0;
  // Length of z (B·n for a batched field).
  virtual Index state_size() const = 0;
  // Length of θ.
  virtual Index num_params() const = 0;

  // out = f(t, z; θ).
  virtual void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) = 0;
  // out = (∂f/∂z) v  (Jacobian-vector product, forward mode).
  virtual void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                   VectorRef out) = 0;
  // out = aᵀ ∂f/∂z, i.e. (∂f/∂z)ᵀ a  (vector-Jacobian product w.r.t. the state).
  virtual void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                        VectorRef out) = 0;
  // grad += aᵀ ∂f/∂θ. Accumulates: the caller zeroes grad when it wants a fresh product.
  virtual void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                         VectorRef grad) = 0;

  // grad += Σ_k (∂f/∂θ)ᵀ(times[k], z_k) a_k over the K = a.cols() points whose states and
  // adjoints are the columns of z and a (state_size() × K each): the many parameter products of
  // a quadrature at once. The default calls VjpParams per point; MlpField evaluates them as one
  // batch (matrix–matrix products instead of K matrix–vector ones).
  virtual void VjpParamsSum(const double* times, ConstMatrixRef z, ConstVectorRef theta,
                            ConstMatrixRef a, VectorRef grad);

  // Both VJPs at once: a_state = (∂f/∂z)ᵀ a (overwritten), grad += (∂f/∂θ)ᵀ a. Fields whose two
  // products share work (the MLP's backward pass) override this; the default calls both.
  virtual void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                   VectorRef a_state, VectorRef grad) {
    VjpState(t, z, theta, a, a_state);
    VjpParams(t, z, theta, a, grad);
  }

  // True when DenseJacobian is cheaper than state_size() JVPs (a closed form exists).
  virtual bool HasDenseJacobian() const { return false; }
  // jac = ∂f/∂z (state_size() × state_size()). The default assembles it column by column from
  // Jvp, so it is always available, but costs state_size() JVPs.
  virtual void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac);

  // A preconditioner for the Krylov solves of implicit steps (core/preconditioner.hpp): M ≈ I − γ
  // ∂f/∂z (kForward) or its transpose (kTransposed). nullptr (the default) when the field offers
  // none; solvers then run their Krylov method unpreconditioned. The object may refer to this
  // field.
  virtual std::unique_ptr<Preconditioner> MakePreconditioner(PreconditionerSide side) {
    (void)side;
    return nullptr;
  }
  // Half-bandwidth of ∂f/∂z when it is banded up to a few entries (a periodic stencil's corners),
  // for SUNDIALS' banded difference-quotient preconditioner; -1 (the default) when not declared.
  virtual Index JacobianHalfBandwidth() const { return -1; }

  // False when f depends on t explicitly (e.g. an MLP with time input).
  virtual bool IsAutonomous() const { return true; }
  // out = ∂f/∂t. The default is a central difference with step 1e-6·max(1,|t|) (exact zero for
  // autonomous fields); fields with a closed form override it.
  virtual void TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out);

  // Saved forward passes (a reverse-mode tape): a field whose VJP repeats part of the work of F
  // (an MLP's hidden activations) can keep that work from an F call for a later VJP at the same
  // (t, z, θ). ForwardSaveSize() is the number of doubles one call keeps (0, the default: nothing
  // to keep).
  virtual Index ForwardSaveSize() const { return 0; }
  // out = f(t, z; θ), and the intermediates of this evaluation into saved[0, ForwardSaveSize()).
  virtual void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
                       double* saved) {
    (void)saved;
    F(t, z, theta, out);
  }
  // Vjp at the (t, z, θ) of the FSaving call that filled `saved` (z equal to round-off): the same
  // products without recomputing the forward pass. An empty grad (size 0) asks for the state
  // product only (VjpState), e.g. for the adjoint's right-hand side.
  virtual void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                        ConstVectorRef a, VectorRef a_state, VectorRef grad) {
    (void)saved;
    if (grad.size() == 0) {
      VjpState(t, z, theta, a, a_state);
    } else {
      Vjp(t, z, theta, a, a_state, grad);
    }
  }

  // State linearisations: a field whose state products at one (t, z, θ) are cheap once a small
  // linearisation is known (a pointwise network's species × species Jacobian blocks) computes it
  // once (Linearize) for many VjpStateLinearized calls. LinearizationSize() is the number of
  // doubles it takes (0, the default: none; the other two then throw ConfigError).
  virtual Index LinearizationSize() const { return 0; }
  // Writes the linearisation at (t, z, θ) into linearization[0, LinearizationSize()).
  virtual void Linearize(double t, ConstVectorRef z, ConstVectorRef theta, double* linearization);
  // out = (∂f/∂z)ᵀ a at the (t, z, θ) of the Linearize call that filled `linearization`.
  virtual void VjpStateLinearized(const double* linearization, ConstVectorRef a, VectorRef out);

  // The diagonal blocks of a block-diagonal state Jacobian (a batched pointwise field: the same
  // function at every point, `block` values per point): blocks[i·block² + c·block + r] =
  // ∂f_{i·block+r}/∂z_{i·block+c}, column-major per point, for the state_size()/block points.
  // The default takes `block` JVPs with comb vectors (1 at position c of every point), right for
  // any field with that structure; a field overrides it to share work between the columns
  // (MlpField: one forward pass and `block` tangent passes). ConfigError unless block ≥ 1
  // divides state_size().
  virtual void JacobianBlocks(double t, ConstVectorRef z, ConstVectorRef theta, Index block,
                              double* blocks);

  // A deep copy with its own workspace, for use on another thread.
  virtual std::unique_ptr<VectorField> Clone() const = 0;

 protected:
  // Throws ConfigError naming the method and the argument when a length is wrong.
  void CheckState(const char* method, const char* argument, Index length) const;
  void CheckParams(const char* method, Index length) const;
  // JacobianBlocks' ConfigError for a block that is not ≥ 1 or does not divide state_size().
  void CheckJacobianBlocks(Index block) const;
};

}  // namespace snode
