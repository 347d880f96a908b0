// reaction_diffusion: a neural ODE at PDE scale. On a periodic grid of N points,
//
//   u_i' = D (u_{i+1} − 2u_i + u_{i−1})/Δx² + g_1(u_i, v_i; θ),
//   v_i' = D (v_{i+1} − 2v_i + v_{i−1})/Δx² + g_2(u_i, v_i; θ),     D = 1e-3, Δx = 1/N,
//
// g a 2-16-16-2 network shared by every point, fitted (mean squared error at t = 0.1 … 2) to
// Brusselator data on the same grid (problems/reaction_diffusion.hpp). Diffusion makes it stiff,
// |λ|max ≈ 4e-3·N², so the defaults are cvodes_adjoint through CVODES BDF with GMRES and the
// field's preconditioner (an exact periodic block-tridiagonal solve, models/operator_field.hpp).
//
// Default run: one gradient at --points N with the common flags; prints the loss, ‖dL/dθ‖, the
// solver counts and the method's own diagnosis; --reference adds a tight reference and the error;
// writes <out>/gradient.csv.
//
// --bench R: the scaling benchmark (studies/reaction_diffusion_bench.hpp) over --sizes.
//
// Built with SNODE_MPI and started by mpirun, the gradient run splits the grid over the ranks
// (problems/reaction_diffusion.hpp, MakeDistributedReactionDiffusionProblem; docs/distributed.md):
// every rank holds a run of points, and rank 0 prints and writes gradient.csv. --bench and
// --check-gradient measure or difference one process and are refused under mpirun.

#include "problems/reaction_diffusion.hpp"

#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "adjoint/tolerance_check.hpp"
#include "apps/cli/reaction_diffusion_cli.hpp"
#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "core/gradient_reducer.hpp"
#include "io/files.hpp"
#include "models/distributed_grid_field.hpp"
#ifdef SNODE_MPI
#include "distributed/mpi_session.hpp"
#include "distributed/mpi_state_distribution.hpp"
#endif
#include "studies/bench_util.hpp"
#include "studies/reaction_diffusion_bench.hpp"

