#pragma once
// Shared by the contract suites (not installed for direct use): the fixture every suite derives
// from, a field that misbehaves on request, and the name of a subject in test names.
#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "core/vector_field.hpp"
#include "integrators/integrator.hpp"
#include "testing/integrator_contract.hpp"
#include "testing/logistic_field.hpp"

namespace snode::contract {

class IntegratorContract : public ::testing::TestWithParam<ContractSubject> {
 protected:
  const ContractSubject& subject() const { return GetParam(); }
  const std::string& name() const { return GetParam().integrator; }
  double tolerance() const { return GetParam().tolerance; }
  std::unique_ptr<Integrator> Make(const IntegratorOptions& options) const {
    return IntegratorRegistry().Create(name(), options);
  }
  std::unique_ptr<Integrator> Make() const { return Make(subject().settings); }
  // The declared capabilities (of an object made with the subject's settings).
  IntegratorCapabilities Capabilities() const { return Make()->Capabilities(); }
};

// "dopri5 {rtol 1e-09, atol 1e-12, fixed_step 0, tolerance 1e-07}" in failure messages.
void PrintTo(const ContractSubject& subject, std::ostream* os);

// Test names: the integrator's name, with the subject's index when it appears more than once.
std::string SubjectTestName(const ::testing::TestParamInfo<ContractSubject>& info);

// Instantiates a suite (a fixture derived from IntegratorContract) over ContractSubjects().
#define SNODE_INSTANTIATE_CONTRACT_SUITE(Suite)                                        \
  INSTANTIATE_TEST_SUITE_P(Subjects, Suite,                                            \
                           ::testing::ValuesIn(::snode::contract::ContractSubjects()), \
                           ::snode::contract::SubjectTestName)

// Wraps LogisticField and misbehaves on request: NaN from the start or from t_bad on, or throws
// std::domain_error("field exploded on purpose") after calls_before_throw evaluations.
class FaultyField final : public VectorField {
 public:
  enum class Mode { kNanAlways, kNanAfter, kThrowAfterCalls };
  FaultyField(Mode mode, double t_bad, long calls_before_throw)
      : mode_(mode), t_bad_(t_bad), calls_before_throw_(calls_before_throw), inner_(2) {}
  std::string name() const override { return "faulty_logistic"; }
  Index state_size() const override { return 2; }
  Index num_params() const override { return 2; }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    inner_.Jvp(t, z, theta, v, out);
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    inner_.VjpState(t, z, theta, a, out);
  }
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    inner_.VjpParams(t, z, theta, a, grad);
  }
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override {
    inner_.DenseJacobian(t, z, theta, jac);
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<FaultyField>(mode_, t_bad_, calls_before_throw_);
  }

 private:
  Mode mode_;
  double t_bad_;
  long calls_before_throw_;
  long calls_ = 0;
  LogisticField inner_;
};

// Anchors: one per suite's translation unit, referenced by SetContractSubjects so that a static
// snode::testing library always links every suite.
void LinkContractSolveSuite();
void LinkContractHooksSuite();
void LinkContractOrderSuite();
void LinkContractGradientsSuite();

}  // namespace snode::contract
