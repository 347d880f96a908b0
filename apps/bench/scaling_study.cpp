// scaling_study: time per gradient and stored memory of each gradient method as the horizon, the
// hidden width and the batch grow (issue 6's scaling table; docs/performance-scaling.md).
//
//   ./build/apps/bench/scaling_study [--out scaling.json] [--repetitions 3] [--quick]
//                                    [--sweeps horizon,width,batch] [--interpolate]
//
// Methods (--methods gradient/integrator[:gmres][:interpolate],...; the adjoints' backward
// problems use the same integrator and options). Default: bptt/dopri5, backsolve_adjoint/dopri5,
// cvodes_adjoint/cvodes_bdf, cvodes_adjoint/cvodes_adams (dense Newton solver), plus
// cvodes_adjoint/cvodes_bdf:gmres (matrix-free Newton–Krylov, forward and backward) and
// bptt/dopri5:interpolate (IntegratorOptions::interpolate_outputs: outputs from the dense
// output, not stop times; only when the build has the option). --interpolate adds the
// interpolated variant of every method. Tolerances rtol 1e-6, atol 1e-8 (W2's).
//
// Sweeps (MLP 2-w-w-2 tanh, no time input, MSE against the Lotka–Volterra truth x' = 1.5x − xy,
// y' = xy − 3y from (1, 1), solved here by cvodes_bdf at rtol 1e-10 at the same output times):
//   horizon: T_end ∈ {10, 20, 40, 80}, 10 outputs per unit time (t = 0, 0.1, …, T_end, so
//            10·T_end + 1 observations: the data grows with the horizon), W2's initial weights
//            (../shared/data/w2/w2_init_weights.json; seeded init when absent), width 32.
//   width:   w ∈ {16, 32, 64, 128, 256}, InitialParams(seed 1), T_end = 10, 101 outputs.
//   batch:   B ∈ {1, 4, 16, 64, 128, 256, 512}, width 32, W2's weights, T_end = 10, 101 outputs.
//            One batched MlpField (state B·2); sample 0 starts at (1, 1), sample b > 0 at
//            (1, 1) + 0.2·(u − ½) with u uniform from std::mt19937_64(7) (fixed); every
//            sample is fitted to the same truth; MSE over all 101·2·B values.
// --quick: horizon {10, 20}, width {16, 32}, batch {1, 4}, one repetition (a smoke test).
//
// Per point and method: one untimed warm-up Compute() (creates and sizes the solvers, as the
// first training iteration would), then --repetitions timed ones with the same gradient object.
// Reported: median process CPU time (primary figure: the machine is shared) and median wall time
// per gradient, forward/backward steps and f evaluations, VJPs, GradientStats::stored_bytes and
// the loss. A point whose warm-up takes longer than --max-gradient-seconds (wall) is not repeated:
// the warm-up is its only timing (marked "slow"). Then, per sweep and method, the growth of time,
// steps and bytes from the first to the last point and between the last two points, as log-log
// exponents (1 = linear), against the sweep variable and against the size the work scales with
// (observations, P, state size).
//
// Output: Markdown tables on stdout, progress on stderr, everything as JSON to --out.
// Exit code 0, or 1 when any gradient failed (exception or non-finite loss/gradient), so the
// --quick run is a test.

#include <time.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "io/torch_weights.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "problems/lotka_volterra.hpp"
#include "studies/bench_util.hpp"

#ifndef SNODE_W2_WEIGHTS
#define SNODE_W2_WEIGHTS "/work/shared/data/w2/w2_init_weights.json"
#endif

