#include "models/operator_field.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "core/errors.hpp"

namespace snode {

namespace {

// Adds the seconds between construction and destruction and one call to a recorder's fields;
// does nothing (does not read the clock) when recording is off.
class ScopedCost {
 public:
  ScopedCost(OperatorFieldCosts* costs, double OperatorFieldCosts::*seconds,
             long OperatorFieldCosts::*calls)
      : costs_(costs), seconds_(seconds), calls_(calls) {
    if (costs_ != nullptr) start_ = std::chrono::steady_clock::now();
  }
  ~ScopedCost() {
    if (costs_ == nullptr) return;
    costs_->*seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    ++(costs_->*calls_);
  }
  ScopedCost(const ScopedCost&) = delete;
  ScopedCost& operator=(const ScopedCost&) = delete;

 private:
  OperatorFieldCosts* costs_;
  double OperatorFieldCosts::*seconds_;
  long OperatorFieldCosts::*calls_;
  std::chrono::steady_clock::time_point start_;
};

ScopedCost OperatorCost(const std::shared_ptr<OperatorFieldCosts>& costs) {
  return {costs.get(), &OperatorFieldCosts::operator_seconds, &OperatorFieldCosts::operator_calls};
}
ScopedCost PointwiseCost(const std::shared_ptr<OperatorFieldCosts>& costs) {
  return {costs.get(), &OperatorFieldCosts::pointwise_seconds,
          &OperatorFieldCosts::pointwise_calls};
}

// ------------------------------------------------------------ small dense blocks (column-major)

// The size of a block: the compile-time kS (the species = 2 hot path) or the run-time one.
template <int kS>
Index BlockSize(Index runtime) {
  return kS > 0 ? kS : runtime;
}

// inv = a⁻¹ for an S × S block; false when a is singular to working precision (a pivot below
// S·ε·max|a|) or not finite. work holds 2·S² doubles.
template <int kS>
bool InvertBlock(Index runtime_size, const double* a, double* inv, double* work) {
  const Index s = BlockSize<kS>(runtime_size);
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  if (kS == 2) {
    const double det = a[0] * a[3] - a[2] * a[1];
    const double scale = std::abs(a[0] * a[3]) + std::abs(a[2] * a[1]);
    if (!(std::abs(det) > 4.0 * kEps * scale)) return false;
    inv[0] = a[3] / det;
    inv[1] = -a[1] / det;
    inv[2] = -a[2] / det;
    inv[3] = a[0] / det;
    return std::isfinite(inv[0] + inv[1] + inv[2] + inv[3]);
  }
  double largest = 0.0;
  for (Index k = 0; k < s * s; ++k) largest = std::max(largest, std::abs(a[k]));
  if (!std::isfinite(largest)) return false;
  // Gauss–Jordan with partial pivoting on [a | I], stored column-major s × 2s in work.
  for (Index k = 0; k < s * s; ++k) work[k] = a[k];
  for (Index k = 0; k < s * s; ++k) work[s * s + k] = (k % (s + 1) == 0) ? 1.0 : 0.0;
  for (Index c = 0; c < s; ++c) {
    Index pivot = c;
    for (Index r = c + 1; r < s; ++r) {
      if (std::abs(work[c * s + r]) > std::abs(work[c * s + pivot])) pivot = r;
    }
    const double p = work[c * s + pivot];
    if (!(std::abs(p) > static_cast<double>(s) * kEps * largest)) return false;
    for (Index j = 0; j < 2 * s; ++j) std::swap(work[j * s + c], work[j * s + pivot]);
    for (Index j = 0; j < 2 * s; ++j) work[j * s + c] /= p;
    for (Index r = 0; r < s; ++r) {
      const double factor = work[c * s + r];
      if (r == c || factor == 0.0) continue;
      for (Index j = 0; j < 2 * s; ++j) work[j * s + r] -= factor * work[j * s + c];
    }
  }
  bool finite = true;
  for (Index k = 0; k < s * s; ++k) {
    inv[k] = work[s * s + k];
    finite = finite && std::isfinite(inv[k]);
  }
  return finite;
}

// y = B x (or y −= B x with subtract) for an S × S block B.
template <int kS>
void BlockTimes(Index runtime_size, const double* b, const double* x, double* y, bool subtract) {
  const Index s = BlockSize<kS>(runtime_size);
  for (Index r = 0; r < s; ++r) {
    double sum = 0.0;
    for (Index c = 0; c < s; ++c) sum += b[c * s + r] * x[c];
    y[r] = subtract ? y[r] - sum : sum;
  }
}

// ------------------------------------------------------------ preconditioners

// What both preconditioners share: the argument checks, the pointwise Jacobian blocks R_i (g's
// JacobianBlocks), the diagonal blocks D_i = I − γ(diag(c_i) + R_i) (R_iᵀ for the transposed side)
// and the cost recording.
class PointBlockPreconditioner : public Preconditioner {
 public:
  PointBlockPreconditioner(OperatorPlusPointwiseField& field, PreconditionerSide side)
      : field_(field),
        side_(side),
        species_(field.species()),
        points_(field.points()),
        jacobian_(static_cast<std::size_t>(species_ * field.state_size())),
        inverse_work_(static_cast<std::size_t>(2 * species_ * species_)) {}

