#include "studies/lotka_volterra_study.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>

#include "core/errors.hpp"
#include "io/files.hpp"
#include "io/torch_weights.hpp"
#include "models/analytic_fields.hpp"
#include "optim/lbfgs_minimizer.hpp"
#include "optim/training_loop.hpp"
#include "studies/bench_util.hpp"
#include "studies/lotka_volterra_report.hpp"
#include "studies/report.hpp"

namespace snode::lotka_volterra {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

using bench::ProcessCpuSeconds;

IterationCounts CountsOf(const GradientStats& stats) {
  return {stats.forward_rhs_evals, stats.backward_rhs_evals, stats.forward_steps,
          stats.backward_steps,    stats.checkpoints,        stats.backward_restarts};
}

void RequireOptimizer(const std::string& optimizer) {
  Require(optimizer == "lbfgs" || optimizer == "adam",
          "--optimizer must be 'lbfgs' or 'adam', got '" + optimizer + "'");
}

// A fit cannot go on from a loss that is not finite (the data, the rates or the solve are out of
// range); L-BFGS backs off from such a value, so only the value it ends on is checked.
void RequireFiniteLoss(double loss, const std::string& fit, double horizon) {
  if (std::isfinite(loss)) return;
  throw NumericalError(fit + ": the loss is " + FormatNumber(loss) + " on the fit horizon " +
                       FormatCompact(horizon, 6) +
                       ", not a finite number; the fit cannot go on (are the data in range: "
                       "--noise, --t-end?)");
}

// One horizon of the discovery: L-BFGS or `iterations` Adam steps from phi.
void MinimizeOnHorizon(const Objective& objective, Vector& phi, const DiscoverOptions& options,
                       double horizon) {
  if (options.optimizer == "lbfgs") {
    LbfgsOptions lbfgs;
    lbfgs.max_iterations = options.iterations;
    lbfgs.gradient_tol = 1e-9;
    RequireFiniteLoss(MinimizeLbfgs(objective, phi, lbfgs).value, "discover", horizon);
    return;
  }
  TrainingOptions training;
  training.iterations = std::max(options.iterations, 0);
  training.adam.lr = options.lr;
  // Adam steps from every value it sees: a non-finite one ends the fit.
  const Objective checked = [&](const Vector& x, Vector& grad) {
    const double loss = objective(x, grad);
    RequireFiniteLoss(loss, "discover", horizon);
    return loss;
  };
  RunTraining(checked, phi, training);
}

}  // namespace

// ---------------------------------------------------------------- discovery
DiscoverResult Discover(const Observations& obs, const DiscoverOptions& options,
                        const StudySettings& settings) {
  for (double h : options.horizons) Require(h > 0.0, "--horizons entries must be positive");
  RequireOptimizer(options.optimizer);
  const Vector start = (Vector(4) << 1.0, 0.5, 0.5, 2.0).finished();
  Vector phi = start.array().log().matrix();  // θ = exp(φ)

  auto field = std::make_shared<LotkaVolterraField>();
  auto method = GradientRegistry().Create(settings.gradient, settings.gradient_options);
  DiscoverResult result;
  result.seconds_to_one_percent = NAN;
  long nfe = 0;
  const auto start_time = Clock::now();
  ProgressLine progress("discover", 0, settings.quiet);
  for (double horizon : options.horizons) {
    problems::FitWindow window =
        problems::MakeFitWindow(field, obs.times, obs.noisy, std::min(horizon, obs.times.back()),
                                phi.array().exp().matrix());
    const auto objective = [&](const Vector& x, Vector& grad) {
      window.problem.theta = x.array().exp().matrix();
      const LossAndGradient lg = method->Compute(window.problem, *window.loss);
      grad = lg.dtheta.cwiseProduct(window.problem.theta);  // chain rule through exp
      const long evaluation = ++result.evaluations;
      nfe += lg.stats.forward_rhs_evals + lg.stats.backward_rhs_evals;
      const double error = problems::RelativeRateError(window.problem.theta);
      const double elapsed = SecondsSince(start_time);
      result.curve.push_back({evaluation, elapsed, horizon, lg.loss, error});
      if (horizon >= obs.times.back() && error < 0.01 && result.evaluations_to_one_percent < 0) {
        result.evaluations_to_one_percent = evaluation;
        result.seconds_to_one_percent = elapsed;
      }
      progress.Update(evaluation, lg.loss, nfe);
      return lg.loss;
    };
    MinimizeOnHorizon(objective, phi, options, horizon);
  }
  progress.Finish();
  result.rates = phi.array().exp().matrix();
  result.error = problems::RelativeRateError(result.rates);
  result.seconds = SecondsSince(start_time);
  return result;
}