namespace snode::app {
namespace {

namespace po = boost::program_options;
using nlohmann::json;

struct Method {
  std::string gradient;
  std::string integrator;
  bool interpolate = false;
  std::string linear_solver = "dense";  // implicit integrators (forward and backward)
  std::string Label() const {
    return gradient + "/" + integrator + (linear_solver != "dense" ? " " + linear_solver : "") +
           (interpolate ? " (interpolated outputs)" : "");
  }
};

// One sweep point: the problem and its loss.
struct Point {
  double x = 0;  // T_end, width or batch
  OdeProblem problem;
  std::shared_ptr<Loss> loss;
};

struct Measurement {
  double x = 0;
  Method method;
  bool ok = false;
  std::string error;
  int repetitions = 0;
  bool slow = false;  // timed once (warm-up over --max-gradient-seconds)
  double cpu_median = NAN, wall_median = NAN;
  std::vector<double> cpu, wall;
  GradientStats stats;
  double loss = NAN;
  Index state_size = 0, num_params = 0;
  std::size_t outputs = 0;
};

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<double> OutputTimes(double t_end) {
  const int n = static_cast<int>(std::lround(10.0 * t_end));
  std::vector<double> times;
  for (int k = 0; k <= n; ++k) times.push_back(t_end * k / n);
  return times;
}

// MLP 2-w-w-2 tanh for `batch` samples; W2's weights when use_w2 and the file exists (width 32
// only), else InitialParams(1). *weights names the choice.
std::shared_ptr<MlpField> MakeField(Index width, Index batch, bool use_w2, Vector* theta,
                                    std::string* weights) {
  MlpOptions options;
  options.widths = {2, width, width, 2};
  options.activations = {"tanh"};
  options.batch = batch;
  auto field = std::make_shared<MlpField>(options);
  if (use_w2 && width == 32 && std::ifstream(SNODE_W2_WEIGHTS).good()) {
    *theta = LoadTorchMlpParams(SNODE_W2_WEIGHTS, *field);
    *weights = "w2_init_weights.json";
  } else {
    *theta = field->InitialParams(1);
    *weights = "InitialParams(1)";
  }
  return field;
}

Point HorizonPoint(double t_end, std::string* weights) {
  Point p;
  p.x = t_end;
  p.problem.field = MakeField(32, 1, true, &p.problem.theta, weights);
  p.problem.z0 = Vector::Ones(2);
  p.problem.output_times = OutputTimes(t_end);
  p.loss = std::make_shared<MseLoss>(problems::LotkaVolterraTruth(p.problem.output_times));
  return p;
}

Point WidthPoint(Index width, std::string* weights) {
  Point p;
  p.x = static_cast<double>(width);
  p.problem.field = MakeField(width, 1, false, &p.problem.theta, weights);
  p.problem.z0 = Vector::Ones(2);
  p.problem.output_times = OutputTimes(10.0);
  p.loss = std::make_shared<MseLoss>(problems::LotkaVolterraTruth(p.problem.output_times));
  return p;
}

Point BatchPoint(Index batch, std::string* weights) {
  Point p;
  p.x = static_cast<double>(batch);
  p.problem.field = MakeField(32, batch, true, &p.problem.theta, weights);
  p.problem.z0 = Vector::Ones(2 * batch);
  std::mt19937_64 rng(7);
  for (Index i = 2; i < 2 * batch; ++i) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1), portable
    p.problem.z0[i] += 0.2 * (u - 0.5);
  }
  p.problem.output_times = OutputTimes(10.0);
  const std::vector<Vector> truth = problems::LotkaVolterraTruth(p.problem.output_times);
  std::vector<Vector> targets;
  for (const Vector& state : truth) targets.push_back(state.replicate(batch, 1));
  p.loss = std::make_shared<MseLoss>(std::move(targets));
  return p;
}

GradientOptions MakeOptions(const Method& method) {
  GradientOptions options;
  options.integrator = method.integrator;
  options.integrator_options.rtol = 1e-6;
  options.integrator_options.atol = 1e-8;
  options.integrator_options.linear_solver = method.linear_solver;
  options.integrator_options.interpolate_outputs = method.interpolate;
  options.Validate();
  return options;
}

// Throws NumericalError when the loss or a gradient is NaN or infinite.
void CheckFinite(const LossAndGradient& r) {
  if (!(std::isfinite(r.loss) && r.dtheta.allFinite() && r.dz0.allFinite())) {
    throw NumericalError("non-finite loss or gradient");
  }
}

