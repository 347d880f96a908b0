#include "adjoint/cvodes_adjoint.hpp"

#include <chrono>
#include <memory>
#include <vector>

#include "adjoint/cvodes_backward.hpp"
#include "adjoint/cvodes_forward.hpp"
#include "adjoint/cvodes_strategy_choice.hpp"
#include "core/errors.hpp"
#include "core/state_distribution.hpp"
#include "core/sundials_context.hpp"

namespace snode {

// The SUNDIALS state of one CvodesAdjoint: the forward pass (CvodesForward, which owns the
// CVODES memory) and the backward strategy chosen for the problem's sizes. Members are
// destroyed in reverse order: the CVODES memory first (it also frees the backward memory whose
// vectors and solvers the strategy owns), then the strategy, the context last.
struct CvodesAdjoint::Impl {
  // integrators: what the forward and backward integrators declare; running_cost: the loss has
  // one; many_observations: ManyObservations(problem) (for "auto").
  // distribution: the problem's (null: the whole state here); the strategy is chosen for the
  // whole state's size.
  Impl(const GradientOptions& options, const CvodesAdjointOptions& cvodes_options,
       const CvodesAdjointIntegrators& integrators, Index state_size, Index param_count,
       bool with_running_cost, bool with_many_observations,
       const StateDistribution* state_distribution)
      : n(state_size),
        p(param_count),
        running_cost(with_running_cost),
        many_observations(with_many_observations),
        distribution(state_distribution),
        method_options(cvodes_options),
        choice(
            ChooseCvodesBackward(method_options, integrators.backward,
                                 distribution != nullptr ? distribution->global_size() : state_size,
                                 param_count, with_many_observations)),
        forward(options, method_options, integrators.forward.cvodes_method,
                integrators.backward.cvodes_method, state_size, ctx, distribution) {
    if (distribution != nullptr && choice.kind != CvodesBackwardKind::kCvodesQuadrature) {
      throw ConfigError(
          "gradient 'cvodes_adjoint': a state distributed over ranks needs a CVODES backward "
          "integrator (cvodes_bdf or cvodes_adams), got backward integrator '" +
          options.EffectiveBackwardIntegrator() + "'");
    }
    backward = MakeBackwardStrategy(choice, options, n, p, running_cost, forward, ctx);
  }

  // Runs the forward pass and the backward pass; fills result.
  void Run(const OdeProblem& problem, const Loss& loss, LossAndGradient& result);
  // L from the states at the output times and the running cost; dl_dz ← ∂ℓ_i/∂z.
  double LossAtOutputs(const OdeProblem& problem, const Loss& loss, std::vector<Vector>& dl_dz,
                       LossAndGradient& result);

  const Index n;                 // state size the objects were created for
  const Index p;                 // parameter count
  const bool running_cost;       // the loss the objects were created for has a running cost
  const bool many_observations;  // ManyObservations() of the problem they were created for
  const StateDistribution* const distribution;  // the problem's, when they were created
  const CvodesAdjointOptions method_options;    // as used (DistributedStateOptions)
  const CvodesBackwardChoice choice;
  Context ctx;
  std::unique_ptr<BackwardStrategy> backward;
  CvodesForward forward;
};

double CvodesAdjoint::Impl::LossAtOutputs(const OdeProblem& problem, const Loss& loss,
                                          std::vector<Vector>& dl_dz, LossAndGradient& result) {
  const std::vector<double>& times = problem.output_times;
  double value = 0.0;
  for (std::size_t i = 0; i < times.size(); ++i) {
    value += loss.Term(i, times[i], result.forward.states[i], dl_dz[i], result.dreadout);
  }
  if (loss.HasRunningCost() && times.back() > problem.t0) {
    value += forward.RunningCostIntegral();
  }
  return value;
}

void CvodesAdjoint::Impl::Run(const OdeProblem& problem, const Loss& loss,
                              LossAndGradient& result) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const DistributedSolveScope distributed(distribution);
  forward.Bind(problem, loss);
  Trajectory& fwd = result.forward;
  fwd.times = problem.output_times;
  fwd.states.assign(problem.output_times.size(), Vector());
  result.dreadout = Vector::Zero(loss.num_readout_params());

  ForwardStepRecorder* recorder = backward->PrepareRecorder();
  const ForwardOutcome outcome = forward.Run(problem, backward->UsesCheckpoints(), recorder, fwd);
  std::vector<Vector> dl_dz(problem.output_times.size(), Vector(n));
  result.loss = LossAtOutputs(problem, loss, dl_dz, result);

