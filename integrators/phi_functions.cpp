#include "integrators/phi_functions.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <unsupported/Eigen/MatrixFunctions>

#include "core/errors.hpp"

namespace snode {

namespace {

// A remainder this small relative to ‖A v_j‖ means A v_j lies in the current Krylov space to
// working precision, so the projection is exact (happy breakdown).
constexpr double kBreakdownTol = 1e-14;
// Selective re-orthogonalisation: repeat Gram–Schmidt when it cancelled more than this fraction
// of the norm (Kahan–Parlett "twice is enough").
constexpr double kReorthFactor = 0.7;
constexpr int kMaxPhiOrder = 8;

}  // namespace

Vector PhiDense(const Matrix& a, const Vector& v, int k) {
  Require(a.rows() == a.cols(), "PhiDense: A must be square, got " + std::to_string(a.rows()) +
                                    "x" + std::to_string(a.cols()));
  Require(v.size() == a.rows(), "PhiDense: v has length " + std::to_string(v.size()) + ", A has " +
                                    std::to_string(a.rows()) + " rows");
  Require(k >= 0, "PhiDense: k must be >= 0, got " + std::to_string(k));
  const Index n = a.rows();
  if (k == 0) return a.exp() * v;
  // exp([[A, v, 0..], [0, K_k]]) applied to e_{n+k}: the ODE x' = M x from the last unit vector
  // feeds t^{k−1}/(k−1)! into y' = A y + v·(·), whose value at 1 is φ_k(A)v.
  Matrix m = Matrix::Zero(n + k, n + k);
  m.topLeftCorner(n, n) = a;
  m.block(0, n, n, 1) = v;
  for (int i = 0; i + 1 < k; ++i) m(n + i, n + i + 1) = 1.0;
  const Matrix e = m.exp();
  return e.block(0, n + k - 1, n, 1);
}

void KrylovPhiOptions::Validate() const {
  Require(max_dim > 0,
          "KrylovPhiOptions: max_dim must be positive, got " + std::to_string(max_dim));
  Require(max_substeps > 0,
          "KrylovPhiOptions: max_substeps must be positive, got " + std::to_string(max_substeps));
}

PhiReport& PhiReport::operator+=(const PhiReport& other) {
  if (other.status == PhiStatus::kNonFinite || status == PhiStatus::kNonFinite) {
    status = PhiStatus::kNonFinite;
  } else if (other.status == PhiStatus::kNotConverged) {
    status = PhiStatus::kNotConverged;
  }
  sweeps += other.sweeps;
  arnoldi_iters += other.arnoldi_iters;
  operator_applications += other.operator_applications;
  krylov_dim_max = std::max(krylov_dim_max, other.krylov_dim_max);
  krylov_dim_sum += other.krylov_dim_sum;
  error_estimate += other.error_estimate;
  return *this;
}

KrylovPhiEvaluator::KrylovPhiEvaluator(const KrylovPhiOptions& options) : options_(options) {
  options_.Validate();
}

void KrylovPhiEvaluator::Reserve(Index n, int q) {
  const Index m_max = options_.max_dim;
  if (basis_.rows() != n || basis_.cols() != m_max + 1) {
    basis_.resize(n, m_max + 1);
    work_.resize(n);
    w_current_.resize(n);
    residual_.resize(n);
  }
  // Entries below the subdiagonal are never written by Arnoldi: they must stay zero.
  if (hessenberg_.rows() != m_max + 1) hessenberg_.setZero(m_max + 1, m_max);
  if (augmented_.rows() < m_max + q) {
    augmented_.resize(m_max + q, m_max + q);
    expm_.resize(m_max + q, m_max + q);
  }
  n_ = n;
}

double KrylovPhiEvaluator::WeightedNorm(ConstVectorRef x, ConstVectorRef weights) const {
  if (weights.size() == 0) return x.norm();
  return std::sqrt(x.cwiseProduct(weights).squaredNorm() / static_cast<double>(x.size()));
}

double KrylovPhiEvaluator::StartSweep(ConstVectorRef u) {
  const double beta = u.norm();
  basis_.col(0) = u / beta;
  breakdown_ = false;
  return beta;
}

bool KrylovPhiEvaluator::ArnoldiStep(const LinearOperator& apply_a, int j, PhiReport& report) {
  apply_a(basis_.col(j), work_);
  ++report.operator_applications;
  ++report.arnoldi_iters;
  const double norm_before = work_.norm();
  if (!std::isfinite(norm_before)) return false;
  // Modified Gram–Schmidt.
  for (int i = 0; i <= j; ++i) {
    const double h = basis_.col(i).dot(work_);
    hessenberg_(i, j) = h;
    work_.noalias() -= h * basis_.col(i);
  }
  double norm_after = work_.norm();
  if (norm_after < kReorthFactor * norm_before) {
    for (int i = 0; i <= j; ++i) {
      const double c = basis_.col(i).dot(work_);
      hessenberg_(i, j) += c;
      work_.noalias() -= c * basis_.col(i);
    }
    norm_after = work_.norm();
  }
  hessenberg_(j + 1, j) = norm_after;
  if (j + 1 >= n_ || norm_after <= kBreakdownTol * norm_before) {
    breakdown_ = true;
    hessenberg_(j + 1, j) = 0.0;
  } else {
    basis_.col(j + 1) = work_ / norm_after;
  }
  return true;
}

void KrylovPhiEvaluator::ExpAugmented(int m, double sigma, int q) {
  const int s = m + q;
  auto aug = augmented_.topLeftCorner(s, s);
  aug.setZero();
  aug.topLeftCorner(m, m) = sigma * hessenberg_.topLeftCorner(m, m);
  aug(0, m) = 1.0;
  for (int i = 0; i + 1 < q; ++i) aug(m + i, m + i + 1) = 1.0;
  expm_.topLeftCorner(s, s) = aug.exp();
}

void KrylovPhiEvaluator::CheckAffineArguments(ConstVectorRef v, ConstVectorRef taus, double tol,
                                              ConstVectorRef weights, MatrixRef out) {
  const Index n = v.size();
  Require(n > 0, "KrylovPhiEvaluator::SolveAffine: v is empty");
  Require(taus.size() > 0, "KrylovPhiEvaluator::SolveAffine: no output times");
  Require(out.rows() == n && out.cols() == taus.size(), [&] {
    return "KrylovPhiEvaluator::SolveAffine: out must be " + std::to_string(n) + "x" +
           std::to_string(taus.size());
  });
  Require(weights.size() == 0 || weights.size() == n, [&] {
    return "KrylovPhiEvaluator::SolveAffine: weights must be empty or of length " +
           std::to_string(n);
  });
  Require(std::isfinite(tol) && tol > 0.0, "KrylovPhiEvaluator::SolveAffine: tol must be > 0");
  for (Index j = 0; j < taus.size(); ++j) {
    Require(std::isfinite(taus[j]) && taus[j] > (j == 0 ? 0.0 : taus[j - 1]),
            "KrylovPhiEvaluator::SolveAffine: taus must be positive and strictly increasing");
  }
}

PhiReport KrylovPhiEvaluator::SolveAffine(const LinearOperator& apply_a, ConstVectorRef v,
                                          ConstVectorRef taus, double tol, ConstVectorRef weights,
                                          MatrixRef out) {
  CheckAffineArguments(v, taus, tol, weights, out);
  Reserve(v.size(), 2);
  PhiReport report;
  if (!v.allFinite()) {
    report.status = PhiStatus::kNonFinite;
    return report;
  }
  const double tau_end = taus[taus.size() - 1];
  w_current_.setZero();
  double s = 0.0;  // current substep start
  Index next_output = 0;
  int substeps = 0;
  while (next_output < taus.size()) {
    if (++substeps > options_.max_substeps) {
      report.status = PhiStatus::kNotConverged;
      return report;
    }
    // Residual of w' = A w + v at s: the vector the next φ_1 acts on.
    if (s == 0.0) {
      residual_ = v;
    } else {
      apply_a(w_current_, residual_);
      ++report.operator_applications;
      residual_ += v;
      if (!residual_.allFinite()) {
        report.status = PhiStatus::kNonFinite;
        return report;
      }
    }
    const double beta = residual_.norm();
    if (beta == 0.0) {  // w stays constant
      for (; next_output < taus.size(); ++next_output) out.col(next_output) = w_current_;
      break;
    }
    const Substep substep = FitSubstep(apply_a, beta, tau_end - s, tau_end, tol, weights, report);
    if (report.status != PhiStatus::kConverged) return report;
    report.krylov_dim_max = std::max<long>(report.krylov_dim_max, substep.m);
    report.krylov_dim_sum += substep.m;
    report.error_estimate += substep.err;
    next_output = TakeSubstep(substep, beta, tau_end, taus, s, next_output, out);
  }
  if (!out.allFinite()) report.status = PhiStatus::kNonFinite;
  return report;
}

double KrylovPhiEvaluator::SubstepError(int m, double beta, double sigma,
                                        double next_basis_norm) const {
  // Error of σ φ_1(σA)u ≈ β σ² h_{m+1,m} (e_mᵀ φ_2(σH) e₁) v_{m+1}.
  return beta * sigma * sigma * hessenberg_(m, m - 1) * std::abs(expm_(m - 1, m + 1)) *
         next_basis_norm;
}

KrylovPhiEvaluator::Substep KrylovPhiEvaluator::FitSubstep(const LinearOperator& apply_a,
                                                           double beta, double remaining,
                                                           double tau_end, double tol,
                                                           ConstVectorRef weights,
                                                           PhiReport& report) {
  StartSweep(residual_);
  ++report.sweeps;
  // Grow m until the estimate for the whole remaining interval meets its share of tol.
  Substep substep{0, remaining, 0.0};
  for (int j = 0; j < options_.max_dim; ++j) {
    if (!ArnoldiStep(apply_a, j, report)) {
      report.status = PhiStatus::kNonFinite;
      return substep;
    }
    substep.m = j + 1;
    ExpAugmented(substep.m, substep.sigma, 2);
    if (breakdown_) {
      substep.err = 0.0;
      return substep;
    }
    substep.err =
        SubstepError(substep.m, beta, substep.sigma, WeightedNorm(basis_.col(substep.m), weights));
    if (!std::isfinite(substep.err)) {
      report.status = PhiStatus::kNonFinite;
      return substep;
    }
    if (substep.err <= tol * substep.sigma / tau_end) return substep;
  }
  if (!ShrinkSubstep(beta, tau_end, tol, weights, substep)) {
    report.status = PhiStatus::kNotConverged;
  }
  return substep;
}

bool KrylovPhiEvaluator::ShrinkSubstep(double beta, double tau_end, double tol,
                                       ConstVectorRef weights, Substep& substep) {
  // m_max reached: shrink the substep on the same basis (err ~ σ^{m+1}, allowance ~ σ).
  const int m = substep.m;
  const double vnorm = WeightedNorm(basis_.col(m), weights);
  bool fits = false;
  for (int attempt = 0; attempt < 60 && !fits; ++attempt) {
    const double ratio = substep.err / (tol * substep.sigma / tau_end);
    const double factor =
        std::clamp(0.9 * std::pow(ratio, -1.0 / static_cast<double>(m)), 0.05, 0.9);
    substep.sigma *= factor;
    ExpAugmented(m, substep.sigma, 2);
    substep.err = SubstepError(m, beta, substep.sigma, vnorm);
    fits = substep.err <= tol * substep.sigma / tau_end;
  }
  return fits && substep.sigma > 1e-15 * tau_end;
}

Index KrylovPhiEvaluator::TakeSubstep(const Substep& substep, double beta, double tau_end,
                                      ConstVectorRef taus, double& s, Index next_output,
                                      MatrixRef out) {
  const int m = substep.m;
  const bool last = substep.sigma >= tau_end - s;
  const double s_end = last ? tau_end : s + substep.sigma;
  // Outputs strictly inside (s, s_end) come from this basis with their own σ' = τ_j − s.
  bool expm_holds_sigma = true;
  while (next_output < taus.size() && taus[next_output] < s_end) {
    const double delta = taus[next_output] - s;
    ExpAugmented(m, delta, 2);
    expm_holds_sigma = false;
    out.col(next_output).noalias() =
        w_current_ + (beta * delta) * (basis_.leftCols(m) * expm_.block(0, m, m, 1));
    ++next_output;
  }
  if (!expm_holds_sigma) ExpAugmented(m, substep.sigma, 2);
  w_current_.noalias() += (beta * substep.sigma) * (basis_.leftCols(m) * expm_.block(0, m, m, 1));
  s = s_end;
  while (next_output < taus.size() && taus[next_output] <= s) {
    out.col(next_output) = w_current_;
    ++next_output;
  }
  return next_output;
}

PhiReport KrylovPhiEvaluator::Phi(const LinearOperator& apply_a, double tau, ConstVectorRef v,
                                  int p, double tol, ConstVectorRef weights, MatrixRef out) {
  const Index n = v.size();
  Require(n > 0, "KrylovPhiEvaluator::Phi: v is empty");
  Require(p >= 1 && p <= kMaxPhiOrder,
          "KrylovPhiEvaluator::Phi: p must be in 1.." + std::to_string(kMaxPhiOrder));
  Require(out.rows() == n && out.cols() == p,
          "KrylovPhiEvaluator::Phi: out must be " + std::to_string(n) + "x" + std::to_string(p));
  Require(weights.size() == 0 || weights.size() == n,
          "KrylovPhiEvaluator::Phi: weights must be empty or of length " + std::to_string(n));
  Require(std::isfinite(tol) && tol > 0.0, "KrylovPhiEvaluator::Phi: tol must be > 0");
  Require(std::isfinite(tau), "KrylovPhiEvaluator::Phi: tau must be finite");
  Reserve(n, p + 1);
  PhiReport report;
  if (!v.allFinite()) {
    report.status = PhiStatus::kNonFinite;
    return report;
  }
  const double beta = v.norm();
  if (beta == 0.0) {
    out.setZero();
    return report;
  }
  StartSweep(v);
  report.sweeps = 1;
  report.status = PhiStatus::kNotConverged;
  int m = 0;
  double err = 0.0;
  for (int j = 0; j < options_.max_dim; ++j) {
    if (!ArnoldiStep(apply_a, j, report)) {
      report.status = PhiStatus::kNonFinite;
      return report;
    }
    m = j + 1;
    ExpAugmented(m, tau, p + 1);
    if (breakdown_) {
      err = 0.0;
      report.status = PhiStatus::kConverged;
      break;
    }
    // err_k ≈ β |τ| h_{m+1,m} |e_mᵀ φ_{k+1}(τH) e₁| ‖v_{m+1}‖_W, k = 1..p.
    double worst = 0.0;
    for (int k = 1; k <= p; ++k) worst = std::max(worst, std::abs(expm_(m - 1, m + k)));
    err =
        beta * std::abs(tau) * hessenberg_(m, m - 1) * worst * WeightedNorm(basis_.col(m), weights);
    if (!std::isfinite(err)) {
      report.status = PhiStatus::kNonFinite;
      return report;
    }
    if (err <= tol) {
      report.status = PhiStatus::kConverged;
      break;
    }
  }
  for (int k = 1; k <= p; ++k) {
    out.col(k - 1).noalias() = beta * (basis_.leftCols(m) * expm_.block(0, m + k - 1, m, 1));
  }
  report.krylov_dim_max = m;
  report.krylov_dim_sum = m;
  report.error_estimate = err;
  if (!out.allFinite()) report.status = PhiStatus::kNonFinite;
  return report;
}

}  // namespace snode
