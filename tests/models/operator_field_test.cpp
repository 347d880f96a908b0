// models/operator_field and models/brusselator: the periodic diffusion stencil against its dense
// matrix (1e-14 relative); the field's and the Brusselator's products against central
// differences (1e-7 relative) and the batched/saved variants against the plain ones (1e-13);
// the periodic block-tridiagonal preconditioner against the exact inverse of the dense I − γJ
// (1e-12 relative, γ > 0 large and small, γ < 0, species 2 and 3), its transposed side against
// the transpose of the forward one (1e-12); block Jacobi on an operator without a stencil;
// singular and non-finite blocks; the cost recorder; no allocation in Setup/Solve.
#include "models/operator_field.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "models/brusselator.hpp"
#include "models/mlp.hpp"
#include "tests/test_util/allocation_counter.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

Vector RandomVector(Index n, unsigned seed, double low = -1.0, double high = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(low, high);
  Vector v(n);
  for (Index i = 0; i < n; ++i) v[i] = uniform(rng);
  return v;
}

// The matrix of D_s (x_{i+1,s} − 2x_{i,s} + x_{i−1,s}) / dx², built entry by entry.
Matrix DenseDiffusion(Index points, const std::vector<double>& d, double length) {
  const Index s = static_cast<Index>(d.size());
  const double dx = length / static_cast<double>(points);
  Matrix a = Matrix::Zero(points * s, points * s);
  for (Index i = 0; i < points; ++i) {
    for (Index k = 0; k < s; ++k) {
      const double c = d[static_cast<std::size_t>(k)] / (dx * dx);
      const Index row = i * s + k;
      a(row, row) += -2.0 * c;
      a(row, ((i + 1) % points) * s + k) += c;
      a(row, ((i + points - 1) % points) * s + k) += c;
    }
  }
  return a;
}

Matrix OperatorMatrix(const LinearOperator& op, bool transpose) {
  const Index n = op.size();
  Matrix m(n, n);
  Vector unit = Vector::Zero(n), column(n);
  for (Index j = 0; j < n; ++j) {
    unit[j] = 1.0;
    if (transpose) {
      op.ApplyTranspose(unit, column);
    } else {
      op.Apply(unit, column);
    }
    m.col(j) = column;
    unit[j] = 0.0;
  }
  return m;
}

// The matrix of x ↦ M⁻¹x of a set-up preconditioner, column by column.
Matrix SolveMatrix(Preconditioner& p, Index n) {
  Matrix m(n, n);
  Vector unit = Vector::Zero(n), column(n);
  for (Index j = 0; j < n; ++j) {
    unit[j] = 1.0;
    p.Solve(unit, column);
    m.col(j) = column;
    unit[j] = 0.0;
  }
  return m;
}

double RelativeDifference(const Matrix& actual, const Matrix& expected) {
  return (actual - expected).cwiseAbs().maxCoeff() / expected.cwiseAbs().maxCoeff();
}

std::unique_ptr<MlpField> Mlp(Index species, Index points) {
  MlpOptions options;
  options.widths = {species, 8, 8, species};
  options.activations = {"tanh", "tanh", "identity"};
  options.batch = points;
  return std::make_unique<MlpField>(options);
}

OperatorPlusPointwiseField MlpDiffusionField(Index points, Index species, double diffusion) {
  return OperatorPlusPointwiseField(
      std::make_unique<PeriodicDiffusion1D>(points, std::vector<double>(species, diffusion)),
      Mlp(species, points), species);
}

