#include "integrators/cvodes_integrator.hpp"

// clang-format off
#include <cvodes/cvodes_bandpre.h>
#include <cvodes/cvodes.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>
// clang-format on

#include <utility>

#include "core/errors.hpp"

namespace snode {

namespace {

const StepperApi kCvodeApi = {
    detail::SolverFamily::kCvodes,
    CV_ONE_STEP,
    CV_NORMAL,
    CVodeFree,
    SNODE_NAMED_CALL(CVodeSetErrHandlerFn),
    SNODE_NAMED_CALL(CVodeSetUserData),
    SNODE_NAMED_CALL(CVodeSStolerances),
    SNODE_NAMED_CALL(CVodeWFtolerances),
    SNODE_NAMED_CALL(CVodeSetMaxNumSteps),
    {},  // no fixed-step mode
    SNODE_NAMED_CALL(CVodeSetInitStep),
    SNODE_NAMED_CALL(CVodeSetMaxStep),
    SNODE_NAMED_CALL(CVodeSetStopTime),
    SNODE_NAMED_CALL(CVode),
    SNODE_NAMED_CALL(CVodeGetDky),
    SNODE_NAMED_CALL(CVodeReInit),  // CVODES has no reset that keeps the step size
    SNODE_NAMED_CALL(CVodeGetNumSteps),
    SNODE_NAMED_CALL(CVodeGetActualInitStep),
    SNODE_NAMED_CALL(CVodeSetLinearSolver),
    SNODE_NAMED_CALL(CVodeSetJacFn),
    SNODE_NAMED_CALL(CVodeSetJacTimes),
    SNODE_NAMED_CALL(CVodeSetPreconditioner),
    SNODE_NAMED_CALL(CVBandPrecInit),
    SNODE_NAMED_CALL(CVodeGetNumPrecEvals),
    SNODE_NAMED_CALL(CVodeGetNumPrecSolves),
};

}  // namespace

CvodesIntegrator::CvodesIntegrator(std::string name, IntegratorOptions options)
    : SundialsStepper(std::move(name), std::move(options), kCvodeApi, "CvodesIntegrator",
                      {"cvodes_adams", "cvodes_bdf"}) {
  Require(this->options().fixed_step == 0.0, [&] {
    return "integrator '" + this->name() +
           "' is adaptive only (CVODES has no fixed-step mode); unset fixed_step or use "
           "another integrator";
  });
}

IntegratorCapabilities CvodesIntegrator::Capabilities() const {
  IntegratorCapabilities capabilities = SundialsStepper::Capabilities();
  const bool bdf = name() == "cvodes_bdf";
  capabilities.kind = IntegratorKind::kMultistep;
  capabilities.cvodes_method = bdf ? CvodesMethod::kBdf : CvodesMethod::kAdams;
  capabilities.order = bdf ? 5 : 12;  // CVODES' maximum orders
  capabilities.error_estimate = true;
  // The Nordsieck array interpolates to the current order, at most the maximum.
  capabilities.dense_output_order = capabilities.order;
  return capabilities;
}

void* CvodesIntegrator::NewMemory(const OdeProblem& /*problem*/, N_Vector /*y*/) {
  void* mem = CVodeCreate(name() == "cvodes_bdf" ? CV_BDF : CV_ADAMS, context());
  detail::CheckNotNull(mem, "CVodeCreate", where());
  return mem;
}

void CvodesIntegrator::ConfigureMethod(const OdeProblem& problem, N_Vector y) {
  void* mem = memory();
  Check(CVodeInit(mem, RhsTrampoline, problem.t0, y), "CVodeInit");
  if (name() == "cvodes_bdf") {
    AttachLinearSolver();
  } else {
    // Adams for non-stiff problems: fixed-point iteration needs neither J nor JVPs.
    SUNNonlinearSolver fixed_point =
        AdoptNonlinearSolver(SUNNonlinSol_FixedPoint(y, 0, context()), "SUNNonlinSol_FixedPoint");
    Check(CVodeSetNonlinearSolver(mem, fixed_point), "CVodeSetNonlinearSolver");
  }
  Check(CVodeSetMaxNonlinIters(mem, options().max_nonlinear_iters), "CVodeSetMaxNonlinIters");
}

void CvodesIntegrator::ReInitMemory(const OdeProblem& problem, N_Vector y) {
  Check(CVodeReInit(memory(), problem.t0, y), "CVodeReInit");
}

void CvodesIntegrator::ReadMethodStats(IntegratorStats& stats) {
  void* mem = memory();
  long error_test_fails = 0, nonlinear_fails = 0;
  Check(CVodeGetNumErrTestFails(mem, &error_test_fails), "CVodeGetNumErrTestFails");
  Check(CVodeGetNonlinSolvStats(mem, &stats.nonlinear_iters, &nonlinear_fails),
        "CVodeGetNonlinSolvStats");
  if (HasLinearSolver()) {
    Check(CVodeGetNumLinIters(mem, &stats.linear_iters), "CVodeGetNumLinIters");
  }
  stats.rejected_steps = error_test_fails + nonlinear_fails;
}

}  // namespace snode
