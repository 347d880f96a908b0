#pragma once
// Preconditioner: approximate solves with the Newton matrix of an implicit step, for the Krylov
// linear solvers (SPGMR/SPFGMR) of ARKODE, CVODES forward and backward, and bptt's stages.
//
// A field offers one through VectorField::MakePreconditioner(side). Each linear solver asks for
// its own object, so the forward solve and the adjoint (transposed) solve of one gradient keep
// separate factorisations even when CVODES interleaves them (re-integration between checkpoints).
//
//   side kForward:     M = I − γ J̃,   J̃ ≈ ∂f/∂z(t, z; θ)        (forward Newton systems)
//   side kTransposed:  M = I − γ J̃ᵀ                              (adjoint Newton systems)
//
// γ is the solver's step factor as seen by the field: it is negative when a solver integrates
// backward in time or integrates the reversed field (the caller folds those signs in, so a
// preconditioner only ever sees I − γ J̃ for its own f). Setup() is called when the solver decides
// its Jacobian data are stale; Solve() many times in between. M⁻¹ need only approximate the exact
// inverse: the Krylov solver corrects the rest, so an exact M⁻¹ means one Krylov iteration per
// Newton iteration.
//
// Lifetime: a preconditioner may refer to the field that made it and must not outlive it. It is
// used from one thread, like the field. Setup and Solve throw (NumericalError, ConfigError) on
// failure; the SUNDIALS trampolines turn a NumericalError into a recoverable failure (the solver
// retries with a smaller step) and anything else into an unrecoverable one.

#include <memory>

#include "core/types.hpp"

namespace snode {

enum class PreconditionerSide { kForward, kTransposed };

class Preconditioner {
 public:
  virtual ~Preconditioner() = default;
  // Prepares M = I − γ J̃(t, z; θ) (or its transpose, by the side it was made for).
  virtual void Setup(double t, ConstVectorRef z, ConstVectorRef theta, double gamma) = 0;
  // x = M⁻¹ r with M from the last Setup. r and x have length state_size() and do not alias.
  virtual void Solve(ConstVectorRef r, VectorRef x) = 0;
  // Re-forms M for a new γ from the Jacobian data of the last Setup, when the solver says those
  // are still good (SUNDIALS' jok: only γ changed since). Returns false (the default) when the
  // preconditioner keeps no such data or has not been set up; the solver then calls Setup. An
  // implicit solve restarted at every observation changes γ at almost every step, so a field
  // whose Jacobian data cost more than their factorisation should override it.
  virtual bool UpdateGamma(double gamma) {
    (void)gamma;
    return false;
  }
};

// What a SUNDIALS preconditioner set-up does with its jok flag: re-forms M for the new γ from the
// last Setup's Jacobian data when jok is true and the preconditioner can (UpdateGamma), otherwise
// calls Setup. Returns true when the Jacobian data were recomputed (SUNDIALS' *jcurPtr).
inline bool SetupOrUpdateGamma(Preconditioner& preconditioner, bool jacobian_ok, double t,
                               ConstVectorRef z, ConstVectorRef theta, double gamma) {
  if (jacobian_ok && preconditioner.UpdateGamma(gamma)) return false;
  preconditioner.Setup(t, z, theta, gamma);
  return true;
}

}  // namespace snode
