#pragma once
// Internals of Bptt (adjoint/bptt.hpp; the formulas are documented there): the scheme derived
// from the integrator, the per-size buffers kept between Compute() calls, and the tape of one
// Compute(): the states z_n, the stage states the reverse pass needs, the saved forward passes
// and the output map, filled by the forward tape of the scheme family (bptt_explicit_tape.hpp,
// bptt_implicit_tape.hpp) and walked backward by bptt_reverse.hpp.

#include <Eigen/LU>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/bptt_gmres.hpp"
#include "adjoint/bptt_options.hpp"
#include "adjoint/bptt_recording_field.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "core/preconditioner.hpp"
#include "integrators/butcher_tableau.hpp"
#include "integrators/integrator.hpp"

namespace snode {
namespace detail {

// A double with every digit (%.17g), for messages.
std::string BpttNumber(double value);

// Cubic Hermite basis on [0, 1]: z(σ) = h00 z_0 + h01 z_1 + h h10 z'_0 + h h11 z'_1.
struct HermiteWeights {
  double h00, h01, h10, h11;
};
HermiteWeights Hermite(double sigma);

// What bptt derives from its integrator once, at construction.
struct BpttScheme {
  // The scheme of options.integrator from its declared capabilities. Throws ConfigError when it
  // declares no tableau, or when the options do not fit it (fixed_step = 0 for a method that
  // cannot adapt or record its steps, interpolate_outputs without slopes at both ends of a step).
  BpttScheme(const GradientOptions& options, const IntegratorCapabilities& capabilities);

  int stages() const { return tableau.stages; }
  // Bytes of the states and stored stage states of num_steps steps.
  double EstimateBytes(Index num_steps, Index state_size) const;

  ButcherTableau tableau;
  bool implicit = false;         // kind kDiagonallyImplicit (backward_euler, sdirk)
  bool dirk = false;             // implicit with more than one stage (sdirk)
  std::vector<int> stage_slot;   // stage i → slot in the stored stage block, −1 if not stored
  std::vector<char> stage_used;  // stage i enters the reverse pass (ḡ_i not structurally zero)
  int stored_stages = 0;         // stage states stored per step (stage 0 is z_n itself)
  bool fsal = false;             // K_0 of step n+1 equals K_{s−1} of step n
  bool interpolate = false;      // outputs inside steps: Hermite interpolant of the step
};

// Per-size buffers, reused by every Compute() so the step loops never allocate.
struct BpttWorkspace {
  Index n = 0;
  std::vector<double> z;       // (N+1)·n: z_0 … z_N
  std::vector<double> stages;  // N·stored·n: stage states needed by the reverse pass
  Matrix k;                    // n × s: stage slopes K_i of the current step
  Matrix mu;                   // n × s: μ_i of the current step (reverse)
  Vector y_tmp, lambda, gbar, grad_g, scaled;
  std::vector<Vector> dl_dz;            // ∂ℓ_i/∂z per output
  std::vector<int> output_at;           // output index at each step boundary, −1 if none
  std::vector<const double*> saved_at;  // N·s: saved forward pass of each stage, or null
  std::vector<double> stage_saved;      // the replay's own saved passes (N·s·ForwardSaveSize)
  // Interpolated outputs: those inside step n are interior[interior_start[n] …
  // interior_start[n+1]).
  std::vector<std::size_t> interior_start;
  std::vector<int> interior;
  Vector interp, extra_first, extra_last, extra_zn;
  // Implicit stages.
  Matrix jac, m;
  Eigen::PartialPivLU<Matrix> lu;
  Vector f, residual, delta, x;
  BpttGmres gmres;
  // Adaptive explicit methods: the recording solve runs on `recording_problem`, whose field
  // keeps the slopes the replay can take over.
  std::shared_ptr<RecordingField> recording_field = std::make_shared<RecordingField>();
  OdeProblem recording_problem;

  void Resize(Index size, int num_stages);
};

// Weights of a stage combination: a(i, ·) or b, read with a stride.
struct StageWeights {
  const double* data;
  Index stride;
  double operator[](int j) const { return data[static_cast<Index>(j) * stride]; }
};

// Krylov work of one pass of bptt's implicit stages.
struct KrylovCounters {
  long solves = 0;      // linear solves (one per Newton iteration, or per transposed stage)
  long iterations = 0;  // GMRES (Arnoldi) iterations
  long setups = 0;      // preconditioner set-ups
  long preconditioner_solves = 0;
};

// One Compute(): the context both passes share and the tape the forward pass records. Holds
// references only; everything it refers to must outlive it.
struct BpttTape {
  BpttTape(const BpttScheme& scheme, const GradientOptions& options,
           const BpttOptions& bptt_options, BpttWorkspace& work, const OdeProblem& problem,
           const Loss& loss, const std::vector<double>& times, LossAndGradient& result);

