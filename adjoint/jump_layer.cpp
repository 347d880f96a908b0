#include "adjoint/jump_layer.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <unsupported/Eigen/MatrixFunctions>

#include "core/errors.hpp"

namespace snode {

namespace {

// Gauss nodes on [0, 1] and the CF4 weights (Blanes & Moan 2006).
const double kSqrt3 = std::sqrt(3.0);
const double kC1 = 0.5 - kSqrt3 / 6.0;
const double kC2 = 0.5 + kSqrt3 / 6.0;
const double kAlpha1 = 0.25 + kSqrt3 / 6.0;
const double kAlpha2 = 0.25 - kSqrt3 / 6.0;

// exp(x) with fixed-size matrices: 2–3× faster than the dynamic-size code for tiny m (not
// m = 2, where GCC 12 warns about Eigen internals with -Wmaybe-uninitialized).
template <int M>
void FixedExp(const Matrix& x, Matrix& out) {
  const Eigen::Matrix<double, M, M> fixed = x;
  out = fixed.exp();
}

void Exp(const Matrix& x, Matrix& out) {
  switch (x.rows()) {
    case 3:
      return FixedExp<3>(x, out);
    case 4:
      return FixedExp<4>(x, out);
    case 5:
      return FixedExp<5>(x, out);
    case 6:
      return FixedExp<6>(x, out);
    case 7:
      return FixedExp<7>(x, out);
    case 8:
      return FixedExp<8>(x, out);
    default:
      out = x.exp();
  }
}

}  // namespace

void JumpLayer::Start(VectorField& field, const Vector& theta, const Loss& loss,
                      const ForwardSolution& forward, const std::vector<double>* step_times) {
  field_ = &field;
  theta_ = &theta;
  loss_ = &loss;
  forward_ = &forward;
  step_times_ = step_times;
  n_ = field.state_size();
  p_ = field.num_params();
  m_ = n_ + p_ + (loss.HasRunningCost() ? 1 : 0);
  Require(m_ <= kMaxSize, [&] {
    return "gradient 'cvodes_adjoint' with jump_layer 'on' needs the dense backward "
           "system (n + p" +
           std::string(loss.HasRunningCost() ? " + 1" : "") + ") = " + std::to_string(m_) +
           " to be at most " + std::to_string(kMaxSize) + " (n = " + std::to_string(n_) +
           ", p = " + std::to_string(p_) + "); use jump_layer 'off' or 'auto'";
  });
  stats_ = JumpLayerStats();
  z_.resize(n_);
  unit_.resize(n_);
  row_.resize(p_);
  g_.resize(n_);
  w_.resize(m_);
  w_mid_.resize(m_);
  jacobian_.resize(n_, n_);
  for (Matrix* matrix : {&a1_, &a2_, &x_, &y_, &e1_, &e2_}) matrix->resize(m_, m_);
}

void JumpLayer::Assemble(double t, Matrix& out) {
  (*forward_)(t, z_);
  out.setZero();
  field_->DenseJacobian(t, z_, *theta_, jacobian_);
  ++stats_.jacobian_evals;
  out.topLeftCorner(n_, n_) = jacobian_.transpose();
  // Row block F_θᵀ: its column i is (∂f_i/∂θ)ᵀ, the VJP with the unit vector e_i (the fields
  // have no dense parameter Jacobian; n products are cheap for the small n allowed).
  if (p_ > 0) {
    for (Index i = 0; i < n_; ++i) {
      unit_.setZero();
      unit_(i) = 1.0;
      row_.setZero();
      field_->VjpParams(t, z_, *theta_, unit_, row_);
      out.block(n_, i, p_, 1) = row_;
    }
    stats_.vjp_evals += n_;
  }
  if (loss_->HasRunningCost()) {
    loss_->RunningCostGradient(t, z_, g_);
    out.block(0, m_ - 1, n_, 1) = g_;
  }
  if (!out.allFinite()) {
    std::ostringstream message;
    message << "the Jacobian or parameter Jacobian of field '" << field_->name()
            << "' (or the running-cost gradient) returned NaN or Inf at t=" << t
            << " (gradient 'cvodes_adjoint', jump layer)";
    throw NumericalError(message.str());
  }
}

void JumpLayer::Cf4(double t_hi, double h, Vector& w) {
  // Reversed time: the Gauss node s + c h is t = t_hi − c h.
  Assemble(t_hi - kC1 * h, a1_);
  Assemble(t_hi - kC2 * h, a2_);
  // The first factor (applied first) weights the earlier node A1 more.
  x_.noalias() = (h * kAlpha1) * a1_ + (h * kAlpha2) * a2_;
  y_.noalias() = (h * kAlpha2) * a1_ + (h * kAlpha1) * a2_;
  Exp(x_, e1_);
  Exp(y_, e2_);
  stats_.exponentials += 2;
  ++stats_.steps;
  w_mid_.noalias() = e1_ * w;
  w.noalias() = e2_ * w_mid_;
}

double JumpLayer::Thickness(double t_high, double length) {
  (*forward_)(t_high, z_);
  field_->DenseJacobian(t_high, z_, *theta_, jacobian_);
  ++stats_.jacobian_evals;
  if (!jacobian_.allFinite()) {
    std::ostringstream message;
    message << "the Jacobian of field '" << field_->name()
            << "' returned NaN or Inf at t=" << t_high
            << " (gradient 'cvodes_adjoint', jump layer)";
    throw NumericalError(message.str());
  }
  // The slowest decay rate among the stiff modes sets how long the transient lasts.
  const Eigen::EigenSolver<Matrix> solver(jacobian_, /*computeEigenvectors=*/false);
  if (solver.info() != Eigen::Success) return 0.0;
  const double threshold = kStiffness / length;
  double slowest = std::numeric_limits<double>::infinity();
  fastest_rate_ = 0.0;
  for (Index k = 0; k < n_; ++k) {
    const double rate = -solver.eigenvalues()(k).real();
    if (rate > threshold) slowest = std::min(slowest, rate);
    fastest_rate_ = std::max(fastest_rate_, rate);
  }
  slowest_rate_ = slowest;
  return std::isfinite(slowest) ? kDecay / slowest : 0.0;
}

double JumpLayer::Apply(double t_high, double t_low, Vector& a, Vector& grad) {
  const double length = t_high - t_low;
  if (!(length > 0.0) || n_ == 0) return t_high;
  const double delta = Thickness(t_high, length);
  if (!(delta > 0.0)) return t_high;
  // A layer that would leave BDF only a short remainder takes the whole segment: the restart
  // costs BDF tens of steps whatever the remainder's length.
  const double bottom = delta >= kCover * length ? t_low : t_high - delta;
  // Graded steps from the top: the first resolves the fastest mode (‖hμ_max‖ = kFirstStep) and
  // each next one is kGrowth times longer, so no step is long compared with what the fast
  // components have left. Toward the bottom the steps shrink again (at most kTailStep/r_min +
  // kShrink·(distance to the bottom)): a long exponential step with a frozen M misses the part
  // of the fast components that is slaved to the change of J (O(|ȧ|/r_min)), and BDF, restarted
  // at order 1 from a state off its slow manifold, would have to resolve that transient again;
  // short final steps leave a state BDF can continue with long steps. Steps also end at the
  // forward step boundaries (z(t) is one polynomial on each piece).
  const std::vector<double>& times = *step_times_;
  auto first = std::upper_bound(times.begin(), times.end(), bottom);
  auto boundary = std::lower_bound(times.begin(), times.end(), t_high);
  w_.head(n_) = a;
  w_.segment(n_, p_) = grad;
  if (m_ > n_ + p_) w_(m_ - 1) = 1.0;
  double h = kFirstStep / fastest_rate_;
  double top = t_high;
  int steps = 0;
  while (top > bottom) {
    while (boundary != first && *(boundary - 1) >= top) --boundary;
    const double shrinking = kTailStep / slowest_rate_ + kShrink * (top - bottom);
    double next = std::max(top - std::min(h, shrinking), bottom);
    if (boundary != first) next = std::max(next, *(boundary - 1));
    if (++steps > kMaxSteps) {
      // z(t) changes on the scale of the transient: the layer would gain nothing.
      return t_high;
    }
    Cf4(top, top - next, w_);
    top = next;
    h *= kGrowth;
  }
  ++stats_.layers;
  if (!w_.allFinite()) {
    throw NumericalError("the adjoint of field '" + field_->name() +
                         "' became NaN or Inf in the jump layer at t=" + std::to_string(t_high) +
                         " (gradient 'cvodes_adjoint')");
  }
  a = w_.head(n_);
  grad = w_.segment(n_, p_);
  return bottom;
}

}  // namespace snode
