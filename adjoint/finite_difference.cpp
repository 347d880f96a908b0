#include "adjoint/finite_difference.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"

namespace snode {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
// The documented bound of an adaptive map's gradient is C·rtol with C = 100 (docs/gradients.md).
constexpr double kBoundFactor = 100.0;
// Spacing of the noise probe, relative to max(1, |x_i|): small enough that the smooth part of L
// is invisible in the 3rd–5th differences, large enough to move the step controller.
constexpr double kNoiseProbe = 1e-4;
// Ladder of auto steps: 4h*, h*, h*/4, h*/16, and up to 8 more quarters while fewer than two
// solved.
constexpr int kRungs = 4;
constexpr int kExtraRungs = 8;

std::string Short(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", x);
  return text;
}

double Scale(double x) { return std::max(1.0, std::abs(x)); }

// (L(+) − L(−)) / (up − down) along a coordinate or a direction, at absolute step h.
double Quotient(LossMap& map, Index i, const Vector* direction, double h) {
  if (direction != nullptr) {
    const double plus = map.Along(*direction, h);
    const double minus = map.Along(*direction, -h);
    return (plus - minus) / (2.0 * h);
  }
  const double x = map.base()[i];
  // Divide by the representable step (x+h) − (x−h), not by 2h.
  const double up = x + h, down = x - h;
  const double plus = map.WithComponent(i, up);
  const double minus = map.WithComponent(i, down);
  return (plus - minus) / (up - down);
}

// One derivative: a single difference at relative_step, or the ladder of the header comment.
// scale is the size of the perturbed coordinate (max(1, |x_i|); 1 for a direction).
// The quotient at step h, or NaN when the solve fails numerically (a large step may leave the
// field's domain, a concentration below 0).
double TryQuotient(LossMap& map, Index i, const Vector* direction, double h) {
  try {
    return Quotient(map, i, direction, h);
  } catch (const NumericalError&) {
  } catch (const SundialsError&) {
  }
  return std::numeric_limits<double>::quiet_NaN();
}

DifferenceEstimate Derivative(LossMap& map, Index i, const Vector* direction, double scale,
                              double noise, double loss, double relative_step) {
  if (relative_step > 0.0) {
    const double h = relative_step * scale;
    return {Quotient(map, i, direction, h), h, 0.0, noise / h};
  }
  // The ladder: kRungs steps from 4h*, each a quarter of the last; while fewer than two have
  // solved, up to kExtraRungs more below.
  std::vector<double> step, value;
  int solved = 0;
  for (int k = 0; k < kRungs + kExtraRungs && (k < kRungs || solved < 2); ++k) {
    step.push_back(k == 0 ? 4.0 * NoiseOptimalStep(noise, loss) * scale : step.back() / 4.0);
    value.push_back(TryQuotient(map, i, direction, step.back()));
    solved += std::isfinite(value.back()) ? 1 : 0;
  }
  DifferenceEstimate best;
  double best_error = std::numeric_limits<double>::infinity();
  for (std::size_t k = 1; k < step.size(); ++k) {
    // Error ∝ h²: D(h) − D(h/4) ≈ (15/16)·c h², so the truncation of D(h/4) is ≈ |Δ| / 15.
    const double truncation = std::abs(value[k - 1] - value[k]) / 15.0;
    const double noise_part = noise / step[k];
    if (!(truncation + noise_part < best_error)) continue;  // NaN: a failed rung
    best_error = truncation + noise_part;
    best = {value[k], step[k], truncation, noise_part};
  }
  if (std::isfinite(best_error)) return best;
  for (std::size_t k = step.size(); k-- > 0;) {  // no pair solved: the one rung that did
    if (std::isfinite(value[k])) return {value[k], step[k], 0.0, noise / step[k]};
  }
  throw NumericalError(
      "finite_difference: the forward solve failed at every step of the ladder "
      "(relative steps " +
      Short(step.front() / scale) + " to " + Short(step.back() / scale) + ")");
}

// γ_k = (k!)² / (2k)!, the ECnoise normalisation of the k-th differences.
double Gamma(int k) {
  double gamma = 1.0;
  for (int j = 1; j <= k; ++j) gamma *= static_cast<double>(j) / static_cast<double>(k + j);
  return gamma;
}

}  // namespace

void FiniteDifferenceOptions::Validate() const {
  Require(std::isfinite(step) && step >= 0.0 && step < 1.0,
          "gradient 'finite_difference' option step must be 'auto' or a relative step in (0, 1)");
}

