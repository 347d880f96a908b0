#pragma once
// CvodesBackwardSolver: the CVODES backward problem shared by the CVODES backward strategies
// (internal to snode_adjoint). yB holds `columns` adjoint vectors of length n side by side (1: a
// itself; n or n + 1: the fundamental matrix U and the running cost's particular solution v),
// each solving da/dt = −(∂f/∂z)ᵀ a, the running cost's −(∂g/∂z)ᵀ added in one column only.
// BDF uses the dense block-diagonal Jacobian or SPGMR/SPFGMR with the VJP, preconditioned by the
// field's transposed side column by column (M = I − γ̂ Jᵀ with γ̂ = −γB: CVODES' Newton matrix
// is I − γB ∂fB/∂a = I + γB Jᵀ), Adams fixed-point iteration. Optionally CVODES' own quadrature
// dq/dt = −(∂f/∂θ)ᵀ a under error control.

#include <sundials/sundials_context.h>
#include <sundials/sundials_nvector.h>

#include <memory>
#include <string>

#include "adjoint/cvodes_backward.hpp"
#include "adjoint/cvodes_forward.hpp"
#include "core/nvector.hpp"

namespace snode {

// The backward problem's user_dataB.
struct BackwardData : CallbackFailure {
  VectorField* field = nullptr;
  const Vector* theta = nullptr;
  const Loss* loss = nullptr;
  Vector work;      // length n: ∂g/∂z
  Matrix jacobian;  // n × n: ∂f/∂z for the dense backward Jacobian
  long rhs_evals = 0;
  long vjp_evals = 0;
  long jacobian_evals = 0;
  // The field's transposed-side preconditioner of this pass (not owned; null: none).
  Preconditioner* preconditioner = nullptr;
  long preconditioner_setups = 0;
  long preconditioner_solves = 0;
  Index columns = 1;               // adjoint vectors in yB
  Index running_cost_column = -1;  // the column that gets −(∂g/∂z)ᵀ (−1: none)
  // The field's forward pass at the (t, z) of the last fB call (VectorField::FSaving): CVODES'
  // corrector iterations call fB again at the same t and the same interpolated z, with only a
  // changed (an MLP 2-32-32-2 over 101 observations: 1 490 fB calls at 975
  // distinct times per gradient).
  Vector saved_pass;
  Vector saved_z;
  Vector saved_f;              // FSaving's f, unused
  Vector saved_state_product;  // fQB's discarded state product (VjpSaved computes both)
  double saved_t = 0.0;
  bool saved_valid = false;

  void Reset();
  // 0 when out is finite, else 1 (recoverable: CVODES may retry with a smaller step) and the
  // first such event described in nonfinite_message.
  int Finite(const char* what, double t, const Eigen::Ref<const Eigen::MatrixXd>& out);
};

class CvodesBackwardSolver {
 public:
  CvodesBackwardSolver(const GradientOptions& options, Index n, Index columns,
                       CvodesForward& forward, SUNContext ctx);
  CvodesBackwardSolver(const CvodesBackwardSolver&) = delete;
  CvodesBackwardSolver& operator=(const CvodesBackwardSolver&) = delete;

  // Adds CVODES' quadrature of dq/dt = −(∂f/∂θ)ᵀ a (p > 0), q(t0) = dL/dθ.
  void InitQuadrature(Index p, SUNContext ctx);
  // Binds one backward pass, clears its counters and attaches the field's transposed-side
  // preconditioner (BDF with a Krylov solver, as the backward options' preconditioner says;
  // ConfigError when the field cannot give the one asked for).
  void Bind(const BackwardPass& pass, Index running_cost_column);

  // yB (columns × n values); Restart starts the backward solve at t from it (CVodeReInitB).
  Eigen::Map<Eigen::VectorXd> State() { return AsEigen(yB_.get()); }
  void Restart(double t);
  // The CVODES quadrature (InitQuadrature), set to grad for the next segment or read after it.
  void RestartQuadrature(const Vector& grad);
  // The CVODES quadrature at t within the last step (dense output), into out (length p).
  void QuadratureAt(double t, Vector& out);
  // Solves to t_out (CV_NORMAL); a and, with the quadrature, grad at t_out.
  void SolveTo(double t_out, Vector& a, Vector* grad);
  // One backward step toward t_out (CV_ONE_STEP; it may overshoot); t_current ← where it ended.
  // Returns the Gauss nodes per piece for the step's order.
  int Step(double t_out, double& t_current);
  // yB at t within the last step (dense output).
  N_Vector DenseAt(double t);
  // The backward absolute tolerance times scale (CVodeSStolerancesB; the relative tolerance
  // unchanged), from the next step on.
  void ScaleAbsoluteTolerance(double scale);
  // The forward's state distribution (null: the whole state is here).
  const StateDistribution* distribution() const { return forward_.distribution(); }
  // Steps since the last Restart (CVODES' counters restart there).
  long StepsSinceRestart();

  // The statistics every CVODES backward reports; quadrature_vjps and recorded_bytes are the
  // strategy's own (Gauss quadrature, jump layer, recorded forward polynomials).
  void FillStats(const BackwardPass& pass, long backward_steps, long quadrature_vjps,
                 double recorded_bytes, GradientStats& stats);

 private:
  // Throws for a failed CVodeB, at the backward's current time (t if that is unavailable).
  [[noreturn]] void Fail(const char* call, int flag, double t);
  void AttachSolvers(const GradientOptions& options, SUNContext ctx);
  void AttachPreconditioner(const BackwardPass& pass);
  // Adds the counters of the backward memory since the last restart to the pass's totals.
  void AccumulateIterations();

  // Newton and Krylov iterations and preconditioner calls of this pass, over its restarts.
  long nonlinear_iters_ = 0, linear_iters_ = 0, prec_setups_ = 0, prec_solves_ = 0;
  std::unique_ptr<Preconditioner> preconditioner_;
  Index band_ = -1;  // ApplyPreconditionerPlan: half-bandwidth of the band one, −2 trampolines

  CvodesForward& forward_;
  const Index columns_;
  BackwardData data_;
  NVectorPtr yB_, qB_, dense_;
  SunMatrixPtr matrix_;
  SunLinearSolverPtr solver_;
  SunNonlinearSolverPtr nonlinear_;
  int which_ = -1;
  void* mem_ = nullptr;  // owned by the forward memory
  long restarts_ = 0;    // CVodeReInitB calls of this pass
};

}  // namespace snode
