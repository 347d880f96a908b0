#pragma once
// lotka_volterra --bench N: the neural fit (rows "W2") or the parameter discovery (rows "W3")
// repeated N times for every gradient method of the workload (or the one named by --gradient /
// --integrator).
//   neural: the median over the iterations of each repetition of the time per training iteration
//       (forward + gradient + Adam update), then the median (min, max) over repetitions; mean
//       forward/backward NFE per iteration; the loss every 50 iterations; bptt/dopri5 both with a
//       stop at every output time and with interpolated outputs.
//   discover: time and loss+gradient evaluations until the parameter error is below 1%.
// Table on stdout, <out>/bench.json (studies/bench_util.hpp).

#include "apps/common/app_common.hpp"
#include "studies/lotka_volterra_study.hpp"

namespace snode::app {

// vm: the parsed flags (--outputs decides whether outputs are interpolated).
int RunNeuralBench(const po::variables_map& vm, const CommonOptions& common,
                   const lotka_volterra::NeuralOptions& options,
                   const lotka_volterra::Observations& obs, int repetitions);
// options.horizons is parsed from options.horizons_text in every repetition (a bad list is
// that configuration's failure).
int RunDiscoverBench(const po::variables_map& vm, const CommonOptions& common,
                     const lotka_volterra::DiscoverOptions& options,
                     const lotka_volterra::Observations& obs, int repetitions);

// The study's settings from the common flags (check_gradient: RequireUsableGradient).
lotka_volterra::StudySettings StudySettingsFrom(const CommonOptions& common);

}  // namespace snode::app