Measurement Measure(const Point& point, const Method& method, int repetitions, double max_seconds) {
  Measurement m;
  m.x = point.x;
  m.method = method;
  m.state_size = point.problem.field->state_size();
  m.num_params = point.problem.field->num_params();
  m.outputs = point.problem.output_times.size();
  try {
    const std::unique_ptr<GradientMethod> gradient =
        GradientRegistry().Create(method.gradient, MakeOptions(method));
    double cpu0 = CpuSeconds(), wall0 = WallSeconds();
    LossAndGradient result = gradient->Compute(point.problem, *point.loss);
    const double warmup_wall = WallSeconds() - wall0;
    const double warmup_cpu = CpuSeconds() - cpu0;
    CheckFinite(result);
    if (warmup_wall > max_seconds) {
      m.slow = true;
      m.cpu.push_back(warmup_cpu);
      m.wall.push_back(warmup_wall);
    } else {
      for (int r = 0; r < repetitions; ++r) {
        cpu0 = CpuSeconds();
        wall0 = WallSeconds();
        result = gradient->Compute(point.problem, *point.loss);
        m.wall.push_back(WallSeconds() - wall0);
        m.cpu.push_back(CpuSeconds() - cpu0);
        CheckFinite(result);
      }
    }
    m.repetitions = static_cast<int>(m.cpu.size());
    m.cpu_median = bench::Median(m.cpu);
    m.wall_median = bench::Median(m.wall);
    m.stats = result.stats;
    m.loss = result.loss;
    m.ok = true;
  } catch (const std::exception& error) {
    m.error = error.what();
  }
  return m;
}

// ---------------------------------------------------------------- output
std::string Seconds(double s) { return std::isfinite(s) ? FormatSeconds(s) : "—"; }

std::string Count(long n) { return std::to_string(n); }

json MeasurementJson(const Measurement& m) {
  json j = {{"x", m.x},
            {"gradient", m.method.gradient},
            {"integrator", m.method.integrator},
            {"interpolate_outputs", m.method.interpolate},
            {"linear_solver", m.method.linear_solver},
            {"ok", m.ok},
            {"state_size", m.state_size},
            {"num_params", m.num_params},
            {"outputs", m.outputs}};
  if (!m.ok) {
    j["error"] = m.error;
    return j;
  }
  j["repetitions"] = m.repetitions;
  j["timed_once_slow"] = m.slow;
  j["cpu_seconds_median"] = JsonNumber(m.cpu_median);
  j["wall_seconds_median"] = JsonNumber(m.wall_median);
  j["cpu_seconds"] = m.cpu;
  j["wall_seconds"] = m.wall;
  j["loss"] = JsonNumber(m.loss);
  const GradientStats& s = m.stats;
  j["forward_steps"] = s.forward_steps;
  j["backward_steps"] = s.backward_steps;
  j["forward_rhs_evals"] = s.forward_rhs_evals;
  j["backward_rhs_evals"] = s.backward_rhs_evals;
  j["vjp_evals"] = s.vjp_evals;
  j["checkpoints"] = s.checkpoints;
  j["stored_bytes"] = s.stored_bytes;
  return j;
}

struct Sweep {
  std::string name;       // "horizon"
  std::string x_name;     // "T_end"
  std::string size_name;  // what the work is proportional to: "outputs", "P", "state size"
  std::string description;
  std::vector<Measurement> rows;
};

void PrintSweep(const Sweep& sweep, std::ostream& out) {
  out << "\n### Time per gradient vs " << sweep.name << "\n\n" << sweep.description << "\n\n";
  out << "| " << sweep.x_name
      << " | method | CPU median | wall median | reps | fwd steps | bwd steps | fwd NFE | bwd NFE "
         "| VJPs | stored bytes | loss |\n";
  out << "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const Measurement& m : sweep.rows) {
    out << "| " << FormatNumber(m.x, 4) << " | " << m.method.Label() << " | ";
    if (!m.ok) {
      out << "failed: " << m.error << " | | | | | | | | | |\n";
      continue;
    }
    const GradientStats& s = m.stats;
    out << Seconds(m.cpu_median) << " | " << Seconds(m.wall_median) << " | " << m.repetitions
        << (m.slow ? " (slow)" : "") << " | " << Count(s.forward_steps) << " | "
        << Count(s.backward_steps) << " | " << Count(s.forward_rhs_evals) << " | "
        << Count(s.backward_rhs_evals) << " | " << Count(s.vjp_evals) << " | "
        << FormatBytes(s.stored_bytes) << " | " << FormatNumber(m.loss, 4) << " |\n";
  }
}

