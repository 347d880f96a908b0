#include "apps/common/app_common.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>

#include "core/dense_kernels.hpp"
#include "core/errors.hpp"
#include "core/input_file.hpp"
#include "integrators/tableau_integrator.hpp"
#include "plugins/plugin_loader.hpp"

namespace snode::app {

namespace fs = std::filesystem;

void AddCommonOptions(po::options_description& desc, const CommonDefaults& defaults) {
  // clang-format off
  desc.add_options()
      ("help,h", po::bool_switch(), "print this help and exit")
      ("config", po::value<std::string>(),
       "read options from FILE (lines `name = value`, names as the long flags; the command line wins)")
      ("integrator", po::value<std::string>()->default_value(defaults.integrator),
       "integrator name (see --list-integrators)")
      ("gradient", po::value<std::string>()->default_value(defaults.gradient),
       "gradient method name (see --list-gradients)")
      ("rtol", po::value<double>()->default_value(defaults.rtol), "relative tolerance (> 0)")
      ("atol", po::value<double>()->default_value(defaults.atol), "absolute tolerance (> 0)")
      ("step", po::value<double>()->default_value(defaults.step),
       "fixed step size for fixed-step integrators (> 0), 0 = adaptive")
      ("max-steps", po::value<long>()->default_value(defaults.max_steps),
       "maximum steps per output interval (> 0)")
      ("linear-solver", po::value<std::string>()->default_value(defaults.linear_solver),
       "implicit methods: dense (Jacobian, up to 4096 states), gmres or fgmres (Krylov, "
       "Jacobian-vector products)")
      ("preconditioner", po::value<std::string>()->default_value("auto"),
       "gmres/fgmres: auto (the field's preconditioner when it offers one), none, field or band "
       "(SUNDIALS' banded difference quotients)")
      ("step-controller", po::value<std::string>()->default_value("i"),
       "adaptive explicit Runge-Kutta (dopri5, tableaus with an embedding): i (torchdiffeq's "
       "step control with a stability cap) or arkode (ERKStep's own defaults)")
      ("outputs", po::value<std::string>()->default_value(defaults.outputs),
       "output times: stop (each one a stop time), interpolate (dense output between steps, as "
       "torchdiffeq; adaptive dopri5, sdirk, cvodes_bdf, cvodes_adams) or auto (interpolate "
       "where available)")
      // Read as text: Boost's unsigned conversion would silently wrap "-1" to 2^64 − 1.
      ("seed", po::value<std::string>()->default_value(std::to_string(defaults.seed)),
       "random seed (a non-negative integer)")
      ("out", po::value<std::string>()->default_value(defaults.out),
       "output directory for CSV, JSON and plots")
      ("list-integrators", po::bool_switch(), "list the registered integrators and exit")
      ("list-gradients", po::bool_switch(), "list the registered gradient methods and exit")
      ("check-gradient", po::bool_switch(),
       "before the main work, check the --gradient method's gradient on this configuration "
       "against an independent reference (central differences of a tightly solved map) and "
       "print the per-component errors and a verdict")
      ("check-gradients", po::bool_switch(),
       "alias of --check-gradient (also runs an app's older check, where it has one)")
      ("check-gradient-reference", po::value<std::string>()->default_value("finite_difference"),
       "--check-gradient's reference: finite_difference or a registered gradient method")
      ("seminorm", po::value<std::string>()->default_value("on"),
       "backsolve_adjoint (augmented): on = the parameter integral stays out of the backward "
       "error test (Kidger et al. 2021), off = full norm")
      ("backsolve-quadrature", po::value<std::string>()->default_value("on"),
       "backsolve_adjoint with an explicit backward integrator: on = dL/dtheta by Gauss-Legendre "
       "quadrature over the backward steps, off = carried in the ODE state")
      ("backward-integrator", po::value<std::string>()->default_value(defaults.backward_integrator),
       "adjoint methods: integrator of the backward solve (empty = the forward one); "
       "cvodes_adjoint with dopri5 = the interpolating adjoint over the recorded forward")
      ("cvodes-observations", po::value<std::string>()->default_value("auto"),
       "cvodes_adjoint with a CVODES backward: restart = CVodeReInitB at every observation, "
       "fundamental = one backward solve of the n x n fundamental matrix with the jumps folded "
       "in, auto = fundamental for n <= 8 with the Gauss quadrature, no jump layer and at least n "
       "observations inside (t0, T)")
      ("backsolve-checkpoints", po::value<std::string>()->default_value("on"),
       "backsolve_adjoint: on = reset the reconstructed z to the stored forward state at every "
       "observation time (the error grows within one interval only), off = carry it from t_N "
       "to t0")
      ("gradient-option", po::value<std::vector<std::string>>()->composing(),
       "NAME=VALUE: an option of the --gradient method (repeatable), e.g. quadrature=gauss for "
       "cvodes_adjoint; the method rejects a name it does not know")
      ("plugin", po::value<std::vector<std::string>>()->composing(),
       "load the snode plug-in PATH.so (repeatable; after those in SNODE_PLUGIN_PATH), adding "
       "its integrators and gradient methods")
      ("tableau", po::value<std::vector<std::string>>()->composing(),
       "register the Butcher tableau of the JSON file FILE as an integrator under its \"name\" "
       "(repeatable; validated on load, order conditions included; docs/plugins.md)")
      ("quiet,q", po::bool_switch(), "no progress line");
  // clang-format on
}

namespace {

// The text of a --config file: a regular file of at most kMaxConfigFileBytes. Reads at most one
// byte more than that, so a device that never ends (/dev/zero) is refused instead of read
// forever, and a directory is named as such instead of being read as an empty file.
constexpr std::size_t kMaxConfigFileBytes = 1 << 20;

std::string ReadConfigFile(const std::string& path) {
  switch (KindOfInputFile(path)) {
    case InputFileKind::kMissing:
      throw InputError("cannot read --config file '" + path + "': no such file");
    case InputFileKind::kDirectory:
      throw InputError("--config file '" + path + "' is a directory, not an options file");
    case InputFileKind::kNotRegular:
      throw InputError("--config file '" + path + "' is not a regular file (a device or a pipe)");
    case InputFileKind::kRegular:
      break;
  }
  std::string text = ReadInputFilePrefix(path, kMaxConfigFileBytes, "--config file '" + path + "'");
  if (text.size() > kMaxConfigFileBytes) {
    throw InputError("--config file '" + path + "' is larger than the " +
                     std::to_string(kMaxConfigFileBytes) + " bytes an options file may have");
  }
  return text;
}

}  // namespace

Flags ParseCommandLine(int argc, const char* const argv[], const po::options_description& desc) {
  po::variables_map vm;
  const po::parsed_options parsed = po::command_line_parser(argc, argv).options(desc).run();
  // No positional arguments: a stray word (a typo, a missing "--") is an error, not ignored.
  const std::vector<std::string> stray =
      po::collect_unrecognized(parsed.options, po::include_positional);
  if (!stray.empty()) {
    throw ConfigError("unexpected argument '" + stray.front() +
                      "': every option is a flag (--name value); see --help");
  }
  po::store(parsed, vm);
  if (vm.count("config")) {
    std::istringstream file(ReadConfigFile(vm["config"].as<std::string>()));
    // po::store keeps the first value stored, so the command line (stored above) wins.
    po::store(po::parse_config_file(file, desc), vm);
  }
  po::notify(vm);
  const Flags flags(std::move(vm));
  flags.MarkRead("config");  // read above
  LoadPlugins(flags);
  return flags;
}

void LoadPlugins(const Flags& vm) {
  LoadPluginsFromEnvironment();
  if (vm.count("plugin") != 0) {
    for (const std::string& path : vm["plugin"].as<std::vector<std::string>>()) LoadPlugin(path);
  }
  if (vm.count("tableau") != 0) {
    for (const std::string& path : vm["tableau"].as<std::vector<std::string>>()) {
      RegisterTableauFile(path);
    }
  }
}

namespace {

// True when the option was given on the command line or in the config file.
bool IsSet(const Flags& vm, const char* name) {
  vm.MarkRead(name);
  return vm.Given(name);
}

void CheckName(const std::string& name, const std::string& kind, bool known,
               const std::string& known_names) {
  if (!known) throw ConfigError("unknown " + kind + " '" + name + "'; known: " + known_names);
}

// The flags that set one option of one gradient method. Their values are checked here (the
// messages name the flag); they reach the method as GradientOptions::method_settings.
struct MethodFlag {
  const char* flag;
  const char* method;
  const char* setting;
  std::vector<std::string> values;
};

const std::vector<MethodFlag>& MethodFlags() {
  static const std::vector<MethodFlag> flags = {
      {"seminorm", "backsolve_adjoint", "seminorm", {"on", "off"}},
      {"backsolve-quadrature", "backsolve_adjoint", "quadrature", {"on", "off"}},
      {"backsolve-checkpoints", "backsolve_adjoint", "checkpoints", {"on", "off"}},
      {"cvodes-observations", "cvodes_adjoint", "observations", {"auto", "restart", "fundamental"}},
  };
  return flags;
}

// "'a', 'b' or 'c'"
std::string Alternatives(const std::vector<std::string>& values) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == values.size() ? " or " : ", ") + ("'" + values[i] + "'");
  }
  return text;
}