  void Setup(double t, ConstVectorRef z, ConstVectorRef theta, double gamma) final {
    if (z.size() != field_.state_size() || theta.size() != field_.num_params()) {
      throw ConfigError("Preconditioner::Setup: z and theta must have lengths " +
                        std::to_string(field_.state_size()) + " and " +
                        std::to_string(field_.num_params()) + ", got " + std::to_string(z.size()) +
                        " and " + std::to_string(theta.size()));
    }
    if (!std::isfinite(gamma)) {
      throw NumericalError("Preconditioner::Setup: gamma is not finite");
    }
    const ScopedCost cost(field_.cost_recorder().get(), &OperatorFieldCosts::setup_seconds,
                          &OperatorFieldCosts::setups);
    PointwiseBlocks(t, z, theta);
    Factor(gamma);
    has_blocks_ = true;
  }

  // The blocks R_i of the last Setup, factorised with the new γ (no network products).
  bool UpdateGamma(double gamma) final {
    if (!has_blocks_ || !std::isfinite(gamma)) return false;
    const ScopedCost cost(field_.cost_recorder().get(), &OperatorFieldCosts::setup_seconds,
                          &OperatorFieldCosts::setups);
    has_blocks_ = false;  // stays false if Factor throws
    Factor(gamma);
    has_blocks_ = true;
    return true;
  }

  void Solve(ConstVectorRef r, VectorRef x) final {
    if (r.size() != field_.state_size() || x.size() != field_.state_size()) {
      throw ConfigError("Preconditioner::Solve: r and x must have length " +
                        std::to_string(field_.state_size()));
    }
    const ScopedCost cost(field_.cost_recorder().get(), &OperatorFieldCosts::solve_seconds,
                          &OperatorFieldCosts::solves);
    SolveFactored(r.data(), x.data());
  }

 protected:
  // Factorises with the blocks in jacobian_ (R_i column-major at i·S²).
  virtual void Factor(double gamma) = 0;
  virtual void SolveFactored(const double* r, double* x) = 0;

  // block = I − γ(diag(centre) + R_i) (R_iᵀ on the transposed side); centre has S entries.
  void DiagonalBlock(Index i, double gamma, const double* centre, double* block) const {
    const Index s = species_;
    const double* r = jacobian_.data() + i * s * s;
    const bool transposed = side_ == PreconditionerSide::kTransposed;
    for (Index c = 0; c < s; ++c) {
      for (Index row = 0; row < s; ++row) {
        const double rij = transposed ? r[row * s + c] : r[c * s + row];
        block[c * s + row] = (row == c ? 1.0 - gamma * centre[row] : 0.0) - gamma * rij;
      }
    }
  }

  // inv = block⁻¹ or NumericalError naming the point and the preconditioner.
  template <int kS>
  void InvertOrThrow(const double* block, double* inv, Index point, const char* what) {
    if (InvertBlock<kS>(species_, block, inv, inverse_work_.data())) return;
    throw NumericalError(std::string(what) + ": the " + std::to_string(species_) + "x" +
                         std::to_string(species_) + " block at grid point " +
                         std::to_string(point) + " of " + field_.name() +
                         " is singular or not finite");
  }

  OperatorPlusPointwiseField& field_;
  PreconditionerSide side_;
  Index species_;
  Index points_;

 private:
  void PointwiseBlocks(double t, ConstVectorRef z, ConstVectorRef theta) {
    field_.pointwise().JacobianBlocks(t, z, theta, species_, jacobian_.data());
  }

