// The reaction–diffusion problem with its grid split over ranks, on one rank in this process
// (tests/models/one_rank_distribution.hpp): cvodes_adjoint gives the serial problem's gradient,
// and what cannot run on a distributed state says so. The multi-rank runs are under mpirun in
// tests/distributed/distributed_state_test.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "adjoint/cvodes_adjoint.hpp"
#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "problems/reaction_diffusion.hpp"
#include "tests/models/one_rank_distribution.hpp"

namespace snode {
namespace {

using problems::ProblemSetup;

problems::ReactionDiffusionOptions Options() {
  problems::ReactionDiffusionOptions options;
  options.points = 24;
  options.observations = 4;
  options.observation_spacing = 0.25;
  return options;
}

GradientOptions Krylov(double rtol) {
  GradientOptions options;
  options.integrator = "cvodes_bdf";
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = 1e-3 * rtol;
  options.integrator_options.linear_solver = "gmres";
  return options;
}

CvodesAdjointOptions CvodesQuadrature() {
  Settings settings;
  settings.Set("quadrature", "cvodes");
  return CvodesAdjointOptions::FromSettings(settings);
}

ProblemSetup Distributed() {
  return problems::MakeDistributedReactionDiffusionProblem(
      Options(), std::make_shared<test_util::OneRankDistribution>(2 * Options().points));
}

// "auto" options resolve to the CVODES quadrature with a restart at each observation, so the
// serial run with those options is the same computation.
TEST(DistributedReactionDiffusion, OneRankGivesTheSerialGradient) {
  for (const double rtol : {1e-6, 1e-9}) {
    const ProblemSetup serial = problems::MakeReactionDiffusionProblem(Options());
    const ProblemSetup distributed = Distributed();
    CvodesAdjoint serial_method(Krylov(rtol), CvodesQuadrature());
    CvodesAdjoint distributed_method(Krylov(rtol));
    const LossAndGradient expected = serial_method.Compute(serial.ode, *serial.loss);
    const LossAndGradient got = distributed_method.Compute(distributed.ode, *distributed.loss);
    EXPECT_NEAR(got.loss, expected.loss, 1e-14 * expected.loss) << "rtol " << rtol;
    EXPECT_LE((got.dtheta - expected.dtheta).norm(), 1e-12 * expected.dtheta.norm())
        << "rtol " << rtol;
    EXPECT_LE((got.dz0 - expected.dz0).norm(), 1e-12 * expected.dz0.norm()) << "rtol " << rtol;
    EXPECT_EQ(got.stats.backward_steps, expected.stats.backward_steps);
    // The method object is reused: its SUNDIALS memory was made for the distributed state.
    const LossAndGradient again = distributed_method.Compute(distributed.ode, *distributed.loss);
    EXPECT_EQ(again.dtheta, got.dtheta);
  }
}

TEST(DistributedReactionDiffusion, MethodsWithoutDistributedStatesRefuseAtTheFirstEvaluation) {
  const ProblemSetup distributed = Distributed();
  for (const std::string method : {"bptt", "backsolve_adjoint"}) {
    GradientOptions options = Krylov(1e-6);
    options.integrator = method == "bptt" ? "sdirk" : "dopri5";
    try {
      GradientRegistry().Create(method, options)->Compute(distributed.ode, *distributed.loss);
      ADD_FAILURE() << method << ": expected a ConfigError";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("does not support distributed states"),
                std::string::npos)
          << method << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << method << ": " << e.what();
    }
  }
}

TEST(DistributedReactionDiffusion, CvodesOptionsThatNeedTheWholeStateAreConfigErrors) {
  const ProblemSetup distributed = Distributed();
  const auto expect_refused = [&](GradientOptions options, CvodesAdjointOptions own,
                                  const std::string& what) {
    CvodesAdjoint method(options, own);
    try {
      method.Compute(distributed.ode, *distributed.loss);
      ADD_FAILURE() << what << ": expected a ConfigError";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  Settings gauss;
  gauss.Set("quadrature", "gauss");
  expect_refused(Krylov(1e-6), CvodesAdjointOptions::FromSettings(gauss), "quadrature=gauss");
  GradientOptions dense = Krylov(1e-6);
  dense.integrator_options.linear_solver = "dense";
  expect_refused(dense, {}, "linear_solver=dense");
  GradientOptions band = Krylov(1e-6);
  band.integrator_options.preconditioner = "band";
  expect_refused(band, {}, "preconditioner=band");
}

}  // namespace
}  // namespace snode
