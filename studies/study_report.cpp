#include "studies/study_report.hpp"

#include <sundials/sundials_config.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include "integrators/integrator.hpp"
#include "io/files.hpp"
#include "studies/bench_util.hpp"
#include "studies/report.hpp"
#include "studies/report_figures.hpp"

#ifndef SNODE_VERSION_STRING
#define SNODE_VERSION_STRING "unknown"
#endif

namespace snode {

// ---------------------------------------------------------------- run information

namespace {

std::string CompilerName() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown";
#endif
}

std::string ShellWord(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-./=:,+@%") == std::string::npos;
  if (plain) return word;
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string NowUtc() {
  char date[32] = "unknown";
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  if (gmtime_r(&now, &utc) != nullptr) std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return date;
}

std::string Trimmed(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  const auto end = text.find_last_not_of(" \t\r");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

}  // namespace

ProblemInfo MakeProblemInfo(const std::string& name,
                            const problems::ProblemCapabilities& capabilities,
                            const std::string& reference_description) {
  ProblemInfo info;
  info.name = name;
  info.description = capabilities.description;
  info.parameter = capabilities.parameter;
  info.parameter_meaning = capabilities.parameter_meaning;
  info.reference = capabilities.exact_gradient ? "exact" : reference_description;
  info.judge_absolute = capabilities.judge_absolute;
  return info;
}

void ParseCpuInfo(const std::string& cpuinfo, std::string* model, int* cores) {
  *model = "unknown";
  *cores = 0;
  std::istringstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = Trimmed(line.substr(0, colon));
    if (key == "processor") ++*cores;
    if (key == "model name" && *model == "unknown") *model = Trimmed(line.substr(colon + 1));
  }
}

double ProcessCpuSeconds() { return bench::ProcessCpuSeconds(); }

RunInfo StartRunInfo(int argc, const char* const* argv) {
  RunInfo info;
  for (int i = 0; i < argc; ++i) info.command_line += (i ? " " : "") + ShellWord(argv[i]);
  info.snode_version = SNODE_VERSION_STRING;
  info.sundials_version = SUNDIALS_VERSION;
  info.compiler = CompilerName();
  ParseCpuInfo(ReadTextFile("/proc/cpuinfo"), &info.cpu_model, &info.cores);
  if (info.cores == 0) info.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  info.start_utc = NowUtc();
  info.started = std::chrono::steady_clock::now();
  info.cpu_at_start = ProcessCpuSeconds();
  return info;
}

void FinishRunInfo(RunInfo& info) {
  info.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - info.started).count();
  info.cpu_seconds = ProcessCpuSeconds() - info.cpu_at_start;
}

BacksolvePanel DecayBacksolvePanel(const MethodSpec& spec, double lambda) {
  BacksolvePanel panel;
  panel.lambda = lambda;
  panel.method = spec.integrator + " " + spec.settings;
  try {
    const StudyProblem problem = DecayStudyProblem(lambda);
    auto integrator = IntegratorRegistry().Create(spec.integrator, spec.options.integrator_options);
    const Trajectory forward = integrator->Solve(problem.setup.ode);
    panel.reconstruction =
        ReconstructBacksolve(spec, problem.setup.ode, *problem.setup.loss, forward.states, 101);
  } catch (const std::exception& e) {
    panel.reconstruction.message = e.what();
  }
  return panel;
}

Judging JudgingOf(const StudyReportInput& input, const std::string& problem) {
  Judging judging{input.run.ok_tol, input.run.abs_tol, false};
  for (const ProblemInfo& p : input.problems) {
    if (p.name == problem) judging.absolute_for_all = p.judge_absolute;
  }
  return judging;
}

// ---------------------------------------------------------------- escaping

std::string HtmlEscape(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&#39;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string MarkdownCell(const std::string& text) {
  std::string cell;
  for (const char c : text) {
    if (c == '|')
      cell += "\\|";
    else if (c == '\n')
      cell += "<br>";
    else if (c == '<')
      cell += "&lt;";
    else if (c == '>')
      cell += "&gt;";
    else
      cell += c;
  }
  return cell;
}