  std::vector<double> jacobian_;
  bool has_blocks_ = false;  // jacobian_ holds a complete Setup's blocks

 protected:
  std::vector<double> inverse_work_;
};

// Exact solves with the periodic block-tridiagonal M (file comment of operator_field.hpp).
class PeriodicTridiagonalPreconditioner final : public PointBlockPreconditioner {
 public:
  PeriodicTridiagonalPreconditioner(OperatorPlusPointwiseField& field, PreconditionerSide side,
                                    const PeriodicStencil1D& stencil)
      : PointBlockPreconditioner(field, side),
        lower_(stencil.lower),
        centre_(stencil.centre),
        upper_(stencil.upper),
        sub_(static_cast<std::size_t>(species_)),
        super_(static_cast<std::size_t>(species_)),
        pinv_(static_cast<std::size_t>(points_ * species_ * species_)),
        q_(static_cast<std::size_t>(points_ * species_ * species_)),
        z_(static_cast<std::size_t>(2 * species_ * field.state_size())),
        z_begin_(static_cast<std::size_t>(2 * species_)),
        z_end_(static_cast<std::size_t>(2 * species_)),
        capacitance_(static_cast<std::size_t>(4 * species_ * species_)),
        capacitance_inv_(static_cast<std::size_t>(4 * species_ * species_)),
        capacitance_work_(static_cast<std::size_t>(8 * species_ * species_)),
        block_(static_cast<std::size_t>(species_ * species_)),
        rhs_(static_cast<std::size_t>(field.state_size())),
        small_(static_cast<std::size_t>(4 * species_)) {}

 private:
  void Factor(double gamma) override {
    const bool transposed = side_ == PreconditionerSide::kTransposed;
    for (Index k = 0; k < species_; ++k) {
      // Mᵀ has the super-diagonal blocks of M below the diagonal and the sub-diagonal above.
      sub_[k] = -gamma * (transposed ? upper_[k] : lower_[k]);
      super_[k] = -gamma * (transposed ? lower_[k] : upper_[k]);
    }
    if (species_ == 2) {
      FactorBlocks<2>(gamma);
    } else {
      FactorBlocks<0>(gamma);
    }
    FactorCapacitance();
  }

  void SolveFactored(const double* r, double* x) override {
    if (species_ == 2) {
      Thomas<2>(r, x);
    } else {
      Thomas<0>(r, x);
    }
    const Index s = species_, n = points_ * species_;
    double* w = small_.data();
    double* c = small_.data() + 2 * s;
    for (Index k = 0; k < s; ++k) {
      w[k] = x[(points_ - 1) * s + k];
      w[s + k] = x[k];
    }
    for (Index row = 0; row < 2 * s; ++row) {
      double sum = 0.0;
      for (Index col = 0; col < 2 * s; ++col) sum += capacitance_inv_[col * 2 * s + row] * w[col];
      c[row] = sum;
    }
    for (Index col = 0; col < 2 * s; ++col) {
      const double* zc = z_.data() + col * n;
      const double ck = c[col];
      const Index end = z_end_[static_cast<std::size_t>(col)];
      for (Index j = z_begin_[static_cast<std::size_t>(col)]; j < end; ++j) x[j] -= ck * zc[j];
    }
  }

  // P_0 = D_0, P_i = D_i − sub·P_{i−1}⁻¹·super; keeps P_i⁻¹ and Q_i = P_i⁻¹·super.
  template <int kS>
  void FactorBlocks(double gamma) {
    const Index s = BlockSize<kS>(species_);
    const Index bb = s * s;
    double* block = block_.data();
    for (Index i = 0; i < points_; ++i) {
      DiagonalBlock(i, gamma, centre_.data(), block);
      if (i > 0) {
        const double* q_prev = q_.data() + (i - 1) * bb;
        for (Index c = 0; c < s; ++c) {
          for (Index row = 0; row < s; ++row) block[c * s + row] -= sub_[row] * q_prev[c * s + row];
        }
      }
      double* pinv = pinv_.data() + i * bb;
      InvertOrThrow<kS>(block, pinv, i, "periodic block-tridiagonal preconditioner");
      double* q = q_.data() + i * bb;
      for (Index c = 0; c < s; ++c) {
        for (Index row = 0; row < s; ++row) q[c * s + row] = pinv[c * s + row] * super_[c];
      }
    }
  }

