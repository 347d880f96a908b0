// The problem plug-in: registers Michaelis–Menten kinetics (michaelis_menten.hpp) as problem
// "michaelis_menten" when an app loads this shared library (--plugin libmichaelis_menten.so, or
// SNODE_PLUGIN_PATH).
#include "michaelis_menten.hpp"
#include "plugins/plugin.hpp"

SNODE_PLUGIN(registrar) {
  registrar.AddProblem("michaelis_menten", [](const snode::problems::ProblemOptions&) {
    return snode::problems::MakeProblemDefinition(
        "michaelis_menten", michaelis_menten::Capabilities(), michaelis_menten::Make);
  });
}
