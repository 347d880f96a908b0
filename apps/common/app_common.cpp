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
#include <sstream>

#include "core/errors.hpp"

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
       "implicit methods: dense (Jacobian) or gmres (Jacobian-vector products)")
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
      ("check-gradients", po::bool_switch(),
       "also compare gradients with central finite differences")
      ("seminorm", po::value<std::string>()->default_value("on"),
       "backsolve_adjoint (augmented): on = the parameter integral stays out of the backward "
       "error test (Kidger et al. 2021), off = full norm")
      ("backsolve-quadrature", po::value<std::string>()->default_value("on"),
       "backsolve_adjoint with an explicit backward integrator: on = dL/dtheta by Gauss-Legendre "
       "quadrature over the backward steps, off = carried in the ODE state")
      ("backward-integrator", po::value<std::string>()->default_value(""),
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
      ("quiet,q", po::bool_switch(), "no progress line");
  // clang-format on
}

po::variables_map ParseCommandLine(int argc, const char* const argv[],
                                   const po::options_description& desc) {
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  if (vm.count("config")) {
    const std::string path = vm["config"].as<std::string>();
    std::ifstream file(path);
    if (!file) {
      throw InputError("cannot read --config file '" + path + "': " + std::strerror(errno));
    }
    // po::store keeps the first value stored, so the command line (stored above) wins.
    po::store(po::parse_config_file(file, desc), vm);
  }
  po::notify(vm);
  return vm;
}

