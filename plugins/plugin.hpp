#pragma once
// Writing an snode plug-in: a shared library that adds integrators, gradient methods and problems
// at run time (`--plugin PATH.so` in every app, SNODE_PLUGIN_PATH, or snode::LoadPlugin()).
//
//   #include <snode/plugins/plugin.hpp>
//
//   SNODE_PLUGIN(registrar) {
//     registrar.AddIntegrator("bs32", [](const snode::IntegratorOptions& o) {
//       return std::make_unique<Bs32>(o);
//     });
//     registrar.AddProblem("michaelis_menten", [](const snode::problems::ProblemOptions&) {
//       return snode::problems::MakeProblemDefinition("michaelis_menten", capabilities, Make);
//     });
//   }
//
// SNODE_PLUGIN defines the plug-in's two extern "C" entry points (default visibility):
//   int  snode_plugin_abi_version()                  the kPluginAbiVersion it was compiled with
//   void snode_plugin_register(PluginRegistrar*)     runs the body above; never throws: an
//                                                    exception's message goes back to the host
//                                                    through PluginRegistrar::Fail()
// The host (plugins/plugin_loader.hpp) checks the version, calls the entry point with its own
// registrar and then commits what was staged into its IntegratorRegistry(), GradientRegistry()
// and problems::ProblemRegistry() - only when the body returned without error and every name is
// free, so a failing plug-in registers nothing.
//
// Why a registrar and not IntegratorRegistry().Add() from a static initialiser: a plug-in may be
// linked against static snode libraries and then carries its own copy of the registries. Every
// member of PluginRegistrar is inline and touches only the object the host passed in, so whatever
// the plug-in stages lands in the host's registries whether snode is built static or shared.
//
// Build a plug-in as a MODULE library linked with snode::plugins, as examples/problem_plugin does
// (one that adds integrators only may link snode::integrators, as examples/bs32_plugin does). The
// factories and the objects they create live in the plug-in's code, which is why the host never
// unloads a plug-in.

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "integrators/integrator.hpp"
#include "problems/problem_registry.hpp"

namespace snode {

// Bumped whenever a type a plug-in sees (PluginRegistrar, IntegratorOptions, Integrator,
// GradientOptions, GradientMethod, ProblemDefinition, ProblemSetup, VectorField, ...) changes
// layout or virtual functions. The host rejects a plug-in built with another version.
// 2: PluginRegistrar::AddProblem. 3: OdeProblem::distribution. 4: VectorField's state
// linearisations (LinearizationSize, Linearize, VjpStateLinearized) and JacobianBlocks.
constexpr int kPluginAbiVersion = 4;

// The names of the two entry points SNODE_PLUGIN defines.
constexpr const char* kPluginAbiVersionSymbol = "snode_plugin_abi_version";
constexpr const char* kPluginRegisterSymbol = "snode_plugin_register";

// Handed to a plug-in's entry point. Additions are staged and committed only when the entry point
// returns without error and no name is taken, so a failing plug-in registers nothing.
class PluginRegistrar {
 public:
  template <class Factory>
  using Entries = std::vector<std::pair<std::string, Factory>>;

  // Stages an integrator / a gradient method under a snake_case name (checked by the host when it
  // commits; a name already registered there is a ConfigError naming the name and the plug-in).
  void AddIntegrator(const std::string& name, IntegratorRegistryType::Factory factory) {
    integrators_.emplace_back(name, std::move(factory));
  }
  void AddGradientMethod(const std::string& name, GradientRegistryType::Factory factory) {
    gradient_methods_.emplace_back(name, std::move(factory));
  }
  // Stages a problem (problems/problem_registry.hpp), by the same rules.
  void AddProblem(const std::string& name, problems::ProblemRegistryType::Factory factory) {
    problems_.emplace_back(name, std::move(factory));
  }

  // Host side. What the plug-in staged, in the order it staged it.
  const Entries<IntegratorRegistryType::Factory>& integrators() const { return integrators_; }
  const Entries<GradientRegistryType::Factory>& gradient_methods() const {
    return gradient_methods_;
  }
  const Entries<problems::ProblemRegistryType::Factory>& problems() const { return problems_; }

  // Called by SNODE_PLUGIN's entry point when the body threw: the host turns it into a
  // ConfigError and registers nothing.
  void Fail(const char* message) noexcept {
    try {
      failed_ = true;
      error_ = message != nullptr ? message : "";
    } catch (...) {  // out of memory copying the message: the flag alone still fails the load
    }
  }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }

 private:
  Entries<IntegratorRegistryType::Factory> integrators_;
  Entries<GradientRegistryType::Factory> gradient_methods_;
  Entries<problems::ProblemRegistryType::Factory> problems_;
  bool failed_ = false;
  std::string error_;
};

}  // namespace snode

#if defined(__GNUC__)
#define SNODE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SNODE_PLUGIN_EXPORT
#endif

// Defines the plug-in's entry points; the block that follows is the body, run with
// `registrar_name` bound to the host's PluginRegistrar. One SNODE_PLUGIN per shared library.
#define SNODE_PLUGIN(registrar_name)                                       \
  static void SnodePluginBody(::snode::PluginRegistrar& registrar_name);   \
  extern "C" SNODE_PLUGIN_EXPORT int snode_plugin_abi_version() noexcept { \
    return ::snode::kPluginAbiVersion;                                     \
  }                                                                        \
  extern "C" SNODE_PLUGIN_EXPORT void snode_plugin_register(               \
      ::snode::PluginRegistrar* registrar) noexcept {                      \
    try {                                                                  \
      SnodePluginBody(*registrar);                                         \
    } catch (const std::exception& e) {                                    \
      registrar->Fail(e.what());                                           \
    } catch (...) {                                                        \
      registrar->Fail("an exception that is not a std::exception");        \
    }                                                                      \
  }                                                                        \
  static void SnodePluginBody(::snode::PluginRegistrar& registrar_name)
