// A real mini stiffness study that writes the study report (studies/study_report.hpp) into the
// directory given as its argument, for the browser test (tests/studies/report_browser_test.sh):
// the decay and the two-rate decay at λ = 1, 100, 1e4 with four methods, one of them on a step
// budget so that it breaks with "too much work", and the backsolve reconstruction panels.
//   sample_report OUT_DIR
#include <exception>
#include <iostream>

#include "studies/gradient_study.hpp"
#include "studies/study_report.hpp"
#include "studies/verdict.hpp"

namespace {

std::vector<snode::MethodSpec> SampleMethods() {
  using snode::MakeMethod;
  snode::MethodSpec budget =
      MakeMethod("bptt", "dopri5", 1e-6, 1e-6, 0.0, "tol=1e-6 max_steps=300");
  budget.options.integrator_options.max_steps = 300;
  return {MakeMethod("bptt", "dopri5", 1e-6, 1e-6),
          MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6),
          MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-10, 1e-12), budget};
}

snode::StudyReportInput RunSample(int argc, const char* const* argv) {
  snode::StudyReportInput input;
  input.run = snode::StartRunInfo(argc, argv);
  input.run.preset = "sample (tests/studies/sample_report.cpp)";
  input.problems = {{"W1", "the seed's decay dy/dt = −λy, y(0) = 1, L = y(1)", "λ",
                     "the decay rate", "exact: dL/dλ = −e^{−λ}, dL/dy0 = e^{−λ}", true},
                    {"W1b", "two-rate decay z' = diag(−1, −λ) z, L = Σ_t z1 + z2 at 4 times", "λ",
                     "the fast rate", "exact (closed form)", false}};
  const std::vector<snode::MethodSpec> methods = SampleMethods();
  for (const double lambda : {1.0, 100.0, 1e4}) {
    for (const snode::StudyProblem& problem :
         {snode::DecayStudyProblem(lambda), snode::TwoRateStudyProblem(lambda)}) {
      for (const snode::MethodSpec& spec : methods) {
        input.records.push_back(
            snode::Evaluate(problem, spec, input.run.ok_tol, snode::kGradientAbsTol));
      }
    }
  }
  for (const double lambda : {100.0, 1e4}) {
    input.panels.push_back(snode::DecayBacksolvePanel(methods[1], lambda));
  }
  input.panels_problem = "W1";
  input.notes.push_back(
      "a sample study for the report's browser test; <b>markup</b> & "
      "\"quotes\" in notes are shown as text");
  snode::FinishRunInfo(input.run);
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sample_report OUT_DIR\n";
    return 2;
  }
  try {
    const snode::StudyReportInput input = RunSample(argc, argv);
    snode::PrintVerdictTable(input.records, std::cout);
    const snode::StudyReportFiles files = snode::WriteStudyReport(argv[1], input);
    if (!files.figures_note.empty()) std::cout << "note: " << files.figures_note << "\n";
    std::cout << "wrote " << files.html << " and " << files.markdown << " (" << files.figures.size()
              << " figures)\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
