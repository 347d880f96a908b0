#include "studies/verdict.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/errors.hpp"
#include "studies/report.hpp"

namespace snode {

// ---------------------------------------------------------------- status words

const std::vector<StatusWord>& StatusWords() {
  static const std::vector<StatusWord> words = {
      {"ok",
       "finite, not flagged by the method, and every gradient component g_i meets its criterion "
       "|g_i − e_i| ≤ ok_tol·|e_i| + τ_i against the exact or reference value e_i"},
      {"inaccurate",
       "finite and not flagged, but some component misses that criterion (the error column "
       "shows which part: rel > ok_tol or abs > its allowance)"},
      {"flagged",
       "finite, but the method's own run-time diagnosis says its gradient cannot be trusted "
       "(shown with the diagnosis), whatever the comparison with the reference says"},
      {"non-finite", "the loss or some gradient component is NaN or Inf"},
      {"failed",
       "the method threw: a solver failure, an exhausted step budget or a combination it does "
       "not support; the message is shown in full"}};
  return words;
}

const std::string& StatusRule(const std::string& word) {
  for (const StatusWord& s : StatusWords()) {
    if (s.word == word) return s.rule;
  }
  throw ConfigError("unknown status word '" + word +
                    "' (known: ok, inaccurate, flagged, non-finite, failed)");
}

const StatusWord& TooMuchWorkReason() {
  static const StatusWord reason = {
      "too much work",
      "a failed run whose message names a step-budget flag (*_TOO_MUCH_WORK: CV_, ARK_ or a "
      "step-level integrator's own): the integrator needed more than max_steps steps in one "
      "output interval"};
  return reason;
}

// ---------------------------------------------------------------- the error cell

ErrorMeasure MeasureError(const GradientRecord& record, const Judging& judging) {
  ErrorMeasure m;
  const Vector& g = record.run.gradient;
  const Vector& e = record.exact;
  if (record.run.threw || g.size() == 0 || g.size() != e.size() || !g.allFinite()) return m;
  m.measured = true;
  double worst_ratio = -1.0;
  for (Index i = 0; i < g.size(); ++i) {
    const double exact = std::abs(e(i));
    const double diff = std::abs(g(i) - e(i));
    const bool absolute = judging.absolute_for_all || exact < kUnderflow;
    if (!absolute) {
      m.rel = m.has_rel ? std::max(m.rel, diff / exact) : diff / exact;
      m.has_rel = true;
      continue;
    }
    const double allowed = judging.ok_tol * exact + judging.abs_tol;
    const double ratio = allowed > 0.0 ? diff / allowed : (diff > 0.0 ? INFINITY : 0.0);
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      m.abs = diff;
      m.allowed = allowed;
      m.has_abs = true;
    }
  }
  return m;
}

std::string ErrorCell(const GradientRecord& record, const Judging& judging) {
  if (record.run.threw) return "-";
  if (!record.run.Finite()) return "non-finite";
  const ErrorMeasure m = MeasureError(record, judging);
  if (!m.measured) return "-";
  std::string cell;
  if (m.has_rel) {
    cell = "rel " + FormatScientific(m.rel, 1);
    if (!m.RelOk(judging)) cell += " > " + FormatCompact(judging.ok_tol, 2);
  }
  if (m.has_abs) {
    if (!cell.empty()) cell += "; ";
    cell += "abs " + FormatScientific(m.abs, 1) + (m.AbsOk() ? " ≤ " : " > ") +
            FormatCompact(m.allowed, 2);
  }
  return cell;
}

// ---------------------------------------------------------------- verdicts

bool TooMuchWork(const GradientRecord& record) {
  return record.run.threw && record.run.message.find("_TOO_MUCH_WORK") != std::string::npos;
}

std::string BreakReason(const GradientRecord& record) {
  return TooMuchWork(record) ? TooMuchWorkReason().word : record.status;
}

