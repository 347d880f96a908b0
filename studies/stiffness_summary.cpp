// The study's one-line summaries (StiffnessResults::summary, the report's opening lines):
// per problem, where each method stops being accurate, flagged or finite; the training table;
// the backsolve reconstruction panels. Declared in studies/stiffness_study.hpp.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "studies/report.hpp"
#include "studies/stiffness_study.hpp"

namespace snode {

namespace {

std::string LambdaList(const std::vector<std::pair<double, std::string>>& items, bool with_status) {
  std::string text;
  for (const auto& [lambda, status] : items) {
    if (!text.empty()) text += ", ";
    text += FormatCompact(lambda);
    if (with_status) text += " (" + status + ")";
  }
  return text;
}

std::string Joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

// The lines of one problem; groups[label] holds its records per method, in method order.
std::vector<std::string> SummarizeProblem(
    const std::string& problem, const std::vector<std::string>& labels,
    std::map<std::string, std::vector<const GradientRecord*>>& groups) {
  std::set<double> lambdas;
  for (const std::string& label : labels) {
    for (const GradientRecord* r : groups[label]) lambdas.insert(r->lambda);
  }
  const bool sweep = lambdas.size() > 1;
  std::vector<std::string> always_ok, broken, flags;  // flags: the method flagged itself
  for (const std::string& label : labels) {
    std::vector<std::pair<double, std::string>> bad, good, flagged;
    for (const GradientRecord* r : groups[label]) {
      (r->status == "ok" ? good : bad).emplace_back(r->lambda, r->status);
      const GradientStats& s = r->run.stats;
      if (s.flagged || s.reconstruction_failed) flagged.emplace_back(r->lambda, "");
    }
    if (!flagged.empty() && !bad.empty()) {
      flags.push_back(label + (sweep ? " at λ = " + LambdaList(flagged, false) : ""));
    }
    if (bad.empty()) {
      always_ok.push_back(label);
      continue;
    }
    std::string sentence = label;
    if (sweep) {
      sentence += (good.empty() ? " fails at every λ: " : " fails at λ = ") + LambdaList(bad, true);
      if (!good.empty()) sentence += "; ok at λ = " + LambdaList(good, false);
    } else {
      sentence += " fails (" + bad.front().second + ")";
    }
    broken.push_back(sentence);
  }
  std::vector<std::string> lines;
  const std::string head = problem + ": ";
  if (!always_ok.empty()) {
    lines.push_back(head + "ok" + (sweep ? " at every λ" : "") + ": " + Joined(always_ok, ", ") +
                    ".");
  }
  for (const std::string& sentence : broken) lines.push_back(head + sentence + ".");
  if (!flags.empty()) {
    lines.push_back(head + "the method itself flagged its gradient (" + Joined(flags, "; ") + ").");
  }
  return lines;
}

}  // namespace

std::vector<std::string> SummarizeProblems(const std::vector<GradientRecord>& records) {
  std::vector<std::string> problem_order;
  std::map<std::string, std::vector<std::string>> method_order;
  std::map<std::string, std::map<std::string, std::vector<const GradientRecord*>>> groups;
  for (const GradientRecord& r : records) {
    if (std::find(problem_order.begin(), problem_order.end(), r.problem) == problem_order.end()) {
      problem_order.push_back(r.problem);
    }
    auto& methods = method_order[r.problem];
    const std::string label = r.run.spec.Label();
    if (std::find(methods.begin(), methods.end(), label) == methods.end()) methods.push_back(label);
    groups[r.problem][label].push_back(&r);
  }
  std::vector<std::string> lines;
  for (const std::string& problem : problem_order) {
    const auto problem_lines = SummarizeProblem(problem, method_order[problem], groups[problem]);
    lines.insert(lines.end(), problem_lines.begin(), problem_lines.end());
  }
  return lines;
}

std::vector<std::string> SummarizeNeural(const std::vector<NeuralRecord>& neural) {
  std::vector<std::string> lines;
  if (neural.empty()) return lines;
  const NeuralRecord* best = nullptr;
  std::string failed;
  for (const NeuralRecord& n : neural) {
    if (n.status != "ok") {
      failed += (failed.empty() ? "" : ", ") + n.spec.Label() + " (" + n.status + ")";
    } else if (std::isfinite(n.rescored) && (!best || n.rescored < best->rescored)) {
      best = &n;
    }
  }
  if (best) {
    lines.push_back("Neural ODE: lowest re-scored loss after training: " + best->spec.Label() +
                    " (" + FormatScientific(best->rescored, 3) + ", " +
                    FormatSeconds(best->seconds) + ").");
  }
  if (!failed.empty()) lines.push_back("Neural ODE: training broke down with " + failed + ".");
  return lines;
}

std::vector<std::string> Summarize(const std::vector<GradientRecord>& records,
                                   const std::vector<NeuralRecord>& neural) {
  std::vector<std::string> lines = SummarizeProblems(records);
  const std::vector<std::string> trained = SummarizeNeural(neural);
  lines.insert(lines.end(), trained.begin(), trained.end());
  return lines;
}

std::string PanelSummary(const BacksolvePanel& panel) {
  const Reconstruction& rec = panel.reconstruction;
  std::string line = "- Backsolve reconstruction of W1 at λ = " + FormatCompact(panel.lambda) +
                     " (" + panel.method + "): ";
  if (rec.complete) {
    line += "z_rec(0) = " + FormatScientific(rec.states.back()(0), 3) + " (exact 1)";
  } else if (!rec.times.empty()) {
    line += "broke down before t = " + FormatNumber(rec.times.back(), 3) + " (" + rec.message + ")";
  } else {
    line += "no data (" + rec.message + ")";
  }
  return line;
}

}  // namespace snode
