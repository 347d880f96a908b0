#pragma once
// lotka_volterra's command line: its flags and their reading into the study's options
// (studies/lotka_volterra_study.hpp), without running anything (apps/common/app_common.hpp,
// AppCommandLine).
//
// Which flag applies where (any other given flag is a ConfigError naming it and the mode):
//   --mode, --t-end, --points, --iterations          always
//   --noise                                          discover runs, or ude with --ude-noisy true
//   --horizons, --optimizer                          discover or ude runs
//   --lr                                             neural runs, or discover/ude with adam
//   --weights, --skip-bad-steps                      neural runs
//   --ude-noisy                                      ude runs
//   --bench                                          --mode neural or discover
// ("runs": --mode is that part or all.)
//
// Ranges, in the user's units: --t-end 0.001 … 1000 time units, --points 2 … 10001, the
// observation times at least kMinObservationSpacing apart; --noise 0 … 10 (state units: the
// states are O(1)); --iterations 1 … 100000; --lr 1e-9 … 10. --horizons: each entry positive,
// not beyond --t-end, strictly increasing (the order is the fit's schedule, so it is never
// re-sorted), at most 100 entries, and each holding at least kMinObservationsPerHorizon
// observation times after t = 0. Default horizons: discover t_end·(0.2, 0.4, …, 1), ude
// t_end·(0.1, 0.2, …, 1) (2,4,6,8,10 and 1,…,10 at the default --t-end 10). An explicit --weights
// must be a regular file; the default path may be absent (a seeded initialisation then).

#include <optional>
#include <string>
#include <vector>

#include "apps/common/app_common.hpp"
#include "studies/lotka_volterra_study.hpp"

namespace snode::app {

// Observation times closer than this (time units) are refused: the solvers could not tell them
// apart from their own steps.
inline constexpr double kMinObservationSpacing = 1e-6;
// Each fit horizon must hold at least this many observation times after t = 0 (a fit needs data;
// discovery fits four rates to two states per time).
inline constexpr int kMinObservationsPerHorizon = 5;

struct LotkaVolterraCommandLine {
  CommonOptions common;
  std::string mode;  // discover, neural, ude or all
  double t_end = 10.0;
  int points = 101;
  double noise = 0.05;
  lotka_volterra::DiscoverOptions discover;  // horizons parsed and checked
  lotka_volterra::NeuralOptions neural;
  lotka_volterra::UdeOptions ude;
  std::optional<long> bench_repetitions;  // --bench N

  // True when --mode is part ("discover", "neural", "ude") or all.
  bool Runs(const std::string& part) const { return mode == part || mode == "all"; }
};

AppCommandLine LotkaVolterraAppCommandLine();
// Reads and validates every flag; a given flag the run does not use is a ConfigError.
LotkaVolterraCommandLine ReadLotkaVolterraCommandLine(const Flags& flags);

}  // namespace snode::app
