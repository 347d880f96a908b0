#include "problems/stiff_neural.hpp"

#include <cmath>
#include <memory>
#include <vector>

#include "models/mlp.hpp"

namespace snode::problems {

ProblemSetup MakeStiffNeural(double lambda, std::uint64_t seed) {
  const std::vector<double> times = {2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0};
  const Matrix starts = (Matrix(2, 4) << 1.0, -1.0, 0.5, -0.5, 1.0, 0.5, -1.0, -0.5).finished();
  MlpOptions mlp;
  mlp.widths = {2, 16, 2};
  mlp.activations = {"tanh"};
  mlp.batch = starts.cols();
  auto field = std::make_shared<MlpField>(mlp);
  ProblemSetup setup;
  setup.name = "stiff_neural";
  setup.stiffness = lambda;
  setup.ode.theta = field->InitialParams(static_cast<unsigned>(seed));
  setup.ode.field = field;
  setup.ode.z0 = Eigen::Map<const Vector>(starts.data(), starts.size());
  setup.ode.output_times = times;
  std::vector<Vector> targets;
  for (const double t : times) {
    Matrix z = starts;
    z.row(0) *= std::exp(-t);
    z.row(1) *= std::exp(-lambda * t);
    targets.emplace_back(Eigen::Map<const Vector>(z.data(), z.size()));
  }
  setup.loss = std::make_shared<MseLoss>(targets);
  return setup;
}

}  // namespace snode::problems
