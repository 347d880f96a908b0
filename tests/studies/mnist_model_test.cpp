#include "studies/mnist_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/errors.hpp"

namespace snode::mnist {
namespace {

TEST(MnistModel, DefaultArchitectureAndSizesAreTheDigitsBenchmarks) {
  const Model ode(true, 784), ablation(false, 784);
  EXPECT_EQ(ode.num_params(), 59274);
  EXPECT_EQ(ablation.num_params(), 50890);
  EXPECT_EQ(ode.Architecture(),
            "mnist_odenet v1: linear 784->64; ode mlp [z,t] 65->64->64 tanh,identity on t in "
            "[0,1]; linear 64->10; column-major");
  EXPECT_EQ(ablation.Architecture(),
            "mnist_ablation v1: linear 784->64; tanh; linear 64->10; column-major");
  EXPECT_NE(Model(true, 784, 32).Architecture(), ode.Architecture());
}

TEST(MnistModel, BlocksTileTheFlatVectorInOrder) {
  const Model model(true, 16, 4);
  const std::vector<Model::BlockInfo> layout = model.BlockLayout();
  ASSERT_EQ(layout.size(), 5u);
  const std::vector<std::string> names = {"input.weight", "input.bias", "ode.theta",
                                          "readout.weight", "readout.bias"};
  Index offset = 0;
  for (std::size_t k = 0; k < layout.size(); ++k) {
    EXPECT_EQ(layout[k].name, names[k]);
    EXPECT_EQ(layout[k].offset, offset);
    offset += layout[k].size;
  }
  EXPECT_EQ(offset, model.num_params());
  EXPECT_EQ(layout[0].size, 4 * 16);
  EXPECT_EQ(layout[3].size, 10 * 4);
  // The ablation has no ODE block.
  EXPECT_EQ(Model(false, 16, 4).BlockLayout().size(), 4u);
}

TEST(MnistModel, ViewsAddressTheirBlocks) {
  const Model model(true, 6, 3);
  Vector p = Vector::LinSpaced(model.num_params(), 0, model.num_params() - 1);
  EXPECT_EQ(model.InputWeight(p)(1, 2), 2 * 3 + 1);  // column-major 3 × 6
  EXPECT_EQ(model.InputBias(p)(0), 18);
  EXPECT_EQ(model.ReadoutBias(p)(9), model.num_params() - 1);
  EXPECT_EQ(model.Readout(p).size(), 10 * 3 + 10);
  model.OdeTheta(p).setZero();
  EXPECT_EQ(p.segment(21, model.OdeTheta(p).size()).squaredNorm(), 0.0);
}

TEST(MnistModel, BlocksRoundTripAndMissingOrShortBlocksAreInputErrors) {
  const Model model(true, 9, 5);
  const Vector p = model.InitialParams(3);
  EXPECT_EQ(model.FromBlocks(model.Blocks(p), "", "f"), p);
  const std::vector<NamedBlock> moment = model.Blocks(2 * p, "m.");
  EXPECT_EQ(moment[0].name, "m.input.weight");
  EXPECT_EQ(model.FromBlocks(moment, "m.", "f"), 2 * p);
  EXPECT_THROW(model.FromBlocks(moment, "v.", "f"), InputError);
  std::vector<NamedBlock> shortened = model.Blocks(p);
  shortened[2].values.conservativeResize(shortened[2].values.size() - 1);
  EXPECT_THROW(model.FromBlocks(shortened, "", "f"), InputError);
}

TEST(MnistModel, InitialParamsAreSeededAndBoundedByTheFanIn) {
  const Model model(true, 100, 8);
  const Vector p = model.InitialParams(11);
  EXPECT_EQ(p, model.InitialParams(11));
  EXPECT_NE(p, model.InitialParams(12));
  EXPECT_LE(model.InputWeight(p).cwiseAbs().maxCoeff(), 1.0 / std::sqrt(100.0));
  EXPECT_LE(model.ReadoutWeight(p).cwiseAbs().maxCoeff(), 1.0 / std::sqrt(8.0));
  EXPECT_GT(model.ReadoutWeight(p).cwiseAbs().maxCoeff(), 0.5 / std::sqrt(8.0));
}

}  // namespace
}  // namespace snode::mnist
