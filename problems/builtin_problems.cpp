// The built-in problems of ProblemRegistry(), each from its factory in problems/*.hpp with the
// capabilities it honestly has (an exact gradient only where the factory computes one).
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/analytic_fields.hpp"
#include "problems/boundary_layer.hpp"
#include "problems/decay.hpp"
#include "problems/lotka_volterra.hpp"
#include "problems/nonnormal_linear.hpp"
#include "problems/oregonator.hpp"
#include "problems/problem_registry.hpp"
#include "problems/reaction_diffusion.hpp"
#include "problems/robertson.hpp"
#include "problems/stiff_mlp.hpp"
#include "problems/stiff_neural.hpp"
#include "problems/van_der_pol.hpp"

namespace snode::problems {

namespace {

using MakeFunction = std::function<ProblemSetup(double lambda, const ProblemOptions& options)>;

void AddBuiltin(ProblemRegistryType& registry, const std::string& name,
                const ProblemCapabilities& capabilities, MakeFunction make) {
  registry.Add(name, [name, capabilities, make](const ProblemOptions& options) {
    return MakeProblemDefinition(name, capabilities,
                                 [make, options](double lambda) { return make(lambda, options); });
  });
}

ProblemCapabilities Swept(std::string description, std::string parameter, std::string meaning,
                          std::vector<double> lambdas, bool exact_gradient) {
  ProblemCapabilities c;
  c.description = std::move(description);
  c.sweeps = true;
  c.parameter = std::move(parameter);
  c.parameter_meaning = std::move(meaning);
  c.default_lambdas = std::move(lambdas);
  c.exact_gradient = exact_gradient;
  return c;
}

const std::vector<double> kDecades = {1.0, 10.0, 100.0, 1e3, 1e4};

void AddDecays(ProblemRegistryType& registry) {
  ProblemCapabilities w1 = Swept("the seed's decay y' = −λy, y(0) = 1, L = y(1) (exact gradient)",
                                 "λ", "the decay rate", kDecades, true);
  // dL/dλ = −e^{−λ} falls below every solver tolerance (and underflows for λ ≳ 745).
  w1.judge_absolute = true;
  AddBuiltin(registry, "w1", w1,
             [](double lambda, const ProblemOptions&) { return MakeDecay(lambda); });
  AddBuiltin(registry, "w1b",
             Swept("two-rate decay z' = diag(−1, −λ) z, L = Σ_t z1 + z2 at t = 1e-3 … 1 (exact "
                   "gradient)",
                   "λ", "the fast decay rate", kDecades, true),
             [](double lambda, const ProblemOptions&) { return MakeTwoRateDecay(lambda); });
}

void AddRobertson(ProblemRegistryType& registry) {
  ProblemCapabilities final_time = Swept("Robertson's kinetics on [0, T], L = y1 + 1e4 y2 at T",
                                         "T", "the end time T", {40.0, 1e5}, false);
  final_time.atol_scale = 1e-6;  // y2 lives at 1e-5 … 1e-11
  final_time.positive_states = true;
  AddBuiltin(registry, "robertson", final_time,
             [](double horizon, const ProblemOptions&) { return MakeRobertson(horizon); });
  ProblemCapabilities sum = final_time;
  sum.description = "Robertson's kinetics, L = Σ_t y1 + 1e4 y2 at the log-spaced t in [1e-5, T]";
  sum.min_lambda = 1e-5;  // the first observation time
  AddBuiltin(registry, "robertson_sum", sum,
             [](double horizon, const ProblemOptions&) { return MakeRobertsonSum(horizon); });
}

// The discovery setup of the lotka_volterra app: the rates fitted from (1, 0.5, 0.5, 2) to 101
// observations on [0, 10] with noise σ = 0.05 (seeded by options.seed), MSE loss.
ProblemSetup MakeLotkaVolterraDiscovery(const ProblemOptions& options) {
  const LotkaVolterraObservations obs =
      MakeLotkaVolterraObservations(EquallySpacedTimes(10.0, 101), 0.05, options.seed);
  const Vector start = (Vector(4) << 1.0, 0.5, 0.5, 2.0).finished();
  FitWindow window =
      MakeFitWindow(std::make_shared<LotkaVolterraField>(), obs.times, obs.noisy, 10.0, start);
  ProblemSetup setup;
  setup.name = "lotka_volterra";
  setup.ode = std::move(window.problem);
  setup.loss = std::shared_ptr<const Loss>(std::move(window.loss));
  return setup;
}

void AddOscillatorsAndFits(ProblemRegistryType& registry) {
  AddBuiltin(registry, "vdp",
             Swept("van der Pol (Liénard form), L = Σ_t x + y at t = μ·{¼, ½, ¾, 1}", "μ",
                   "the damping μ (stiff eigenvalue ≈ −3μ on the slow branch)",
                   {10.0, 100.0, 1e3, 1e4, 1e5}, false),
             [](double mu, const ProblemOptions&) { return MakeVanDerPol(mu); });
  ProblemCapabilities lv;
  lv.description = "Lotka–Volterra rate discovery: MSE to 101 noisy observations on [0, 10]";
  lv.default_lambdas = {0.0};  // not swept: no stiffness parameter
  AddBuiltin(registry, "lotka_volterra", lv, [](double, const ProblemOptions& options) {
    return MakeLotkaVolterraDiscovery(options);
  });
  ProblemCapabilities neural =
      Swept("neural ODE (MLP 2-16-2) fitted to two-rate decay data with rates 1 and λ", "λ",
            "the fast rate of the data", {1e3}, false);
  neural.trainable = true;
  AddBuiltin(registry, "neural", neural, [](double lambda, const ProblemOptions& options) {
    return MakeStiffNeural(lambda, options.seed);
  });
}

void AddLinearAndLayers(ProblemRegistryType& registry) {
  ProblemCapabilities nonnormal = Swept(
      "4×4 non-normal linear system z' = A z, θ = vec(A), eigenvalues −1, −0.8s … −s "
      "(exact gradient)",
      "s", "the stiffness s of the fast cluster", {1e5}, true);
  nonnormal.min_lambda = 1.0;
  AddBuiltin(registry, "nonnormal", nonnormal,
             [](double s, const ProblemOptions&) { return NonNormalLinearProblem(s, 1.0); });
  AddBuiltin(registry, "boundary_layer",
             Swept("boundary layer z' = −λ(z − cos 2πt), observed inside and after the layer "
                   "(exact gradient)",
                   "λ", "the layer's rate (width 1/λ)", {1e4}, true),
             [](double lambda, const ProblemOptions&) { return MakeBoundaryLayer(lambda); });
  AddBuiltin(registry, "oregonator",
             Swept("Oregonator (Belousov–Zhabotinsky), θ = ln k, observed on [0, T]", "T",
                   "the end time T", {60.0}, false),
             [](double horizon, const ProblemOptions&) { return MakeOregonator(horizon); });
  ProblemCapabilities mlp = Swept("MLP field with a stiff linear part, eigenvalues −1, −λ/10, −λ",
                                  "λ", "the fastest rate of the linear part", {1e4}, false);
  mlp.min_lambda = 10.0;  // the fast eigenvalues no slower than the slow one, −1
  AddBuiltin(registry, "stiff_mlp", mlp, [](double lambda, const ProblemOptions&) {
    return MakeStiffMlp(-lambda / 10.0, -lambda);
  });
}

// Run once at N = 32 (not swept: a study's dense linear solvers and the preset "full"'s extra
// decades would not scale to the large grids, which the reaction-diffusion benchmark covers).
void AddReactionDiffusion(ProblemRegistryType& registry) {
  ProblemCapabilities c;
  c.description =
      "neural reaction-diffusion: diffusion + MLP 2-16-16-2 at each of N periodic grid points, "
      "MSE to Brusselator data at t = 0.1 … 2";
  c.parameter = "N";
  c.parameter_meaning = "the number of grid points";
  c.default_lambdas = {32.0};
  AddBuiltin(registry, "reaction_diffusion", c, [](double n, const ProblemOptions& options) {
    ReactionDiffusionOptions rd;
    rd.points = static_cast<Index>(std::lround(n));
    rd.seed = options.seed;
    return MakeReactionDiffusionProblem(rd);
  });
}

}  // namespace

void RegisterBuiltinProblems(ProblemRegistryType& registry) {
  AddDecays(registry);
  AddRobertson(registry);
  AddOscillatorsAndFits(registry);
  AddLinearAndLayers(registry);
  AddReactionDiffusion(registry);
}

}  // namespace snode::problems
