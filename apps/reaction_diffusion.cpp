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

#include "problems/reaction_diffusion.hpp"

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli/reaction_diffusion_cli.hpp"
#include "apps/common/app_common.hpp"
#include "studies/bench_util.hpp"
#include "studies/reaction_diffusion_bench.hpp"

namespace snode::app {
namespace {

void PrintRun(const GradientRun& run, std::ostream& out) {
  const GradientStats& s = run.stats;
  Table table({"quantity", "value"});
  table.AddRow({"method", run.spec.Label()});
  table.AddRow({"loss", FormatScientific(run.loss, 10)});
  table.AddRow({"‖dL/dθ‖₂", FormatScientific(run.gradient.norm(), 6)});
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

int RunGradientAt(const ReactionDiffusionCommandLine& line) {
  const CommonOptions& common = line.common;
  problems::ReactionDiffusionOptions options;
  options.points = line.points;
  options.seed = common.seed;
  const bench::Stopwatch data_clock;
  const problems::ProblemSetup setup = problems::MakeReactionDiffusionProblem(options);
  std::cout << "N = " << line.points << " (" << 2 * line.points << " states, "
            << setup.ode.theta.size() << " parameters): Brusselator data in "
            << FormatSeconds(data_clock.Seconds()) << "\n";
  if (common.check_gradient) {
    RunGradientCheck("reaction-diffusion N=" + std::to_string(line.points), setup.ode, *setup.loss,
                     common, std::cout);
  }
  MethodSpec spec{common.gradient, common.integrator, "", common.gradient_options};
  const GradientRun run = RunGradient(spec, setup.ode, *setup.loss);
  if (run.threw) throw NumericalError(run.message);
  PrintRun(run, std::cout);
  const Index params = setup.ode.theta.size();
  if (line.reference) {
    MethodSpec tight = spec;
    tight.options.integrator_options.rtol = 1e-10;
    tight.options.integrator_options.atol = 1e-12;
    tight.options.backward_options.reset();
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
  WriteCsv(common.out_dir + "/gradient.csv", {"parameter", "dL_dtheta"}, rows);
  std::cout << "wrote " << common.out_dir << "/gradient.csv\n";
  return 0;
}

int Run(int argc, char** argv) {
  const std::optional<Flags> flags =
      StartCommandLine(argc, argv, ReactionDiffusionAppCommandLine(), std::cout);
  if (!flags) return 0;
  const ReactionDiffusionCommandLine line = ReadReactionDiffusionCommandLine(*flags);
  PrepareOutputDirectory(line.common.out_dir);
  if (!line.bench_repetitions) return RunGradientAt(line);
  bench::CheckRepetitions(*line.bench_repetitions);
  const std::vector<ScalingSize> sizes =
      RunReactionDiffusionBench(line.bench, line.common.quiet ? nullptr : &std::cerr);
  ReportReactionDiffusionBench(line.bench, sizes, std::cout);
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Run(argc, argv); });
}