// The method flags given explicitly and every --gradient-option, as the settings of `gradient`.
// A method flag of another method, or one setting given twice, is a ConfigError.
Settings ReadMethodSettings(const Flags& vm, const std::string& gradient) {
  Settings settings;
  for (const MethodFlag& f : MethodFlags()) {
    const std::string value = vm[f.flag].as<std::string>();
    Require(std::find(f.values.begin(), f.values.end(), value) != f.values.end(),
            std::string("--") + f.flag + " must be " + Alternatives(f.values) + ", got '" + value +
                "'");
    if (!IsSet(vm, f.flag)) continue;
    Require(gradient == f.method, std::string("--") + f.flag + " is an option of --gradient " +
                                      f.method + ", not of '" + gradient + "'");
    settings.Set(f.setting, value);
  }
  if (vm.count("gradient-option") == 0) return settings;
  for (const std::string& text : vm["gradient-option"].as<std::vector<std::string>>()) {
    Settings one;
    one.SetFromText(text);
    const auto& [name, value] = *one.values().begin();
    const std::optional<std::string> before = settings.Get(name);
    if (before && *before != value) {
      throw ConfigError("gradient option " + name + " is given twice ('" + *before + "' and '" +
                        value + "')");
    }
    settings.Set(name, value);
  }
  return settings;
}

}  // namespace

