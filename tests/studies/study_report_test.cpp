// Tests of the study report (studies/study_report.hpp), its verdicts and error cells
// (studies/verdict.hpp) and its figures (studies/report_figures.hpp), on synthetic records.
#include "studies/study_report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <regex>
#include <sstream>
#include <string>

#include "core/errors.hpp"
#include "studies/report_figures.hpp"
#include "studies/verdict.hpp"
#include "tests/test_util/temp_files.hpp"

namespace snode {
namespace {

namespace fs = std::filesystem;
using test_util::ReadAll;
using test_util::TempDir;

Vector Vec(std::initializer_list<double> values) {
  Vector v(static_cast<Index>(values.size()));
  Index i = 0;
  for (const double x : values) v(i++) = x;
  return v;
}

// A record of `method` on `problem` at λ with the given status (the gradient equals the exact
// one unless the status needs otherwise).
GradientRecord Record(const std::string& problem, const std::string& method, double lambda,
                      const std::string& status, const std::string& message = "") {
  GradientRecord r;
  r.problem = problem;
  r.lambda = lambda;
  r.run.spec = MakeMethod(method, "dopri5", 1e-6, 1e-6);
  r.exact = Vec({1.0, -2.0});
  r.run.gradient = r.exact;
  r.run.loss = 1.0;
  r.status = status;
  if (status == "failed") {
    r.run.threw = true;
    r.run.gradient = Vector();
    r.run.message = message.empty() ? "CVode failed with CV_CONV_FAILURE (-4)" : message;
  } else if (status == "non-finite") {
    r.run.gradient(0) = std::nan("");
  } else if (status == "inaccurate") {
    r.run.gradient(0) = 1.5;
  } else if (status == "flagged") {
    r.run.stats.Flag(message.empty() ? "the reverse pass amplified round-off" : message);
  }
  r.error = CompareGradient(r.run.gradient, r.exact);
  r.run.stats.forward_rhs_evals = static_cast<long>(10 * lambda);
  r.run.stats.vjp_evals = 5;
  r.run.seconds = 1e-3 * lambda;
  return r;
}

// ---------------------------------------------------------------- status words

TEST(StudyReportStatus, WordsAreDefinedOnceInClassifyOrder) {
  std::vector<std::string> words;
  for (const StatusWord& s : StatusWords()) {
    words.push_back(s.word);
    EXPECT_FALSE(s.rule.empty());
  }
  EXPECT_EQ(words,
            (std::vector<std::string>{"ok", "inaccurate", "flagged", "non-finite", "failed"}));
  EXPECT_NE(StatusRule("flagged").find("diagnosis"), std::string::npos);
  EXPECT_THROW(StatusRule("fine"), ConfigError);
  EXPECT_NE(TooMuchWorkReason().rule.find("TOO_MUCH_WORK"), std::string::npos);
}

// ---------------------------------------------------------------- verdicts

TEST(StudyReportVerdict, OkEverywhere) {
  std::vector<GradientRecord> records;
  for (const double lambda : {1e4, 1.0, 100.0})
    records.push_back(Record("p", "bptt", lambda, "ok"));
  const std::vector<Verdict> v = ComputeVerdicts(records);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].all_ok);
  EXPECT_EQ(v[0].lambdas, (std::vector<double>{1.0, 100.0, 1e4}));  // sorted
  EXPECT_EQ(VerdictText(v[0]), "works at every λ tested (1 … 1e4)");
  EXPECT_EQ(VerdictCell(v[0]), "ok ≤1e4");
}

TEST(StudyReportVerdict, ContiguousRangeFromTheSmallestAndRecovery) {
  const std::vector<GradientRecord> records = {
      Record("p", "bptt", 1, "ok"), Record("p", "bptt", 10, "ok"),
      Record("p", "bptt", 100, "inaccurate"), Record("p", "bptt", 1000, "ok")};
  const Verdict v = ComputeVerdicts(records).at(0);
  EXPECT_FALSE(v.all_ok);
  EXPECT_EQ(v.works_up_to, 10.0);
  EXPECT_EQ(v.breaks_at, 100.0);
  EXPECT_EQ(v.why, "inaccurate");
  EXPECT_TRUE(v.recovers);
  EXPECT_EQ(VerdictCell(v), "≤10 ✗100 inacc*");
  EXPECT_EQ(VerdictText(v),
            "works up to λ = 10; breaks at λ = 100: inaccurate (ok again at a larger λ)");
}