namespace {

// The breaking record's full explanation: its message, or the method's diagnosis.
std::string DetailOf(const GradientRecord& r) {
  if (r.run.threw) return r.run.message;
  if (r.status == "flagged") return r.run.stats.diagnosis;
  return "";
}

Verdict JudgeGroup(std::vector<const GradientRecord*> group) {
  std::stable_sort(
      group.begin(), group.end(),
      [](const GradientRecord* a, const GradientRecord* b) { return a->lambda < b->lambda; });
  Verdict v;
  v.problem = group.front()->problem;
  v.method = group.front()->run.spec.Label();
  v.parameter = group.front()->parameter;
  std::size_t first_bad = group.size();
  for (std::size_t i = 0; i < group.size(); ++i) {
    v.lambdas.push_back(group[i]->lambda);
    if (group[i]->status != "ok" && first_bad == group.size()) first_bad = i;
    if (group[i]->status == "ok" && first_bad < i) v.recovers = true;
  }
  v.all_ok = first_bad == group.size();
  if (first_bad > 0) v.works_up_to = group[first_bad - 1]->lambda;
  if (!v.all_ok) {
    v.breaks_at = group[first_bad]->lambda;
    v.why = BreakReason(*group[first_bad]);
    v.detail = DetailOf(*group[first_bad]);
  }
  return v;
}

}  // namespace

std::vector<Verdict> ComputeVerdicts(const std::vector<GradientRecord>& records) {
  std::vector<std::pair<std::string, std::string>> keys;  // (problem, label), first appearance
  std::vector<std::vector<const GradientRecord*>> groups;
  for (const GradientRecord& r : records) {
    const std::pair<std::string, std::string> key{r.problem, r.run.spec.Label()};
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) {
      keys.push_back(key);
      groups.emplace_back();
      it = keys.end() - 1;
    }
    groups[static_cast<std::size_t>(it - keys.begin())].push_back(&r);
  }
  // Problems in order of first appearance, then their methods in order of first appearance.
  std::vector<std::string> problems;
  for (const auto& key : keys) {
    if (std::find(problems.begin(), problems.end(), key.first) == problems.end()) {
      problems.push_back(key.first);
    }
  }
  std::vector<Verdict> verdicts;
  for (const std::string& problem : problems) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].first == problem) verdicts.push_back(JudgeGroup(groups[i]));
    }
  }
  return verdicts;
}

std::string VerdictText(const Verdict& v) {
  const std::string& p = v.parameter;
  if (v.all_ok) {
    if (v.lambdas.size() == 1) return "works (" + p + " = " + FormatCompact(v.lambdas[0]) + ")";
    return "works at every " + p + " tested (" + FormatCompact(v.lambdas.front()) + " … " +
           FormatCompact(v.lambdas.back()) + ")";
  }
  std::string text = v.lambdas.size() == 1 ? "not ok at " + p + " = " + FormatCompact(v.breaks_at)
                     : std::isnan(v.works_up_to)
                         ? "breaks at the smallest " + p + " = " + FormatCompact(v.breaks_at)
                         : "works up to " + p + " = " + FormatCompact(v.works_up_to) +
                               "; breaks at " + p + " = " + FormatCompact(v.breaks_at);
  text += ": " + v.why;
  if (v.recovers) text += " (ok again at a larger " + p + ")";
  return text;
}

namespace {

std::string ShortWhy(const std::string& why) {
  if (why == "non-finite") return "nonfin";
  if (why == "inaccurate") return "inacc";
  if (why == "flagged") return "flag";
  if (why == "failed") return "fail";
  if (why == TooMuchWorkReason().word) return "work";
  return why;
}

}  // namespace

std::string VerdictCell(const Verdict& v) {
  if (v.all_ok) return v.lambdas.size() == 1 ? "ok" : "ok ≤" + FormatCompact(v.lambdas.back());
  std::string cell;
  if (!std::isnan(v.works_up_to)) cell = "≤" + FormatCompact(v.works_up_to) + " ";
  cell += "✗" + (v.lambdas.size() == 1 ? std::string() : FormatCompact(v.breaks_at)) + " " +
          ShortWhy(v.why);
  return v.recovers ? cell + "*" : cell;
}

