#include "problems/lotka_volterra.hpp"

#include <cmath>
#include <random>
#include <utility>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"

namespace snode::problems {
namespace {

// Portable standard normal draws: Box–Muller on doubles built from raw 64-bit outputs
// (std::normal_distribution is implementation-defined, so runs would differ across platforms).
class PortableNormal {
 public:
  explicit PortableNormal(std::uint64_t seed) : rng_(seed) {}
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * M_PI * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace

Vector LotkaVolterraTrueRates() { return (Vector(4) << 1.5, 1.0, 1.0, 3.0).finished(); }

Vector LotkaVolterraInitialState() { return Vector::Ones(2); }

std::vector<double> EquallySpacedTimes(double t_end, int points) {
  Require(points >= 2, "EquallySpacedTimes: needs at least 2 points");
  std::vector<double> times;
  for (int i = 0; i < points; ++i) times.push_back(t_end * i / (points - 1));
  return times;
}

OdeProblem LotkaVolterraProblem(const Vector& theta, std::vector<double> times,
                                std::shared_ptr<VectorField> field) {
  OdeProblem problem;
  problem.field = field ? std::move(field) : std::make_shared<LotkaVolterraField>();
  problem.z0 = LotkaVolterraInitialState();
  problem.theta = theta;
  problem.t0 = 0.0;
  problem.output_times = std::move(times);
  return problem;
}

std::vector<Vector> LotkaVolterraTruth(const std::vector<double>& times, const Vector& rates) {
  IntegratorOptions tight;
  tight.rtol = 1e-10;
  tight.atol = 1e-12;
  return IntegratorRegistry()
      .Create("cvodes_bdf", tight)
      ->Solve(LotkaVolterraProblem(rates, times))
      .states;
}

LotkaVolterraObservations MakeLotkaVolterraObservations(std::vector<double> times, double noise,
                                                        std::uint64_t seed) {
  LotkaVolterraObservations obs;
  obs.clean = LotkaVolterraTruth(times);
  obs.times = std::move(times);
  PortableNormal normal(seed);
  for (const Vector& state : obs.clean) {
    Vector noisy = state;
    for (Index j = 0; j < noisy.size(); ++j) noisy[j] += noise * normal();
    obs.noisy.push_back(noisy);
  }
  return obs;
}

double RelativeRateError(const Vector& rates) {
  const Vector truth = LotkaVolterraTrueRates();
  return ((rates - truth).array() / truth.array()).abs().maxCoeff();
}

FitWindow MakeFitWindow(std::shared_ptr<VectorField> field, const std::vector<double>& times,
                        const std::vector<Vector>& targets, double horizon, const Vector& theta) {
  FitWindow window;
  window.problem = LotkaVolterraProblem(theta, {}, std::move(field));
  std::vector<Vector> window_targets;
  for (std::size_t i = 0; i < times.size(); ++i) {
    if (times[i] <= horizon * (1.0 + 1e-12)) {
      window.problem.output_times.push_back(times[i]);
      window_targets.push_back(targets[i]);
    }
  }
  window.loss = std::make_unique<MseLoss>(std::move(window_targets));
  return window;
}

}  // namespace snode::problems