namespace {

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

// Drops the attribute `name="…"` (or '…') from the svg start tag (the text up to the first >).
void DropAttribute(std::string& svg, const std::string& name) {
  const std::size_t tag_end = svg.find('>');
  for (std::size_t pos = svg.find(name + "="); pos != std::string::npos && pos < tag_end;
       pos = svg.find(name + "=", pos + 1)) {
    if (pos == 0 || !std::isspace(static_cast<unsigned char>(svg[pos - 1]))) continue;
    const std::size_t quote = pos + name.size() + 1;
    const std::size_t close = svg.find(svg[quote], quote + 1);
    if (close == std::string::npos || close > tag_end) return;
    svg.erase(pos, close + 1 - pos);
    return;
  }
}

}  // namespace

std::string InlineSvg(const std::string& svg, const std::string& id_prefix) {
  const std::size_t start = svg.find("<svg");
  if (start == std::string::npos) return "";
  std::string text = svg.substr(start);
  for (const char* quote : {"\"", "'"}) {
    ReplaceAll(text, std::string("id=") + quote, std::string("id=") + quote + id_prefix);
    ReplaceAll(text, std::string("href=") + quote + "#",
               std::string("href=") + quote + "#" + id_prefix);
  }
  ReplaceAll(text, "url(#", "url(#" + id_prefix);
  DropAttribute(text, "width");
  DropAttribute(text, "height");
  return text;
}

// ---------------------------------------------------------------- the document

