#pragma once
// The Lotka–Volterra problem x' = αx − βxy, y' = δxy − γy (LotkaVolterraField,
// models/analytic_fields.hpp) with the rates (α, β, δ, γ) = (1.5, 1, 1, 3) from (x, y) = (1, 1)
// at t0 = 0: its parameters, initial state, output times, reference trajectory, noisy
// observations, and the MSE loss of a fit to the observations up to a horizon. Used by the
// lotka_volterra study, the benchmarks and the gradient tests.

#include <cstdint>
#include <memory>
#include <vector>

#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode::problems {

// (α, β, δ, γ) = (1.5, 1, 1, 3).
Vector LotkaVolterraTrueRates();
// (x, y) = (1, 1).
Vector LotkaVolterraInitialState();

// points >= 2 equally spaced times t_end·i / (points − 1), i = 0 … points − 1.
std::vector<double> EquallySpacedTimes(double t_end, int points);

// The problem with `field` (LotkaVolterraField when null) and parameters theta, z0 = (1, 1),
// t0 = 0, observed at `times`.
OdeProblem LotkaVolterraProblem(const Vector& theta, std::vector<double> times,
                                std::shared_ptr<VectorField> field = nullptr);

// The states at `times` of LotkaVolterraField with `rates` from (1, 1), solved by cvodes_bdf at
// rtol 1e-10, atol 1e-12: the reference data of the fits.
std::vector<Vector> LotkaVolterraTruth(const std::vector<double>& times,
                                       const Vector& rates = LotkaVolterraTrueRates());

struct LotkaVolterraObservations {
  std::vector<double> times;
  std::vector<Vector> clean;  // LotkaVolterraTruth at the true rates
  std::vector<Vector> noisy;  // clean + N(0, σ²) per value
};

// The truth at `times` and its noisy copy: σ = noise, standard normal draws from a portable
// Box–Muller on std::mt19937_64(seed) (the same numbers on every platform), x then y per time.
LotkaVolterraObservations MakeLotkaVolterraObservations(std::vector<double> times, double noise,
                                                        std::uint64_t seed);

// max_i |rates_i / true_i − 1|.
double RelativeRateError(const Vector& rates);

// A fit of `field` with parameters theta to the targets observed at times ≤ horizon: the
// problem (z0 = (1, 1), t0 = 0, those times) and the MSE loss against those targets.
struct FitWindow {
  OdeProblem problem;
  std::unique_ptr<MseLoss> loss;
};
FitWindow MakeFitWindow(std::shared_ptr<VectorField> field, const std::vector<double>& times,
                        const std::vector<Vector>& targets, double horizon, const Vector& theta);

}  // namespace snode::problems
