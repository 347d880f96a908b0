#include "apps/lotka_volterra_bench.hpp"

#include <iostream>
#include <limits>

#include "studies/bench_util.hpp"

namespace snode::app {
namespace lv = snode::lotka_volterra;

lv::StudySettings StudySettingsFrom(const CommonOptions& common) {
  lv::StudySettings settings;
  settings.gradient = common.gradient;
  settings.integrator = common.integrator;
  settings.gradient_options = common.gradient_options;
  settings.integrator_options = common.integrator_options;
  settings.seed = common.seed;
  settings.quiet = common.quiet;
  settings.out_dir = common.out_dir;
  settings.check_gradient = RequireUsableGradient;
  return settings;
}

namespace {

struct BenchConfig {
  std::string gradient;
  std::string integrator;
  bool interpolate = false;  // IntegratorOptions::interpolate_outputs
  bool tagged = false;       // show "outputs=..." in the label
  std::string backward;      // GradientOptions::backward_integrator ("" = the forward one)

  std::string Label() const {
    return gradient + "/" + integrator + (backward.empty() ? "" : "+" + backward) +
           (tagged ? (interpolate ? " outputs=interpolate" : " outputs=stop") : "");
  }
  CommonOptions Apply(CommonOptions common) const {
    // The method options given on the command line belong to the --gradient method.
    if (gradient != common.gradient) common.gradient_options.method_settings = Settings();
    common.gradient = gradient;
    common.integrator = integrator;
    common.gradient_options.integrator = integrator;
    common.integrator_options.interpolate_outputs = interpolate;
    common.gradient_options.integrator_options.interpolate_outputs = interpolate;
    common.gradient_options.backward_integrator = backward;
    common.quiet = true;
    return common;
  }
};

// The workload's methods, or the one pair named on the command line. Outputs: as --outputs says
// (auto and interpolate: interpolated, since all these integrators have dense output); the neural
// fit also runs bptt/dopri5 the other way, so both are measured.
std::vector<BenchConfig> BenchConfigs(const po::variables_map& vm, const CommonOptions& common,
                                      bool neural) {
  const bool interpolate = common.integrator_options.interpolate_outputs ||
                           (vm.count("outputs") && vm["outputs"].as<std::string>() != "stop");
  if (common.gradient_set || common.integrator_set) {
    return {{common.gradient, common.integrator, common.integrator_options.interpolate_outputs,
             true, common.gradient_options.backward_integrator}};
  }
  std::vector<BenchConfig> configs = {{"bptt", "dopri5", false, true, ""}};
  if (neural) configs.push_back({"bptt", "dopri5", true, true, ""});
  if (!neural && interpolate) configs.front().interpolate = true;
  configs.push_back({"backsolve_adjoint", "dopri5", interpolate, true, ""});
  configs.push_back({"cvodes_adjoint", "cvodes_bdf", interpolate, true, ""});
  configs.push_back({"cvodes_adjoint", "cvodes_adams", interpolate, true, ""});
  // The interpolating adjoint: CVODES forward, dopri5 backward over its recorded polynomials.
  if (neural) configs.push_back({"cvodes_adjoint", "cvodes_adams", interpolate, true, "dopri5"});
  return configs;
}

// ---------------------------------------------------------------- neural fit (rows "W2")
// The repetitions of one neural-fit configuration.
struct NeuralRuns {
  std::vector<double> medians, forward_nfe, backward_nfe, final_losses;
  std::vector<std::vector<double>> curves;  // loss every 50 iterations, per repetition
  std::string failure;
  std::string init;
};

NeuralRuns RunNeuralConfig(const lv::NeuralOptions& options, const CommonOptions& c,
                           const lv::Observations& obs, int repetitions) {
  const MseLoss loss(obs.clean);
  NeuralRuns runs;
  for (int rep = 0; rep < repetitions && runs.failure.empty(); ++rep) {
    lv::NeuralProblem neural = lv::MakeNeuralProblem(options, c.seed, obs.times);
    runs.init = neural.init;
    try {
      auto method = GradientRegistry().Create(c.gradient, c.gradient_options);
      const lv::TrainResult train =
          lv::TrainAdam(*method, neural.problem, loss, options.iterations, options.lr, true,
                        "neural", options.skip_bad_steps, RequireUsableGradient);
      runs.medians.push_back(bench::Median(train.iteration_seconds));
      runs.forward_nfe.push_back(train.mean_forward_nfe);
      runs.backward_nfe.push_back(train.mean_backward_nfe);
      runs.final_losses.push_back(train.losses.back());
      std::vector<double> curve;
      for (int it = 0; it < options.iterations; it += 50) curve.push_back(train.losses[it]);
      curve.push_back(train.losses.back());
      runs.curves.push_back(curve);
    } catch (const std::exception& e) {
      runs.failure = e.what();
    }
  }
  return runs;
}

bench::BenchRow NeuralRow(const BenchConfig& config, const NeuralRuns& runs) {
  bench::BenchRow row;
  row.workload = "W2";
  row.configuration = config.Label();
  row.metric = "time per iteration";
  row.unit = "s";
  row.spread = bench::Summarize(runs.medians);
  row.has_target = true;
  row.target = config.gradient == "bptt" ? 0.66e-3 : 2e-3;
  row.target_text = config.gradient == "bptt" ? "<= 0.66 ms" : "<= 2 ms";
  if (!runs.failure.empty()) {
    row.met_override = 0;
    row.note = "failed: " + runs.failure;
  } else {
    row.note = "NFE/it fwd " + FormatNumber(bench::Median(runs.forward_nfe), 4) + ", bwd " +
               FormatNumber(bench::Median(runs.backward_nfe), 4) + ", loss " +
               FormatNumber(runs.curves.front().front(), 4) + " -> " +
               FormatNumber(bench::Median(runs.final_losses), 4);
  }
  return row;
}

nlohmann::json NeuralDetails(const BenchConfig& config, const NeuralRuns& runs, int iterations) {
  nlohmann::json curve_json = nlohmann::json::array();
  if (!runs.curves.empty()) {
    for (std::size_t k = 0; k < runs.curves.front().size(); ++k) {
      std::vector<double> at;
      for (const auto& curve : runs.curves) at.push_back(curve[k]);
      const long it =
          k + 1 < runs.curves.front().size() ? static_cast<long>(50 * k) : iterations - 1;
      curve_json.push_back({{"iteration", it}, {"loss", bench::SpreadJson(bench::Summarize(at))}});
    }
  }
  return {
      {"configuration", config.Label()},
      {"gradient_method", config.gradient},
      {"integrator", config.integrator},
      {"interpolate_outputs", config.interpolate},
      {"seconds_per_iteration", bench::SpreadJson(bench::Summarize(runs.medians))},
      {"mean_forward_nfe_per_iteration", bench::SpreadJson(bench::Summarize(runs.forward_nfe))},
      {"mean_backward_nfe_per_iteration", bench::SpreadJson(bench::Summarize(runs.backward_nfe))},
      {"loss_every_50", curve_json},
      {"error", runs.failure}};
}

void PrintNeuralTable(const nlohmann::json& details) {
  Table table({"configuration", "time/it", "min", "max", "NFE fwd/it", "NFE bwd/it", "loss 0", "50",
               "100", "150", "200", "250", "last"});
  const auto seconds = [](const nlohmann::json& x) {
    return x.is_number() ? FormatSeconds(x.get<double>()) : std::string("-");
  };
  const auto number = [](const nlohmann::json& x) {
    return x.is_number() ? FormatNumber(x.get<double>(), 4) : std::string("-");
  };
  for (const nlohmann::json& d : details) {
    const auto& t = d["seconds_per_iteration"];
    std::vector<std::string> cells = {d["configuration"].get<std::string>(),
                                      seconds(t["median"]),
                                      seconds(t["min"]),
                                      seconds(t["max"]),
                                      number(d["mean_forward_nfe_per_iteration"]["median"]),
                                      number(d["mean_backward_nfe_per_iteration"]["median"])};
    const nlohmann::json& curve = d["loss_every_50"];
    for (std::size_t k = 0; k < 6; ++k) {
      cells.push_back(k < curve.size() && k + 1 < curve.size() ? number(curve[k]["loss"]["median"])
                                                               : "-");
    }
    cells.push_back(curve.empty() ? "-" : number(curve.back()["loss"]["median"]));
    table.AddRow(cells);
  }
  table.Print(std::cout);
}

// ---------------------------------------------------------------- discovery (rows "W3")
// The repetitions of one discovery configuration.
struct DiscoverRuns {
  std::vector<double> to_one_percent, evals, errors, total;
  std::string failure;
};

DiscoverRuns RunDiscoverConfig(const lv::DiscoverOptions& options, const CommonOptions& c,
                               const lv::Observations& obs, int repetitions) {
  DiscoverRuns runs;
  for (int rep = 0; rep < repetitions && runs.failure.empty(); ++rep) {
    nlohmann::json d;
    try {
      bench::SilenceStdout silence;
      lv::DiscoverOptions parsed = options;
      parsed.horizons = ParseDoubleList(options.horizons_text, "--horizons");
      d = lv::RunDiscoverStudy(obs, parsed, StudySettingsFrom(c), std::cout, false);
    } catch (const std::exception& e) {
      runs.failure = e.what();
      break;
    }
    runs.to_one_percent.push_back(d["seconds_to_1_percent"].is_number()
                                      ? d["seconds_to_1_percent"].get<double>()
                                      : std::numeric_limits<double>::quiet_NaN());
    runs.evals.push_back(static_cast<double>(d["evaluations_to_1_percent"].get<long>()));
    runs.errors.push_back(d["max_relative_error"].get<double>());
    runs.total.push_back(d["seconds"].get<double>());
  }
  return runs;
}

bench::BenchRow DiscoverRow(const BenchConfig& config, const DiscoverRuns& runs) {
  bench::BenchRow row;
  row.workload = "W3";
  row.configuration = config.Label();
  row.metric = "time to < 1% error";
  row.unit = "s";
  row.spread = bench::Summarize(runs.to_one_percent);
  row.has_target = true;
  row.target = 1.0;
  row.target_text = "< 1 s";
  if (!runs.failure.empty()) {
    row.met_override = 0;
    row.note = "failed: " + runs.failure;
    return row;
  }
  const bench::Spread e = bench::Summarize(runs.evals);
  row.note = (e.median > 0 ? "evaluations to 1%: " + FormatNumber(e.median, 4)
                           : std::string("never below 1%")) +
             ", final error " + FormatScientific(bench::Median(runs.errors), 2) + " after " +
             FormatSeconds(bench::Median(runs.total));
  if (row.spread.count < static_cast<int>(runs.to_one_percent.size())) row.met_override = 0;
  return row;
}

}  // namespace

int RunNeuralBench(const po::variables_map& vm, const CommonOptions& common,
                   const lv::NeuralOptions& options, const lv::Observations& obs, int repetitions) {
  std::vector<bench::BenchRow> rows;
  nlohmann::json details = nlohmann::json::array();
  std::string init;
  for (const BenchConfig& config : BenchConfigs(vm, common, true)) {
    const NeuralRuns runs = RunNeuralConfig(options, config.Apply(common), obs, repetitions);
    init = runs.init;
    rows.push_back(NeuralRow(config, runs));
    details.push_back(NeuralDetails(config, runs, options.iterations));
  }
  std::cout << "W2 bench: neural ODE fit to Lotka-Volterra, MLP 2-32-32-2 tanh from " << init
            << "; Adam lr " << options.lr << ", " << options.iterations
            << " iterations per repetition, rtol " << common.integrator_options.rtol << " atol "
            << common.integrator_options.atol << "; time: median over the iterations of a "
            << "repetition\n";
  PrintNeuralTable(details);
  bench::WriteBenchReport(
      common.out_dir, "lotka_volterra", "W2", repetitions, rows,
      {{"runs", details},
       {"iterations", options.iterations},
       {"lr", options.lr},
       {"rtol", common.integrator_options.rtol},
       {"atol", common.integrator_options.atol},
       {"initialisation", init},
       {"reference", "torchdiffeq BPTT: 66 ms/it, 149 fwd NFE, loss 6.74 -> 3.00"}});
  return 0;
}

int RunDiscoverBench(const po::variables_map& vm, const CommonOptions& common,
                     const lv::DiscoverOptions& options, const lv::Observations& obs,
                     int repetitions) {
  std::vector<bench::BenchRow> rows;
  nlohmann::json details = nlohmann::json::array();
  for (const BenchConfig& config : BenchConfigs(vm, common, false)) {
    const DiscoverRuns runs = RunDiscoverConfig(options, config.Apply(common), obs, repetitions);
    const bench::BenchRow row = DiscoverRow(config, runs);
    rows.push_back(row);
    details.push_back(
        {{"configuration", config.Label()},
         {"gradient_method", config.gradient},
         {"integrator", config.integrator},
         {"seconds_to_1_percent", bench::SpreadJson(row.spread)},
         {"evaluations_to_1_percent", bench::SpreadJson(bench::Summarize(runs.evals))},
         {"final_relative_error", bench::SpreadJson(bench::Summarize(runs.errors))},
         {"total_seconds", bench::SpreadJson(bench::Summarize(runs.total))},
         {"error", runs.failure}});
  }
  std::cout << "W3 bench: Lotka-Volterra parameter discovery from (1.0, 0.5, 0.5, 2.0), "
            << obs.times.size() << " noisy observations on [0, " << obs.times.back() << "], "
            << options.optimizer << ", horizons " << options.horizons_text << "\n";
  bench::WriteBenchReport(
      common.out_dir, "lotka_volterra", "W3", repetitions, rows,
      {{"runs", details}, {"optimizer", options.optimizer}, {"horizons", options.horizons_text}});
  return 0;
}

}  // namespace snode::app
