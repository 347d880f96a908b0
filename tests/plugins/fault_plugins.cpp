// The faulty plug-ins of plugin_loader_test.cpp, one shared object each: the CMake target
// compiles this file with SNODE_FAULT set to one of the values below.
#include <memory>
#include <stdexcept>

#include "integrators/heun_integrator.hpp"
#include "plugins/plugin.hpp"
#include "problems/decay.hpp"

#define SNODE_FAULT_WRONG_ABI 1        // built for another kPluginAbiVersion
#define SNODE_FAULT_NO_ENTRY 2         // a shared object without the entry points
#define SNODE_FAULT_THROWS 3           // throws from the registration body after staging a name
#define SNODE_FAULT_TAKEN 4            // registers "dopri5"
#define SNODE_FAULT_SECOND_TAKEN 5     // a free integrator name, then the taken method "bptt"
#define SNODE_FAULT_BAD_NAME 6         // a name that is not snake_case
#define SNODE_FAULT_UNRESOLVED 7       // needs a symbol nothing defines (dlopen fails)
#define SNODE_FAULT_SAME_NAME_TWICE 8  // one name staged twice
#define SNODE_FAULT_PROBLEM_TAKEN 9    // a free integrator and problem name, then the problem "w1"

namespace {
std::unique_ptr<snode::Integrator> MakeHeun(const snode::IntegratorOptions& o) {
  return std::make_unique<snode::HeunIntegrator>(o);
}
[[maybe_unused]] std::unique_ptr<snode::problems::ProblemDefinition> MakeDecayProblem(
    const snode::problems::ProblemOptions&) {
  snode::problems::ProblemCapabilities c;
  c.description = "decay";
  c.sweeps = true;
  c.default_lambdas = {1.0};
  return snode::problems::MakeProblemDefinition(c, snode::problems::MakeDecay);
}
}  // namespace

#if SNODE_FAULT == SNODE_FAULT_WRONG_ABI
extern "C" SNODE_PLUGIN_EXPORT int snode_plugin_abi_version() noexcept {
  return snode::kPluginAbiVersion + 98;
}
extern "C" SNODE_PLUGIN_EXPORT void snode_plugin_register(snode::PluginRegistrar* r) noexcept {
  r->AddIntegrator("wrong_abi_heun", MakeHeun);
}
#elif SNODE_FAULT == SNODE_FAULT_NO_ENTRY
extern "C" SNODE_PLUGIN_EXPORT int not_an_snode_entry_point() { return MakeHeun({}) != nullptr; }
#elif SNODE_FAULT == SNODE_FAULT_UNRESOLVED
extern "C" void snode_test_symbol_nobody_defines();
SNODE_PLUGIN(registrar) {
  snode_test_symbol_nobody_defines();
  registrar.AddIntegrator("unresolved_heun", MakeHeun);
}
#else
SNODE_PLUGIN(registrar) {
#if SNODE_FAULT == SNODE_FAULT_THROWS
  registrar.AddIntegrator("throwing_heun", MakeHeun);
  registrar.AddProblem("throwing_problem", MakeDecayProblem);
  throw std::runtime_error("the plug-in's coefficient file is missing");
#elif SNODE_FAULT == SNODE_FAULT_TAKEN
  registrar.AddIntegrator("dopri5", MakeHeun);
#elif SNODE_FAULT == SNODE_FAULT_SECOND_TAKEN
  registrar.AddIntegrator("second_taken_heun", MakeHeun);
  registrar.AddGradientMethod("bptt", [](const snode::GradientOptions&) {
    return std::unique_ptr<snode::GradientMethod>();
  });
#elif SNODE_FAULT == SNODE_FAULT_BAD_NAME
  registrar.AddIntegrator("Bad-Name", MakeHeun);
#elif SNODE_FAULT == SNODE_FAULT_PROBLEM_TAKEN
  registrar.AddIntegrator("problem_taken_heun", MakeHeun);
  registrar.AddProblem("problem_taken_decay", MakeDecayProblem);
  registrar.AddProblem("w1", MakeDecayProblem);
#elif SNODE_FAULT == SNODE_FAULT_SAME_NAME_TWICE
  registrar.AddIntegrator("twice_heun", MakeHeun);
  registrar.AddIntegrator("twice_heun", MakeHeun);
#else
#error "SNODE_FAULT: unknown value"
#endif
}
#endif
