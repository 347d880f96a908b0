#pragma once
// The 3 × 3 linear test problem the integrator and gradient tests share: z' = A z with a
// non-normal A with complex eigenvalues, z(0) = (1, 0.5, −0.3), θ = the entries of A.
#include <memory>
#include <utility>
#include <vector>

#include "core/ode_problem.hpp"
#include "models/analytic_fields.hpp"

namespace test_util {

inline snode::OdeProblem NonNormalLinearProblem(std::vector<double> output_times) {
  snode::OdeProblem problem;
  problem.field = std::make_shared<snode::LinearField>(3);
  snode::Matrix a(3, 3);
  a << -0.5, 1.0, 0.0, -1.0, -0.5, 0.2, 0.1, 0.0, -0.3;
  problem.theta = snode::LinearField::ParamsFromMatrix(a);
  problem.z0 = (snode::Vector(3) << 1.0, 0.5, -0.3).finished();
  problem.output_times = std::move(output_times);
  return problem;
}

}  // namespace test_util