TEST(StudyReportVerdict, BreaksAtTheSmallestWithEachReason) {
  const std::string budget =
      "ERKStepEvolve failed with ARK_TOO_MUCH_WORK (-1) at t=0.2 (integrator 'dopri5'); raise "
      "max_steps or loosen rtol; if the problem is stiff use sdirk or cvodes_bdf" +
      std::string(150, '.');
  const std::vector<GradientRecord> records = {
      Record("p", "a", 1, "flagged", "the backward reconstruction of z is off"),
      Record("p", "b", 1, "non-finite"),
      Record("p", "c", 1, "failed"),
      Record("p", "d", 1, "failed", budget),
      Record("p", "e", 1, "ok"),
      Record("p", "e", 10, "failed", "HEUN_TOO_MUCH_WORK at t=0.5"),
      Record("p", "f", 1, "ok"),
      Record("p", "f", 10, "flagged")};
  const std::vector<Verdict> v = ComputeVerdicts(records);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_TRUE(std::isnan(v[0].works_up_to));
  EXPECT_EQ(v[0].why, "flagged");
  EXPECT_EQ(v[0].detail, "the backward reconstruction of z is off");
  EXPECT_EQ(VerdictText(v[0]), "not ok at λ = 1: flagged");  // run at one value
  EXPECT_EQ(VerdictText(v[4]), "works up to λ = 1; breaks at λ = 10: too much work");
  EXPECT_EQ(VerdictCell(v[0]), "✗ flag");  // a single value: no value in the cell
  const Verdict smallest =
      ComputeVerdicts({Record("p", "g", 1, "failed"), Record("p", "g", 10, "ok")}).at(0);
  EXPECT_EQ(VerdictText(smallest), "breaks at the smallest λ = 1: failed (ok again at a larger λ)");
  EXPECT_EQ(VerdictCell(smallest), "✗1 fail*");
  EXPECT_EQ(v[1].why, "non-finite");
  EXPECT_EQ(v[2].why, "failed");
  EXPECT_EQ(v[3].why, "too much work");
  EXPECT_EQ(v[3].detail, budget);  // in full, not cut
  EXPECT_EQ(v[4].why, "too much work");
  EXPECT_EQ(VerdictCell(v[4]), "≤1 ✗10 work");
  EXPECT_EQ(v[5].why, "flagged");
  EXPECT_FALSE(TooMuchWork(records[2]));
  EXPECT_EQ(BreakReason(records[3]), "too much work");
}

TEST(StudyReportVerdict, ProblemsAndMethodsInOrderOfFirstAppearance) {
  const std::vector<GradientRecord> records = {
      Record("w1b", "bptt", 1, "ok"), Record("w1", "cvodes_adjoint", 1, "ok"),
      Record("w1b", "backsolve_adjoint", 1, "ok"), Record("w1", "bptt", 1, "ok")};
  const std::vector<Verdict> v = ComputeVerdicts(records);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].problem + " " + v[0].method, "w1b bptt/dopri5 tol=1e-6");
  EXPECT_EQ(v[1].problem + " " + v[1].method, "w1b backsolve_adjoint/dopri5 tol=1e-6");
  EXPECT_EQ(v[2].problem + " " + v[2].method, "w1 cvodes_adjoint/dopri5 tol=1e-6");
  EXPECT_EQ(v[3].problem, "w1");
}

// ---------------------------------------------------------------- the terminal bound

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// problems × methods records over λ = 1 … 1e4 with varied verdicts; label_padding lengthens
// the method labels.
std::vector<GradientRecord> Grid(int problems, int methods, std::size_t label_padding) {
  const char* const statuses[] = {"inaccurate", "flagged", "non-finite", "failed"};
  std::vector<GradientRecord> records;
  for (int p = 0; p < problems; ++p) {
    for (int m = 0; m < methods; ++m) {
      const std::string method = "method_" + std::to_string(m) + std::string(label_padding, 'x');
      const int breaks = (p + m) % 6;  // 5: never
      for (int k = 0; k < 5; ++k) {
        const std::string status = k < breaks || breaks == 5 ? "ok" : statuses[(p * m + k) % 4];
        records.push_back(
            Record("problem_" + std::to_string(p), method, std::pow(10.0, k), status));
      }
    }
  }
  return records;
}

