// The tables, files and figure of the reaction–diffusion scaling benchmark
// (studies/reaction_diffusion_bench.hpp).

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "io/files.hpp"
#include "studies/bench_util.hpp"
#include "studies/reaction_diffusion_bench.hpp"
#include "studies/report.hpp"

namespace snode {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTimeTarget = 1.5;      // s per gradient at N = 10 000
constexpr double kErrorTarget = 1e-4;    // relative to the tight reference
constexpr double kRatioTarget = 12.0;    // time(10N)/time(N) from N = 1 000 on
constexpr double kMemoryTarget = 2.0e9;  // bytes at N = 100 000

// Newton and Krylov iterations and preconditioner work of a gradient, forward and backward.
struct SolverCounts {
  long newton = 0, krylov = 0, setups = 0, solves = 0;
  double KrylovPerNewton() const { return newton > 0 ? double(krylov) / double(newton) : kNaN; }
};
SolverCounts Counts(const GradientStats& s) {
  return {s.forward_nonlinear_iters + s.backward_nonlinear_iters,
          s.forward_linear_iters + s.backward_linear_iters,
          s.forward_preconditioner_setups + s.backward_preconditioner_setups,
          s.forward_preconditioner_solves + s.backward_preconditioner_solves};
}

double MedianSeconds(const ScalingRun& run) { return bench::Median(run.seconds); }
bool Succeeded(const ScalingRun& run) { return run.ran && !run.last.threw; }

std::string Status(const ScalingRun& run) {
  if (!run.ran) return "skipped: " + run.skipped;
  if (run.last.threw) return "failed: " + Shorten(run.last.message, 90);
  return run.last.stats.flagged ? "flagged: " + Shorten(run.last.stats.diagnosis, 90) : "ok";
}

void PrintRunTable(const std::vector<ScalingSize>& sizes, std::ostream& out) {
  Table table({"N", "method", "time/grad", "cpu", "steps f/b", "f", "JVP", "VJP", "P setup",
               "P solve", "Newton", "Krylov", "Kry/Newt", "peak RSS", "error", "status"});
  for (const ScalingSize& size : sizes) {
    for (const ScalingRun& run : size.runs) {
      if (!Succeeded(run)) {
        table.AddRow({std::to_string(size.points), run.label, "-", "-", "-", "-", "-", "-", "-",
                      "-", "-", "-", "-", "-", "-", Status(run)});
        continue;
      }
      const GradientStats& s = run.last.stats;
      const SolverCounts c = Counts(s);
      table.AddRow({std::to_string(size.points), run.label, FormatSeconds(MedianSeconds(run)),
                    FormatSeconds(bench::Median(run.cpu_seconds)),
                    std::to_string(s.forward_steps) + "/" + std::to_string(s.backward_steps),
                    std::to_string(s.forward_rhs_evals + s.backward_rhs_evals),
                    std::to_string(s.jvp_evals), std::to_string(s.vjp_evals),
                    std::to_string(c.setups), std::to_string(c.solves), std::to_string(c.newton),
                    std::to_string(c.krylov), FormatNumber(c.KrylovPerNewton(), 3),
                    FormatBytes(run.peak_rss_bytes), FormatScientific(run.error), Status(run)});
    }
    table.AddSeparator();
  }
  table.Print(out);
}

void PrintReferenceTable(const std::vector<ScalingSize>& sizes, std::ostream& out) {
  Table table({"N", "data (BDF 1e-10)", "reference", "central differences", "max rel. diff"});
  for (const ScalingSize& size : sizes) {
    std::string entries = "-";
    if (!size.difference_entries.empty()) {
      entries.clear();
      for (std::size_t k = 0; k < size.difference_entries.size(); ++k) {
        const Index i = size.difference_entries[k];
        entries += (k ? ", " : "") + std::string("θ") + std::to_string(i) + ": " +
                   FormatScientific(size.differences[k], 6) + " vs " +
                   FormatScientific(size.reference(i), 6);
      }
    }
    table.AddRow({std::to_string(size.points), FormatSeconds(size.data_seconds),
                  size.reference_failure.empty() ? FormatSeconds(size.reference_seconds)
                                                 : "failed: " + size.reference_failure,
                  entries, FormatScientific(size.difference_error)});
  }
  table.Print(out);
}

// time(10N)/time(N) of every method between consecutive sizes a decade apart.
struct Ratio {
  std::string label;
  Index from = 0, to = 0;
  double ratio = kNaN;         // of the two sizes' medians
  std::vector<double> paired;  // the main method's back-to-back pairs (ScalingSize)
};
std::vector<Ratio> Ratios(const std::vector<ScalingSize>& sizes) {
  std::vector<Ratio> ratios;
  for (std::size_t k = 1; k < sizes.size(); ++k) {
    if (sizes[k].points != 10 * sizes[k - 1].points) continue;
    for (std::size_t m = 0; m < sizes[k].runs.size(); ++m) {
      const ScalingRun& small = sizes[k - 1].runs[m];
      const ScalingRun& large = sizes[k].runs[m];
      if (!Succeeded(small) || !Succeeded(large)) continue;
      ratios.push_back({large.label, small.points, large.points,
                        MedianSeconds(large) / MedianSeconds(small),
                        m == 0 ? sizes[k].paired_ratios : std::vector<double>{}});
    }
  }
  return ratios;
}

void PrintBreakdown(const std::vector<ScalingSize>& sizes, std::ostream& out) {
  Table table({"N", "time/grad", "network", "operator", "P setup", "P solve", "SUNDIALS + vectors",
               "network calls", "network per call"});
  for (const ScalingSize& size : sizes) {
    const ScalingRun& run = size.runs.front();
    if (!Succeeded(run)) continue;
    const double total = run.last.seconds > 0 ? run.seconds.front() : kNaN;
    const double rest = total - run.pointwise_seconds - run.operator_seconds - run.setup_seconds -
                        run.solve_seconds;
    auto share = [&](double s) {
      return FormatSeconds(s) + " (" + FormatNumber(100.0 * s / total, 2) + "%)";
    };
    table.AddRow(
        {std::to_string(size.points), FormatSeconds(total), share(run.pointwise_seconds),
         share(run.operator_seconds), share(run.setup_seconds), share(run.solve_seconds),
         share(rest), std::to_string(run.pointwise_calls),
         FormatSeconds(run.pointwise_calls > 0 ? run.pointwise_seconds / double(run.pointwise_calls)
                                               : kNaN)});
  }
  out << "\ncost breakdown of " << MainScalingMethod()
      << " (first repetition; the network's share is the floor of any method that evaluates it "
         "as often):\n";
  table.Print(out);
}

void WriteScalingCsv(const std::string& path, const std::vector<ScalingSize>& sizes) {
  std::vector<std::vector<std::string>> rows;
  for (const ScalingSize& size : sizes) {
    for (const ScalingRun& run : size.runs) {
      const bool ok = Succeeded(run);
      const GradientStats& s = run.last.stats;
      const SolverCounts c = Counts(s);
      auto number = [&](double x) { return ok ? FormatNumber(x, 6) : std::string(); };
      rows.push_back({std::to_string(size.points), run.label, ok ? "ok" : Status(run),
                      number(MedianSeconds(run)), number(bench::Median(run.cpu_seconds)),
                      number(double(s.forward_steps)), number(double(s.backward_steps)),
                      number(double(s.forward_rhs_evals + s.backward_rhs_evals)),
                      number(double(s.jvp_evals)), number(double(s.vjp_evals)),
                      number(double(c.setups)), number(double(c.solves)), number(double(c.newton)),
                      number(double(c.krylov)), number(run.peak_rss_bytes), number(run.error),
                      ok && s.flagged ? "1" : "0"});
    }
  }
  WriteCsv(path,
           {"points", "method", "status", "seconds", "cpu_seconds", "forward_steps",
            "backward_steps", "f", "jvp", "vjp", "preconditioner_setups", "preconditioner_solves",
            "newton", "krylov", "peak_rss_bytes", "error", "flagged"},
           rows);
}

void PlotTimes(const std::string& dir, const std::vector<ScalingSize>& sizes, std::ostream& out) {
  std::string data;
  std::string plot =
      "set logscale xy\nset xlabel 'grid points N'\nset ylabel 'seconds per "
      "gradient'\nset key top left\nset grid\nplot ";
  const std::size_t methods = sizes.front().runs.size();
  for (std::size_t m = 0; m < methods; ++m) {
    data += "# " + sizes.front().runs[m].label + "\n";
    for (const ScalingSize& size : sizes) {
      const ScalingRun& run = size.runs[m];
      if (Succeeded(run))
        data += std::to_string(size.points) + " " + FormatNumber(MedianSeconds(run), 6) + "\n";
    }
    data += "\n\n";
    plot += std::string(m ? ", " : "") + "'w6_time_vs_n.dat' index " + std::to_string(m) +
            " with linespoints " + GnuplotSeriesStyle(m) + " title " +
            GnuplotQuote(GnuplotEscape(sizes.front().runs[m].label));
  }
  AtomicWriteFile(dir + "/w6_time_vs_n.dat", data);
  const PlotResult result = RenderGnuplot(dir, "w6_time_vs_n", plot + "\n");
  out << (result.rendered ? "figure: " + dir + "/w6_time_vs_n.png (and .svg)\n"
                          : "figure not drawn: " + result.note + "\n");
}

std::vector<bench::BenchRow> SummaryRows(const std::vector<ScalingSize>& sizes) {
  std::vector<bench::BenchRow> rows;
  const std::string main = MainScalingMethod();
  for (const ScalingSize& size : sizes) {
    const ScalingRun& run = size.runs.front();
    const std::string config = main + " N=" + std::to_string(size.points);
    bench::BenchRow time =
        bench::MakeRow("W6", config, "time per gradient", "s", bench::Summarize(run.seconds));
    bench::SetCpu(time, bench::Summarize(run.cpu_seconds));
    if (size.points == 10000) bench::SetTarget(time, kTimeTarget, "<= 1.5 s");
    bench::BenchRow error =
        bench::MakeRow("W6", config, "dL/dθ error vs reference", "", bench::Summarize({run.error}));
    bench::SetTarget(error, kErrorTarget, "<= 1e-4");
    bench::BenchRow krylov =
        bench::MakeRow("W6", config, "Krylov per Newton iteration", "",
                       bench::Summarize({Counts(run.last.stats).KrylovPerNewton()}));
    bench::BenchRow memory = bench::MakeRow("W6", config, "peak RSS", "GB",
                                            bench::Summarize({run.peak_rss_bytes / 1e9}));
    if (size.points == 100000) bench::SetTarget(memory, kMemoryTarget / 1e9, "<= 2 GB");
    for (bench::BenchRow* row : {&time, &error, &krylov, &memory}) {
      if (!Succeeded(run)) bench::MarkFailed(*row, Status(run));
      rows.push_back(*row);
    }
  }
  for (const Ratio& ratio : Ratios(sizes)) {
    if (ratio.label != main || ratio.from < 1000) continue;
    const bool paired = !ratio.paired.empty();
    bench::BenchRow row = bench::MakeRow(
        "W6", main + " N=" + std::to_string(ratio.from) + "→" + std::to_string(ratio.to),
        "time(10N)/time(N)", "",
        bench::Summarize(paired ? ratio.paired : std::vector{ratio.ratio}));
    bench::SetTarget(row, kRatioTarget, "<= 12");
    row.note = paired ? "back-to-back pairs; ratio of the medians " + FormatNumber(ratio.ratio, 3)
                      : "ratio of the medians (no pairs)";
    rows.push_back(row);
  }
  return rows;
}

nlohmann::json Details(const std::vector<ScalingSize>& sizes) {
  nlohmann::json details = nlohmann::json::array();
  for (const ScalingSize& size : sizes) {
    nlohmann::json entry = {{"points", size.points},
                            {"data_seconds", JsonNumber(size.data_seconds)},
                            {"reference_seconds", JsonNumber(size.reference_seconds)},
                            {"difference_error", JsonNumber(size.difference_error)}};
    for (const ScalingRun& run : size.runs) {
      entry["runs"].push_back(
          {{"method", run.label},
           {"status", Status(run)},
           {"seconds", bench::SpreadJson(bench::Summarize(run.seconds))},
           {"cpu_seconds", bench::SpreadJson(bench::Summarize(run.cpu_seconds))},
           {"peak_rss_bytes", JsonNumber(run.peak_rss_bytes)},
           {"error", JsonNumber(run.error)}});
    }
    if (!size.paired_ratios.empty()) {
      entry["paired"] = {{"method", MainScalingMethod()},
                         {"smaller_seconds", size.paired_small_seconds},
                         {"seconds", size.paired_seconds},
                         {"ratios", size.paired_ratios}};
    }
    details.push_back(entry);
  }
  return details;
}

}  // namespace

