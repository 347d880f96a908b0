#pragma once
// Restarted GMRES(m) of bptt's implicit stages (Newton corrections and the transposed adjoint
// solves): modified Gram–Schmidt (two passes) and Givens rotations. The workspace is kept between
// calls so the step loops do not allocate once it has its size. Not thread-safe.
//
// Preconditioned solves (SolvePreconditioned) are right-preconditioned, A M⁻¹ u = b, x = M⁻¹ u:
// the stopping test stays on the true residual ‖b − A x‖ ≤ rtol‖b‖, which the transposed stage
// solves need (their residual goes straight into the gradient).

#include <algorithm>
#include <cmath>

#include "core/vector_field.hpp"

namespace snode {
namespace detail {

class BpttGmres {
 public:
  // Solves A x = b from x = 0 until ‖b − A x‖ ≤ rtol·‖b‖ or the restarts run out; apply(v, out)
  // writes A v. Returns the relative residual reached; *applies counts products.
  template <class Apply>
  double Solve(Apply&& apply, const Vector& b, Vector& x, double rtol, int max_dim, long* applies) {
    const Index n = b.size();
    const int m = static_cast<int>(std::max<Index>(1, std::min<Index>(max_dim, n)));
    Resize(n, m);
    x.setZero();
    const double b_norm = b.norm();
    if (b_norm == 0.0) return 0.0;
    double relative = 1.0;
    r_ = b;
    for (int restart = 0; restart <= kMaxRestarts; ++restart) {
      if (restart > 0) {
        apply(x, w_);
        ++*applies;
        r_ = b - w_;
      }
      const double beta = r_.norm();
      relative = beta / b_norm;
      if (relative <= rtol) return relative;
      v_.col(0) = r_ / beta;
      g_.setZero();
      g_(0) = beta;
      h_.setZero();
      const int k = Arnoldi(apply, m, rtol * b_norm, applies);
      if (k == 0) break;
      y_.head(k) = g_.head(k);
      h_.topLeftCorner(k, k).triangularView<Eigen::Upper>().solveInPlace(y_.head(k));
      x.noalias() += v_.leftCols(k) * y_.head(k);
    }
    apply(x, w_);
    ++*applies;
    r_ = b - w_;
    return r_.norm() / b_norm;
  }

  // The same for A M⁻¹ u = b, then x = M⁻¹ u; precondition(v, out) writes M⁻¹ v. Returns the
  // relative residual of A x = b; *applies counts products with A.
  template <class Apply, class Precondition>
  double SolvePreconditioned(Apply&& apply, Precondition&& precondition, const Vector& b, Vector& x,
                             double rtol, int max_dim, long* applies) {
    if (z_.size() != b.size()) {
      z_.resize(b.size());
      u_.resize(b.size());
    }
    auto right = [&](ConstVectorRef v, VectorRef out) {
      precondition(v, z_);
      apply(z_, out);
    };
    const double relative = Solve(right, b, u_, rtol, max_dim, applies);
    precondition(u_, x);
    return relative;
  }

  // Arnoldi iterations (Krylov iterations) since construction.
  long iterations() const { return iterations_; }

 private:
  static constexpr int kMaxRestarts = 50;

  void Resize(Index n, int m) {
    if (v_.rows() == n && v_.cols() == m + 1) return;
    v_.resize(n, m + 1);
    h_.resize(m + 1, m);
    cs_.resize(m);
    sn_.resize(m);
    g_.resize(m + 1);
    y_.resize(m);
    w_.resize(n);
    r_.resize(n);
  }

  // One Arnoldi cycle from v_.col(0), with the Givens rotations applied to h_ and g_ as it goes;
  // stops early when the residual estimate |g_(j+1)| reaches `target`. Returns the dimension of
  // the Krylov space to solve in.
  template <class Apply>
  int Arnoldi(Apply& apply, int m, double target, long* applies) {
    int k = 0;
    for (int j = 0; j < m; ++j) {
      apply(v_.col(j), w_);
      ++*applies;
      ++iterations_;
      for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i <= j; ++i) {
          const double hij = v_.col(i).dot(w_);
          h_(i, j) += hij;
          w_.noalias() -= hij * v_.col(i);
        }
      }
      const double h_next = w_.norm();
      for (int i = 0; i < j; ++i) {
        const double temp = cs_(i) * h_(i, j) + sn_(i) * h_(i + 1, j);
        h_(i + 1, j) = -sn_(i) * h_(i, j) + cs_(i) * h_(i + 1, j);
        h_(i, j) = temp;
      }
      const double denom = std::hypot(h_(j, j), h_next);
      k = j + 1;
      if (denom == 0.0) return j;  // singular Krylov matrix: keep what we have
      cs_(j) = h_(j, j) / denom;
      sn_(j) = h_next / denom;
      h_(j, j) = denom;
      g_(j + 1) = -sn_(j) * g_(j);
      g_(j) = cs_(j) * g_(j);
      if (h_next == 0.0 || std::abs(g_(j + 1)) <= target) break;
      v_.col(j + 1) = w_ / h_next;
    }
    return k;
  }

  Matrix v_, h_;
  Vector cs_, sn_, g_, y_, w_, r_;
  Vector u_, z_;  // SolvePreconditioned: the preconditioned unknown and M⁻¹ v
  long iterations_ = 0;
};

}  // namespace detail
}  // namespace snode
