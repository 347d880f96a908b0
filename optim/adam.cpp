#include "optim/adam.hpp"

#include <cmath>
#include <string>

#include "core/errors.hpp"

namespace snode {

void AdamOptions::Validate() const {
  Require(std::isfinite(lr) && lr > 0,
          "AdamOptions.lr must be positive, got " + std::to_string(lr));
  Require(beta1 >= 0 && beta1 < 1,
          "AdamOptions.beta1 must lie in [0, 1), got " + std::to_string(beta1));
  Require(beta2 >= 0 && beta2 < 1,
          "AdamOptions.beta2 must lie in [0, 1), got " + std::to_string(beta2));
  Require(std::isfinite(eps) && eps > 0, "AdamOptions.eps must be positive");
}

Adam::Adam(Index size, const AdamOptions& options) : options_(options) {
  options_.Validate();
  Require(size >= 0, "Adam: negative parameter count");
  m_ = Vector::Zero(size);
  v_ = Vector::Zero(size);
}

void Adam::set_lr(double lr) {
  AdamOptions changed = options_;
  changed.lr = lr;
  changed.Validate();
  options_ = changed;
}

void Adam::Step(VectorRef params, ConstVectorRef grad) {
  Require(params.size() == size() && grad.size() == size(), [&] {
    return "Adam::Step: expected " + std::to_string(size()) + " parameters and gradients, got " +
           std::to_string(params.size()) + " and " + std::to_string(grad.size());
  });
  if (!grad.allFinite()) {  // vectorised; the offending index is searched for only then
    for (Index k = 0; k < grad.size(); ++k) {
      if (!std::isfinite(grad[k])) {
        throw NumericalError("Adam::Step: non-finite gradient component " + std::to_string(k) +
                             " (" + std::to_string(grad[k]) + "); parameters left unchanged");
      }
    }
  }
  ++step_;
  const double beta1 = options_.beta1;
  const double beta2 = options_.beta2;
  // Same scalar factors and operation order as torch/optim/adam.py (_single_tensor_adam):
  // exp_avg.mul_(β1).add_(g, alpha=1−β1); exp_avg_sq.mul_(β2).addcmul_(g, g, value=1−β2);
  // denom = (exp_avg_sq.sqrt() / sqrt(bc2)).add_(eps); param.addcdiv_(exp_avg, denom, -lr/bc1).
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step_));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step_));
  const double step_size = options_.lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);
  // Plain pointers (the loop would otherwise reload params' data pointer after every store) and
  // -fno-math-errno for this file (CMakeLists.txt) let GCC vectorise the loop: v ≥ 0, so sqrt
  // never sets errno, and the values are those of the scalar loop.
  const double eps = options_.eps;
  const double* __restrict g_at = grad.data();
  double* __restrict p_at = params.data();
  double* __restrict m_at = m_.data();
  double* __restrict v_at = v_.data();
  const Index count = size();
  for (Index k = 0; k < count; ++k) {
    const double g = g_at[k];
    m_at[k] = m_at[k] * beta1 + g * (1.0 - beta1);
    v_at[k] = v_at[k] * beta2 + (1.0 - beta2) * g * g;
    const double denom = std::sqrt(v_at[k]) / bias_correction2_sqrt + eps;
    p_at[k] = p_at[k] + (-step_size) * m_at[k] / denom;
  }
}

void Adam::SetState(const Vector& m, const Vector& v, std::uint64_t step) {
  Require(m.size() == size() && v.size() == size(),
          "Adam::SetState: expected state of length " + std::to_string(size()) + ", got " +
              std::to_string(m.size()) + " and " + std::to_string(v.size()));
  for (Index k = 0; k < size(); ++k) {
    if (!std::isfinite(m[k]) || !std::isfinite(v[k]) || v[k] < 0) {
      throw InputError("Adam state: invalid moment at index " + std::to_string(k) + " (m " +
                       std::to_string(m[k]) + ", v " + std::to_string(v[k]) + ")");
    }
  }
  m_ = m;
  v_ = v;
  step_ = step;
}

}  // namespace snode