namespace {

// A table of plain-text cells, rendered as HTML or Markdown.
struct DocTable {
  std::string id;  // HTML id ("" for none)
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row_class;  // per row: "ok", "bad", "warn" or ""
};

// One problem's section of the figures.
struct ProblemSection {
  ProblemInfo problem;
  std::vector<ReportFigure> figures;
};

// Everything both pages show, computed once.
struct ReportContent {
  std::vector<std::pair<std::string, std::string>> run;  // what was run: key, value
  DocTable verdict;
  DocTable problems;
  std::vector<ProblemSection> figures;
  ReportFigure reconstruction;  // title empty when there are no panels
  std::string figures_note;     // why figures are missing
  DocTable full;
  DocTable neural;
  std::vector<std::string> criterion;  // how "ok" is decided, in words
};

// The problems of the records, in order of first appearance, described by input.problems
// where it has them.
std::vector<ProblemInfo> ProblemsOf(const StudyReportInput& input) {
  std::vector<ProblemInfo> problems;
  for (const GradientRecord& r : input.records) {
    if (std::any_of(problems.begin(), problems.end(),
                    [&](const ProblemInfo& p) { return p.name == r.problem; })) {
      continue;
    }
    const auto given = std::find_if(input.problems.begin(), input.problems.end(),
                                    [&](const ProblemInfo& p) { return p.name == r.problem; });
    ProblemInfo info = given != input.problems.end() ? *given : ProblemInfo{};
    if (given == input.problems.end()) {
      info.name = r.problem;
      info.parameter = r.parameter;
      info.reference = r.reference;
    }
    problems.push_back(info);
  }
  return problems;
}

std::string Seconds(double seconds) {
  return std::isfinite(seconds) ? FormatSeconds(seconds) : std::string("-");
}

std::vector<std::pair<std::string, std::string>> RunRows(const RunInfo& run) {
  return {{"command", run.command_line.empty() ? "-" : run.command_line},
          {"preset", run.preset.empty() ? "-" : run.preset},
          {"snode", run.snode_version},
          {"SUNDIALS", run.sundials_version},
          {"compiler", run.compiler},
          {"machine", run.cpu_model + ", " + std::to_string(run.cores) + " logical cores"},
          {"threads", std::to_string(run.threads)},
          {"started (UTC)", run.start_utc},
          {"elapsed", Seconds(run.wall_seconds) + " wall, " + Seconds(run.cpu_seconds) + " CPU"},
          {"ok criterion", "ok_tol = " + FormatCompact(run.ok_tol) +
                               " (relative), τ = " + FormatCompact(run.abs_tol) +
                               " (absolute part, see the definitions)"}};
}

std::string RowClass(bool ok, const std::string& why) {
  if (ok) return "ok";
  return why == "flagged" ? "warn" : "bad";
}

// The error cell of the record a verdict breaks at ("" when there is none).
std::string BreakingError(const StudyReportInput& input, const Verdict& v) {
  for (const GradientRecord& r : input.records) {
    if (r.problem == v.problem && r.lambda == v.breaks_at && r.run.spec.Label() == v.method) {
      return "error " + ErrorCell(r, JudgingOf(input, r.problem));
    }
  }
  return "";
}

DocTable VerdictTable(const StudyReportInput& input, const std::vector<Verdict>& verdicts) {
  DocTable table{
      "verdict-table", {"problem", "method", "works up to", "breaks at", "why", "details"}, {}, {}};
  for (const Verdict& v : verdicts) {
    const std::string p = v.parameter + " = ";
    std::string works = std::isnan(v.works_up_to) ? "-" : p + FormatCompact(v.works_up_to);
    if (v.all_ok) {
      works = VerdictText(v);  // "works at every λ tested (1 … 1e4)"
    }
    std::string why = v.all_ok ? "-" : v.why;
    if (v.recovers) why += " (ok again at a larger " + v.parameter + ")";
    const std::string detail =
        v.detail.empty() && v.why == "inaccurate" ? BreakingError(input, v) : v.detail;
    table.rows.push_back(
        {v.problem, v.method, works, v.all_ok ? "-" : p + FormatCompact(v.breaks_at), why, detail});
    table.row_class.push_back(RowClass(v.all_ok, v.why));
  }
  return table;
}

DocTable ProblemTable(const StudyReportInput& input, const std::vector<ProblemInfo>& problems) {
  DocTable table{
      "problems",
      {"problem", "description", "parameter", "values tested", "reference gradient", "judged"},
      {},
      {}};
  for (const ProblemInfo& p : problems) {
    std::vector<double> lambdas;
    std::string reference = p.reference;  // plus what the records say where they differ
    for (const GradientRecord& r : input.records) {
      if (r.problem != p.name) continue;
      lambdas.push_back(r.lambda);
      if (r.reference != p.reference && reference.find(r.reference) == std::string::npos) {
        reference += "; at " + r.parameter + " = " + FormatCompact(r.lambda) + ": " + r.reference;
      }
    }
    std::string values;
    for (const double lambda : SortedUnique(lambdas)) {
      values += (values.empty() ? "" : ", ") + FormatCompact(lambda);
    }
    table.rows.push_back(
        {p.name, p.description.empty() ? "-" : p.description,
         p.parameter + (p.parameter_meaning.empty() ? "" : ": " + p.parameter_meaning), values,
         reference,
         p.judge_absolute ? "absolutely: every component ≤ ok_tol·|e_i| + τ"
                          : "relatively (absolute part τ only where e_i underflows)"});
    table.row_class.emplace_back();
  }
  return table;
}

std::string Count(long n, bool threw) { return threw ? "-" : std::to_string(n); }

DocTable FullTable(const StudyReportInput& input) {
  DocTable table{"full-table",
                 {"problem", "value", "method", "error", "own estimate", "f fwd", "f bwd", "VJP",
                  "JVP", "time", "status", "message / diagnosis"},
                 {},
                 {}};
  for (const GradientRecord& r : input.records) {
    const GradientStats& s = r.run.stats;
    const bool threw = r.run.threw;
    std::string detail = threw ? r.run.message : s.diagnosis;
    if (TooMuchWork(r)) detail = "[too much work] " + detail;
    table.rows.push_back(
        {r.problem, r.parameter + " = " + FormatCompact(r.lambda), r.run.spec.Label(),
         ErrorCell(r, JudgingOf(input, r.problem)),
         threw || std::isnan(s.error_estimate) ? "-" : FormatScientific(s.error_estimate, 1),
         Count(s.forward_rhs_evals, threw), Count(s.backward_rhs_evals, threw),
         Count(s.vjp_evals, threw), Count(s.jvp_evals, threw), FormatSeconds(r.run.seconds),
         r.status, detail});
    table.row_class.push_back(RowClass(r.status == "ok", r.status));
  }
  return table;
}

DocTable NeuralTable(const std::vector<NeuralRecord>& neural) {
  DocTable table{"neural-table",
                 {"method", "iterations", "loss start", "loss end", "end, tight solve", "f fwd",
                  "f bwd", "VJP", "time", "status", "message"},
                 {},
                 {}};
  for (const NeuralRecord& n : neural) {
    const bool any = !n.losses.empty();
    table.rows.push_back({n.spec.Label(), std::to_string(n.losses.size()),
                          any ? FormatScientific(n.losses.front(), 3) : "-",
                          any ? FormatScientific(n.losses.back(), 3) : "-",
                          FormatScientific(n.rescored, 3), std::to_string(n.forward_nfe),
                          std::to_string(n.backward_nfe), std::to_string(n.vjp),
                          FormatSeconds(n.seconds), n.status, n.message});
    table.row_class.push_back(RowClass(n.status == "ok", n.status));
  }
  return table;
}

std::vector<std::string> CriterionText(const RunInfo& run) {
  return {
      "A gradient g is compared componentwise with the exact or reference gradient e "
      "(g = [dL/dθ; dL/dz0]). Component i meets its criterion when |g_i − e_i| ≤ ok_tol·|e_i| "
      "+ τ_i with ok_tol = " +
          FormatCompact(run.ok_tol) + "; τ_i = " + FormatCompact(run.abs_tol) +
          " on problems judged absolutely (exact values far below any solver tolerance) and "
          "for components whose exact value underflows (|e_i| below the smallest normal "
          "double), otherwise 0.",
      "The error column shows \"rel r\" (the largest relative error over the components "
      "judged relatively; \"> ok_tol\" when it misses) and \"abs a ≤ b\" (the worst "
      "component judged absolutely, with its allowance b = ok_tol·|e_i| + τ). A relative "
      "error is never shown for a component judged absolutely, so the columns cannot "
      "contradict the status."};
}

ReportContent BuildContent(const std::string& dir, const StudyReportInput& input) {
  ReportContent content;
  content.run = RunRows(input.run);
  content.verdict = VerdictTable(input, ComputeVerdicts(input.records));
  const std::vector<ProblemInfo> problems = ProblemsOf(input);
  content.problems = ProblemTable(input, problems);
  if (!input.figures) {
    content.figures_note = "Figures were not drawn (--no-plots).";
  } else if (!GnuplotAvailable()) {
    content.figures_note =
        "Figures are missing: gnuplot was not found on PATH (install gnuplot "
        "and run the study again).";
  } else {
    for (const ProblemInfo& p : problems) {
      content.figures.push_back({p, ProblemFigures(dir, input, p)});
    }
    if (!input.panels.empty()) content.reconstruction = ReconstructionFigure(dir, input);
  }
  content.full = FullTable(input);
  content.neural = NeuralTable(input.neural);
  content.criterion = CriterionText(input.run);
  return content;
}

// Every figure of the content, in page order.
std::vector<const ReportFigure*> AllFigures(const ReportContent& content) {
  std::vector<const ReportFigure*> all;
  for (const ProblemSection& p : content.figures) {
    for (const ReportFigure& f : p.figures) all.push_back(&f);
  }
  if (!content.reconstruction.title.empty()) all.push_back(&content.reconstruction);
  return all;
}

// ---------------------------------------------------------------- HTML

const char* const kStyle = R"css(
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2329;
       margin: 0 auto; max-width: 1240px; padding: 1.2em 1.6em 3em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #d0d7de; padding-bottom: 0.2em; margin-top: 1.8em; }
h3 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.55em; text-align: left;
         vertical-align: top; }
