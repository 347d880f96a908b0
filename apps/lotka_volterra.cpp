// lotka_volterra: the seed's second example, in three modes.
//
//   discover  W3: recover (α, β, δ, γ) of x' = αx − βxy, y' = δxy − γy from noisy observations
//             (σ = 0.05) on t ∈ [0, 10], starting from (1.0, 0.5, 0.5, 2.0). A plain local
//             optimiser falls into a wrong minimum on the full horizon, so the fit grows the
//             horizon (--horizons) and warm-starts L-BFGS (or Adam) on each; θ = exp(φ) keeps the
//             rates positive.
//   neural    W2: a neural ODE (MLP 2-32-32-2, tanh) fitted to the noise-free trajectory with Adam
//             (lr 1e-2, 300 iterations) from the W2 initial weights; the median time per
//             training iteration is printed.
//   ude       a universal differential equation: the known linear terms αx, −γy plus an MLP for
//             the interaction terms, trained with Adam; the learned terms are then compared with
//             −βxy and δxy by least squares over the observed states.
//
// Output: a table on stdout, CSV and JSON in --out, PNG/SVG plots via gnuplot.
//
// --bench N (with --mode neural or discover): workload W2 or W3 of ../shared/docs/workloads.md
// repeated N times, for every gradient method of the workload (or the one named by
// --gradient/--integrator). W2: the median over the iterations of each repetition of the time
// per training iteration (forward + gradient + Adam update), then the median (min, max) over
// repetitions; mean forward/backward NFE per iteration; the loss every 50 iterations; bptt/dopri5
// both with a stop at every output time and with interpolated outputs. W3: time and loss+gradient
// evaluations until the parameter error is below 1%. Table on stdout, <out>/bench.json.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>

#include "adjoint/backsolve_adjoint_options.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "apps/common/app_common.hpp"
#include "apps/common/bench_util.hpp"
#include "core/errors.hpp"
#include "io/torch_weights.hpp"
#include "models/analytic_fields.hpp"
#include "models/hybrid_field.hpp"
#include "models/mlp.hpp"
#include "optim/adam.hpp"
#include "optim/lbfgs_minimizer.hpp"

