#pragma once
// Shared command-line and output pieces of the snode apps (stiffness_study, exponential_decay,
// lotka_volterra, mnist_classifier), so every app spells its flags the same way and writes its
// results the same way.
//
// Command line. AddCommonOptions() adds
//   --help, --config FILE (a Boost options file: `name = value` lines, the same names as the long
//   flags; the command line wins), --integrator, --gradient, --rtol, --atol, --step, --max-steps,
//   --linear-solver dense|gmres|fgmres, --preconditioner auto|none|field|band, --step-controller
//   i|arkode (IntegratorOptions::step_controller), --outputs stop|interpolate|auto, --seed, --out
//   DIR, --list-integrators,
//   --list-gradients, --check-gradient (alias --check-gradients), --check-gradient-reference NAME,
//   --backward-integrator NAME (GradientOptions::backward_integrator; empty = the forward one),
//   the method flags --seminorm on|off, --backsolve-quadrature on|off, --backsolve-checkpoints
//   on|off (backsolve_adjoint's seminorm, quadrature, checkpoints) and --cvodes-observations
//   auto|restart|fundamental (cvodes_adjoint's observations), --gradient-option NAME=VALUE
//   (repeatable; any option of the --gradient method, plug-ins included), --plugin PATH.so
//   (repeatable), --tableau FILE (repeatable), --quiet
// with per-app defaults (CommonDefaults).
//
// Plug-ins (plugins/plugin.hpp). ParseCommandLine() loads those named by SNODE_PLUGIN_PATH, then
// every --plugin (command line, then config file), then registers every --tableau file
// (integrators/tableau_integrator.hpp) before it returns, so --integrator, --list-integrators and
// the name checks below see the new names. A plug-in or tableau file that cannot be loaded is an
// InputError/ConfigError naming it (plugins/plugin_loader.hpp, integrators/tableau_file.hpp).
//
// Method options reach the method as GradientOptions::method_settings, read by its registry
// factory (adjoint/gradient_method.hpp). A method flag enters them only when given explicitly
// (command line or config file), so a default run passes none and every method keeps its own
// defaults; given explicitly for a --gradient it does not belong to, it is a ConfigError (it
// would otherwise be silently ignored). --gradient-option names are checked by the method when
// the app creates it (ConfigError listing the method's options); one name given twice with
// different values (by a flag and --gradient-option, say) is a ConfigError here. ParseCommandLine()
// parses argv and the config file into a variables_map; ReadCommonOptions() turns it into
// IntegratorOptions/GradientOptions, validates them (a negative tolerance or step is a ConfigError
// naming the flag) and checks the integrator and gradient names against the registries (an unknown
// name is the registry's ConfigError listing the known names). HandleInfoOptions() answers --help /
// --list-integrators / --list-gradients.
//
// Gradient check. --check-gradient (its older spelling --check-gradients is an alias; where an
// app had an older check under that name it runs as well) makes the app run CheckGradient
// (adjoint/gradient_checker.hpp) on its current configuration (problem, loss, --gradient and its
// options, integrator, tolerances) before its main work, and print a compact table and the
// verdict (RunGradientCheck). --check-gradient-reference NAME (default finite_difference, or a
// registered gradient method) chooses the reference; given without --check-gradient it is a
// ConfigError.
//
// Errors. RunApp(main_fn) runs an app's body and turns every snode::Error,
// boost::program_options::error and std::exception into one line `error: <what>` on stderr and
// exit code 1 (2 for an unexpected std::exception), so bad input never crashes an app.
//
// Output: tables, plots and the progress line are in studies/report.hpp, atomic CSV/JSON files in
// io/files.hpp (both included here for the apps).
//
// Everything here throws snode::ConfigError (options) or snode::InputError (files).

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "adjoint/gradient_checker.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/usable_gradient.hpp"
#include "apps/common/flags.hpp"
#include "integrators/integrator.hpp"
#include "io/files.hpp"
#include "studies/gradient_study.hpp"
#include "studies/report.hpp"

