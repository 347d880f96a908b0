#pragma once
// Trampolines that adapt a VectorField to the C callbacks of CVODES and ARKODE.
//
// The solver's user_data points at a CallbackData. Exceptions never cross a SUNDIALS C frame:
// a trampoline catches everything, stores it in CallbackData::pending and returns -1
// (unrecoverable), and the caller calls RethrowPending() after the solver returns. A NaN/Inf in
// f or a product is recoverable (+1: the solver may retry with a smaller step); the first such
// event is described in CallbackData::nonfinite_message for the caller's error.
//
// The signatures match ARKRhsFn/CVRhsFn, ARKLsJacTimesVecFn/CVLsJacTimesVecFn,
// ARKLsJacFn/CVLsJacFn and ARKLsPrecSetupFn/CVLsPrecSetupFn, ARKLsPrecSolveFn/CVLsPrecSolveFn,
// which share their parameter lists in SUNDIALS 6.x.

#include <sundials/sundials_matrix.h>
#include <sundials/sundials_nvector.h>

#include <exception>
#include <string>

#include "core/preconditioner.hpp"
#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode {

struct CallbackData {
  VectorField* field = nullptr;   // not owned
  const Vector* theta = nullptr;  // not owned; read on every call, so θ can change between solves
  double time_sign = 1.0;         // -1 integrates s = -t: f̃(s, z) = -f(-s, z)
  std::exception_ptr pending;     // first exception thrown by the field
  std::string nonfinite_message;  // first NaN/Inf seen, "" if none
  long rhs_evals = 0;
  long jvp_evals = 0;
  long jacobian_evals = 0;
  // The field's forward-side preconditioner of this solve (not owned; null: none), for
  // PrecSetupTrampoline/PrecSolveTrampoline, and their calls.
  Preconditioner* preconditioner = nullptr;
  long preconditioner_setups = 0;
  long preconditioner_solves = 0;
  // Error weights of EwtTrampoline: 1/(rtol|y_i| + atol) for i < ewt_size, 0 after.
  double ewt_rtol = 0.0;
  double ewt_atol = 0.0;
  Index ewt_size = 0;

  // Points the callbacks at the field and θ of the next solve, forward in time, and clears the
  // counters and any stored error.
  void Bind(VectorField* new_field, const Vector* new_theta) {
    field = new_field;
    theta = new_theta;
    time_sign = 1.0;
    ResetCounters();
  }
  void ResetCounters() {
    rhs_evals = jvp_evals = jacobian_evals = preconditioner_setups = preconditioner_solves = 0;
    pending = nullptr;
    nonfinite_message.clear();
  }
  // Rethrows the stored exception, if any, and clears it.
  void RethrowPending();
};

// ydot = f(t, y; θ).
int RhsTrampoline(sunrealtype t, N_Vector y, N_Vector ydot, void* user_data);
// Error weights for a seminorm (ARKEwtFn/CVEwtFn): w_i = 1/(ewt_rtol|y_i| + ewt_atol) for the
// first ewt_size components, 0 for the rest.
int EwtTrampoline(N_Vector y, N_Vector ewt, void* user_data);
// Jv = (∂f/∂y)(t, y) v.
int JacTimesTrampoline(N_Vector v, N_Vector Jv, sunrealtype t, N_Vector y, N_Vector fy,
                       void* user_data, N_Vector tmp);
// J = ∂f/∂y (dense SUNMatrix).
int DenseJacobianTrampoline(sunrealtype t, N_Vector y, N_Vector fy, SUNMatrix J, void* user_data,
                            N_Vector tmp1, N_Vector tmp2, N_Vector tmp3);

// Preconditioner set-up for the solver's Newton matrix I − γ J̃ of its own right-hand side
// f̃(s, z) = time_sign·f(time_sign·s, z): since J̃ = time_sign·J, the field's forward-side
// preconditioner gets Setup(time_sign·t, y, θ, time_sign·γ). Always recomputes (*jcurPtr = true).
// A NumericalError is recoverable (+1), anything else unrecoverable (−1, stored in pending).
// Without a bound preconditioner (data.preconditioner null) the set-up does nothing and the solve
// copies r.
int PrecSetupTrampoline(sunrealtype t, N_Vector y, N_Vector fy, sunbooleantype jok,
                        sunbooleantype* jcurPtr, sunrealtype gamma, void* user_data);
// z = M⁻¹ r with M from the last set-up (left or right alike: there is one M).
int PrecSolveTrampoline(sunrealtype t, N_Vector y, N_Vector fy, N_Vector r, N_Vector z,
                        sunrealtype gamma, sunrealtype delta, int lr, void* user_data);
// The return code of a preconditioner callback for the exception being handled: +1 for a
// NumericalError (the solver retries with a smaller step), −1 (stored in pending) otherwise.
int PreconditionerFailure(std::exception_ptr& pending);

}  // namespace snode
