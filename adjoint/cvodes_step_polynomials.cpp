#include "adjoint/cvodes_step_polynomials.hpp"

#include <cvodes/cvodes.h>

#include "adjoint/cvodes_calls.hpp"
#include "core/nvector.hpp"

namespace snode {

void StepPolynomials::Start(double t0, ConstVectorRef z0, CallbackData& /*forward*/) {
  n_ = z0.size();
  t_.clear();
  order_.clear();
  offset_.clear();
  coefficients_.clear();
  t_.push_back(t0);
}

void StepPolynomials::AddStep(void* cvode_mem, double t_end, N_Vector /*y*/, N_Vector work) {
  int order = 0;
  CheckCvodesCall(CVodeGetLastOrder(cvode_mem, &order), "CVodeGetLastOrder");
  t_.push_back(t_end);
  order_.push_back(order);
  offset_.push_back(coefficients_.size());
  double factorial = 1.0;
  for (int j = 0; j <= order; ++j) {
    if (j > 1) factorial *= j;
    CheckCvodesCall(CVodeGetDky(cvode_mem, t_end, j, work), "CVodeGetDky");
    const auto derivative = AsConstEigen(work);
    for (Index i = 0; i < n_; ++i) coefficients_.push_back(derivative(i) / factorial);
  }
}

void StepPolynomials::Evaluate(double time, VectorRef out) const {
  const std::size_t steps = order_.size();
  std::size_t k =
      static_cast<std::size_t>(std::lower_bound(t_.begin() + 1, t_.end(), time) - (t_.begin() + 1));
  if (k >= steps) k = steps - 1;
  const double dt = std::min(time, t_[k + 1]) - t_[k + 1];
  const double* c = coefficients_.data() + offset_[k];
  const int order = order_[k];
  out = Eigen::Map<const Eigen::VectorXd>(c + order * n_, n_);
  for (int j = order - 1; j >= 0; --j) {
    out = out * dt + Eigen::Map<const Eigen::VectorXd>(c + j * n_, n_);
  }
}

}  // namespace snode