namespace {
// "--seed" as a uint64: digits only (no sign, no spaces), no overflow.
std::uint64_t ParseSeed(const std::string& text) {
  const bool digits_only = !text.empty() && text.size() <= 20 &&
                           text.find_first_not_of("0123456789") == std::string::npos;
  Require(digits_only, "--seed must be a non-negative integer, got '" + text + "'");
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
  Require(errno != ERANGE,
          "--seed is too large (at most 18446744073709551615), got '" + text + "'");
  return static_cast<std::uint64_t>(value);
}
}  // namespace

CommonOptions ReadCommonOptions(const Flags& vm) {
  CommonOptions options;
  options.integrator = vm["integrator"].as<std::string>();
  options.gradient = vm["gradient"].as<std::string>();
  options.integrator_set = IsSet(vm, "integrator");
  options.gradient_set = IsSet(vm, "gradient");
  options.rtol_set = IsSet(vm, "rtol");
  options.atol_set = IsSet(vm, "atol");
  options.step_set = IsSet(vm, "step");
  options.max_steps_set = IsSet(vm, "max-steps");
  options.linear_solver_set = IsSet(vm, "linear-solver");
  options.preconditioner_set = IsSet(vm, "preconditioner");
  options.step_controller_set = IsSet(vm, "step-controller");
  options.outputs_set = IsSet(vm, "outputs");
  options.backward_integrator_set = IsSet(vm, "backward-integrator");

  IntegratorOptions& io = options.integrator_options;
  io.rtol = vm["rtol"].as<double>();
  io.atol = vm["atol"].as<double>();
  io.fixed_step = vm["step"].as<double>();
  io.max_steps = vm["max-steps"].as<long>();
  io.linear_solver = vm["linear-solver"].as<std::string>();
  io.preconditioner = vm["preconditioner"].as<std::string>();
  io.step_controller = vm["step-controller"].as<std::string>();
  // Name the flag, not the struct field, in the messages users see.
  Require(std::isfinite(io.rtol) && io.rtol > 0.0, "--rtol must be positive and finite, got " +
                                                       FormatNumber(io.rtol, 6) +
                                                       UnrepresentableNote(io.rtol));
  Require(io.rtol < 1.0,
          "--rtol must be below 1 (a relative tolerance), got " + FormatNumber(io.rtol, 6));
  Require(std::isfinite(io.atol) && io.atol > 0.0, "--atol must be positive and finite, got " +
                                                       FormatNumber(io.atol, 6) +
                                                       UnrepresentableNote(io.atol));
  Require(std::isfinite(io.fixed_step) && io.fixed_step >= 0.0,
          "--step must be positive (or 0 for adaptive), got " + FormatNumber(io.fixed_step, 6));
  Require(io.max_steps > 0, "--max-steps must be positive, got " + std::to_string(io.max_steps));
  Require(
      io.linear_solver == "dense" || io.linear_solver == "gmres" || io.linear_solver == "fgmres",
      "--linear-solver must be 'dense', 'gmres' or 'fgmres', got '" + io.linear_solver + "'");
  Require(io.preconditioner == "auto" || io.preconditioner == "none" ||
              io.preconditioner == "field" || io.preconditioner == "band",
          "--preconditioner must be 'auto', 'none', 'field' or 'band', got '" + io.preconditioner +
              "'");
  Require(io.step_controller == "i" || io.step_controller == "arkode",
          "--step-controller must be 'i' or 'arkode', got '" + io.step_controller + "'");
  const std::string outputs = vm["outputs"].as<std::string>();
  options.outputs = outputs;
  Require(outputs == "stop" || outputs == "interpolate" || outputs == "auto",
          "--outputs must be 'stop', 'interpolate' or 'auto', got '" + outputs + "'");
  const auto& integrators = IntegratorRegistry();
  CheckName(options.integrator, integrators.kind(), integrators.Contains(options.integrator),
            integrators.KnownNames());
  // Interpolated outputs where the integrator declares them (adaptive steps only).
  bool has_dense_output = false;
  if (outputs != "stop" && io.fixed_step == 0.0) {
    try {
      has_dense_output =
          integrators.Create(options.integrator, io)->Capabilities().interpolated_outputs;
    } catch (const ConfigError&) {
      // Options the integrator refuses are reported below (Validate) or where the app creates it.
    }
  }
  if (outputs == "interpolate") {
    Require(has_dense_output,
            "--outputs interpolate needs an adaptive integrator with interpolated outputs, such "
            "as dopri5, sdirk, cvodes_bdf or cvodes_adams (got --integrator " +
                options.integrator + (io.fixed_step > 0.0 ? " with --step" : "") + ")");
  }
  io.interpolate_outputs = outputs == "interpolate" || (outputs == "auto" && has_dense_output);
  io.Validate();
  const auto& gradients = GradientRegistry();
  CheckName(options.gradient, gradients.kind(), gradients.Contains(options.gradient),
            gradients.KnownNames());

  options.gradient_options.integrator = options.integrator;
  options.gradient_options.integrator_options = io;
  options.gradient_options.method_settings = ReadMethodSettings(vm, options.gradient);
  options.gradient_options.backward_integrator = vm["backward-integrator"].as<std::string>();
  if (!options.gradient_options.backward_integrator.empty()) {
    CheckName(options.gradient_options.backward_integrator, integrators.kind(),
              integrators.Contains(options.gradient_options.backward_integrator),
              integrators.KnownNames());
  }
  options.gradient_options.Validate();

  options.seed = ParseSeed(vm["seed"].as<std::string>());
  options.out_dir = vm["out"].as<std::string>();
  Require(!options.out_dir.empty(), "--out must name a directory");
  options.check_gradients = vm["check-gradients"].as<bool>();
  options.check_gradient = options.check_gradients || vm["check-gradient"].as<bool>();
  options.gradient_check.reference = vm["check-gradient-reference"].as<std::string>();
  options.gradient_check.seed = options.seed;
  if (IsSet(vm, "check-gradient-reference")) {
    Require(options.check_gradient, "--check-gradient-reference needs --check-gradient");
    const std::string& reference = options.gradient_check.reference;
    Require(reference == "finite_difference" || gradients.Contains(reference),
            "--check-gradient-reference: unknown gradient method '" + reference +
                "'; known: " + gradients.KnownNames());
  }
  options.quiet = vm["quiet"].as<bool>();
  return options;
}