th { background: #f3f5f7; }
#full-table td, #verdict-table td, #neural-table td { white-space: nowrap; }
#full-table td.details, #verdict-table td.details, #neural-table td.details,
td.details { white-space: normal; min-width: 18em; max-width: 40em; overflow-wrap: anywhere; }
#verdict-table td.details { min-width: 14em; max-width: 24em; }
div.wide { overflow-x: auto; }
tr.ok td { background: #eef8ee; }
tr.bad td { background: #fcecea; }
tr.warn td { background: #fdf6e0; }
table.kv th { width: 10em; }
figure { margin: 1em 0 2em; }
figure svg { width: 100%; height: auto; display: block; border: 1px solid #eaeef2; }
figcaption { font-weight: 600; margin-bottom: 0.3em; }
p.caption { color: #57606a; font-size: 0.9em; margin-top: 0.3em; }
p.missing { background: #fdf6e0; border: 1px solid #e7d38f; padding: 0.5em 0.8em; }
dt { font-weight: 600; margin-top: 0.5em; }
#self-check { color: #8c959f; font-size: 0.75em; white-space: pre-wrap; }
)css";

const char* const kSelfCheck = R"js(
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var what = e.message ||
        (e.target && (e.target.src || e.target.href) ? 'failed to load ' +
         (e.target.src || e.target.href) : 'unknown error');
    errors.push(String(what));
  }, true);
  var originalError = console.error;
  console.error = function () {
    errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return originalError.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    var refs = document.querySelectorAll('[src], [href]');
    for (var r = 0; r < refs.length; ++r) {
      var target = refs[r].getAttribute('src') || refs[r].getAttribute('href') || '';
      if (target.charAt(0) !== '#') errors.push('external reference: ' + target);
    }
    var svgs = document.querySelectorAll('figure svg');
    var empty = [];
    for (var i = 0; i < svgs.length; ++i) {
      var box = svgs[i].getBoundingClientRect();
      if (!(box.width > 0 && box.height > 0)) empty.push(i);
    }
    var result = {
      errors: errors,
      figures: svgs.length,
      expected_figures: Number(document.body.getAttribute('data-figures')),
      empty_figures: empty,
      verdict_table: document.querySelectorAll('#verdict-table tbody tr').length > 0
    };
    result.ok = errors.length === 0 && empty.length === 0 && result.verdict_table &&
        result.figures === result.expected_figures;
    var text = JSON.stringify(result);
    document.getElementById('self-check').textContent = text;
    console.log('snode report self-check: ' + text);
  });
})();
)js";

