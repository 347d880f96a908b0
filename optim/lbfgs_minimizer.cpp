#include "optim/lbfgs_minimizer.hpp"

#include <lbfgs.h>

#include <cmath>
#include <exception>

#include "core/errors.hpp"

namespace snode {

void LbfgsOptions::Validate() const {
  Require(memory > 0, "L-BFGS option memory must be positive");
  Require(max_iterations >= 0, "L-BFGS option max_iterations must be >= 0");
  Require(std::isfinite(gradient_tol) && gradient_tol >= 0.0,
          "L-BFGS option gradient_tol must be >= 0");
  Require(std::isfinite(relative_decrease_tol) && relative_decrease_tol >= 0.0,
          "L-BFGS option relative_decrease_tol must be >= 0");
  Require(max_line_search > 0, "L-BFGS option max_line_search must be positive");
}

namespace {

struct Instance {
  const Objective* objective;
  const IterationCallback* callback;
  Vector x;
  Vector grad;
  int evaluations = 0;
  bool cancelled = false;  // the callback asked to stop (libLBFGS then returns its value, 1)
  std::exception_ptr pending;
};

lbfgsfloatval_t Evaluate(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g, int n,
                         lbfgsfloatval_t /*step*/) {
  auto& self = *static_cast<Instance*>(instance);
  try {
    ++self.evaluations;
    self.x = Eigen::Map<const Vector>(x, n);
    self.grad.setZero(n);
    const double value = (*self.objective)(self.x, self.grad);
    Eigen::Map<Vector>(g, n) = self.grad;
    // A non-finite value makes the Moré–Thuente search shrink the step.
    return std::isfinite(value) && self.grad.allFinite() ? value : HUGE_VAL;
  } catch (...) {
    if (!self.pending) self.pending = std::current_exception();
    Eigen::Map<Vector>(g, n).setZero();
    return HUGE_VAL;
  }
}

int Progress(void* instance, const lbfgsfloatval_t* x, const lbfgsfloatval_t* /*g*/,
             lbfgsfloatval_t fx, lbfgsfloatval_t /*xnorm*/, lbfgsfloatval_t /*gnorm*/,
             lbfgsfloatval_t /*step*/, int n, int k, int /*ls*/) {
  auto& self = *static_cast<Instance*>(instance);
  if (self.pending) return 1;  // cancel: the objective threw
  if (self.callback != nullptr && *self.callback) {
    try {
      if ((*self.callback)(k, Eigen::Map<const Vector>(x, n), fx)) return 0;
      self.cancelled = true;
      return 1;
    } catch (...) {
      self.pending = std::current_exception();
      return 1;
    }
  }
  return 0;
}

std::string StatusMessage(int status) {
  switch (status) {
    case LBFGS_SUCCESS:
      return "converged (gradient tolerance)";
    case LBFGS_STOP:
      return "stopped (relative decrease below tolerance)";
    case LBFGS_ALREADY_MINIMIZED:
      return "initial point is already a minimiser";
    case LBFGSERR_CANCELED:
      return "stopped by the caller";
    case LBFGSERR_MAXIMUMITERATION:
      return "reached the iteration limit";
    case LBFGSERR_MAXIMUMLINESEARCH:
      return "line search reached its evaluation limit";
    case LBFGSERR_ROUNDING_ERROR:
      return "line search stopped by rounding errors";
    case LBFGSERR_MINIMUMSTEP:
      return "line search step became too small";
    case LBFGSERR_MAXIMUMSTEP:
      return "line search step became too large";
    case LBFGSERR_INCREASEGRADIENT:
      return "search direction is not a descent direction";
    default:
      return "libLBFGS status " + std::to_string(status);
  }
}

}  // namespace

LbfgsResult MinimizeLbfgs(const Objective& objective, Vector& x, const LbfgsOptions& options,
                          const IterationCallback& callback) {
  options.Validate();
  Require(x.size() > 0, "MinimizeLbfgs: empty parameter vector");
  Require(x.allFinite(), "MinimizeLbfgs: the starting point contains NaN or Inf");
  Require(static_cast<bool>(objective), "MinimizeLbfgs: no objective");

  lbfgs_parameter_t param;
  lbfgs_parameter_init(&param);
  param.m = options.memory;
  param.max_iterations = options.max_iterations;
  param.epsilon = options.gradient_tol;
  param.past = options.relative_decrease_tol > 0.0 ? 5 : 0;
  param.delta = options.relative_decrease_tol;
  param.max_linesearch = options.max_line_search;

  Instance instance{&objective, &callback, Vector(), Vector(), 0, false, nullptr};
  const int n = static_cast<int>(x.size());
  lbfgsfloatval_t* buffer = lbfgs_malloc(n);
  if (buffer == nullptr) throw Error("MinimizeLbfgs: out of memory");
  Eigen::Map<Vector>(buffer, n) = x;
  lbfgsfloatval_t value = 0;
  int iterations = 0;
  IterationCallback counting = [&](int k, const Vector& xk, double fk) {
    iterations = k;
    return callback ? callback(k, xk, fk) : true;
  };
  instance.callback = &counting;
  const int status = lbfgs(n, buffer, &value, Evaluate, Progress, &instance, &param);
  x = Eigen::Map<const Vector>(buffer, n);
  lbfgs_free(buffer);
  if (instance.pending) std::rethrow_exception(instance.pending);

  LbfgsResult result;
  result.value = value;
  result.iterations = iterations;
  result.evaluations = instance.evaluations;
  result.status = instance.cancelled ? LBFGSERR_CANCELED : status;
  result.message = StatusMessage(result.status);
  result.converged = result.status == LBFGS_SUCCESS || result.status == LBFGS_STOP ||
                     result.status == LBFGS_ALREADY_MINIMIZED ||
                     result.status == LBFGSERR_ROUNDING_ERROR;
  result.line_search_stalled = result.status == LBFGSERR_ROUNDING_ERROR;
  return result;
}

}  // namespace snode
