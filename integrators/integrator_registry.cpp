// The only file that lists the built-in integrators. Adding one: its .hpp/.cpp pair, one line
// here, and it is picked up by the contract test in tests/integrators/integrator_contract_test.cpp.
#include "integrators/integrator.hpp"

namespace snode {

IntegratorRegistryType& IntegratorRegistry() {
  static IntegratorRegistryType registry = [] {
    IntegratorRegistryType r("integrator");
    return r;
  }();
  return registry;
}

}  // namespace snode
