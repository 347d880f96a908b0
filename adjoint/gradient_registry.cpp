// The only file that lists the built-in gradient methods. Adding one: its .hpp/.cpp pair, its
// options struct with FromSettings, and one line here that reads the options from
// GradientOptions::method_settings; tests/adjoint/gradient_contract_test.cpp then checks it
// against finite differences.
#include "adjoint/backsolve_adjoint.hpp"
#include "adjoint/bptt.hpp"
#include "adjoint/cvodes_adjoint.hpp"
#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"

namespace snode {

GradientRegistryType& GradientRegistry() {
  static GradientRegistryType registry = [] {
    GradientRegistryType r("gradient method");
    r.Add("backsolve_adjoint", [](const GradientOptions& o) {
      return std::make_unique<BacksolveAdjoint>(o,
                                                BacksolveOptions::FromSettings(o.method_settings));
    });
    r.Add("bptt", [](const GradientOptions& o) {
      return std::make_unique<Bptt>(o, BpttOptions::FromSettings(o.method_settings));
    });
    r.Add("cvodes_adjoint", [](const GradientOptions& o) {
      return std::make_unique<CvodesAdjoint>(o,
                                             CvodesAdjointOptions::FromSettings(o.method_settings));
    });
    r.Add("finite_difference", [](const GradientOptions& o) {
      return std::make_unique<FiniteDifference>(
          o, FiniteDifferenceOptions::FromSettings(o.method_settings));
    });
    return r;
  }();
  return registry;
}

}  // namespace snode
