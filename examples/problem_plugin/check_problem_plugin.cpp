// Loads the problem plug-in as an app would and checks its problem at every default λ: the
// study's reference gradient (tight cvodes_adjoint, cross-checked by central differences) must
// be confirmed, and cvodes_adjoint at rtol 1e-8 must agree with it to 1e-5.
//   check_problem_plugin [PATH/libmichaelis_menten.so]
#include <cstdio>
#include <exception>
#include <string>

#include "adjoint/gradient_method.hpp"
#include "plugins/plugin_loader.hpp"
#include "problems/problem_registry.hpp"
#include "problems/reference.hpp"

namespace {

// 0 when λ passes, 1 otherwise; prints one line.
int CheckAt(const snode::problems::ProblemDefinition& definition, double lambda) {
  const snode::problems::ProblemSetup setup = definition.Make(lambda);
  const snode::problems::ReferenceGradient ref =
      snode::problems::ComputeReference(setup, definition.Capabilities());
  snode::GradientOptions options;
  options.integrator = "cvodes_bdf";
  options.integrator_options.rtol = 1e-8;
  options.integrator_options.atol = 1e-10;
  const snode::Vector g = snode::GradientRegistry()
                              .Create("cvodes_adjoint", options)
                              ->Compute(setup.ode, *setup.loss)
                              .Joined();
  const double error = snode::problems::ReferenceAgreement(ref.gradient, g);
  const bool pass = ref.ok && ref.confirmed && error <= 1e-5;
  std::printf("λ = %-8g %s  cvodes_adjoint at rtol 1e-8: %.1e  reference: %s\n", lambda,
              pass ? "ok  " : "FAIL", error, ref.description.c_str());
  return pass ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    snode::LoadPlugin(argc > 1 ? argv[1] : PROBLEM_PLUGIN_PATH);
    const auto definition = snode::problems::ProblemRegistry().Create("michaelis_menten", {});
    int failures = 0;
    for (const double lambda : definition->Capabilities().default_lambdas) {
      failures += CheckAt(*definition, lambda);
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
