// The only file that lists the built-in integrators. Adding one: its .hpp/.cpp pair, one line
// here, and one snode_add_integrator_contract_test() line in tests/CMakeLists.txt (the contract).
#include <memory>

#include "integrators/arkode_dirk_integrator.hpp"
#include "integrators/arkode_erk_integrator.hpp"
#include "integrators/cvodes_integrator.hpp"
#include "integrators/epi2_integrator.hpp"
#include "integrators/heun_integrator.hpp"
#include "integrators/integrator.hpp"

namespace snode {

IntegratorRegistryType& IntegratorRegistry() {
  static IntegratorRegistryType registry = [] {
    IntegratorRegistryType r("integrator");
    for (const char* name : {"euler", "rk4", "dopri5"}) {
      r.Add(name, [name](const IntegratorOptions& o) {
        return std::make_unique<ArkodeErkIntegrator>(name, o);
      });
    }
    for (const char* name : {"backward_euler", "sdirk"}) {
      r.Add(name, [name](const IntegratorOptions& o) {
        return std::make_unique<ArkodeDirkIntegrator>(name, o);
      });
    }
    for (const char* name : {"cvodes_bdf", "cvodes_adams"}) {
      r.Add(name, [name](const IntegratorOptions& o) {
        return std::make_unique<CvodesIntegrator>(name, o);
      });
    }
    r.Add("epi2", [](const IntegratorOptions& o) { return std::make_unique<Epi2Integrator>(o); });
    r.Add("heun", [](const IntegratorOptions& o) { return std::make_unique<HeunIntegrator>(o); });
    return r;
  }();
  return registry;
}

}  // namespace snode
