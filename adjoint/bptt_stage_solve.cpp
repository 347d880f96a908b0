#include "adjoint/bptt_stage_solve.hpp"

#include "core/errors.hpp"

namespace snode {
namespace detail {
namespace {

// GMRES relative residuals: Newton corrections (inexact Newton still converges to the exact
// root) and the transposed adjoint solves (their error enters the gradient directly).
constexpr double kGmresNewtonRtol = 1e-12;
constexpr double kGmresAdjointRtol = 1e-13;

// w.lu = LU factors of I − γ J(t, y).
void FactorStageMatrix(BpttTape& tape, double t, double gamma, ConstVectorRef y) {
  BpttWorkspace& w = tape.w;
  tape.DenseJacobian(t, y);
  w.m = -gamma * w.jac;
  w.m.diagonal().array() += 1.0;
  w.lu.compute(w.m);
}

// out = M⁻¹ v with the preconditioner, counted.
auto CountedSolve(Preconditioner& preconditioner, KrylovCounters& counters) {
  return [&preconditioner, &counters](ConstVectorRef v, VectorRef out) {
    ++counters.preconditioner_solves;
    preconditioner.Solve(v, out);
  };
}

}  // namespace

void SolveStageCorrection(BpttTape& tape, double t, double gamma, ConstVectorRef y) {
  BpttWorkspace& w = tape.w;
  ++tape.forward_krylov.solves;
  if (tape.dense_solver) {
    FactorStageMatrix(tape, t, gamma, y);
    w.delta = w.lu.solve(w.residual);
    return;
  }
  auto apply = [&](ConstVectorRef v, VectorRef out) {
    tape.field.Jvp(t, y, tape.theta, v, out);
    out = v - gamma * out;
  };
  const long before = w.gmres.iterations();
  Preconditioner* preconditioner = tape.forward_preconditioner.get();
  if (preconditioner == nullptr) {
    w.gmres.Solve(apply, w.residual, w.delta, kGmresNewtonRtol,
                  tape.options.integrator_options.krylov_max_dim, &tape.jvp_evals);
  } else {
    preconditioner->Setup(t, y, tape.theta, gamma);  // M = I − γJ, as the Newton matrix
    ++tape.forward_krylov.setups;
    w.gmres.SolvePreconditioned(apply, CountedSolve(*preconditioner, tape.forward_krylov),
                                w.residual, w.delta, kGmresNewtonRtol,
                                tape.options.integrator_options.krylov_max_dim, &tape.jvp_evals);
  }
  tape.forward_krylov.iterations += w.gmres.iterations() - before;
}

void SolveTransposedStage(BpttTape& tape, double t, double gamma, ConstVectorRef y,
                          const Vector& rhs) {
  BpttWorkspace& w = tape.w;
  ++tape.backward_krylov.solves;
  if (tape.dense_solver) {
    FactorStageMatrix(tape, t, gamma, y);
    w.x = w.lu.transpose().solve(rhs);
    return;
  }
  auto apply = [&](ConstVectorRef v, VectorRef out) {
    tape.field.VjpState(t, y, tape.theta, v, out);
    out = v - gamma * out;
  };
  long applies = 0;
  const long before = w.gmres.iterations();
  const int max_dim = tape.options.integrator_options.krylov_max_dim;
  Preconditioner* preconditioner = tape.transposed_preconditioner.get();
  double residual = 0.0;
  if (preconditioner == nullptr) {
    residual = w.gmres.Solve(apply, rhs, w.x, kGmresAdjointRtol, max_dim, &applies);
  } else {
    preconditioner->Setup(t, y, tape.theta, gamma);  // M = I − γJᵀ = (I − γJ)ᵀ
    ++tape.backward_krylov.setups;
    residual =
        w.gmres.SolvePreconditioned(apply, CountedSolve(*preconditioner, tape.backward_krylov), rhs,
                                    w.x, kGmresAdjointRtol, max_dim, &applies);
  }
  tape.backward_krylov.iterations += w.gmres.iterations() - before;
  tape.vjp_evals += applies;
  if (!(residual <= 1e-8)) {
    throw NumericalError("gradient 'bptt': GMRES for the transposed stage system of integrator '" +
                         tape.options.integrator + "' reached only relative residual " +
                         BpttNumber(residual) + " at t = " + BpttNumber(t) +
                         "; raise krylov_max_dim or use linear_solver dense");
  }
}

}  // namespace detail
}  // namespace snode
