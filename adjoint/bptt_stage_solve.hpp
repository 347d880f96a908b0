#pragma once
// The linear systems of bptt's implicit stages, I − γ J(t, y) with J = ∂f/∂z and γ = h a_ii:
// by dense LU of the assembled matrix (linear_solver "dense") or by matrix-free GMRES with the
// field's Jacobian products ("gmres", "fgmres"), right-preconditioned by the field's
// preconditioners when the tape has them (BpttTape::forward_preconditioner: the forward side with
// Setup(t, y, θ, γ), since the Newton matrix is I − γJ; transposed_preconditioner: the transposed
// side with the same γ, since (I − γJ)ᵀ = I − γJᵀ), set up at every solve (the Newton iterate
// moves). Products, Jacobians, Krylov iterations and preconditioner calls are counted in the
// tape.

#include "adjoint/bptt_tape.hpp"

namespace snode {
namespace detail {

// w.delta = (I − γ J(t, y))⁻¹ w.residual: a Newton correction of the stage equation.
void SolveStageCorrection(BpttTape& tape, double t, double gamma, ConstVectorRef y);

// w.x = (I − γ J(t, y))⁻ᵀ rhs: the transposed stage system of the reverse pass. Throws
// NumericalError when GMRES does not reach a relative residual of 1e-8.
void SolveTransposedStage(BpttTape& tape, double t, double gamma, ConstVectorRef y,
                          const Vector& rhs);

}  // namespace detail
}  // namespace snode
