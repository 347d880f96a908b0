#include "core/callbacks.hpp"

#include <sunmatrix/sunmatrix_dense.h>

#include <sstream>

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

// Records the first non-finite result; returns +1 (recoverable) if out is not finite.
int CheckFinite(CallbackData& data, const char* what, double t, Eigen::Map<Eigen::VectorXd> out) {
  if (out.allFinite()) return 0;
  if (data.nonfinite_message.empty()) {
    std::ostringstream message;
    message << what << " of field '" << data.field->name() << "' returned NaN or Inf at t=" << t;
    data.nonfinite_message = message.str();
  }
  return 1;
}

}  // namespace

int RhsTrampoline(sunrealtype t, N_Vector y, N_Vector ydot, void* user_data) {
  auto& data = *static_cast<CallbackData*>(user_data);
  try {
    ++data.rhs_evals;
    auto out = AsEigen(ydot);
    const double time = data.time_sign * t;
    data.field->F(time, AsConstEigen(y), *data.theta, out);
    if (data.time_sign < 0) out = -out;
    return CheckFinite(data, "f", time, out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
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
    if (!jac.allFinite()) {
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

}  // namespace snode