namespace snode::app {

namespace po = boost::program_options;

// Per-app defaults of the common flags.
struct CommonDefaults {
  std::string integrator = "dopri5";
  std::string gradient = "bptt";
  double rtol = 1e-6;
  double atol = 1e-8;
  double step = 0.0;  // 0: adaptive
  long max_steps = 100000;
  std::string linear_solver = "dense";
  // --outputs: "stop" (every output time a stop time), "interpolate" (dense output between the
  // steps; adaptive dopri5, sdirk, cvodes_* only) or "auto" (interpolate where available).
  std::string outputs = "stop";
  // --backward-integrator: empty = the forward integrator.
  std::string backward_integrator;
  std::uint64_t seed = 0;
  std::string out = "results";
};

// The parsed common flags.
struct CommonOptions {
  std::string integrator;       // --integrator (checked against IntegratorRegistry())
  std::string gradient;         // --gradient (checked against GradientRegistry())
  bool integrator_set = false;  // given explicitly (command line or config file)
  bool gradient_set = false;
  bool rtol_set = false, atol_set = false, step_set = false, max_steps_set = false,
       linear_solver_set = false, preconditioner_set = false, step_controller_set = false,
       outputs_set = false, backward_integrator_set = false;
  std::string outputs;  // --outputs: stop, interpolate or auto
  IntegratorOptions
      integrator_options;  // rtol, atol, fixed_step (--step), max_steps, linear_solver
  // integrator name + integrator_options, backward_integrator, and the --gradient method's
  // options from the method flags and --gradient-option (method_settings)
  GradientOptions gradient_options;
  std::uint64_t seed = 0;               // --seed
  std::string out_dir;                  // --out
  bool check_gradients = false;         // --check-gradients given (the older spelling)
  bool check_gradient = false;          // --check-gradient or --check-gradients
  GradientCheckOptions gradient_check;  // --check-gradient-reference
  bool quiet = false;                   // --quiet
};

// Adds the common flags (see the file comment) to desc.
void AddCommonOptions(po::options_description& desc, const CommonDefaults& defaults = {});

// Parses argv, then the file named by --config (if any; options given on the command line take
// precedence), notifies and loads the plug-ins (LoadPlugins). Throws
// boost::program_options::error for unknown or malformed flags, InputError when the config file
// cannot be read, and the loader's errors for a plug-in.
Flags ParseCommandLine(int argc, const char* const argv[], const po::options_description& desc);

// Loads the plug-ins of SNODE_PLUGIN_PATH, then those given by --plugin, in order (loading one
// file twice is a no-op), then registers the --tableau files.
void LoadPlugins(const Flags& vm);

// Reads and validates the common flags. Throws ConfigError (bad value, unknown name).
CommonOptions ReadCommonOptions(const Flags& vm);

// For an app that runs its own matrix of methods and does not pass method options on
// (stiffness_study, exponential_decay): ConfigError naming the app when any were given (method
// flags or --gradient-option), so they are not silently ignored.
void RejectMethodOptions(const CommonOptions& options, const std::string& app);

// The method-matrix overrides of a study app (stiffness_study, exponential_decay): its filters
// and every explicitly given integrator and backward-integrator flag (studies/gradient_study.hpp,
// SelectMethods honours each one).
MethodOverrides ToMethodOverrides(const CommonOptions& options);

// The value of an int flag, or fallback when it was not given. Throws ConfigError
// "--<name> must be >= 1, got N" for a value below 1 (a count of iterations, epochs, …).
int PositiveIntOr(const Flags& vm, const char* name, int fallback);

// Answers --help (prints usage and desc), --list-integrators and --list-gradients (one name per
// line) on out. Returns true when one of them was given (the app should then exit 0).
bool HandleInfoOptions(const Flags& vm, const po::options_description& desc,
                       const std::string& usage, std::ostream& out);

// --check-gradient: CheckGradient(problem, loss, method, options, check) and its report on out:
// "gradient check <label>: <method> vs <reference>", a table of the checked components (the 8
// worst when there are more, with a line saying how many and whether a subset was drawn), and
// "gradient check <label>: <verdict> (max relative error E at <component>, tolerance T)" plus
// the method's or the reference's diagnosis when flagged. The verdict is a report: the app goes
// on with its main work whatever it is. Errors of the method or the integrators propagate.
GradientCheckResult RunGradientCheck(const std::string& label, const OdeProblem& problem,
                                     const Loss& loss, const std::string& method,
                                     const GradientOptions& options,
                                     const GradientCheckOptions& check, std::ostream& out);
// The same with --gradient and its options from the common flags.
GradientCheckResult RunGradientCheck(const std::string& label, const OdeProblem& problem,
                                     const Loss& loss, const CommonOptions& common,
                                     std::ostream& out);

// An app's command line as a unit that tests and the CLI fuzzer (tests/fuzz/cli_fuzz.cpp) drive
// without running the app: its options and the reading of every flag into its configuration.
// read() validates every value (ranges, names, input files being regular files) and ends with
// RejectUnusedFlags, so a read that returns means every given flag is honoured by the run; it
// does no work and writes nothing (the output directory is prepared by the app after it).
struct AppCommandLine {
  std::string name;   // the executable, e.g. "exponential_decay"
  std::string usage;  // --help's first lines
  std::function<void(po::options_description&)> add_options;  // the common flags and its own
  std::function<void(const Flags&)> read;
};

// Runs an app's start: parses argv (ParseCommandLine), answers the info flags (returns nullopt:
// the app then exits 0) or returns the flags for the app's own reading.
std::optional<Flags> StartCommandLine(int argc, const char* const argv[], const AppCommandLine& app,
                                      std::ostream& out);

// Runs main_fn and maps exceptions to `error: ...` on stderr; returns main_fn's exit code, 1 for a
// snode::Error or an options error, 2 for any other exception.
int RunApp(const std::function<int()>& main_fn);

// Splits "1,10,1e3" into numbers. Throws ConfigError naming flag on a malformed entry.
std::vector<double> ParseDoubleList(const std::string& text, const std::string& flag);
// Splits "a,b" into trimmed non-empty names.
std::vector<std::string> ParseNameList(const std::string& text);

}  // namespace snode::app