  // x = T⁻¹ r (T: M without its corner blocks) by the factors of FactorBlocks. With kFlush, a
  // block whose entries all lie below `tiny` is set to zero: the columns of T⁻¹W decay
  // geometrically away from the ends, and would otherwise run through subnormal numbers (a
  // hundred times slower arithmetic) on long grids.
  template <int kS, bool kFlush = false>
  void Thomas(const double* r, double* x, double tiny = 0.0) const {
    const Index s = BlockSize<kS>(species_);
    const Index bb = s * s;
    double previous[kS > 0 ? kS : 1];
    double* residual = kS > 0 ? previous : small_.data();  // run-time S: the workspace
    for (Index i = 0; i < points_; ++i) {
      for (Index k = 0; k < s; ++k) {
        residual[k] = r[i * s + k] - (i > 0 ? sub_[k] * x[(i - 1) * s + k] : 0.0);
      }
      BlockTimes<kS>(s, pinv_.data() + i * bb, residual, x + i * s, false);
      if (kFlush) FlushBlock(s, x + i * s, tiny);
    }
    for (Index i = points_ - 2; i >= 0; --i) {
      BlockTimes<kS>(s, q_.data() + i * bb, x + (i + 1) * s, x + i * s, true);
      if (kFlush) FlushBlock(s, x + i * s, tiny);
    }
  }

  static void FlushBlock(Index s, double* x, double tiny) {
    for (Index k = 0; k < s; ++k) {
      if (!(std::abs(x[k]) < tiny)) return;
    }
    for (Index k = 0; k < s; ++k) x[k] = 0.0;
  }

  // Z = T⁻¹ W and K = I + Vᵀ Z inverted (NumericalError when K is singular: then M is).
  void FactorCapacitance() {
    const Index s = species_, n = points_ * species_, m = 2 * species_;
    for (Index col = 0; col < m; ++col) {
      std::fill(rhs_.begin(), rhs_.end(), 0.0);
      if (col < s) {
        rhs_[static_cast<std::size_t>(col)] = sub_[col];  // block 0 ← sub · x_{N−1}
      } else {
        rhs_[static_cast<std::size_t>((points_ - 1) * s + col - s)] = super_[col - s];
      }
      double* zc = z_.data() + col * n;
      // Below rounding relative to the column's source (|W| entries). The columns decay by a
      // fixed factor per point, so this bound sets the length of their non-zero ranges, which
      // every Solve streams through: W6 at N = 10⁴, 9% of n against 74% at 1e-200.
      const double tiny = 1e-20 * std::abs(col < s ? sub_[col] : super_[col - s]);
      if (s == 2) {
        Thomas<2, true>(rhs_.data(), zc, tiny);
      } else {
        Thomas<0, true>(rhs_.data(), zc, tiny);
      }
      // The non-zero range of the column, for Solve's x −= Z K⁻¹ Vᵀ y.
      Index begin = 0, end = n;
      while (begin < n && zc[begin] == 0.0) ++begin;
      while (end > begin && zc[end - 1] == 0.0) --end;
      z_begin_[static_cast<std::size_t>(col)] = begin;
      z_end_[static_cast<std::size_t>(col)] = end;
      for (Index row = 0; row < s; ++row) {
        capacitance_[col * m + row] = zc[(points_ - 1) * s + row] + (row == col ? 1.0 : 0.0);
        capacitance_[col * m + s + row] = zc[row] + (s + row == col ? 1.0 : 0.0);
      }
    }
    if (!InvertBlock<0>(m, capacitance_.data(), capacitance_inv_.data(),
                        capacitance_work_.data())) {
      throw NumericalError(
          "periodic block-tridiagonal preconditioner: the wrap-around capacitance matrix of " +
          field_.name() + " is singular or not finite (I − γJ is singular)");
    }
  }