TEST(PeriodicDiffusion1D, ApplyAndTransposeEqualTheDenseMatrix) {
  const std::vector<double> d = {1e-3, 2.5e-3};
  const PeriodicDiffusion1D op(7, d, 2.0);
  const Matrix dense = DenseDiffusion(7, d, 2.0);
  EXPECT_EQ(op.size(), 14);
  EXPECT_DOUBLE_EQ(op.dx(), 2.0 / 7.0);
  EXPECT_LE(RelativeDifference(OperatorMatrix(op, false), dense), 1e-14);
  EXPECT_LE(RelativeDifference(OperatorMatrix(op, true), dense.transpose()), 1e-14);
  Vector diagonal(14);
  op.Diagonal(diagonal);
  EXPECT_LE((diagonal - dense.diagonal()).cwiseAbs().maxCoeff(),
            1e-14 * dense.cwiseAbs().maxCoeff());
  // The default Diagonal (unit vectors) agrees with the override.
  Vector generic(14);
  op.LinearOperator::Diagonal(generic);
  EXPECT_EQ(generic, diagonal);
  EXPECT_EQ(op.HalfBandwidth(), 2);
  const auto stencil = op.Stencil();
  ASSERT_TRUE(stencil.has_value());
  EXPECT_EQ(stencil->points, 7);
  EXPECT_EQ(stencil->species(), 2);
  EXPECT_DOUBLE_EQ(stencil->lower[1], dense(2 * 3 + 1, 2 * 2 + 1));
  EXPECT_DOUBLE_EQ(stencil->upper[0], dense(2 * 3, 2 * 4));
  EXPECT_DOUBLE_EQ(stencil->centre[1], dense(3, 3));
}

TEST(PeriodicDiffusion1D, BadArgumentsAreConfigErrors) {
  EXPECT_THROW(PeriodicDiffusion1D(2, {1.0}), ConfigError);
  EXPECT_THROW(PeriodicDiffusion1D(5, {}), ConfigError);
  EXPECT_THROW(PeriodicDiffusion1D(5, {1.0, -1e-3}), ConfigError);
  EXPECT_THROW(PeriodicDiffusion1D(5, {std::nan("")}), ConfigError);
  EXPECT_THROW(PeriodicDiffusion1D(5, {1.0}, 0.0), ConfigError);
  const PeriodicDiffusion1D op(5, {1.0});
  Vector x(5), wrong(4);
  EXPECT_THROW(op.Apply(x, wrong), ConfigError);
  EXPECT_THROW(OperatorPlusPointwiseField(op.Clone(), Mlp(2, 3), 2), ConfigError);
  EXPECT_THROW(OperatorPlusPointwiseField(op.Clone(), nullptr, 1), ConfigError);
}

TEST(OperatorPlusPointwiseField, ProductsMatchCentralDifferences) {
  OperatorPlusPointwiseField field = MlpDiffusionField(8, 2, 0.05);
  auto& mlp = static_cast<MlpField&>(field.pointwise());
  const Vector theta = mlp.InitialParams(3);
  const Vector z = RandomVector(16, 1, 0.5, 3.0);
  EXPECT_TRUE(::test_util::FieldDerivativesMatchFiniteDifferences(field, 0.0, z, theta, 1e-7));
  EXPECT_EQ(field.num_params(), mlp.num_params());
  EXPECT_EQ(field.JacobianHalfBandwidth(), 2);
  EXPECT_TRUE(field.IsAutonomous());
}

