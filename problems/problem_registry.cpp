#include "problems/problem_registry.hpp"

#include <cmath>
#include <sstream>
#include <utility>

#include "core/errors.hpp"

namespace snode::problems {

namespace {

std::string FormatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A definition from a capabilities record and a function; immutable after construction.
class FunctionDefinition final : public ProblemDefinition {
 public:
  FunctionDefinition(std::string name, ProblemCapabilities capabilities,
                     std::function<ProblemSetup(double)> make)
      : name_(std::move(name)), capabilities_(std::move(capabilities)), make_(std::move(make)) {
    const std::string what = Label();
    Require(static_cast<bool>(make_), what + " needs a function that makes it");
    if (capabilities_.sweeps) {
      Require(!capabilities_.default_lambdas.empty(),
              what + " sweeps " + capabilities_.parameter + " but has no default values");
      for (const double lambda : capabilities_.default_lambdas) CheckLambda(lambda);
    }
  }

  ProblemCapabilities Capabilities() const override { return capabilities_; }

  ProblemSetup Make(double lambda) const override {
    if (capabilities_.sweeps) {
      CheckLambda(lambda);
    } else {
      lambda = capabilities_.default_lambdas.empty() ? 0.0 : capabilities_.default_lambdas.front();
    }
    ProblemSetup setup = make_(lambda);
    if (!name_.empty()) setup.name = name_;
    return setup;
  }

 private:
  std::string Label() const {
    return name_.empty() ? "problem '" + capabilities_.description + "'"
                         : "problem '" + name_ + "'";
  }

  void CheckLambda(double lambda) const {
    const double low = capabilities_.min_lambda;
    if (std::isfinite(lambda) && lambda > 0.0 && lambda >= low) return;
    const std::string range = low > 0.0 ? "≥ " + FormatNumber(low) : "> 0";
    throw ConfigError(Label() + ": " + capabilities_.parameter + " = " + FormatNumber(lambda) +
                      " is out of range; it takes finite values " + range);
  }

  std::string name_;
  ProblemCapabilities capabilities_;
  std::function<ProblemSetup(double)> make_;
};

}  // namespace

ProblemRegistryType& ProblemRegistry() {
  // A function-local static: initialised once, thread-safe, with the built-ins already in.
  static ProblemRegistryType registry = [] {
    ProblemRegistryType r("problem");
    RegisterBuiltinProblems(r);
    return r;
  }();
  return registry;
}

std::unique_ptr<ProblemDefinition> MakeProblemDefinition(
    ProblemCapabilities capabilities, std::function<ProblemSetup(double lambda)> make) {
  return MakeProblemDefinition("", std::move(capabilities), std::move(make));
}

std::unique_ptr<ProblemDefinition> MakeProblemDefinition(
    std::string name, ProblemCapabilities capabilities,
    std::function<ProblemSetup(double lambda)> make) {
  return std::make_unique<FunctionDefinition>(std::move(name), std::move(capabilities),
                                              std::move(make));
}

}  // namespace snode::problems