double Exponent(double y0, double y1, double x0, double x1) {
  if (!(y0 > 0) || !(y1 > 0) || !(x1 > x0) || !(x0 > 0)) return NAN;
  return std::log(y1 / y0) / std::log(x1 / x0);
}

std::string Verdict(double exponent) {
  if (!std::isfinite(exponent)) return "—";
  if (exponent < 0.8) return "sub-linear";
  if (exponent <= 1.2) return "linear";
  return "super-linear";
}

long TotalSteps(const GradientStats& s) { return s.forward_steps + s.backward_steps; }

// The size the sweep scales: observations (horizon), parameters (width), state (batch).
double Size(const Sweep& sweep, const Measurement& m) {
  if (sweep.name == "horizon") return static_cast<double>(m.outputs);
  if (sweep.name == "width") return static_cast<double>(m.num_params);
  return static_cast<double>(m.state_size);
}

// Log-log exponents of CPU time, total steps and stored bytes per method: over the whole sweep
// and over its last step (e.g. 256 → 512).
json PrintGrowth(const Sweep& sweep, const std::vector<Method>& methods, std::ostream& out) {
  json growth = json::array();
  out << "\nGrowth vs " << sweep.name
      << " (log-log exponents, 1 = linear; \"last\" = between the last two points):\n\n"
      << "| method | range | CPU time ratio | exponent: CPU time (all / last) | CPU time vs "
      << sweep.size_name
      << " (all / last) | steps (all / last) | stored bytes (all / last) | time per step ratio "
         "| verdict (CPU vs "
      << sweep.x_name << ", last) |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---|\n";
  for (const Method& method : methods) {
    std::vector<const Measurement*> rows;
    for (const Measurement& m : sweep.rows) {
      if (m.ok && m.method.Label() == method.Label()) rows.push_back(&m);
    }
    if (rows.size() < 2) continue;
    const Measurement& a = *rows.front();
    const Measurement& p = *rows[rows.size() - 2];
    const Measurement& b = *rows.back();
    const double cpu_all = Exponent(a.cpu_median, b.cpu_median, a.x, b.x);
    const double cpu_last = Exponent(p.cpu_median, b.cpu_median, p.x, b.x);
    const double size_all = Exponent(a.cpu_median, b.cpu_median, Size(sweep, a), Size(sweep, b));
    const double size_last = Exponent(p.cpu_median, b.cpu_median, Size(sweep, p), Size(sweep, b));
    const double steps_all = Exponent(static_cast<double>(TotalSteps(a.stats)),
                                      static_cast<double>(TotalSteps(b.stats)), a.x, b.x);
    const double steps_last = Exponent(static_cast<double>(TotalSteps(p.stats)),
                                       static_cast<double>(TotalSteps(b.stats)), p.x, b.x);
    const double bytes_all = Exponent(a.stats.stored_bytes, b.stats.stored_bytes, a.x, b.x);
    const double bytes_last = Exponent(p.stats.stored_bytes, b.stats.stored_bytes, p.x, b.x);
    const double per_step_ratio = (b.cpu_median / static_cast<double>(TotalSteps(b.stats))) /
                                  (a.cpu_median / static_cast<double>(TotalSteps(a.stats)));
    out << "| " << method.Label() << " | " << FormatNumber(a.x, 4) << " → " << FormatNumber(b.x, 4)
        << " | " << FormatNumber(b.cpu_median / a.cpu_median, 3) << " | "
        << FormatNumber(cpu_all, 2) << " / " << FormatNumber(cpu_last, 2) << " | "
        << FormatNumber(size_all, 2) << " / " << FormatNumber(size_last, 2) << " | "
        << FormatNumber(steps_all, 2) << " / " << FormatNumber(steps_last, 2) << " | "
        << FormatNumber(bytes_all, 2) << " / " << FormatNumber(bytes_last, 2) << " | "
        << FormatNumber(per_step_ratio, 3) << " | " << Verdict(cpu_last) << " |\n";
    growth.push_back({{"sweep", sweep.name},
                      {"gradient", method.gradient},
                      {"integrator", method.integrator},
                      {"interpolate_outputs", method.interpolate},
                      {"linear_solver", method.linear_solver},
                      {"x_first", a.x},
                      {"x_last", b.x},
                      {"cpu_ratio", JsonNumber(b.cpu_median / a.cpu_median)},
                      {"cpu_exponent_all", JsonNumber(cpu_all)},
                      {"cpu_exponent_last", JsonNumber(cpu_last)},
                      {"size", sweep.size_name},
                      {"cpu_exponent_vs_size_all", JsonNumber(size_all)},
                      {"cpu_exponent_vs_size_last", JsonNumber(size_last)},
                      {"steps_exponent_all", JsonNumber(steps_all)},
                      {"steps_exponent_last", JsonNumber(steps_last)},
                      {"bytes_exponent_all", JsonNumber(bytes_all)},
                      {"bytes_exponent_last", JsonNumber(bytes_last)},
                      {"time_per_step_ratio", JsonNumber(per_step_ratio)}});
  }
  return growth;
}