FiniteDifferenceOptions FiniteDifferenceOptions::FromSettings(const Settings& settings) {
  FiniteDifferenceOptions options;
  SettingsReader reader(settings, "gradient 'finite_difference'");
  std::string step = "auto";
  reader.Read("step", step);
  reader.Finish();
  if (step != "auto") {
    std::size_t used = 0;
    double value = std::numeric_limits<double>::quiet_NaN();
    try {
      value = std::stod(step, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    Require(used == step.size() && std::isfinite(value) && value > 0.0 && value < 1.0,
            "gradient 'finite_difference' option step must be 'auto' or a relative step in (0, "
            "1), got '" +
                step + "'");
    options.step = value;
  }
  options.Validate();
  return options;
}

LossMap::LossMap(const OdeProblem& problem, const Loss& loss, const GradientOptions& options)
    : perturbed_(problem), loss_(loss), options_(options) {
  options.Validate();
  problem.Validate();
  integrator_ = IntegratorRegistry().Create(options.integrator, options.integrator_options);
  base_.resize(problem.theta.size() + problem.z0.size());
  base_ << problem.theta, problem.z0;
  adaptive_ = options.integrator_options.fixed_step == 0.0;
  rtol_ = options.integrator_options.rtol;
}

double LossMap::Solve(Integrator& integrator, Trajectory* forward, Vector* readout_grad) {
  Trajectory& trajectory = forward != nullptr ? *forward : scratch_;
  const double value = EvaluateLoss(perturbed_, loss_, integrator, readout_grad, &trajectory);
  stats_.forward_rhs_evals += trajectory.stats.rhs_evals;
  stats_.forward_steps += trajectory.stats.steps;
  return value;
}

void LossMap::SetPoint(const Vector& x) {
  const Index p = perturbed_.theta.size();
  perturbed_.theta = x.head(p);
  perturbed_.z0 = x.tail(x.size() - p);
}

double LossMap::AtBase(Vector* readout_grad, Trajectory* forward) {
  SetPoint(base_);
  return Solve(*integrator_, forward, readout_grad);
}

double LossMap::Along(const Vector& direction, double scale) {
  SetPoint(base_ + scale * direction);
  return Solve(*integrator_, nullptr, nullptr);
}

double LossMap::WithComponent(Index i, double value) {
  SetPoint(base_);
  const Index p = perturbed_.theta.size();
  (i < p ? perturbed_.theta[i] : perturbed_.z0[i - p]) = value;
  return Solve(*integrator_, nullptr, nullptr);
}

double LossMap::AtTighterTolerance() {
  IntegratorOptions tight = options_.integrator_options;
  tight.rtol = std::max(tight.rtol / 100.0, 1e-14);
  tight.atol = std::max(tight.atol / 100.0, 1e-300);
  std::unique_ptr<Integrator> integrator = IntegratorRegistry().Create(options_.integrator, tight);
  SetPoint(base_);
  return Solve(*integrator, nullptr, nullptr);
}

namespace {

// ECnoise from 7 values of L at base + k·probe·direction, k = −3..3 (f[3] = L at base): the
// smallest of the 2nd–5th difference estimates σ_k = sqrt(γ_k · mean (Δ^k f)²).
double DifferenceNoise(LossMap& map, const Vector& direction, double probe, double loss_at_base) {
  std::array<double, 7> f{};
  for (int k = -3; k <= 3; ++k) {
    f[k + 3] = k == 0 ? loss_at_base : map.Along(direction, k * probe);
  }
  double measured = std::numeric_limits<double>::infinity();
  for (int k = 1; k <= 5; ++k) {  // k-th differences in place
    double sum = 0.0;
    const int count = 7 - k;
    for (int j = 0; j < count; ++j) {
      f[j] = f[j + 1] - f[j];
      sum += f[j] * f[j];
    }
    if (k >= 2) measured = std::min(measured, std::sqrt(Gamma(k) * sum / count));
  }
  return std::isfinite(measured) ? measured : 0.0;
}

}  // namespace

double EstimateLossNoise(LossMap& map, double loss_at_base) {
  std::mt19937_64 rng(0x5eed);
  Vector direction(map.size());
  for (Index i = 0; i < direction.size(); ++i) {
    direction[i] = ((rng() & 1) ? 1.0 : -1.0) * Scale(map.base()[i]);
  }
  double measured = 0.0;
  // A probe that leaves the domain of the field (a concentration below 0) may fail to solve:
  // then a 100 times smaller one, then none (the round-off floor below).
  for (const double probe : {kNoiseProbe, kNoiseProbe / 100.0}) {
    try {
      measured = DifferenceNoise(map, direction, probe, loss_at_base);
      break;
    } catch (const NumericalError&) {
    } catch (const SundialsError&) {
    }
  }
  return std::max(measured, 4.0 * kEps * std::abs(loss_at_base));
}

double MapRelativeError(LossMap& map, double loss_at_base) {
  if (!map.adaptive()) return 0.0;
  const double change = std::abs(map.AtTighterTolerance() - loss_at_base);
  if (change == 0.0) return 0.0;
  const double relative = change / std::abs(loss_at_base);
  return std::isfinite(relative) ? relative : std::numeric_limits<double>::infinity();
}

double NoiseOptimalStep(double noise, double loss) {
  if (!(noise > 0.0) || !(std::abs(loss) > 0.0) || !std::isfinite(noise / loss)) return 1e-6;
  return std::clamp(std::cbrt(3.0 * noise / std::abs(loss)), 1e-8, 1e-1);
}

DifferenceEstimate ComponentDerivative(LossMap& map, Index i, double noise, double loss,
                                       double relative_step) {
  return Derivative(map, i, nullptr, Scale(map.base()[i]), noise, loss, relative_step);
}

DifferenceEstimate DirectionalDerivative(LossMap& map, const Vector& direction, double noise,
                                         double loss, double relative_step) {
  return Derivative(map, 0, &direction, 1.0, noise, loss, relative_step);
}

FiniteDifference::FiniteDifference(const GradientOptions& options, FiniteDifferenceOptions own)
    : options_(options), own_(own) {
  options_.Validate();
  own_.Validate();
}

LossAndGradient FiniteDifference::Compute(const OdeProblem& problem, const Loss& loss) {
  const auto start = std::chrono::steady_clock::now();
  LossMap map(problem, loss, options_);
  LossAndGradient result;
  Vector readout;
  result.loss = map.AtBase(&readout, &result.forward);
  result.dreadout = std::move(readout);
  const bool auto_step = own_.step == 0.0;
  const double noise = auto_step || map.adaptive() ? EstimateLossNoise(map, result.loss) : 0.0;

  Vector gradient(map.size()), truncation(map.size()), noise_part(map.size());
  for (Index i = 0; i < map.size(); ++i) {
    const DifferenceEstimate d = ComponentDerivative(map, i, noise, result.loss, own_.step);
    gradient[i] = d.value;
    truncation[i] = d.truncation;
    noise_part[i] = d.noise;
  }
  const Index p = problem.theta.size();
  result.dtheta = gradient.head(p);
  result.dz0 = gradient.tail(gradient.size() - p);

  result.stats = map.stats();
  GradientStats& stats = result.stats;
  const double floor = 1e-3 * (gradient.size() > 0 ? gradient.cwiseAbs().maxCoeff() : 0.0);
  double noise_error = 0.0, total_error = 0.0;
  for (Index i = 0; i < gradient.size(); ++i) {
    const double denominator = std::max({std::abs(gradient[i]), floor, 1e-300});
    noise_error = std::max(noise_error, noise_part[i] / denominator);
    total_error = std::max(total_error, (noise_part[i] + truncation[i]) / denominator);
  }
  const double map_error = MapRelativeError(map, result.loss);
  if (noise > 0.0) stats.error_estimate = std::max(total_error, map_error);
  if (map_error > kBoundFactor * map.rtol()) {
    stats.Flag("finite_difference: L changes by " + Short(map_error) +
               " (relative) when the tolerances of the adaptive forward map " +
               options_.integrator + " are tightened 100-fold, more than 100·rtol = " +
               Short(kBoundFactor * map.rtol()) + "; tighten rtol/atol");
  }
  if (noise > 0.0 && total_error > kBoundFactor * map.rtol() &&
      !(map.adaptive() && noise_error > kBoundFactor * map.rtol())) {
    // The ladder's rungs disagree: the map is not smooth on the scale of the steps (a
    // perturbation that changes its stability, a switch in the step sequence).
    stats.Flag(
        "finite_difference: the difference quotients disagree across step sizes "
        "(estimated relative error " +
        Short(total_error) + " > 100·rtol = " + Short(kBoundFactor * map.rtol()) + ")");
  }
  if (map.adaptive() && noise_error > kBoundFactor * map.rtol()) {
    stats.Flag("finite_difference: the step is inside the noise of the adaptive forward map " +
               options_.integrator + " (noise of L ≈ " + Short(noise) +
               ", estimated relative error " + Short(noise_error) + " > 100·rtol = " +
               Short(kBoundFactor * map.rtol()) + "); tighten rtol/atol or use a fixed step");
  }
  stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

LossAndGradient CentralDifferenceGradient(const OdeProblem& problem, const Loss& loss,
                                          const GradientOptions& options) {
  FiniteDifferenceOptions own;
  own.step = 1e-6;  // style.md §7 (also Ceres's default relative_step_size)
  return FiniteDifference(options, own).Compute(problem, loss);
}

}  // namespace snode
