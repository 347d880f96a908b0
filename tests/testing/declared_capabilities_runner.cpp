// A contract runner (testing/integrator_contract.hpp) whose extra methods declare their
// capabilities in full, so that every capability-dependent check of the contract runs in-tree
// whatever the built-ins declare: "declared_<builtin>" runs the built-in unchanged and declares
// what it does (kind, order, error estimate, dense output, hooks, outputs, tableau, CVODES method).
// declared_heun declares no hooks and refuses them: the contract's and gradient methods' paths for
// a method without jumps, hooks or tableau.
//
//   declared_capabilities_runner --integrator declared_dopri5 --setting rtol=1e-9 ...
#include <memory>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "integrators/butcher_tableau.hpp"
#include "integrators/integrator.hpp"
#if SNODE_DECLARED_AS_PLUGIN
#include "plugins/plugin.hpp"
#else
#include "testing/integrator_contract.hpp"
#endif

namespace snode {
namespace {

class DeclaredCapabilities final : public Integrator {
 public:
  DeclaredCapabilities(const std::string& builtin, IntegratorCapabilities capabilities,
                       const IntegratorOptions& options)
      : builtin_(builtin),
        inner_(IntegratorRegistry().Create(builtin, options)),
        capabilities_(std::move(capabilities)) {}
  std::string name() const override { return "declared_" + builtin_; }
  const IntegratorOptions& options() const override { return inner_->options(); }
  Trajectory Solve(const OdeProblem& problem) override {
    Trajectory trajectory;
    SolveInto(problem, trajectory);
    return trajectory;
  }
  void SolveInto(const OdeProblem& problem, Trajectory& trajectory) override {
    // What it does not declare it refuses, as the contract asks (the built-in may do more).
    Require(capabilities_.output_jumps || !problem.at_output,
            name() + " does not take jumps at output times (at_output)");
    Require(capabilities_.step_hook || !problem.after_step, name() + " has no after_step hook");
    Require(capabilities_.interpolated_outputs || !inner_->options().interpolate_outputs,
            name() + " has no interpolated outputs");
    try {
      inner_->SolveInto(problem, trajectory);
    } catch (const NumericalError& error) {
      // The contract wants this method's name in the message, not the built-in's.
      std::string message = error.what();
      const std::string quoted = "'" + builtin_ + "'";
      const std::size_t at = message.find(quoted);
      if (at != std::string::npos) message.replace(at, quoted.size(), "'" + name() + "'");
      throw NumericalError(message);
    }
  }
  // Only Capabilities(): the declaration is what the contract and the gradient methods read.
  IntegratorCapabilities Capabilities() const override { return capabilities_; }

 private:
  std::string builtin_;
  std::unique_ptr<Integrator> inner_;
  IntegratorCapabilities capabilities_;
};

IntegratorCapabilities Declared(IntegratorKind kind, int order, bool adaptive, int dense_order,
                                bool hooks) {
  IntegratorCapabilities c;
  c.kind = kind;
  c.order = order;
  c.error_estimate = adaptive;
  c.needs_fixed_step = !adaptive;
  c.dense_output_order = dense_order;
  c.output_jumps = hooks;
  c.step_hook = hooks;
  c.interpolated_outputs = hooks && adaptive;
  c.records_steps = true;
  return c;
}

// add(name, factory): IntegratorRegistry().Add or PluginRegistrar::AddIntegrator.
template <class Add>
void RegisterDeclared(const Add& add, const std::string& builtin,
                      IntegratorCapabilities capabilities) {
  add("declared_" + builtin, [builtin, capabilities](const IntegratorOptions& options) {
    return std::make_unique<DeclaredCapabilities>(builtin, capabilities, options);
  });
}

template <class Add>
void RegisterAll(const Add& add) {
  IntegratorCapabilities dopri5 = Declared(IntegratorKind::kExplicit, 5, true, 3, true);
  dopri5.tableau = ExplicitTableau("dopri5");
  RegisterDeclared(add, "dopri5", dopri5);
  IntegratorCapabilities rk4 = Declared(IntegratorKind::kExplicit, 4, false, 3, true);
  rk4.tableau = ExplicitTableau("rk4");
  RegisterDeclared(add, "rk4", rk4);
  IntegratorCapabilities sdirk = Declared(IntegratorKind::kDiagonallyImplicit, 4, true, 3, true);
  sdirk.tableau = ImplicitTableau("sdirk");
  RegisterDeclared(add, "sdirk", sdirk);
  IntegratorCapabilities bdf = Declared(IntegratorKind::kMultistep, 5, true, 5, true);
  bdf.cvodes_method = CvodesMethod::kBdf;
  RegisterDeclared(add, "cvodes_bdf", bdf);
  RegisterDeclared(add, "heun", Declared(IntegratorKind::kExplicit, 2, true, 0, false));
}

}  // namespace
}  // namespace snode

#if SNODE_DECLARED_AS_PLUGIN
SNODE_PLUGIN(registrar) {
  snode::RegisterAll(
      [&registrar](const std::string& name, snode::IntegratorRegistryType::Factory factory) {
        registrar.AddIntegrator(name, std::move(factory));
      });
}
#else
int main(int argc, char** argv) {
  snode::RegisterAll([](const std::string& name, snode::IntegratorRegistryType::Factory factory) {
    snode::IntegratorRegistry().Add(name, std::move(factory));
  });
  return snode::contract::RunIntegratorContract(argc, argv);
}
#endif