std::string HtmlTable(const DocTable& table) {
  std::ostringstream html;
  html << "<div class=\"wide\"><table"
       << (table.id.empty() ? "" : " id=\"" + HtmlEscape(table.id) + "\"") << ">\n<thead><tr>";
  for (const std::string& h : table.header) html << "<th>" << HtmlEscape(h) << "</th>";
  html << "</tr></thead>\n<tbody>\n";
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    const std::string& cls = table.row_class[i];
    html << "<tr" << (cls.empty() ? "" : " class=\"" + cls + "\"") << ">";
    for (std::size_t j = 0; j < table.rows[i].size(); ++j) {
      const bool last = j + 1 == table.rows[i].size();
      html << (last ? "<td class=\"details\">" : "<td>") << HtmlEscape(table.rows[i][j]) << "</td>";
    }
    html << "</tr>\n";
  }
  html << "</tbody>\n</table></div>\n";
  return html.str();
}

// One figure inline (its SVG read back), or a line saying why it is missing.
std::string HtmlFigure(const std::string& dir, const ReportFigure& figure, int index) {
  const std::string svg = figure.svg.empty() ? std::string()
                                             : InlineSvg(ReadTextFile(dir + "/" + figure.svg),
                                                         "fig" + std::to_string(index) + "-");
  if (svg.empty()) {
    return "<p class=\"missing\">" + HtmlEscape(figure.title) + ": figure missing (" +
           HtmlEscape(figure.note.empty() ? "gnuplot wrote no SVG" : figure.note) + ")</p>\n";
  }
  return "<figure id=\"figure-" + std::to_string(index) + "\">\n<figcaption>" +
         HtmlEscape(figure.title) + "</figcaption>\n" + svg + "\n<p class=\"caption\">" +
         HtmlEscape(figure.caption) + "</p>\n</figure>\n";
}

