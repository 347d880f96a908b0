#pragma once
// BacksolveOptions: the options of the "backsolve_adjoint" gradient method
// (adjoint/backsolve_adjoint.hpp) beyond the shared GradientOptions. Setting names
// (GradientOptions::method_settings, `--gradient-option`):
//   reconstruction_tolerance   a positive number
//   seminorm, quadrature, checkpoints   on|off (also true|false, yes|no, 1|0)

#include <string>

#include "core/settings.hpp"
#include "integrators/integrator.hpp"

namespace snode {

struct BacksolveOptions {
  // Relative error of the backward reconstruction of z above which
  // GradientStats::reconstruction_failed is set (see GradientStats::reconstruction_error).
  double reconstruction_tolerance = 1e-2;
  // Augmented system: leave the parameter-gradient components (an integral that feeds back into
  // nothing) out of the backward local error test, the "seminorm" of Kidger, Chen & Lyons
  // (2021). Applies only where UseSeminorm() says so.
  bool seminorm = true;
  // With an explicit backward integrator (UseQuadratureAdjoint()): the backward ODE carries
  // [z; a] only and dL/dθ = ∫ (∂f/∂θ)ᵀ a dt is summed by 3-point Gauss–Legendre over each
  // accepted backward step from the solver's dense output (the "quadrature adjoint"). false: the
  // P-long integral is carried in the ODE state (the augmented system of the seed).
  bool quadrature = true;
  // At every observation time t_i < t_N, where the adjoint already jumps, also reset the
  // reconstructed z to the stored forward state z(t_i), so the reconstruction error can grow
  // within one observation interval only. No extra memory (the jumps need the states anyway).
  // false: z is carried from z(t_N) to t0.
  bool checkpoints = true;

  // Throws ConfigError naming the offending option.
  void Validate() const;
  // The defaults overridden by settings; ConfigError for an unknown name or a bad value.
  static BacksolveOptions FromSettings(const Settings& settings);
};

// Whether the quadrature adjoint is used: options.quadrature, and a backward integrator that
// declares (IntegratorCapabilities) the kind kExplicit, a dense output and the step hook its
// Gauss–Legendre nodes are read from, and output jumps (dopri5, rk4, euler; a plug-in that
// declares the same). Otherwise the augmented system.
bool UseQuadratureAdjoint(const BacksolveOptions& options, const IntegratorCapabilities& backward);

// Whether the backward error test leaves out the parameter integral: options.seminorm on the
// augmented path (not the quadrature adjoint, whose state has no such components) and not with
// the GMRES linear solver (SUNDIALS scales the Krylov problem by the error weights, and zero
// weights make it singular).
bool UseSeminorm(const BacksolveOptions& options, bool quadrature_adjoint,
                 const IntegratorOptions& backward_options);

}  // namespace snode
