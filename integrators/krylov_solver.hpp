#pragma once
// The Krylov linear solvers of the SUNDIALS integrators and of cvodes_adjoint's forward and
// backward passes, and how they are preconditioned (IntegratorOptions::linear_solver,
// IntegratorOptions::preconditioner). Shared so that every implicit solve resolves the options
// the same way and names the same errors.
//
// linear_solver "gmres" is SPGMR with left preconditioning: SUNDIALS then stops the Krylov
// iteration on the weighted norm of M⁻¹ r, which for M ≈ I − γJ measures the error of the Newton
// correction in the norm of the Newton test itself. "fgmres" is SPFGMR, which supports right
// preconditioning only (SUNDIALS turns LEFT into RIGHT), for preconditioners that are not a fixed
// linear map.

#include <sundials/sundials_context.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_nvector.h>

#include <memory>
#include <string>

#include "core/preconditioner.hpp"
#include "core/vector_field.hpp"
#include "integrators/integrator.hpp"

namespace snode {
namespace detail {

// How one solve is preconditioned.
struct PreconditionerPlan {
  enum class Kind { kNone, kField, kBand };
  Kind kind = Kind::kNone;
  Index half_bandwidth = -1;                    // kBand: the field's JacobianHalfBandwidth()
  std::unique_ptr<Preconditioner> field_owned;  // kField: the field's, for `side`
};

// Resolves options.preconditioner for a field (options.DenseLinearSolver(): kNone). Throws
// ConfigError naming the option and `where` for "field" when the field offers none, and for
// "band" when the field declares no half-bandwidth.
PreconditionerPlan PlanPreconditioner(const IntegratorOptions& options, VectorField& field,
                                      PreconditionerSide side, const std::string& where);

// SPGMR or SPFGMR (options.linear_solver) of dimension options.krylov_max_dim for vectors like
// y, created preconditioned (left; SPFGMR right) unless options.preconditioner is "none", so a
// solve can switch the preconditioner on and off (SetKrylovPreconditioned). Null on failure.
SUNLinearSolver NewKrylovSolver(const IntegratorOptions& options, N_Vector y, SUNContext ctx);
// Turns the preconditioning of a NewKrylovSolver solver on (left/right) or off; returns the
// SUNDIALS flag.
int SetKrylovPreconditioned(SUNLinearSolver solver, const IntegratorOptions& options, bool on);

// Applies a plan to a Krylov solver attached to a SUNDIALS memory: preconditioning on or off,
// then init_band(half_bandwidth) when the band preconditioner is needed and not yet set up for
// that half-bandwidth (*band records what is: its half-bandwidth, −2 for the trampolines, −1
// nothing), otherwise attach(), which sets the solver's set-up and solve functions to the
// trampolines (they do nothing while no field preconditioner is bound). The functions are never
// cleared: CVODES and ARKODE drop their linear set-up for good once a solve starts without a set-up
// function, and a later solve with one would then call Solve before any Setup. check(flag, call)
// throws for a failed call.
template <class Check, class InitBand, class Attach>
void ApplyPreconditionerPlan(const PreconditionerPlan& plan, SUNLinearSolver solver,
                             const IntegratorOptions& options, Index* band, Check&& check,
                             InitBand&& init_band, Attach&& attach) {
  using Kind = PreconditionerPlan::Kind;
  if (options.preconditioner == "none") return;  // created unpreconditioned, nothing attached
  check(SetKrylovPreconditioned(solver, options, plan.kind != Kind::kNone),
        "SUNLinSol_SPGMRSetPrecType");
  if (plan.kind == Kind::kBand) {
    if (*band != plan.half_bandwidth) init_band(plan.half_bandwidth);
    *band = plan.half_bandwidth;
    return;
  }
  if (*band != -2) attach();
  *band = -2;  // the trampolines are attached
}

}  // namespace detail
}  // namespace snode