void ExpectWithinBounds(const std::vector<GradientRecord>& records, const std::string& what) {
  std::ostringstream out;
  PrintVerdictTable(records, out);
  const std::vector<std::string> lines = Lines(out.str());
  EXPECT_LE(lines.size(), kVerdictMaxLines) << what << "\n" << out.str();
  for (const std::string& line : lines) {
    EXPECT_LE(TextColumns(line), kVerdictMaxColumns) << what << ": " << line;
  }
}

TEST(StudyReportVerdictTable, StaysWithin40By120) {
  ExpectWithinBounds(Grid(2, 4, 0), "2 × 4");
  ExpectWithinBounds(Grid(10, 16, 0), "10 × 16");
  ExpectWithinBounds(Grid(10, 16, 40), "10 × 16, long labels");
  ExpectWithinBounds(Grid(10, 16, 150), "10 × 16, labels wider than the terminal");
  ExpectWithinBounds(Grid(3, 40, 10), "3 × 40");
  ExpectWithinBounds(Grid(40, 3, 0), "40 × 3");
  ExpectWithinBounds({}, "no records");
}

TEST(StudyReportVerdictTable, SmallStudyIsAMatrixWithEveryCell) {
  const std::vector<GradientRecord> records = {
      Record("w1", "bptt", 1, "ok"), Record("w1", "bptt", 100, "inaccurate"),
      Record("w1b", "bptt", 1, "ok"), Record("w1b", "bptt", 100, "ok")};
  std::ostringstream out;
  PrintVerdictTable(records, out);
  EXPECT_NE(out.str().find("method"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("w1 (λ)"), std::string::npos);
  EXPECT_NE(out.str().find("≤1 ✗100 inacc"), std::string::npos);
  EXPECT_NE(out.str().find("ok ≤100"), std::string::npos);
}

TEST(StudyReportVerdictTable, ManyMethodsAreNumberedAndAllShown) {
  const std::vector<GradientRecord> records = Grid(8, 16, 30);
  std::ostringstream out;
  PrintVerdictTable(records, out);
  for (int m = 1; m <= 16; ++m) {
    EXPECT_NE(out.str().find("[" + std::to_string(m) + "] method_" + std::to_string(m - 1)),
              std::string::npos)
        << out.str();
  }
  EXPECT_EQ(out.str().find("more lines"), std::string::npos) << out.str();
}

// ---------------------------------------------------------------- error cells

TEST(StudyReportErrorCell, RelativeWhereMeaningfulAbsoluteWithItsCriterionElsewhere) {
  const Judging relative{1e-3, 1e-12, false};
  GradientRecord r = Record("p", "bptt", 1, "ok");
  r.run.gradient = Vec({1.0 + 1e-6, -2.0});
  EXPECT_EQ(ErrorCell(r, relative), "rel 1.0e-06");
  r.run.gradient = Vec({1.05, -2.0});
  EXPECT_EQ(ErrorCell(r, relative), "rel 5.0e-02 > 1e-3");

  // The seed's decay at λ = 100: e^{-100} ≈ 3.7e-44 judged absolutely; a relative error of
  // ~1e30 must not be shown.
  const Judging absolute{1e-3, 1e-12, true};
  r.exact = Vec({-3.72e-44, 3.72e-44});
  r.run.gradient = Vec({3e-14, 3.72e-44});
  EXPECT_EQ(ErrorCell(r, absolute), "abs 3.0e-14 ≤ 1e-12");
  r.run.gradient = Vec({2e-9, 3.72e-44});
  EXPECT_EQ(ErrorCell(r, absolute), "abs 2.0e-09 > 1e-12");

  // A relative problem whose second exact component underflows: both parts.
  r.exact = Vec({0.5, 0.0});
  r.run.gradient = Vec({0.5, 1e-300});
  EXPECT_EQ(ErrorCell(r, relative), "rel 0.0e+00; abs 1.0e-300 ≤ 1e-12");

  GradientRecord failed = Record("p", "bptt", 1, "failed");
  EXPECT_EQ(ErrorCell(failed, relative), "-");
  EXPECT_EQ(ErrorCell(Record("p", "bptt", 1, "non-finite"), relative), "non-finite");
}

// The property: whatever the gradient and the judging, an "ok" record's cell shows no part over
// its criterion (no "rel 1e+35" next to ok), and a cell with every part within its criterion
// belongs to an ok record (unless flagged).
TEST(StudyReportErrorCell, NeverContradictsTheStatus) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> exponent(-60.0, 2.0), unit(-1.0, 1.0);
  const std::regex rel_part("rel ([0-9.e+-]+)");
  int ok_count = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const Judging judging{1e-3, kGradientAbsTol, trial % 2 == 0};
    GradientRecord r = Record("p", "bptt", 1, "ok");
    r.exact =
        Vec({std::pow(10.0, exponent(rng)), trial % 5 == 0 ? 0.0 : -std::pow(10.0, exponent(rng))});
    r.run.gradient = r.exact;
    for (Index i = 0; i < 2; ++i) {
      r.run.gradient(i) += unit(rng) * std::pow(10.0, exponent(rng) - 3.0);
    }
    const std::string status =
        Classify(r.run, r.exact, judging.ok_tol, judging.abs_tol, judging.absolute_for_all);
    const std::string cell = ErrorCell(r, judging);
    const bool every_part_within = cell.find('>') == std::string::npos;
    EXPECT_EQ(status == "ok", every_part_within) << cell;
    std::smatch match;
    if (status == "ok" && std::regex_search(cell, match, rel_part)) {
      EXPECT_LE(std::stod(match[1]), 1.05e-3) << cell;
    }
    ok_count += status == "ok";
  }
  EXPECT_GT(ok_count, 100);
  EXPECT_LT(ok_count, 3900);
}

