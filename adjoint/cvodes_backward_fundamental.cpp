// The CVODES backward pass of the fundamental matrix (CvodesAdjointOptions::observations
// "fundamental"): one backward solve from T down to t0 of yB = [U, v], dU/dt = −(∂f/∂z)ᵀ U,
// U(T) = I, and with a running cost dv/dt = −(∂f/∂z)ᵀ v − (∂g/∂z)ᵀ, v(T) = 0, so that
// a(t) = U(t) c + v(t): the jumps at the observations change c (c ← c + U(t_i)⁻¹ ∂ℓ_i/∂z), not
// the solution CVODES integrates. The Gauss–Legendre quadrature of (∂f/∂θ)ᵀ a is split at the
// observations, where c changes. Where U(t_i) is ill-conditioned the solve restarts there from
// a(t_i⁻) with U = I, v = 0.
#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "adjoint/cvodes_backward.hpp"
#include "adjoint/cvodes_backward_solver.hpp"
#include "adjoint/quadrature_batch.hpp"

namespace snode {

namespace {

class FundamentalBackward final : public BackwardStrategy {
 public:
  // columns: n, or n + 1 with a running cost (its particular solution v).
  FundamentalBackward(const GradientOptions& options, Index n, Index columns,
                      CvodesForward& forward, SUNContext ctx)
      : n_(n),
        columns_(columns),
        solver_(options, n, columns_, forward, ctx),
        combination_(n),
        u_factors_(n),
        u_inverse_(n, n),
        a_value_(n),
        max_condition_(forward.cvodes_options().fundamental_condition),
        max_growth_(forward.cvodes_options().fundamental_growth) {}

  bool UsesCheckpoints() const override { return true; }
  ForwardStepRecorder* PrepareRecorder() override { return &polynomials_; }

  void Run(const BackwardPass& pass, Vector& a, Vector& grad, GradientStats& stats) override {
    solver_.Bind(pass, pass.loss.HasRunningCost() ? n_ : -1);
    quadrature_vjps_ = 0;
    quadrature_.Reset(n_);
    const long steps = Solve(pass, a, grad);
    quadrature_.Flush(*pass.problem.field, pass.problem.theta, grad);
    solver_.FillStats(pass, steps, quadrature_vjps_, polynomials_.Bytes(), stats);
  }

 private:
  // a holds ∂ℓ_N/∂z on entry and dL/dz0 on return. Returns the backward steps.
  long Solve(const BackwardPass& pass, Vector& a, Vector& grad);
  // At an observation t_obs inside the last step: folds the jump into c and returns true, or,
  // where U(t_obs) is too ill-conditioned, restarts there and returns false.
  bool FoldJump(double t_obs, const Vector& jump);
  // grad += ∫_{lo}^{hi} (∂f/∂θ)ᵀ a dt over a part of the last backward step.
  void AddQuadrature(const OdeProblem& problem, double lo, double hi, int nodes, Vector& grad) {
    quadrature_vjps_ += AddGaussLegendre(
        lo, hi, nodes, polynomials_, [this](double t, VectorRef out) { AdjointAt(t, out); },
        quadrature_, *problem.field, problem.theta, grad);
  }
  // a(t) = U(t) c + v(t) from the last backward step's dense output.
  void AdjointAt(double t, VectorRef out) {
    const Eigen::Map<const Matrix> values(NV_DATA_S(solver_.DenseAt(t)), n_, columns_);
    out.noalias() = values.leftCols(n_) * combination_;
    if (columns_ > n_) out += values.col(n_);
  }
  // Sets yB to U = I, v = 0 and restarts the backward solve at t.
  void Restart(double t) {
    Eigen::Map<Matrix> values(solver_.State().data(), n_, columns_);
    values.setZero();
    values.leftCols(n_).setIdentity();
    solver_.Restart(t);
    ScaleTolerances();
  }
  // At a (re)start: U's absolute tolerance from c (CvodesAdjointOptions::fundamental_growth).
  void ScaleTolerances();

