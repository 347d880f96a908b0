#pragma once
// φ-functions of a matrix-free linear operator, for exponential integrators.
//
//   φ_0(x) = eˣ,   φ_k(x) = ∫₀¹ e^{(1−s)x} s^{k−1}/(k−1)! ds,   φ_{k+1}(x) = (φ_k(x) − 1/k!)/x,
//   so φ_1(x) = (eˣ − 1)/x and φ_2(x) = (eˣ − 1 − x)/x².
//
// KrylovPhiEvaluator computes φ_k(τA)v using only products y = A x (for an ODE field, the JVP
// y = (∂f/∂z)·x). Arnoldi with modified Gram–Schmidt (plus one selective re-orthogonalisation
// pass, "twice is enough") builds an orthonormal basis V_m of K_m(A, v) and the Hessenberg matrix
// H_m = V_mᵀ A V_m; then φ_k(τA)v ≈ β V_m φ_k(τH_m) e₁ with β = ‖v‖₂. The small φ_k(τH_m)e₁ come
// from ONE exponential of the augmented matrix (Sidje 1998, Expokit)
//
//   M = [ τH_m  e₁  0 … 0 ]      exp(M)[0:m, m+k−1] = φ_k(τH_m) e₁,  k = 1..q,
//       [  0     K_q      ]      K_q the q×q upper shift (ones on the superdiagonal),
//
// evaluated with Eigen's Padé scaling-and-squaring (unsupported/Eigen/MatrixFunctions).
//
// Krylov dimension: m grows one vector at a time until the a-posteriori estimate (Saad 1992)
//   err_k ≈ β τ h_{m+1,m} |e_mᵀ φ_{k+1}(τH_m) e₁| ‖v_{m+1}‖_W
// is below the tolerance (in the spirit of KIOPS, Gaudreault, Rainwater & Tokman 2018), or a
// happy breakdown (h_{m+1,m} ≈ 0, or m = dimension) makes the projection exact, or m reaches
// max_dim. ‖x‖_W is the weighted RMS norm sqrt(Σ (w_i x_i)² / N) when weights are given (for
// example SUNDIALS-style error weights 1/(rtol|z_i| + atol)), else the Euclidean norm.
//
// Ownership: the evaluator owns its workspace (basis, Hessenberg and augmented matrices), sized
// for the largest dimension seen; calls with the same dimension do not reallocate (Eigen's matrix
// exponential still allocates a few (m+3)² temporaries per call). Not thread-safe: one evaluator
// per thread. The operator is borrowed for the duration of a call.

#include <functional>

#include "core/types.hpp"

namespace snode {

// y = A x, with x and y of the same length (the evaluator's problem dimension).
using LinearOperator = std::function<void(ConstVectorRef x, VectorRef y)>;

// Dense reference φ_k(A) v for k ≥ 0, from the exponential of the (n+k)×(n+k) augmented matrix
// [[A, v, 0], [0, K_k]] (Al-Mohy & Higham 2011, Thm 2.1). For tests; costs O((n+k)³).
// Throws ConfigError when A is not square, sizes differ or k < 0.
Vector PhiDense(const Matrix& a, const Vector& v, int k);

struct KrylovPhiOptions {
  int max_dim = 40;         // m_max: largest Krylov dimension per Arnoldi sweep
  int max_substeps = 1000;  // SolveAffine: largest number of τ-substeps before giving up
  // Throws ConfigError naming the offending field.
  void Validate() const;
};

enum class PhiStatus {
  kConverged,     // the estimate met the tolerance (or the projection is exact)
  kNotConverged,  // Phi: m_max reached; SolveAffine: max_substeps reached. Output is a best effort.
  kNonFinite,     // the operator or v produced NaN/Inf; output is undefined
};

// What one call did. Accumulate across calls with +=.
struct PhiReport {
  PhiStatus status = PhiStatus::kConverged;
  long sweeps = 0;                 // Arnoldi sweeps (one per substep)
  long arnoldi_iters = 0;          // basis vectors built (= operator applications inside Arnoldi)
  long operator_applications = 0;  // every y = A x, incl. the residual A w + v between substeps
  long krylov_dim_max = 0;         // largest m over the sweeps
  long krylov_dim_sum = 0;         // Σ m over the sweeps (mean = sum / sweeps)
  double error_estimate = 0.0;  // weighted Krylov error estimate of the result (Σ over substeps)
  PhiReport& operator+=(const PhiReport& other);
};

class KrylovPhiEvaluator {
 public:
  explicit KrylovPhiEvaluator(const KrylovPhiOptions& options = KrylovPhiOptions());