// Why the exponents are what they are (the same text as docs/performance-scaling.md).
const char* kDiscussion = R"(
Where the costs are linear and where not, and why:
- Horizon (T_end, with 10 observations per unit time): with a stop at every output time the
  forward solve takes at least one step per output interval; on this smooth field that is all it
  takes, so bptt's steps, time and stored trajectory, and backsolve's steps and stored output
  states, are linear in T. cvodes_adjoint's forward solve steps over the outputs and its backward
  solve (one solve of the fundamental matrix for n <= 8, no restart at the outputs) follows the
  dynamics, and the untrained field settles to a slowly varying state, so later intervals need
  fewer steps: sub-linear in steps; the Gauss quadrature still takes nodes in every output
  interval, so its time approaches linear in T.
  With interpolated outputs bptt's steps follow the dynamics alone (nearly flat in T).
- Width w: f and its VJP cost O(w^2) (P = w^2 + 6w + 2 parameters) and the adjoints carry dL/dθ
  (P entries) in their backward state or quadrature, so every method is quadratic in w, i.e.
  linear in P, once the products outweigh the fixed per-call cost (bptt at w <= 32 is below
  that). The step counts change with the seeded weights, not systematically with w; stored
  bytes (states only, n = 2) do not depend on w.
- Batch B: the steps do not change with B here: one controller measures the WRMS norm over all
  2B components, and for similar samples that is the norm of one sample (the flip side: a single
  outlying sample's error is diluted by 1/sqrt(B)). Work per f/VJP is one GEMM over B columns:
  bptt is linear in B except from B = 1 to 4 (the batch-1 field takes Eigen's matrix-vector path,
  B >= 2 the GEMM path with its fixed cost). The adjoints carry P = 1 218 gradient entries next to
  the 2B (or 4B) state entries, so they are flat at small B and approach linear at large B.
  cvodes_adjoint carries the 2B x 2B fundamental matrix up to B = 4 (n <= 8) and restarts at
  every output beyond (n^2 work per step would not pay): its backward steps jump from ~50 to
  ~500-1 000 between B = 4 and B = 16.
  cvodes_bdf with the dense Newton solver is super-linear: its Newton matrix is (2B) x (2B), so
  every LU is O(B^3) and every solve O(B^2), forward and backward, although the Jacobian is
  block-diagonal; linear_solver = gmres (matrix-free, one JVP per Krylov iteration) is linear.
  Stored bytes are linear in B for every method (all store states of size 2B).)";