nlohmann::json RunDiscoverStudy(const Observations& obs, const DiscoverOptions& options,
                                const StudySettings& settings, std::ostream& out,
                                bool write_files) {
  const DiscoverResult result = Discover(obs, options, settings);
  PrintDiscovery(out, obs, options, settings, result);
  const Vector& r = result.rates;
  const Vector truth = problems::LotkaVolterraTrueRates();
  const nlohmann::json summary = {
      {"recovered", {r[0], r[1], r[2], r[3]}},
      {"true", {truth[0], truth[1], truth[2], truth[3]}},
      {"max_relative_error", result.error},
      {"evaluations", result.evaluations},
      {"seconds", result.seconds},
      {"evaluations_to_1_percent", result.evaluations_to_one_percent},
      {"seconds_to_1_percent", JsonNumber(result.seconds_to_one_percent)},
      {"optimizer", options.optimizer},
      {"gradient", settings.gradient},
      {"integrator", settings.integrator}};
  if (write_files) WriteDiscoveryFiles(settings.out_dir, result.curve, out);
  return summary;
}

// ---------------------------------------------------------------- Adam training
namespace {

// One loss and gradient for TrainAdam: checked, or SkipUpdate (after a warning) when
// skip_bad_steps allows skipping it.
LossAndGradient ComputeForStep(GradientMethod& method, const OdeProblem& problem, const Loss& loss,
                               long iteration, const std::string& label, bool skip_bad_steps,
                               const GradientCheck& check, TrainResult& result) {
  try {
    LossAndGradient lg = method.Compute(problem, loss);
    if (check) check(lg, method.name(), "iteration " + std::to_string(iteration));
    if (!std::isfinite(lg.loss)) {
      throw NumericalError(label + ": loss became non-finite at iteration " +
                           std::to_string(iteration));
    }
    return lg;
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& error) {
    if (!skip_bad_steps) throw;
    ++result.skipped_steps;
    std::cerr << "\nwarning: " << label << ": skipped iteration " << iteration << " ("
              << result.skipped_steps << " so far): " << error.what() << "\n";
    if (result.losses.empty()) throw;  // nothing to fall back on at the first iteration
    throw SkipUpdate(error.what());
  }
}

}  // namespace

TrainResult TrainAdam(GradientMethod& method, OdeProblem& problem, const Loss& loss, int iterations,
                      double lr, bool quiet, const std::string& label, bool skip_bad_steps,
                      const GradientCheck& check) {
  Require(iterations > 0, "--iterations must be positive");
  TrainResult result;
  ProgressLine progress(label, iterations, quiet);
  long nfe = 0;
  long iteration = 0;
  Clock::time_point start;
  double cpu_start = 0;
  GradientStats stats;
  // The loop updates problem.theta itself, so every Compute sees the latest parameters.
  const Objective objective = [&](const Vector&, Vector& gradient) {
    start = Clock::now();
    cpu_start = ProcessCpuSeconds();
    LossAndGradient lg =
        ComputeForStep(method, problem, loss, iteration, label, skip_bad_steps, check, result);
    gradient = std::move(lg.dtheta);
    stats = lg.stats;
    return lg.loss;
  };
  const TrainingCallback record = [&](const IterationInfo& info) {
    ++iteration;
    result.iteration_seconds.push_back(SecondsSince(start));
    result.iteration_cpu_seconds.push_back(ProcessCpuSeconds() - cpu_start);
    result.losses.push_back(info.loss);
    if (info.skipped) {
      result.reconstruction_errors.push_back(NAN);
      result.iteration_counts.emplace_back();
      return true;
    }
    result.reconstruction_errors.push_back(stats.reconstruction_error);
    result.iteration_counts.push_back(CountsOf(stats));
    result.mean_forward_nfe += static_cast<double>(stats.forward_rhs_evals) / iterations;
    result.mean_backward_nfe += static_cast<double>(stats.backward_rhs_evals) / iterations;
    nfe += stats.forward_rhs_evals + stats.backward_rhs_evals;
    progress.Update(iteration, info.loss, nfe);
    return true;
  };
  TrainingOptions options;
  options.iterations = iterations;
  options.adam.lr = lr;
  RunTraining(objective, problem.theta, options, record);
  progress.Finish();
  return result;
}