namespace snode::app {
namespace {

// The grid's split over the ranks when started by mpirun (distribution null otherwise), and what
// this rank has spent communicating so far.
struct GridSplit {
  std::shared_ptr<const StateDistribution> distribution;
  std::function<nlohmann::json()> communication;
};

// The runs of points are aligned with the network's chunks, so that the θ-products' sum is the
// same on any number of ranks (models/distributed_grid_field.hpp).
GridSplit SplitOverRanks([[maybe_unused]] GradientReducer& ranks,
                         [[maybe_unused]] const problems::ReactionDiffusionOptions& options) {
#ifdef SNODE_MPI
  if (StartedByMpiLauncher()) {
    const std::shared_ptr<const MpiGridDistribution> mpi =
        GridDistributionOver(ranks, options.points, 2, options.chunk_points);
    return {mpi, [mpi] {
              const MpiCommunicationCosts costs = mpi->Costs();
              nlohmann::json json;
              for (const auto& [name, cost] :
                   {std::pair{"halo", costs.halo}, std::pair{"reduce", costs.reduce},
                    std::pair{"gather", costs.gather},
                    std::pair{"vector_reductions", costs.vector_reductions}}) {
                json[name] = {
                    {"seconds", cost.seconds}, {"calls", cost.calls}, {"doubles", cost.doubles}};
              }
              return json;
            }};
  }
#endif
  return {};
}

void PrintRun(const GradientRun& run, Index params, std::ostream& out) {
  const GradientStats& s = run.stats;
  Table table({"quantity", "value"});
  table.AddRow({"method", run.spec.Label()});
  table.AddRow({"backward integrator (adjoints)", run.spec.options.EffectiveBackwardIntegrator()});
  table.AddRow({"loss", FormatScientific(run.loss, 10)});
  table.AddRow({"‖dL/dθ‖₂", FormatScientific(run.gradient.head(params).norm(), 6)});
  table.AddRow(
      {"time (wall / CPU)", FormatSeconds(run.seconds) + " / " + FormatSeconds(run.cpu_seconds)});
  table.AddRow({"steps forward / backward",
                std::to_string(s.forward_steps) + " / " + std::to_string(s.backward_steps)});
  table.AddRow({"f forward / backward", std::to_string(s.forward_rhs_evals) + " / " +
                                            std::to_string(s.backward_rhs_evals)});
  table.AddRow({"JVP / VJP", std::to_string(s.jvp_evals) + " / " + std::to_string(s.vjp_evals)});
  table.AddRow(
      {"Newton iterations forward / backward", std::to_string(s.forward_nonlinear_iters) + " / " +
                                                   std::to_string(s.backward_nonlinear_iters)});
  table.AddRow(
      {"Krylov iterations forward / backward",
       std::to_string(s.forward_linear_iters) + " / " + std::to_string(s.backward_linear_iters)});
  table.AddRow({"preconditioner setups forward / backward",
                std::to_string(s.forward_preconditioner_setups) + " / " +
                    std::to_string(s.backward_preconditioner_setups)});
  table.AddRow({"preconditioner solves forward / backward",
                std::to_string(s.forward_preconditioner_solves) + " / " +
                    std::to_string(s.backward_preconditioner_solves)});
  table.AddRow({"memory held for the backward pass", FormatBytes(s.stored_bytes)});
  table.AddRow({"diagnosis", s.flagged ? "flagged: " + s.diagnosis : "not flagged"});
  table.Print(out);
}

// gradient_run.json: the run's size, time and counts, and with a split grid rank 0's
// communication and replicated-preconditioner costs (scripts/distributed_scaling.sh reads it).
nlohmann::json RunJson(const GradientRun& run, Index points, const problems::ProblemSetup& setup,
                       const GridSplit& split) {
  const GradientStats& s = run.stats;
  nlohmann::json json = {{"points", points},
                         {"method", run.spec.Label()},
                         {"loss", run.loss},
                         {"wall_seconds", run.seconds},
                         {"cpu_seconds", run.cpu_seconds},
                         {"forward_steps", s.forward_steps},
                         {"backward_steps", s.backward_steps},
                         {"forward_rhs_evals", s.forward_rhs_evals},
                         {"backward_rhs_evals", s.backward_rhs_evals},
                         {"jvp_evals", s.jvp_evals},
                         {"vjp_evals", s.vjp_evals},
                         {"forward_nonlinear_iters", s.forward_nonlinear_iters},
                         {"backward_nonlinear_iters", s.backward_nonlinear_iters},
                         {"forward_linear_iters", s.forward_linear_iters},
                         {"backward_linear_iters", s.backward_linear_iters},
                         {"forward_preconditioner_setups", s.forward_preconditioner_setups},
                         {"backward_preconditioner_setups", s.backward_preconditioner_setups},
                         {"forward_preconditioner_solves", s.forward_preconditioner_solves},
                         {"backward_preconditioner_solves", s.backward_preconditioner_solves}};
  json["ranks"] = split.distribution ? split.distribution->size() : 1;
  if (split.communication) json["communication"] = split.communication();
  if (const auto* field = dynamic_cast<const DistributedGridField*>(setup.ode.field.get())) {
    const ReplicatedPreconditionerCosts& costs = *field->preconditioner_costs();
    json["replicated_preconditioner"] = {{"seconds", costs.seconds},
                                         {"local_jvp_seconds", costs.local_jvp_seconds},
                                         {"calls", costs.calls}};
  }
  return json;
}

int RunGradientAt(const ReactionDiffusionCommandLine& line, GradientReducer& ranks) {
  const CommonOptions& common = line.common;
  problems::ReactionDiffusionOptions options;
  options.points = line.points;
  options.seed = common.seed;
  const GridSplit split = SplitOverRanks(ranks, options);
  const std::shared_ptr<const StateDistribution>& distribution = split.distribution;
  Require(distribution == nullptr || !common.check_gradient,
          "--check-gradient differences one process; run it without mpirun");
  MethodSpec spec{common.gradient, common.integrator, "", common.gradient_options};
  if (distribution && !common.backward_integrator_set) {
    // The sdirk default keeps whole-state polynomials of the forward; a split state takes
    // CVODES' checkpointed backward (the forward integrator's), which runs on the split vectors.
    spec.options.backward_integrator.clear();
  }
  // The method checks its options on construction: a bad combination is refused before the
  // data are computed (seconds at N = 1e5), not after.
  CreateGradientMethod(spec.gradient, spec.options);
  const bench::Stopwatch data_clock;
  const problems::ProblemSetup setup =
      distribution ? problems::MakeDistributedReactionDiffusionProblem(options, distribution)
                   : problems::MakeReactionDiffusionProblem(options);
  std::cout << "N = " << line.points << " (" << 2 * line.points << " states, "
            << setup.ode.theta.size() << " parameters): Brusselator data in "
            << FormatSeconds(data_clock.Seconds()) << "\n";
  if (distribution) {
    std::cout << "state split over " << distribution->size() << " MPI ranks (rank 0: points 0 to "
              << distribution->offset_of(1) / 2 - 1 << ")\n";
  }
  if (common.check_gradient) {
    RunGradientCheck("reaction-diffusion N=" + std::to_string(line.points), setup.ode, *setup.loss,
                     common, std::cout);
  }
  const GradientRun run = RunGradient(spec, setup.ode, *setup.loss);
  if (run.threw) throw NumericalError(run.message);
  const nlohmann::json run_json = RunJson(run, line.points, setup, split);
  const Index params = setup.ode.theta.size();
  PrintRun(run, params, std::cout);
  if (line.reference) {
    // cvodes_adjoint with CVODES' own checkpointed backward, whatever method and backward
    // integrator the run used: a reference that shares neither.
    MethodSpec tight{"cvodes_adjoint", "cvodes_bdf", "", common.gradient_options};
    tight.options.integrator_options.rtol = 1e-10;
    tight.options.integrator_options.atol = 1e-12;
    tight.options.backward_options.reset();
    tight.options.backward_integrator.clear();
    tight.options.method_settings = Settings();
    const GradientRun reference = RunGradient(tight, setup.ode, *setup.loss);
    if (reference.threw) throw NumericalError("the reference gradient: " + reference.message);
    const Vector difference = run.gradient.head(params) - reference.gradient.head(params);
    std::cout << "error against the reference (rtol 1e-10, " << FormatSeconds(reference.seconds)
              << "): ‖Δ‖₂/‖g_ref‖₂ = "
              << FormatScientific(difference.norm() / reference.gradient.head(params).norm())
              << "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (Index i = 0; i < params; ++i) {
    rows.push_back({std::to_string(i), FormatScientific(run.gradient(i), 16)});
  }
  if (ranks.rank() == 0) {
    WriteCsv(common.out_dir + "/gradient.csv", {"parameter", "dL_dtheta"}, rows);
    WriteJson(common.out_dir + "/gradient_run.json", run_json);
    std::cout << "wrote " << common.out_dir << "/gradient.csv and gradient_run.json\n";
  }
  return 0;
}

int Run(int argc, char** argv, GradientReducer& ranks) {
  const std::optional<Flags> flags =
      StartCommandLine(argc, argv, ReactionDiffusionAppCommandLine(), std::cout);
  if (!flags) return 0;
  const ReactionDiffusionCommandLine line = ReadReactionDiffusionCommandLine(*flags);
  if (ranks.rank() == 0) PrepareOutputDirectory(line.common.out_dir);  // rank 0 alone writes
  if (!line.bench_repetitions) return RunGradientAt(line, ranks);
  Require(ranks.size() == 1, "--bench measures one process; run it without mpirun");
  bench::CheckRepetitions(*line.bench_repetitions);
  const std::vector<ScalingSize> sizes =
      RunReactionDiffusionBench(line.bench, line.common.quiet ? nullptr : &std::cerr);
  ReportReactionDiffusionBench(line.bench, sizes, std::cout);
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  auto run = [&](snode::GradientReducer& ranks) {
    return snode::app::RunApp([&] { return snode::app::Run(argc, argv, ranks); });
  };
#ifdef SNODE_MPI
  return snode::RunOnRanks(argc, argv, run);
#else
  return run(snode::SerialReduction());
#endif
}
