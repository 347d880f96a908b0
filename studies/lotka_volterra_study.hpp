#pragma once
// The Lotka–Volterra study (problems/lotka_volterra.hpp) behind apps/lotka_volterra, in three
// parts:
//
//   discovery  recover (α, β, δ, γ) from noisy observations, starting from (1.0, 0.5, 0.5, 2.0).
//              A plain local optimiser falls into a wrong minimum on the full horizon, so the fit
//              grows the horizon and warm-starts L-BFGS (or Adam) on each; θ = exp(φ) keeps the
//              rates positive.
//   neural     a neural ODE (MLP 2-32-32-2, tanh) fitted to the noise-free trajectory with Adam
//              from given initial weights (or a seeded initialisation).
//   ude        a universal differential equation: the known linear terms αx, −γy plus an MLP
//              (2-16-16-2, tanh) for the interaction terms, fitted on growing horizons; the
//              learned terms are compared with −βxy and δxy by least squares over the states.
//
// Each part has a computation (Discover, TrainNeural + SolveNeuralFit, FitUde) and a Run…Study that
// also prints its table, writes its files (studies/lotka_volterra_report.hpp) and returns its
// summary as JSON. Errors: ConfigError for bad options (messages name the app's flags), the
// gradient methods' errors otherwise.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "integrators/integrator.hpp"
#include "models/hybrid_field.hpp"
#include "models/mlp.hpp"
#include "problems/lotka_volterra.hpp"

