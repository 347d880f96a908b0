// Tests of adjoint/usable_gradient.hpp: which gradients a training step refuses.
#include "adjoint/usable_gradient.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/errors.hpp"

namespace snode {
namespace {

LossAndGradient Gradient(bool flagged, double reconstruction_error) {
  LossAndGradient result;
  result.dtheta = Vector::Ones(3);
  result.stats.reconstruction_failed = flagged;
  result.stats.reconstruction_error = reconstruction_error;
  return result;
}

TEST(UsableGradient, FlaggedButCloseReconstructionIsUsed) {
  EXPECT_NO_THROW(RequireUsableGradient(Gradient(false, 0.0), "bptt", "iteration 1"));
  EXPECT_NO_THROW(RequireUsableGradient(Gradient(true, 0.5), "backsolve_adjoint", "iteration 1"));
  EXPECT_NO_THROW(RequireUsableGradient(Gradient(false, 5.0), "backsolve_adjoint", "iteration 1"));
}

TEST(UsableGradient, FailedReconstructionIsRefusedWithTheStepNamed) {
  try {
    RequireUsableGradient(Gradient(true, 2.0), "backsolve_adjoint", "batch 3 of epoch 1");
    FAIL() << "no exception";
  } catch (const NumericalError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'backsolve_adjoint' at batch 3 of epoch 1"), std::string::npos);
    EXPECT_NE(message.find("relative error 2)"), std::string::npos) << message;
  }
  EXPECT_THROW(RequireUsableGradient(Gradient(true, std::nan("")), "m", "s"), NumericalError);
}

TEST(UsableGradient, NonFiniteParameterGradientIsRefused) {
  LossAndGradient result = Gradient(false, 0.0);
  result.dtheta(1) = INFINITY;
  EXPECT_THROW(RequireUsableGradient(result, "bptt", "iteration 7"), NumericalError);
}

}  // namespace
}  // namespace snode