void RejectMethodOptions(const CommonOptions& options, const std::string& app) {
  std::string names;
  for (const auto& entry : options.gradient_options.method_settings.values()) {
    names += (names.empty() ? "" : ", ") + entry.first;
  }
  Require(names.empty(), app +
                             " runs its own gradient methods with their default options; "
                             "method options are not taken here (given: " +
                             names + ")");
}

MethodOverrides ToMethodOverrides(const CommonOptions& options) {
  MethodOverrides overrides;
  overrides.gradient = options.gradient;
  overrides.integrator = options.integrator;
  overrides.gradient_set = options.gradient_set;
  overrides.integrator_set = options.integrator_set;
  overrides.rtol_set = options.rtol_set;
  overrides.atol_set = options.atol_set;
  overrides.step_set = options.step_set;
  overrides.max_steps_set = options.max_steps_set;
  overrides.linear_solver_set = options.linear_solver_set;
  overrides.preconditioner_set = options.preconditioner_set;
  overrides.step_controller_set = options.step_controller_set;
  overrides.outputs_set = options.outputs_set;
  overrides.backward_integrator_set = options.backward_integrator_set;
  overrides.given = options.integrator_options;
  overrides.outputs = options.outputs;
  overrides.backward_integrator = options.gradient_options.backward_integrator;
  return overrides;
}

