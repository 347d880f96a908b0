#pragma once
// The problem registry: a named problem is a recipe that builds a ProblemSetup (field, θ, z0,
// output times, loss, optional exact gradient) for a value of its stiffness parameter, and
// declares what a study needs to know about it (ProblemCapabilities). The stiffness study, the
// apps and the tests pick problems by name and decide by declared capabilities, never by name.
//
// Problems come from four places, all ending in ProblemRegistry():
//   built-ins         RegisterBuiltinProblems() (problems/builtin_problems.cpp), called by
//                     ProblemRegistry() on first use: w1, w1b, robertson, vdp, lotka_volterra,
//                     nonnormal, neural, ...
//   plug-ins          PluginRegistrar::AddProblem (plugins/plugin.hpp) via --plugin PATH.so
//   problem files     a reaction network or linear system in JSON (problems/problem_file.hpp),
//                     RegisterProblemFile(path) / --problem-file PATH
//   the library API   ProblemRegistry().Add(name, factory) from the user's own program
//
// A study calls Create(name, options) once, reads Capabilities() and then Make(λ) for every λ of
// its sweep (once, with Capabilities().default_lambdas.front(), when the problem does not sweep).
// Make must be callable concurrently from several threads on one definition object (a study runs
// independent λ on a thread pool): keep definitions immutable after construction.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.hpp"
#include "problems/problem.hpp"

namespace snode::problems {

struct ProblemCapabilities {
  std::string description;  // one line for --list-problems and the report ("van der Pol, μ = λ")
  // The stiffness parameter: when sweeps is true, Make(λ) depends on λ and a study runs it over
  // a grid of λ; otherwise Make ignores λ and the problem is run once.
  bool sweeps = false;
  std::string parameter = "λ";    // what the swept value is called in tables ("λ", "μ", "T")
  std::string parameter_meaning;  // "the decay rate", "the end time T" (for the report)
  std::vector<double> default_lambdas;  // the default sweep (one value when not swept); sorted
  double min_lambda = 0.0;              // the smallest λ Make accepts (ConfigError below it)
  // The gradient: true when Make fills ProblemSetup::exact_gradient (closed form or an
  // independent exact computation); otherwise a study computes a reference itself
  // (problems/reference.hpp) and says so.
  bool exact_gradient = false;
  // Judging: every component also with the absolute part τ (exact values that lie far below any
  // solver tolerance, like the seed's decay e^{−λ}); otherwise purely relative except where the
  // exact value underflows.
  bool judge_absolute = false;
  // Scales the study's method matrix uses: atol = rtol · atol_scale (Robertson's species span
  // 1e-5 … 1, so 1e-6; default 1e-2) and the fixed step h = (t_end − t0) / fixed_steps.
  double atol_scale = 1e-2;
  int fixed_steps = 1000;
  // Non-negative states that a finite-difference perturbation of z0 must not push below zero
  // (reaction networks, Robertson): the reference's central-difference cross-check then compares
  // dL/dθ only.
  bool positive_states = false;
  // A learning problem (θ are network weights fitted to data): the study's "full" preset also
  // trains θ with Adam through every method and compares the training curves.
  bool trainable = false;
};

struct ProblemOptions {
  std::uint64_t seed = 0;  // for problems with random parts (initial network weights, data)
};

// A problem recipe. Implementations must be immutable after construction (see above).
class ProblemDefinition {
 public:
  virtual ~ProblemDefinition() = default;
  virtual ProblemCapabilities Capabilities() const = 0;
  // The problem at stiffness λ (ignored when !Capabilities().sweeps). ConfigError for a λ the
  // problem cannot take, with the problem's name and the valid range in the message.
  virtual ProblemSetup Make(double lambda) const = 0;
};

using ProblemRegistryType = Registry<ProblemDefinition, ProblemOptions>;

// The process-wide registry, with the built-ins registered on first use (the first call is
// thread-safe; Add() afterwards, like every registry's, must not race with other uses).
ProblemRegistryType& ProblemRegistry();

// Adds the built-in problems (problems/builtin_problems.cpp) to registry; ProblemRegistry() calls
// it once. ConfigError if one of their names is taken there.
void RegisterBuiltinProblems(ProblemRegistryType& registry);

// A definition from two functions (what most built-ins and plug-ins need):
//   ProblemRegistry().Add("mine", [](const ProblemOptions&) {
//     return MakeProblemDefinition(capabilities, [](double lambda) { return MakeMine(lambda); });
//   });
// Make(λ) of the result checks λ before it calls make: for a problem that sweeps, λ must be
// finite, positive and ≥ min_lambda (ConfigError naming the problem, λ and the valid range); for
// one that does not, λ is ignored and make receives default_lambdas.front() (0 when empty).
// ConfigError here when make is empty, or when a sweeping problem has no default λ or a default
// below min_lambda.
std::unique_ptr<ProblemDefinition> MakeProblemDefinition(
    ProblemCapabilities capabilities, std::function<ProblemSetup(double lambda)> make);
// The same with the registry name: error messages name the problem, and Make sets
// ProblemSetup::name to `name` (the factories' own names, "decay", "van_der_pol", ..., are
// replaced by the key the problem is known by).
std::unique_ptr<ProblemDefinition> MakeProblemDefinition(
    std::string name, ProblemCapabilities capabilities,
    std::function<ProblemSetup(double lambda)> make);

}  // namespace snode::problems
