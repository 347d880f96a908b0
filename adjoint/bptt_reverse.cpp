#include "adjoint/bptt_reverse.hpp"

#include <algorithm>

#include "adjoint/bptt_stage_solve.hpp"
#include "core/errors.hpp"

namespace snode {
namespace detail {
namespace {

using ConstMap = Eigen::Map<const Vector>;

void AddOutputGradient(BpttTape& tape, std::size_t k) {
  const int i = tape.w.output_at[k];
  if (i >= 0) tape.w.lambda += tape.w.dl_dz[static_cast<std::size_t>(i)];
}

// w.gbar = ḡ_i = h b_i λ + h Σ_{j>i} a_ji μ_j (+ the interpolated outputs' share of stage i).
void StageCotangent(BpttTape& tape, int i, double h, bool interior) {
  BpttWorkspace& w = tape.w;
  const ButcherTableau& tableau = tape.tableau;
  w.gbar = (h * tableau.b[i]) * w.lambda;
  for (int j = i + 1; j < tape.s; ++j) {
    if (!tape.scheme.stage_used[j] || tableau.a(j, i) == 0.0) continue;
    w.gbar.noalias() += (h * tableau.a(j, i)) * w.mu.col(j);
  }
  if (interior && i == 0) w.gbar += w.extra_first;
  if (interior && i == tape.s - 1) w.gbar += w.extra_last;
}

// ∂L/∂z_n = λ + Σ_i μ_i (+ the interpolated outputs' share of z_n).
void AddStageAdjoints(BpttTape& tape, bool interior) {
  BpttWorkspace& w = tape.w;
  for (int i = 0; i < tape.s; ++i) {
    if (tape.scheme.stage_used[i]) w.lambda += w.mu.col(i);
  }
  if (interior) w.lambda += w.extra_zn;
}

void ExplicitStepAdjoint(BpttTape& tape, std::size_t step, bool interior) {
  BpttWorkspace& w = tape.w;
  const double t = tape.times[step];
  const double h = tape.StepSize(step);
  for (int i = tape.s - 1; i >= 0; --i) {
    if (!tape.scheme.stage_used[i]) continue;
    StageCotangent(tape, i, h, interior);
    const ConstMap y(tape.StageState(step, i), tape.n);
    const double ti = t + tape.tableau.c[i] * h;
    const double* saved = tape.Saved(step, i);
    if (saved != nullptr) {
      tape.field.VjpSaved(ti, y, tape.theta, saved, w.gbar, w.mu.col(i), tape.result.dtheta);
    } else {
      tape.field.Vjp(ti, y, tape.theta, w.gbar, w.mu.col(i), tape.result.dtheta);
    }
    ++tape.vjp_evals;
    if (tape.running_cost && tape.tableau.b[i] != 0.0) {
      tape.loss.RunningCostGradient(ti, y, w.grad_g);
      w.mu.col(i).noalias() += (h * tape.tableau.b[i]) * w.grad_g;
    }
  }
  AddStageAdjoints(tape, interior);
}

// (I − h J(z_{n+1}))ᵀ x = λ (+ h ∂g/∂z for a running cost); dL/dθ += h f_θᵀ x; ∂L/∂z_n = x.
void BackwardEulerStepAdjoint(BpttTape& tape, std::size_t step) {
  BpttWorkspace& w = tape.w;
  const double h = tape.StepSize(step);
  const double t1 = tape.times[step] + tape.tableau.c[0] * h;
  const ConstMap z1(tape.State(step + 1), tape.n);
  if (tape.running_cost) {
    tape.loss.RunningCostGradient(t1, z1, w.grad_g);
    w.lambda.noalias() += h * w.grad_g;
  }
  SolveTransposedStage(tape, t1, h, z1, w.lambda);
  w.scaled = h * w.x;
  tape.field.VjpParams(t1, z1, tape.theta, w.scaled, tape.result.dtheta);
  ++tape.vjp_evals;
  w.lambda = w.x;
}

// DIRK, i = s…1: (I − h a_ii J_iᵀ) κ_i = h b_i λ + h Σ_{j>i} a_ji ν_j (+ h a_ii h b_i ∂g/∂z),
// ν_i = J_iᵀ κ_i (+ h b_i ∂g/∂z), dL/dθ += f_θ(Y_i)ᵀ κ_i, ∂L/∂z_n = λ + Σ ν_i.
void DirkStepAdjoint(BpttTape& tape, std::size_t step, bool interior) {
  BpttWorkspace& w = tape.w;
  const ButcherTableau& tableau = tape.tableau;
  const double t = tape.times[step];
  const double h = tape.StepSize(step);
  for (int i = tape.s - 1; i >= 0; --i) {
    if (!tape.scheme.stage_used[i]) continue;
    const double ti = t + tableau.c[i] * h;
    const ConstMap y(tape.StageState(step, i), tape.n);
    StageCotangent(tape, i, h, interior);
    const bool stage_cost = tape.running_cost && tableau.b[i] != 0.0;
    if (stage_cost) {
      tape.loss.RunningCostGradient(ti, y, w.grad_g);
      w.gbar.noalias() += (h * tableau.a(i, i) * h * tableau.b[i]) * w.grad_g;
    }
    const double gamma = h * tableau.a(i, i);
    if (gamma != 0.0) {
      SolveTransposedStage(tape, ti, gamma, y, w.gbar);
    } else {
      w.x = w.gbar;
    }
    tape.field.Vjp(ti, y, tape.theta, w.x, w.mu.col(i), tape.result.dtheta);
    ++tape.vjp_evals;
    if (stage_cost) w.mu.col(i).noalias() += (h * tableau.b[i]) * w.grad_g;
  }
  AddStageAdjoints(tape, interior);
}

}  // namespace

void WalkBackward(BpttTape& tape) {
  BpttWorkspace& w = tape.w;
  w.lambda.setZero();
  AddOutputGradient(tape, tape.num_steps);
  // One norm per step: the growth of λ is bptt's diagnosis (adjoint/bptt.hpp).
  double max_adjoint = w.lambda.lpNorm<Eigen::Infinity>();
  for (std::size_t step = tape.num_steps; step-- > 0;) {
    const bool interior = tape.scheme.interpolate && tape.InteriorAdjoint(step);
    if (!tape.scheme.implicit) {
      ExplicitStepAdjoint(tape, step, interior);
    } else if (!tape.scheme.dirk) {
      BackwardEulerStepAdjoint(tape, step);
    } else {
      DirkStepAdjoint(tape, step, interior);
    }
    AddOutputGradient(tape, step);
    max_adjoint = std::max(max_adjoint, w.lambda.lpNorm<Eigen::Infinity>());
  }
  tape.max_adjoint = max_adjoint;
  if (!tape.result.dtheta.allFinite() || !w.lambda.allFinite()) {
    throw NumericalError("gradient 'bptt': the reverse pass produced NaN/Inf (integrator '" +
                         tape.options.integrator +
                         "'): the field's vector-Jacobian products are not finite along the "
                         "forward trajectory; check the model");
  }
}

}  // namespace detail
}  // namespace snode
