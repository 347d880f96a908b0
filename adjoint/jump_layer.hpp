#pragma once
// JumpLayer: the stiff transient of a continuous adjoint right after a jump, integrated by
// exponentials, so that the backward BDF of cvodes_adjoint (CvodesAdjointOptions::jump_layer)
// restarts on the smooth slow part of the adjoint instead of resolving the transient.
//
// Equation. With the forward solution z(t) given and reversed time s = −t, the backward system
// of the adjoint a = ∂L/∂z and of the parameter quadrature q is linear:
//     dw/ds = M(t) w,  w = [a; q; 1],  M(t) = [ Jᵀ    0   g_zᵀ ]   J   = ∂f/∂z (t, z(t))  (n × n)
//                                            [ F_θᵀ  0   0    ]   F_θ = ∂f/∂θ (t, z(t))  (n × p)
//                                            [ 0     0   0    ]   g_z = ∂g/∂z (t, z(t))  (1 × n)
// (the trailing 1 only with a running cost g). After a jump a ← a + ∂ℓ_i/∂z at t_high, the
// components of a along the stiff modes of J (eigenvalues μ with −Re μ·(t_high − t_low) >
// kStiffness) decay like exp(Re μ·(t_high − t)): a BDF resolving that transient to a tight
// tolerance needs h|μ| ≈ 0.05, hundreds of steps per jump. The layer [t_high − δ, t_high] with
// δ = kDecay / r_min (r_min = the slowest stiff decay rate −Re μ at z(t_high)) lets those
// components decay by e^−kDecay, after which a is smooth on the time scale of z and BDF takes
// long steps. When δ ≥ kCover·(t_high − t_low) the layer takes the whole segment.
//
// Method. The 4th-order commutator-free Magnus method CF4 (Blanes & Moan 2006) with A_k = M at
// the Gauss nodes:
//     w(s + h) = exp(h(α2 A1 + α1 A2)) · exp(h(α1 A1 + α2 A2)) · w(s),  α_{1,2} = 1/4 ± √3/6,
// on a graded mesh: the first step has h·μ_max = kFirstStep, each next one is kGrowth times
// longer, toward the bottom h ≤ kTailStep/r_min + kShrink·(distance to the bottom), and steps
// end at the forward step boundaries (z is one polynomial on each piece). CF4 is exact for a
// frozen M, but with h·r ≫ 1 it reduces to low order on the slow part (the fast components
// slaved to the change of J are missed); the grading keeps h·r moderate where the fast
// components are large and at the bottom, where BDF takes over (measured: one CF4 step of
// h·r = 25 per layer gives 5e-5 relative error in dL/dk on Robertson's sum-of-observations loss;
// the graded mesh with kGrowth 2 gives 5e-7, with 1.4 below 1.3e-7). The m × m exponentials (m = n
// + p (+ 1)) use Padé with scaling and squaring (Eigen's MatrixFunctions, fixed-size code for 3 ≤ m
// ≤ 8).
//
// Skipped (Apply returns t_high, a and q untouched) when J has no stiff mode relative to the
// segment, or when the layer would need more than kMaxSteps steps (z changes on the time scale
// of the transient: the layer would gain nothing).
//
// Inputs: the field (DenseJacobian for J; F_θ from n VjpParams products with unit vectors), θ,
// the loss (running-cost gradient), the forward solution as a callable z(t) and the forward step
// boundaries (increasing; the pieces on which z(t) is a polynomial). Not owned; they must
// outlive the Start … Apply calls.
// Limits: m ≤ kMaxSize = 64.
//
// Throws: ConfigError (Start) when m > kMaxSize; NumericalError when J, F_θ or g_z contain NaN
// or Inf, or the layer's result is not finite.

#include <functional>
#include <vector>

#include "adjoint/loss.hpp"
#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode {

struct JumpLayerStats {
  long layers = 0;          // layers integrated (jumps not skipped)
  long steps = 0;           // CF4 steps
  long exponentials = 0;    // m × m matrix exponentials
  long jacobian_evals = 0;  // DenseJacobian calls (incl. the eigenvalue tests)
  long vjp_evals = 0;       // VjpParams calls (n per Assemble)
};

class JumpLayer {
 public:
  static constexpr Index kMaxSize = 64;
  // The stiff components decay by e^−kDecay over the layer (4e-18 of the jump). Thicker than
  // needed for the decay alone: BDF restarts more cheaply further from the jump (Robertson sum
  // loss, rtol 1e-8 forward / 1e-9 backward, Gauss quadrature: 3 073 backward steps with 40 and
  // kGrowth 1.4, 3 412 with 25 and kGrowth 1.5).
  static constexpr double kDecay = 40.0;
  // A mode is stiff relative to the segment [t_low, t_high] when −Re μ·(t_high − t_low) exceeds
  // this (BDF at tight tolerances needs hundreds of steps for such a transient already).
  static constexpr double kStiffness = 10.0;
  // A layer thicker than this fraction of the segment covers the whole segment.
  static constexpr double kCover = 0.3;
  // Graded CF4 steps: the first has ‖hμ_max‖ = kFirstStep, each next one is kGrowth times longer,
  // and near the bottom h ≤ kTailStep/r_min + kShrink·(distance to the bottom).
  static constexpr double kFirstStep = 1.0;
  static constexpr double kGrowth = 1.4;
  static constexpr double kTailStep = 1.0;
  static constexpr double kShrink = 0.3;
  // At most this many CF4 steps per layer, else the layer is skipped.
  static constexpr int kMaxSteps = 64;

  // z(t) of the forward solution (out has length n).
  using ForwardSolution = std::function<void(double t, VectorRef out)>;

  // Binds one backward pass. step_times are the forward step boundaries t_0 < t_1 < …
  void Start(VectorField& field, const Vector& theta, const Loss& loss,
             const ForwardSolution& forward, const std::vector<double>* step_times);

  // At a jump at t_high of the segment [t_low, t_high]: integrates w = [a; q] over the layer and
  // returns its lower end t_high − δ (> t_low), or returns t_high without touching a and q when
  // the layer is skipped. a has length n, grad (q) length p.
  double Apply(double t_high, double t_low, Vector& a, Vector& grad);

  const JumpLayerStats& stats() const { return stats_; }

 private:
  // M(t) into out (m × m).
  void Assemble(double t, Matrix& out);
  // w ← one CF4 step from t_hi to t_hi − h.
  void Cf4(double t_hi, double h, Vector& w);
  // Layer thickness δ at z(t_high), or 0 when no mode is stiff relative to `length`.
  double Thickness(double t_high, double length);

  JumpLayerStats stats_;
  VectorField* field_ = nullptr;
  const Vector* theta_ = nullptr;
  const Loss* loss_ = nullptr;
  const ForwardSolution* forward_ = nullptr;
  const std::vector<double>* step_times_ = nullptr;
  Index n_ = 0, p_ = 0, m_ = 0;
  double fastest_rate_ = 0.0;  // max −Re μ at the last Thickness call
  double slowest_rate_ = 0.0;  // r_min at the last Thickness call
  Vector z_, unit_, row_, g_, w_, w_mid_;
  Matrix jacobian_, a1_, a2_, x_, y_, e1_, e2_;
};

}  // namespace snode
