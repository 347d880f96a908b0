#pragma once
// Observations inside a boundary layer: z' = −λ (z − a cos(ω t)), θ = (λ, a, ω) = (1e4, 1, 2π)
// by default, z(0) = 2 (off the slow solution a cos(ωt), so a layer of width 1/λ forms at t = 0),
// observed at t ∈ {1e-5, 5e-5, 2e-4, 1e-3, 0.5, 1} (three inside the layer, three after), and
// L = Σ_t z(t). The solution is
//   z(t) = e^{−λt} (z0 − a λ²/(λ² + ω²)) + a λ (λ cos ωt + ω sin ωt)/(λ² + ω²),
// and the exact gradient [dL/dλ, dL/da, dL/dω, dL/dz0] is its derivative taken by complex steps
// (exact to round-off). The field depends on t (not autonomous; ∂f/∂t in closed form).

#include <vector>

#include "problems/problem.hpp"

namespace snode::problems {

std::vector<double> BoundaryLayerTimes();
// The exact gradient for θ = (λ, a, ω), z0 and the loss Σ_t z(t) over `times`.
Vector BoundaryLayerExactGradient(double lambda, double amplitude, double omega, double z0,
                                  const std::vector<double>& times = BoundaryLayerTimes());
// name "boundary_layer", stiffness λ.
ProblemSetup MakeBoundaryLayer(double lambda = 1e4);

}  // namespace snode::problems