namespace snode::app {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const Vector kTrueRates = (Vector(4) << 1.5, 1.0, 1.0, 3.0).finished();  // (α, β, δ, γ)

struct Observations {
  std::vector<double> times;
  std::vector<Vector> clean;  // truth, solved to rtol 1e-10
  std::vector<Vector> noisy;  // clean + N(0, σ²) per value
};

// Portable standard normal draws: Box–Muller on doubles built from raw 64-bit outputs
// (std::normal_distribution is implementation-defined, so runs would differ across platforms).
class PortableNormal {
 public:
  explicit PortableNormal(std::uint64_t seed) : rng_(seed) {}
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * M_PI * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

Observations MakeObservations(double t_end, int points, double noise, std::uint64_t seed) {
  Require(std::isfinite(t_end) && t_end > 0.0, "--t-end must be positive");
  Require(points >= 2, "--points must be at least 2");
  Require(std::isfinite(noise) && noise >= 0.0, "--noise must be >= 0");
  OdeProblem truth;
  truth.field = std::make_shared<LotkaVolterraField>();
  truth.z0 = Vector::Ones(2);
  truth.theta = kTrueRates;
  truth.t0 = 0.0;
  for (int i = 0; i < points; ++i) truth.output_times.push_back(t_end * i / (points - 1));
  IntegratorOptions tight;
  tight.rtol = 1e-10;
  tight.atol = 1e-12;
  auto solver = IntegratorRegistry().Create("cvodes_bdf", tight);
  const Trajectory trajectory = solver->Solve(truth);
  Observations obs;
  obs.times = truth.output_times;
  obs.clean = trajectory.states;
  PortableNormal normal(seed);
  for (const Vector& state : obs.clean) {
    Vector noisy = state;
    for (Index j = 0; j < noisy.size(); ++j) noisy[j] += noise * normal();
    obs.noisy.push_back(noisy);
  }
  return obs;
}

// The problem and MSE loss restricted to the observations with t ≤ horizon.
struct FitWindow {
  OdeProblem problem;
  std::unique_ptr<MseLoss> loss;
};

FitWindow MakeWindow(std::shared_ptr<VectorField> field, const Observations& obs,
                     const std::vector<Vector>& targets, double horizon, const Vector& theta) {
  FitWindow window;
  window.problem.field = std::move(field);
  window.problem.z0 = Vector::Ones(2);
  window.problem.theta = theta;
  window.problem.t0 = 0.0;
  std::vector<Vector> window_targets;
  for (std::size_t i = 0; i < obs.times.size(); ++i) {
    if (obs.times[i] <= horizon * (1.0 + 1e-12)) {
      window.problem.output_times.push_back(obs.times[i]);
      window_targets.push_back(targets[i]);
    }
  }
  window.loss = std::make_unique<MseLoss>(std::move(window_targets));
  return window;
}

double RelativeRateError(const Vector& rates) {
  return ((rates - kTrueRates).array() / kTrueRates.array()).abs().maxCoeff();
}

// ------------------------------------------------------------------ discover (W3)
struct CurvePoint {
  long evaluation;
  double seconds;
  double horizon;
  double loss;
  double error;  // relative parameter error (discover) or NaN
};

int RunDiscover(const po::variables_map& vm, const CommonOptions& common, const Observations& obs,
                nlohmann::json& summary, bool write_files = true) {
  const std::vector<double> horizons =
      ParseDoubleList(vm["horizons"].as<std::string>(), "--horizons");
  for (double h : horizons) Require(h > 0.0, "--horizons entries must be positive");
  const std::string optimizer = vm["optimizer"].as<std::string>();
  Require(optimizer == "lbfgs" || optimizer == "adam",
          "--optimizer must be 'lbfgs' or 'adam', got '" + optimizer + "'");
  const Vector start = (Vector(4) << 1.0, 0.5, 0.5, 2.0).finished();
  Vector phi = start.array().log().matrix();  // θ = exp(φ)

  auto field = std::make_shared<LotkaVolterraField>();
  auto method = GradientRegistry().Create(common.gradient, common.gradient_options);
  std::vector<CurvePoint> curve;
  long evaluations = 0;
  long nfe = 0;
  double time_to_one_percent = NAN;
  long evals_to_one_percent = -1;
  const auto start_time = Clock::now();
  ProgressLine progress("discover", 0, common.quiet);

  for (double horizon : horizons) {
    FitWindow window = MakeWindow(field, obs, obs.noisy, std::min(horizon, obs.times.back()),
                                  phi.array().exp().matrix());
    auto objective = [&](const Vector& x, Vector& grad) {
      window.problem.theta = x.array().exp().matrix();
      const LossAndGradient result = method->Compute(window.problem, *window.loss);
      grad = result.dtheta.cwiseProduct(window.problem.theta);  // chain rule through exp
      ++evaluations;
      nfe += result.stats.forward_rhs_evals + result.stats.backward_rhs_evals;
      const double error = RelativeRateError(window.problem.theta);
      const double elapsed = SecondsSince(start_time);
      curve.push_back({evaluations, elapsed, horizon, result.loss, error});
      if (horizon >= obs.times.back() && error < 0.01 && evals_to_one_percent < 0) {
        evals_to_one_percent = evaluations;
        time_to_one_percent = elapsed;
      }
      progress.Update(evaluations, result.loss, nfe);
      return result.loss;
    };
    if (optimizer == "lbfgs") {
      LbfgsOptions options;
      options.max_iterations = vm["iterations"].as<int>();
      options.gradient_tol = 1e-9;
      MinimizeLbfgs(objective, phi, options);
    } else {
      AdamOptions adam_options;
      adam_options.lr = vm["lr"].as<double>();
      Adam adam(phi.size(), adam_options);
      Vector grad(phi.size());
      for (int it = 0; it < vm["iterations"].as<int>(); ++it) {
        objective(phi, grad);
        adam.Step(phi, grad);
      }
    }
  }
  progress.Finish();
  const Vector rates = phi.array().exp().matrix();
  const double error = RelativeRateError(rates);
  const double seconds = SecondsSince(start_time);

  Table table({"parameter", "true", "recovered", "rel. error"});
  const char* names[] = {"alpha", "beta", "delta", "gamma"};
  for (int i = 0; i < 4; ++i) {
    table.AddRow({names[i], FormatNumber(kTrueRates[i], 4), FormatNumber(rates[i], 6),
                  FormatScientific(std::abs(rates[i] / kTrueRates[i] - 1.0))});
  }
  std::cout << "Lotka-Volterra parameter discovery (W3): " << obs.times.size()
            << " noisy observations on [0, " << obs.times.back() << "], gradient "
            << common.gradient << "/" << common.integrator << ", " << optimizer << ", horizons "
            << vm["horizons"].as<std::string>() << "\n";
  table.Print(std::cout);
  std::cout << "max relative parameter error " << FormatScientific(error) << " after "
            << evaluations << " loss+gradient evaluations, " << FormatSeconds(seconds);
  if (evals_to_one_percent > 0) {
    std::cout << "; below 1% on the full horizon after " << evals_to_one_percent << " evaluations ("
              << FormatSeconds(time_to_one_percent) << ")";
  }
  std::cout << "\n";

  summary["discover"] = {{"recovered", {rates[0], rates[1], rates[2], rates[3]}},
                         {"true", {kTrueRates[0], kTrueRates[1], kTrueRates[2], kTrueRates[3]}},
                         {"max_relative_error", error},
                         {"evaluations", evaluations},
                         {"seconds", seconds},
                         {"evaluations_to_1_percent", evals_to_one_percent},
                         {"seconds_to_1_percent", JsonNumber(time_to_one_percent)},
                         {"optimizer", optimizer},
                         {"gradient", common.gradient},
                         {"integrator", common.integrator}};
  if (!write_files) return 0;
  const std::string dir = common.out_dir;
  std::vector<std::vector<std::string>> rows;
  std::ostringstream data;
  for (const CurvePoint& p : curve) {
    rows.push_back({std::to_string(p.evaluation), FormatNumber(p.seconds, 6),
                    FormatNumber(p.horizon, 4), FormatNumber(p.loss, 10),
                    FormatNumber(p.error, 6)});
    data << p.evaluation << " " << p.loss << " " << p.error << "\n";
  }
  WriteCsv(dir + "/discover_curve.csv", {"evaluation", "seconds", "horizon", "loss", "rel_error"},
           rows);
  AtomicWriteFile(dir + "/discover_curve.dat", data.str());
  const PlotResult plot = RenderGnuplot(
      dir, "discover_curve",
      "set title 'Lotka-Volterra discovery: loss and parameter error'\n"
      "set xlabel 'loss + gradient evaluations'\nset logscale y\nset format y '%.0e'\n"
      "set ylabel 'value'\nset key top right\n"
      "plot 'discover_curve.dat' using 1:2 with lines lw 2 title 'MSE loss', \\\n"
      "     'discover_curve.dat' using 1:3 with lines lw 2 title 'max rel. parameter error'\n");
  if (!plot.rendered) std::cout << plot.note << "\n";
  return 0;
}

// ------------------------------------------------------------------ training loop (neural, ude)
struct TrainResult {
  std::vector<double> losses;  // per iteration (before the update)
  std::vector<double> iteration_seconds;
  double mean_forward_nfe = 0, mean_backward_nfe = 0;
  long skipped_steps = 0;  // --skip-bad-steps: iterations whose gradient was refused
  // TrainAdam: GradientStats::reconstruction_error per iteration (backsolve_adjoint; 0 for the
  // others, NaN for a skipped iteration).
  std::vector<double> reconstruction_errors;
};

// skip_bad_steps: a gradient RequireUsableGradient refuses (backsolve reconstruction failure,
// NaN/Inf) or a failed solve skips the Adam step with a warning instead of stopping the run.
TrainResult TrainAdam(GradientMethod& method, OdeProblem& problem, const Loss& loss, int iterations,
                      double lr, bool quiet, const std::string& label,
                      bool skip_bad_steps = false) {
  Require(iterations > 0, "--iterations must be positive");
  AdamOptions adam_options;
  adam_options.lr = lr;
  Adam adam(problem.theta.size(), adam_options);
  TrainResult result;
  ProgressLine progress(label, iterations, quiet);
  long nfe = 0;
  for (int it = 0; it < iterations; ++it) {
    const auto start = Clock::now();
    LossAndGradient lg;
    try {
      lg = method.Compute(problem, loss);
      RequireUsableGradient(lg, method.name(), "iteration " + std::to_string(it));
      if (!std::isfinite(lg.loss)) {
        throw NumericalError(label + ": loss became non-finite at iteration " + std::to_string(it));
      }
    } catch (const ConfigError&) {
      throw;
    } catch (const Error& error) {
      if (!skip_bad_steps) throw;
      ++result.skipped_steps;
      std::cerr << "\nwarning: " << label << ": skipped iteration " << it << " ("
                << result.skipped_steps << " so far): " << error.what() << "\n";
      if (result.losses.empty()) throw;  // nothing to fall back on at the first iteration
      result.iteration_seconds.push_back(SecondsSince(start));
      result.losses.push_back(result.losses.back());
      result.reconstruction_errors.push_back(NAN);
      continue;
    }
    adam.Step(problem.theta, lg.dtheta);
    result.iteration_seconds.push_back(SecondsSince(start));
    result.losses.push_back(lg.loss);
    result.reconstruction_errors.push_back(lg.stats.reconstruction_error);
    result.mean_forward_nfe += static_cast<double>(lg.stats.forward_rhs_evals) / iterations;
    result.mean_backward_nfe += static_cast<double>(lg.stats.backward_rhs_evals) / iterations;
    nfe += lg.stats.forward_rhs_evals + lg.stats.backward_rhs_evals;
    progress.Update(it + 1, lg.loss, nfe);
  }
  progress.Finish();
  return result;
}

double Median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void WriteTrajectoryPlot(const std::string& dir, const std::string& name, const std::string& title,
                         const Observations& obs, const std::vector<Vector>& fitted) {
  std::ostringstream data;
  for (std::size_t i = 0; i < obs.times.size(); ++i) {
    data << obs.times[i] << " " << obs.clean[i][0] << " " << obs.clean[i][1] << " " << fitted[i][0]
         << " " << fitted[i][1] << "\n";
  }
  AtomicWriteFile(dir + "/" + name + ".dat", data.str());
  const PlotResult plot =
      RenderGnuplot(dir, name,
                    "set title '" + title +
                        "'\nset xlabel 't'\nset ylabel 'population'\nset key top right\n"
                        "plot '" +
                        name +
                        ".dat' using 1:2 with points pt 7 ps 0.6 title 'x data', \\\n"
                        "     '" +
                        name +
                        ".dat' using 1:3 with points pt 7 ps 0.6 title 'y data', \\\n"
                        "     '" +
                        name +
                        ".dat' using 1:4 with lines lw 2 title 'x fitted', \\\n"
                        "     '" +
                        name + ".dat' using 1:5 with lines lw 2 title 'y fitted'\n");
  if (!plot.rendered) std::cout << plot.note << "\n";
}

void WriteLossCurve(const std::string& path, const TrainResult& train) {
  std::vector<std::vector<std::string>> rows;
  const bool with_reconstruction = train.reconstruction_errors.size() == train.losses.size();
  for (std::size_t i = 0; i < train.losses.size(); ++i) {
    rows.push_back({std::to_string(i), FormatNumber(train.losses[i], 10),
                    FormatNumber(train.iteration_seconds[i], 6)});
    if (with_reconstruction) rows.back().push_back(FormatNumber(train.reconstruction_errors[i], 4));
  }
  std::vector<std::string> header = {"iteration", "loss", "seconds"};
  if (with_reconstruction) header.push_back("reconstruction_error");
  WriteCsv(path, header, rows);
}

// ------------------------------------------------------------------ neural (W2)
// W2's problem: the MLP 2-32-32-2 (tanh) from the W2 initial weights (or a seeded
// initialisation when the default weights file is absent), z0 = (1, 1), the observation times.
struct NeuralProblem {
  std::shared_ptr<MlpField> mlp;
  OdeProblem problem;
  std::string init;  // how θ was initialised
};

NeuralProblem MakeNeuralProblem(const po::variables_map& vm, const CommonOptions& common,
                                const Observations& obs) {
  MlpOptions mlp_options;
  mlp_options.widths = {2, 32, 32, 2};
  mlp_options.activations = {"tanh"};
  NeuralProblem n;
  n.mlp = std::make_shared<MlpField>(mlp_options);
  const std::string weights = vm["weights"].as<std::string>();
  Vector theta;
  n.init = "W2 initial weights " + weights;
  if (!weights.empty() && std::ifstream(weights).good()) {
    theta = LoadTorchMlpParams(weights, *n.mlp);
  } else {
    Require(vm["weights"].defaulted(), "cannot read --weights " + weights);
    theta = n.mlp->InitialParams(static_cast<unsigned>(common.seed));
    n.init = "seeded initialisation (seed " + std::to_string(common.seed) + "; " + weights +
             " not found)";
  }
  n.problem.field = n.mlp;
  n.problem.z0 = Vector::Ones(2);
  n.problem.theta = theta;
  n.problem.t0 = 0.0;
  n.problem.output_times = obs.times;
  return n;
}

int RunNeural(const po::variables_map& vm, const CommonOptions& common, const Observations& obs,
              nlohmann::json& summary) {
  NeuralProblem neural = MakeNeuralProblem(vm, common, obs);
  const std::shared_ptr<MlpField>& mlp = neural.mlp;
  OdeProblem& problem = neural.problem;
  const std::string& init = neural.init;
  const MseLoss loss(obs.clean);
  auto method = GradientRegistry().Create(common.gradient, common.gradient_options);
  const int iterations = vm["iterations"].as<int>();
  const TrainResult train = TrainAdam(*method, problem, loss, iterations, vm["lr"].as<double>(),
                                      common.quiet, "neural", vm["skip-bad-steps"].as<bool>());
  if (train.skipped_steps > 0) {
    std::cout << "skipped " << train.skipped_steps << " of " << iterations
              << " iterations (--skip-bad-steps)\n";
  }

  const auto final_solve =
      IntegratorRegistry().Create(common.integrator, common.integrator_options);
  const Trajectory fitted = final_solve->Solve(problem);
  double final_loss = 0;
  {
    Vector dl(2), readout(0);
    for (std::size_t i = 0; i < obs.times.size(); ++i)
      final_loss += loss.Term(i, obs.times[i], fitted.states[i], dl, readout);
  }
  std::cout << "Neural ODE fit to Lotka-Volterra (W2): MLP 2-32-32-2 tanh (" << mlp->num_params()
            << " parameters) from " << init << "; Adam lr " << vm["lr"].as<double>() << ", "
            << iterations << " iterations, " << common.gradient << "/" << common.integrator
            << " rtol " << common.integrator_options.rtol << " atol "
            << common.integrator_options.atol << "\n";
  Table table({"iteration", "loss"});
  for (int it = 0; it < iterations; it += 50) {
    table.AddRow({std::to_string(it), FormatNumber(train.losses[it], 5)});
  }
  table.AddRow({std::to_string(iterations), FormatNumber(final_loss, 5)});
  table.Print(std::cout);
  const double median = Median(train.iteration_seconds);
  std::cout << "median time per iteration " << FormatSeconds(median) << " (forward + gradient + "
            << "update); mean NFE per iteration: forward "
            << FormatNumber(train.mean_forward_nfe, 4) << ", backward "
            << FormatNumber(train.mean_backward_nfe, 4) << "\n";
  // Largest backward reconstruction error over the iterations (NaN if any was not finite).
  double max_reconstruction = 0.0;
  for (const double e : train.reconstruction_errors) {
    max_reconstruction =
        std::isnan(max_reconstruction) || std::isnan(e) ? NAN : std::max(max_reconstruction, e);
  }
  if (common.gradient == "backsolve_adjoint") {
    const BacksolveOptions backsolve =
        BacksolveOptions::FromSettings(common.gradient_options.method_settings);
    std::cout << "backsolve reconstruction error: max " << FormatNumber(max_reconstruction, 3)
              << " over the iterations (flag at "
              << FormatNumber(backsolve.reconstruction_tolerance, 3) << "), checkpoints "
              << (backsolve.checkpoints ? "on" : "off") << "\n";
  }

  WriteLossCurve(common.out_dir + "/neural_loss.csv", train);
  WriteTrajectoryPlot(common.out_dir, "neural_fit", "Neural ODE fit: data vs fitted trajectories",
                      obs, fitted.states);
  summary["neural"] = {{"initial_loss", train.losses.front()},
                       {"skipped_steps", train.skipped_steps},
                       {"final_loss", final_loss},
                       {"iterations", iterations},
                       {"median_seconds_per_iteration", median},
                       {"mean_forward_nfe", train.mean_forward_nfe},
                       {"mean_backward_nfe", train.mean_backward_nfe},
                       {"max_reconstruction_error", max_reconstruction},
                       {"gradient", common.gradient},
                       {"integrator", common.integrator},
                       {"initialisation", init}};
  return 0;
}

// ------------------------------------------------------------------ ude
int RunUde(const po::variables_map& vm, const CommonOptions& common, const Observations& obs,
           nlohmann::json& summary) {
  // Known: x' ⊃ αx, y' ⊃ −γy with the true α, γ; learned: the interaction terms.
  auto known = std::make_shared<LinearField>(2);
  Matrix a = Matrix::Zero(2, 2);
  a(0, 0) = kTrueRates[0];
  a(1, 1) = -kTrueRates[3];
  MlpOptions mlp_options;
  mlp_options.widths = {2, 16, 16, 2};
  mlp_options.activations = {"tanh"};
  auto mlp = std::make_shared<MlpField>(mlp_options);
  auto field = std::make_shared<HybridField>(known, LinearField::ParamsFromMatrix(a), mlp);
  Vector theta = mlp->InitialParams(static_cast<unsigned>(common.seed));
  // Start the learned terms near zero so the first horizons see the known dynamics.
  theta *= 0.1;

  auto method = GradientRegistry().Create(common.gradient, common.gradient_options);
  const std::vector<double> horizons =
      ParseDoubleList(vm["horizons"].as<std::string>(), "--horizons");
  const int iterations = vm["iterations"].as<int>();
  const bool noisy = vm["ude-noisy"].as<bool>();
  const std::string optimizer = vm["optimizer"].as<std::string>();
  Require(optimizer == "lbfgs" || optimizer == "adam",
          "--optimizer must be 'lbfgs' or 'adam', got '" + optimizer + "'");
  const std::vector<Vector>& targets = noisy ? obs.noisy : obs.clean;
  TrainResult all;
  for (double horizon : horizons) {
    FitWindow window = MakeWindow(field, obs, targets, std::min(horizon, obs.times.back()), theta);
    TrainResult part;
    if (optimizer == "adam") {
      part = TrainAdam(*method, window.problem, *window.loss, iterations, vm["lr"].as<double>(),
                       common.quiet, "ude");
    } else {
      // L-BFGS on the network weights: a few hundred parameters and a smooth loss.
      auto objective = [&](const Vector& x, Vector& grad) {
        const auto start = Clock::now();
        window.problem.theta = x;
        const LossAndGradient lg = method->Compute(window.problem, *window.loss);
        grad = lg.dtheta;
        part.losses.push_back(lg.loss);
        part.iteration_seconds.push_back(SecondsSince(start));
        return lg.loss;
      };
      LbfgsOptions options;
      options.max_iterations = iterations;
      options.gradient_tol = 1e-10;
      options.relative_decrease_tol = 0.0;
      // The adaptive solver's step sequence changes with θ, so the loss is only piecewise smooth
      // and libLBFGS's line search often stops "by rounding errors" long before the budget (on
      // the default run at 8 of the 10 horizons, four times after 0 iterations). Restart it from
      // where it stopped with a fresh memory while that still lowers the loss.
      Vector x = window.problem.theta;
      int budget = iterations;
      double best = std::numeric_limits<double>::infinity();
      while (budget > 0) {
        options.max_iterations = budget;
        const LbfgsResult r = MinimizeLbfgs(objective, x, options);
        budget -= std::max(r.iterations, 1);
        if (!r.line_search_stalled || !(r.value < best * (1.0 - 1e-6))) break;
        best = r.value;
      }
      window.problem.theta = x;
    }
    theta = window.problem.theta;
    all.losses.insert(all.losses.end(), part.losses.begin(), part.losses.end());
    all.iteration_seconds.insert(all.iteration_seconds.end(), part.iteration_seconds.begin(),
                                 part.iteration_seconds.end());
  }

  // Least-squares coefficients of the learned terms against xy over the true states:
  // g_x ≈ −β̂ xy, g_y ≈ δ̂ xy.
  double sxx = 0, sgx = 0, sgy = 0;
  Vector g(2);
  for (const Vector& z : obs.clean) {
    field->LearnedTerm(0.0, z, theta, g);
    const double xy = z[0] * z[1];
    sxx += xy * xy;
    sgx += g[0] * xy;
    sgy += g[1] * xy;
  }
  const double beta = -sgx / sxx, delta = sgy / sxx;
  const double beta_error = std::abs(beta / kTrueRates[1] - 1.0);
  const double delta_error = std::abs(delta / kTrueRates[2] - 1.0);

  OdeProblem full;
  full.field = field;
  full.z0 = Vector::Ones(2);
  full.theta = theta;
  full.output_times = obs.times;
  const Trajectory fitted =
      IntegratorRegistry().Create(common.integrator, common.integrator_options)->Solve(full);

  std::cout << "Universal differential equation: x' = " << kTrueRates[0] << "x + g1(x,y), y' = -"
            << kTrueRates[3] << "y + g2(x,y), g = MLP 2-16-16-2 tanh (" << mlp->num_params()
            << " parameters), " << (noisy ? "noisy" : "noise-free") << " data, " << optimizer
            << ", " << iterations << " iterations per horizon " << vm["horizons"].as<std::string>()
            << "\n";
  Table table({"term", "true coefficient", "learned (least squares on xy)", "rel. error"});
  table.AddRow({"-beta*x*y", FormatNumber(kTrueRates[1], 4), FormatNumber(beta, 6),
                FormatScientific(beta_error)});
  table.AddRow({"delta*x*y", FormatNumber(kTrueRates[2], 4), FormatNumber(delta, 6),
                FormatScientific(delta_error)});
  table.Print(std::cout);
  std::cout << "final training loss " << FormatScientific(all.losses.back()) << "\n";

  std::ostringstream terms;
  for (std::size_t i = 0; i < obs.times.size(); ++i) {
    const Vector& z = obs.clean[i];
    field->LearnedTerm(0.0, z, theta, g);
    const double xy = z[0] * z[1];
    terms << obs.times[i] << " " << -kTrueRates[1] * xy << " " << kTrueRates[2] * xy << " " << g[0]
          << " " << g[1] << "\n";
  }
  AtomicWriteFile(common.out_dir + "/ude_terms.dat", terms.str());
  const PlotResult plot = RenderGnuplot(
      common.out_dir, "ude_terms",
      "set title 'UDE: learned interaction terms vs the true ones along the trajectory'\n"
      "set xlabel 't'\nset ylabel 'term value'\nset key top right\n"
      "plot 'ude_terms.dat' using 1:2 with lines lw 3 title '-beta x y (true)', \\\n"
      "     'ude_terms.dat' using 1:4 with lines lw 2 dt 2 title 'g1 (learned)', \\\n"
      "     'ude_terms.dat' using 1:3 with lines lw 3 title 'delta x y (true)', \\\n"
      "     'ude_terms.dat' using 1:5 with lines lw 2 dt 2 title 'g2 (learned)'\n");
  if (!plot.rendered) std::cout << plot.note << "\n";
  WriteLossCurve(common.out_dir + "/ude_loss.csv", all);
  WriteTrajectoryPlot(common.out_dir, "ude_fit", "UDE fit: data vs fitted trajectories", obs,
                      fitted.states);
  summary["ude"] = {{"beta", beta},
                    {"delta", delta},
                    {"beta_relative_error", beta_error},
                    {"delta_relative_error", delta_error},
                    {"final_loss", all.losses.back()},
                    {"noisy_data", noisy}};
  return 0;
}

// ------------------------------------------------------------------ --bench (W2, W3)

struct BenchConfig {
  std::string gradient;
  std::string integrator;
  bool interpolate = false;  // IntegratorOptions::interpolate_outputs
  bool tagged = false;       // show "outputs=..." in the label
  std::string backward;      // GradientOptions::backward_integrator ("" = the forward one)