// Parses "gradient/integrator[:gmres][:interpolate]" entries; --interpolate adds the
// interpolated-output variant of every entry. Throws ConfigError for an unknown name or suffix.
std::vector<Method> ParseMethods(const std::string& text, bool interpolate) {
  std::vector<Method> methods;
  for (const std::string& entry : ParseNameList(text)) {
    std::vector<std::string> parts;
    std::stringstream stream(entry);
    for (std::string part; std::getline(stream, part, ':');) parts.push_back(part);
    const auto slash = parts.front().find('/');
    Require(slash != std::string::npos,
            "--methods: '" + entry + "' is not gradient/integrator[:gmres][:interpolate]");
    Method m;
    m.gradient = parts.front().substr(0, slash);
    m.integrator = parts.front().substr(slash + 1);
    Require(GradientRegistry().Contains(m.gradient),
            "--methods: unknown gradient method '" + m.gradient +
                "'; known: " + GradientRegistry().KnownNames());
    Require(IntegratorRegistry().Contains(m.integrator),
            "--methods: unknown integrator '" + m.integrator +
                "'; known: " + IntegratorRegistry().KnownNames());
    for (std::size_t i = 1; i < parts.size(); ++i) {
      if (parts[i] == "gmres" || parts[i] == "dense") {
        m.linear_solver = parts[i];
      } else if (parts[i] == "interpolate") {
        m.interpolate = true;
      } else {
        throw ConfigError("--methods: unknown suffix ':" + parts[i] +
                          "' (known: gmres, dense, interpolate)");
      }
    }
    methods.push_back(m);
  }
  Require(!methods.empty(), "--methods: no method given");
  if (interpolate) {
    const std::size_t n = methods.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (methods[i].interpolate) continue;
      Method m = methods[i];
      m.interpolate = true;
      methods.push_back(m);
    }
  }
  return methods;
}

// The four methods of the issue, then two variants that show where the non-linear costs go:
// BDF with GMRES instead of the dense Newton solver (batch) and bptt with interpolated outputs
// (horizon), the latter only when the build has the option.
std::string DefaultMethods() {
  std::string methods =
      "bptt/dopri5,backsolve_adjoint/dopri5,cvodes_adjoint/cvodes_bdf,"
      "cvodes_adjoint/cvodes_adams,cvodes_adjoint/cvodes_bdf:gmres";
  methods += ",bptt/dopri5:interpolate";
  return methods;
}

