#pragma once
// What a stiffness study runs: presets (quick / default / full), the method matrix as recipes
// (gradient method × integrator, instantiated per problem and tolerance), the λ grid syntax of
// --lambdas, and the expansion of a choice of problems into the list of independent runs.
//
// A recipe becomes concrete only against a problem (problems/problem_registry.hpp): an adaptive
// integrator gets rtol = tol and atol = tol · atol_scale for every tolerance of the study; a
// fixed-step one (IntegratorCapabilities::needs_fixed_step) gets h = (t_end − t0) / fixed_steps,
// once. Both scales come from the problem's declared capabilities, never from its name. The
// label says "tol=<rtol>" whatever the problem's atol, so one method has one label on every
// problem (the records carry both tolerances); a fixed step is labelled "h=span/<steps>" (the
// records carry h).

#include <string>
#include <vector>

#include "problems/problem_registry.hpp"
#include "studies/gradient_study.hpp"

namespace snode {

// A gradient method × integrator pair, with an optional separate backward integrator.
struct MethodRecipe {
  std::string gradient;
  std::string integrator;
  std::string backward;  // "" = the forward one

  // "gradient/integrator" (+ "/backward").
  std::string Label() const;
};

// "G/I[/B],G/I[/B],..." (e.g. "bptt/dopri5,cvodes_adjoint/cvodes_bdf/epi2"). ConfigError naming
// flag for an empty list, a malformed item or a name the registries do not know.
std::vector<MethodRecipe> ParseMethodList(const std::string& text, const std::string& flag);

struct StudyPreset {
  std::string name;
  std::string description;            // one line for --help and the report
  std::vector<std::string> problems;  // registry names; empty = every registered problem
  std::vector<MethodRecipe> methods;
  std::vector<double> tolerances;  // rtol of the adaptive methods
  // Decades added above each swept problem's default λ grid (full: 2).
  int extra_decades = 0;
  bool train_neural = false;  // the neural training table (problems declaring a trainable MLP)
};

// "quick", "default", "full". ConfigError listing the names for another.
const StudyPreset& FindPreset(const std::string& name);
const std::vector<StudyPreset>& Presets();

// Upper bound on the number of λ values of one sweep (a mistyped range is an error, not a
// 300-point sweep).
inline constexpr std::size_t kMaxLambdas = 61;

// The --lambdas syntax: "1,10,100" (a list), "1e1:1e5" (every decade from the first to the last,
// the last included), "1:1e4:13" (13 log-spaced values). Sorted, unique, every value finite,
// positive and a normal double; ConfigError naming flag otherwise, and for more than kMaxLambdas
// values.
std::vector<double> ParseLambdaSpec(const std::string& text, const std::string& flag);

// A problem's sweep: lambdas when given (λ below the problem's min_lambda are dropped), else its
// default grid widened by extra_decades decades; one value when the problem does not sweep.
std::vector<double> SweepFor(const problems::ProblemCapabilities& capabilities,
                             const std::vector<double>& lambdas, int extra_decades);

// The recipes against one problem: see the file comment. max_steps > 0 is every run's step
// budget (a run that exceeds it fails with "too much work").
std::vector<MethodSpec> InstantiateRecipes(const std::vector<MethodRecipe>& recipes,
                                           const std::vector<double>& tolerances,
                                           const problems::ProblemCapabilities& capabilities,
                                           const OdeProblem& problem, long max_steps);

}  // namespace snode