int PositiveIntOr(const Flags& vm, const char* name, int fallback) {
  if (vm.count(name) == 0) return fallback;
  const int value = vm[name].as<int>();
  Require(value >= 1, "--" + std::string(name) + " must be >= 1, got " + std::to_string(value));
  return value;
}

bool HandleInfoOptions(const Flags& vm, const po::options_description& desc,
                       const std::string& usage, std::ostream& out) {
  bool handled = false;
  if (vm.count("help") && vm["help"].as<bool>()) {
    out << usage << "\n\n" << desc << "\n";
    handled = true;
  }
  if (vm.count("list-integrators") && vm["list-integrators"].as<bool>()) {
    for (const std::string& name : IntegratorRegistry().Names()) out << name << "\n";
    handled = true;
  }
  if (vm.count("list-gradients") && vm["list-gradients"].as<bool>()) {
    for (const std::string& name : GradientRegistry().Names()) out << name << "\n";
    handled = true;
  }
  return handled;
}

namespace {

constexpr std::size_t kCheckRows = 8;  // components shown by RunGradientCheck

void PrintGradientCheck(const std::string& label, const GradientCheckResult& r, std::ostream& out) {
  out << "gradient check " << label << ": " << r.method << " vs " << r.reference << "\n";
  std::vector<std::size_t> order(r.components.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return r.components[a].relative_error > r.components[b].relative_error;
  });
  if (order.size() > kCheckRows) order.resize(kCheckRows);
  Table table({"component", "method", "reference", "rel. error"});
  for (const std::size_t k : order) {
    const GradientComponentCheck& c = r.components[k];
    table.AddRow({c.name, FormatScientific(c.method, 6), FormatScientific(c.reference, 6),
                  FormatScientific(c.relative_error, 2)});
  }
  table.Print(out);
  if (r.components.size() > order.size() || r.subset) {
    out << "  (" << r.components.size() << " checked of " << r.total_components << " components"
        << (r.subset ? ", a seeded random subset plus random directions" : "") << "; the "
        << order.size() << " worst shown)\n";
  }
  out << "gradient check " << label << ": " << VerdictName(r.verdict) << " (max relative error "
      << FormatScientific(r.max_relative_error, 2) << " at "
      << (r.components.empty() ? "-" : r.components[r.worst].name) << ", tolerance "
      << FormatScientific(r.tolerance, 1) << ")\n";
  if (r.method_flagged) out << "  method flagged its gradient: " << r.method_diagnosis << "\n";
  if (r.reference_flagged) out << "  reference: " << r.reference_diagnosis << "\n";
}

}  // namespace

