#pragma once
// The tableau files of examples/tableau for the tests: their folder (SNODE_TABLEAU_EXAMPLES_DIR,
// set in tests/CMakeLists.txt) and their registration, once per test process.
#include <string>

#include "integrators/arkode_erk_integrator.hpp"
#include "integrators/butcher_tableau.hpp"
#include "integrators/integrator.hpp"
#include "integrators/tableau_integrator.hpp"

namespace test_util {

inline const std::string kTableauExamples = SNODE_TABLEAU_EXAMPLES_DIR;

// Registers bogacki_shampine.json, sdirk2.json and the dopri5 tableau as "dopri5_as_data" in
// IntegratorRegistry(), each unless already there. dopri5_as_data carries Shampine's embedding:
// the tableau the built-in dopri5 runs under the default step control "i".
inline void RegisterTableauExamples() {
  snode::IntegratorRegistryType& registry = snode::IntegratorRegistry();
  for (const char* name : {"bogacki_shampine", "sdirk2"}) {
    if (!registry.Contains(name)) {
      snode::RegisterTableauFile(kTableauExamples + "/" + name + ".json");
    }
  }
  if (!registry.Contains("dopri5_as_data")) {
    snode::ButcherTableau dopri5 = snode::ExplicitTableau("dopri5");
    dopri5.b_embedded = snode::detail::ShampineDopri5Embedding();
    snode::RegisterTableau("dopri5_as_data", dopri5);
  }
}

}  // namespace test_util