  // Solves w' = A w + v, w(0) = 0, at 0 < τ_1 < … < τ_J, i.e. out.col(j) = τ_j φ_1(τ_j A) v.
  // Several τ share one Krylov basis. When m_max vectors do not reach the tolerance for the
  // whole remaining interval, the interval is split into substeps (as in Expokit/phipm):
  //   w(s + σ) = w(s) + σ φ_1(σA) (A w(s) + v),
  // with σ chosen from the estimate so that the per-substep error is ≤ tol·σ/τ_J (total ≤ tol).
  //
  // Inputs: apply_a: y = A x on length-N vectors; v (N); taus (J ≥ 1, strictly increasing, > 0);
  // tol > 0: bound on the weighted error of every output; weights: N non-negative weights, or
  // empty for the Euclidean norm. Output: out (N × J). Throws ConfigError on bad arguments and
  // rethrows what apply_a throws.
  PhiReport SolveAffine(const LinearOperator& apply_a, ConstVectorRef v, ConstVectorRef taus,
                        double tol, ConstVectorRef weights, MatrixRef out);

  // out.col(k−1) = φ_k(τA) v for k = 1..p (out is N × p, 1 ≤ p ≤ 8), from a single Arnoldi sweep
  // (no substeps): kNotConverged when max(err_k) > tol at m_max. Same conventions as above.
  PhiReport Phi(const LinearOperator& apply_a, double tau, ConstVectorRef v, int p, double tol,
                ConstVectorRef weights, MatrixRef out);

  const KrylovPhiOptions& options() const { return options_; }

 private:
  // Allocates the workspace for dimension n and q augmented columns (no-op when large enough).
  void Reserve(Index n, int q);
  // Starts a sweep on v_1 = u/β. Returns β.
  double StartSweep(ConstVectorRef u);
  // One Arnoldi step building column j of H and basis vector j+1. Returns false on NaN/Inf.
  // Sets breakdown_ when the Krylov space is invariant (projection exact).
  bool ArnoldiStep(const LinearOperator& apply_a, int j, PhiReport& report);
  // expm_ top-left (m+q)² ← exp of the augmented matrix for σH_m with q φ-columns.
  void ExpAugmented(int m, double sigma, int q);
  // ‖x‖_W (see file comment).
  double WeightedNorm(ConstVectorRef x, ConstVectorRef weights) const;

  // SolveAffine's pieces. A substep: Krylov dimension m, length σ and its error estimate.
  struct Substep {
    int m = 0;
    double sigma = 0.0;
    double err = 0.0;
  };
  // Throws ConfigError for SolveAffine arguments that do not fit together.
  static void CheckAffineArguments(ConstVectorRef v, ConstVectorRef taus, double tol,
                                   ConstVectorRef weights, MatrixRef out);
  // The a-posteriori error of σ φ_1(σA)u on the current basis of dimension m (expm_ holds σ).
  double SubstepError(int m, double beta, double sigma, double next_basis_norm) const;
  // Arnoldi on residual_ (norm beta) until σ = remaining meets its share tol·σ/τ_end of the
  // tolerance, else a shorter σ on the m_max basis. Sets report.status on NaN/Inf or failure.
  Substep FitSubstep(const LinearOperator& apply_a, double beta, double remaining, double tau_end,
                     double tol, ConstVectorRef weights, PhiReport& report);
  // Shrinks substep.sigma on the full basis until it fits; false when it cannot.
  bool ShrinkSubstep(double beta, double tau_end, double tol, ConstVectorRef weights,
                     Substep& substep);
  // Writes the outputs inside the substep [s, s + σ] (the last one ends on τ_end), advances
  // w_current_ and s, and returns the index of the next output still to write.
  Index TakeSubstep(const Substep& substep, double beta, double tau_end, ConstVectorRef taus,
                    double& s, Index next_output, MatrixRef out);

  KrylovPhiOptions options_;
  Index n_ = 0;        // current problem dimension
  Matrix basis_;       // V: N × (m_max + 1)
  Matrix hessenberg_;  // H: (m_max + 1) × m_max
  Matrix augmented_;   // M workspace: (m_max + q) × (m_max + q)
  Matrix expm_;        // exp(M)
  Vector work_;        // A v_j being orthogonalised
  Vector w_current_;   // SolveAffine: w(s)
  Vector residual_;    // SolveAffine: A w(s) + v
  bool breakdown_ = false;
};

}  // namespace snode
