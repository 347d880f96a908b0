#include "adjoint/cvodes_step_polynomials.hpp"

#include <cvodes/cvodes.h>

#include "adjoint/cvodes_calls.hpp"
#include "core/nvector.hpp"

namespace snode {

void StepPolynomials::Start(double t0, ConstVectorRef z0, CallbackData& /*forward*/) {
  n_ = z0.size();
  t_.clear();
  order_.clear();  // coefficients_ keeps its per-step buffers for the next pass
  bytes_ = 0.0;
  t_.push_back(t0);
}

void StepPolynomials::AddStep(void* cvode_mem, double t_end, N_Vector /*y*/, N_Vector work) {
  int order = 0;
  CheckCvodesCall(CVodeGetLastOrder(cvode_mem, &order), "CVodeGetLastOrder");
  // One buffer per step: a single growing array would copy everything recorded so far at every
  // doubling (and touch twice the memory), which at 10⁵ states is most of the recording's cost.
  const std::size_t step = order_.size();
  if (coefficients_.size() <= step) coefficients_.emplace_back();
  std::vector<double>& c = coefficients_[step];
  c.resize(static_cast<std::size_t>((order + 1) * n_));
  double factorial = 1.0;
  for (int j = 0; j <= order; ++j) {
    if (j > 1) factorial *= j;
    CheckCvodesCall(CVodeGetDky(cvode_mem, t_end, j, work), "CVodeGetDky");
    Eigen::Map<Eigen::VectorXd>(c.data() + j * n_, n_) = AsConstEigen(work) / factorial;
  }
  t_.push_back(t_end);
  order_.push_back(order);
  bytes_ += 8.0 * static_cast<double>(c.size());
}

void StepPolynomials::Evaluate(double time, VectorRef out) const {
  const std::size_t steps = order_.size();
  std::size_t k =
      static_cast<std::size_t>(std::lower_bound(t_.begin() + 1, t_.end(), time) - (t_.begin() + 1));
  if (k >= steps) k = steps - 1;
  const double dt = std::min(time, t_[k + 1]) - t_[k + 1];
  const double* c = coefficients_[k].data();
  const int order = order_[k];
  out = Eigen::Map<const Eigen::VectorXd>(c + order * n_, n_);
  for (int j = order - 1; j >= 0; --j) {
    out = out * dt + Eigen::Map<const Eigen::VectorXd>(c + j * n_, n_);
  }
}

}  // namespace snode
