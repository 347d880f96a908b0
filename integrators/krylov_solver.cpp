#include "integrators/krylov_solver.hpp"

#include <sunlinsol/sunlinsol_spfgmr.h>
#include <sunlinsol/sunlinsol_spgmr.h>

#include "core/errors.hpp"

namespace snode {
namespace detail {

PreconditionerPlan PlanPreconditioner(const IntegratorOptions& options, VectorField& field,
                                      PreconditionerSide side, const std::string& where) {
  PreconditionerPlan plan;
  const std::string& mode = options.preconditioner;
  if (options.DenseLinearSolver() || mode == "none") return plan;
  if (mode == "band") {
    plan.half_bandwidth = field.JacobianHalfBandwidth();
    Require(plan.half_bandwidth >= 0, [&] {
      return where +
             ": integrator option preconditioner 'band' needs a field that declares its "
             "Jacobian half-bandwidth (VectorField::JacobianHalfBandwidth); field '" +
             field.name() + "' declares none: use preconditioner 'field', 'auto' or 'none'";
    });
    plan.kind = PreconditionerPlan::Kind::kBand;
    return plan;
  }
  plan.field_owned = field.MakePreconditioner(side);
  Require(plan.field_owned != nullptr || mode == "auto", [&] {
    return where +
           ": integrator option preconditioner 'field' needs a field that offers one "
           "(VectorField::MakePreconditioner); field '" +
           field.name() + "' offers none: use preconditioner 'auto', 'band' or 'none'";
  });
  if (plan.field_owned) plan.kind = PreconditionerPlan::Kind::kField;
  return plan;
}

SUNLinearSolver NewKrylovSolver(const IntegratorOptions& options, N_Vector y, SUNContext ctx) {
  const bool on = options.preconditioner != "none";
  if (options.linear_solver == "fgmres") {
    return SUNLinSol_SPFGMR(y, on ? SUN_PREC_RIGHT : SUN_PREC_NONE, options.krylov_max_dim, ctx);
  }
  return SUNLinSol_SPGMR(y, on ? SUN_PREC_LEFT : SUN_PREC_NONE, options.krylov_max_dim, ctx);
}

int SetKrylovPreconditioned(SUNLinearSolver solver, const IntegratorOptions& options, bool on) {
  if (options.linear_solver == "fgmres") {
    return SUNLinSol_SPFGMRSetPrecType(solver, on ? SUN_PREC_RIGHT : SUN_PREC_NONE);
  }
  return SUNLinSol_SPGMRSetPrecType(solver, on ? SUN_PREC_LEFT : SUN_PREC_NONE);
}

}  // namespace detail
}  // namespace snode