GradientCheckResult RunGradientCheck(const std::string& label, const OdeProblem& problem,
                                     const Loss& loss, const std::string& method,
                                     const GradientOptions& options,
                                     const GradientCheckOptions& check, std::ostream& out) {
  const GradientCheckResult r = CheckGradient(problem, loss, method, options, check);
  PrintGradientCheck(label, r, out);
  out << "\n";
  out.flush();
  return r;
}

GradientCheckResult RunGradientCheck(const std::string& label, const OdeProblem& problem,
                                     const Loss& loss, const CommonOptions& common,
                                     std::ostream& out) {
  return RunGradientCheck(label, problem, loss, common.gradient, common.gradient_options,
                          common.gradient_check, out);
}

namespace {

// Messages may hold newlines (solver diagnostics); the contract is one line.
std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

}  // namespace

std::optional<Flags> StartCommandLine(int argc, const char* const argv[], const AppCommandLine& app,
                                      std::ostream& out) {
  po::options_description desc(app.name + " options");
  app.add_options(desc);
  Flags flags = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(flags, desc, app.usage, out)) return std::nullopt;
  return flags;
}

namespace {

// Boost's option errors fill placeholders such as %original_token% and %value% into their message
// with a loop that never ends when the substituted text (the user's word) contains the placeholder
// itself: `--x%original_token%` hung an app. The copy below gets the user's text with each '%'
// shown as the full-width '％', so the loop ends and the message still shows what was typed.
class DefusedOptionError : public po::error_with_option_name {
 public:
  explicit DefusedOptionError(const po::error_with_option_name& error)
      : po::error_with_option_name(error) {
    for (auto& substitution : m_substitutions) {
      std::string defused;
      for (const char c : substitution.second)
        defused += c == '%' ? std::string("％") : std::string(1, c);
      substitution.second = defused;
    }
  }
};

std::string OptionsErrorMessage(const po::error& error) {
  if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&error)) {
    return DefusedOptionError(*named).what();
  }
  return error.what();
}

}  // namespace

int RunApp(const std::function<int()>& main_fn) {
  try {
    // A bad SNODE_DENSE_ISA is an error before any work, also in runs without dense products.
    DenseKernelVariant();
    return main_fn();
  } catch (const Error& e) {
    std::cout.flush();
    std::cerr << "error: " << OneLine(e.what()) << std::endl;
    return 1;
  } catch (const po::error& e) {
    std::cout.flush();
    std::cerr << "error: " << OneLine(OptionsErrorMessage(e)) << " (see --help)" << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "error: " << OneLine(e.what()) << std::endl;
    return 2;
  }
}

std::vector<double> ParseDoubleList(const std::string& text, const std::string& flag) {
  std::vector<double> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    Require(first != std::string::npos, flag + ": empty entry in '" + text + "'");
    item = item.substr(first, last - first + 1);
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(item.c_str(), &end);
    const bool number = end != item.c_str() && *end == '\0';
    Require(!(number && errno == ERANGE && std::fabs(value) < 1.0),
            flag + ": '" + item + "' is too small for a double (nonzero values must be at " +
                "least 2.2e-308 in size)");
    Require(!(number && errno == ERANGE),
            flag + ": '" + item + "' is too large for a double (at most 1.8e308 in size)");
    Require(number && std::isfinite(value), flag + ": '" + item + "' is not a finite number");
    values.push_back(value);
  }
  Require(!values.empty(), flag + ": no values in '" + text + "'");
  return values;
}

std::vector<std::string> ParseNameList(const std::string& text) {
  std::vector<std::string> names;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    const auto last = item.find_last_not_of(" \t");
    names.push_back(item.substr(first, last - first + 1));
  }
  return names;
}

}  // namespace snode::app
