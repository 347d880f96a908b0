#pragma once
// CvodesForward: the forward pass of cvodes_adjoint (internal to snode_adjoint). Owns the CVODES
// memory: created once (BDF with a dense or SPGMR linear solver, or Adams with fixed-point
// iteration; the running cost ∫ g dt as a quadrature under error control; CVodeAdjInit for the
// checkpoints) and re-initialised by every Run, which steps one CVODES step at a time to the
// last output time T (the only stop time), reads the states at the output times from the step
// that contains them (CVodeGetDky) and hands every step to a ForwardStepRecorder. With
// checkpoints the steps are CVodeF's, for a CVODES backward pass (CVodeCreateB on memory());
// without, CVode's.
//
// Fail turns a failed solver call of the forward or of the backward pass into the exception
// cvodes_adjoint documents (adjoint/cvodes_adjoint.hpp).

#include <sundials/sundials_context.h>

#include <cstddef>
#include <exception>
#include <memory>
#include <string>

#include "adjoint/cvodes_adjoint_options.hpp"
#include "adjoint/cvodes_step_polynomials.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/callbacks.hpp"
#include "core/nvector.hpp"
#include "core/state_distribution.hpp"
#include "integrators/sundials_check.hpp"

namespace snode {

// The forward problem's user_data: core's trampolines plus the loss for the running cost.
struct ForwardData : CallbackData {
  const Loss* loss = nullptr;
};

// What a callback of the backward pass left behind: the exception it threw, or the first
// NaN/Inf it saw ("" if none).
struct CallbackFailure {
  std::exception_ptr pending;
  std::string nonfinite_message;
};

// Which pass of cvodes_adjoint failed (CvodesForward::Fail).
enum class CvodesPhase { kForward, kBackward };

struct ForwardOutcome {
  double t_reached = 0.0;  // where the forward really ended (the backward's start), t0 if unsolved
  int checkpoints = 0;     // CVodeF's ncheck
  long steps = 0;
  long rhs_evals = 0;        // f calls of the forward pass alone
  long nonlinear_iters = 0;  // Newton (or fixed-point) iterations of the forward pass
  long linear_iters = 0;     // Krylov iterations
  long preconditioner_setups = 0;
  long preconditioner_solves = 0;
};

class CvodesForward {
 public:
  // The CVODES memory for states of length n, created with the forward integrator's declared
  // method (not kNone); backward_method: the backward integrator's (kNone when it is not CVODES),
  // for the CVODES backward strategies. Both options must outlive this object, and so must
  // distribution: when it is set, the state vectors are its parts (core/state_distribution.hpp).
  CvodesForward(const GradientOptions& options, const CvodesAdjointOptions& cvodes_options,
                CvodesMethod method, CvodesMethod backward_method, Index n, SUNContext ctx,
                const StateDistribution* distribution = nullptr);
  CvodesForward(const CvodesForward&) = delete;
  CvodesForward& operator=(const CvodesForward&) = delete;

  // Points the callbacks at the problem and the loss, clears the counters and errors, and
  // attaches the problem field's preconditioner (BDF with a Krylov solver; options.preconditioner).
  // Throws ConfigError for a preconditioner the field cannot give.
  void Bind(const OdeProblem& problem, const Loss& loss);
  // Solves from t0 to T, filling forward.states (forward.times and the states' count are set by
  // the caller). recorder may be null.
  ForwardOutcome Run(const OdeProblem& problem, bool checkpoints, ForwardStepRecorder* recorder,
                     Trajectory& forward);
  // ∫_{t0}^{T} g dt of the last Run (which must have taken a step).
  double RunningCostIntegral();
  // Bytes of the checkpoints (Nordsieck arrays) and of the interpolation buffer.
  double CheckpointBytes(int checkpoints);

  // Throws for a failed solver call: a stored callback exception first (the forward's, then the
  // backward's), then NumericalError for NaN/Inf, else SundialsError with the CVODES message
  // and a remedy.
  [[noreturn]] void Fail(const char* call, int flag, double t, CvodesPhase phase,
                         CallbackFailure* backward = nullptr);

  void* memory() const { return mem_.get(); }
  const GradientOptions& options() const { return options_; }
  const CvodesAdjointOptions& cvodes_options() const { return cvodes_options_; }
  CvodesMethod method() const { return method_; }
  CvodesMethod backward_method() const { return backward_method_; }
  const ForwardData& data() const { return data_; }
  const StateDistribution* distribution() const { return distribution_; }

 private:
  void AttachSolvers(SUNContext ctx);
  // The iteration and preconditioner counters of the last Run, into outcome.
  void ReadIterations(ForwardOutcome& outcome);
  // Steps from t0 to T, output `next` being the first after t0; returns the checkpoints.
  int StepToEnd(const OdeProblem& problem, std::size_t next, bool checkpoints,
                ForwardStepRecorder* recorder, Trajectory& forward);

  const GradientOptions& options_;
  const CvodesAdjointOptions& cvodes_options_;  // checkpoint_interval, interpolation
  const CvodesMethod method_, backward_method_;
  const Index n_;
  const StateDistribution* distribution_;
  detail::ErrorRecord errors_;
  ForwardData data_;
  NVectorPtr y_, y_work_, q_;
  SunMatrixPtr matrix_;
  SunLinearSolverPtr solver_;
  SunNonlinearSolverPtr nonlinear_;
  std::unique_ptr<Preconditioner> preconditioner_;  // the bound field's, kForward
  Index band_ = -1;  // ApplyPreconditionerPlan: half-bandwidth of the band one, −2 trampolines
  detail::CvodeMemPtr mem_;  // freed first: it also frees the backward memory
};

// CV_BDF or CV_ADAMS for a declared method (kNone, never passed once validated: CV_BDF).
int CvodesMethodFor(CvodesMethod method);

}  // namespace snode