TEST(OperatorPlusPointwiseField, BatchedAndSavedProductsEqualThePlainOnes) {
  OperatorPlusPointwiseField field = MlpDiffusionField(6, 2, 0.05);
  const Vector theta = static_cast<MlpField&>(field.pointwise()).InitialParams(5);
  const Index n = 12, p = field.num_params();
  const Matrix z = Eigen::Map<const Matrix>(RandomVector(3 * n, 2, 0.5, 3.0).data(), n, 3);
  const Matrix a = Eigen::Map<const Matrix>(RandomVector(3 * n, 3).data(), n, 3);
  const double times[3] = {0.0, 0.5, 1.0};
  Vector expected = Vector::Zero(p), sum = Vector::Zero(p);
  for (Index k = 0; k < 3; ++k) field.VjpParams(times[k], z.col(k), theta, a.col(k), expected);
  field.VjpParamsSum(times, z, theta, a, sum);
  EXPECT_LE(::test_util::MaxRelativeError(sum, expected), 1e-13);
  // FSaving/VjpSaved = F/Vjp.
  ASSERT_GT(field.ForwardSaveSize(), 0);
  std::vector<double> saved(static_cast<std::size_t>(field.ForwardSaveSize()));
  Vector f(n), f_saving(n), a_state(n), a_state_saved(n);
  Vector grad = Vector::Zero(p), grad_saved = Vector::Zero(p);
  field.F(0.0, z.col(0), theta, f);
  field.FSaving(0.0, z.col(0), theta, f_saving, saved.data());
  EXPECT_LE(::test_util::MaxRelativeError(f_saving, f), 1e-15);
  field.Vjp(0.0, z.col(0), theta, a.col(0), a_state, grad);
  field.VjpSaved(0.0, z.col(0), theta, saved.data(), a.col(0), a_state_saved, grad_saved);
  EXPECT_LE(::test_util::MaxRelativeError(a_state_saved, a_state), 1e-13);
  EXPECT_LE(::test_util::MaxRelativeError(grad_saved, grad), 1e-13);
}

// VjpStateLinearized at the blocks of Linearize = VjpState, species 2 (the unrolled branch) and 3;
// the linearisation is ∂f/∂z's blocks, so it also matches the dense Jacobian's transpose.
TEST(OperatorPlusPointwiseField, LinearisedStateProductsEqualThePlainOnes) {
  for (const Index species : {2, 3}) {
    SCOPED_TRACE("species " + std::to_string(species));
    OperatorPlusPointwiseField field = MlpDiffusionField(7, species, 0.05);
    const Vector theta = static_cast<MlpField&>(field.pointwise()).InitialParams(7);
    const Index n = field.state_size();
    const Vector z = RandomVector(n, 4, 0.5, 3.0), a = RandomVector(n, 5);
    ASSERT_EQ(field.LinearizationSize(), n * species);
    std::vector<double> linearization(static_cast<std::size_t>(field.LinearizationSize()));
    field.Linearize(0.2, z, theta, linearization.data());
    Vector plain(n), linearised(n);
    field.VjpState(0.2, z, theta, a, plain);
    field.VjpStateLinearized(linearization.data(), a, linearised);
    EXPECT_LE(::test_util::MaxRelativeError(linearised, plain), 1e-13);
    Matrix jac(n, n);
    field.DenseJacobian(0.2, z, theta, jac);
    const Vector dense = jac.transpose() * a;
    EXPECT_LE(::test_util::MaxRelativeError(linearised, dense), 1e-13);
  }
  // A field without a linearisation says so.
  const std::unique_ptr<MlpField> mlp = Mlp(2, 3);
  EXPECT_EQ(mlp->LinearizationSize(), 0);
  const Vector z = Vector::Zero(6);
  Vector out(6);
  EXPECT_THROW(mlp->Linearize(0.0, z, mlp->InitialParams(1), nullptr), ConfigError);
  EXPECT_THROW(mlp->VjpStateLinearized(nullptr, z, out), ConfigError);
}

// The forward preconditioner's M⁻¹ against the inverse of I − γJ, J assembled by DenseJacobian
// (JVP columns), and the transposed one against its transpose.
void ExpectExactInverses(OperatorPlusPointwiseField& field, const Vector& z, const Vector& theta,
                         double gamma) {
  SCOPED_TRACE("gamma " + std::to_string(gamma) + ", " + field.name());
  const Index n = field.state_size();
  Matrix jac(n, n);
  field.DenseJacobian(0.3, z, theta, jac);
  const Matrix m = Matrix::Identity(n, n) - gamma * jac;
  const Matrix inverse = m.inverse();
  auto forward = field.MakePreconditioner(PreconditionerSide::kForward);
  auto transposed = field.MakePreconditioner(PreconditionerSide::kTransposed);
  forward->Setup(0.3, z, theta, gamma);
  transposed->Setup(0.3, z, theta, gamma);
  const Matrix forward_inverse = SolveMatrix(*forward, n);
  const Matrix transposed_inverse = SolveMatrix(*transposed, n);
  EXPECT_LE(RelativeDifference(forward_inverse, inverse), 1e-12);
  EXPECT_LE(RelativeDifference(transposed_inverse, forward_inverse.transpose()), 1e-12);
  EXPECT_LE(RelativeDifference(transposed_inverse, inverse.transpose()), 1e-12);
}

