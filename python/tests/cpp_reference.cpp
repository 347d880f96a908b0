// The reference values of the Python tests: losses, gradients and forward states computed through
// the C++ API exactly as the bindings compute them (a registered problem made at one stiffness, a
// gradient method created from the registry, one integrator solve), printed as JSON on stdout.
// nlohmann's dump writes every double in its shortest round-trip form, so Python reads back the
// same bits and test_solve.py / test_gradient.py can compare at 1e-14.
//
// Usage: python_cpp_reference   (no arguments; the cases are fixed below)

#include <cstdint>
#include <exception>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "core/ode_problem.hpp"
#include "integrators/butcher_tableau.hpp"
#include "integrators/integrator.hpp"
#include "models/mlp.hpp"
#include "problems/problem_registry.hpp"

namespace {

using nlohmann::json;

// One registered-problem case: the problem at a stiffness, the method, the integrator and its
// options (the keywords the Python call passes).
struct Case {
  std::string id;
  std::string problem;
  double stiffness;
  std::uint64_t seed;
  std::string method;
  std::string integrator;
  double rtol;
  double atol;
  std::string linear_solver;  // "" = the default
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"w1_cvodes", "w1", 100.0, 0, "cvodes_adjoint", "cvodes_bdf", 1e-6, 1e-8, ""},
      {"w1b_backsolve", "w1b", 100.0, 0, "backsolve_adjoint", "dopri5", 1e-6, 1e-8, ""},
      {"robertson_cvodes", "robertson", 40.0, 0, "cvodes_adjoint", "cvodes_bdf", 1e-6, 1e-12, ""},
      {"lotka_volterra_bptt", "lotka_volterra", 0.0, 0, "bptt", "dopri5", 1e-7, 1e-9, ""},
      {"neural_bptt_sdirk", "neural", 1e3, 0, "bptt", "sdirk", 1e-6, 1e-8, ""},
      {"reaction_diffusion_gmres", "reaction_diffusion", 32.0, 0, "cvodes_adjoint", "cvodes_bdf",
       1e-6, 1e-8, "gmres"},
  };
  return cases;
}

json ToJson(const snode::Vector& v) {
  json out = json::array();
  for (snode::Index i = 0; i < v.size(); ++i) out.push_back(v[i]);
  return out;
}

json ToJson(const std::vector<snode::Vector>& states) {
  json out = json::array();
  for (const snode::Vector& z : states) out.push_back(ToJson(z));
  return out;
}

snode::IntegratorOptions MakeIntegratorOptions(double rtol, double atol,
                                               const std::string& linear_solver) {
  snode::IntegratorOptions options;
  options.rtol = rtol;
  options.atol = atol;
  if (!linear_solver.empty()) options.linear_solver = linear_solver;
  return options;
}

json RunCase(const Case& c) {
  snode::problems::ProblemOptions problem_options;
  problem_options.seed = c.seed;
  const std::unique_ptr<snode::problems::ProblemDefinition> definition =
      snode::problems::ProblemRegistry().Create(c.problem, problem_options);
  const snode::problems::ProblemSetup setup = definition->Make(c.stiffness);

  snode::GradientOptions options;
  options.integrator = c.integrator;
  options.integrator_options = MakeIntegratorOptions(c.rtol, c.atol, c.linear_solver);
  const std::unique_ptr<snode::GradientMethod> method =
      snode::GradientRegistry().Create(c.method, options);
  const snode::LossAndGradient g = method->Compute(setup.ode, *setup.loss);

  const std::unique_ptr<snode::Integrator> integrator = snode::IntegratorRegistry().Create(
      c.integrator, MakeIntegratorOptions(c.rtol, c.atol, c.linear_solver));
  const snode::Trajectory solved = integrator->Solve(setup.ode);

  json out;
  out["id"] = c.id;
  out["problem"] = c.problem;
  out["stiffness"] = c.stiffness;
  out["seed"] = c.seed;
  out["method"] = c.method;
  out["integrator"] = c.integrator;
  out["rtol"] = c.rtol;
  out["atol"] = c.atol;
  out["linear_solver"] = c.linear_solver;
  out["setup"] = {
      {"name", setup.name},
      {"stiffness", setup.stiffness},
      {"t0", setup.ode.t0},
      {"times", setup.ode.output_times},
      {"z0", ToJson(setup.ode.z0)},
      {"theta", ToJson(setup.ode.theta)},
      {"exact_gradient", setup.exact_gradient ? ToJson(*setup.exact_gradient) : json(nullptr)}};
  out["gradient"] = {{"loss", g.loss},
                     {"dtheta", ToJson(g.dtheta)},
                     {"dz0", ToJson(g.dz0)},
                     {"states", ToJson(g.forward.states)},
                     {"flagged", g.stats.flagged}};
  out["solve"] = {{"times", solved.times},
                  {"states", ToJson(solved.states)},
                  {"steps", solved.stats.steps},
                  {"rhs_evals", solved.stats.rhs_evals}};
  return out;
}

