#include "integrators/tableau_integrator.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "core/errors.hpp"
#include "integrators/arkode_dirk_integrator.hpp"
#include "integrators/arkode_erk_integrator.hpp"
#include "integrators/tableau_file.hpp"

namespace snode {

namespace detail {

void FillTableauCapabilities(const ButcherTableau& tableau, IntegratorCapabilities& capabilities) {
  capabilities.order = tableau.order;
  capabilities.tableau = tableau;
  capabilities.error_estimate = tableau.HasEmbedding();
  capabilities.needs_fixed_step = !tableau.HasEmbedding();
  capabilities.dense_output_order =
      tableau.order > 1 ? std::min(kDenseOutputDegree, tableau.order - 1) : 0;
  capabilities.output_jumps = true;
  capabilities.step_hook = capabilities.dense_output_order > 0;
  capabilities.interpolated_outputs =
      capabilities.error_estimate && capabilities.dense_output_order > 0;
  capabilities.records_steps = true;
}

}  // namespace detail

IntegratorRegistryType::Factory MakeTableauFactory(const std::string& name,
                                                   ButcherTableau tableau) {
  ValidateTableau(tableau, "tableau '" + name + "'");
  if (tableau.IsExplicit()) {
    return [name, tableau = std::move(tableau)](const IntegratorOptions& options) {
      return std::make_unique<ArkodeErkIntegrator>(name, tableau, options);
    };
  }
  return [name, tableau = std::move(tableau)](const IntegratorOptions& options) {
    return std::make_unique<ArkodeDirkIntegrator>(name, tableau, options);
  };
}

void RegisterTableau(IntegratorRegistryType& registry, const std::string& name,
                     const ButcherTableau& tableau) {
  registry.Add(name, MakeTableauFactory(name, tableau));
}

void RegisterTableau(const std::string& name, const ButcherTableau& tableau) {
  RegisterTableau(IntegratorRegistry(), name, tableau);
}

std::string RegisterTableauFile(const std::string& path) {
  std::string name;
  const ButcherTableau tableau = ReadTableauFile(path, &name);
  try {
    RegisterTableau(name, tableau);
  } catch (const ConfigError& e) {
    throw ConfigError("tableau file '" + path + "': " + e.what());
  }
  return name;
}

}  // namespace snode
