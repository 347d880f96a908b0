#pragma once
// The integrator contract as a reusable GoogleTest suite (library snode::testing): everything
// integrators/integrator.hpp promises, checked on one or more *subjects* — a registered integrator
// with the options that make it accurate and the error it must then reach. A plug-in author runs
// it on their method from their own project, either through the runner executable
//
//   snode_integrator_contract --plugin libmine.so --integrator mine --setting rtol=1e-9
//                             --setting tolerance=1e-6 [--gtest_filter=...]
//
// or, in CMake (cmake/SnodeContractTest.cmake, provided by find_package(snode)),
//
//   add_library(mine MODULE mine.cpp)                  # SNODE_PLUGIN(registrar) { ... }
//   target_link_libraries(mine PRIVATE snode::plugins)
//   enable_testing()
//   snode_add_integrator_contract_test(NAME contract.mine INTEGRATOR mine PLUGIN mine
//                                      SETTINGS rtol=1e-9 atol=1e-11 tolerance=1e-6)
//
// (TABLEAU file.json instead of PLUGIN for a method given as a Butcher tableau file), or from a
// test executable of their own that links snode::testing, registers the method and calls
// RunIntegratorContract(argc, argv) from main (RUNNER <target> in the CMake function).
//
// Which checks run is decided from the method's declared Capabilities(), never from its name; a
// check whose capability is not declared is skipped with the reason printed (a declared
// capability is a promise the suite holds the method to). The suites (for --gtest_filter):
//   ContractSolve      accuracy on the logistic problem, outputs (first output at t0, stop
//                      times, recorded steps when records_steps), fixed steps take exactly
//                      the planned steps (integrators/fixed_steps.hpp: no round-off step, max_steps
//                      exactly enough), bad options and problems are
//                      ConfigErrors, 1 000 reused solves equal fresh objects, NaN → NumericalError
//                      naming the integrator and the time, field exceptions unchanged, state-size
//                      change between solves
//   ContractHooks      at_output jumps (output_jumps; otherwise a ConfigError), after_step with an
//                      accurate dense output (step_hook; otherwise a ConfigError), interpolated
//                      outputs (interpolated_outputs; otherwise a ConfigError)
//   ContractOrder      measured convergence order within ±0.1 of the declared order (fixed steps,
//                      or a tolerance sweep when the method refuses fixed steps)
//   ContractGradients  Lotka–Volterra dL/dθ, dL/dz0 against central differences to 1e-6 relative:
//                      bptt (declared tableau), backsolve_adjoint (the method forward and
//                      backward), cvodes_adjoint (cvodes_bdf forward, the method backward)

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "integrators/integrator.hpp"

namespace snode::contract {

struct ContractSubject {
  std::string integrator;      // registry name
  IntegratorOptions settings;  // options under which the method is accurate on the logistic problem
  // The largest error |z − exact| allowed at the logistic problem's outputs under `settings`.
  double tolerance = 1e-5;
};

// A subject for `integrator` with the defaults for an adaptive method: rtol 1e-8, atol 1e-10,
// tolerance 1e-5.
ContractSubject DefaultContractSubject(const std::string& integrator);

// Applies one "key=value": the IntegratorOptions fields rtol, atol, fixed_step, initial_step,
// initial_step_estimate, step_controller, max_step, max_steps, linear_solver, preconditioner,
// max_nonlinear_iters, krylov_max_dim, and tolerance (the accuracy the subject must reach).
// record_steps and interpolate_outputs are the contract's to set. Throws ConfigError for a
// malformed text, an unknown key (listing the known ones) or a value that does not convert.
void ApplyContractSetting(const std::string& key_equals_value, ContractSubject& subject);

// The subjects the suites are instantiated with. Set them before ::testing::InitGoogleTest
// (instantiation happens there); setting them also makes sure every suite is linked in.
void SetContractSubjects(std::vector<ContractSubject> subjects);
const std::vector<ContractSubject>& ContractSubjects();

// Runner main: parses --integrator NAME (repeatable; or a comma-separated list) and --setting
// KEY=VALUE (repeatable, applied to every subject), hands the remaining arguments to GoogleTest
// (--gtest_filter, ...) and runs the suites. Returns the process exit code: 0 when every test
// passed, 1 on a failure, 2 on a usage error (printed, as is any exception an extra flag's action
// throws). `extra_flags` maps further flags taking a value ("--plugin") to an action run with the
// value, in command-line order, before the subjects are created; every flag is accepted as
// "--flag VALUE" and "--flag=VALUE".
using ExtraFlags = std::map<std::string, std::function<void(const std::string& value)>>;
int RunIntegratorContract(int argc, char** argv, const ExtraFlags& extra_flags = {});

}  // namespace snode::contract
