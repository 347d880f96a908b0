// The only file that lists the built-in gradient methods. Adding one: its .hpp/.cpp pair and one
// line here; tests/adjoint/gradient_contract_test.cpp then checks it against finite differences.
#include "adjoint/backsolve_adjoint.hpp"
#include "adjoint/bptt.hpp"
#include "adjoint/cvodes_adjoint.hpp"
#include "adjoint/gradient_method.hpp"

namespace snode {

GradientRegistryType& GradientRegistry() {
  static GradientRegistryType registry = [] {
    GradientRegistryType r("gradient method");
    r.Add("backsolve_adjoint", [](const GradientOptions& options) {
      return std::make_unique<BacksolveAdjoint>(options);
    });
    r.Add("bptt", [](const GradientOptions& options) { return std::make_unique<Bptt>(options); });
    r.Add("cvodes_adjoint",
          [](const GradientOptions& options) { return std::make_unique<CvodesAdjoint>(options); });
    return r;
  }();
  return registry;
}

}  // namespace snode
