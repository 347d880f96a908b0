// The only file that lists the built-in gradient methods. Adding one: its .hpp/.cpp pair, its
// options struct with FromSettings, and one line here that reads the options from
// GradientOptions::method_settings; tests/adjoint/gradient_contract_test.cpp then checks it
// against finite differences.
#include "adjoint/backsolve_adjoint.hpp"
#include "adjoint/bptt.hpp"
#include "adjoint/cvodes_adjoint.hpp"
#include "adjoint/cvodes_adjoint_options.hpp"
#include "adjoint/gradient_method.hpp"

namespace snode {

namespace {

// TRANSITIONAL: cvodes_adjoint still reads its options from GradientOptions' string fields.
GradientOptions WithCvodesOptions(GradientOptions options) {
  using O = CvodesAdjointOptions;
  const O own = O::FromSettings(options.method_settings);
  options.checkpoint_interval = own.checkpoint_interval;
  options.interpolation =
      own.interpolation == O::Interpolation::kPolynomial ? "polynomial" : "hermite";
  const char* quadrature[] = {"auto", "gauss", "cvodes"};
  const char* jump_layer[] = {"auto", "on", "off"};
  const char* observations[] = {"auto", "restart", "fundamental"};
  options.cvodes_quadrature = quadrature[static_cast<int>(own.quadrature)];
  options.cvodes_jump_layer = jump_layer[static_cast<int>(own.jump_layer)];
  options.cvodes_observations = observations[static_cast<int>(own.observations)];
  return options;
}

}  // namespace

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
      return std::make_unique<CvodesAdjoint>(WithCvodesOptions(o));
    });
    return r;
  }();
  return registry;
}

}  // namespace snode