// A field built directly (snode.Mlp in Python): its initial parameters, f and the products at a
// fixed point, a solve and an MSE gradient of Problem(Mlp, z0, θ, times).
json RunMlpCase() {
  snode::MlpOptions mlp_options;
  mlp_options.widths = {2, 8, 8, 2};
  mlp_options.activations = {"tanh"};
  auto field = std::make_shared<snode::MlpField>(mlp_options);
  const unsigned seed = 7;
  const snode::Vector theta = field->InitialParams(seed);
  const snode::Vector z0 = (snode::Vector(2) << 0.5, -0.3).finished();
  const snode::Vector v = (snode::Vector(2) << 0.25, -1.5).finished();
  const double t = 0.3;

  snode::Vector f(2), jv(2), a_state(2), a_theta(field->num_params());
  field->F(t, z0, theta, f);
  field->Jvp(t, z0, theta, v, jv);
  field->VjpState(t, z0, theta, v, a_state);
  a_theta.setZero();
  field->VjpParams(t, z0, theta, v, a_theta);

  snode::OdeProblem ode;
  ode.field = field;
  ode.z0 = z0;
  ode.theta = theta;
  ode.t0 = 0.0;
  ode.output_times = {0.5, 1.0, 1.5};
  std::vector<snode::Vector> targets = {(snode::Vector(2) << 0.4, -0.2).finished(),
                                        (snode::Vector(2) << 0.3, -0.1).finished(),
                                        (snode::Vector(2) << 0.2, 0.0).finished()};
  const snode::MseLoss loss(targets);

  snode::IntegratorOptions integrator_options = MakeIntegratorOptions(1e-8, 1e-10, "");
  const snode::Trajectory solved =
      snode::IntegratorRegistry().Create("dopri5", integrator_options)->Solve(ode);

  snode::GradientOptions options;
  options.integrator = "dopri5";
  options.integrator_options = integrator_options;
  const snode::LossAndGradient g =
      snode::GradientRegistry().Create("bptt", options)->Compute(ode, loss);

  json targets_json = json::array();
  for (const snode::Vector& target : targets) targets_json.push_back(ToJson(target));
  json out;
  out["widths"] = mlp_options.widths;
  out["activation"] = "tanh";
  out["seed"] = seed;
  out["theta"] = ToJson(theta);
  out["t"] = t;
  out["z"] = ToJson(z0);
  out["v"] = ToJson(v);
  out["f"] = ToJson(f);
  out["jvp"] = ToJson(jv);
  out["vjp_state"] = ToJson(a_state);
  out["vjp_params"] = ToJson(a_theta);
  out["times"] = ode.output_times;
  out["targets"] = targets_json;
  out["integrator"] = "dopri5";
  out["method"] = "bptt";
  out["rtol"] = integrator_options.rtol;
  out["atol"] = integrator_options.atol;
  out["solve_states"] = ToJson(solved.states);
  out["gradient"] = {{"loss", g.loss}, {"dtheta", ToJson(g.dtheta)}, {"dz0", ToJson(g.dz0)}};
  return out;
}

std::string KindName(snode::IntegratorKind kind) {
  switch (kind) {
    case snode::IntegratorKind::kExplicit:
      return "explicit";
    case snode::IntegratorKind::kDiagonallyImplicit:
      return "diagonally_implicit";
    case snode::IntegratorKind::kMultistep:
      return "multistep";
    case snode::IntegratorKind::kExponential:
      return "exponential";
    case snode::IntegratorKind::kOther:
      break;
  }
  return "other";
}

std::string CvodesMethodName(snode::CvodesMethod method) {
  switch (method) {
    case snode::CvodesMethod::kAdams:
      return "adams";
    case snode::CvodesMethod::kBdf:
      return "bdf";
    case snode::CvodesMethod::kNone:
      break;
  }
  return "none";
}

// The registries' names and every integrator's declared capabilities (test_registries.py).
json Registries() {
  json out;
  out["integrators"] = snode::IntegratorRegistry().Names();
  out["gradient_methods"] = snode::GradientRegistry().Names();
  out["problems"] = snode::problems::ProblemRegistry().Names();
  json capabilities = json::object();
  for (const std::string& name : snode::IntegratorRegistry().Names()) {
    // Fixed-step methods refuse fixed_step = 0: create every integrator with a step.
    snode::IntegratorOptions options;
    snode::IntegratorCapabilities c;
    try {
      c = snode::IntegratorRegistry().Create(name, options)->Capabilities();
    } catch (const snode::ConfigError&) {
      options.fixed_step = 1e-2;
      c = snode::IntegratorRegistry().Create(name, options)->Capabilities();
    }
    capabilities[name] = {{"kind", KindName(c.kind)},
                          {"order", c.order},
                          {"error_estimate", c.error_estimate},
                          {"needs_fixed_step", c.needs_fixed_step},
                          {"dense_output_order", c.dense_output_order},
                          {"output_jumps", c.output_jumps},
                          {"step_hook", c.step_hook},
                          {"interpolated_outputs", c.interpolated_outputs},
                          {"records_steps", c.records_steps},
                          {"tableau", c.tableau.has_value()},
                          {"cvodes_method", CvodesMethodName(c.cvodes_method)}};
  }
  out["integrator_capabilities"] = capabilities;
  return out;
}

}  // namespace

int main() {
  try {
    json out;
    out["cases"] = json::array();
    for (const Case& c : Cases()) out["cases"].push_back(RunCase(c));
    out["mlp"] = RunMlpCase();
    out["registries"] = Registries();
    std::cout << out.dump(1) << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "python_cpp_reference: " << e.what() << '\n';
    return 1;
  }
}
