#include "studies/lotka_volterra_report.hpp"

#include <cmath>
#include <ostream>
#include <sstream>

#include "adjoint/backsolve_adjoint_options.hpp"
#include "io/files.hpp"
#include "studies/report.hpp"

namespace snode::lotka_volterra {
namespace {

void NotePlot(const PlotResult& plot, std::ostream& out) {
  if (!plot.rendered) out << plot.note << "\n";
}

}  // namespace

void PrintDiscovery(std::ostream& out, const Observations& obs, const DiscoverOptions& options,
                    const StudySettings& settings, const DiscoverResult& result) {
  const Vector truth = problems::LotkaVolterraTrueRates();
  Table table({"parameter", "true", "recovered", "rel. error"});
  const char* names[] = {"alpha", "beta", "delta", "gamma"};
  for (int i = 0; i < 4; ++i) {
    table.AddRow({names[i], FormatNumber(truth[i], 4), FormatNumber(result.rates[i], 6),
                  FormatScientific(std::abs(result.rates[i] / truth[i] - 1.0))});
  }
  out << "Lotka-Volterra parameter discovery (W3): " << obs.times.size()
      << " noisy observations on [0, " << obs.times.back() << "], gradient " << settings.gradient
      << "/" << settings.integrator << ", " << options.optimizer << ", horizons "
      << options.horizons_text << "\n";
  table.Print(out);
  out << "max relative parameter error " << FormatScientific(result.error) << " after "
      << result.evaluations << " loss+gradient evaluations, " << FormatSeconds(result.seconds);
  if (result.evaluations_to_one_percent > 0) {
    out << "; below 1% on the full horizon after " << result.evaluations_to_one_percent
        << " evaluations (" << FormatSeconds(result.seconds_to_one_percent) << ")";
  }
  out << "\n";
}

void WriteDiscoveryFiles(const std::string& dir, const std::vector<CurvePoint>& curve,
                         std::ostream& out) {
  std::vector<std::vector<std::string>> rows;
  std::ostringstream data;
  for (const CurvePoint& p : curve) {
    rows.push_back({std::to_string(p.evaluation), FormatNumber(p.seconds, 6),
                    FormatNumber(p.horizon, 4), FormatNumber(p.loss, 10),
                    FormatNumber(p.error, 6)});
    data << p.evaluation << " " << p.loss << " " << p.error << "\n";
  }
  WriteCsv(dir + "/discover_curve.csv", {"evaluation", "seconds", "horizon", "loss", "rel_error"},
           rows);
  AtomicWriteFile(dir + "/discover_curve.dat", data.str());
  NotePlot(RenderGnuplot(
               dir, "discover_curve",
               "set title 'Lotka-Volterra discovery: loss and parameter error'\n"
               "set xlabel 'loss + gradient evaluations'\nset logscale y\nset format y '%.0e'\n"
               "set ylabel 'value'\nset key top right\n"
               "plot 'discover_curve.dat' using 1:2 with lines lw 2 title 'MSE loss', \\\n"
               "     'discover_curve.dat' using 1:3 with lines lw 2 title 'max rel. parameter "
               "error'\n"),
           out);
}

void PrintNeural(std::ostream& out, const NeuralFit& fit, const NeuralOptions& options,
                 const StudySettings& settings, double max_reconstruction) {
  const TrainResult& train = fit.train;
  const int iterations = options.iterations;
  out << "Neural ODE fit to Lotka-Volterra (W2): MLP 2-32-32-2 tanh ("
      << fit.neural.mlp->num_params() << " parameters) from " << fit.neural.init << "; Adam lr "
      << options.lr << ", " << iterations << " iterations, " << settings.gradient << "/"
      << settings.integrator << " rtol " << settings.integrator_options.rtol << " atol "
      << settings.integrator_options.atol << "\n";
  Table table({"iteration", "loss"});
  for (int it = 0; it < iterations; it += 50) {
    table.AddRow({std::to_string(it), FormatNumber(train.losses[it], 5)});
  }
  table.AddRow({std::to_string(iterations), FormatNumber(fit.final_loss, 5)});
  table.Print(out);
  out << "median time per iteration " << FormatSeconds(Median(train.iteration_seconds))
      << " (forward + gradient + update); mean NFE per iteration: forward "
      << FormatNumber(train.mean_forward_nfe, 4) << ", backward "
      << FormatNumber(train.mean_backward_nfe, 4) << "\n";
  if (settings.gradient == "backsolve_adjoint") {
    const BacksolveOptions backsolve =
        BacksolveOptions::FromSettings(settings.gradient_options.method_settings);
    out << "backsolve reconstruction error: max " << FormatNumber(max_reconstruction, 3)
        << " over the iterations (flag at " << FormatNumber(backsolve.reconstruction_tolerance, 3)
        << "), checkpoints " << (backsolve.checkpoints ? "on" : "off") << "\n";
  }
}

void PrintUde(std::ostream& out, const UdeFit& fit, const UdeOptions& options,
              const InteractionCoefficients& learned) {
  const Vector rates = problems::LotkaVolterraTrueRates();
  out << "Universal differential equation: x' = " << rates[0] << "x + g1(x,y), y' = -" << rates[3]
      << "y + g2(x,y), g = MLP 2-16-16-2 tanh (" << fit.mlp->num_params() << " parameters), "
      << (options.noisy ? "noisy" : "noise-free") << " data, " << options.optimizer << ", "
      << options.iterations << " iterations per horizon " << options.horizons_text << "\n";
  Table table({"term", "true coefficient", "learned (least squares on xy)", "rel. error"});
  table.AddRow({"-beta*x*y", FormatNumber(rates[1], 4), FormatNumber(learned.beta, 6),
                FormatScientific(std::abs(learned.beta / rates[1] - 1.0))});
  table.AddRow({"delta*x*y", FormatNumber(rates[2], 4), FormatNumber(learned.delta, 6),
                FormatScientific(std::abs(learned.delta / rates[2] - 1.0))});
  table.Print(out);
  out << "final training loss " << FormatScientific(fit.train.losses.back()) << "\n";
}

void WriteUdeTerms(const std::string& dir, const UdeFit& fit, const Observations& obs,
                   std::ostream& out) {
  const Vector rates = problems::LotkaVolterraTrueRates();
  std::ostringstream terms;
  Vector g(2);
  for (std::size_t i = 0; i < obs.times.size(); ++i) {
    const Vector& z = obs.clean[i];
    fit.field->LearnedTerm(0.0, z, fit.theta, g);
    const double xy = z[0] * z[1];
    terms << obs.times[i] << " " << -rates[1] * xy << " " << rates[2] * xy << " " << g[0] << " "
          << g[1] << "\n";
  }
  AtomicWriteFile(dir + "/ude_terms.dat", terms.str());
  NotePlot(RenderGnuplot(
               dir, "ude_terms",
               "set title 'UDE: learned interaction terms vs the true ones along the trajectory'\n"
               "set xlabel 't'\nset ylabel 'term value'\nset key top right\n"
               "plot 'ude_terms.dat' using 1:2 with lines lw 3 title '-beta x y (true)', \\\n"
               "     'ude_terms.dat' using 1:4 with lines lw 2 dt 2 title 'g1 (learned)', \\\n"
               "     'ude_terms.dat' using 1:3 with lines lw 3 title 'delta x y (true)', \\\n"
               "     'ude_terms.dat' using 1:5 with lines lw 2 dt 2 title 'g2 (learned)'\n"),
           out);
}

void WriteTrajectoryPlot(const std::string& dir, const std::string& name, const std::string& title,
                         const Observations& obs, const std::vector<Vector>& fitted,
                         std::ostream& out) {
  std::ostringstream data;
  for (std::size_t i = 0; i < obs.times.size(); ++i) {
    data << obs.times[i] << " " << obs.clean[i][0] << " " << obs.clean[i][1] << " " << fitted[i][0]
         << " " << fitted[i][1] << "\n";
  }
  AtomicWriteFile(dir + "/" + name + ".dat", data.str());
  const std::string file = "'" + name + ".dat'";
  NotePlot(RenderGnuplot(dir, name,
                         "set title '" + title +
                             "'\nset xlabel 't'\nset ylabel 'population'\nset key top right\n"
                             "plot " +
                             file + " using 1:2 with points pt 7 ps 0.6 title 'x data', \\\n     " +
                             file + " using 1:3 with points pt 7 ps 0.6 title 'y data', \\\n     " +
                             file + " using 1:4 with lines lw 2 title 'x fitted', \\\n     " +
                             file + " using 1:5 with lines lw 2 title 'y fitted'\n"),
           out);
}

void WriteLossCurve(const std::string& path, const TrainResult& train) {
  std::vector<std::vector<std::string>> rows;
  const bool with_reconstruction = train.reconstruction_errors.size() == train.losses.size();
  for (std::size_t i = 0; i < train.losses.size(); ++i) {
    rows.push_back({std::to_string(i), FormatNumber(train.losses[i], 10),
                    FormatNumber(train.iteration_seconds[i], 6)});
    if (with_reconstruction) rows.back().push_back(FormatNumber(train.reconstruction_errors[i], 4));
  }
  std::vector<std::string> header = {"iteration", "loss", "seconds"};
  if (with_reconstruction) header.push_back("reconstruction_error");
  WriteCsv(path, header, rows);
}

}  // namespace snode::lotka_volterra