void ReportReactionDiffusionBench(const ReactionDiffusionBenchOptions& options,
                                  const std::vector<ScalingSize>& sizes, std::ostream& out) {
  out << "\nneural reaction–diffusion: dL/dθ at rtol " << FormatCompact(options.rtol) << ", atol "
      << FormatCompact(options.atol)
      << "; error = ‖g − g_ref‖₂/‖g_ref‖₂ against cvodes_adjoint (checkpointed BDF backward) at "
      << FormatCompact(options.reference_rtol) << "/" << FormatCompact(options.reference_atol)
      << "\n";
  PrintRunTable(sizes, out);
  out << "\nreference and its central-difference check (Richardson, relative step 1e-3, solves "
         "at 1e-2 × the reference tolerances):\n";
  PrintReferenceTable(sizes, out);
  out << "\ntime(10N)/time(N): of the medians above (the sizes ran minutes apart) and, for the "
         "main method, of back-to-back pairs (a warm gradient at N, then one at 10N; median "
         "[min, max]):\n";
  Table ratios({"method", "N", "of medians", "paired"});
  for (const Ratio& r : Ratios(sizes)) {
    const bench::Spread pairs = bench::Summarize(r.paired);
    ratios.AddRow(
        {r.label, std::to_string(r.from) + " → " + std::to_string(r.to), FormatNumber(r.ratio, 3),
         r.paired.empty() ? "-"
                          : FormatNumber(pairs.median, 3) + " [" + FormatNumber(pairs.min, 3) +
                                ", " + FormatNumber(pairs.max, 3) + "]"});
  }
  ratios.Print(out);
  PrintBreakdown(sizes, out);
  WriteScalingCsv(options.out_dir + "/w6_scaling.csv", sizes);
  if (options.plots) PlotTimes(options.out_dir, sizes, out);
  bench::WriteBenchReport(options.out_dir, "reaction_diffusion", "W6", options.repetitions,
                          SummaryRows(sizes), Details(sizes));
}

}  // namespace snode
