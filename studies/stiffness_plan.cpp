#include "studies/stiffness_plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "studies/report.hpp"

namespace snode {

std::string MethodRecipe::Label() const {
  return gradient + "/" + integrator + (backward.empty() ? "" : "/" + backward);
}

namespace {

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string current;
  for (const char c : text) {
    if (c == separator) {
      parts.push_back(current);
      current.clear();
    } else if (c != ' ') {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

MethodRecipe ParseRecipe(const std::string& item, const std::string& flag) {
  const std::vector<std::string> parts = Split(item, '/');
  Require(parts.size() == 2 || parts.size() == 3,
          flag + ": '" + item + "' is not GRADIENT/INTEGRATOR or GRADIENT/INTEGRATOR/BACKWARD");
  for (const std::string& part : parts) {
    Require(!part.empty(), flag + ": '" + item + "' has an empty name");
  }
  Require(GradientRegistry().Contains(parts[0]),
          flag + ": unknown gradient method '" + parts[0] +
              "'; known: " + GradientRegistry().KnownNames());
  for (std::size_t i = 1; i < parts.size(); ++i) {
    Require(IntegratorRegistry().Contains(parts[i]),
            flag + ": unknown integrator '" + parts[i] +
                "'; known: " + IntegratorRegistry().KnownNames());
  }
  return {parts[0], parts[1], parts.size() == 3 ? parts[2] : ""};
}

std::vector<MethodRecipe> QuickMethods() {
  return {{"bptt", "dopri5", ""},
          {"bptt", "sdirk", ""},
          {"backsolve_adjoint", "dopri5", ""},
          {"backsolve_adjoint", "cvodes_bdf", ""},
          {"cvodes_adjoint", "cvodes_bdf", ""}};
}

// Explicit fixed and adaptive, implicit fixed and adaptive, exponential, BDF, checkpointed.
std::vector<MethodRecipe> DefaultMethods() {
  return {{"bptt", "rk4", ""},
          {"bptt", "dopri5", ""},
          {"bptt", "backward_euler", ""},
          {"bptt", "sdirk", ""},
          {"backsolve_adjoint", "dopri5", ""},
          {"backsolve_adjoint", "sdirk", ""},
          {"backsolve_adjoint", "cvodes_bdf", ""},
          {"backsolve_adjoint", "epi2", ""},
          {"cvodes_adjoint", "cvodes_bdf", ""},
          {"cvodes_adjoint", "cvodes_bdf", "epi2"}};
}

std::vector<MethodRecipe> FullMethods() {
  std::vector<MethodRecipe> methods = DefaultMethods();
  methods.insert(methods.begin() + 1, {"bptt", "heun", ""});
  methods.push_back({"cvodes_adjoint", "cvodes_adams", ""});
  return methods;
}

// Parses one number of a --lambdas item (a normal, finite, positive double).
double ParseLambda(const std::string& text, const std::string& flag) {
  std::size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::out_of_range&) {
    // stod refuses what it can only round to zero, a subnormal or infinity.
    throw ConfigError(flag + ": λ must lie between 2.2e-308 and 1.8e308 (a normal double), got '" +
                      text + "'");
  } catch (const std::exception&) {
    used = 0;
  }
  Require(used == text.size() && !text.empty(),
          flag + ": '" + text + "' is not a number (a list '1,10,100' or a range '1e1:1e5')");
  Require(std::isfinite(value) && value >= std::numeric_limits<double>::min(),
          flag + ": λ must be positive, at least 2.2e-308 (a normal double), got '" + text + "'");
  return value;
}

std::vector<double> LogSpaced(double first, double last, long count) {
  std::vector<double> values;
  if (count == 1) return {first};
  const double a = std::log10(first), b = std::log10(last);
  for (long i = 0; i < count; ++i) {
    values.push_back(i == count - 1 ? last
                                    : std::pow(10.0, a + (b - a) * static_cast<double>(i) /
                                                             static_cast<double>(count - 1)));
  }
  return values;
}

std::vector<double> ParseRange(const std::vector<std::string>& parts, const std::string& flag) {
  const double first = ParseLambda(parts[0], flag), last = ParseLambda(parts[1], flag);
  Require(first <= last, flag + ": range " + parts[0] + ":" + parts[1] + " runs backwards");
  long count = 0;
  if (parts.size() == 3) {
    std::size_t used = 0;
    try {
      count = std::stol(parts[2], &used);
    } catch (const std::exception&) {
      used = 0;
    }
    Require(used == parts[2].size() && count >= 1,
            flag + ": the point count '" + parts[2] + "' must be a whole number >= 1");
  } else {
    // Every decade from first: first, 10·first, ... up to last (last itself included).
    const double decades = std::log10(last / first);
    Require(decades <= static_cast<double>(kMaxLambdas),
            flag + ": range " + parts[0] + ":" + parts[1] + " spans more than " +
                std::to_string(kMaxLambdas) + " decades");
    count = static_cast<long>(std::floor(decades + 1e-9)) + 1;
    std::vector<double> values;
    for (long i = 0; i < count; ++i) values.push_back(first * std::pow(10.0, i));
    if (std::abs(values.back() - last) > 1e-9 * last) values.push_back(last);
    return values;
  }
  Require(
      count <= static_cast<long>(kMaxLambdas),
      flag + ": " + std::to_string(count) + " points is more than " + std::to_string(kMaxLambdas));
  return LogSpaced(first, last, count);
}

// Whether the integrator declares needs_fixed_step. A fixed-step method refuses to be created
// without a step, an adaptive-only one with a step: asked the first way, then the second.
bool NeedsFixedStep(const std::string& integrator, double step) {
  try {
    return IntegratorRegistry()
        .Create(integrator, IntegratorOptions{})
        ->Capabilities()
        .needs_fixed_step;
  } catch (const ConfigError&) {
    IntegratorOptions with_step;
    with_step.fixed_step = step;
    return IntegratorRegistry().Create(integrator, with_step)->Capabilities().needs_fixed_step;
  }
}

}  // namespace

std::vector<MethodRecipe> ParseMethodList(const std::string& text, const std::string& flag) {
  std::vector<MethodRecipe> recipes;
  for (const std::string& item : Split(text, ',')) {
    if (item.empty()) continue;
    const MethodRecipe recipe = ParseRecipe(item, flag);
    const bool seen = std::any_of(recipes.begin(), recipes.end(), [&](const MethodRecipe& r) {
      return r.Label() == recipe.Label();
    });
    if (!seen) recipes.push_back(recipe);
  }
  Require(!recipes.empty(), flag + ": name at least one GRADIENT/INTEGRATOR pair");
  return recipes;
}

const std::vector<StudyPreset>& Presets() {
  static const std::vector<StudyPreset> presets = {
      {"quick",
       "3 problems (w1, w1b, robertson), 5 methods, tol 1e-6: the seed's failure in seconds",
       {"w1", "w1b", "robertson"},
       QuickMethods(),
       {1e-6},
       0,
       false},
      {"default",
       "6 problems (w1, w1b, robertson, vdp, nonnormal, neural), 10 methods, tol 1e-6 and 1e-10",
       {"w1", "w1b", "robertson", "vdp", "nonnormal", "neural"},
       DefaultMethods(),
       {1e-6, 1e-10},
       0,
       false},
      {"full",
       "every registered problem, 12 methods, tol 1e-4 … 1e-10, λ two decades further, and the "
       "neural training table",
       {},
       FullMethods(),
       {1e-4, 1e-6, 1e-8, 1e-10},
       2,
       true},
  };
  return presets;
}

const StudyPreset& FindPreset(const std::string& name) {
  for (const StudyPreset& preset : Presets()) {
    if (preset.name == name) return preset;
  }
  throw ConfigError("--preset: unknown preset '" + name + "'; known: quick, default, full");
}

std::vector<double> ParseLambdaSpec(const std::string& text, const std::string& flag) {
  std::vector<double> lambdas;
  for (const std::string& item : Split(text, ',')) {
    if (item.empty()) continue;
    const std::vector<std::string> parts = Split(item, ':');
    Require(parts.size() <= 3, flag + ": '" + item + "' is not FIRST:LAST or FIRST:LAST:COUNT");
    if (parts.size() == 1) {
      lambdas.push_back(ParseLambda(item, flag));
    } else {
      const std::vector<double> range = ParseRange(parts, flag);
      lambdas.insert(lambdas.end(), range.begin(), range.end());
    }
    Require(lambdas.size() <= kMaxLambdas,
            flag + ": more than " + std::to_string(kMaxLambdas) + " values of λ");
  }
  Require(!lambdas.empty(), flag + ": give at least one λ");
  return SortedUnique(lambdas);
}

std::vector<double> SweepFor(const problems::ProblemCapabilities& capabilities,
                             const std::vector<double>& lambdas, int extra_decades) {
  std::vector<double> grid = capabilities.default_lambdas;
  if (grid.empty()) grid = {1.0};
  if (!capabilities.sweeps) return {grid.front()};
  if (!lambdas.empty()) {
    grid.clear();
    for (const double lambda : lambdas) {
      if (lambda >= capabilities.min_lambda) grid.push_back(lambda);
    }
    return grid;
  }
  const double top = grid.back();
  for (int i = 1; i <= extra_decades; ++i) grid.push_back(top * std::pow(10.0, i));
  return SortedUnique(grid);
}

std::vector<MethodSpec> InstantiateRecipes(const std::vector<MethodRecipe>& recipes,
                                           const std::vector<double>& tolerances,
                                           const problems::ProblemCapabilities& capabilities,
                                           const OdeProblem& problem, long max_steps) {
  const double span = problem.output_times.empty() ? 1.0 : problem.output_times.back() - problem.t0;
  const int steps = std::max(1, capabilities.fixed_steps);
  const double step = span / steps;
  std::vector<MethodSpec> specs;
  for (const MethodRecipe& recipe : recipes) {
    const bool fixed = NeedsFixedStep(recipe.integrator, step);
    const std::vector<double> tols = fixed ? std::vector<double>{1e-6} : tolerances;
    for (const double tol : tols) {
      MethodSpec spec =
          fixed ? MakeMethod(recipe.gradient, recipe.integrator, 1e-6, 1e-8, step,
                             "h=span/" + std::to_string(steps))
                : MakeMethod(recipe.gradient, recipe.integrator, tol, tol * capabilities.atol_scale,
                             0.0, "tol=" + FormatCompact(tol));
      if (!recipe.backward.empty()) spec = WithBackward(spec, recipe.backward);
      if (max_steps > 0) spec.options.integrator_options.max_steps = max_steps;
      specs.push_back(std::move(spec));
    }
  }
  return specs;
}

}  // namespace snode