int Main(int argc, char** argv) {
  po::options_description desc("scaling_study options");
  desc.add_options()("help", "print this help")(
      "quick", "smoke test: two points per sweep, one repetition (< 20 s)")(
      "out", po::value<std::string>()->default_value(""),
      "write all measurements as JSON to this file")(
      "repetitions", po::value<int>()->default_value(3), "timed gradients per point (median)")(
      "sweeps", po::value<std::string>()->default_value("horizon,width,batch"),
      "comma-separated subset of horizon,width,batch")(
      "methods", po::value<std::string>()->default_value(DefaultMethods()),
      "gradient/integrator[:gmres][:interpolate], comma-separated")(
      "interpolate", "also run every method with IntegratorOptions::interpolate_outputs")(
      "max-gradient-seconds", po::value<double>()->default_value(10.0),
      "time a point only once when its warm-up gradient takes longer than this (wall)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: scaling_study [options]\n" << desc;
    return 0;
  }
  const bool quick = vm.count("quick") > 0;
  const int repetitions = quick ? 1 : vm["repetitions"].as<int>();
  const double max_seconds = vm["max-gradient-seconds"].as<double>();
  Require(max_seconds > 0, "--max-gradient-seconds must be > 0");
  const bool interpolate = vm.count("interpolate") > 0;
  Require(vm["repetitions"].as<int>() >= 1, "--repetitions must be >= 1");
  const std::vector<std::string> sweeps = ParseNameList(vm["sweeps"].as<std::string>());
  for (const std::string& s : sweeps) {
    Require(s == "horizon" || s == "width" || s == "batch",
            "--sweeps: unknown sweep '" + s + "' (known: horizon, width, batch)");
  }
  const std::vector<Method> methods = ParseMethods(vm["methods"].as<std::string>(), interpolate);

  const json machine = bench::MachineInfo();
  std::cout << "## Scaling study\n\n"
            << bench::MachineLine(machine) << "; " << repetitions
            << " timed gradient(s) per point after one warm-up, medians; rtol 1e-6, atol 1e-8"
            << (quick ? "; --quick" : "") << "\n";

  const std::vector<double> horizons =
      quick ? std::vector<double>{10, 20} : std::vector<double>{10, 20, 40, 80};
  const std::vector<Index> widths =
      quick ? std::vector<Index>{16, 32} : std::vector<Index>{16, 32, 64, 128, 256};
  const std::vector<Index> batches =
      quick ? std::vector<Index>{1, 4} : std::vector<Index>{1, 4, 16, 64, 128, 256, 512};

  json out = {
      {"machine", machine}, {"repetitions", repetitions}, {"quick", quick},         {"rtol", 1e-6},
      {"atol", 1e-8},       {"sweeps", json::object()},   {"growth", json::array()}};
  bool all_ok = true;
  const auto run = [&](Sweep& sweep, const std::vector<Point>& points) {
    for (const Point& point : points) {
      for (const Method& method : methods) {
        Measurement m = Measure(point, method, repetitions, max_seconds);
        std::cerr << sweep.name << " " << FormatNumber(point.x, 4) << " " << method.Label() << ": "
                  << (m.ok ? Seconds(m.cpu_median) + " CPU, " + Seconds(m.wall_median) + " wall"
                           : "failed: " + m.error)
                  << "\n";
        all_ok = all_ok && m.ok;
        sweep.rows.push_back(std::move(m));
      }
    }
    PrintSweep(sweep, std::cout);
    const json growth = PrintGrowth(sweep, methods, std::cout);
    for (const json& g : growth) out["growth"].push_back(g);
    json rows = json::array();
    for (const Measurement& m : sweep.rows) rows.push_back(MeasurementJson(m));
    out["sweeps"][sweep.name] = {{"description", sweep.description}, {"rows", rows}};
    std::cout.flush();
  };

  for (const std::string& name : sweeps) {
    Sweep sweep;
    sweep.name = name;
    std::vector<Point> points;
    std::string weights;
    if (name == "horizon") {
      for (const double t : horizons) points.push_back(HorizonPoint(t, &weights));
      sweep.x_name = "T_end";
      sweep.size_name = "outputs";
      sweep.description = "MLP 2-32-32-2 tanh (" + weights +
                          "), z0 = (1, 1), outputs t = 0, 0.1, …, T_end (10·T_end + 1).";
    } else if (name == "width") {
      for (const Index w : widths) points.push_back(WidthPoint(w, &weights));
      sweep.x_name = "width w";
      sweep.size_name = "P";
      sweep.description =
          "MLP 2-w-w-2 tanh (InitialParams(1)), z0 = (1, 1), T_end = 10, 101 outputs.";
    } else {
      for (const Index b : batches) points.push_back(BatchPoint(b, &weights));
      sweep.x_name = "batch B";
      sweep.size_name = "state size";
      sweep.description = "batched MLP 2-32-32-2 tanh (" + weights +
                          "), z0: sample 0 at (1, 1), others (1, 1) + U(−0.1, 0.1) (seed 7), "
                          "T_end = 10, 101 outputs, MSE over all samples.";
    }
    run(sweep, points);
  }
  std::cout << kDiscussion << "\n";
  const std::string out_path = vm["out"].as<std::string>();
  if (!out_path.empty()) {
    out["all_ok"] = all_ok;
    WriteJson(out_path, out);
    std::cerr << "wrote " << out_path << "\n";
  }
  if (!all_ok) std::cerr << "error: at least one gradient failed (see the tables)\n";
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Main(argc, argv); });
}
