#pragma once
// Finite-difference checks for vector fields and gradients, shared by all tests.

#include <gtest/gtest.h>

#include <functional>

#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace test_util {

using snode::Index;
using snode::Matrix;
using snode::Vector;

// Succeeds when every component satisfies |actual − expected| ≤ rtol·max(|expected|_∞, tiny) + atol
// scaled per component: |a_i − e_i| ≤ rtol·|e_i| + atol. The failure message names the worst one.
::testing::AssertionResult VectorsClose(const Vector& actual, const Vector& expected, double rtol,
                                        double atol);

// max_i |a_i − e_i| / max(|e|_∞, floor): relative error against the largest component.
double MaxRelativeError(const Vector& actual, const Vector& expected, double floor = 1e-300);

// Central-difference Jacobian of g: R^n → R^m at x with steps h_i = step·max(1, |x_i|).
Matrix CentralDifferenceJacobian(const std::function<Vector(const Vector&)>& g, const Vector& x,
                                 double step = 1e-6);

// Checks a field's Jvp, VjpState, VjpParams, Vjp and DenseJacobian against central differences
// of F at (t, z, θ) with random directions (fixed seed), to max relative error rtol, and the
// adjoint identity ⟨a, J v⟩ = ⟨Jᵀa, v⟩ to identity_rtol.
::testing::AssertionResult FieldDerivativesMatchFiniteDifferences(
    snode::VectorField& field, double t, const Vector& z, const Vector& theta, double rtol = 1e-7,
    double identity_rtol = 1e-12, unsigned seed = 1);

}  // namespace test_util