  std::string Label() const {
    return gradient + "/" + integrator + (backward.empty() ? "" : "+" + backward) +
           (tagged ? (interpolate ? " outputs=interpolate" : " outputs=stop") : "");
  }
  CommonOptions Apply(CommonOptions common) const {
    common.gradient = gradient;
    common.integrator = integrator;
    common.gradient_options.integrator = integrator;
    common.integrator_options.interpolate_outputs = interpolate;
    common.gradient_options.integrator_options.interpolate_outputs = interpolate;
    common.gradient_options.backward_integrator = backward;
    common.quiet = true;
    return common;
  }
};

// The workload's methods, or the one pair named on the command line. Outputs: as --outputs says
// (auto and interpolate: interpolated, since all these integrators have dense output); W2 also
// runs bptt/dopri5 the other way, so both are measured.
std::vector<BenchConfig> BenchConfigs(const po::variables_map& vm, const CommonOptions& common,
                                      bool neural) {
  const bool interpolate = common.integrator_options.interpolate_outputs ||
                           (vm.count("outputs") && vm["outputs"].as<std::string>() != "stop");
  if (common.gradient_set || common.integrator_set) {
    return {{common.gradient, common.integrator, common.integrator_options.interpolate_outputs,
             true, common.gradient_options.backward_integrator}};
  }
  std::vector<BenchConfig> configs = {{"bptt", "dopri5", false, true, ""}};
  if (neural) configs.push_back({"bptt", "dopri5", true, true, ""});
  if (!neural && interpolate) configs.front().interpolate = true;
  configs.push_back({"backsolve_adjoint", "dopri5", interpolate, true, ""});
  configs.push_back({"cvodes_adjoint", "cvodes_bdf", interpolate, true, ""});
  configs.push_back({"cvodes_adjoint", "cvodes_adams", interpolate, true, ""});
  // The interpolating adjoint: CVODES forward, dopri5 backward over its recorded polynomials.
  if (neural) configs.push_back({"cvodes_adjoint", "cvodes_adams", interpolate, true, "dopri5"});
  return configs;
}

int RunNeuralBench(const po::variables_map& vm, const CommonOptions& common,
                   const Observations& obs, int repetitions) {
  const int iterations = vm["iterations"].as<int>();
  const double lr = vm["lr"].as<double>();
  const MseLoss loss(obs.clean);
  std::vector<bench::BenchRow> rows;
  nlohmann::json details = nlohmann::json::array();
  std::string init;
  for (const BenchConfig& config : BenchConfigs(vm, common, true)) {
    const CommonOptions c = config.Apply(common);
    std::vector<double> medians, forward_nfe, backward_nfe, final_losses;
    std::vector<std::vector<double>> curves;  // loss every 50 iterations, per repetition
    std::string failure;
    for (int rep = 0; rep < repetitions && failure.empty(); ++rep) {
      NeuralProblem neural = MakeNeuralProblem(vm, c, obs);
      init = neural.init;
      try {
        auto method = GradientRegistry().Create(c.gradient, c.gradient_options);
        const TrainResult train = TrainAdam(*method, neural.problem, loss, iterations, lr, true,
                                            "neural", vm["skip-bad-steps"].as<bool>());
        medians.push_back(bench::Median(train.iteration_seconds));
        forward_nfe.push_back(train.mean_forward_nfe);
        backward_nfe.push_back(train.mean_backward_nfe);
        final_losses.push_back(train.losses.back());
        std::vector<double> curve;
        for (int it = 0; it < iterations; it += 50) curve.push_back(train.losses[it]);
        curve.push_back(train.losses.back());
        curves.push_back(curve);
      } catch (const std::exception& e) {
        failure = e.what();
      }
    }
    const bench::Spread time = bench::Summarize(medians);
    bench::BenchRow row;
    row.workload = "W2";
    row.configuration = config.Label();
    row.metric = "time per iteration";
    row.unit = "s";
    row.spread = time;
    row.has_target = true;
    row.target = config.gradient == "bptt" ? 0.66e-3 : 2e-3;
    row.target_text = config.gradient == "bptt" ? "<= 0.66 ms" : "<= 2 ms";
    if (!failure.empty()) {
      row.met_override = 0;
      row.note = "failed: " + failure;
    } else {
      row.note = "NFE/it fwd " + FormatNumber(bench::Median(forward_nfe), 4) + ", bwd " +
                 FormatNumber(bench::Median(backward_nfe), 4) + ", loss " +
                 FormatNumber(curves.front().front(), 4) + " -> " +
                 FormatNumber(bench::Median(final_losses), 4);
    }
    rows.push_back(row);
    nlohmann::json curve_json = nlohmann::json::array();
    if (!curves.empty()) {
      for (std::size_t k = 0; k < curves.front().size(); ++k) {
        std::vector<double> at;
        for (const auto& curve : curves) at.push_back(curve[k]);
        const long it = k + 1 < curves.front().size() ? static_cast<long>(50 * k) : iterations - 1;
        curve_json.push_back(
            {{"iteration", it}, {"loss", bench::SpreadJson(bench::Summarize(at))}});
      }
    }
    details.push_back(
        {{"configuration", config.Label()},
         {"gradient_method", config.gradient},
         {"integrator", config.integrator},
         {"interpolate_outputs", config.interpolate},
         {"seconds_per_iteration", bench::SpreadJson(time)},
         {"mean_forward_nfe_per_iteration", bench::SpreadJson(bench::Summarize(forward_nfe))},
         {"mean_backward_nfe_per_iteration", bench::SpreadJson(bench::Summarize(backward_nfe))},
         {"loss_every_50", curve_json},
         {"error", failure}});
  }
  std::cout << "W2 bench: neural ODE fit to Lotka-Volterra, MLP 2-32-32-2 tanh from " << init
            << "; Adam lr " << lr << ", " << iterations << " iterations per repetition, rtol "
            << common.integrator_options.rtol << " atol " << common.integrator_options.atol
            << "; time: median over the iterations of a repetition\n";
  Table table({"configuration", "time/it", "min", "max", "NFE fwd/it", "NFE bwd/it", "loss 0", "50",
               "100", "150", "200", "250", "last"});
  for (const nlohmann::json& d : details) {
    const auto& t = d["seconds_per_iteration"];
    auto seconds = [](const nlohmann::json& x) {
      return x.is_number() ? FormatSeconds(x.get<double>()) : std::string("-");
    };
    auto number = [](const nlohmann::json& x) {
      return x.is_number() ? FormatNumber(x.get<double>(), 4) : std::string("-");
    };
    std::vector<std::string> cells = {d["configuration"].get<std::string>(),
                                      seconds(t["median"]),
                                      seconds(t["min"]),
                                      seconds(t["max"]),
                                      number(d["mean_forward_nfe_per_iteration"]["median"]),
                                      number(d["mean_backward_nfe_per_iteration"]["median"])};
    for (std::size_t k = 0; k < 6; ++k) {
      cells.push_back(k < d["loss_every_50"].size() && k + 1 < d["loss_every_50"].size()
                          ? number(d["loss_every_50"][k]["loss"]["median"])
                          : "-");
    }
    cells.push_back(
        d["loss_every_50"].empty() ? "-" : number(d["loss_every_50"].back()["loss"]["median"]));
    table.AddRow(cells);
  }
  table.Print(std::cout);
  bench::WriteBenchReport(
      common.out_dir, "lotka_volterra", "W2", repetitions, rows,
      {{"runs", details},
       {"iterations", iterations},
       {"lr", lr},
       {"rtol", common.integrator_options.rtol},
       {"atol", common.integrator_options.atol},
       {"initialisation", init},
       {"reference", "torchdiffeq BPTT: 66 ms/it, 149 fwd NFE, loss 6.74 -> 3.00"}});
  return 0;
}

int RunDiscoverBench(const po::variables_map& vm, const CommonOptions& common,
                     const Observations& obs, int repetitions) {
  std::vector<bench::BenchRow> rows;
  nlohmann::json details = nlohmann::json::array();
  for (const BenchConfig& config : BenchConfigs(vm, common, false)) {
    const CommonOptions c = config.Apply(common);
    std::vector<double> to_one_percent, evals, errors, total;
    std::string failure;
    for (int rep = 0; rep < repetitions && failure.empty(); ++rep) {
      nlohmann::json summary;
      try {
        bench::SilenceStdout silence;
        RunDiscover(vm, c, obs, summary, false);
      } catch (const std::exception& e) {
        failure = e.what();
        break;
      }
      const nlohmann::json& d = summary["discover"];
      to_one_percent.push_back(d["seconds_to_1_percent"].is_number()
                                   ? d["seconds_to_1_percent"].get<double>()
                                   : std::numeric_limits<double>::quiet_NaN());
      evals.push_back(static_cast<double>(d["evaluations_to_1_percent"].get<long>()));
      errors.push_back(d["max_relative_error"].get<double>());
      total.push_back(d["seconds"].get<double>());
    }
    bench::BenchRow row;
    row.workload = "W3";
    row.configuration = config.Label();
    row.metric = "time to < 1% error";
    row.unit = "s";
    row.spread = bench::Summarize(to_one_percent);
    row.has_target = true;
    row.target = 1.0;
    row.target_text = "< 1 s";
    if (!failure.empty()) {
      row.met_override = 0;
      row.note = "failed: " + failure;
    } else {
      const bench::Spread e = bench::Summarize(evals);
      row.note = (e.median > 0 ? "evaluations to 1%: " + FormatNumber(e.median, 4)
                               : std::string("never below 1%")) +
                 ", final error " + FormatScientific(bench::Median(errors), 2) + " after " +
                 FormatSeconds(bench::Median(total));
      if (row.spread.count < static_cast<int>(to_one_percent.size())) row.met_override = 0;
    }
    rows.push_back(row);
    details.push_back({{"configuration", config.Label()},
                       {"gradient_method", config.gradient},
                       {"integrator", config.integrator},
                       {"seconds_to_1_percent", bench::SpreadJson(row.spread)},
                       {"evaluations_to_1_percent", bench::SpreadJson(bench::Summarize(evals))},
                       {"final_relative_error", bench::SpreadJson(bench::Summarize(errors))},
                       {"total_seconds", bench::SpreadJson(bench::Summarize(total))},
                       {"error", failure}});
  }
  std::cout << "W3 bench: Lotka-Volterra parameter discovery from (1.0, 0.5, 0.5, 2.0), "
            << obs.times.size() << " noisy observations on [0, " << obs.times.back() << "], "
            << vm["optimizer"].as<std::string>() << ", horizons "
            << vm["horizons"].as<std::string>() << "\n";
  bench::WriteBenchReport(common.out_dir, "lotka_volterra", "W3", repetitions, rows,
                          {{"runs", details},
                           {"optimizer", vm["optimizer"].as<std::string>()},
                           {"horizons", vm["horizons"].as<std::string>()}});
  return 0;
}

int Main(int argc, char** argv) {
  CommonDefaults defaults;
  defaults.gradient = "bptt";
  defaults.integrator = "dopri5";
  defaults.rtol = 1e-6;
  defaults.atol = 1e-8;
  defaults.outputs = "auto";  // 101 observations: interpolate between steps, as W2 is defined
  defaults.out = "results/lotka_volterra";
  po::options_description desc("lotka_volterra options");
  AddCommonOptions(desc, defaults);
  desc.add_options()  //
      ("mode", po::value<std::string>()->default_value("all"),
       "discover (W3), neural (W2), ude, or all")  //
      ("skip-bad-steps", po::bool_switch(),
       "neural: skip an iteration whose gradient is unusable (backsolve reconstruction failure, "
       "NaN, solver failure) with a warning and a counter instead of stopping")  //
      ("iterations", po::value<int>(),
       "optimiser iterations (default: discover 100 per horizon, neural 300, ude 300 per "
       "horizon)")  //
      ("lr", po::value<double>(),
       "Adam learning rate (default: neural/ude 1e-2, discover 0.05)")  //
      ("optimizer", po::value<std::string>()->default_value("lbfgs"),
       "discover and ude: lbfgs (libLBFGS) or adam")  //
      ("horizons", po::value<std::string>(),
       "growing fit horizons, comma-separated (default: discover 2,4,6,8,10; ude 1,2,...,10)")  //
      ("noise", po::value<double>()->default_value(0.05), "observation noise sigma (W3)")       //
      ("t-end", po::value<double>()->default_value(10.0), "end of the observation window")      //
      ("points", po::value<int>()->default_value(101), "number of observation times")           //
      ("weights", po::value<std::string>()->default_value("../shared/data/w2/w2_init_weights.json"),
       "W2 initial weights (PyTorch layout JSON); the default falls back to a seeded init if "
       "absent")                                                                              //
      ("ude-noisy", po::value<bool>()->default_value(false), "ude: train on the noisy data")  //
      ("bench", po::value<long>(),
       "with --mode neural (W2) or discover (W3): run the workload N times for each of its "
       "gradient methods; medians of time, NFE and results; writes <out>/bench.json");
  const po::variables_map vm = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(vm, desc, "usage: lotka_volterra [options]", std::cout)) return 0;
  CommonOptions common = ReadCommonOptions(vm);
  const std::string mode = vm["mode"].as<std::string>();
  Require(mode == "discover" || mode == "neural" || mode == "ude" || mode == "all",
          "--mode must be discover, neural, ude or all, got '" + mode + "'");
  EnsureDirectory(common.out_dir);

