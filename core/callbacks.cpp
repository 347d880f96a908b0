#include "core/callbacks.hpp"

#include <sunmatrix/sunmatrix_dense.h>

#include <sstream>

#include "core/errors.hpp"
#include "core/nvector.hpp"

namespace snode {

void CallbackData::RethrowPending() {
  if (pending) {
    std::exception_ptr stored = pending;
    pending = nullptr;
    std::rethrow_exception(stored);
  }
}

namespace {

// Records the first non-finite result and returns +1 (recoverable). Kept out of line so that the
// finiteness test below, run on every callback, inlines into the trampolines.
[[gnu::noinline]] int RecordNonFinite(CallbackData& data, const char* what, double t) {
  if (data.nonfinite_message.empty()) {
    std::ostringstream message;
    message << what << " of field '" << data.field->name() << "' returned NaN or Inf at t=" << t;
    data.nonfinite_message = message.str();
  }
  return 1;
}

// Returns 0 if out is finite, else records it and returns +1 (recoverable).
inline int CheckFinite(CallbackData& data, const char* what, double t,
                       const Eigen::Map<Eigen::VectorXd>& out) {
  if (AllFinite(out)) return 0;
  return RecordNonFinite(data, what, t);
}

}  // namespace

int RhsTrampoline(sunrealtype t, N_Vector y, N_Vector ydot, void* user_data) {
  auto& data = *static_cast<CallbackData*>(user_data);
  try {
    auto out = AsEigen(ydot);
    const double time = data.time_sign * t;
    ++data.rhs_evals;
    data.field->F(time, AsConstEigen(y), *data.theta, out);
    if (data.time_sign < 0) out = -out;
    return CheckFinite(data, "f", time, out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

int EwtTrampoline(N_Vector y, N_Vector ewt, void* user_data) {
  const auto& data = *static_cast<const CallbackData*>(user_data);
  const auto state = AsConstEigen(y);
  auto weights = AsEigen(ewt);
  const Index k = data.ewt_size;
  weights.head(k) = (data.ewt_rtol * state.head(k).cwiseAbs().array() + data.ewt_atol).inverse();
  weights.tail(weights.size() - k).setZero();
  return 0;
}

int JacTimesTrampoline(N_Vector v, N_Vector Jv, sunrealtype t, N_Vector y, N_Vector /*fy*/,
                       void* user_data, N_Vector /*tmp*/) {
  auto& data = *static_cast<CallbackData*>(user_data);
  try {
    ++data.jvp_evals;
    auto out = AsEigen(Jv);
    const double time = data.time_sign * t;
    data.field->Jvp(time, AsConstEigen(y), *data.theta, AsConstEigen(v), out);
    if (data.time_sign < 0) out = -out;
    return CheckFinite(data, "Jvp", time, out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

int DenseJacobianTrampoline(sunrealtype t, N_Vector y, N_Vector /*fy*/, SUNMatrix J,
                            void* user_data, N_Vector /*tmp1*/, N_Vector /*tmp2*/,
                            N_Vector /*tmp3*/) {
  auto& data = *static_cast<CallbackData*>(user_data);
  try {
    ++data.jacobian_evals;
    const Index n = static_cast<Index>(SUNDenseMatrix_Rows(J));
    Eigen::Map<Eigen::MatrixXd> jac(SUNDenseMatrix_Data(J), n, n);  // column-major, as Eigen
    const double time = data.time_sign * t;
    data.field->DenseJacobian(time, AsConstEigen(y), *data.theta, jac);
    if (data.time_sign < 0) jac = -jac;
    if (!AllFinite(jac)) {
      if (data.nonfinite_message.empty()) {
        data.nonfinite_message = "Jacobian of field '" + data.field->name() +
                                 "' returned NaN or Inf at t=" + std::to_string(time);
      }
      return 1;
    }
    return 0;
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

int PreconditionerFailure(std::exception_ptr& pending) {
  try {
    throw;
  } catch (const NumericalError&) {
    return 1;
  } catch (...) {
    pending = std::current_exception();
    return -1;
  }
}

int PrecSetupTrampoline(sunrealtype t, N_Vector y, N_Vector /*fy*/, sunbooleantype jok,
                        sunbooleantype* jcurPtr, sunrealtype gamma, void* user_data) {
  auto& data = *static_cast<CallbackData*>(user_data);
  if (data.preconditioner == nullptr) {  // attached, but no preconditioner this solve
    *jcurPtr = SUNFALSE;
    return 0;
  }
  try {
    ++data.preconditioner_setups;
    // J̃ = time_sign·J, so I − γ J̃ = I − (time_sign·γ) J.
    const bool recomputed =
        SetupOrUpdateGamma(*data.preconditioner, jok == SUNTRUE, data.time_sign * t,
                           AsConstEigen(y), *data.theta, data.time_sign * gamma);
    *jcurPtr = recomputed ? SUNTRUE : SUNFALSE;
    return 0;
  } catch (...) {
    return PreconditionerFailure(data.pending);
  }
}

int PrecSolveTrampoline(sunrealtype /*t*/, N_Vector /*y*/, N_Vector /*fy*/, N_Vector r, N_Vector z,
                        sunrealtype /*gamma*/, sunrealtype /*delta*/, int /*lr*/, void* user_data) {
  auto& data = *static_cast<CallbackData*>(user_data);
  auto out = AsEigen(z);
  if (data.preconditioner == nullptr) {
    out = AsConstEigen(r);
    return 0;
  }
  try {
    ++data.preconditioner_solves;
    data.preconditioner->Solve(AsConstEigen(r), out);
    return AllFinite(out) ? 0 : 1;
  } catch (...) {
    return PreconditionerFailure(data.pending);
  }
}

}  // namespace snode
