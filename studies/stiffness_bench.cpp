// The stiffness study's Robertson bench (RunRobertsonBench, TargetRungs; declared in
// studies/stiffness_study.hpp).
#include <algorithm>
#include <set>

#include "studies/stiffness_study.hpp"

namespace snode {

// ---------------------------------------------------------------- bench

namespace {

// The Robertson methods plus the ladder rungs they lack, BPTT first (stable by gradient name).
std::vector<MethodSpec> BenchMethods(const MethodOverrides& overrides,
                                     std::vector<std::string>* notes) {
  std::vector<MethodSpec> specs = RobertsonMethods();
  for (const MethodSpec& rung : RobertsonTargetLadder()) {
    bool present = false;
    for (const MethodSpec& spec : specs) present = present || spec.Label() == rung.Label();
    if (!present) specs.push_back(rung);
  }
  std::stable_sort(specs.begin(), specs.end(), [](const MethodSpec& a, const MethodSpec& b) {
    return a.gradient < b.gradient;
  });
  return SupportedOnly(SelectMethods(std::move(specs), overrides), notes);
}

// Both losses per horizon with their references (λ = T); problems without one are dropped.
void AddBenchProblems(const std::vector<double>& horizons, RobertsonBench& bench) {
  for (const double horizon : horizons) {
    for (const bool sum : {false, true}) {
      StudyProblem problem = RobertsonStudyProblem(horizon, sum);
      if (!sum) problem.name += " final";
      const StudyReference reference = ComputeStudyReference(problem);
      bench.references.push_back(problem.name + ": " + reference.description);
      if (!reference.ok) continue;
      problem.exact = reference.gradient;
      problem.lambda = horizon;
      bench.problems.push_back(std::move(problem));
    }
  }
}

}  // namespace

RobertsonBench RunRobertsonBench(const StiffnessOptions& options, int repetitions) {
  RobertsonBench bench;
  std::set<std::string> ladder;
  for (const MethodSpec& rung : RobertsonTargetLadder()) ladder.insert(rung.Label());
  const std::vector<MethodSpec> methods = BenchMethods(options.overrides, &bench.notes);
  AddBenchProblems(options.robertson_horizons, bench);
  for (std::size_t p = 0; p < bench.problems.size(); ++p) {
    for (const MethodSpec& spec : methods) {
      RobertsonBenchCell cell;
      cell.problem = p;
      cell.spec = spec;
      // Timed as users get a gradient: without the tolerance check's second solve.
      cell.spec.options.tolerance_check = false;
      cell.ladder = ladder.count(spec.Label()) != 0;
      bench.cells.push_back(std::move(cell));
    }
  }
  for (int rep = 0; rep < repetitions; ++rep) {
    for (RobertsonBenchCell& cell : bench.cells) {
      const StudyProblem& problem = bench.problems[cell.problem];
      cell.last = Evaluate(problem, cell.spec, options.ok_tol, kGradientAbsTol);
      cell.seconds.push_back(cell.last.run.seconds);
      cell.cpu_seconds.push_back(cell.last.run.cpu_seconds);
      if (cell.last.run.Finite()) {
        const Index p = problem.setup.ode.theta.size();
        cell.dk_rel = CompareGradient(cell.last.run.gradient.head(p), problem.exact.head(p)).rel;
      }
    }
  }
  return bench;
}

std::vector<std::size_t> TargetRungs(const RobertsonBench& bench,
                                     const std::vector<double>& medians) {
  const auto& cells = bench.cells;
  std::vector<std::size_t> targets;
  for (std::size_t first = 0; first < cells.size();) {
    std::size_t last = first;
    while (last < cells.size() && cells[last].problem == cells[first].problem) ++last;
    if (bench.problems[cells[first].problem].lambda >= 1e5) {
      std::size_t chosen = cells.size();
      for (std::size_t i = first; i < last; ++i) {
        if (!cells[i].ladder) continue;
        const bool accurate = std::isfinite(cells[i].dk_rel) && cells[i].dk_rel <= 1e-6;
        const bool chosen_accurate = chosen < cells.size() && cells[chosen].dk_rel <= 1e-6;
        if (chosen == cells.size() ||
            (accurate && (!chosen_accurate || medians[i] < medians[chosen])) ||
            (!accurate && !chosen_accurate && cells[i].dk_rel < cells[chosen].dk_rel)) {
          chosen = i;
        }
      }
      if (chosen < cells.size()) targets.push_back(chosen);
    }
    first = last;
  }
  return targets;
}

}  // namespace snode