  Vector a = dl_dz.back();
  Vector grad = Vector::Zero(p);
  GradientStats& stats = result.stats;
  backward->Run(BackwardPass{problem, loss, dl_dz, outcome}, a, grad, stats);
  result.dz0 = a;
  result.dtheta = grad;

  const ForwardData& data = forward.data();
  stats.forward_rhs_evals = outcome.rhs_evals;
  stats.forward_steps = outcome.steps;
  stats.jvp_evals = data.jvp_evals;
  stats.checkpoints = outcome.checkpoints;
  fwd.stats.steps = outcome.steps;
  fwd.stats.rhs_evals = outcome.rhs_evals;
  fwd.stats.jvp_evals = data.jvp_evals;
  fwd.stats.jacobian_evals = data.jacobian_evals;
  stats.forward_nonlinear_iters = fwd.stats.nonlinear_iters = outcome.nonlinear_iters;
  stats.forward_linear_iters = fwd.stats.linear_iters = outcome.linear_iters;
  stats.forward_preconditioner_setups = fwd.stats.preconditioner_setups =
      outcome.preconditioner_setups;
  stats.forward_preconditioner_solves = fwd.stats.preconditioner_solves =
      outcome.preconditioner_solves;
  stats.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
}

CvodesAdjoint::CvodesAdjoint(const GradientOptions& options, CvodesAdjointOptions cvodes_options)
    : options_(options), cvodes_options_(cvodes_options) {
  const CvodesAdjointIntegrators integrators =
      ValidateCvodesAdjointOptions(options_, cvodes_options_);
  forward_capabilities_ = integrators.forward;
  backward_capabilities_ = integrators.backward;
}

CvodesAdjoint::~CvodesAdjoint() = default;

// A distributed state (core/state_distribution.hpp) takes the strategy whose every step is
// vector work SUNDIALS does over the ranks: the CVODES quadrature, a restart at each observation,
// no jump layer (its dense exponentials need the whole state), Krylov solves, no band
// preconditioner, no running cost. "auto" options resolve to those; anything else is a
// ConfigError, as is a running cost.
namespace {

CvodesAdjointOptions DistributedStateOptions(CvodesAdjointOptions options,
                                             const GradientOptions& gradient, const Loss& loss) {
  using Options = CvodesAdjointOptions;
  const auto refuse = [](const std::string& what) {
    throw ConfigError("gradient 'cvodes_adjoint': " + what +
                      " is not supported with a state distributed over ranks");
  };
  if (options.quadrature == Options::Quadrature::kGauss) refuse("quadrature=gauss");
  if (options.jump_layer == Options::JumpLayer::kOn) refuse("jump_layer=on");
  if (options.observations == Options::Observations::kFundamental)
    refuse("observations=fundamental");
  if (loss.HasRunningCost()) refuse("a loss with a running cost");
  for (const IntegratorOptions* io :
       {&gradient.integrator_options, &gradient.EffectiveBackwardOptions()}) {
    if (io->DenseLinearSolver()) refuse("linear_solver=dense (use gmres or fgmres)");
    if (io->preconditioner == "band") refuse("preconditioner=band");
  }
  options.quadrature = Options::Quadrature::kCvodes;
  options.jump_layer = Options::JumpLayer::kOff;
  options.observations = Options::Observations::kRestart;
  return options;
}

}  // namespace

LossAndGradient CvodesAdjoint::Compute(const OdeProblem& problem, const Loss& loss) {
  problem.Validate();
  const Index n = problem.field->state_size();
  const Index p = problem.field->num_params();
  const StateDistribution* distribution = problem.distribution.get();
  // The backward problem's size depends on the running cost (one more column) and, with "auto",
  // on the number of observations (fundamental matrix or not).
  const bool many = ManyObservations(problem);
  if (!impl_ || impl_->n != n || impl_->p != p || impl_->running_cost != loss.HasRunningCost() ||
      impl_->distribution != distribution ||
      (cvodes_options_.observations == CvodesAdjointOptions::Observations::kAuto &&
       impl_->many_observations != many)) {
    impl_.reset();  // free the old SUNDIALS objects before creating new ones
    impl_ = std::make_unique<Impl>(
        options_,
        distribution != nullptr ? DistributedStateOptions(cvodes_options_, options_, loss)
                                : cvodes_options_,
        CvodesAdjointIntegrators{forward_capabilities_, backward_capabilities_}, n, p,
        loss.HasRunningCost(), many, distribution);
  }
  LossAndGradient result;
  impl_->Run(problem, loss, result);
  return result;
}

}  // namespace snode
