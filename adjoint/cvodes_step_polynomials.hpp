#pragma once
// The forward solution of cvodes_adjoint as recorded for a backward pass (internal to
// snode_adjoint): ForwardStepRecorder is what the forward pass calls at every CVODES step, and
// StepPolynomials records each step's own interpolating polynomial. AddGaussLegendre sums the
// parameter quadrature ∫ (∂f/∂θ)ᵀ a dt over a part of a backward step, split at the recorded
// forward steps.

#include <sundials/sundials_nvector.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "adjoint/gauss_legendre.hpp"
#include "adjoint/quadrature_batch.hpp"
#include "core/callbacks.hpp"
#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode {

// Records the forward pass for a backward pass, one CVODES step at a time.
class ForwardStepRecorder {
 public:
  virtual ~ForwardStepRecorder() = default;
  // Before the first step, at (t0, z0); forward is the forward solve's callback data (its field,
  // θ and counters).
  virtual void Start(double t0, ConstVectorRef z0, CallbackData& forward) = 0;
  // After the step of CVODES memory cvode_mem that ended at t_end with state y; work is a
  // scratch vector of the state's length.
  virtual void AddStep(void* cvode_mem, double t_end, N_Vector y, N_Vector work) = 0;
};

// The forward solution recorded at every CVODES step as the step's own interpolating
// polynomial: the step ending at t_k with order q_k is z(t) = Σ_{j ≤ q_k} c_{k,j} (t − t_k)^j
// with c_{k,j} = z^{(j)}(t_k)/j! (CVodeGetDky at t_k), i.e. exactly CVODES' dense output on
// [t_{k−1}, t_k]. A cubic Hermite piece would lose accuracy on Adams' long high-order steps.
// Storage is kept across calls (each step's buffer is reused by the same step of the next pass).
class StepPolynomials final : public ForwardStepRecorder {
 public:
  void Start(double t0, ConstVectorRef z0, CallbackData& forward) override;
  void AddStep(void* cvode_mem, double t_end, N_Vector y, N_Vector work) override;
  // z(time) from the step containing time (clamped to the recorded interval).
  void Evaluate(double time, VectorRef out) const;
  bool Empty() const { return order_.empty(); }
  // Step boundaries t_0 < t_1 < … (the pieces of the interpolant).
  const std::vector<double>& Times() const { return t_; }
  double Bytes() const {
    return bytes_ + 8.0 * static_cast<double>(t_.size()) + 4.0 * static_cast<double>(order_.size());
  }

 private:
  Index n_ = 0;
  std::vector<double> t_;
  std::vector<int> order_;
  std::vector<std::vector<double>> coefficients_;  // per step: c_{k,0}, …, c_{k,q_k}, n each
  double bytes_ = 0.0;                             // of the coefficients of the steps recorded
};

// grad += ∫_{lo}^{hi} (∂f/∂θ)ᵀ a dt by the `nodes`-point Gauss–Legendre rule (1–3) on each
// piece of [lo, hi] between the forward step ends (the forward z is one polynomial on each
// piece), the products batched in `batch`. adjoint_at(t, out) writes a(t). Returns the number
// of parameter products (nodes per piece).
template <class AdjointAt>
long AddGaussLegendre(double lo, double hi, int nodes, const StepPolynomials& forward,
                      AdjointAt&& adjoint_at, QuadratureBatch& batch, VectorField& field,
                      const Vector& theta, Vector& grad) {
  // First forward step end strictly inside (lo, hi): the pieces are [lo, s_1], [s_1, s_2], ….
  const std::vector<double>& step_times = forward.Times();
  const double* rule_nodes = kGaussLegendreNodes[nodes - 1];
  const double* rule_weights = kGaussLegendreWeights[nodes - 1];
  auto next = std::upper_bound(step_times.begin(), step_times.end(), lo);
  double left = lo;
  long products = 0;
  while (left < hi) {
    const double right = (next != step_times.end() && *next < hi) ? *next : hi;
    const double h = right - left;
    for (int k = 0; k < nodes; ++k) {
      const double t = left + rule_nodes[k] * h;
      VectorRef weighted_a = batch.NextAdjoint();
      adjoint_at(t, weighted_a);
      weighted_a *= rule_weights[k] * h;
      forward.Evaluate(t, batch.NextState());
      batch.Commit(t, field, theta, grad);
    }
    products += nodes;
    left = right;
    if (next != step_times.end()) ++next;
  }
  return products;
}

}  // namespace snode