  Vector lower_, centre_, upper_;
  std::vector<double> sub_, super_;     // −γ times the stencil's coefficients, by side
  std::vector<double> pinv_, q_;        // P_i⁻¹ and P_i⁻¹·super per point
  std::vector<double> z_;               // T⁻¹ W, n × 2S column-major
  std::vector<Index> z_begin_, z_end_;  // the non-zero range of each column of z_
  std::vector<double> capacitance_, capacitance_inv_, capacitance_work_;
  std::vector<double> block_, rhs_;
  mutable std::vector<double> small_;  // 4S: Thomas' run-time residual, then w and K⁻¹w
};

// Block Jacobi: x_i = (I − γ(diag(A)_i + R_i))⁻¹ r_i (transposed blocks on kTransposed).
class BlockJacobiPreconditioner final : public PointBlockPreconditioner {
 public:
  BlockJacobiPreconditioner(OperatorPlusPointwiseField& field, PreconditionerSide side)
      : PointBlockPreconditioner(field, side),
        diagonal_(field.state_size()),
        inverse_(static_cast<std::size_t>(points_ * species_ * species_)),
        block_(static_cast<std::size_t>(species_ * species_)) {
    field.op().Diagonal(diagonal_);
  }

 private:
  void Factor(double gamma) override {
    const Index bb = species_ * species_;
    for (Index i = 0; i < points_; ++i) {
      DiagonalBlock(i, gamma, diagonal_.data() + i * species_, block_.data());
      if (species_ == 2) {
        InvertOrThrow<2>(block_.data(), inverse_.data() + i * bb, i, "block-Jacobi preconditioner");
      } else {
        InvertOrThrow<0>(block_.data(), inverse_.data() + i * bb, i, "block-Jacobi preconditioner");
      }
    }
  }

  void SolveFactored(const double* r, double* x) override {
    const Index s = species_, bb = species_ * species_;
    for (Index i = 0; i < points_; ++i) {
      BlockTimes<0>(s, inverse_.data() + i * bb, r + i * s, x + i * s, false);
    }
  }

