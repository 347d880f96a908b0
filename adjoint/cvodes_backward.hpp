#pragma once
// The backward passes of cvodes_adjoint as strategy objects (internal to snode_adjoint). One
// BackwardStrategy per algorithm, each in its own file:
//   cvodes_backward_quadrature.cpp    CVODES backward, dL/dθ by CVODES' quadrature
//   cvodes_backward_gauss_restart.cpp CVODES backward restarted at each observation, dL/dθ by
//                                     Gauss–Legendre over its steps (optionally on the steps of
//                                     CVODES' error-controlled quadrature, its error estimate)
//   cvodes_backward_fundamental.cpp   CVODES backward of the fundamental matrix, Gauss–Legendre
//   cvodes_backward_epi2.cpp          the reversed linear system [a, q] by a registered
//                                     integrator (exponential ones such as epi2, and those
//                                     without a step hook), segment by segment
//   cvodes_backward_registry.cpp      a registered integrator with a step hook (the
//                                     interpolating adjoint)
// (the first two optionally with the jump layer, adjoint/jump_layer.hpp). The forward pass is
// CvodesForward (adjoint/cvodes_forward.hpp); the choice among them is ChooseCvodesBackward
// (adjoint/cvodes_strategy_choice.hpp). The equations are documented in
// adjoint/cvodes_adjoint.hpp.

#include <sundials/sundials_context.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/backward_segments.hpp"
#include "adjoint/cvodes_forward.hpp"
#include "adjoint/cvodes_step_polynomials.hpp"
#include "adjoint/cvodes_strategy_choice.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"

namespace snode {

// What a backward pass starts from.
struct BackwardPass {
  const OdeProblem& problem;
  const Loss& loss;
  const std::vector<Vector>& dl_dz;  // ∂ℓ_i/∂z at the output times
  const ForwardOutcome& forward;     // forward.t_reached: where the backward pass starts
};

class BackwardStrategy {
 public:
  virtual ~BackwardStrategy() = default;
  // The forward pass steps with CVodeF and stores checkpoints (a CVODES backward) or with CVode.
  virtual bool UsesCheckpoints() const = 0;
  // Called before every forward pass: the recorder of its steps, or null.
  virtual ForwardStepRecorder* PrepareRecorder() = 0;
  // a = ∂ℓ_N/∂z at pass.forward.t_reached and grad = 0 (length p) on entry; dL/dz0 and dL/dθ on
  // return. Sets backward_steps, backward_rhs_evals, vjp_evals, stored_bytes and
  // backward_restarts of stats.
  virtual void Run(const BackwardPass& pass, Vector& a, Vector& grad, GradientStats& stats) = 0;
};

// The strategy of `choice` for n states and p parameters; the CVODES ones create their backward
// problem in forward's memory, which must outlive them.
std::unique_ptr<BackwardStrategy> MakeBackwardStrategy(const CvodesBackwardChoice& choice,
                                                       const GradientOptions& options, Index n,
                                                       Index p, bool running_cost,
                                                       CvodesForward& forward, SUNContext ctx);

// The strategies (MakeBackwardStrategy's cases), each defined in its own file.
std::unique_ptr<BackwardStrategy> MakeCvodesQuadratureBackward(const GradientOptions& options,
                                                               Index n, Index p, bool jump_layer,
                                                               CvodesForward& forward,
                                                               SUNContext ctx);
// controlled_p > 0: kControlledGauss with that many parameters (CVODES' quadrature alongside).
std::unique_ptr<BackwardStrategy> MakeGaussRestartBackward(const GradientOptions& options, Index n,
                                                           Index controlled_p, bool jump_layer,
                                                           CvodesForward& forward, SUNContext ctx);
std::unique_ptr<BackwardStrategy> MakeFundamentalBackward(const GradientOptions& options, Index n,
                                                          bool running_cost, CvodesForward& forward,
                                                          SUNContext ctx);
std::unique_ptr<BackwardStrategy> MakeExponentialBackward(const GradientOptions& options, Index n,
                                                          Index p);
std::unique_ptr<BackwardStrategy> MakeRegistryBackward(const GradientOptions& options, Index n);

// The run-time diagnosis shared by the strategies that estimate their error (GradientStats'
// error_estimate and flag): flagged above kCvodesFlagFactor·rtol, the documented bound.
constexpr double kCvodesFlagFactor = 100.0;
// The rtol of that bound: the larger of the forward and backward rtol.
double FlagTolerance(const GradientOptions& options);
// max_i |x_i − y_i| / max(|y_i|, floor) (the bound convention with floor = 1e-3·‖e‖_∞); +∞ when
// not finite, 0 for empty vectors.
double BoundedDifference(const Vector& x, const Vector& y, double floor);
// stats.error_estimate = estimate, flagged "cvodes_adjoint: <what> differ by <estimate> relative
// (more than 100·rtol)" above kCvodesFlagFactor·rtol.
void ReportErrorEstimate(double estimate, double rtol, const std::string& what,
                         GradientStats& stats);

// a += ∂ℓ_i/∂z for every output time below T (from the top), for a pass with nothing to solve.
inline void AddAllJumps(const std::vector<Vector>& dl_dz, Vector& a) {
  for (std::size_t i = dl_dz.size() - 1; i-- > 0;) a += dl_dz[i];
}

// Segment by segment between the output times, from pass.forward.t_reached down to t0
// (SweepObservationIntervals): segment(t_high, t_low, a, grad) integrates one non-empty segment
// and returns its steps, then a += ∂ℓ_i/∂z at t_i = t_low. Returns the steps of all segments.
template <class Segment>
long RunSegments(const BackwardPass& pass, Vector& a, Vector& grad, Segment&& segment) {
  long steps = 0;
  SweepObservationIntervals(
      pass.problem.output_times, pass.problem.t0, pass.forward.t_reached,
      [&](double t_high, double t_low) {
        steps += segment(t_high, t_low, a, grad);
        return true;
      },
      [&](std::size_t i) { a += pass.dl_dz[i]; });
  return steps;
}

}  // namespace snode
