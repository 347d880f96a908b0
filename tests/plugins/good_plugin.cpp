// A working plug-in: integrator "plugin_heun" (Heun's method under its own name), gradient
// method "plugin_central_difference" (central differences behind the GradientMethod interface)
// and problem "plugin_two_rate_decay" (the two-rate decay with its exact gradient, λ ≥ 2).
// Built a second time with SNODE_TEST_DIR_PLUGIN for the SNODE_PLUGIN_PATH directory test: then it
// registers "dir_plugin_heun" alone.
#include <memory>
#include <string>
#include <utility>

#include "adjoint/finite_difference.hpp"
#include "integrators/heun_integrator.hpp"
#include "plugins/plugin.hpp"
#include "problems/decay.hpp"

namespace {

class PluginHeun final : public snode::Integrator {
 public:
  PluginHeun(std::string name, const snode::IntegratorOptions& options)
      : name_(std::move(name)), heun_(options) {}
  std::string name() const override { return name_; }
  const snode::IntegratorOptions& options() const override { return heun_.options(); }
  snode::Trajectory Solve(const snode::OdeProblem& problem) override {
    return heun_.Solve(problem);
  }

 private:
  std::string name_;
  snode::HeunIntegrator heun_;
};

class PluginCentralDifference final : public snode::GradientMethod {
 public:
  explicit PluginCentralDifference(snode::GradientOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "plugin_central_difference"; }
  const snode::GradientOptions& options() const override { return options_; }
  snode::LossAndGradient Compute(const snode::OdeProblem& problem,
                                 const snode::Loss& loss) override {
    return snode::CentralDifferenceGradient(problem, loss, options_);
  }

 private:
  snode::GradientOptions options_;
};

[[maybe_unused]] snode::problems::ProblemCapabilities TwoRateDecayCapabilities() {
  snode::problems::ProblemCapabilities c;
  c.description = "two-rate decay from a plug-in";
  c.sweeps = true;
  c.parameter_meaning = "the fast decay rate";
  c.default_lambdas = {10.0, 1e3};
  c.min_lambda = 2.0;
  c.exact_gradient = true;
  return c;
}

}  // namespace

#ifdef SNODE_TEST_DIR_PLUGIN
SNODE_PLUGIN(registrar) {
  registrar.AddIntegrator("dir_plugin_heun", [](const snode::IntegratorOptions& o) {
    return std::make_unique<PluginHeun>("dir_plugin_heun", o);
  });
}
#else
SNODE_PLUGIN(registrar) {
  registrar.AddIntegrator("plugin_heun", [](const snode::IntegratorOptions& o) {
    return std::make_unique<PluginHeun>("plugin_heun", o);
  });
  registrar.AddGradientMethod("plugin_central_difference", [](const snode::GradientOptions& o) {
    return std::make_unique<PluginCentralDifference>(o);
  });
  registrar.AddProblem("plugin_two_rate_decay", [](const snode::problems::ProblemOptions&) {
    return snode::problems::MakeProblemDefinition(
        "plugin_two_rate_decay", TwoRateDecayCapabilities(),
        [](double lambda) { return snode::problems::MakeTwoRateDecay(lambda); });
  });
}
#endif