  const Index n_;
  const Index columns_;  // n, or n + 1 with a running cost
  CvodesBackwardSolver solver_;
  StepPolynomials polynomials_;
  QuadratureBatch quadrature_;
  long quadrature_vjps_ = 0;
  Vector combination_;  // c of a = U c + v
  Eigen::PartialPivLU<Matrix> u_factors_;
  Matrix u_inverse_;
  Vector a_value_;
  const double max_condition_;  // CvodesAdjointOptions::fundamental_condition
  const double max_growth_;     // CvodesAdjointOptions::fundamental_growth
  double restart_c_ = 1.0;      // max(1, ‖c‖∞) at the last (re)start
};

}  // namespace

std::unique_ptr<BackwardStrategy> MakeFundamentalBackward(const GradientOptions& options, Index n,
                                                          bool running_cost, CvodesForward& forward,
                                                          SUNContext ctx) {
  // U's n columns, and v's with a running cost.
  const Index columns = running_cost ? n + 1 : n;
  return std::make_unique<FundamentalBackward>(options, n, columns, forward, ctx);
}

// FundamentalBackward's longer members.

long FundamentalBackward::Solve(const BackwardPass& pass, Vector& a, Vector& grad) {
  const std::vector<double>& times = pass.problem.output_times;
  const double t0 = pass.problem.t0;
  const double t_high = pass.forward.t_reached;
  if (!(t_high > t0) || polynomials_.Empty()) {
    AddAllJumps(pass.dl_dz, a);
    return 0;
  }
  // The observations below T and above t0, from the top; those at t0 are added to a(t0) last.
  std::ptrdiff_t i = static_cast<std::ptrdiff_t>(times.size()) - 2;
  combination_ = a;  // U(T) = I, v(T) = 0: a(T) = c
  Restart(t_high);
  long steps = 0;
  double t_prev = t_high;  // the quadrature has reached t_prev
  double t_current = t_high;
  while (t_prev > t0) {
    const int nodes = solver_.Step(t0, t_current);
    ++steps;
    const double lo = std::max(t_current, t0);
    // The observations inside this step, from the top: c jumps there, so the quadrature splits.
    bool restarted = false;
    while (!restarted && i >= 0 && times[static_cast<std::size_t>(i)] > t0 &&
           times[static_cast<std::size_t>(i)] >= lo) {
      const double t_obs = times[static_cast<std::size_t>(i)];
      const Vector& jump = pass.dl_dz[static_cast<std::size_t>(i)];
      --i;
      if (grad.size() > 0 && t_obs < t_prev)
        AddQuadrature(pass.problem, t_obs, t_prev, nodes, grad);
      t_prev = t_obs;
      restarted = !FoldJump(t_obs, jump);
    }
    if (restarted) continue;
    if (grad.size() > 0 && lo < t_prev) AddQuadrature(pass.problem, lo, t_prev, nodes, grad);
    t_prev = lo;
  }
  AdjointAt(t0, a);
  for (; i >= 0; --i) a += pass.dl_dz[static_cast<std::size_t>(i)];
  return steps;
}

bool FundamentalBackward::FoldJump(double t_obs, const Vector& jump) {
  const Eigen::Map<const Matrix> values(NV_DATA_S(solver_.DenseAt(t_obs)), n_, columns_);
  u_factors_.compute(values.leftCols(n_));
  u_inverse_ = u_factors_.solve(Matrix::Identity(n_, n_));
  const double condition = values.leftCols(n_).cwiseAbs().colwise().sum().maxCoeff() *
                           u_inverse_.cwiseAbs().colwise().sum().maxCoeff();
  if (std::isfinite(condition) && condition <= max_condition_) {
    a_value_.noalias() = u_inverse_ * jump;
    // U ran at atol / restart_c_: beyond max_growth_ · restart_c_, its absolute error would
    // weigh more than max_growth_ · atol in a.
    if ((combination_ + a_value_).cwiseAbs().maxCoeff() <= max_growth_ * restart_c_) {
      combination_ += a_value_;
      return true;
    }
  }
  // U(t_obs) too ill-conditioned (or c grown too far) to carry the jump: restart from a(t_obs⁻)
  // with U = I.
  AdjointAt(t_obs, a_value_);
  combination_ = a_value_ + jump;
  Restart(t_obs);
  return false;
}

void FundamentalBackward::ScaleTolerances() {
  // a = U c + v: an absolute error δ in U's entries is an error of up to δ‖c‖∞ in a's, so the
  // backward runs at atol / ‖c‖∞ (never looser than atol). CVODES takes new tolerances only
  // before the first step after a (re)start (it binds the error weights there).
  restart_c_ = std::max(1.0, combination_.cwiseAbs().maxCoeff());
  solver_.ScaleAbsoluteTolerance(1.0 / restart_c_);
}

}  // namespace snode