TEST(PeriodicTridiagonalPreconditioner, IsTheExactInverseForAnMlpReaction) {
  for (const Index points : {6, 7, 8}) {
    OperatorPlusPointwiseField field = MlpDiffusionField(points, 2, 0.05);
    const Vector theta = static_cast<MlpField&>(field.pointwise()).InitialParams(7);
    const Vector z = RandomVector(2 * points, 11, 0.5, 3.0);
    // γ·D/dx² from 0.5 to 640 (diffusion-dominated), and γ < 0.
    for (const double gamma : {0.1, 10.0, 200.0, -0.05}) {
      ExpectExactInverses(field, z, theta, gamma);
    }
  }
}

TEST(PeriodicTridiagonalPreconditioner, IsTheExactInverseForBrusselatorAndThreeSpecies) {
  OperatorPlusPointwiseField brusselator(
      std::make_unique<PeriodicDiffusion1D>(7, std::vector<double>{0.02, 0.05}),
      std::make_unique<BrusselatorField>(7), 2);
  const Vector z = RandomVector(14, 4, 0.5, 3.0);
  for (const double gamma : {0.05, 3.0, -0.02}) {
    ExpectExactInverses(brusselator, z, BrusselatorField::ClassicParams(), gamma);
  }
  // Species 3 (the run-time block size), different coefficients per species.
  OperatorPlusPointwiseField three(
      std::make_unique<PeriodicDiffusion1D>(6, std::vector<double>{0.01, 0.04, 0.0}), Mlp(3, 6), 3);
  const Vector theta = static_cast<MlpField&>(three.pointwise()).InitialParams(2);
  for (const double gamma : {0.2, 20.0, -0.1}) {
    ExpectExactInverses(three, RandomVector(18, 8, -1.0, 1.0), theta, gamma);
  }
}

// On a long grid (the columns of T⁻¹W decay to zero and are flushed before they turn subnormal)
// the solves still satisfy M x = r to rounding: ‖Mx − r‖ ≤ 1e-11‖r‖ (measured ≤ 5e-14 at
// N = 20 000, γ·D/dx² from 40 to 4 000, and at γ < 0).
TEST(PeriodicTridiagonalPreconditioner, SolvesToRoundingOnALongGrid) {
  const Index points = 20000, n = 2 * points;
  OperatorPlusPointwiseField field = MlpDiffusionField(points, 2, 1e-3);
  const Vector theta = static_cast<MlpField&>(field.pointwise()).InitialParams(0);
  const Vector z = RandomVector(n, 5, 0.5, 3.0);
  const Vector r = RandomVector(n, 6);
  Vector x(n), jx(n);
  for (const auto side : {PreconditionerSide::kForward, PreconditionerSide::kTransposed}) {
    auto p = field.MakePreconditioner(side);
    for (const double gamma : {1e-4, 1e-3, 1e-2, -1e-7}) {
      p->Setup(0.0, z, theta, gamma);
      p->Solve(r, x);
      if (side == PreconditionerSide::kForward) {
        field.Jvp(0.0, z, theta, x, jx);
      } else {
        field.VjpState(0.0, z, theta, x, jx);
      }
      EXPECT_LE((x - gamma * jx - r).norm(), 1e-11 * r.norm()) << gamma;
    }
  }
}

