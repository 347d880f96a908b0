#include "adjoint/bptt_tape.hpp"

#include <algorithm>
#include <cstdio>

#include "core/errors.hpp"
#include "core/vector_field.hpp"
#include "integrators/krylov_solver.hpp"

namespace snode {
namespace detail {

using ConstMap = Eigen::Map<const Vector>;

std::string BpttNumber(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

HermiteWeights Hermite(double sigma) {
  const double r = 1.0 - sigma;
  return {(1.0 + 2.0 * sigma) * r * r, sigma * sigma * (3.0 - 2.0 * sigma), sigma * r * r,
          -sigma * sigma * r};
}

BpttScheme::BpttScheme(const GradientOptions& options, const IntegratorCapabilities& capabilities) {
  const std::string& integrator = options.integrator;
  Require(capabilities.tableau.has_value(),
          "gradient 'bptt' needs an integrator that declares its Butcher tableau; '" + integrator +
              "' does not");
  tableau = *capabilities.tableau;
  implicit = capabilities.kind == IntegratorKind::kDiagonallyImplicit;
  Require(implicit || tableau.IsExplicit(),
          "gradient 'bptt': integrator '" + integrator +
              "' declares an implicit tableau but not the kind kDiagonallyImplicit");
  if (options.integrator_options.fixed_step <= 0.0) {
    Require(capabilities.error_estimate && !capabilities.needs_fixed_step,
            "gradient 'bptt' with integrator '" + integrator +
                "' needs integrator option fixed_step > 0 (only methods with an error estimator "
                "can be replayed from adaptive steps)");
    Require(capabilities.records_steps,
            "gradient 'bptt' with adaptive steps needs an integrator that records its steps "
            "(records_steps); '" +
                integrator + "' does not: set integrator option fixed_step > 0");
  }
  const int s = tableau.stages;
  interpolate = options.integrator_options.interpolate_outputs;
  if (interpolate) {
    // The Hermite interpolant needs the slopes at both ends of a step among the stages: the
    // first stage at z_n and the last at z_{n+1} itself (last row of A = b, as in dopri5 and
    // sdirk); a last stage at t + h but elsewhere (heun) has the wrong slope.
    bool last_stage_is_new_state = s > 1 && tableau.c[s - 1] == 1.0;
    for (int j = 0; last_stage_is_new_state && j < s; ++j) {
      last_stage_is_new_state = tableau.a(s - 1, j) == tableau.b[j];
    }
    Require(tableau.c[0] == 0.0 && tableau.a(0, 0) == 0.0 && last_stage_is_new_state,
            "gradient 'bptt' with interpolate_outputs needs a method whose first stage is at the "
            "step start and whose last stage is the new state (last row of A = b, as in dopri5 "
            "and sdirk); integrator '" +
                integrator + "' has none");
  }
  // A stage enters the reverse pass iff b_i ≠ 0 or a later used stage depends on it (and, with
  // interpolated outputs, the first and last stages: their slopes enter the interpolant).
  stage_used.assign(static_cast<std::size_t>(s), 0);
  for (int i = s - 1; i >= 0; --i) {
    bool used = tableau.b[i] != 0.0 || (interpolate && (i == 0 || i == s - 1));
    for (int j = i + 1; j < s && !used; ++j) used = stage_used[j] && tableau.a(j, i) != 0.0;
    stage_used[i] = used ? 1 : 0;
  }
  stage_slot.assign(static_cast<std::size_t>(s), -1);
  stored_stages = 0;
  dirk = implicit && s > 1;
  if (!implicit || dirk) {
    // Explicit: stage 1 is z_n itself. DIRK: every used stage is an implicit solve.
    for (int i = dirk ? 0 : 1; i < s; ++i) {
      if (stage_used[i]) stage_slot[i] = stored_stages++;
    }
  }
  // First-same-as-last: the last stage is evaluated at z_{n+1} (c = 1, last row of a = b), so
  // ERKStep copies its slope into K_0 of the next step; doing the same keeps the replay
  // bit-compatible with ARKODE and saves one f evaluation per step.
  fsal = !implicit && s > 1 && tableau.c[s - 1] == 1.0;
  for (int j = 0; fsal && j < s; ++j) fsal = tableau.a(s - 1, j) == tableau.b[j];
}

double BpttScheme::EstimateBytes(Index num_steps, Index state_size) const {
  const double steps = static_cast<double>(num_steps);
  const double n = static_cast<double>(state_size);
  return ((steps + 1.0) + steps * static_cast<double>(stored_stages)) * n * sizeof(double);
}

void BpttWorkspace::Resize(Index size, int num_stages) {
  if (n == size && k.cols() == num_stages) return;
  n = size;
  k.resize(n, num_stages);
  mu.resize(n, num_stages);
  for (Vector* v : {&y_tmp, &lambda, &gbar, &grad_g, &scaled, &interp, &extra_first, &extra_last,
                    &extra_zn, &f, &residual, &delta, &x}) {
    v->resize(n);
  }
  // jac and m (n × n) are sized by the first dense stage solve (BpttTape::DenseJacobian), so an
  // explicit or Krylov replay of a large state never allocates them.
}

BpttTape::BpttTape(const BpttScheme& scheme_in, const GradientOptions& options_in,
                   const BpttOptions& bptt_options_in, BpttWorkspace& work,
                   const OdeProblem& problem_in, const Loss& loss_in,
                   const std::vector<double>& times_in, LossAndGradient& result_in)
    : scheme(scheme_in),
      tableau(scheme_in.tableau),
      options(options_in),
      bptt_options(bptt_options_in),
      w(work),
      problem(problem_in),
      field(*problem_in.field),
      theta(problem_in.theta),
      loss(loss_in),
      times(times_in),
      outputs(problem_in.output_times),
      result(result_in),
      n(problem_in.z0.size()),
      un(static_cast<std::size_t>(problem_in.z0.size())),
      s(scheme_in.tableau.stages),
      running_cost(loss_in.HasRunningCost()),
      dense_solver(options_in.integrator_options.DenseLinearSolver()) {}

void BpttTape::MakePreconditioners() {
  const IntegratorOptions& io = options.integrator_options;
  Require(io.preconditioner != "band", [&] {
    return "gradient 'bptt': integrator option preconditioner 'band' is SUNDIALS' and does not "
           "reach bptt's own stage solves; use 'auto', 'field' or 'none'";
  });
  static const std::string where = "gradient 'bptt'";
  forward_preconditioner =
      detail::PlanPreconditioner(io, field, PreconditionerSide::kForward, where).field_owned;
  transposed_preconditioner =
      detail::PlanPreconditioner(io, field, PreconditionerSide::kTransposed, where).field_owned;
}

void BpttTape::MapOutputs() {
  num_steps = times.size() - 1;
  w.Resize(n, s);
  w.output_at.assign(times.size(), -1);
  w.interior_start.assign(times.size(), 0);
  w.interior.clear();
  const bool interpolate = scheme.interpolate;
  std::size_t k = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    while (k < times.size() && times[k] < outputs[i]) ++k;
    if (k < times.size() && times[k] == outputs[i]) {
      w.output_at[k] = static_cast<int>(i);
    } else if (interpolate && k > 0 && k < times.size()) {
      w.interior.push_back(static_cast<int>(i));  // inside step k − 1
      ++w.interior_start[k];
    } else {
      throw ConfigError("gradient 'bptt': output time " + BpttNumber(outputs[i]) +
                        (interpolate ? " lies outside the steps" : " is not a step boundary"));
    }
  }
  // Counts per step (stored at the step's end index) → start offsets per step.
  std::size_t offset = 0;
  for (std::size_t j = 0; j + 1 < times.size(); ++j) {
    const std::size_t count = w.interior_start[j + 1];
    w.interior_start[j] = offset;
    offset += count;
  }
  w.interior_start[times.size() - 1] = offset;
  for (std::size_t j = 1; j < times.size(); ++j) {
    if (!(times[j] > times[j - 1])) {
      throw ConfigError("gradient 'bptt': step times must be strictly increasing (step " +
                        std::to_string(j) + " at t = " + BpttNumber(times[j]) + ")");
    }
  }
}

double BpttTape::StageSaveBytes() const {
  return static_cast<double>(num_steps * static_cast<std::size_t>(s)) *
         static_cast<double>(save_size) * sizeof(double);
}

void BpttTape::Begin(bool use_recorded_slopes) {
  if (scheme.implicit && dense_solver) CheckDenseNewtonSize(n, "gradient 'bptt'");
  if (scheme.implicit && !dense_solver) MakePreconditioners();
  use_recorded = use_recorded_slopes;
  result.dreadout = Vector::Zero(loss.num_readout_params());
  result.dtheta = Vector::Zero(theta.size());
  Trajectory& forward = result.forward;
  forward.times = outputs;
  forward.states.reserve(outputs.size());
  if (options.integrator_options.record_steps) forward.step_times = times;

  w.z.resize((num_steps + 1) * un);
  w.stages.resize(num_steps * static_cast<std::size_t>(scheme.stored_stages) * un);
  if (w.dl_dz.size() < outputs.size()) w.dl_dz.resize(outputs.size());
  // Each stage's saved forward pass (VectorField::FSaving), which its VJP reuses: from the record
  // of the recording solve, or, when the replay evaluates f itself, kept by the replay while the
  // memory limit allows; null when there is none.
  const std::size_t slots = num_steps * static_cast<std::size_t>(s);
  w.saved_at.assign(slots, nullptr);
  save_size = static_cast<std::size_t>(field.ForwardSaveSize());
  save_stages = !scheme.implicit && !use_recorded && save_size > 0 &&
                scheme.EstimateBytes(static_cast<Index>(num_steps), n) + StageSaveBytes() <=
                    bptt_options.max_trajectory_bytes;
  if (save_stages && w.stage_saved.size() < slots * save_size) {
    w.stage_saved.resize(slots * save_size);
  }
  std::copy(problem.z0.data(), problem.z0.data() + n, State(0));
  OutputTerm(0);
}

void BpttTape::CombineStages(double h, StageWeights weights, int count, const double* base,
                             double* out) {
  bool first = true;
  for (int j = 0; j < count; ++j) {
    const double c = h * weights[j];
    if (c == 0.0) continue;
    const double* kj = w.k.col(j).data();
    if (first) {
      for (Index e = 0; e < n; ++e) out[e] = c * kj[e];
      first = false;
    } else {
      for (Index e = 0; e < n; ++e) out[e] += c * kj[e];
    }
  }
  if (first) {
    for (Index e = 0; e < n; ++e) out[e] = base[e];
  } else {
    for (Index e = 0; e < n; ++e) out[e] += base[e];
  }
}

void BpttTape::Evaluate(double t, const double* y, VectorRef k, std::size_t step, int stage) {
  ++rhs_evals;
  if (!save_stages) {
    field.F(t, ConstMap(y, n), theta, k);
    return;
  }
  double* slot = w.stage_saved.data() +
                 (step * static_cast<std::size_t>(s) + static_cast<std::size_t>(stage)) * save_size;
  field.FSaving(t, ConstMap(y, n), theta, k, slot);
  Saved(step, stage) = slot;
}

bool BpttTape::Take(double t, double h, double* y, VectorRef k, std::size_t step, int stage) {
  if (!use_recorded) return false;
  RecordingField& recorded = *w.recording_field;
  const int entry = recorded.Take(t, h, y, k.data());
  if (entry < 0) return false;
  Saved(step, stage) = recorded.Saved(entry);
  return true;
}

void BpttTape::AddStageCost(double h, int i, double ti, const double* y) {
  if (running_cost && tableau.b[i] != 0.0) {
    loss_value += h * tableau.b[i] * loss.RunningCost(ti, ConstMap(y, n));
  }
}

void BpttTape::EndStep(std::size_t step) {
  const ConstMap z_next(State(step + 1), n);
  if (!z_next.allFinite()) {
    throw NumericalError(
        "gradient 'bptt': state became NaN/Inf at t = " + BpttNumber(times[step + 1]) +
        " (integrator '" + options.integrator + "', step " + std::to_string(step + 1) +
        "); reduce the step or check the model");
  }
  if (scheme.interpolate) InteriorTerms(step);
  OutputTerm(step + 1);
}

void BpttTape::DenseJacobian(double t, ConstVectorRef z) {
  if (w.jac.rows() != n) w.jac.resize(n, n);
  field.DenseJacobian(t, z, theta, w.jac);
  if (!field.HasDenseJacobian()) jvp_evals += n;
}

void BpttTape::OutputTerm(std::size_t k) {
  const int i = w.output_at[k];
  if (i < 0) return;
  const ConstMap zk(State(k), n);
  Vector& dl = w.dl_dz[static_cast<std::size_t>(i)];
  dl.resize(n);
  loss_value += loss.Term(static_cast<std::size_t>(i), outputs[static_cast<std::size_t>(i)], zk, dl,
                          result.dreadout);
  result.forward.states.emplace_back(zk);
}

void BpttTape::InteriorTerms(std::size_t step) {
  const double t = times[step];
  const double h = times[step + 1] - t;
  const ConstMap zn(State(step), n), znext(State(step + 1), n);
  for (std::size_t q = w.interior_start[step]; q < w.interior_start[step + 1]; ++q) {
    const std::size_t i = static_cast<std::size_t>(w.interior[q]);
    const HermiteWeights c = Hermite((outputs[i] - t) / h);
    w.interp = c.h00 * zn + c.h01 * znext + (h * c.h10) * w.k.col(0) + (h * c.h11) * w.k.col(s - 1);
    Vector& dl = w.dl_dz[i];
    dl.resize(n);
    loss_value += loss.Term(i, outputs[i], w.interp, dl, result.dreadout);
    result.forward.states.emplace_back(w.interp);
  }
}

bool BpttTape::InteriorAdjoint(std::size_t step) {
  if (w.interior_start[step] == w.interior_start[step + 1]) return false;
  const double t = times[step];
  const double h = times[step + 1] - t;
  w.extra_first.setZero();
  w.extra_last.setZero();
  w.extra_zn.setZero();
  for (std::size_t q = w.interior_start[step]; q < w.interior_start[step + 1]; ++q) {
    const std::size_t i = static_cast<std::size_t>(w.interior[q]);
    const HermiteWeights c = Hermite((outputs[i] - t) / h);
    const Vector& ybar = w.dl_dz[i];
    w.lambda.noalias() += c.h01 * ybar;
    w.extra_first.noalias() += (h * c.h10) * ybar;
    w.extra_last.noalias() += (h * c.h11) * ybar;
    w.extra_zn.noalias() += c.h00 * ybar;
  }
  return true;
}

}  // namespace detail
}  // namespace snode
