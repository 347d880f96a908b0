#include "adjoint/gradient_checker.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>

#include "adjoint/finite_difference.hpp"
#include "core/errors.hpp"

namespace snode {
namespace {

constexpr double kBoundFactor = 100.0;  // C·rtol, docs/gradients.md

std::string Short(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", x);
  return text;
}

// What is compared: coordinate indices into x = [θ; z0] and directions d.
struct Selection {
  std::vector<Index> indices;
  std::vector<Vector> directions;
  bool subset = false;
};

Selection Select(const Vector& x, const GradientCheckOptions& check) {
  Selection s;
  const Index n = x.size();
  s.indices.resize(static_cast<std::size_t>(n));
  std::iota(s.indices.begin(), s.indices.end(), Index{0});
  if (n <= check.max_components) return s;
  s.subset = true;
  std::mt19937_64 rng(check.seed);
  for (Index k = 0; k < check.max_components; ++k) {  // partial Fisher–Yates
    const Index j = k + static_cast<Index>(rng() % static_cast<std::uint64_t>(n - k));
    std::swap(s.indices[static_cast<std::size_t>(k)], s.indices[static_cast<std::size_t>(j)]);
  }
  s.indices.resize(static_cast<std::size_t>(check.max_components));
  std::sort(s.indices.begin(), s.indices.end());
  for (int k = 0; k < check.directions; ++k) {
    Vector d(n);
    for (Index i = 0; i < n; ++i) d[i] = ((rng() & 1) ? 1.0 : -1.0) * std::max(1.0, std::abs(x[i]));
    s.directions.push_back(std::move(d));
  }
  return s;
}

// The reference's options: the same fixed-step map, or the same integrator solved tightly.
GradientOptions ReferenceOptions(const GradientOptions& options) {
  GradientOptions ref;
  ref.integrator = options.integrator;
  ref.integrator_options = options.integrator_options;
  ref.backward_integrator = options.backward_integrator;
  if (options.integrator_options.fixed_step > 0.0) return ref;
  const double rtol = options.integrator_options.rtol;
  const double tight = std::clamp(rtol * 1e-4, 1e-12, 1e-10);
  ref.integrator_options.rtol = std::min(rtol, tight);
  ref.integrator_options.atol *= ref.integrator_options.rtol / rtol;
  ref.backward_options.reset();
  return ref;
}

// Reference values at the selection, with their own error estimate e_ref.
struct Reference {
  std::vector<double> values;  // indices, then directions
  double loss = 0.0;
  double error_estimate = 0.0;
  bool flagged = false;
  std::string diagnosis;
  std::string description;
};

double MaxRelative(const std::vector<double>& error, const std::vector<double>& value,
                   std::size_t begin, std::size_t end) {
  double scale = 0.0;
  for (std::size_t k = begin; k < end; ++k) scale = std::max(scale, std::abs(value[k]));
  double worst = 0.0;
  for (std::size_t k = begin; k < end; ++k) {
    worst = std::max(worst, error[k] / std::max({std::abs(value[k]), 1e-3 * scale, 1e-300}));
  }
  return worst;
}

std::string MapWords(const GradientOptions& ref) {
  const IntegratorOptions& io = ref.integrator_options;
  if (io.fixed_step > 0.0) {
    return ref.integrator + " with the same fixed step h = " + Short(io.fixed_step);
  }
  return ref.integrator + " at rtol " + Short(io.rtol) + ", atol " + Short(io.atol);
}

Reference FiniteDifferenceReference(const OdeProblem& problem, const Loss& loss,
                                    const GradientOptions& ref_options, const Selection& s) {
  LossMap map(problem, loss, ref_options);
  Reference ref;
  ref.loss = map.AtBase(nullptr, nullptr);
  const double noise = EstimateLossNoise(map, ref.loss);
  std::vector<double> total;
  auto add = [&](const DifferenceEstimate& d) {
    ref.values.push_back(d.value);
    total.push_back(d.noise + d.truncation);
  };
  for (const Index i : s.indices) add(ComponentDerivative(map, i, noise, ref.loss, 0.0));
  for (const Vector& d : s.directions) add(DirectionalDerivative(map, d, noise, ref.loss, 0.0));
  const std::size_t split = s.indices.size(), all = ref.values.size();
  ref.error_estimate = std::max(MaxRelative(total, ref.values, 0, split),
                                MaxRelative(total, ref.values, split, all));
  const double map_error = MapRelativeError(map, ref.loss);
  ref.error_estimate = std::max(ref.error_estimate, map_error);
  if (map_error > 1e-2) {
    ref.error_estimate = std::numeric_limits<double>::infinity();
    ref.flagged = true;
    ref.diagnosis = "L = " + Short(ref.loss) +
                    " is within the error of the forward map: tighten atol to compare";
  }
  ref.description = "central differences (step from the noise of L, ≈ " + Short(noise) + ") of " +
                    MapWords(ref_options);
  return ref;
}

// The reference method through the checked integrator or, when it refuses that one (a
// ConfigError naming it), through cvodes_bdf, then dopri5, at the same tolerances.
LossAndGradient ComputeReferenceMethod(const OdeProblem& problem, const Loss& loss,
                                       const std::string& name, GradientOptions& ref_options) {
  const std::vector<std::string> integrators = {ref_options.integrator, "cvodes_bdf", "dopri5"};
  for (std::size_t k = 0;; ++k) {
    ref_options.integrator = integrators[k];
    if (k > 0) ref_options.integrator_options.fixed_step = 0.0;
    try {
      return GradientRegistry().Create(name, ref_options)->Compute(problem, loss);
    } catch (const ConfigError&) {
      if (k + 1 == integrators.size()) throw;
    }
  }
}

Reference MethodReference(const OdeProblem& problem, const Loss& loss, const std::string& name,
                          GradientOptions ref_options, const Selection& s) {
  const LossAndGradient result = ComputeReferenceMethod(problem, loss, name, ref_options);
  Vector g(result.dtheta.size() + result.dz0.size());
  g << result.dtheta, result.dz0;
  Reference ref;
  ref.loss = result.loss;
  for (const Index i : s.indices) ref.values.push_back(g[i]);
  for (const Vector& d : s.directions) ref.values.push_back(g.dot(d));
  if (std::isfinite(result.stats.error_estimate)) ref.error_estimate = result.stats.error_estimate;
  ref.flagged = result.stats.flagged;
  ref.diagnosis = result.stats.diagnosis;
  ref.description = name + " through " + MapWords(ref_options);
  return ref;
}

std::string ComponentName(Index i, Index p) {
  return i < p ? "dtheta[" + std::to_string(i) + "]" : "dz0[" + std::to_string(i - p) + "]";
}

}  // namespace

void GradientCheckOptions::Validate() const {
  Require(std::isfinite(relative_tolerance) && relative_tolerance >= 0.0,
          "gradient check relative_tolerance must be >= 0 (0 = auto)");
  Require(max_components >= 1, "gradient check max_components must be >= 1");
  Require(directions >= 0, "gradient check directions must be >= 0");
  Require(reference == "finite_difference" || GradientRegistry().Contains(reference),
          "gradient check reference '" + reference +
              "' is neither finite_difference nor a registered gradient method; known: " +
              GradientRegistry().KnownNames());
}

std::string VerdictName(GradientVerdict verdict) {
  switch (verdict) {
    case GradientVerdict::kPass:
      return "pass";
    case GradientVerdict::kFail:
      return "FAIL";
    case GradientVerdict::kFlagged:
      return "flagged";
    case GradientVerdict::kInconclusive:
      return "inconclusive";
  }
  return "?";
}

GradientCheckResult CheckGradient(const OdeProblem& problem, const Loss& loss,
                                  const std::string& method, const GradientOptions& options,
                                  const GradientCheckOptions& check) {
  check.Validate();
  problem.Validate();
  const LossAndGradient got = GradientRegistry().Create(method, options)->Compute(problem, loss);
  const Index p = problem.theta.size();
  Vector x(p + problem.z0.size()), g(x.size());
  x << problem.theta, problem.z0;
  g << got.dtheta, got.dz0;
  const Selection s = Select(x, check);
  const GradientOptions ref_options = ReferenceOptions(options);
  const Reference ref = check.reference == "finite_difference"
                            ? FiniteDifferenceReference(problem, loss, ref_options, s)
                            : MethodReference(problem, loss, check.reference, ref_options, s);

  GradientCheckResult r;
  r.method = method + "/" + options.integrator;
  r.reference = ref.description;
  r.total_components = x.size();
  r.subset = s.subset;
  r.loss = got.loss;
  r.reference_loss = ref.loss;
  r.method_flagged = got.stats.flagged;
  r.method_diagnosis = got.stats.diagnosis;
  r.method_stats = got.stats;
  r.reference_flagged = ref.flagged;
  r.reference_diagnosis = ref.diagnosis;
  r.reference_error_estimate = ref.error_estimate;
  std::vector<double> mine, error;
  for (const Index i : s.indices) mine.push_back(g[i]);
  for (const Vector& d : s.directions) mine.push_back(g.dot(d));
  for (std::size_t k = 0; k < mine.size(); ++k) error.push_back(std::abs(mine[k] - ref.values[k]));
  const std::size_t split = s.indices.size();
  for (std::size_t k = 0; k < mine.size(); ++k) {
    const bool coordinate = k < split;
    GradientComponentCheck c;
    c.name = coordinate ? ComponentName(s.indices[k], p) : "direction " + std::to_string(k - split);
    c.method = mine[k];
    c.reference = ref.values[k];
    r.components.push_back(c);
  }
  // Relative errors against each group's scale (a single entry alone would be its own scale).
  auto fill = [&](std::size_t begin, std::size_t end) {
    double scale = 0.0;
    for (std::size_t k = begin; k < end; ++k) scale = std::max(scale, std::abs(ref.values[k]));
    for (std::size_t k = begin; k < end; ++k) {
      const double denominator = std::max({std::abs(ref.values[k]), 1e-3 * scale, 1e-300});
      r.components[k].relative_error =
          std::isfinite(mine[k]) ? error[k] / denominator : std::numeric_limits<double>::infinity();
    }
  };
  fill(0, split);
  fill(split, mine.size());
  for (std::size_t k = 0; k < r.components.size(); ++k) {
    if (!(r.components[k].relative_error <= r.components[r.worst].relative_error)) r.worst = k;
  }
  r.max_relative_error = r.components.empty() ? 0.0 : r.components[r.worst].relative_error;

  const bool fixed = options.integrator_options.fixed_step > 0.0;
  r.tolerance = check.relative_tolerance > 0.0 ? check.relative_tolerance
                : fixed                        ? 1e-4
                        : std::max(kBoundFactor * options.integrator_options.rtol, 1e-6);
  if (!r.reference_flagged && 10.0 * ref.error_estimate > r.tolerance) {
    r.reference_flagged = true;
    r.reference_diagnosis = "its own error estimate " + Short(ref.error_estimate) +
                            " is not 10 times below the tolerance";
  }
  if (r.method_flagged) {
    r.verdict = GradientVerdict::kFlagged;
  } else if (r.max_relative_error <= r.tolerance) {
    r.verdict = GradientVerdict::kPass;
  } else if (r.max_relative_error <= 3.0 * ref.error_estimate) {
    r.verdict = GradientVerdict::kInconclusive;
  } else {
    r.verdict = GradientVerdict::kFail;
  }
  return r;
}

}  // namespace snode
