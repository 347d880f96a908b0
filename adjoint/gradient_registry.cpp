// The only file that lists the built-in gradient methods. Adding one: its .hpp/.cpp pair and one
// line here; tests/adjoint/gradient_contract_test.cpp then checks it against finite differences.
#include "adjoint/gradient_method.hpp"

namespace snode {

GradientRegistryType& GradientRegistry() {
  static GradientRegistryType registry = [] {
    GradientRegistryType r("gradient method");
    return r;
  }();
  return registry;
}

}  // namespace snode
