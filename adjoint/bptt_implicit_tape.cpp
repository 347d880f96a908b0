#include "adjoint/bptt_implicit_tape.hpp"

#include <algorithm>
#include <limits>

#include "adjoint/bptt_stage_solve.hpp"
#include "core/errors.hpp"

namespace snode {
namespace detail {
namespace {

// Newton stops when ‖Δ‖∞ ≤ kNewtonTolerance·‖z‖∞, far below ARKODE's WRMS test, so that the
// forward map is the backward-Euler map itself (up to round-off), not a tolerance-dependent
// approximation of it, and finite differences of it are smooth.
constexpr double kNewtonTolerance = 1e-14;

// Newton on G(y) = y − base − γ f(t, y) = 0 from y = base (γ = h a_ii).
void SolveStage(BpttTape& tape, double ti, double gamma, const double* base_ptr, double* y_ptr) {
  BpttWorkspace& w = tape.w;
  const Eigen::Map<const Vector> base(base_ptr, tape.n);
  Eigen::Map<Vector> y(y_ptr, tape.n);
  y = base;
  const int max_iters = tape.options.integrator_options.max_nonlinear_iters + 10;
  bool converged = false;
  double previous_norm = std::numeric_limits<double>::infinity();
  double delta_norm = 0.0;
  for (int iter = 0; iter < max_iters && !converged; ++iter) {
    tape.field.F(ti, y, tape.theta, w.f);
    ++tape.rhs_evals;
    w.residual = y - base - gamma * w.f;
    w.residual = -w.residual;
    SolveStageCorrection(tape, ti, gamma, y);
    y += w.delta;
    delta_norm = w.delta.cwiseAbs().maxCoeff();
    const double scale = y.cwiseAbs().maxCoeff();
    // Converged, or stagnated at the round-off floor of the linear solve.
    converged = delta_norm <= kNewtonTolerance * scale ||
                (delta_norm <= 1e-11 * scale && delta_norm >= 0.5 * previous_norm);
    previous_norm = delta_norm;
  }
  if (!converged) {
    throw NumericalError("gradient 'bptt': Newton iteration of integrator '" +
                         tape.options.integrator + "' did not converge at t = " + BpttNumber(ti) +
                         " (last |delta| = " + BpttNumber(delta_norm) +
                         "); reduce the step or raise max_nonlinear_iters");
  }
}

// Backward Euler: z_{n+1} = z_n + h f(t_n + h, z_{n+1}) is the stage itself.
void RecordBackwardEulerStep(BpttTape& tape, std::size_t step) {
  const double h = tape.StepSize(step);
  const double t1 = tape.times[step] + tape.tableau.c[0] * h;
  SolveStage(tape, t1, h, tape.State(step), tape.State(step + 1));
  tape.AddStageCost(h, 0, t1, tape.State(step + 1));
}

// DIRK: Y_i = z_n + h Σ_{j<i} a_ij K_j + h a_ii f(t_i, Y_i), K_i = f(t_i, Y_i).
void RecordDirkStep(BpttTape& tape, std::size_t step) {
  BpttWorkspace& w = tape.w;
  const double t = tape.times[step];
  const double h = tape.StepSize(step);
  const double* zn = tape.State(step);
  for (int i = 0; i < tape.s; ++i) {
    double* y = tape.StageOutput(step, i);
    double* base = w.scaled.data();
    tape.CombineStages(h, tape.RowWeights(i), i, zn, base);
    const double ti = t + tape.tableau.c[i] * h;
    const double gamma = h * tape.tableau.a(i, i);
    if (gamma != 0.0) {
      SolveStage(tape, ti, gamma, base, y);
    } else {
      std::copy(base, base + tape.n, y);
    }
    tape.field.F(ti, Eigen::Map<const Vector>(y, tape.n), tape.theta, w.k.col(i));
    ++tape.rhs_evals;
    tape.AddStageCost(h, i, ti, y);
  }
  tape.CombineStages(h, tape.SolutionWeights(), tape.s, zn, tape.State(step + 1));
}

}  // namespace

void RecordImplicitSteps(BpttTape& tape) {
  for (std::size_t step = 0; step < tape.num_steps; ++step) {
    if (tape.scheme.dirk) {
      RecordDirkStep(tape, step);
    } else {
      RecordBackwardEulerStep(tape, step);
    }
    tape.EndStep(step);
  }
}

}  // namespace detail
}  // namespace snode
