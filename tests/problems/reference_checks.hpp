#pragma once
// Helpers of the validation problems' tests: the forward-sensitivity reference gradient and
// central differences of a tight solve, both as g = [dL/dθ; dL/dz0].

#include <string>

#include "adjoint/finite_difference.hpp"
#include "adjoint/forward_sensitivity.hpp"
#include "problems/problem.hpp"

namespace test_util {

inline snode::Vector Joined(const snode::LossAndGradient& result) {
  snode::Vector g(result.dtheta.size() + result.dz0.size());
  g << result.dtheta, result.dz0;
  return g;
}

inline snode::Vector ReferenceGradient(const snode::problems::ProblemSetup& setup, double rtol) {
  return Joined(snode::ForwardSensitivityGradient(setup.ode, *setup.loss, rtol, 1e-2 * rtol));
}

// Central differences (adjoint/finite_difference.hpp) through `integrator` at rtol 1e-12,
// atol 1e-14.
inline snode::Vector TightCentralDifferences(const snode::problems::ProblemSetup& setup,
                                             const std::string& integrator) {
  snode::GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = 1e-12;
  options.integrator_options.atol = 1e-14;
  options.integrator_options.max_steps = 10000000;
  return Joined(snode::CentralDifferenceGradient(setup.ode, *setup.loss, options));
}

}  // namespace test_util