double Median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// ---------------------------------------------------------------- neural
NeuralProblem MakeNeuralProblem(const NeuralOptions& options, std::uint64_t seed,
                                const std::vector<double>& times) {
  MlpOptions mlp_options;
  mlp_options.widths = {2, 32, 32, 2};
  mlp_options.activations = {"tanh"};
  NeuralProblem n;
  n.mlp = std::make_shared<MlpField>(mlp_options);
  const std::string& weights = options.weights;
  Vector theta;
  n.init = "W2 initial weights " + weights;
  std::error_code error;
  if (!weights.empty() && std::filesystem::is_regular_file(weights, error)) {
    try {
      theta = LoadTorchMlpParams(weights, *n.mlp);
    } catch (const Error&) {
      throw;                             // names the file
    } catch (const std::exception& e) {  // a stream failure, which does not
      throw InputError("--weights '" + weights + "': cannot read it: " + e.what());
    }
  } else {
    Require(options.weights_defaulted, "cannot read --weights " + weights);
    theta = n.mlp->InitialParams(static_cast<unsigned>(seed));
    n.init = "seeded initialisation (seed " + std::to_string(seed) + "; " + weights + " not found)";
  }
  n.problem = problems::LotkaVolterraProblem(theta, times, n.mlp);
  return n;
}

NeuralFit TrainNeural(const Observations& obs, const NeuralOptions& options,
                      const StudySettings& settings) {
  NeuralFit fit;
  fit.neural = MakeNeuralProblem(options, settings.seed, obs.times);
  const MseLoss loss(obs.clean);
  auto method = GradientRegistry().Create(settings.gradient, settings.gradient_options);
  fit.train = TrainAdam(*method, fit.neural.problem, loss, options.iterations, options.lr,
                        settings.quiet, "neural", options.skip_bad_steps, settings.check_gradient);
  return fit;
}

void SolveNeuralFit(NeuralFit& fit, const Observations& obs, const StudySettings& settings) {
  fit.fitted = IntegratorRegistry()
                   .Create(settings.integrator, settings.integrator_options)
                   ->Solve(fit.neural.problem)
                   .states;
  const MseLoss loss(obs.clean);
  Vector dl(2), readout(0);
  fit.final_loss = 0.0;
  for (std::size_t i = 0; i < obs.times.size(); ++i) {
    fit.final_loss += loss.Term(i, obs.times[i], fit.fitted[i], dl, readout);
  }
}

nlohmann::json RunNeuralStudy(const Observations& obs, const NeuralOptions& options,
                              const StudySettings& settings, std::ostream& out) {
  NeuralFit fit = TrainNeural(obs, options, settings);
  const TrainResult& train = fit.train;
  if (train.skipped_steps > 0) {
    out << "skipped " << train.skipped_steps << " of " << options.iterations
        << " iterations (--skip-bad-steps)\n";
  }
  SolveNeuralFit(fit, obs, settings);
  // Largest backward reconstruction error over the iterations (NaN if any was not finite).
  double max_reconstruction = 0.0;
  for (const double e : train.reconstruction_errors) {
    max_reconstruction =
        std::isnan(max_reconstruction) || std::isnan(e) ? NAN : std::max(max_reconstruction, e);
  }
  PrintNeural(out, fit, options, settings, max_reconstruction);
  WriteLossCurve(settings.out_dir + "/neural_loss.csv", train);
  WriteTrajectoryPlot(settings.out_dir, "neural_fit", "Neural ODE fit: data vs fitted trajectories",
                      obs, fit.fitted, out);
  return {{"initial_loss", train.losses.front()},
          {"skipped_steps", train.skipped_steps},
          {"final_loss", fit.final_loss},
          {"iterations", options.iterations},
          {"median_seconds_per_iteration", Median(train.iteration_seconds)},
          {"mean_forward_nfe", train.mean_forward_nfe},
          {"mean_backward_nfe", train.mean_backward_nfe},
          {"max_reconstruction_error", max_reconstruction},
          {"gradient", settings.gradient},
          {"integrator", settings.integrator},
          {"initialisation", fit.neural.init}};
}

