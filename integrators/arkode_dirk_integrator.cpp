#include "integrators/arkode_dirk_integrator.hpp"

#include <cstdio>
// clang-format off
#include <arkode/arkode_bandpre.h>
#include <arkode/arkode_arkstep.h>
#include <arkode/arkode_butcher_dirk.h>
#include <arkode/arkode_butcher_erk.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
// clang-format on

#include <utility>

#include "core/errors.hpp"
#include "integrators/tableau_file.hpp"
#include "integrators/tableau_integrator.hpp"

namespace snode {

namespace {

// The tableau of a built-in name, or an empty one for any other name (SundialsStepper then
// rejects the name with the list of built-ins).
ButcherTableau BuiltinTableau(const std::string& name) {
  if (name == "backward_euler" || name == "sdirk") return ImplicitTableau(name);
  return ButcherTableau();
}

// sdirk is ARKODE's own table, set by number as it always was; backward Euler is handed over.
int BuiltinTableId(const std::string& name) {
  return name == "sdirk" ? static_cast<int>(ARKODE_ESDIRK43I6L2SA_6_3_4) : -1;
}

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
    SNODE_NAMED_CALL(ARKStepSetPreconditioner),
    SNODE_NAMED_CALL(ARKBandPrecInit),
    SNODE_NAMED_CALL(ARKStepGetNumPrecEvals),
    SNODE_NAMED_CALL(ARKStepGetNumPrecSolves),
};

}  // namespace

ArkodeDirkIntegrator::ArkodeDirkIntegrator(const std::string& name, IntegratorOptions options)
    : ArkodeDirkIntegrator(name, BuiltinTableau(name), std::move(options), BuiltinTableId(name),
                           {"backward_euler", "sdirk"}) {}

ArkodeDirkIntegrator::ArkodeDirkIntegrator(const std::string& name, ButcherTableau tableau,
                                           IntegratorOptions options, int arkode_table_id)
    : ArkodeDirkIntegrator(name, std::move(tableau), std::move(options), arkode_table_id,
                           {name.c_str()}) {}

ArkodeDirkIntegrator::ArkodeDirkIntegrator(const std::string& name, ButcherTableau tableau,
                                           IntegratorOptions options, int arkode_table_id,
                                           std::initializer_list<const char*> known_names)
    : SundialsStepper(name, std::move(options), kArkStepApi, "ArkodeDirkIntegrator", known_names),
      tableau_(std::move(tableau)),
      arkode_table_id_(arkode_table_id) {
  ValidateTableau(tableau_, "integrator '" + name + "'");
  Require(!tableau_.IsExplicit(), [&] {
    return "integrator '" + name +
           "': the tableau is explicit (A strictly lower triangular); explicit tableaus run on "
           "ArkodeErkIntegrator";
  });
  Require(tableau_.HasEmbedding() || this->options().fixed_step > 0.0, [&] {
    return "integrator '" + name +
           "' has no error estimator and needs options.fixed_step > 0 (use sdirk for adaptive "
           "steps)";
  });
}

IntegratorCapabilities ArkodeDirkIntegrator::Capabilities() const {
  IntegratorCapabilities capabilities = SundialsStepper::Capabilities();
  capabilities.kind = IntegratorKind::kDiagonallyImplicit;
  detail::FillTableauCapabilities(tableau_, HasDenseOutput(), capabilities);
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
  if (arkode_table_id_ >= 0) {
    Check(
        ARKStepSetTableNum(mem, static_cast<ARKODE_DIRKTableID>(arkode_table_id_), ARKODE_ERK_NONE),
        "ARKStepSetTableNum");
  } else {
    // ARKStepSetTables copies the table (backward Euler: no such table before SUNDIALS 7.1).
    const detail::ArkodeTablePtr table = detail::MakeArkodeTable(tableau_);
    Check(ARKStepSetTables(mem, tableau_.order, tableau_.embedded_order, table.get(), nullptr),
          "ARKStepSetTables");
  }
  if (tableau_.HasEmbedding()) {
    // Newton errors of the default size (0.1 of the tolerance) leak into the embedded error
    // estimate on stiff problems and cost rejected steps: on Robertson to t = 1e5 at rtol 1e-7
    // sdirk takes 484 steps with 0.1 and 328 with 1e-3 (ARKODE's ark_robertson example uses
    // 1e-7; ARKODE_SDIRK_5_3_4 fails there with ARK_ERR_FAILURE at every coefficient we tried).
    Check(ARKStepSetNonlinConvCoef(mem, 1e-3), "ARKStepSetNonlinConvCoef");
  }
  if (tableau_.order == 1) {
    // 6.4.1 caps the Hermite interpolant of a first-order method at degree 0 (the average of the
    // last two states) and returns it at stop times; Lagrange degree 0 is y_n exactly.
    Check(ARKStepSetInterpolantType(mem, ARK_INTERP_LAGRANGE), "ARKStepSetInterpolantType");
  } else {
    // The default is min(5, q-1); degrees above 3 need f evaluations inside the step. sdirk
    // (q = 4) gets 3 either way.
    Check(ARKStepSetInterpolantDegree(mem, detail::kDenseOutputDegree),
          "ARKStepSetInterpolantDegree");
  }
  AttachLinearSolver();
  if (options().DenseLinearSolver()) {
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