std::size_t TextColumns(const std::string& text) {
  std::size_t width = 0;
  for (const unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

// ---------------------------------------------------------------- the terminal table

namespace {

// text cut to at most `columns` display columns (code points), ending in "…" when cut.
std::string CutToColumns(const std::string& text, std::size_t columns) {
  if (TextColumns(text) <= columns) return text;
  std::string cut;
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool starts = (c & 0xC0) != 0x80;
    if (starts && width + 1 >= columns) break;
    width += starts;
    cut += text[i];
  }
  return cut + "…";
}

// Problems, methods and the verdict cells between them.
struct VerdictGrid {
  std::vector<std::string> problems;  // column headers: "w1b (λ)"
  std::vector<std::string> names;     // problem names
  std::vector<std::string> methods;
  std::vector<std::vector<std::string>> cells;  // [method][problem], "-" when not run
};

VerdictGrid MakeGrid(const std::vector<Verdict>& verdicts) {
  VerdictGrid grid;
  for (const Verdict& v : verdicts) {
    if (std::find(grid.names.begin(), grid.names.end(), v.problem) == grid.names.end()) {
      grid.names.push_back(v.problem);
      grid.problems.push_back(v.problem + " (" + v.parameter + ")");
    }
    if (std::find(grid.methods.begin(), grid.methods.end(), v.method) == grid.methods.end()) {
      grid.methods.push_back(v.method);
    }
  }
  grid.cells.assign(grid.methods.size(), std::vector<std::string>(grid.names.size(), "-"));
  for (const Verdict& v : verdicts) {
    const auto m = std::find(grid.methods.begin(), grid.methods.end(), v.method);
    const auto p = std::find(grid.names.begin(), grid.names.end(), v.problem);
    grid.cells[static_cast<std::size_t>(m - grid.methods.begin())]
              [static_cast<std::size_t>(p - grid.names.begin())] = VerdictCell(v);
  }
  return grid;
}

void AppendLines(const std::string& text, std::vector<std::string>& lines) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
}

// Methods as rows, problems as columns, in blocks of columns that fit kVerdictMaxColumns.
// Empty when the method labels are too long for a readable matrix.
std::vector<std::string> MatrixLayout(const VerdictGrid& grid) {
  std::size_t label_width = TextColumns("method");
  for (const std::string& m : grid.methods) label_width = std::max(label_width, TextColumns(m));
  if (label_width > kVerdictMaxColumns / 2) return {};
  std::vector<std::size_t> widths;
  for (std::size_t p = 0; p < grid.problems.size(); ++p) {
    std::size_t w = TextColumns(grid.problems[p]);
    for (const auto& row : grid.cells) w = std::max(w, TextColumns(row[p]));
    widths.push_back(w);
  }
  std::vector<std::string> lines;
  for (std::size_t begin = 0; begin < grid.problems.size();) {
    std::size_t end = begin, used = label_width;
    while (end < grid.problems.size() &&
           (end == begin || used + 2 + widths[end] <= kVerdictMaxColumns)) {
      used += 2 + widths[end++];
    }
    if (used > kVerdictMaxColumns) return {};  // one problem column alone does not fit
    std::vector<std::string> header = {"method"};
    header.insert(header.end(), grid.problems.begin() + static_cast<std::ptrdiff_t>(begin),
                  grid.problems.begin() + static_cast<std::ptrdiff_t>(end));
    Table table(header);
    for (std::size_t m = 0; m < grid.methods.size(); ++m) {
      std::vector<std::string> row = {grid.methods[m]};
      row.insert(row.end(), grid.cells[m].begin() + static_cast<std::ptrdiff_t>(begin),
                 grid.cells[m].begin() + static_cast<std::ptrdiff_t>(end));
      table.AddRow(row);
    }
    std::ostringstream text;
    table.Print(text);
    if (begin > 0) lines.emplace_back();
    AppendLines(text.str(), lines);
    begin = end;
  }
  return lines;
}

// Adds `token` to the wrapped lines (continuation lines start with indent).
void Wrap(const std::string& token, const std::string& separator, std::vector<std::string>& lines,
          const std::string& indent = "    ") {
  if (lines.empty()) {
    lines.push_back(CutToColumns(token, kVerdictMaxColumns));
  } else if (TextColumns(lines.back()) + TextColumns(separator) + TextColumns(token) <=
             kVerdictMaxColumns) {
    lines.back() += separator + token;
  } else {
    lines.push_back(CutToColumns(indent + token, kVerdictMaxColumns));
  }
}

// Numbered methods, then one wrapped line per problem grouping the methods by verdict cell.
std::vector<std::string> GroupedLayout(const VerdictGrid& grid) {
  std::vector<std::string> lines, legend;
  for (std::size_t m = 0; m < grid.methods.size(); ++m) {
    Wrap("[" + std::to_string(m + 1) + "] " + grid.methods[m], "   ", legend, "");
  }
  lines.push_back("methods:");
  lines.insert(lines.end(), legend.begin(), legend.end());
  for (std::size_t p = 0; p < grid.names.size(); ++p) {
    std::vector<std::string> cells;  // distinct cells in order of first appearance
    for (const auto& row : grid.cells) {
      if (row[p] != "-" && std::find(cells.begin(), cells.end(), row[p]) == cells.end()) {
        cells.push_back(row[p]);
      }
    }
    std::vector<std::string> wrapped = {grid.problems[p] + ":"};
    for (std::size_t c = 0; c < cells.size(); ++c) {
      std::string group = cells[c] + ":";
      for (std::size_t m = 0; m < grid.methods.size(); ++m) {
        if (grid.cells[m][p] == cells[c]) group += " " + std::to_string(m + 1);
      }
      Wrap(group, c == 0 ? " " : " · ", wrapped);
    }
    lines.insert(lines.end(), wrapped.begin(), wrapped.end());
  }
  return lines;
}

std::vector<std::string> VerdictLegend() {
  return {
      "ok ≤X: ok at every value up to X · ≤a ✗b why: ok up to a, not ok at b · ✗b: not ok "
      "at the smallest · *: ok again later",
      "why: nonfin = NaN/Inf · inacc = outside tolerance · flag = the method's "
      "diagnosis · fail = threw · work = step budget"};
}

}  // namespace

void PrintVerdictTable(const std::vector<Verdict>& verdicts, std::ostream& out) {
  const std::vector<std::string> legend = VerdictLegend();
  const std::string title =
      "Verdict per problem × method (full table, errors and messages in "
      "the report):";
  if (verdicts.empty()) {
    out << title << "\n(no runs)\n";
    return;
  }
  const VerdictGrid grid = MakeGrid(verdicts);
  std::vector<std::string> body = MatrixLayout(grid);
  const std::size_t room = kVerdictMaxLines - 1 - legend.size();  // title and legend
  if (body.empty() || body.size() > room) body = GroupedLayout(grid);
  if (body.size() > room) {
    const std::size_t dropped = body.size() - (room - 1);
    body.resize(room - 1);
    body.push_back("… " + std::to_string(dropped) +
                   " more lines: see report.md or report.html for the full verdict");
  }
  out << title << "\n";
  for (const std::string& line : body) out << CutToColumns(line, kVerdictMaxColumns) << "\n";
  for (const std::string& line : legend) out << line << "\n";
}

void PrintVerdictTable(const std::vector<GradientRecord>& records, std::ostream& out) {
  PrintVerdictTable(ComputeVerdicts(records), out);
}

}  // namespace snode
