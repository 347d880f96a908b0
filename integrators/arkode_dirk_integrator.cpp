#include "integrators/arkode_dirk_integrator.hpp"

#include <algorithm>
#include <cstdio>
// clang-format off
#include <arkode/arkode_arkstep.h>
#include <arkode/arkode_butcher_dirk.h>
#include <arkode/arkode_butcher_erk.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
// clang-format on

#include <utility>

#include "core/errors.hpp"

namespace snode {

namespace {

const StepperApi kArkStepApi = {
    detail::SolverFamily::kArkode,
    ARK_ONE_STEP,
    ARK_NORMAL,
    ARKStepFree,
    SNODE_NAMED_CALL(ARKStepSetErrHandlerFn),
    SNODE_NAMED_CALL(ARKStepSetUserData),
    SNODE_NAMED_CALL(ARKStepSStolerances),
    SNODE_NAMED_CALL(ARKStepWFtolerances),
    SNODE_NAMED_CALL(ARKStepSetMaxNumSteps),
    SNODE_NAMED_CALL(ARKStepSetFixedStep),
    SNODE_NAMED_CALL(ARKStepSetInitStep),
    SNODE_NAMED_CALL(ARKStepSetMaxStep),
    SNODE_NAMED_CALL(ARKStepSetStopTime),
    SNODE_NAMED_CALL(ARKStepEvolve),
    SNODE_NAMED_CALL(ARKStepGetDky),
    SNODE_NAMED_CALL(ARKStepReset),
    SNODE_NAMED_CALL(ARKStepGetNumSteps),
    SNODE_NAMED_CALL(ARKStepGetActualInitStep),
    SNODE_NAMED_CALL(ARKStepSetLinearSolver),
    SNODE_NAMED_CALL(ARKStepSetJacFn),
    SNODE_NAMED_CALL(ARKStepSetJacTimes),
};

}  // namespace

ArkodeDirkIntegrator::ArkodeDirkIntegrator(std::string name, IntegratorOptions options)
    : SundialsStepper(std::move(name), std::move(options), kArkStepApi, "ArkodeDirkIntegrator",
                      {"backward_euler", "sdirk"}) {
  Require(this->name() == "sdirk" || this->options().fixed_step > 0.0, [&] {
    return "integrator '" + this->name() +
           "' has no error estimator and needs options.fixed_step > 0 (use sdirk for adaptive "
           "steps)";
  });
}

IntegratorCapabilities ArkodeDirkIntegrator::Capabilities() const {
  IntegratorCapabilities capabilities = SundialsStepper::Capabilities();
  capabilities.kind = IntegratorKind::kDiagonallyImplicit;
  capabilities.tableau = ImplicitTableau(name());
  capabilities.order = capabilities.tableau->order;
  capabilities.error_estimate = capabilities.tableau->HasEmbedding();
  capabilities.needs_fixed_step = !capabilities.error_estimate;
  // ARKODE's Hermite interpolant of degree 3 (sdirk); none for backward_euler.
  capabilities.dense_output_order = HasDenseOutput() ? std::min(capabilities.order, 3) : 0;
  capabilities.interpolated_outputs = HasDenseOutput() && !capabilities.needs_fixed_step;
  return capabilities;
}

void* ArkodeDirkIntegrator::NewMemory(const OdeProblem& problem, N_Vector y) {
  // Purely implicit: fe = nullptr, fi = f.
  void* mem = ARKStepCreate(nullptr, RhsTrampoline, problem.t0, y, context());
  detail::CheckNotNull(mem, "ARKStepCreate", where());
  return mem;
}

void ArkodeDirkIntegrator::ConfigureMethod(const OdeProblem& /*problem*/, N_Vector /*y*/) {
  void* mem = memory();
  if (name() == "sdirk") {
    Check(ARKStepSetTableNum(mem, ARKODE_ESDIRK43I6L2SA_6_3_4, ARKODE_ERK_NONE),
          "ARKStepSetTableNum");
    // Newton errors of the default size (0.1 of the tolerance) leak into the embedded error
    // estimate on stiff problems and cost rejected steps: on Robertson to t = 1e5 at rtol 1e-7
    // this table takes 484 steps with 0.1 and 328 with 1e-3 (ARKODE's ark_robertson example uses
    // 1e-7; ARKODE_SDIRK_5_3_4 fails there with ARK_ERR_FAILURE at every coefficient we tried).
    Check(ARKStepSetNonlinConvCoef(mem, 1e-3), "ARKStepSetNonlinConvCoef");
  } else {
    // No backward-Euler table before SUNDIALS 7.1: build it (ARKStepSetTables copies it).
    const detail::ArkodeTablePtr table = detail::MakeArkodeTable(ImplicitTableau(name()));
    Check(ARKStepSetTables(mem, 1, 0, table.get(), nullptr), "ARKStepSetTables");
    // 6.4.1 caps the Hermite interpolant of a first-order method at degree 0 (the average of the
    // last two states) and returns it at stop times; Lagrange degree 0 is y_n exactly.
    Check(ARKStepSetInterpolantType(mem, ARK_INTERP_LAGRANGE), "ARKStepSetInterpolantType");
  }
  AttachLinearSolver();
  if (options().linear_solver == "dense") {
    // Refresh J and I − γJ every step. With ARKODE 6.4.1's default (every 20 steps, or when γ
    // moves by 20%) the dense Newton path of the adaptive ESDIRK stalls at a wrong stage value:
    // on z' = Az (3×3) at rtol 1e-10 the error was 5e-6 (1e-8: 3e-5) while GMRES, which always
    // uses the current γ, reached 2.5e-11. Every step it is 2.2e-11. For the small dense systems
    // this path serves, one more factorisation per step is cheap next to a wrong answer.
    Check(ARKStepSetLSetupFrequency(mem, 1), "ARKStepSetLSetupFrequency");
  }
  // With a fixed step a Newton failure is fatal (h cannot shrink), and the default of 3
  // iterations is too strict at tight tolerances.
  Check(ARKStepSetMaxNonlinIters(mem, options().max_nonlinear_iters), "ARKStepSetMaxNonlinIters");
}

void ArkodeDirkIntegrator::ReInitMemory(const OdeProblem& problem, N_Vector y) {
  Check(ARKStepReInit(memory(), nullptr, RhsTrampoline, problem.t0, y), "ARKStepReInit");
}

void ArkodeDirkIntegrator::ReadMethodStats(IntegratorStats& stats) {
  void* mem = memory();
  long attempts = 0, nonlinear_fails = 0;
  Check(ARKStepGetNumStepAttempts(mem, &attempts), "ARKStepGetNumStepAttempts");
  Check(ARKStepGetNonlinSolvStats(mem, &stats.nonlinear_iters, &nonlinear_fails),
        "ARKStepGetNonlinSolvStats");
  Check(ARKStepGetNumLinIters(mem, &stats.linear_iters), "ARKStepGetNumLinIters");
  stats.rejected_steps = attempts - stats.steps;  // error-test and Newton failures
}

}  // namespace snode
