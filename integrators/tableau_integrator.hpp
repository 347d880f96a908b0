#pragma once
// Registering a Runge–Kutta method given as a Butcher tableau: the tableau is validated
// (ValidateTableau, integrators/tableau_file.hpp: shapes, c = A·1, explicit or diagonally
// implicit, the order conditions up to its order and embedded order) and registered under a name.
// An explicit tableau runs on ARKODE's ERKStep (ArkodeErkIntegrator), a diagonally implicit one on
// ARKStep with f implicit (ArkodeDirkIntegrator); both take every IntegratorOptions the built-ins
// take, adapt the step when the tableau has an embedding (b_embedded) and otherwise need
// options.fixed_step > 0. Their Capabilities() declare the tableau, so bptt replays the steps.
//
//   snode::RegisterTableauFile("bogacki_shampine.json");   // returns "bogacki_shampine"
//   auto integrator = snode::IntegratorRegistry().Create("bogacki_shampine", options);
//
// Register before starting threads (the registry is not locked).

#include <string>

#include "integrators/butcher_tableau.hpp"
#include "integrators/integrator.hpp"

namespace snode {

// A factory creating the ERK or DIRK integrator of the tableau under `name`, for a registry or a
// plug-in registrar. Validates the tableau now: throws ConfigError "tableau 'NAME': ..." when it
// fails.
IntegratorRegistryType::Factory MakeTableauFactory(const std::string& name, ButcherTableau tableau);

// Validates the tableau and adds it to `registry` under `name`. Throws ConfigError for a bad
// tableau or a name that is taken or not snake_case.
void RegisterTableau(IntegratorRegistryType& registry, const std::string& name,
                     const ButcherTableau& tableau);
// The same into IntegratorRegistry().
void RegisterTableau(const std::string& name, const ButcherTableau& tableau);

// Reads a tableau file (ReadTableauFile) and registers it in IntegratorRegistry() under the
// file's "name"; returns that name. Throws InputError (file unreadable, too large, not JSON) or
// ConfigError naming the file (bad content, failed condition, name taken).
std::string RegisterTableauFile(const std::string& path);

namespace detail {

// Hermite dense-output degree of the tableau integrators: the highest that needs no f beyond
// the step's end points (ARKODE lowers it to order − 1).
constexpr int kDenseOutputDegree = 3;

// The capabilities a tableau determines: order, tableau, error_estimate and needs_fixed_step
// (from the embedding), dense_output_order (min(3, order − 1); 0 at order 1), step_hook (with a
// dense output), interpolated_outputs (adaptive with a dense output), output_jumps and
// records_steps. The caller sets kind.
void FillTableauCapabilities(const ButcherTableau& tableau, IntegratorCapabilities& capabilities);

}  // namespace detail

}  // namespace snode