// ---------------------------------------------------------------- ude
namespace {

// The UDE field: known x' ⊃ αx, y' ⊃ −γy with the true α, γ; learned: the interaction terms.
UdeFit MakeUdeField(std::uint64_t seed) {
  const Vector rates = problems::LotkaVolterraTrueRates();
  auto known = std::make_shared<LinearField>(2);
  Matrix a = Matrix::Zero(2, 2);
  a(0, 0) = rates[0];
  a(1, 1) = -rates[3];
  MlpOptions mlp_options;
  mlp_options.widths = {2, 16, 16, 2};
  mlp_options.activations = {"tanh"};
  UdeFit fit;
  fit.mlp = std::make_shared<MlpField>(mlp_options);
  fit.field = std::make_shared<HybridField>(known, LinearField::ParamsFromMatrix(a), fit.mlp);
  fit.theta = fit.mlp->InitialParams(static_cast<unsigned>(seed));
  // Start the learned terms near zero so the first horizons see the known dynamics.
  fit.theta *= 0.1;
  return fit;
}

// L-BFGS on the network weights (a few hundred parameters, a smooth loss) for `iterations`.
TrainResult FitWindowLbfgs(GradientMethod& method, problems::FitWindow& window, int iterations,
                           double horizon) {
  TrainResult part;
  auto objective = [&](const Vector& x, Vector& grad) {
    const auto start = Clock::now();
    window.problem.theta = x;
    const LossAndGradient lg = method.Compute(window.problem, *window.loss);
    grad = lg.dtheta;
    part.losses.push_back(lg.loss);
    part.iteration_seconds.push_back(SecondsSince(start));
    return lg.loss;
  };
  LbfgsOptions options;
  options.max_iterations = iterations;
  options.gradient_tol = 1e-10;
  options.relative_decrease_tol = 0.0;
  // The adaptive solver's step sequence changes with θ, so the loss is only piecewise smooth and
  // libLBFGS's line search often stops "by rounding errors" long before the budget (on the
  // default run at 8 of the 10 horizons, four times after 0 iterations). Restart it from where
  // it stopped with a fresh memory while that still lowers the loss.
  Vector x = window.problem.theta;
  int budget = iterations;
  double best = std::numeric_limits<double>::infinity();
  while (budget > 0) {
    options.max_iterations = budget;
    const LbfgsResult r = MinimizeLbfgs(objective, x, options);
    RequireFiniteLoss(r.value, "ude", horizon);
    budget -= std::max(r.iterations, 1);
    if (!r.line_search_stalled || !(r.value < best * (1.0 - 1e-6))) break;
    best = r.value;
  }
  window.problem.theta = x;
  return part;
}

}  // namespace

UdeFit FitUde(const Observations& obs, const UdeOptions& options, const StudySettings& settings) {
  UdeFit fit = MakeUdeField(settings.seed);
  auto method = GradientRegistry().Create(settings.gradient, settings.gradient_options);
  RequireOptimizer(options.optimizer);
  const std::vector<Vector>& targets = options.noisy ? obs.noisy : obs.clean;
  for (double horizon : options.horizons) {
    problems::FitWindow window = problems::MakeFitWindow(
        fit.field, obs.times, targets, std::min(horizon, obs.times.back()), fit.theta);
    const TrainResult part =
        options.optimizer == "adam"
            ? TrainAdam(*method, window.problem, *window.loss, options.iterations, options.lr,
                        settings.quiet, "ude", false, settings.check_gradient)
            : FitWindowLbfgs(*method, window, options.iterations, horizon);
    fit.theta = window.problem.theta;
    TrainResult& all = fit.train;
    all.losses.insert(all.losses.end(), part.losses.begin(), part.losses.end());
    all.iteration_seconds.insert(all.iteration_seconds.end(), part.iteration_seconds.begin(),
                                 part.iteration_seconds.end());
  }
  return fit;
}

InteractionCoefficients FitInteractionCoefficients(HybridField& field, const Vector& theta,
                                                   const std::vector<Vector>& states) {
  double sxx = 0, sgx = 0, sgy = 0;
  Vector g(2);
  for (const Vector& z : states) {
    field.LearnedTerm(0.0, z, theta, g);
    const double xy = z[0] * z[1];
    sxx += xy * xy;
    sgx += g[0] * xy;
    sgy += g[1] * xy;
  }
  return {-sgx / sxx, sgy / sxx};
}

nlohmann::json RunUdeStudy(const Observations& obs, const UdeOptions& options,
                           const StudySettings& settings, std::ostream& out) {
  const UdeFit fit = FitUde(obs, options, settings);
  const InteractionCoefficients learned =
      FitInteractionCoefficients(*fit.field, fit.theta, obs.clean);
  const Vector rates = problems::LotkaVolterraTrueRates();
  const Trajectory fitted =
      IntegratorRegistry()
          .Create(settings.integrator, settings.integrator_options)
          ->Solve(problems::LotkaVolterraProblem(fit.theta, obs.times, fit.field));
  PrintUde(out, fit, options, learned);
  WriteUdeTerms(settings.out_dir, fit, obs, out);
  WriteLossCurve(settings.out_dir + "/ude_loss.csv", fit.train);
  WriteTrajectoryPlot(settings.out_dir, "ude_fit", "UDE fit: data vs fitted trajectories", obs,
                      fitted.states, out);
  return {{"beta", learned.beta},
          {"delta", learned.delta},
          {"beta_relative_error", std::abs(learned.beta / rates[1] - 1.0)},
          {"delta_relative_error", std::abs(learned.delta / rates[2] - 1.0)},
          {"final_loss", fit.train.losses.back()},
          {"noisy_data", options.noisy}};
}

}  // namespace snode::lotka_volterra