// A dense operator without stencil structure: MakePreconditioner falls back to block Jacobi.
class DenseOperator final : public LinearOperator {
 public:
  explicit DenseOperator(Matrix a) : a_(std::move(a)) {}
  std::string name() const override { return "dense"; }
  Index size() const override { return a_.rows(); }
  void Apply(ConstVectorRef x, VectorRef out) const override { out.noalias() = a_ * x; }
  void ApplyTranspose(ConstVectorRef x, VectorRef out) const override {
    out.noalias() = a_.transpose() * x;
  }
  std::unique_ptr<LinearOperator> Clone() const override {
    return std::make_unique<DenseOperator>(a_);
  }

 private:
  Matrix a_;
};

TEST(BlockJacobiPreconditioner, InvertsTheDiagonalOfAPlusThePointBlocks) {
  const Index points = 5, n = 10;
  const Matrix a = Eigen::Map<const Matrix>(RandomVector(n * n, 9).data(), n, n);
  OperatorPlusPointwiseField field(std::make_unique<DenseOperator>(a),
                                   std::make_unique<BrusselatorField>(points), 2);
  EXPECT_EQ(field.JacobianHalfBandwidth(), -1);
  const Vector z = RandomVector(n, 10, 0.5, 2.0);
  const Vector theta = BrusselatorField::ClassicParams();
  const double gamma = 0.15;
  Matrix reaction(n, n);
  field.pointwise().DenseJacobian(0.0, z, theta, reaction);
  Matrix expected = Matrix::Zero(n, n);
  for (Index i = 0; i < points; ++i) {
    Matrix block = Matrix::Identity(2, 2) - gamma * reaction.block(2 * i, 2 * i, 2, 2);
    block.diagonal() -= gamma * a.diagonal().segment(2 * i, 2);
    expected.block(2 * i, 2 * i, 2, 2) = block.inverse();
  }
  auto forward = field.MakePreconditioner(PreconditionerSide::kForward);
  auto transposed = field.MakePreconditioner(PreconditionerSide::kTransposed);
  forward->Setup(0.0, z, theta, gamma);
  transposed->Setup(0.0, z, theta, gamma);
  EXPECT_LE(RelativeDifference(SolveMatrix(*forward, n), expected), 1e-14);
  EXPECT_LE(RelativeDifference(SolveMatrix(*transposed, n), expected.transpose()), 1e-14);
}

TEST(PeriodicTridiagonalPreconditioner, SingularOrNonFiniteBlocksAreNumericalErrors) {
  // Without diffusion M is block-diagonal; at u = 0 the Brusselator's block is
  // [[−(B+1), 0], [B, 0]], so I − γR with γ = −1/(B+1) = −0.25 is exactly singular.
  OperatorPlusPointwiseField field(
      std::make_unique<PeriodicDiffusion1D>(4, std::vector<double>{0.0, 0.0}),
      std::make_unique<BrusselatorField>(4), 2);
  Vector z = Vector::Constant(8, 1.0);
  z[4] = 0.0;  // u at point 2
  const Vector theta = BrusselatorField::ClassicParams();
  auto p = field.MakePreconditioner(PreconditionerSide::kForward);
  try {
    p->Setup(0.0, z, theta, -0.25);
    ADD_FAILURE() << "no NumericalError";
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("grid point 2"), std::string::npos) << e.what();
  }
  z[4] = std::nan("");
  EXPECT_THROW(p->Setup(0.0, z, theta, 0.1), NumericalError);
  z[4] = 1.0;
  EXPECT_THROW(p->Setup(0.0, z, theta, std::nan("")), NumericalError);
  EXPECT_THROW(p->Setup(0.0, z.head(6), theta, 0.1), ConfigError);
  p->Setup(0.0, z, theta, 0.1);
  Vector wrong(6), x(8);
  EXPECT_THROW(p->Solve(wrong, x), ConfigError);
}

