// Registries and plug-ins from Python (docs/python.md, "Registries and plug-ins").
#include <pybind11/stl.h>

#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "plugins/plugin_loader.hpp"
#include "problems/problem_registry.hpp"
#include "python/src/bindings.hpp"

namespace snode::python {
namespace {

const char* KindName(IntegratorKind kind) {
  switch (kind) {
    case IntegratorKind::kExplicit:
      return "explicit";
    case IntegratorKind::kDiagonallyImplicit:
      return "diagonally_implicit";
    case IntegratorKind::kMultistep:
      return "multistep";
    case IntegratorKind::kExponential:
      return "exponential";
    case IntegratorKind::kOther:
      break;
  }
  return "other";
}

const char* CvodesMethodName(CvodesMethod method) {
  switch (method) {
    case CvodesMethod::kAdams:
      return "adams";
    case CvodesMethod::kBdf:
      return "bdf";
    case CvodesMethod::kNone:
      break;
  }
  return "none";
}

// An integrator that needs a fixed step refuses the default options; its capabilities do not
// depend on the step.
IntegratorCapabilities CapabilitiesOf(const std::string& name) {
  Require(IntegratorRegistry().Contains(name), [&] {
    return "unknown integrator '" + name + "'; known: " + IntegratorRegistry().KnownNames();
  });
  try {
    return IntegratorRegistry().Create(name, IntegratorOptions{})->Capabilities();
  } catch (const ConfigError&) {
    IntegratorOptions fixed;
    fixed.fixed_step = 1.0;
    return IntegratorRegistry().Create(name, fixed)->Capabilities();
  }
}

py::dict Capabilities(const std::string& name) {
  const IntegratorCapabilities c = CapabilitiesOf(name);
  py::dict d;
  d["kind"] = KindName(c.kind);
  d["order"] = c.order;
  d["error_estimate"] = c.error_estimate;
  d["needs_fixed_step"] = c.needs_fixed_step;
  d["dense_output_order"] = c.dense_output_order;
  d["output_jumps"] = c.output_jumps;
  d["step_hook"] = c.step_hook;
  d["interpolated_outputs"] = c.interpolated_outputs;
  d["records_steps"] = c.records_steps;
  d["tableau"] = c.tableau.has_value();
  d["cvodes_method"] = CvodesMethodName(c.cvodes_method);
  return d;
}

}  // namespace

void BindRegistries(py::module_& m) {
  m.def(
      "integrators", [] { return IntegratorRegistry().Names(); },
      "Names of the registered integrators, sorted (built-ins and loaded plug-ins).");
  m.def(
      "gradient_methods", [] { return GradientRegistry().Names(); },
      "Names of the registered gradient methods, sorted.");
  m.def(
      "problems", [] { return problems::ProblemRegistry().Names(); },
      "Names of the registered problems, sorted.");
  m.def("integrator_capabilities", &Capabilities, py::arg("name"),
        "What the integrator declares it is and can do (IntegratorCapabilities) as a dict.");
  m.def(
      "load_plugin",
      [](const py::object& path) {
        LoadPlugin(py::module_::import("os").attr("fspath")(path).cast<std::string>());
      },
      py::arg("path"),
      "Loads an snode plug-in (a shared object built with SNODE_PLUGIN) into the registries.");
  m.def(
      "loaded_plugins", [] { return LoadedPlugins(); },
      "Canonical paths of the plug-ins loaded so far.");
}

}  // namespace snode::python
