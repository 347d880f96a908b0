// problems/reference: the study's reference gradient where no exact one exists. With the exact
// gradient hidden, ComputeReference on w1b (λ = 1e3) and nonnormal (s = 1e3) recovers it from
// the tight CVODES adjoint to 1e-8 relative per component (floor 1e-3·‖g‖∞; measured 3e-12 and
// 2e-11), confirmed by its central-difference cross-check (measured 2e-7 and 4e-5 ≤ 1e-4); on
// Robertson it is the existing reference bit for bit; when the adjoint fails it falls back to
// central differences and says so; concurrent references equal one computed alone.
#include "problems/reference.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <thread>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "problems/decay.hpp"
#include "problems/problem_registry.hpp"
#include "problems/robertson.hpp"

namespace snode::problems {
namespace {

bool HaveCvodes() {
  return IntegratorRegistry().Contains("cvodes_bdf") &&
         GradientRegistry().Contains("cvodes_adjoint");
}

// The reference of the named built-in at lambda with its exact gradient hidden, compared with it.
void ExpectReferenceRecoversExact(const std::string& name, double lambda, double tolerance) {
  const auto definition = ProblemRegistry().Create(name, ProblemOptions());
  ProblemSetup setup = definition->Make(lambda);
  ASSERT_TRUE(setup.exact_gradient);
  const Vector exact = *setup.exact_gradient;
  setup.exact_gradient.reset();
  const ReferenceGradient ref = ComputeReference(setup, definition->Capabilities());
  ASSERT_TRUE(ref.ok) << ref.description;
  EXPECT_EQ(ref.source, "cvodes_adjoint") << ref.description;
  EXPECT_LT(ReferenceAgreement(exact, ref.gradient), tolerance) << name << ": " << ref.description;
  EXPECT_TRUE(ref.confirmed) << ref.description;
  EXPECT_LE(ref.agreement, kReferenceAgreement) << ref.description;
  EXPECT_NE(ref.description.find("rtol=1e-12"), std::string::npos) << ref.description;
  EXPECT_NE(ref.description.find("agree on dL/dθ, dL/dz0 to"), std::string::npos)
      << ref.description;
}

TEST(Reference, RecoversTheExactGradientOfTwoRateDecay) {
  if (!HaveCvodes()) GTEST_SKIP() << "no CVODES";
  ExpectReferenceRecoversExact("w1b", 1e3, 1e-8);
}

TEST(Reference, RecoversTheExactGradientOfTheNonNormalSystem) {
  if (!HaveCvodes()) GTEST_SKIP() << "no CVODES";
  ExpectReferenceRecoversExact("nonnormal", 1e3, 1e-8);
}

// The study computes references on a thread pool: two at once give what one gives alone.
TEST(Reference, ConcurrentReferencesAreIdentical) {
  if (!HaveCvodes()) GTEST_SKIP() << "no CVODES";
  const auto definition = ProblemRegistry().Create("vdp", ProblemOptions());
  const ProblemSetup setup = definition->Make(1e3);
  const ProblemCapabilities c = definition->Capabilities();
  ReferenceGradient first, second;
  std::thread one([&] { first = ComputeReference(setup, c); });
  std::thread two([&] { second = ComputeReference(definition->Make(1e3), c); });
  one.join();
  two.join();
  const ReferenceGradient alone = ComputeReference(setup, c);
  ASSERT_TRUE(alone.ok) << alone.description;
  EXPECT_EQ(first.gradient, alone.gradient);
  EXPECT_EQ(second.gradient, alone.gradient);
  EXPECT_EQ(first.description, alone.description);
  EXPECT_EQ(second.agreement, alone.agreement);
}

TEST(Reference, ExactGradientIsUsedAsIs) {
  const ProblemSetup setup = MakeTwoRateDecay(10.0);
  const ReferenceGradient ref = ComputeReference(setup, ProblemCapabilities());
  EXPECT_TRUE(ref.ok);
  EXPECT_TRUE(ref.confirmed);
  EXPECT_EQ(ref.source, "exact");
  EXPECT_EQ(ref.gradient, *setup.exact_gradient);
}

TEST(Reference, RobertsonIsTheExistingReference) {
  if (!HaveCvodes()) GTEST_SKIP() << "no CVODES";
  const auto definition = ProblemRegistry().Create("robertson", ProblemOptions());
  const ProblemSetup setup = definition->Make(40.0);
  EXPECT_EQ(ReferenceTolerancesFor(setup, definition->Capabilities().atol_scale).atol, 1e-20);
  const ReferenceGradient ref = ComputeReference(setup, definition->Capabilities());
  const RobertsonReference robertson = ComputeRobertsonReference(setup);
  ASSERT_TRUE(ref.ok) << ref.description;
  EXPECT_EQ(ref.source, "cvodes_adjoint");
  EXPECT_EQ(ref.gradient, robertson.adjoint);
  // Positive states: the cross-check is on dL/dk (1e-4, as robertson_test).
  EXPECT_NE(ref.description.find("on dL/dθ (positive states"), std::string::npos)
      << ref.description;
  EXPECT_LE(ref.agreement, 1e-4) << ref.description;
  EXPECT_EQ(ref.spectral_radius, robertson.spectral_radius);
  EXPECT_GT(ref.spectral_radius, 1e3);
}

// z' = −θ z whose parameter products fail: the adjoint cannot run, differences can.
class NoParameterProducts final : public VectorField {
 public:
  std::string name() const override { return "no_parameter_products"; }
  Index state_size() const override { return 1; }
  Index num_params() const override { return 1; }
  void F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    out(0) = -theta(0) * z(0);
  }
  void Jvp(double, ConstVectorRef, ConstVectorRef theta, ConstVectorRef v, VectorRef out) override {
    out(0) = -theta(0) * v(0);
  }
  void VjpState(double, ConstVectorRef, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    out(0) = -theta(0) * a(0);
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw NumericalError("no parameter products in this test field");
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<NoParameterProducts>();
  }
};

TEST(Reference, FallsBackToCentralDifferencesWhenTheAdjointFails) {
  if (!IntegratorRegistry().Contains("cvodes_bdf")) GTEST_SKIP() << "no cvodes_bdf";
  ProblemSetup setup = MakeDecay(2.0);
  const Vector exact = *setup.exact_gradient;
  setup.exact_gradient.reset();
  setup.ode.field = std::make_shared<NoParameterProducts>();
  const ReferenceGradient ref = ComputeReference(setup, ProblemCapabilities());
  ASSERT_TRUE(ref.ok) << ref.description;
  EXPECT_EQ(ref.source, "central differences");
  EXPECT_FALSE(ref.confirmed);
  EXPECT_TRUE(std::isnan(ref.agreement));
  EXPECT_NE(ref.description.find("no parameter products in this test field"), std::string::npos)
      << ref.description;
  EXPECT_LT(ReferenceAgreement(exact, ref.gradient), 1e-6) << ref.description;
}

TEST(Reference, AgreementIsRelativeWithAFloor) {
  const Vector a = (Vector(3) << 1.0, -2.0, 1e-9).finished();
  Vector b = a;
  EXPECT_EQ(ReferenceAgreement(a, b), 0.0);
  b(1) = -2.002;  // 1e-3 relative
  EXPECT_NEAR(ReferenceAgreement(a, b), 1e-3, 1e-12);
  b = a;
  b(2) = 2e-9;  // off by 1e-9 against the floor 1e-3·2
  EXPECT_NEAR(ReferenceAgreement(a, b), 5e-7, 1e-15);
  EXPECT_EQ(ReferenceAgreement(a, b, 2), 0.0);  // the first two only
  EXPECT_TRUE(std::isnan(ReferenceAgreement(a, Vector(2))));
  EXPECT_TRUE(std::isnan(ReferenceAgreement(Vector(), Vector())));
}

}  // namespace
}  // namespace snode::problems