std::string HtmlFigures(const std::string& dir, const ReportContent& content, int* count) {
  std::ostringstream html;
  html << "<section id=\"figures\">\n<h2>Figures</h2>\n";
  if (!content.figures_note.empty()) {
    html << "<p class=\"missing\">" << HtmlEscape(content.figures_note) << "</p>\n";
  }
  int index = 0;
  for (const ProblemSection& p : content.figures) {
    html << "<h3>" << HtmlEscape(p.problem.name) << "</h3>\n";
    for (const ReportFigure& f : p.figures) html << HtmlFigure(dir, f, index++);
  }
  if (!content.reconstruction.title.empty()) {
    html << "<h3>Backsolve reconstruction</h3>\n"
         << HtmlFigure(dir, content.reconstruction, index++);
  }
  html << "</section>\n";
  *count = 0;
  for (const ReportFigure* f : AllFigures(content)) *count += f->svg.empty() ? 0 : 1;
  return html.str();
}

std::string HtmlList(const std::vector<std::string>& items) {
  std::string html = "<ul>\n";
  for (const std::string& item : items) html += "<li>" + HtmlEscape(item) + "</li>\n";
  return html + "</ul>\n";
}

std::string HtmlDefinitions(const StudyReportInput& input, const ReportContent& content) {
  std::ostringstream html;
  html << "<section id=\"notes\">\n<h2>Notes and definitions</h2>\n";
  if (!input.notes.empty()) html << "<h3>Notes</h3>\n" << HtmlList(input.notes);
  html << "<h3>Status words</h3>\n<dl>\n";
  for (const StatusWord& s : StatusWords()) {
    html << "<dt>" << HtmlEscape(s.word) << "</dt><dd>" << HtmlEscape(s.rule) << "</dd>\n";
  }
  const StatusWord& work = TooMuchWorkReason();
  html << "<dt>" << HtmlEscape(work.word) << " (a reason, not a status)</dt><dd>"
       << HtmlEscape(work.rule) << "</dd>\n</dl>\n<h3>The ok criterion</h3>\n";
  for (const std::string& p : content.criterion) html << "<p>" << HtmlEscape(p) << "</p>\n";
  html << "</section>\n";
  return html.str();
}

std::string HtmlPage(const std::string& dir, const StudyReportInput& input,
                     const ReportContent& content) {
  int figures = 0;
  const std::string figure_html = HtmlFigures(dir, content, &figures);
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       << "<title>snode stiffness study</title>\n<script>" << kSelfCheck << "</script>\n"
       << "<style>" << kStyle << "</style>\n</head>\n<body data-figures=\"" << figures
       << "\">\n<h1>snode stiffness study</h1>\n"
       << "<p>Where each gradient method breaks as the problem gets stiffer.</p>\n"
       << "<section id=\"run\">\n<h2>What was run</h2>\n<table class=\"kv\">\n<tbody>\n";
  for (const auto& [key, value] : content.run) {
    html << "<tr><th>" << HtmlEscape(key) << "</th><td>" << HtmlEscape(value) << "</td></tr>\n";
  }
  html << "</tbody>\n</table>\n</section>\n<section id=\"verdict\">\n<h2>Verdict</h2>\n"
       << "<p>Per problem and method: the largest value of the contiguous ok range from the "
          "smallest value tested, the first value that is not ok, and why (the status words "
          "are defined at the end).</p>\n"
       << HtmlTable(content.verdict);
  if (!input.findings.empty()) html << "<h3>Findings</h3>\n" << HtmlList(input.findings);
  html << "<h3>Problems</h3>\n"
       << HtmlTable(content.problems) << "</section>\n"
       << figure_html << "<section id=\"table\">\n<h2>Full table</h2>\n"
       << HtmlTable(content.full);
  if (!content.neural.rows.empty()) {
    html << "<h3>Neural ODE training</h3>\n" << HtmlTable(content.neural);
  }
  html << "</section>\n"
       << HtmlDefinitions(input, content)
       << "<pre id=\"self-check\">self-check: pending</pre>\n</body>\n</html>\n";
  return html.str();
}

