#include "integrators/arkode_erk_integrator.hpp"

#include <cstdio>
// clang-format off
#include <arkode/arkode_butcher_erk.h>
#include <arkode/arkode_erkstep.h>
// clang-format on

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/errors.hpp"
#include "core/nvector.hpp"
#include "integrators/integrator_support.hpp"
#include "integrators/tableau_file.hpp"
#include "integrators/tableau_integrator.hpp"

namespace snode {

namespace detail {

void FirstStageRhsData::Remember(double t, const Vector& z, const Vector& f) {
  // A non-finite f is left to the solver's own evaluation, which reports it.
  known_f = AllFinite(f) ? &f : nullptr;
  known_z = &z;
  known_t = t;
}

void FirstStageRhsData::TrackStiffness(double t, N_Vector y, N_Vector ydot) {
  const auto z = AsConstEigen(y);
  if (last_valid && t == last_t && last_f != nullptr && last_f != ydot) {
    const double dz = (z - last_y).squaredNorm();
    const double df = (AsConstEigen(ydot) - AsConstEigen(last_f)).squaredNorm();
    if (dz > 0.0 && std::isfinite(df)) spectral_estimate = std::sqrt(df / dz);
  }
  last_y = z;
  last_f = ydot;
  last_t = t;
  last_valid = true;
}

int FirstStageRhs(sunrealtype t, N_Vector y, N_Vector ydot, void* user_data) {
  auto& data = static_cast<FirstStageRhsData&>(*static_cast<CallbackData*>(user_data));
  const Vector* known = data.known_f;
  data.Forget();  // one use
  int flag = 0;
  if (known != nullptr && data.time_sign * t == data.known_t && AsConstEigen(y) == *data.known_z) {
    auto out = AsEigen(ydot);
    out = *known;
    if (data.time_sign < 0) out = -out;
  } else {
    flag = RhsTrampoline(t, y, ydot, user_data);
  }
  if (flag == 0 && data.estimate_stiffness) data.TrackStiffness(t, y, ydot);
  return flag;
}

int IControllerStep(N_Vector /*y*/, sunrealtype /*t*/, sunrealtype h1, sunrealtype /*h2*/,
                    sunrealtype /*h3*/, sunrealtype e1, sunrealtype /*e2*/, sunrealtype /*e3*/,
                    int q, int /*p*/, sunrealtype* hnew, void* user_data) {
  constexpr double kTiny = 1e-10;  // ARKODE's floor of the error (arkAdaptI)
  // ERKStep multiplies by the safety factor afterwards; a proposal of h1 / safety comes back as h1
  // to within rounding, which the fixed-step bounds [1, 1] (ARKODE's tolerance 1e-6) make exact.
  const double h = h1 * std::pow(std::max(e1, kTiny), -1.0 / q);
  const bool accepted = e1 <= 1.0;
  const bool keep = accepted && std::abs(h * kIControllerSafety) < std::abs(h1) * 1.000001;
  *hnew = keep ? h1 / kIControllerSafety : h;
  auto& cap = *static_cast<StabilityCap*>(user_data);
  cap.accepted = accepted;
  cap.proposal = keep ? h1 : h * kIControllerSafety;
  return 0;
}

double RealStabilityInterval(const ButcherTableau& tableau) {
  const int s = tableau.stages;
  const auto magnitude = [&](double z) {
    // Explicit stages: g_i = 1 + z Σ_{j<i} a_ij g_j, R = 1 + z Σ b_i g_i.
    Vector g(s);
    for (int i = 0; i < s; ++i) g[i] = 1.0 + z * tableau.a.row(i).head(i).dot(g.head(i));
    return std::abs(1.0 + z * tableau.b.dot(g));
  };
  constexpr double kStep = 1e-3, kLimit = 100.0;
  double x = 0.0;
  while (x < kLimit && magnitude(-(x + kStep)) <= 1.0) x += kStep;
  return x;
}

int StabilityLimitedStep(N_Vector /*y*/, sunrealtype /*t*/, sunrealtype* hstab, void* user_data) {
  auto& cap = *static_cast<StabilityCap*>(user_data);
  const double rho = cap.data->spectral_estimate;
  const double limit = rho > 0.0 ? cap.interval / rho : 0.0;
  if (cap.accepted) {
    const bool over = limit > 0.0 && std::abs(cap.proposal) > kStabilityCapSafety * limit;
    cap.limited_run = over ? cap.limited_run + 1 : 0;
  }
  *hstab = cap.limited_run >= kStabilityConfirmSteps ? limit : 0.0;
  return 0;
}

Vector ShampineDopri5Embedding() {
  Vector weights(7);
  weights << 1951.0 / 21600, 0.0, 22642.0 / 50085, 451.0 / 720, -12231.0 / 42400, 649.0 / 6300,
      1.0 / 60;
  return weights;
}

}  // namespace detail

namespace {

// ERKStep 6.4.1 takes the last stage's f as f(t_{n+1}, y_{n+1}) whenever c_s = 1 (its
// FULLRHS_END shortcut), which is only true for FSAL tables. Classic RK4 has c_4 = 1 but is not
// FSAL, and ERKStep then starts every step from a wrong f (error 3e-5 at h = 0.125 on a logistic
// equation). Appending the stage Y_{s+1} = y_{n+1} (row b, c = 1, weight 0) makes the table FSAL
// without changing the solution or the cost: that stage's f is reused as the next step's first.
ButcherTableau FsalSafe(const ButcherTableau& tableau) {
  const int s = tableau.stages;
  const bool last_node_is_one = tableau.c[s - 1] == 1.0;
  const bool fsal = (tableau.a.row(s - 1).transpose() - tableau.b).cwiseAbs().maxCoeff() == 0.0;
  if (!last_node_is_one || fsal) return tableau;
  ButcherTableau safe = tableau;
  safe.stages = s + 1;
  safe.a = Matrix::Zero(s + 1, s + 1);
  safe.a.topLeftCorner(s, s) = tableau.a;
  safe.a.row(s).head(s) = tableau.b.transpose();
  safe.b = Vector::Zero(s + 1);
  safe.b.head(s) = tableau.b;
  safe.c = Vector::Ones(s + 1);
  safe.c.head(s) = tableau.c;
  if (tableau.HasEmbedding()) {
    safe.b_embedded = Vector::Zero(s + 1);
    safe.b_embedded.head(s) = tableau.b_embedded;
  }
  return safe;
}

// RMS of v_i / (atol + rtol |y_i|) over the first `size` components: the error-weighted norm the
// starting-step rule compares against the tolerances.
double ScaledRms(const Vector& v, const Vector& y, Index size, double rtol, double atol) {
  double sum = 0.0;
  for (Index i = 0; i < size; ++i) {
    const double scaled = v[i] / (atol + rtol * std::abs(y[i]));
    sum += scaled * scaled;
  }
  return std::sqrt(sum / static_cast<double>(size));
}

// The tableau of a built-in name, or an empty one for any other name (SundialsStepper then
// rejects the name with the list of built-ins).
ButcherTableau BuiltinTableau(const std::string& name) {
  if (name == "dopri5" || name == "euler" || name == "rk4") return ExplicitTableau(name);
  return ButcherTableau();
}

// dopri5 is ARKODE's own table, set by number as it always was; the others are handed over.
int BuiltinTableId(const std::string& name) {
  return name == "dopri5" ? static_cast<int>(ARKODE_DORMAND_PRINCE_7_4_5) : -1;
}

const StepperApi kErkStepApi = {
    detail::SolverFamily::kArkode,
    ARK_ONE_STEP,
    ARK_NORMAL,
    ERKStepFree,
    SNODE_NAMED_CALL(ERKStepSetErrHandlerFn),
    SNODE_NAMED_CALL(ERKStepSetUserData),
    SNODE_NAMED_CALL(ERKStepSStolerances),
    SNODE_NAMED_CALL(ERKStepWFtolerances),
    SNODE_NAMED_CALL(ERKStepSetMaxNumSteps),
    SNODE_NAMED_CALL(ERKStepSetFixedStep),
    SNODE_NAMED_CALL(ERKStepSetInitStep),
    SNODE_NAMED_CALL(ERKStepSetMaxStep),
    SNODE_NAMED_CALL(ERKStepSetStopTime),
    SNODE_NAMED_CALL(ERKStepEvolve),
    SNODE_NAMED_CALL(ERKStepGetDky),
    SNODE_NAMED_CALL(ERKStepReset),
    SNODE_NAMED_CALL(ERKStepGetNumSteps),
    SNODE_NAMED_CALL(ERKStepGetActualInitStep),
    {},  // no linear solver
    {},
    {},
    {},
    {},
    {},
    {},
};

}  // namespace

ArkodeErkIntegrator::ArkodeErkIntegrator(const std::string& name, IntegratorOptions options)
    : ArkodeErkIntegrator(name, BuiltinTableau(name), std::move(options), BuiltinTableId(name),
                          {"dopri5", "euler", "rk4"}) {}

ArkodeErkIntegrator::ArkodeErkIntegrator(const std::string& name, ButcherTableau tableau,
                                         IntegratorOptions options, int arkode_table_id)
    : ArkodeErkIntegrator(name, std::move(tableau), std::move(options), arkode_table_id,
                          {name.c_str()}) {}

ArkodeErkIntegrator::ArkodeErkIntegrator(const std::string& name, ButcherTableau tableau,
                                         IntegratorOptions options, int arkode_table_id,
                                         std::initializer_list<const char*> known_names)
    : SundialsStepper(name, std::move(options), kErkStepApi, "ArkodeErkIntegrator", known_names),
      tableau_(std::move(tableau)),
      arkode_table_id_(arkode_table_id) {
  ValidateTableau(tableau_, "integrator '" + name + "'");
  Require(tableau_.IsExplicit(), [&] {
    return "integrator '" + name +
           "': the tableau is not explicit (A has a nonzero diagonal entry); diagonally implicit "
           "tableaus run on ArkodeDirkIntegrator";
  });
  Require(tableau_.HasEmbedding() || this->options().fixed_step > 0.0, [&] {
    return "integrator '" + name + "' has no error estimator and needs options.fixed_step > 0";
  });
  const IntegratorOptions& o = this->options();
  const bool adaptive = tableau_.HasEmbedding() && o.fixed_step == 0.0;
  hairer_first_step_ = adaptive && o.initial_step == 0.0 && o.initial_step_estimate == "hairer";
  i_controller_ = adaptive && o.step_controller == "i";
  // The stiffness estimate needs two final stages at t_n + h (c_{s−1} = c_s = 1).
  const int s = tableau_.stages;
  rhs_data_.estimate_stiffness =
      i_controller_ && s >= 2 && tableau_.c[s - 1] == 1.0 && tableau_.c[s - 2] == 1.0;
  stability_cap_.data = &rhs_data_;
  stability_cap_.interval =
      rhs_data_.estimate_stiffness ? detail::RealStabilityInterval(tableau_) : 0.0;
}

IntegratorCapabilities ArkodeErkIntegrator::Capabilities() const {
  IntegratorCapabilities capabilities = SundialsStepper::Capabilities();
  capabilities.kind = IntegratorKind::kExplicit;
  // Every ERK has a dense output, order 1 included (6.4.1's Lagrange interpolant of degree 0).
  detail::FillTableauCapabilities(tableau_, HasDenseOutput(), capabilities);
  return capabilities;
}

double ArkodeErkIntegrator::EstimateInitialStep(const OdeProblem& problem) {
  // Hairer, Nørsett & Wanner, Solving ODEs I (2nd ed.), II.4: h0 from the scales of y0 and f0,
  // then h1 from a finite-difference estimate of y'' so that the local error of the method of
  // order p is about the tolerance; take min(100 h0, h1). ARKODE's own estimate bounds the error
  // of an Euler step instead and came out at 3e-6 on the ODE block of the MNIST ODE-Net, where this
  // gives ~0.1.
  const double t0 = problem.t0;
  const double t_end = problem.output_times.back();
  const double span = std::abs(t_end - t0);
  if (!(span > 0.0)) return 0.0;
  const Index n = problem.z0.size();
  const Index size = problem.error_test_size > 0 ? problem.error_test_size : n;
  // "i": the embedded estimate is O(h^(p̂+1)), so HairerStartingStep's exponent 1/(order + 1)
  // takes p̂; "arkode" keeps the method order (exponent 1/(q + 1)) it always had.
  const int order = i_controller_ ? std::max(1, tableau_.embedded_order) : tableau_.order;
  start_f_.resize(n);
  start_y_.resize(n);
  start_f_next_.resize(n);
  VectorField& field = *problem.field;
  field.F(t0, problem.z0, problem.theta, start_f_);
  // ERKStep's first stage is f(t0, z0) again: handed over instead of evaluated a second time.
  rhs_data_.Remember(t0, problem.z0, start_f_);
  const double d0 = ScaledRms(problem.z0, problem.z0, size, options().rtol, options().atol);
  const double d1 = ScaledRms(start_f_, problem.z0, size, options().rtol, options().atol);
  const double h0 = detail::HairerFirstGuess(d0, d1);
  const double direction = t_end > t0 ? 1.0 : -1.0;
  start_y_ = problem.z0 + (direction * h0) * start_f_;
  field.F(t0 + direction * h0, start_y_, problem.theta, start_f_next_);
  rhs_data_.rhs_evals += 2;
  start_f_next_ -= start_f_;
  const double d2 = ScaledRms(start_f_next_, problem.z0, size, options().rtol, options().atol) / h0;
  double h = std::min(detail::HairerStartingStep(h0, d1, d2, order), span);
  if (options().max_step > 0.0) h = std::min(h, options().max_step);
  // A non-finite f here is reported by the solver's own first evaluation: leave h0 to ARKODE.
  return std::isfinite(h) && h > 0.0 ? direction * h : 0.0;
}

void* ArkodeErkIntegrator::NewMemory(const OdeProblem& problem, N_Vector y) {
  void* mem = ERKStepCreate(detail::FirstStageRhs, problem.t0, y, context());
  detail::CheckNotNull(mem, "ERKStepCreate", where());
  return mem;
}

void ArkodeErkIntegrator::SetTable() {
  void* mem = memory();
  const bool dormand_prince = arkode_table_id_ == static_cast<int>(ARKODE_DORMAND_PRINCE_7_4_5);
  if (dormand_prince && i_controller_) {
    // ARKODE's own coefficients (bit for bit what bptt replays) with Shampine's embedding.
    const detail::ArkodeTablePtr table(ARKodeButcherTable_LoadERK(ARKODE_DORMAND_PRINCE_7_4_5));
    detail::CheckNotNull(table.get(), "ARKodeButcherTable_LoadERK", where());
    const Vector embedding = detail::ShampineDopri5Embedding();
    for (Index i = 0; i < embedding.size(); ++i) table->d[i] = embedding[i];
    Check(ERKStepSetTable(mem, table.get()), "ERKStepSetTable");  // copies the table
  } else if (arkode_table_id_ >= 0) {
    Check(ERKStepSetTableNum(mem, static_cast<ARKODE_ERKTableID>(arkode_table_id_)),
          "ERKStepSetTableNum");
  } else {
    const detail::ArkodeTablePtr table = detail::MakeArkodeTable(FsalSafe(tableau_));
    Check(ERKStepSetTable(mem, table.get()), "ERKStepSetTable");
  }
}

void ArkodeErkIntegrator::SetIController() {
  void* mem = memory();
  // ARKODE scales the error by the bias, then takes h·err^(−k1/q) (pq = 1: the method order).
  sunrealtype parameters[3] = {1.0, 0.0, 0.0};
  Check(ERKStepSetAdaptivityMethod(mem, ARK_ADAPT_I, 0, 1, parameters),
        "ERKStepSetAdaptivityMethod");
  Check(ERKStepSetErrorBias(mem, 1.0), "ERKStepSetErrorBias");
  Check(ERKStepSetMaxGrowth(mem, 10.0), "ERKStepSetMaxGrowth");
  Check(ERKStepSetMaxFirstGrowth(mem, 10.0), "ERKStepSetMaxFirstGrowth");
  Check(ERKStepSetMinReduction(mem, 0.2), "ERKStepSetMinReduction");
  Check(ERKStepSetSafetyFactor(mem, detail::kIControllerSafety), "ERKStepSetSafetyFactor");
  // No extra cut to 0.3 after repeated failures.
  Check(ERKStepSetMaxEFailGrowth(mem, 1.0), "ERKStepSetMaxEFailGrowth");
  if (!rhs_data_.estimate_stiffness) {
    // [0, 1]: an accepted step never shrinks the next.
    Check(ERKStepSetFixedStepBounds(mem, 0.0, 1.0), "ERKStepSetFixedStepBounds");
    return;
  }
  // The same control with the never-shrink rule inside the controller (ERKStep applies its
  // bounds after the stability cap, which could then not shrink a step), and the step capped at
  // the stability limit the stiffness estimate gives.
  Check(ERKStepSetAdaptivityFn(mem, detail::IControllerStep, &stability_cap_),
        "ERKStepSetAdaptivityFn");
  Check(ERKStepSetFixedStepBounds(mem, 1.0, 1.0), "ERKStepSetFixedStepBounds");
  Check(ERKStepSetStabilityFn(mem, detail::StabilityLimitedStep, &stability_cap_),
        "ERKStepSetStabilityFn");
  Check(ERKStepSetCFLFraction(mem, detail::kStabilityCapSafety), "ERKStepSetCFLFraction");
}

void ArkodeErkIntegrator::ConfigureMethod(const OdeProblem& /*problem*/, N_Vector /*y*/) {
  void* mem = memory();
  SetTable();
  if (i_controller_) SetIController();
  if (tableau_.order == 1) {
    // 6.4.1 caps the Hermite interpolant at degree q-1 = 0 (the average of the last two states),
    // which would be returned at stop times; Lagrange degree 0 returns y_n exactly.
    Check(ERKStepSetInterpolantType(mem, ARK_INTERP_LAGRANGE), "ERKStepSetInterpolantType");
  } else {
    // 6.4.1 returns the state at a stop time through the Hermite interpolant, of degree
    // min(5, q-1) by default; degree 4 and 5 cost extra f evaluations per output time, degree 3
    // none (ARKODE lowers 3 to q-1 for q < 4). At the step's end point every degree reproduces
    // y_n to rounding, so outputs are unchanged while dopri5's Lotka–Volterra neural-ODE fit
    // (101 observations) saves 101 of 709 evaluations.
    Check(ERKStepSetInterpolantDegree(mem, detail::kDenseOutputDegree),
          "ERKStepSetInterpolantDegree");
  }
}

void ArkodeErkIntegrator::ReInitMemory(const OdeProblem& problem, N_Vector y) {
  Check(ERKStepReInit(memory(), detail::FirstStageRhs, problem.t0, y), "ERKStepReInit");
}

void ArkodeErkIntegrator::BeforeOutputLoop(const OdeProblem& problem) {
  rhs_data_.Forget();
  rhs_data_.ResetStiffness();
  stability_cap_.Reset();
  if (!hairer_first_step_) return;
  // Every solve: ReInit keeps the last h0 it was given.
  Check(ERKStepSetInitStep(memory(), EstimateInitialStep(problem)), "ERKStepSetInitStep");
}

void ArkodeErkIntegrator::ReadMethodStats(IntegratorStats& stats) {
  long attempts = 0;
  Check(ERKStepGetNumStepAttempts(memory(), &attempts), "ERKStepGetNumStepAttempts");
  stats.rejected_steps = attempts - stats.steps;
}

}  // namespace snode
