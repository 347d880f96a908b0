#pragma once
// Test-local plug-in integrators: registered under their own names, each wraps a built-in and
// declares chosen capabilities, as a user's plug-in would. The gradient methods must treat them
// by what they declare (IntegratorCapabilities), never by name. A plug-in refuses the hooks it
// does not declare, as the contract requires.

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"

namespace snode {
namespace test_plugins {

class DeclaredIntegrator final : public Integrator {
 public:
  // drop_step_times: a faulty plug-in that returns no step times even under record_steps.
  DeclaredIntegrator(std::string name, std::unique_ptr<Integrator> inner,
                     IntegratorCapabilities capabilities, bool drop_step_times = false)
      : name_(std::move(name)),
        inner_(std::move(inner)),
        capabilities_(std::move(capabilities)),
        drop_step_times_(drop_step_times) {}

  std::string name() const override { return name_; }
  const IntegratorOptions& options() const override { return inner_->options(); }
  IntegratorCapabilities Capabilities() const override { return capabilities_; }
  Trajectory Solve(const OdeProblem& problem) override {
    Require(!problem.at_output || capabilities_.output_jumps,
            "integrator '" + name_ + "' does not support OdeProblem::at_output");
    Require(!problem.after_step || capabilities_.step_hook,
            "integrator '" + name_ + "' does not support OdeProblem::after_step");
    Trajectory trajectory = inner_->Solve(problem);
    if (drop_step_times_) trajectory.step_times.clear();
    return trajectory;
  }

 private:
  std::string name_;
  std::unique_ptr<Integrator> inner_;
  IntegratorCapabilities capabilities_;
  bool drop_step_times_;
};

// Registers `name` (once per process): the built-in `wrapped`, declaring `declared(capabilities
// of wrapped)`. Returns name.
inline std::string RegisterDeclared(
    const std::string& name, const std::string& wrapped,
    const std::function<IntegratorCapabilities(IntegratorCapabilities)>& declared,
    bool drop_step_times = false) {
  if (!IntegratorRegistry().Contains(name)) {
    IntegratorRegistry().Add(name, [=](const IntegratorOptions& options) {
      std::unique_ptr<Integrator> inner = IntegratorRegistry().Create(wrapped, options);
      IntegratorCapabilities capabilities = declared(inner->Capabilities());
      return std::make_unique<DeclaredIntegrator>(name, std::move(inner), capabilities,
                                                  drop_step_times);
    });
  }
  return name;
}

// Heun (explicit trapezoidal rule with its Euler embedding) declaring its tableau: bptt can
// replay it.
inline std::string HeunWithTableau() {
  return RegisterDeclared("plugin_heun_tableau", "heun", [](IntegratorCapabilities) {
    IntegratorCapabilities c;
    c.kind = IntegratorKind::kExplicit;
    c.tableau = ExplicitTableau("heun");
    c.order = 2;
    c.error_estimate = true;
    c.records_steps = true;
    return c;
  });
}

// dopri5 declaring its tableau and records_steps but returning no step times (a faulty plug-in).
inline std::string Dopri5LosingSteps() {
  return RegisterDeclared(
      "plugin_losing_steps", "dopri5", [](IntegratorCapabilities c) { return c; }, true);
}

// dopri5 declaring nothing (the default capabilities): no tableau, no jumps, no hooks.
inline std::string Dopri5WithoutDeclarations() {
  return RegisterDeclared("plugin_undeclared", "dopri5",
                          [](IntegratorCapabilities) { return IntegratorCapabilities(); });
}

// dopri5 declaring everything but output jumps: dense output and the step hook.
inline std::string Dopri5WithoutJumps() {
  return RegisterDeclared("plugin_no_jumps", "dopri5", [](IntegratorCapabilities c) {
    c.output_jumps = false;
    c.tableau.reset();
    return c;
  });
}

// A simple explicit adaptive method: no output jumps, no step hook, no dense output.
inline std::string Dopri5Simple() {
  return RegisterDeclared("plugin_simple", "dopri5", [](IntegratorCapabilities c) {
    IntegratorCapabilities simple;
    simple.kind = IntegratorKind::kExplicit;
    simple.order = c.order;
    simple.error_estimate = true;
    simple.records_steps = true;
    return simple;
  });
}

// An explicit method with a dense output, the step hook and output jumps (what backsolve's
// quadrature adjoint needs), under its own name and without a tableau.
inline std::string Dopri5Quadrature() {
  return RegisterDeclared("plugin_explicit_dense", "dopri5", [](IntegratorCapabilities c) {
    IntegratorCapabilities declared;
    declared.kind = IntegratorKind::kExplicit;
    declared.order = c.order;
    declared.error_estimate = true;
    declared.dense_output_order = c.dense_output_order;
    declared.step_hook = true;
    declared.output_jumps = true;
    declared.records_steps = true;
    return declared;
  });
}

}  // namespace test_plugins
}  // namespace snode