namespace snode::lotka_volterra {

using Observations = problems::LotkaVolterraObservations;

// Throws NumericalError when a gradient must not be used for a training step; `what` names the
// step ("iteration 3"). The apps pass their RequireUsableGradient.
using GradientCheck = std::function<void(const LossAndGradient& result, const std::string& method,
                                         const std::string& what)>;

// How gradients and the final solves are computed, and where files go.
struct StudySettings {
  std::string gradient;                  // gradient method (GradientRegistry)
  std::string integrator;                // integrator of the final solves (IntegratorRegistry)
  GradientOptions gradient_options;      // of the gradient method
  IntegratorOptions integrator_options;  // of the final solves
  std::uint64_t seed = 0;                // network initialisation
  bool quiet = false;                    // no progress line
  std::string out_dir;                   // CSV, data and plot files
  GradientCheck check_gradient;          // applied before every Adam update (none when empty)
};

// ---------------------------------------------------------------- discovery
struct DiscoverOptions {
  std::vector<double> horizons;  // growing fit horizons, each > 0
  std::string horizons_text;     // as given ("2,4,6,8,10"), for the header line
  std::string optimizer;         // "lbfgs" or "adam"
  int iterations = 100;          // per horizon
  double lr = 0.05;              // Adam's learning rate
};

struct CurvePoint {
  long evaluation;
  double seconds;
  double horizon;
  double loss;
  double error;  // relative parameter error
};

struct DiscoverResult {
  Vector rates;          // recovered (α, β, δ, γ)
  double error = 0.0;    // problems::RelativeRateError(rates)
  long evaluations = 0;  // loss + gradient evaluations
  double seconds = 0.0;
  long evaluations_to_one_percent = -1;  // first evaluation on the full horizon below 1%, or -1
  double seconds_to_one_percent = 0.0;   // NaN when never below 1%
  std::vector<CurvePoint> curve;         // one point per evaluation
};

// The discovery fit on obs.noisy. Throws ConfigError for a non-positive horizon or an unknown
// optimizer, NumericalError when a horizon's fit ends on a loss that is not finite (L-BFGS) or
// sees one (Adam): never a "recovered" starting guess from an inf loss.
DiscoverResult Discover(const Observations& obs, const DiscoverOptions& options,
                        const StudySettings& settings);
// Discover, its table on out, and (write_files) discover_curve.{csv,dat} and its plot. Returns
// the summary: recovered, true, max_relative_error, evaluations, seconds,
// evaluations_to_1_percent, seconds_to_1_percent, optimizer, gradient, integrator.
nlohmann::json RunDiscoverStudy(const Observations& obs, const DiscoverOptions& options,
                                const StudySettings& settings, std::ostream& out,
                                bool write_files = true);

// ---------------------------------------------------------------- Adam training
// The work counts of one training iteration (GradientStats of its gradient; all 0 for a skipped
// iteration). checkpoints / backward_restarts are 0 for the methods that have none.
struct IterationCounts {
  long forward_nfe = 0, backward_nfe = 0;
  long forward_steps = 0, backward_steps = 0;
  long checkpoints = 0, backward_restarts = 0;
};

struct TrainResult {
  std::vector<double> losses;  // per iteration (before the update)
  // Per iteration (loss, gradient and update): wall time (steady clock) and the CPU time of the
  // process (clock_gettime(CLOCK_PROCESS_CPUTIME_ID)): under load, wall times of sub-millisecond
  // iterations are not comparable; CPU times are.
  std::vector<double> iteration_seconds;
  std::vector<double> iteration_cpu_seconds;
  std::vector<IterationCounts> iteration_counts;  // per iteration
  double mean_forward_nfe = 0, mean_backward_nfe = 0;
  long skipped_steps = 0;  // skip_bad_steps: iterations whose gradient was refused
  // GradientStats::reconstruction_error per iteration (backsolve_adjoint; 0 for the others, NaN
  // for a skipped iteration).
  std::vector<double> reconstruction_errors;
};

// `iterations` Adam steps (RunTraining, optim/training_loop.hpp) on problem.theta. Throws
// ConfigError unless iterations > 0, NumericalError for a gradient `check` refuses or a
// non-finite loss. skip_bad_steps: such a gradient or a failed solve skips the update with a
// warning on stderr instead (not at the first iteration: there is nothing to fall back on).
TrainResult TrainAdam(GradientMethod& method, OdeProblem& problem, const Loss& loss, int iterations,
                      double lr, bool quiet, const std::string& label, bool skip_bad_steps = false,
                      const GradientCheck& check = nullptr);

// Median of the values (NaN when empty).
double Median(std::vector<double> values);

// ---------------------------------------------------------------- neural
struct NeuralOptions {
  int iterations = 300;
  double lr = 1e-2;
  std::string weights;            // initial weights (PyTorch layout JSON)
  bool weights_defaulted = true;  // the default path: a missing file falls back to a seeded init
  bool skip_bad_steps = false;    // TrainAdam's skip_bad_steps
};

// The MLP 2-32-32-2 (tanh) from the weights file (or seed), z0 = (1, 1), observed at times.
struct NeuralProblem {
  std::shared_ptr<MlpField> mlp;
  OdeProblem problem;
  std::string init;  // how θ was initialised
};
// The weights file is used when it is a regular file; otherwise an explicitly given one
// (weights_defaulted false) is a ConfigError and the default falls back to a seeded
// initialisation. A file that cannot be read or parsed is an InputError naming it.
NeuralProblem MakeNeuralProblem(const NeuralOptions& options, std::uint64_t seed,
                                const std::vector<double>& times);

struct NeuralFit {
  NeuralProblem neural;
  TrainResult train;
  std::vector<Vector> fitted;  // the final solve at the observation times
  double final_loss = 0.0;     // MSE of `fitted` against obs.clean
};
// The problem and its Adam training on obs.clean (fitted and final_loss not yet set).
NeuralFit TrainNeural(const Observations& obs, const NeuralOptions& options,
                      const StudySettings& settings);
// The final solve of the trained problem: sets fit.fitted and fit.final_loss.
void SolveNeuralFit(NeuralFit& fit, const Observations& obs, const StudySettings& settings);
// TrainNeural, SolveNeuralFit, their table on out, neural_loss.csv and the neural_fit plot; returns
// the summary.
nlohmann::json RunNeuralStudy(const Observations& obs, const NeuralOptions& options,
                              const StudySettings& settings, std::ostream& out);

// ---------------------------------------------------------------- ude
struct UdeOptions {
  std::vector<double> horizons;  // growing fit horizons
  std::string horizons_text;     // as given, for the header line
  std::string optimizer;         // "lbfgs" or "adam"
  int iterations = 300;          // per horizon
  double lr = 1e-2;              // Adam's learning rate
  bool noisy = false;            // fit obs.noisy instead of obs.clean
};

struct UdeFit {
  std::shared_ptr<MlpField> mlp;
  std::shared_ptr<HybridField> field;
  Vector theta;       // the learned network's parameters
  TrainResult train;  // losses and seconds over all horizons
};
// Throws ConfigError for an unknown optimizer, NumericalError when a horizon's fit ends on (L-BFGS)
// or sees (Adam) a loss that is not finite.
UdeFit FitUde(const Observations& obs, const UdeOptions& options, const StudySettings& settings);

// Least-squares coefficients of the learned terms against xy over `states`: g_x ≈ −β̂ xy,
// g_y ≈ δ̂ xy.
struct InteractionCoefficients {
  double beta = 0.0;
  double delta = 0.0;
};
InteractionCoefficients FitInteractionCoefficients(HybridField& field, const Vector& theta,
                                                   const std::vector<Vector>& states);

// FitUde, its table on out, ude_terms and ude_fit plots and ude_loss.csv; returns the summary.
nlohmann::json RunUdeStudy(const Observations& obs, const UdeOptions& options,
                           const StudySettings& settings, std::ostream& out);

}  // namespace snode::lotka_volterra