// ---------------------------------------------------------------- escaping and SVG

TEST(StudyReportText, EscapesHtmlAndMarkdown) {
  EXPECT_EQ(HtmlEscape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  EXPECT_EQ(HtmlEscape("λ ≤ 1e4"), "λ ≤ 1e4");
  EXPECT_EQ(MarkdownCell("a|b\nc <d>"), "a\\|b<br>c &lt;d&gt;");
  EXPECT_EQ(TextColumns("≤1e2 ✗1e3 λ"), 11u);
}

TEST(StudyReportText, InlineSvgDropsThePrologAndPrefixesIds) {
  const std::string svg =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg \n width=\"600\" height=\"400\"\n "
      "viewBox=\"0 0 600 400\">\n<defs><path id='gpPt0' stroke-width='0.2'/></defs>"
      "<use xlink:href='#gpPt0'/><g id=\"a\" filter=\"url(#textbox)\"/></svg>\n";
  const std::string inline_svg = InlineSvg(svg, "fig3-");
  EXPECT_EQ(inline_svg.rfind("<svg", 0), 0u) << inline_svg;
  EXPECT_EQ(inline_svg.find("<?xml"), std::string::npos);
  EXPECT_EQ(inline_svg.find("DOCTYPE"), std::string::npos);
  EXPECT_EQ(inline_svg.find("width=\"600\""), std::string::npos);
  EXPECT_EQ(inline_svg.find("height=\"400\""), std::string::npos);
  EXPECT_NE(inline_svg.find("viewBox=\"0 0 600 400\""), std::string::npos);
  EXPECT_NE(inline_svg.find("stroke-width='0.2'"), std::string::npos);
  EXPECT_NE(inline_svg.find("id='fig3-gpPt0'"), std::string::npos);
  EXPECT_NE(inline_svg.find("href='#fig3-gpPt0'"), std::string::npos);
  EXPECT_NE(inline_svg.find("id=\"fig3-a\""), std::string::npos);
  EXPECT_NE(inline_svg.find("url(#fig3-textbox)"), std::string::npos);
  EXPECT_EQ(InlineSvg("not an image", "x"), "");
}

TEST(StudyReportText, SymbolFontLettersBecomeGreek) {
  EXPECT_EQ(SymbolFontToUnicode("<tspan font-family=\"Symbol\" >l</tspan> = 1 "
                                "<tspan font-family=\"Symbol\" >mt\327</tspan>"),
            "<tspan font-family=\"Symbol\" >λ</tspan> = 1 "
            "<tspan font-family=\"Symbol\" >μτ·</tspan>");
  EXPECT_EQ(SymbolFontToUnicode("<text>l</text>"), "<text>l</text>");
}

TEST(StudyReportText, DescribesARegistryProblem) {
  problems::ProblemCapabilities caps;
  caps.description = "van der Pol";
  caps.parameter = "μ";
  caps.parameter_meaning = "the damping";
  caps.judge_absolute = true;
  ProblemInfo info = MakeProblemInfo("vdp", caps, "cvodes_adjoint at rtol 1e-12");
  EXPECT_EQ(info.name, "vdp");
  EXPECT_EQ(info.parameter, "μ");
  EXPECT_EQ(info.reference, "cvodes_adjoint at rtol 1e-12");
  EXPECT_TRUE(info.judge_absolute);
  caps.exact_gradient = true;
  EXPECT_EQ(MakeProblemInfo("vdp", caps, "unused").reference, "exact");
}

TEST(StudyReportText, ParsesCpuInfo) {
  std::string model;
  int cores = 0;
  ParseCpuInfo(
      "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD "
      "EPYC 7B13\n",
      &model, &cores);
  EXPECT_EQ(model, "AMD EPYC 7B13");
  EXPECT_EQ(cores, 2);
  ParseCpuInfo("", &model, &cores);
  EXPECT_EQ(model, "unknown");
  EXPECT_EQ(cores, 0);
}

TEST(StudyReportFigures, ParetoFrontKeepsTheUndominatedRuns) {
  const double nan = std::nan("");
  const std::vector<CostPoint> points = {{100, 1e-3}, {50, 1e-2},  {200, 1e-3}, {400, 1e-8},
                                         {80, 1e-1},  {nan, 1e-9}, {30, nan}};
  EXPECT_EQ(ParetoFront(points), (std::vector<std::size_t>{1, 0, 3}));
  EXPECT_TRUE(ParetoFront({}).empty());
}

// ---------------------------------------------------------------- the files

StudyReportInput SampleInput() {
  StudyReportInput input;
  const char* argv[] = {"stiffness_study", "--out", "dir with space"};
  input.run = StartRunInfo(3, argv);
  input.run.preset = "quick";
  input.problems = {{"W1", "decay <fast> & \"stiff\"", "λ", "the rate", "exact", true},
                    {"W1b", "two-rate decay", "λ", "the fast rate", "exact", false}};
  for (const double lambda : {1.0, 100.0, 1e4}) {
    input.records.push_back(Record("W1", "bptt", lambda, lambda < 1e4 ? "ok" : "flagged"));
    input.records.push_back(Record("W1b", "bptt", lambda, "ok"));
    input.records.push_back(Record("W1b", "cvodes_adjoint", lambda, lambda < 100 ? "ok" : "failed",
                                   "CVode failed with CV_TOO_MUCH_WORK <at t=0.1> & more"));
  }
  input.records.back().reference = "tight cvodes_adjoint <rtol 1e-12>";
  // A problem run at one value only, a backsolve panel and a neural training run.
  input.records.push_back(Record("single", "bptt", 5.0, "inaccurate"));
  BacksolvePanel panel;
  panel.lambda = 100;
  panel.method = "dopri5 tol=1e-6";
  panel.reconstruction.times = {1.0, 0.5, 0.25};
  panel.reconstruction.states = {Vec({1e-44}), Vec({1e-20}), Vec({std::nan("")})};
  panel.reconstruction.message = "non-finite at t = 0.25";
  input.panels.push_back(panel);
  NeuralRecord neural;
  neural.spec = MakeMethod("bptt", "dopri5", 1e-6, 1e-6);
  neural.losses = {1.0, 0.5};
  neural.rescored = 0.5;
  neural.status = "failed";
  neural.message = "an <unusual> message";
  input.neural.push_back(neural);
  input.notes.push_back("a <b>note</b> & more");
  FinishRunInfo(input.run);
  return input;
}

void ExpectSelfContained(const std::string& html) {
  for (const char* external : {"src=\"http", "src='http", "href=\"http", "href='http", "<link",
                               "<img", "@import", "url(http"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  EXPECT_EQ(html.find("<!DOCTYPE svg"), std::string::npos);
}

TEST(StudyReportFiles, WritesASelfContainedPageAndMarkdown) {
  if (!GnuplotAvailable()) GTEST_SKIP() << "gnuplot not installed";
  const fs::path dir = TempDir("study_report");
  const StudyReportFiles files = WriteStudyReport(dir.string(), SampleInput());
  const std::string html = ReadAll(files.html), md = ReadAll(files.markdown);
  ExpectSelfContained(html);
  EXPECT_NE(html.find("id=\"verdict-table\""), std::string::npos);
  EXPECT_NE(html.find("a &lt;b&gt;note&lt;/b&gt; &amp; more"), std::string::npos);
  EXPECT_NE(html.find("decay &lt;fast&gt; &amp; &quot;stiff&quot;"), std::string::npos);
  EXPECT_NE(html.find("CV_TOO_MUCH_WORK &lt;at t=0.1&gt; &amp; more"), std::string::npos);
  EXPECT_NE(html.find("too much work"), std::string::npos);
  EXPECT_NE(html.find("exact; at λ = 1e4: tight cvodes_adjoint &lt;rtol 1e-12&gt;"),
            std::string::npos);
  EXPECT_NE(html.find("error rel 5.0e-01 &gt; 1e-3"), std::string::npos);  // why inaccurate
  EXPECT_NE(html.find("&#39;dir with space&#39;"), std::string::npos);     // the command line
  // Sections in order: what was run, verdict, figures, full table, definitions.
  const auto run = html.find("id=\"run\""), verdict = html.find("id=\"verdict\""),
             figures = html.find("id=\"figures\""), table = html.find("id=\"full-table\""),
             notes = html.find("id=\"notes\"");
  EXPECT_LT(run, verdict);
  EXPECT_LT(verdict, figures);
  EXPECT_LT(figures, table);
  EXPECT_LT(table, notes);
  EXPECT_NE(html.find("an &lt;unusual&gt; message"), std::string::npos);  // the neural table
  // Every figure inline: 3 per problem and the reconstruction; the count the self-check expects.
  EXPECT_EQ(files.figures.size(), 10u) << files.figures_note;
  std::size_t inline_svgs = 0;
  for (auto pos = html.find("<svg"); pos != std::string::npos; pos = html.find("<svg", pos + 1)) {
    ++inline_svgs;
  }
  EXPECT_EQ(inline_svgs, files.figures.size());
  EXPECT_NE(html.find("data-figures=\"10\""), std::string::npos);
  for (const std::string& svg : files.figures) {
    EXPECT_TRUE(fs::exists(svg)) << svg;
    const std::string relative = "figures/" + fs::path(svg).filename().string();
    EXPECT_NE(md.find("](" + relative + ")"), std::string::npos) << relative;
  }
  EXPECT_NE(md.find("## Verdict"), std::string::npos);
  EXPECT_NE(md.find("**flagged**"), std::string::npos);
  fs::remove_all(dir);
}

TEST(StudyReportFiles, WithoutGnuplotSaysWhyTheFiguresAreMissing) {
  const fs::path dir = TempDir("study_report_no_gnuplot");
  const char* saved = std::getenv("SNODE_GNUPLOT");
  const std::string previous = saved ? saved : "";
  ::setenv("SNODE_GNUPLOT", "none", 1);
  const StudyReportFiles files = WriteStudyReport(dir.string(), SampleInput());
  if (saved) {
    ::setenv("SNODE_GNUPLOT", previous.c_str(), 1);
  } else {
    ::unsetenv("SNODE_GNUPLOT");
  }
  const std::string html = ReadAll(files.html);
  ExpectSelfContained(html);
  EXPECT_TRUE(files.figures.empty());
  EXPECT_NE(files.figures_note.find("gnuplot was not found"), std::string::npos);
  EXPECT_NE(html.find("Figures are missing: gnuplot was not found"), std::string::npos);
  EXPECT_NE(html.find("id=\"verdict-table\""), std::string::npos);
  EXPECT_NE(ReadAll(files.markdown).find("Figures are missing"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace snode