  // Checks the step sequence (strictly increasing) and maps each output time to a step boundary
  // or, with interpolated outputs, to the step that contains it. Throws ConfigError.
  void MapOutputs();
  // Sizes the tape, starts the result and records z_0 (and an output at t0). use_recorded: stage
  // slopes may come from the recording solve; the replay keeps its own saved forward passes when
  // there is none and they fit in bptt_options.max_trajectory_bytes.
  void Begin(bool use_recorded);
  // The field's preconditioners of the GMRES stage solves, as options.preconditioner says
  // (ConfigError for "band", or "field" when the field offers none).
  void MakePreconditioners();
  // Bytes of the replay's own saved forward passes (held when save_stages).
  double StageSaveBytes() const;

  double* State(std::size_t k) { return w.z.data() + k * un; }
  double* Stage(std::size_t step, int slot) {
    return w.stages.data() + step * static_cast<std::size_t>(scheme.stored_stages) * un +
           static_cast<std::size_t>(slot) * un;
  }
  // The state a stage's reverse step linearises about: z_n for an unstored first stage.
  const double* StageState(std::size_t step, int i) {
    return scheme.stage_slot[i] < 0 ? State(step) : Stage(step, scheme.stage_slot[i]);
  }
  // Where stage i of a step is formed: its stored slot, or scratch when the reverse pass
  // does not need it.
  double* StageOutput(std::size_t step, int i) {
    return scheme.stage_slot[i] >= 0 ? Stage(step, scheme.stage_slot[i]) : w.y_tmp.data();
  }
  const double*& Saved(std::size_t step, int stage) {
    return w.saved_at[step * static_cast<std::size_t>(s) + static_cast<std::size_t>(stage)];
  }
  double StepSize(std::size_t step) const { return times[step + 1] - times[step]; }
  StageWeights RowWeights(int i) const { return {tableau.a.data() + i, tableau.a.rows()}; }
  StageWeights SolutionWeights() const { return {tableau.b.data(), 1}; }

  // out = Σ_{j<count, w_j≠0} (h w_j) K_j + base, in ERKStep's order of operations
  // (N_VLinearCombination: the weighted slopes first, then + base).
  void CombineStages(double h, StageWeights weights, int count, const double* base, double* out);
  // k = f(t, y) for stage `stage` of step `step`, keeping the forward pass when the replay saves.
  void Evaluate(double t, const double* y, VectorRef k, std::size_t step, int stage);
  // A stage slope from the record: true when taken (Saved() set from the record).
  bool Take(double t, double h, double* y, VectorRef k, std::size_t step, int stage);
  // The running cost h b_i g(t_i, Y_i) of stage i, added to the loss.
  void AddStageCost(double h, int i, double ti, const double* y);
  // After the stages of step `step`: checks z_{n+1}, evaluates the outputs inside the step and
  // the one at its end.
  void EndStep(std::size_t step);
  // Dense Jacobian of f at (t, z) into w.jac, counting JVPs when it is assembled from them.
  void DenseJacobian(double t, ConstVectorRef z);
  // The adjoint of the outputs inside step `step`, at the start of its reverse (λ = ∂L/∂z_{n+1}):
  // adds to λ and fills w.extra_*; false when the step has none.
  bool InteriorAdjoint(std::size_t step);

  const BpttScheme& scheme;
  const ButcherTableau& tableau;
  const GradientOptions& options;
  const BpttOptions& bptt_options;
  BpttWorkspace& w;
  const OdeProblem& problem;
  VectorField& field;
  const Vector& theta;
  const Loss& loss;
  const std::vector<double>& times;    // t_0 < t_1 < … < t_N
  const std::vector<double>& outputs;  // the problem's output times
  LossAndGradient& result;
  const Index n;
  const std::size_t un;
  const int s;
  const bool running_cost;
  const bool dense_solver;  // implicit stages: dense LU, not GMRES
  std::size_t num_steps = 0;
  bool use_recorded = false;  // stage slopes may be taken from the recording solve
  bool save_stages = false;   // the replay keeps its own saved forward passes
  std::size_t save_size = 0;  // doubles of one saved forward pass
  double loss_value = 0.0;
  double max_adjoint = 0.0;  // max over step boundaries of ‖λ_n‖∞ (the reverse pass)
  long rhs_evals = 0, vjp_evals = 0, jvp_evals = 0;
  // Implicit stages with GMRES: the field's preconditioners (null: none; options.preconditioner,
  // made by Begin) and the Krylov work of the Newton corrections and of the transposed solves.
  std::unique_ptr<Preconditioner> forward_preconditioner, transposed_preconditioner;
  KrylovCounters forward_krylov, backward_krylov;

 private:
  void OutputTerm(std::size_t k);
  void InteriorTerms(std::size_t step);
};

}  // namespace detail
}  // namespace snode
