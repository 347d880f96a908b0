#pragma once
// Tables, CSV/data files and gnuplot figures of the Lotka–Volterra study
// (studies/lotka_volterra_study.hpp). Files go to a directory that must exist; a missing gnuplot
// is a note on `out`, never an error.

#include <iosfwd>
#include <string>
#include <vector>

#include "studies/lotka_volterra_study.hpp"

namespace snode::lotka_volterra {

// The discovery header line, the parameter table and the result line.
void PrintDiscovery(std::ostream& out, const Observations& obs, const DiscoverOptions& options,
                    const StudySettings& settings, const DiscoverResult& result);
// <dir>/discover_curve.csv, .dat and the loss / parameter-error plot.
void WriteDiscoveryFiles(const std::string& dir, const std::vector<CurvePoint>& curve,
                         std::ostream& out);

// The neural fit's header line, the loss every 50 iterations, the median time per iteration and
// NFE line, and for backsolve_adjoint its reconstruction error (max_reconstruction).
void PrintNeural(std::ostream& out, const NeuralFit& fit, const NeuralOptions& options,
                 const StudySettings& settings, double max_reconstruction);

// The UDE header line, the learned coefficients table and the final loss.
void PrintUde(std::ostream& out, const UdeFit& fit, const UdeOptions& options,
              const InteractionCoefficients& learned);
// <dir>/ude_terms.dat and its plot: the learned terms vs −βxy and δxy along obs.clean.
void WriteUdeTerms(const std::string& dir, const UdeFit& fit, const Observations& obs,
                   std::ostream& out);

// <dir>/<name>.dat (t, data x, y, fitted x, y) and its plot.
void WriteTrajectoryPlot(const std::string& dir, const std::string& name, const std::string& title,
                         const Observations& obs, const std::vector<Vector>& fitted,
                         std::ostream& out);
// CSV iteration, loss, seconds (+ reconstruction_error when recorded for every iteration).
void WriteLossCurve(const std::string& path, const TrainResult& train);

}  // namespace snode::lotka_volterra