  Vector diagonal_;
  std::vector<double> inverse_;
  std::vector<double> block_;
};

}  // namespace

// ------------------------------------------------------------ LinearOperator

void LinearOperator::Diagonal(VectorRef out) const {
  Require(out.size() == size(), name() + ": Diagonal: out has the wrong length");
  Vector unit = Vector::Zero(size());
  Vector column(size());
  for (Index j = 0; j < size(); ++j) {
    unit[j] = 1.0;
    Apply(unit, column);
    out[j] = column[j];
    unit[j] = 0.0;
  }
}

// ------------------------------------------------------------ PeriodicDiffusion1D

PeriodicDiffusion1D::PeriodicDiffusion1D(Index points, std::vector<double> diffusion_per_species,
                                         double length)
    : points_(points),
      species_(static_cast<Index>(diffusion_per_species.size())),
      dx_(0.0),
      diffusion_(std::move(diffusion_per_species)) {
  Require(points >= 3,
          "PeriodicDiffusion1D: points must be at least 3, got " + std::to_string(points));
  Require(species_ >= 1,
          "PeriodicDiffusion1D: give the diffusion coefficient of at least one "
          "species");
  Require(std::isfinite(length) && length > 0.0,
          "PeriodicDiffusion1D: length must be positive and finite");
  dx_ = length / static_cast<double>(points);
  coefficients_.resize(species_);
  for (Index s = 0; s < species_; ++s) {
    const double d = diffusion_[static_cast<std::size_t>(s)];
    Require(std::isfinite(d) && d >= 0.0,
            "PeriodicDiffusion1D: the diffusion coefficient of "
            "species " +
                std::to_string(s) + " must be finite and ≥ 0");
    coefficients_[s] = d / (dx_ * dx_);
  }
}

std::string PeriodicDiffusion1D::name() const {
  return "periodic_diffusion_1d " + std::to_string(points_) + "x" + std::to_string(species_);
}

void PeriodicDiffusion1D::Check(const char* method, Index x_size, Index out_size) const {
  if (x_size == size() && out_size == size()) return;
  throw ConfigError(name() + ": " + method + ": x and out must have length " +
                    std::to_string(size()) + ", got " + std::to_string(x_size) + " and " +
                    std::to_string(out_size));
}

void PeriodicDiffusion1D::Apply(ConstVectorRef x, VectorRef out) const {
  Check("Apply", x.size(), out.size());
  const Index s = species_, n = size();
  const double* in = x.data();
  double* o = out.data();
  const double* c = coefficients_.data();
  // The two wrap-around points, then the interior as one branch-free loop.
  for (Index k = 0; k < s; ++k) {
    o[k] = c[k] * (in[s + k] - 2.0 * in[k] + in[n - s + k]);
    o[n - s + k] = c[k] * (in[k] - 2.0 * in[n - s + k] + in[n - 2 * s + k]);
  }
  for (Index i = 1; i < points_ - 1; ++i) {
    const Index base = i * s;
    for (Index k = 0; k < s; ++k) {
      o[base + k] = c[k] * (in[base + s + k] - 2.0 * in[base + k] + in[base - s + k]);
    }
  }
}

std::unique_ptr<LinearOperator> PeriodicDiffusion1D::Clone() const {
  return std::make_unique<PeriodicDiffusion1D>(*this);
}

std::optional<PeriodicStencil1D> PeriodicDiffusion1D::Stencil() const {
  PeriodicStencil1D stencil;
  stencil.points = points_;
  stencil.lower = coefficients_;
  stencil.upper = coefficients_;
  stencil.centre = -2.0 * coefficients_;
  return stencil;
}

void PeriodicDiffusion1D::Diagonal(VectorRef out) const {
  Require(out.size() == size(), name() + ": Diagonal: out has the wrong length");
  for (Index i = 0; i < points_; ++i) out.segment(i * species_, species_) = -2.0 * coefficients_;
}

// ------------------------------------------------------------ OperatorPlusPointwiseField

OperatorPlusPointwiseField::OperatorPlusPointwiseField(std::unique_ptr<LinearOperator> op,
                                                       std::unique_ptr<VectorField> pointwise,
                                                       Index species)
    : op_(std::move(op)), pointwise_(std::move(pointwise)), species_(species) {
  Require(op_ != nullptr && pointwise_ != nullptr,
          "OperatorPlusPointwiseField: the operator and the pointwise field are required");
  Require(species >= 1,
          "OperatorPlusPointwiseField: species must be at least 1, got " + std::to_string(species));
  Require(op_->size() == pointwise_->state_size(),
          "OperatorPlusPointwiseField: operator '" + op_->name() + "' has size " +
              std::to_string(op_->size()) + " but pointwise field '" + pointwise_->name() +
              "' has state size " + std::to_string(pointwise_->state_size()));
  Require(op_->size() > 0 && op_->size() % species == 0,
          "OperatorPlusPointwiseField: the state size " + std::to_string(op_->size()) +
              " is not a positive multiple of species = " + std::to_string(species));
  if (const std::optional<PeriodicStencil1D> stencil = op_->Stencil()) {
    Require(stencil->species() == species && stencil->lower.size() == species &&
                stencil->upper.size() == species && stencil->points * species == op_->size(),
            "OperatorPlusPointwiseField: the stencil of '" + op_->name() +
                "' does not match species = " + std::to_string(species));
  }
  scratch_.resize(op_->size());
}

void OperatorPlusPointwiseField::SetCostRecorder(std::shared_ptr<OperatorFieldCosts> recorder) {
  costs_ = std::move(recorder);
}

std::string OperatorPlusPointwiseField::name() const {
  return op_->name() + " + " + pointwise_->name();
}

void OperatorPlusPointwiseField::AddOperator(ConstVectorRef x, VectorRef out, bool transpose) {
  const ScopedCost cost = OperatorCost(costs_);
  if (transpose) {
    op_->ApplyTranspose(x, scratch_);
  } else {
    op_->Apply(x, scratch_);
  }
  out += scratch_;
}

void OperatorPlusPointwiseField::F(double t, ConstVectorRef z, ConstVectorRef theta,
                                   VectorRef out) {
  CheckState("F", "out", out.size());
  {
    const ScopedCost cost = PointwiseCost(costs_);
    pointwise_->F(t, z, theta, out);
  }
  AddOperator(z, out, false);
}

void OperatorPlusPointwiseField::Jvp(double t, ConstVectorRef z, ConstVectorRef theta,
                                     ConstVectorRef v, VectorRef out) {
  CheckState("Jvp", "out", out.size());
  {
    const ScopedCost cost = PointwiseCost(costs_);
    pointwise_->Jvp(t, z, theta, v, out);
  }
  AddOperator(v, out, false);
}

void OperatorPlusPointwiseField::VjpState(double t, ConstVectorRef z, ConstVectorRef theta,
                                          ConstVectorRef a, VectorRef out) {
  CheckState("VjpState", "out", out.size());
  {
    const ScopedCost cost = PointwiseCost(costs_);
    pointwise_->VjpState(t, z, theta, a, out);
  }
  AddOperator(a, out, true);
}

void OperatorPlusPointwiseField::VjpParams(double t, ConstVectorRef z, ConstVectorRef theta,
                                           ConstVectorRef a, VectorRef grad) {
  const ScopedCost cost = PointwiseCost(costs_);
  pointwise_->VjpParams(t, z, theta, a, grad);
}

void OperatorPlusPointwiseField::VjpParamsSum(const double* times, ConstMatrixRef z,
                                              ConstVectorRef theta, ConstMatrixRef a,
                                              VectorRef grad) {
  const ScopedCost cost = PointwiseCost(costs_);
  pointwise_->VjpParamsSum(times, z, theta, a, grad);
}

void OperatorPlusPointwiseField::Vjp(double t, ConstVectorRef z, ConstVectorRef theta,
                                     ConstVectorRef a, VectorRef a_state, VectorRef grad) {
  CheckState("Vjp", "a_state", a_state.size());
  {
    const ScopedCost cost = PointwiseCost(costs_);
    pointwise_->Vjp(t, z, theta, a, a_state, grad);
  }
  AddOperator(a, a_state, true);
}

void OperatorPlusPointwiseField::FSaving(double t, ConstVectorRef z, ConstVectorRef theta,
                                         VectorRef out, double* saved) {
  CheckState("FSaving", "out", out.size());
  {
    const ScopedCost cost = PointwiseCost(costs_);
    pointwise_->FSaving(t, z, theta, out, saved);
  }
  AddOperator(z, out, false);
}

void OperatorPlusPointwiseField::VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta,
                                          const double* saved, ConstVectorRef a, VectorRef a_state,
                                          VectorRef grad) {
  CheckState("VjpSaved", "a_state", a_state.size());
  {
    const ScopedCost cost = PointwiseCost(costs_);
    pointwise_->VjpSaved(t, z, theta, saved, a, a_state, grad);
  }
  AddOperator(a, a_state, true);
}

