#include "models/mlp.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/errors.hpp"
#include "io/torch_weights.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

// Heap-allocation counter for the steady-state test: the executable's malloc interposes the C
// library's for every caller (Eigen allocates with std::malloc, operator new calls malloc).
// Sanitizers and valgrind supply their own malloc, so the counter is compiled out under ASan and
// switched off under valgrind (detected through its LD_PRELOAD).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SNODE_TEST_COUNT_MALLOC 0
#else
#define SNODE_TEST_COUNT_MALLOC 1
namespace {
bool g_count_mallocs = false;
long g_malloc_calls = 0;
}  // namespace
extern "C" void* __libc_malloc(size_t size);
extern "C" void* malloc(size_t size) {
  if (g_count_mallocs) ++g_malloc_calls;
  return __libc_malloc(size);
}
#endif

namespace snode {
namespace {

MlpOptions Options(std::vector<Index> widths, std::vector<std::string> activations,
                   bool time_input = false, Index batch = 1) {
  MlpOptions options;
  options.widths = std::move(widths);
  options.activations = std::move(activations);
  options.time_input = time_input;
  options.batch = batch;
  return options;
}

Vector RandomVector(Index n, unsigned seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Vector v(n);
  for (Index i = 0; i < n; ++i) v[i] = normal(rng);
  return v;
}

// Straightforward per-sample loops over the documented θ layout: an independent reference for F.
Vector NaiveF(const MlpField& field, double t, const Vector& z, const Vector& theta) {
  const Index n = field.width();
  Vector out(z.size());
  for (Index s = 0; s < field.batch(); ++s) {
    std::vector<double> x(z.data() + s * n, z.data() + (s + 1) * n);
    if (field.options().time_input) x.push_back(t);
    for (Index l = 0; l < field.num_layers(); ++l) {
      const Index rows = field.layer_outputs(l), cols = field.layer_inputs(l);
      std::vector<double> y(rows);
      for (Index i = 0; i < rows; ++i) {
        double h = theta[field.bias_offset(l) + i];
        for (Index j = 0; j < cols; ++j) h += theta[field.weight_offset(l) + i * cols + j] * x[j];
        switch (field.activation(l)) {
          case Activation::kTanh:
            y[i] = std::tanh(h);
            break;
          case Activation::kRelu:
            y[i] = h > 0.0 ? h : 0.0;
            break;
          case Activation::kSoftplus:
            y[i] = std::log(1.0 + std::exp(h));
            break;
          case Activation::kGelu:
            y[i] = 0.5 * h * (1.0 + std::erf(h / std::sqrt(2.0)));
            break;
          case Activation::kSigmoid:
            y[i] = 1.0 / (1.0 + std::exp(-h));
            break;
          case Activation::kIdentity:
            y[i] = h;
            break;
        }
      }
      x = y;
    }
    for (Index i = 0; i < n; ++i) out[s * n + i] = x[i];
  }
  return out;
}

// ------------------------------------------------------------------ finite-difference acceptance
struct Architecture {
  const char* name;
  std::vector<Index> widths;
};

const std::vector<Architecture>& Architectures() {
  static const std::vector<Architecture> kArchitectures = {
      {"a2x16x16x2", {2, 16, 16, 2}},         // small, depth 3
      {"a3x64x64x64x3", {3, 64, 64, 64, 3}},  // depth 4, width 64
      {"a64x64x64", {64, 64, 64}},            // W4's ODE block (65 inputs with time input)
  };
  return kArchitectures;
}

using DerivativeCase = std::tuple<int, std::string, bool, int>;  // arch, activation, time, batch

class MlpFieldDerivatives : public ::testing::TestWithParam<DerivativeCase> {};

// Every layer (the output layer too) uses the activation under test. relu has kinks at h = 0: the
// points are random and the central-difference step is 1e-6, so a pre-activation would have to
// lie within ~1e-6 of a kink to spoil the check; with the fixed seeds below none does.
TEST_P(MlpFieldDerivatives, MatchFiniteDifferences) {
  const auto& [arch_index, activation, time_input, batch] = GetParam();
  const Architecture& arch = Architectures()[arch_index];
  const std::vector<std::string> activations(arch.widths.size() - 1, activation);
  MlpField field(Options(arch.widths, activations, time_input, batch));
  const Vector theta = 1.5 * field.InitialParams(/*seed=*/11);
  const Vector z = RandomVector(field.state_size(), /*seed=*/5);
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(field, /*t=*/0.37, z, theta,
                                                                /*rtol=*/1e-7,
                                                                /*identity_rtol=*/1e-12));
}

// Every architecture × activation × {autonomous, time input} at batch 1; at batch 16 every
// activation on the small architecture and tanh/relu on the two width-64 ones. (The full product
// at batch 16 costs ~2·num_params batched evaluations per case for the θ differences, about a
// minute for nothing new: the batch only changes the GEMM shapes, which these cases cover.)
std::vector<DerivativeCase> DerivativeCases() {
  std::vector<DerivativeCase> cases;
  for (int arch = 0; arch < 3; ++arch) {
    for (const std::string& activation : ActivationNames()) {
      for (bool time_input : {false, true}) {
        cases.emplace_back(arch, activation, time_input, 1);
        if (arch == 0 || activation == "tanh" || activation == "relu") {
          cases.emplace_back(arch, activation, time_input, 16);
        }
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(All, MlpFieldDerivatives, ::testing::ValuesIn(DerivativeCases()),
                         [](const ::testing::TestParamInfo<DerivativeCase>& info) {
                           return std::string(Architectures()[std::get<0>(info.param)].name) + "_" +
                                  std::get<1>(info.param) +
                                  (std::get<2>(info.param) ? "_time" : "_autonomous") + "_batch" +
                                  std::to_string(std::get<3>(info.param));
                         });

// A saved forward pass gives exactly the products of a fresh one, for every activation as hidden
// and as output layer, also when other evaluations ran in between (the saved buffer, not the
// workspace, carries the pass).
TEST(MlpField, SavedForwardPassWithEmptyGradGivesTheStateProductOnly) {
  // The adjoint's right-hand side asks for (∂f/∂z)ᵀ a alone: VjpSaved with an empty grad.
  for (const std::string& output : {std::string("identity"), std::string("tanh")}) {
    MlpField field(Options({2, 16, 16, 2}, {"tanh", "tanh", output}, false, /*batch=*/1));
    const Index n = field.state_size();
    const Vector theta = field.InitialParams(/*seed=*/4);
    const Vector z = RandomVector(n, /*seed=*/11), a = RandomVector(n, /*seed=*/12);
    std::vector<double> saved(static_cast<std::size_t>(field.ForwardSaveSize()));
    Vector f(n), a_state_saved(n), a_state(n);
    field.FSaving(0.2, z, theta, f, saved.data());
    Vector no_grad;
    field.VjpSaved(0.2, z, theta, saved.data(), a, a_state_saved, no_grad);
    field.VjpState(0.2, z, theta, a, a_state);
    EXPECT_EQ(a_state_saved, a_state) << output;
  }
}

TEST(MlpField, SavedForwardPassGivesTheSameProducts) {
  for (const std::string& hidden : ActivationNames()) {
    for (const std::string& output : {std::string("identity"), hidden}) {
      for (const bool time_input : {false, true}) {
        MlpField field(Options({3, 8, 7, 3}, {hidden, hidden, output}, time_input, /*batch=*/4));
        const Index n = field.state_size();
        const Vector theta = field.InitialParams(/*seed=*/3);
        const Vector z = RandomVector(n, /*seed=*/8), other_z = RandomVector(n, /*seed=*/9);
        const Vector a = RandomVector(n, /*seed=*/10);
        const double t = 0.3;
        // σ(h_l) of every layer but an identity output, and h_l where σ' needs it (batch 4).
        Index expected_size = 0;
        const std::vector<std::string> names = {hidden, hidden, output};
        const std::vector<Index> outs = {8, 7, 3};
        for (std::size_t l = 0; l < 3; ++l) {
          if (l == 2 && output == "identity") break;
          const bool pre = names[l] == "relu" || names[l] == "softplus" || names[l] == "gelu";
          expected_size += (pre ? 2 : 1) * outs[l] * 4;
        }
        ASSERT_EQ(field.ForwardSaveSize(), expected_size) << hidden << " " << output;

        std::vector<double> saved(static_cast<std::size_t>(field.ForwardSaveSize()) + 1, -7.0);
        Vector f_saving(n), f_plain(n), other(n);
        field.FSaving(t, z, theta, f_saving, saved.data());
        EXPECT_EQ(saved.back(), -7.0) << "wrote past ForwardSaveSize()";
        field.F(t, other_z, theta, other);  // the workspace now holds another pass
        field.F(t, z, theta, f_plain);
        EXPECT_EQ(f_saving, f_plain) << hidden << " " << output;

        Vector a_state(n), a_state_saved(n), scratch(n);
        Vector grad = Vector::Zero(field.num_params());
        Vector grad_saved = Vector::Zero(field.num_params());
        Vector scratch_grad = Vector::Zero(field.num_params());
        field.Vjp(t, other_z, theta, a, scratch, scratch_grad);
        field.VjpSaved(t, z, theta, saved.data(), a, a_state_saved, grad_saved);
        field.Vjp(t, z, theta, a, a_state, grad);
        EXPECT_EQ(a_state_saved, a_state) << hidden << " " << output << " " << time_input;
        EXPECT_EQ(grad_saved, grad) << hidden << " " << output << " " << time_input;
        // And the workspace is back in use afterwards.
        Vector f_after(n);
        field.F(t, z, theta, f_after);
        EXPECT_EQ(f_after, f_plain);
      }
    }
  }
}

TEST(MlpField, TimeDerivativeMatchesFiniteDifferences) {
  for (const std::string& activation : ActivationNames()) {
    MlpField field(Options({3, 24, 24, 3}, {activation, activation, activation}, true, 4));
    const Vector theta = field.InitialParams(3);
    const Vector z = RandomVector(field.state_size(), 4);
    const double t = 0.8, h = 1e-6;
    Vector exact(field.state_size()), plus(field.state_size()), minus(field.state_size());
    field.TimeDerivative(t, z, theta, exact);
    field.F(t + h, z, theta, plus);
    field.F(t - h, z, theta, minus);
    const Vector fd = (plus - minus) / (2.0 * h);
    EXPECT_LE(test_util::MaxRelativeError(exact, fd), 1e-7) << activation;
  }
  MlpField autonomous(Options({2, 8, 2}, {"tanh"}));
  Vector out = Vector::Ones(2);
  autonomous.TimeDerivative(0.0, Vector::Ones(2), autonomous.InitialParams(1), out);
  EXPECT_EQ(out, Vector::Zero(2));
  EXPECT_TRUE(autonomous.IsAutonomous());
  EXPECT_FALSE(MlpField(Options({2, 8, 2}, {"tanh"}, true)).IsAutonomous());
}

// JacobianBlocks: the fused pass (block = width) equals the blocks of the closed-form dense
// Jacobian and the default comb JVPs, for every activation, with and without time input; a block
// of two samples (still block-diagonal) takes the default path and agrees too.
TEST(MlpField, JacobianBlocksEqualTheDenseJacobiansBlocks) {
  for (const bool time_input : {false, true}) {
    for (const std::string& activation : ActivationNames()) {
      MlpField field(Options({3, 7, 5, 3}, {activation, activation, "identity"}, time_input, 4));
      const Index n = field.width(), batch = field.batch(), size = field.state_size();
      const Vector theta = field.InitialParams(5);
      const Vector z = RandomVector(size, 6);
      Matrix dense(size, size);
      field.DenseJacobian(0.3, z, theta, dense);
      std::vector<double> fused(static_cast<std::size_t>(size * n));
      std::vector<double> combs(fused.size());
      field.JacobianBlocks(0.3, z, theta, n, fused.data());
      field.VectorField::JacobianBlocks(0.3, z, theta, n, combs.data());
      double worst_dense = 0.0, worst_combs = 0.0;
      for (Index i = 0; i < batch; ++i) {
        for (Index c = 0; c < n; ++c) {
          for (Index r = 0; r < n; ++r) {
            const double block = fused[static_cast<std::size_t>((i * n + c) * n + r)];
            worst_dense = std::max(worst_dense, std::abs(block - dense(i * n + r, i * n + c)));
            worst_combs =
                std::max(worst_combs,
                         std::abs(block - combs[static_cast<std::size_t>((i * n + c) * n + r)]));
          }
        }
      }
      EXPECT_LE(worst_dense, 1e-14 * std::max(1.0, dense.cwiseAbs().maxCoeff())) << activation;
      EXPECT_LE(worst_combs, 1e-14 * std::max(1.0, dense.cwiseAbs().maxCoeff())) << activation;

      // Two samples per block: the off-diagonal sample blocks are zeros.
      std::vector<double> pairs(static_cast<std::size_t>(size * 2 * n));
      field.JacobianBlocks(0.3, z, theta, 2 * n, pairs.data());
      const Index b = 2 * n;
      double worst_pairs = 0.0;
      for (Index p = 0; p < batch / 2; ++p) {
        for (Index c = 0; c < b; ++c) {
          for (Index r = 0; r < b; ++r) {
            worst_pairs = std::max(worst_pairs,
                                   std::abs(pairs[static_cast<std::size_t>((p * b + c) * b + r)] -
                                            dense(p * b + r, p * b + c)));
          }
        }
      }
      EXPECT_LE(worst_pairs, 1e-14 * std::max(1.0, dense.cwiseAbs().maxCoeff())) << activation;
    }
  }
  MlpField field(Options({2, 4, 2}, {"tanh"}, false, 3));
  std::vector<double> blocks(24);
  EXPECT_THROW(field.JacobianBlocks(0.0, Vector::Zero(6), field.InitialParams(1), 4, blocks.data()),
               ConfigError);
  EXPECT_THROW(field.JacobianBlocks(0.0, Vector::Zero(6), field.InitialParams(1), 0, blocks.data()),
               ConfigError);
  EXPECT_THROW(field.JacobianBlocks(0.0, Vector::Zero(5), field.InitialParams(1), 2, blocks.data()),
               ConfigError);
}

// ------------------------------------------------------------------ values and batching
TEST(MlpField, MatchesNaiveLoopsForEveryActivation) {
  for (const std::string& activation : ActivationNames()) {
    for (bool time_input : {false, true}) {
      MlpField field(Options({3, 7, 5, 3}, {activation, activation, activation}, time_input, 3));
      const Vector theta = 2.0 * field.InitialParams(8);
      const Vector z = RandomVector(field.state_size(), 9, 2.0);
      Vector out(field.state_size());
      field.F(0.6, z, theta, out);
      EXPECT_TRUE(test_util::VectorsClose(out, NaiveF(field, 0.6, z, theta), 1e-14, 1e-15))
          << activation << (time_input ? " with time input" : "");
    }
  }
}

// A one-layer field with W = I, b = 0 is σ itself: compare every activation against scalar
// formulas over a wide range, including saturation, tiny arguments and non-finite values.
TEST(MlpField, ActivationsMatchScalarReferences) {
  std::vector<double> xs = {0.0,   -0.0,   1e-300, -1e-20, 1e-8, 0.3,   -0.6249,
                            0.625, 0.6251, -0.9,   1.7,    -3.2, 7.5,   -19.9,
                            20.1,  35.0,   -40.0,  300.0,  -750, 800.0, -1e300};
  for (int i = 0; i <= 4000; ++i) xs.push_back(-10.0 + 0.005 * i);  // dense grid around 0
  const Index n = static_cast<Index>(xs.size());
  const Vector z = Eigen::Map<const Vector>(xs.data(), n);
  for (const std::string& activation : ActivationNames()) {
    // widths {1, 1} with batch n: W = 1, b = 0, and n is not a multiple of the kernels' chunks.
    MlpField field(Options({1, 1}, {activation}, false, n));
    const Vector theta = (Vector(2) << 1.0, 0.0).finished();
    Vector out(n);
    field.F(0.0, z, theta, out);
    for (Index i = 0; i < n; ++i) {
      const double x = z[i];
      double expected = x;
      if (activation == "tanh") expected = std::tanh(x);
      if (activation == "relu") expected = x > 0.0 ? x : 0.0;
      if (activation == "softplus")
        expected = x > 30.0 ? x + std::exp(-x) : std::log1p(std::exp(x));
      if (activation == "gelu") expected = 0.5 * x * std::erfc(-x * 0.70710678118654752440);
      if (activation == "sigmoid") expected = 1.0 / (1.0 + std::exp(-x));
      // gelu's reference rounds x/√2 as the kernel does: erfc amplifies a 1-ulp change of its
      // argument by ~x² for x ≪ 0. gelu/softplus combine two rounded functions: a few ulps.
      const double tol = (activation == "gelu" || activation == "softplus") ? 4e-15 : 1e-15;
      EXPECT_LE(std::abs(out[i] - expected), tol * std::abs(expected))
          << activation << " at x = " << x << ": " << out[i] << " vs " << expected;
    }
  }
  // NaN propagates through every activation.
  for (const std::string& activation : ActivationNames()) {
    MlpField field(Options({1, 1}, {activation}));
    Vector out(1);
    field.F(0.0, Vector::Constant(1, std::numeric_limits<double>::quiet_NaN()),
            (Vector(2) << 1.0, 0.0).finished(), out);
    EXPECT_TRUE(std::isnan(out[0])) << activation;
  }
}

TEST(MlpField, BatchedEvaluationEqualsPerSampleEvaluation) {
  for (bool time_input : {false, true}) {
    const Index batch = 16;
    MlpField batched(Options({4, 32, 32, 4}, {"tanh"}, time_input, batch));
    MlpField single(Options({4, 32, 32, 4}, {"tanh"}, time_input, 1));
    const Vector theta = batched.InitialParams(21);
    const Vector z = RandomVector(batched.state_size(), 22);
    const Vector a = RandomVector(batched.state_size(), 23);
    const Vector v = RandomVector(batched.state_size(), 24);
    const double t = 0.25;
    Vector f(batched.state_size()), jv(batched.state_size()), ja(batched.state_size());
    Vector grad = Vector::Zero(batched.num_params());
    batched.F(t, z, theta, f);
    batched.Jvp(t, z, theta, v, jv);
    batched.Vjp(t, z, theta, a, ja, grad);
    Vector grad_sum = Vector::Zero(batched.num_params());
    for (Index s = 0; s < batch; ++s) {
      const Vector zs = z.segment(s * 4, 4), as = a.segment(s * 4, 4), vs = v.segment(s * 4, 4);
      Vector fs(4), jvs(4), jas(4);
      single.F(t, zs, theta, fs);
      single.Jvp(t, zs, theta, vs, jvs);
      single.Vjp(t, zs, theta, as, jas, grad_sum);
      EXPECT_TRUE(test_util::VectorsClose(f.segment(s * 4, 4), fs, 1e-14, 1e-15)) << s;
      EXPECT_TRUE(test_util::VectorsClose(jv.segment(s * 4, 4), jvs, 1e-13, 1e-15)) << s;
      EXPECT_TRUE(test_util::VectorsClose(ja.segment(s * 4, 4), jas, 1e-13, 1e-15)) << s;
    }
    EXPECT_TRUE(test_util::VectorsClose(grad, grad_sum, 1e-12, 1e-14));
    // The dense Jacobian is block-diagonal.
    Matrix jac(batched.state_size(), batched.state_size());
    batched.DenseJacobian(t, z, theta, jac);
    for (Index s = 0; s < batch; ++s) {
      jac.block(s * 4, s * 4, 4, 4).setZero();
    }
    EXPECT_EQ(jac.cwiseAbs().maxCoeff(), 0.0);
  }
}

// VjpParamsSum: K points (own z, a and, with time input, own t) in one batch-K pass equal the
// sum of K VjpParams calls, to round-off (the additions are ordered differently). K = 40 goes in
// two chunks (32 + 8); points at different times with time input, and a batched field, take the
// per-point path, bit for bit the loop.
TEST(MlpField, VjpParamsSumEqualsTheSumOfVjpParams) {
  for (bool time_input : {false, true}) {
    MlpField field(Options({2, 32, 32, 2}, {"tanh"}, time_input, 1));
    const Vector theta = field.InitialParams(31);
    for (Index points : {1, 2, 5, 32, 40}) {
      const Vector z_all = RandomVector(2 * points, 32), a_all = RandomVector(2 * points, 33);
      const Eigen::Map<const Matrix> z(z_all.data(), 2, points), a(a_all.data(), 2, points);
      for (bool same_time : {true, false}) {
        std::vector<double> times(static_cast<std::size_t>(points), 0.5);
        if (!same_time) {
          for (Index k = 0; k < points; ++k) times[static_cast<std::size_t>(k)] = 0.1 * k;
        }
        Vector looped = Vector::Constant(field.num_params(), 0.25);
        for (Index k = 0; k < points; ++k) {
          field.VjpParams(times[static_cast<std::size_t>(k)], z.col(k), theta, a.col(k), looped);
        }
        Vector summed = Vector::Constant(field.num_params(), 0.25);  // accumulates, too
        field.VjpParamsSum(times.data(), z, theta, a, summed);
        EXPECT_TRUE(test_util::VectorsClose(summed, looped, 1e-13, 1e-14))
            << "time input " << time_input << ", " << points << " points, same time " << same_time;
        if (time_input && !same_time) {
          EXPECT_EQ(summed, looped) << points;
        }
      }
    }
  }
  MlpField batched(Options({2, 8, 2}, {"tanh"}, false, 3));
  const Vector theta = batched.InitialParams(5);
  const Matrix z = Matrix::Random(6, 4), a = Matrix::Random(6, 4);
  const std::vector<double> times(4, 0.0);
  Vector looped = Vector::Zero(batched.num_params()), summed = looped;
  for (Index k = 0; k < 4; ++k) batched.VjpParams(0.0, z.col(k), theta, a.col(k), looped);
  batched.VjpParamsSum(times.data(), z, theta, a, summed);
  EXPECT_EQ(summed, looped);
  // Shapes are checked.
  Vector grad = Vector::Zero(batched.num_params());
  EXPECT_THROW(batched.VjpParamsSum(times.data(), Matrix::Zero(5, 4), theta, a, grad), ConfigError);
}

TEST(MlpField, CloneEvaluatesIdentically) {
  MlpField field(Options({3, 10, 3}, {"gelu"}, true, 2));
  const auto clone = field.Clone();
  const Vector theta = field.InitialParams(2);
  const Vector z = RandomVector(6, 3);
  Vector a(6), b(6);
  field.F(0.1, z, theta, a);
  clone->F(0.1, z, theta, b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(clone->name(), field.name());
}

// ------------------------------------------------------------------ layout and initialisation
TEST(MlpField, ParameterLayoutIsRowMajorWeightThenBias) {
  MlpField w2(Options({2, 32, 32, 2}, {"tanh"}));
  EXPECT_EQ(w2.num_params(), 1218);
  EXPECT_EQ(w2.state_size(), 2);
  EXPECT_EQ(w2.name(), "mlp 2-32-32-2 tanh");
  EXPECT_EQ(w2.activation(0), Activation::kTanh);
  EXPECT_EQ(w2.activation(1), Activation::kTanh);
  EXPECT_EQ(w2.activation(2), Activation::kIdentity);  // one name: identity output layer
  EXPECT_EQ(w2.weight_offset(0), 0);
  EXPECT_EQ(w2.bias_offset(0), 64);
  EXPECT_EQ(w2.weight_offset(1), 96);
  EXPECT_EQ(w2.weight_offset(2), 96 + 32 * 33);
  Vector theta = Vector::LinSpaced(1218, 0.0, 1217.0);
  EXPECT_EQ(w2.Weight(theta, 0)(1, 0), 2.0);  // row 1, column 0 = θ[1·in + 0]
  EXPECT_EQ(w2.Weight(theta, 0)(0, 1), 1.0);
  EXPECT_EQ(w2.Bias(theta, 0)(3), 67.0);
  EXPECT_EQ(w2.Weight(theta, 2)(1, 31), 96 + 32 * 33 + 63);
  w2.MutableBias(theta, 2)(1) = -1.0;
  EXPECT_EQ(theta[1217], -1.0);

  MlpField timed(Options({64, 64, 64}, {"tanh"}, true, 128));
  EXPECT_EQ(timed.layer_inputs(0), 65);
  EXPECT_EQ(timed.num_params(), 64 * 66 + 64 * 65);
  EXPECT_EQ(timed.state_size(), 64 * 128);

  MlpField::RowMatrix weight(2, 3);
  weight << 1, 2, 3, 4, 5, 6;
  MlpField small(Options({2, 2}, {"identity"}, true));
  Vector small_theta(small.num_params());
  small.SetLayer(0, weight, (Vector(2) << 7, 8).finished(), small_theta);
  EXPECT_EQ(small_theta, (Vector(8) << 1, 2, 3, 4, 5, 6, 7, 8).finished());
  EXPECT_THROW(small.SetLayer(0, weight.transpose(), Vector::Zero(2), small_theta), ConfigError);
  EXPECT_THROW(small.SetLayer(0, weight, Vector::Zero(3), small_theta), ConfigError);
}

TEST(MlpField, InitialParamsAreDeterministicAndBounded) {
  MlpField field(Options({3, 20, 3}, {"tanh"}, true));
  const Vector a = field.InitialParams(42);
  EXPECT_EQ(a, field.InitialParams(42));
  EXPECT_NE(a, field.InitialParams(43));
  EXPECT_LE(field.Weight(a, 0).cwiseAbs().maxCoeff(), 0.5);  // 1/√4 (3 inputs + t)
  EXPECT_LE(field.Bias(a, 0).cwiseAbs().maxCoeff(), 0.5);
  EXPECT_LE(field.Weight(a, 1).cwiseAbs().maxCoeff(), 1.0 / std::sqrt(20.0));
  EXPECT_GT(field.Weight(a, 1).cwiseAbs().maxCoeff(), 0.8 / std::sqrt(20.0));  // fills the range
  // The scheme is fully specified (std::mt19937_64 raw outputs), so the values are the same on
  // every platform: θ_0 = (2·(x₀ >> 11)·2⁻⁵³ − 1)/√4 with x₀ the first output for seed 42.
  std::mt19937_64 rng(42);
  const double u0 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  EXPECT_EQ(a[0], (2.0 * u0 - 1.0) * 0.5);
  EXPECT_EQ(a[0], 0.25515553295453897);  // x₀ = 13930160852258120406
}

// ------------------------------------------------------------------ bad arguments
TEST(MlpOptions, BadOptionsThrowConfigError) {
  EXPECT_THROW(MlpField(Options({}, {"tanh"})), ConfigError);
  EXPECT_THROW(MlpField(Options({2}, {"tanh"})), ConfigError);
  EXPECT_THROW(MlpField(Options({2, 0, 2}, {"tanh"})), ConfigError);
  EXPECT_THROW(MlpField(Options({2, -3, 2}, {"tanh"})), ConfigError);
  EXPECT_THROW(MlpField(Options({2, 8, 3}, {"tanh"})), ConfigError);  // in ≠ out
  EXPECT_THROW(MlpField(Options({2, 8, 2}, {"tanh"}, false, 0)), ConfigError);
  EXPECT_THROW(MlpField(Options({2, 8, 2}, {})), ConfigError);
  EXPECT_THROW(MlpField(Options({2, 8, 8, 2}, {"tanh", "tanh"})), ConfigError);
  EXPECT_THROW(MlpField(Options({2, 8, 2}, {"tanh", "swish"})), ConfigError);
  try {
    MlpField(Options({2, 8, 2}, {"Tanh"}));
    ADD_FAILURE() << "unknown activation accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown activation 'Tanh'; known: gelu, identity, relu, sigmoid, softplus, tanh");
  }
  try {
    MlpField(Options({2, 8, 3}, {"tanh"}));
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("2-8-3"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(MlpField(Options({2, 8, 2}, {"relu", "sigmoid"})));
  EXPECT_NO_THROW(MlpField(Options({5, 5}, {"softplus"})));
}

TEST(MlpField, WrongSizesThrowConfigError) {
  MlpField field(Options({2, 8, 2}, {"tanh"}, true, 3));
  const Vector theta = field.InitialParams(1);
  const Vector z = Vector::Ones(6), bad_z = Vector::Ones(2), bad_theta = Vector::Ones(5);
  Vector out(6), bad_out(5), grad = Vector::Zero(field.num_params()), bad_grad(3);
  Matrix jac(6, 6), bad_jac(2, 2);
  EXPECT_THROW(field.F(0.0, bad_z, theta, out), ConfigError);
  EXPECT_THROW(field.F(0.0, z, bad_theta, out), ConfigError);
  EXPECT_THROW(field.F(0.0, z, theta, bad_out), ConfigError);
  EXPECT_THROW(field.Jvp(0.0, z, theta, bad_z, out), ConfigError);
  EXPECT_THROW(field.Jvp(0.0, z, theta, z, bad_out), ConfigError);
  EXPECT_THROW(field.Jvp(0.0, bad_z, theta, z, out), ConfigError);
  EXPECT_THROW(field.VjpState(0.0, z, theta, bad_z, out), ConfigError);
  EXPECT_THROW(field.VjpState(0.0, z, bad_theta, z, out), ConfigError);
  EXPECT_THROW(field.VjpState(0.0, z, theta, z, bad_out), ConfigError);
  EXPECT_THROW(field.VjpParams(0.0, z, theta, z, bad_grad), ConfigError);
  EXPECT_THROW(field.VjpParams(0.0, z, theta, bad_z, grad), ConfigError);
  EXPECT_THROW(field.VjpParams(0.0, bad_z, theta, z, grad), ConfigError);
  EXPECT_THROW(field.Vjp(0.0, z, theta, z, bad_out, grad), ConfigError);
  EXPECT_THROW(field.Vjp(0.0, z, theta, z, out, bad_grad), ConfigError);
  EXPECT_THROW(field.Vjp(0.0, z, theta, bad_z, out, grad), ConfigError);
  EXPECT_THROW(field.DenseJacobian(0.0, z, theta, bad_jac), ConfigError);
  EXPECT_THROW(field.DenseJacobian(0.0, bad_z, theta, jac), ConfigError);
  EXPECT_THROW(field.TimeDerivative(0.0, z, theta, bad_out), ConfigError);
  EXPECT_THROW(field.Weight(theta, 2), ConfigError);
  EXPECT_THROW(field.Weight(theta, -1), ConfigError);
  EXPECT_THROW(field.Bias(bad_theta, 0), ConfigError);
  EXPECT_THROW(field.layer_inputs(5), ConfigError);
  EXPECT_EQ(grad, Vector::Zero(field.num_params()));  // failed calls leave outputs untouched
}

// ------------------------------------------------------------------ steady state allocates nothing
TEST(MlpField, EvaluationDoesNotAllocateInSteadyState) {
#if SNODE_TEST_COUNT_MALLOC
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload != nullptr && std::string(preload).find("vgpreload") != std::string::npos) {
    GTEST_SKIP() << "malloc is valgrind's";
  }
  for (Index batch : {1, 128}) {
    MlpField field(Options({64, 64, 64}, {"tanh"}, true, batch));
    MlpField small(Options({2, 32, 32, 2}, {"tanh"}, false, batch));
    for (MlpField* f : {&field, &small}) {
      const Vector theta = f->InitialParams(1);
      const Vector z = RandomVector(f->state_size(), 2);
      Vector out(f->state_size()), a_state(f->state_size());
      Vector grad = Vector::Zero(f->num_params());
      g_malloc_calls = 0;
      g_count_mallocs = true;
      for (int repeat = 0; repeat < 3; ++repeat) {
        f->F(0.5, z, theta, out);
        f->Jvp(0.5, z, theta, z, out);
        f->VjpState(0.5, z, theta, z, a_state);
        f->VjpParams(0.5, z, theta, z, grad);
        f->Vjp(0.5, z, theta, z, a_state, grad);
        f->TimeDerivative(0.5, z, theta, out);
      }
      g_count_mallocs = false;
      EXPECT_EQ(g_malloc_calls, 0) << f->name();
      // VjpParamsSum makes its batch-K copy on the first call only.
      const Matrix points = Matrix::Random(f->state_size(), 8);
      const std::vector<double> times(8, 0.5);
      f->VjpParamsSum(times.data(), points, theta, points, grad);
      g_malloc_calls = 0;
      g_count_mallocs = true;
      for (int repeat = 0; repeat < 3; ++repeat) {
        f->VjpParamsSum(times.data(), points, theta, points, grad);
      }
      g_count_mallocs = false;
      EXPECT_EQ(g_malloc_calls, 0) << f->name();
    }
  }
  // The counter itself works.
  g_malloc_calls = 0;
  g_count_mallocs = true;
  Vector* heap = new Vector(1000);
  g_count_mallocs = false;
  delete heap;
  EXPECT_GE(g_malloc_calls, 1);
#else
  GTEST_SKIP() << "allocation counting is disabled under sanitizers";
#endif
}

// ------------------------------------------------------------------ PyTorch weights
#ifndef SNODE_W2_WEIGHTS
#define SNODE_W2_WEIGHTS "../shared/data/w2/w2_init_weights.json"
#endif

TEST(LoadTorchMlpParams, ReadsTheW2InitialWeights) {
  if (!std::ifstream(SNODE_W2_WEIGHTS)) GTEST_SKIP() << "no " << SNODE_W2_WEIGHTS;
  MlpField field(Options({2, 32, 32, 2}, {"tanh"}));
  const Vector theta = LoadTorchMlpParams(SNODE_W2_WEIGHTS, field);
  ASSERT_EQ(theta.size(), 1218);
  // First entries of "0.weight" ([[0.66…, 0.29…], [−0.057…, …], …]) in row-major order.
  EXPECT_EQ(theta[0], 0.6647553301890121);
  EXPECT_EQ(theta[1], 0.29390167076471757);
  EXPECT_EQ(theta[2], -0.05744119269283829);
  EXPECT_EQ(field.Bias(theta, 0)[0], 0.142364602417722);
  EXPECT_EQ(field.Weight(theta, 1)(0, 0), -0.11367198028387632);
  EXPECT_EQ(field.Weight(theta, 2)(1, 31), -0.16832405026841818);
  EXPECT_EQ(theta[1216], 0.10264896746977321);  // "4.bias"
  EXPECT_EQ(theta[1217], 0.1343696992595266);
  // The PyTorch forward y = W x + b through the loaded weights.
  Vector out(2);
  field.F(0.0, Vector::Ones(2), theta, out);
  EXPECT_TRUE(test_util::VectorsClose(out, NaiveF(field, 0.0, Vector::Ones(2), theta), 1e-14, 0));
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    // ctest runs the tests of this binary as parallel processes: the pid keeps their files apart.
    path_ = ::testing::TempDir() + "mlp_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter_++) + ".json";
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(LoadTorchMlpParams, ReadsASmallFile) {
  MlpField field(Options({2, 3, 2}, {"tanh"}, true));  // layer 0 is 3 x 3 (z and t)
  TempFile file(R"({"params": {"0.weight": [[1,2,3],[4,5,6],[7,8,9]], "0.bias": [10,11,12],
                               "2.weight": [[13,14,15],[16,17,18]], "2.bias": [19,20]}})");
  const Vector theta = LoadTorchMlpParams(file.path(), field);
  EXPECT_EQ(theta, Vector::LinSpaced(20, 1.0, 20.0));
}

TEST(LoadTorchMlpParams, BadFilesThrowInputError) {
  MlpField field(Options({2, 3, 2}, {"tanh"}));
  const std::string good_layer2 = R"("2.weight": [[1,2,3],[4,5,6]], "2.bias": [1,2])";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "{\"params\": {"},
      {"no params", R"({"weights": {}})"},
      {"params not an object", R"({"params": [1, 2]})"},
      {"missing bias", R"({"params": {"0.weight": [[1,2],[3,4],[5,6]], )" + good_layer2 + "}}"},
      {"missing weight", R"({"params": {"0.bias": [1,2,3], )" + good_layer2 + "}}"},
      {"too few layers", R"({"params": {)" + good_layer2 + "}}"},
      {"wrong rows",
       R"({"params": {"0.weight": [[1,2],[3,4]], "0.bias": [1,2,3], )" + good_layer2 + "}}"},
      {"wrong columns", R"({"params": {"0.weight": [[1,2],[3,4],[5,6,7]], "0.bias": [1,2,3], )" +
                            good_layer2 + "}}"},
      {"wrong bias length",
       R"({"params": {"0.weight": [[1,2],[3,4],[5,6]], "0.bias": [1,2], )" + good_layer2 + "}}"},
      {"string entry", R"({"params": {"0.weight": [[1,"x"],[3,4],[5,6]], "0.bias": [1,2,3], )" +
                           good_layer2 + "}}"},
      {"NaN entry", R"({"params": {"0.weight": [[1,NaN],[3,4],[5,6]], "0.bias": [1,2,3], )" +
                        good_layer2 + "}}"},
      {"overflowing entry",
       R"({"params": {"0.weight": [[1,1e999],[3,4],[5,6]], "0.bias": [1,2,3], )" + good_layer2 +
           "}}"},
      {"unexpected key",
       R"({"params": {"0.weight": [[1,2],[3,4],[5,6]], "0.bias": [1,2,3], "0.scale": [1], )" +
           good_layer2 + "}}"},
  };
  for (const auto& [what, contents] : cases) {
    TempFile file(contents);
    EXPECT_THROW(LoadTorchMlpParams(file.path(), field), InputError) << what;
  }
  EXPECT_THROW(LoadTorchMlpParams("/nonexistent/weights.json", field), InputError);
  // The good version of the same file loads.
  TempFile good(R"({"params": {"0.weight": [[1,2],[3,4],[5,6]], "0.bias": [1,2,3], )" +
                good_layer2 + "}}");
  EXPECT_NO_THROW(LoadTorchMlpParams(good.path(), field));
  try {
    TempFile file(R"({"params": {"0.weight": [[1,2],[3,4]], "0.bias": [1,2,3], )" + good_layer2 +
                  "}}");
    LoadTorchMlpParams(file.path(), field);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("0.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("3x2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace snode