namespace {

// True when the option was given on the command line or in the config file.
bool IsSet(const po::variables_map& vm, const char* name) {
  return vm.count(name) != 0 && !vm[name].defaulted();
}

void CheckName(const std::string& name, const std::string& kind, bool known,
               const std::string& known_names) {
  if (!known) throw ConfigError("unknown " + kind + " '" + name + "'; known: " + known_names);
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

CommonOptions ReadCommonOptions(const po::variables_map& vm) {
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
  options.outputs_set = IsSet(vm, "outputs");

  IntegratorOptions& io = options.integrator_options;
  io.rtol = vm["rtol"].as<double>();
  io.atol = vm["atol"].as<double>();
  io.fixed_step = vm["step"].as<double>();
  io.max_steps = vm["max-steps"].as<long>();
  io.linear_solver = vm["linear-solver"].as<std::string>();
  // Name the flag, not the struct field, in the messages users see.
  Require(std::isfinite(io.rtol) && io.rtol > 0.0,
          "--rtol must be positive and finite, got " + FormatNumber(io.rtol, 6));
  Require(std::isfinite(io.atol) && io.atol > 0.0,
          "--atol must be positive and finite, got " + FormatNumber(io.atol, 6));
  Require(std::isfinite(io.fixed_step) && io.fixed_step >= 0.0,
          "--step must be positive (or 0 for adaptive), got " + FormatNumber(io.fixed_step, 6));
  Require(io.max_steps > 0, "--max-steps must be positive, got " + std::to_string(io.max_steps));
  Require(io.linear_solver == "dense" || io.linear_solver == "gmres",
          "--linear-solver must be 'dense' or 'gmres', got '" + io.linear_solver + "'");
  const std::string outputs = vm["outputs"].as<std::string>();
  Require(outputs == "stop" || outputs == "interpolate" || outputs == "auto",
          "--outputs must be 'stop', 'interpolate' or 'auto', got '" + outputs + "'");
  const bool has_dense_output =
      io.fixed_step == 0.0 &&
      (options.integrator == "dopri5" || options.integrator == "sdirk" ||
       options.integrator == "cvodes_bdf" || options.integrator == "cvodes_adams");
  if (outputs == "interpolate") {
    Require(has_dense_output,
            "--outputs interpolate needs an adaptive dopri5, sdirk, cvodes_bdf "
            "or cvodes_adams (got --integrator " +
                options.integrator + (io.fixed_step > 0.0 ? " with --step" : "") + ")");
  }
  io.interpolate_outputs = outputs == "interpolate" || (outputs == "auto" && has_dense_output);
  io.Validate();

  const auto& integrators = IntegratorRegistry();
  CheckName(options.integrator, integrators.kind(), integrators.Contains(options.integrator),
            integrators.KnownNames());
  const auto& gradients = GradientRegistry();
  CheckName(options.gradient, gradients.kind(), gradients.Contains(options.gradient),
            gradients.KnownNames());

  options.gradient_options.integrator = options.integrator;
  options.gradient_options.integrator_options = io;
  auto on_off = [&](const char* flag) {
    const std::string value = vm[flag].as<std::string>();
    Require(value == "on" || value == "off",
            std::string("--") + flag + " must be 'on' or 'off', got '" + value + "'");
    return value == "on";
  };
  options.gradient_options.seminorm = on_off("seminorm");
  options.gradient_options.backsolve_quadrature = on_off("backsolve-quadrature");
  options.gradient_options.backsolve_checkpoints = on_off("backsolve-checkpoints");
  options.gradient_options.backward_integrator = vm["backward-integrator"].as<std::string>();
  options.gradient_options.cvodes_observations = vm["cvodes-observations"].as<std::string>();
  const std::string& observations = options.gradient_options.cvodes_observations;
  Require(observations == "auto" || observations == "restart" || observations == "fundamental",
          "--cvodes-observations must be 'auto', 'restart' or 'fundamental', got '" + observations +
              "'");
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
  options.quiet = vm["quiet"].as<bool>();
  return options;
}

void RequireUsableGradient(const LossAndGradient& result, const std::string& method,
                           const std::string& what) {
  // The method's own flag (reconstruction_tolerance, 1e-2) is reported in the statistics; a
  // training step is refused only when the reconstruction failed outright: z_rec(t0) off by
  // more than |z0| itself, or not finite (W1 at λ = 100 reconstructs y0 ≈ 1e37). W2 at rtol 1e-6
  // reconstructs to 1e-3…3e-2 during training and its gradients train as well as bptt's.
  const double error = result.stats.reconstruction_error;
  if (result.stats.reconstruction_failed && !(error <= 1.0)) {
    throw NumericalError("gradient '" + method + "' at " + what +
                         ": the backward reconstruction of z failed (relative error " +
                         FormatNumber(error, 3) +
                         "), so the gradient is not used; the problem may be stiff: use "
                         "cvodes_adjoint or bptt");
  }
  if (!result.dtheta.allFinite()) {
    throw NumericalError("gradient '" + method + "' at " + what + " is NaN/Inf; not used");
  }
}

bool HandleInfoOptions(const po::variables_map& vm, const po::options_description& desc,
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

// Messages may hold newlines (solver diagnostics); the contract is one line.
std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

}  // namespace

int RunApp(const std::function<int()>& main_fn) {
  try {
    return main_fn();
  } catch (const Error& e) {
    std::cout.flush();
    std::cerr << "error: " << OneLine(e.what()) << std::endl;
    return 1;
  } catch (const po::error& e) {
    std::cout.flush();
    std::cerr << "error: " << OneLine(e.what()) << " (see --help)" << std::endl;
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
    Require(end != item.c_str() && *end == '\0' && errno == 0 && std::isfinite(value),
            flag + ": '" + item + "' is not a finite number");
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

// ---------------------------------------------------------------- formatting and tables

std::string FormatNumber(double x, int precision) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", precision, x);
  return buffer;
}

std::string FormatCompact(double x, int precision) {
  if (!std::isfinite(x) || x == 0.0) return FormatNumber(x, precision);
  std::string text = FormatNumber(x, precision);
  if (text.find('e') == std::string::npos && std::abs(x) >= 1e-2) return text;  // 100, 0.5
  // Exponent form with a trimmed mantissa and no '+' or leading zeros: 1e-3, 3.39e3, 1e4.
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*e", std::max(0, precision - 1), x);
  text = buffer;
  const auto e = text.find('e');
  std::string mantissa = text.substr(0, e);
  if (mantissa.find('.') != std::string::npos) {
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  return mantissa + "e" + std::to_string(std::atoi(text.c_str() + e + 1));
}

std::string FormatScientific(double x, int precision) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*e", precision, x);
  return buffer;
}

std::string FormatSeconds(double seconds) {
  char buffer[64];
  if (!std::isfinite(seconds)) return "-";
  if (seconds < 1e-3) {
    std::snprintf(buffer, sizeof buffer, "%.0f us", seconds * 1e6);
  } else if (seconds < 1.0) {
    std::snprintf(buffer, sizeof buffer, "%.1f ms", seconds * 1e3);
  } else if (seconds < 120.0) {
    std::snprintf(buffer, sizeof buffer, "%.2f s", seconds);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f min", seconds / 60.0);
  }
  return buffer;
}

std::string FormatBytes(double bytes) {
  char buffer[64];
  if (!std::isfinite(bytes)) return "-";
  if (bytes < 1e3) {
    std::snprintf(buffer, sizeof buffer, "%.0f B", bytes);
  } else if (bytes < 1e6) {
    std::snprintf(buffer, sizeof buffer, "%.1f kB", bytes / 1e3);
  } else if (bytes < 1e9) {
    std::snprintf(buffer, sizeof buffer, "%.1f MB", bytes / 1e6);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f GB", bytes / 1e9);
  }
  return buffer;
}

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {
  Require(!header_.empty(), "Table: empty header");
}

void Table::AddRow(std::vector<std::string> row) {
  Require(row.size() == header_.size(), "Table: row has " + std::to_string(row.size()) +
                                            " cells, header " + std::to_string(header_.size()));
  rows_.push_back(std::move(row));
}

void Table::AddSeparator() { rows_.emplace_back(); }

namespace {

bool LooksNumeric(const std::string& cell) {
  if (cell.empty()) return false;
  if (cell == "nan" || cell == "inf" || cell == "-inf" || cell == "-") return true;
  const char c = cell[0];
  return (c >= '0' && c <= '9') || ((c == '-' || c == '+' || c == '.') && cell.size() > 1);
}

// Display width in code points (cells may hold UTF-8 such as λ or θ).
std::size_t DisplayWidth(const std::string& text) {
  std::size_t width = 0;
  for (const unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

}  // namespace

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> widths(header_.size());
  for (std::size_t j = 0; j < header_.size(); ++j) widths[j] = DisplayWidth(header_[j]);
  for (const auto& row : rows_) {
    for (std::size_t j = 0; j < row.size(); ++j) {
      widths[j] = std::max(widths[j], DisplayWidth(row[j]));
    }
  }
  std::size_t total = 0;
  for (const std::size_t w : widths) total += w + 2;
  auto print_row = [&](const std::vector<std::string>& row, bool header) {
    std::string line;
    for (std::size_t j = 0; j < row.size(); ++j) {
      const std::size_t pad = widths[j] - DisplayWidth(row[j]);
      const bool last = j + 1 == row.size();
      const bool right = !header && j > 0 && LooksNumeric(row[j]);
      if (right)
        line += std::string(pad, ' ') + row[j];
      else
        line += row[j] + (last ? "" : std::string(pad, ' '));
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print_row(header_, true);
  out << std::string(total > 2 ? total - 2 : total, '-') << "\n";
  for (const auto& row : rows_) {
    if (row.empty()) {
      out << "\n";
    } else {
      print_row(row, false);
    }
  }
}

// ---------------------------------------------------------------- files

void EnsureDirectory(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error || !fs::is_directory(dir)) {
    throw InputError("cannot create output directory '" + dir +
                     "': " + (error ? error.message() : "not a directory"));
  }
}

void AtomicWriteFile(const std::string& path, const std::string& content) {
  const fs::path target(path);
  if (target.has_parent_path()) EnsureDirectory(target.parent_path().string());
  // Same directory as the target, so rename(2) is atomic (no cross-device move).
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (file == nullptr) {
    throw InputError("cannot write '" + temp + "': " + std::strerror(errno));
  }
  const bool written = std::fwrite(content.data(), 1, content.size(), file) == content.size() &&
                       std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
  const int saved_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    std::remove(temp.c_str());
    throw InputError("cannot write '" + temp + "': " + std::strerror(saved_errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(temp.c_str());
    throw InputError("cannot rename '" + temp + "' to '" + path +
                     "': " + std::strerror(rename_errno));
  }
}

std::string CsvEscape(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string quoted = "\"";
  for (const char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void WriteCsv(const std::string& path, const std::vector<std::string>& header,
              const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream text;
  auto write_row = [&](const std::vector<std::string>& row) {
    for (std::size_t j = 0; j < row.size(); ++j) text << (j ? "," : "") << CsvEscape(row[j]);
    text << "\n";
  };
  write_row(header);
  for (const auto& row : rows) write_row(row);
  AtomicWriteFile(path, text.str());
}

void WriteJson(const std::string& path, const nlohmann::json& value) {
  AtomicWriteFile(path, value.dump(2) + "\n");
}

nlohmann::json JsonNumber(double x) {
  if (!std::isfinite(x)) return nullptr;
  return x;
}

// ---------------------------------------------------------------- plots

namespace {

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'')
      quoted += "'\\''";
    else
      quoted += c;
  }
  return quoted + "'";
}

std::string GnuplotExecutable() {
  // SNODE_GNUPLOT overrides the lookup ("none" behaves as if gnuplot were absent).
  if (const char* forced = std::getenv("SNODE_GNUPLOT")) {
    const std::string value = forced;
    if (value == "none" || value.empty()) return "";
    return ::access(value.c_str(), X_OK) == 0 ? value : "";
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/gnuplot";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool NonEmptyFile(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error) && fs::file_size(path, error) > 0 && !error;
}

// Runs gnuplot in dir with the given terminal; true when output exists and is non-empty.
bool RunGnuplot(const std::string& exe, const std::string& dir, const std::string& script,
                const std::string& terminal, const std::string& output, const std::string& log) {
  std::error_code ignored;
  fs::remove(fs::path(dir) / output, ignored);
  const std::string setup = "set terminal " + terminal + "; set output '" + output + "'";
  const std::string command = "cd " + ShellQuote(dir) + " && " + ShellQuote(exe) + " -e " +
                              ShellQuote(setup) + " " + ShellQuote(script) + " >>" +
                              ShellQuote(log) + " 2>&1";
  const int status = std::system(command.c_str());
  return status == 0 && NonEmptyFile(fs::path(dir) / output);
}

}  // namespace

bool GnuplotAvailable() { return !GnuplotExecutable().empty(); }

PlotResult RenderGnuplot(const std::string& dir, const std::string& name, const std::string& body,
                         int width, int height) {
  PlotResult result;
  EnsureDirectory(dir);
  const std::string script = name + ".gp";
  AtomicWriteFile((fs::path(dir) / script).string(),
                  "# Rendered by snode: gnuplot -e \"set terminal pngcairo; set output '" + name +
                      ".png'\" " + script + "\n" + body + "\n");
  const std::string exe = GnuplotExecutable();
  if (exe.empty()) {
    result.note = "gnuplot not found: kept " + script + " and its data in " + dir +
                  " (install gnuplot and run `gnuplot " + script + "` there)";
    return result;
  }
  const std::string log = name + ".gnuplot.log";
  std::error_code ignored;
  fs::remove(fs::path(dir) / log, ignored);
  const std::string size = " size " + std::to_string(width) + "," + std::to_string(height);
  const std::string png = name + ".png", svg = name + ".svg";
  bool png_ok = RunGnuplot(exe, dir, script, "pngcairo enhanced font 'Sans,10'" + size, png, log);
  if (!png_ok) png_ok = RunGnuplot(exe, dir, script, "png" + size, png, log);
  const bool svg_ok = RunGnuplot(exe, dir, script, "svg enhanced font 'Sans,10'" + size, svg, log);
  if (png_ok) result.files.push_back((fs::path(dir) / png).string());
  if (svg_ok) result.files.push_back((fs::path(dir) / svg).string());
  result.rendered = png_ok && svg_ok;
  if (result.rendered) {
    fs::remove(fs::path(dir) / log, ignored);
  } else {
    result.note = "gnuplot failed to render " + name + (png_ok ? ".svg" : ".png") + " (see " +
                  (fs::path(dir) / log).string() + "); data kept";
  }
  return result;
}

// ---------------------------------------------------------------- progress

ProgressLine::ProgressLine(std::string label, long total_iterations, bool quiet)
    : label_(std::move(label)),
      total_(total_iterations),
      enabled_(!quiet && ::isatty(STDOUT_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

ProgressLine::~ProgressLine() { Finish(); }

void ProgressLine::Update(long iteration, double loss, long nfe) {
  if (!enabled_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = label_ + "  it " + std::to_string(iteration);
  if (total_ > 0) line += "/" + std::to_string(total_);
  line += "  loss " + FormatScientific(loss, 3) + "  NFE " + std::to_string(nfe) + "  elapsed " +
          FormatSeconds(elapsed);
  if (total_ > 0 && iteration > 0) {
    const double eta = elapsed / static_cast<double>(iteration) *
                       static_cast<double>(std::max(0L, total_ - iteration));
    line += "  ETA " + FormatSeconds(eta);
  }
  // \r returns to the line start, ESC[K clears what a longer previous line left behind.
  std::cout << "\r" << line << "\x1b[K" << std::flush;
  open_ = true;
}

void ProgressLine::Finish() {
  if (!enabled_ || !open_) return;
  std::cout << "\r\x1b[K" << std::flush;
  open_ = false;
}

}  // namespace snode::app