void OperatorPlusPointwiseField::TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta,
                                                VectorRef out) {
  pointwise_->TimeDerivative(t, z, theta, out);  // A z does not depend on t
}

void OperatorPlusPointwiseField::Linearize(double t, ConstVectorRef z, ConstVectorRef theta,
                                           double* linearization) {
  CheckState("Linearize", "z", z.size());
  CheckParams("Linearize", theta.size());
  const ScopedCost cost = PointwiseCost(costs_);
  pointwise_->JacobianBlocks(t, z, theta, species_, linearization);
}

void OperatorPlusPointwiseField::VjpStateLinearized(const double* linearization, ConstVectorRef a,
                                                    VectorRef out) {
  CheckState("VjpStateLinearized", "a", a.size());
  CheckState("VjpStateLinearized", "out", out.size());
  const Index n = state_size(), s = species_;
  if (s == 2) {
    // out_i = R_iᵀ a_i, R_i column-major: out_i[c] = Σ_row R_i(row, c) a_i[row].
    for (Index i = 0; i < n; i += 2) {
      const double* r = linearization + 2 * i;
      out[i] = r[0] * a[i] + r[1] * a[i + 1];
      out[i + 1] = r[2] * a[i] + r[3] * a[i + 1];
    }
  } else {
    for (Index i = 0; i < n; i += s) {
      const double* r = linearization + i * s;
      for (Index c = 0; c < s; ++c) {
        double sum = 0.0;
        for (Index row = 0; row < s; ++row) sum += r[c * s + row] * a[i + row];
        out[i + c] = sum;
      }
    }
  }
  AddOperator(a, out, true);
}

std::unique_ptr<VectorField> OperatorPlusPointwiseField::Clone() const {
  auto copy =
      std::make_unique<OperatorPlusPointwiseField>(op_->Clone(), pointwise_->Clone(), species_);
  copy->SetCostRecorder(costs_);
  return copy;
}

std::unique_ptr<Preconditioner> OperatorPlusPointwiseField::MakePreconditioner(
    PreconditionerSide side) {
  if (const std::optional<PeriodicStencil1D> stencil = op_->Stencil()) {
    return std::make_unique<PeriodicTridiagonalPreconditioner>(*this, side, *stencil);
  }
  return std::make_unique<BlockJacobiPreconditioner>(*this, side);
}

Index OperatorPlusPointwiseField::JacobianHalfBandwidth() const {
  const Index band = op_->HalfBandwidth();
  return band < 0 ? -1 : std::max(band, species_ - 1);
}

}  // namespace snode