  const Observations obs = MakeObservations(vm["t-end"].as<double>(), vm["points"].as<int>(),
                                            vm["noise"].as<double>(), common.seed);
  nlohmann::json summary;
  auto with_defaults = [&](int iterations, double lr, const std::string& horizons) {
    po::variables_map local = vm;
    if (!local.count("iterations"))
      local.insert({"iterations", po::variable_value(iterations, true)});
    if (!local.count("lr")) local.insert({"lr", po::variable_value(lr, true)});
    if (!local.count("horizons")) local.insert({"horizons", po::variable_value(horizons, true)});
    return local;
  };
  if (vm.count("bench")) {
    Require(mode == "neural" || mode == "discover", "--bench needs --mode neural or discover");
    const int repetitions = bench::CheckRepetitions(vm["bench"].as<long>());
    if (mode == "neural") {
      return RunNeuralBench(with_defaults(300, 1e-2, "10"), common, obs, repetitions);
    }
    CommonOptions discover = common;
    if (!common.rtol_set) discover.gradient_options.integrator_options.rtol = 1e-8;
    if (!common.atol_set) discover.gradient_options.integrator_options.atol = 1e-10;
    return RunDiscoverBench(with_defaults(100, 0.05, "2,4,6,8,10"), discover, obs, repetitions);
  }
  if (mode == "discover" || mode == "all") {
    CommonOptions discover = common;
    // Loss landscapes of parameter fits want tight solves unless the user chose otherwise.
    if (!common.rtol_set) discover.gradient_options.integrator_options.rtol = 1e-8;
    if (!common.atol_set) discover.gradient_options.integrator_options.atol = 1e-10;
    RunDiscover(with_defaults(100, 0.05, "2,4,6,8,10"), discover, obs, summary);
  }
  if (mode == "neural" || mode == "all") {
    RunNeural(with_defaults(300, 1e-2, "10"), common, obs, summary);
  }
  if (mode == "ude" || mode == "all") {
    RunUde(with_defaults(300, 1e-2, "1,2,3,4,5,6,7,8,9,10"), common, obs, summary);
  }
  WriteJson(common.out_dir + "/summary.json", summary);
  std::cout << "results written to " << common.out_dir << "\n";
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Main(argc, argv); });
}
