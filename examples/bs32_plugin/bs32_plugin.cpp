// The bs32 plug-in: registers Bogacki–Shampine 3(2) (bs32.hpp) as integrator "bs32" when an app
// loads this shared library (--plugin libbs32.so, or SNODE_PLUGIN_PATH).
#include <memory>

#include "bs32.hpp"
#include "plugins/plugin.hpp"

SNODE_PLUGIN(registrar) {
  registrar.AddIntegrator(
      "bs32", [](const snode::IntegratorOptions& o) { return std::make_unique<Bs32>(o); });
}