TEST(OperatorPlusPointwiseField, CostRecorderCountsEveryComponentAndIsShared) {
  OperatorPlusPointwiseField field = MlpDiffusionField(6, 2, 0.05);
  const Vector theta = static_cast<MlpField&>(field.pointwise()).InitialParams(1);
  const Vector z = RandomVector(12, 3, 0.5, 2.0);
  Vector out(12);
  field.F(0.0, z, theta, out);  // not recorded
  auto costs = std::make_shared<OperatorFieldCosts>();
  field.SetCostRecorder(costs);
  field.F(0.0, z, theta, out);
  field.Jvp(0.0, z, theta, z, out);
  auto clone = field.Clone();
  Vector clone_f(12), f(12);
  clone->F(0.0, z, theta, clone_f);
  field.F(0.0, z, theta, f);
  EXPECT_EQ(clone_f, f);
  clone->VjpState(0.0, z, theta, z, out);
  auto p = clone->MakePreconditioner(PreconditionerSide::kForward);
  p->Setup(0.0, z, theta, 0.1);
  p->Solve(z, out);
  p->Solve(z, out);
  EXPECT_EQ(costs->operator_calls, 5);
  EXPECT_EQ(costs->pointwise_calls, 5);  // Setup's JVPs count as setup
  EXPECT_EQ(costs->setups, 1);
  EXPECT_EQ(costs->solves, 2);
  EXPECT_GE(costs->operator_seconds, 0.0);
  EXPECT_GT(costs->pointwise_seconds + costs->setup_seconds + costs->solve_seconds, 0.0);
}

TEST(BrusselatorField, ProductsMatchCentralDifferences) {
  BrusselatorField field(4);
  EXPECT_EQ(field.state_size(), 8);
  const Vector z = RandomVector(8, 6, 0.2, 3.0);
  EXPECT_TRUE(::test_util::FieldDerivativesMatchFiniteDifferences(
      field, 0.0, z, BrusselatorField::ClassicParams(), 1e-7));
  EXPECT_TRUE(::test_util::FieldDerivativesMatchFiniteDifferences(
      field, 0.0, z, (Vector(2) << 0.7, 2.2).finished(), 1e-7));
  Vector f(8);
  field.F(0.0, z, BrusselatorField::ClassicParams(), f);
  const double u = z[2], v = z[3];
  EXPECT_DOUBLE_EQ(f[2], 1.0 + u * u * v - 4.0 * u);
  EXPECT_DOUBLE_EQ(f[3], 3.0 * u - u * u * v);
  EXPECT_THROW(BrusselatorField(0), ConfigError);
}

TEST(PeriodicTridiagonalPreconditioner, SetupAndSolveAllocateNothingInSteadyState) {
  SKIP_WITHOUT_COUNTER();
  for (const bool stencil : {true, false}) {
    OperatorPlusPointwiseField field =
        stencil ? MlpDiffusionField(40, 2, 1e-3)
                : OperatorPlusPointwiseField(std::make_unique<DenseOperator>(Matrix::Zero(80, 80)),
                                             Mlp(2, 40), 2);
    const Vector theta = static_cast<MlpField&>(field.pointwise()).InitialParams(1);
    const Vector z = RandomVector(80, 3, 0.5, 2.0);
    field.SetCostRecorder(std::make_shared<OperatorFieldCosts>());
    Vector x(80), y(80);
    for (const auto side : {PreconditionerSide::kForward, PreconditionerSide::kTransposed}) {
      auto p = field.MakePreconditioner(side);
      p->Setup(0.0, z, theta, 0.5);
      p->Solve(z, x);
      test_util::NewCounter counter;
      counter.Start();
      p->Setup(0.1, z, theta, -0.01);
      p->Solve(z, x);
      p->Solve(x, y);
      EXPECT_EQ(counter.Stop(), 0) << (stencil ? "stencil" : "block Jacobi");
    }
  }
}

}  // namespace
}  // namespace snode