// ---------------------------------------------------------------- Markdown

std::string MarkdownTable(const DocTable& table) {
  std::ostringstream md;
  md << "|";
  for (const std::string& h : table.header) md << " " << MarkdownCell(h) << " |";
  md << "\n|";
  for (std::size_t j = 0; j < table.header.size(); ++j) md << " --- |";
  md << "\n";
  for (const auto& row : table.rows) {
    md << "|";
    for (const std::string& cell : row)
      md << " " << (cell.empty() ? "" : MarkdownCell(cell)) << " |";
    md << "\n";
  }
  return md.str() + "\n";
}

std::string MarkdownFigure(const ReportFigure& figure) {
  if (figure.svg.empty()) {
    return "*" + figure.title + ": figure missing (" + figure.note + ")*\n\n";
  }
  return "![" + figure.title + "](" + figure.svg + ")\n\n" + figure.caption + "\n\n";
}

std::string MarkdownPage(const StudyReportInput& input, const ReportContent& content) {
  std::ostringstream md;
  md << "# snode stiffness study\n\nWhere each gradient method breaks as the problem gets "
        "stiffer.\n\n## What was run\n\n";
  for (const auto& [key, value] : content.run) {
    md << "- **" << key << "**: " << (key == "command" ? "`" + value + "`" : value) << "\n";
  }
  md << "\n## Verdict\n\n" << MarkdownTable(content.verdict);
  if (!input.findings.empty()) {
    md << "### Findings\n\n";
    for (const std::string& f : input.findings) md << "- " << f << "\n";
    md << "\n";
  }
  md << "### Problems\n\n" << MarkdownTable(content.problems) << "## Figures\n\n";
  if (!content.figures_note.empty()) md << "*" << content.figures_note << "*\n\n";
  for (const ProblemSection& p : content.figures) {
    md << "### " << p.problem.name << "\n\n";
    for (const ReportFigure& f : p.figures) md << MarkdownFigure(f);
  }
  if (!content.reconstruction.title.empty()) {
    md << "### Backsolve reconstruction\n\n" << MarkdownFigure(content.reconstruction);
  }
  md << "## Full table\n\n" << MarkdownTable(content.full);
  if (!content.neural.rows.empty()) {
    md << "### Neural ODE training\n\n" << MarkdownTable(content.neural);
  }
  md << "## Notes and definitions\n\n";
  for (const std::string& note : input.notes) md << "- note: " << note << "\n";
  md << "\n### Status words\n\n";
  for (const StatusWord& s : StatusWords()) md << "- **" << s.word << "**: " << s.rule << "\n";
  md << "- **" << TooMuchWorkReason().word
     << "** (a reason, not a status): " << TooMuchWorkReason().rule
     << "\n\n### The ok criterion\n\n";
  for (const std::string& p : content.criterion) md << p << "\n\n";
  return md.str();
}

}  // namespace

StudyReportFiles WriteStudyReport(const std::string& dir, const StudyReportInput& input) {
  EnsureDirectory(dir);
  EnsureDirectory(dir + "/figures");
  const ReportContent content = BuildContent(dir, input);
  StudyReportFiles files;
  files.html = dir + "/report.html";
  files.markdown = dir + "/report.md";
  AtomicWriteFile(files.html, HtmlPage(dir, input, content));
  AtomicWriteFile(files.markdown, MarkdownPage(input, content));
  files.figures_note = content.figures_note;
  for (const ReportFigure* f : AllFigures(content)) {
    if (!f->svg.empty()) {
      files.figures.push_back(dir + "/" + f->svg);
    } else if (!f->note.empty()) {
      files.figures_note += (files.figures_note.empty() ? "" : "; ") + f->note;
    }
  }
  return files;
}

}  // namespace snode
