// Tests of the interpolating adjoint (adjoint/cvodes_backward_registry.cpp): cvodes_adjoint with
// a registered one-step backward integrator (sdirk) on the neural reaction–diffusion problem
// (W6) at N = 32. The backward field linearises once per stage time: the field's state
// linearisation (Linearize) or its saved forward pass (FSaving) is computed once per t and every
// product at that t reuses it. The gradient must be the one the plain products give, to rounding,
// and must agree with CVODES' checkpointed backward, an independent path, at tight tolerances.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "adjoint/gradient_method.hpp"
#include "core/forwarding_field.hpp"
#include "problems/reaction_diffusion.hpp"

namespace snode {
namespace {

// Counts the linearisation and saved-pass calls; hide_linearization and hide_saved_pass take
// those capabilities away, so the backward falls back to the saved pass or the plain VjpState.
class ProductProbe final : public ForwardingField {
 public:
  ProductProbe(VectorField* inner, bool hide_linearization, bool hide_saved_pass)
      : ForwardingField(inner),
        hide_linearization_(hide_linearization),
        hide_saved_pass_(hide_saved_pass) {}
  Index LinearizationSize() const override {
    return hide_linearization_ ? 0 : ForwardingField::LinearizationSize();
  }
  void Linearize(double t, ConstVectorRef z, ConstVectorRef theta, double* linearization) override {
    ++linearize_calls;
    ForwardingField::Linearize(t, z, theta, linearization);
  }
  void VjpStateLinearized(const double* linearization, ConstVectorRef a, VectorRef out) override {
    ++linearized_products;
    ForwardingField::VjpStateLinearized(linearization, a, out);
  }
  Index ForwardSaveSize() const override {
    return hide_saved_pass_ ? 0 : ForwardingField::ForwardSaveSize();
  }
  void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
               double* saved) override {
    ++saving_calls;
    ForwardingField::FSaving(t, z, theta, out, saved);
  }
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                ConstVectorRef a, VectorRef a_state, VectorRef grad) override {
    ++saved_products;
    ForwardingField::VjpSaved(t, z, theta, saved, a, a_state, grad);
  }
  long linearize_calls = 0, linearized_products = 0, saving_calls = 0, saved_products = 0;

 private:
  bool hide_linearization_, hide_saved_pass_;
};

problems::ProblemSetup W6(Index points) {
  problems::ReactionDiffusionOptions options;
  options.points = points;
  return problems::MakeReactionDiffusionProblem(options);
}

GradientOptions Options(double rtol, const std::string& backward_integrator) {
  GradientOptions options;
  options.integrator = "cvodes_bdf";
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = rtol * 1e-2;
  options.integrator_options.linear_solver = "gmres";
  options.integrator_options.preconditioner = "field";
  options.backward_integrator = backward_integrator;
  options.tolerance_check = false;
  return options;
}

LossAndGradient Gradient(const OdeProblem& problem, const Loss& loss,
                         const GradientOptions& options) {
  return GradientRegistry().Create("cvodes_adjoint", options)->Compute(problem, loss);
}

double RelativeDifference(const Vector& a, const Vector& b) { return (a - b).norm() / b.norm(); }

// The backward takes the field's state linearisation (W6: the 2×2 blocks of the network), else
// its saved forward pass, else the plain VJP; all three give the same gradient, and the first two
// compute their data once per time for several products.
TEST(InterpolatingAdjoint, LinearisedAndSavedProductsGiveThePlainGradient) {
  const problems::ProblemSetup setup = W6(32);
  const GradientOptions options = Options(1e-6, "sdirk");
  OdeProblem problem = setup.ode;
  auto run = [&](bool hide_linearization, bool hide_saved_pass) {
    auto probe =
        std::make_shared<ProductProbe>(setup.ode.field.get(), hide_linearization, hide_saved_pass);
    problem.field = probe;
    return std::make_pair(probe, Gradient(problem, *setup.loss, options));
  };
  const auto [linearised, with_linearization] = run(false, false);
  const auto [saving, with_saved] = run(true, false);
  const auto [plain, without] = run(true, true);
  const double linearised_difference =
      RelativeDifference(with_linearization.Joined(), without.Joined());
  const double saved_difference = RelativeDifference(with_saved.Joined(), without.Joined());
  std::printf(
      "linearisations: %ld for %ld products, difference %.2e; saved passes: %ld for %ld products, "
      "difference %.2e\n",
      linearised->linearize_calls, linearised->linearized_products, linearised_difference,
      saving->saving_calls, saving->saved_products, saved_difference);
  EXPECT_LT(linearised_difference, 1e-12);  // the products' rounding differs
  EXPECT_EQ(saved_difference, 0.0);         // the same products
  EXPECT_EQ(with_linearization.stats.backward_steps, without.stats.backward_steps);
  EXPECT_EQ(with_saved.stats.vjp_evals, without.stats.vjp_evals);
  // Each step linearises anew, and every product at that time reuses the data.
  EXPECT_GE(linearised->linearize_calls, with_linearization.stats.backward_steps);
  EXPECT_GT(linearised->linearized_products, 2 * linearised->linearize_calls);
  EXPECT_EQ(linearised->saving_calls, 0);
  EXPECT_GE(saving->saving_calls, with_saved.stats.backward_steps);
  EXPECT_GT(saving->saved_products, 2 * saving->saving_calls);
  EXPECT_EQ(saving->linearize_calls, 0);
  EXPECT_EQ(plain->linearize_calls + plain->saving_calls, 0);
}

// rtol 1e-10: the one-step backward (no checkpoints, a polynomial of every forward step) and
// CVODES' checkpointed BDF backward (restarted at each observation) agree to 1e-8 relative
// (measured 2.4e-11).
TEST(InterpolatingAdjoint, W6SdirkBackwardAgreesWithTheCheckpointedBackward) {
  const problems::ProblemSetup setup = W6(32);
  const LossAndGradient sdirk = Gradient(setup.ode, *setup.loss, Options(1e-10, "sdirk"));
  const LossAndGradient checkpointed = Gradient(setup.ode, *setup.loss, Options(1e-10, ""));
  std::printf("sdirk against checkpointed: %.2e (%ld against %ld backward steps)\n",
              RelativeDifference(sdirk.Joined(), checkpointed.Joined()), sdirk.stats.backward_steps,
              checkpointed.stats.backward_steps);
  EXPECT_LT(RelativeDifference(sdirk.Joined(), checkpointed.Joined()), 1e-8);
  // A one-step backward restarts at full order after each of the 20 jumps.
  EXPECT_LT(sdirk.stats.backward_steps, checkpointed.stats.backward_steps);
}

}  // namespace
}  // namespace snode
