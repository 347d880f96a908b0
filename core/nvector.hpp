#pragma once
// RAII owners for SUNDIALS N_Vector, SUNMatrix and SUNLinearSolver, and zero-copy Eigen views.

#include <nvector/nvector_serial.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_matrix.h>
#include <sundials/sundials_nonlinearsolver.h>

#include <memory>
#include <type_traits>

#include "core/types.hpp"

namespace snode {

struct NVectorDeleter {
  void operator()(N_Vector v) const noexcept { N_VDestroy(v); }
};
using NVectorPtr = std::unique_ptr<std::remove_pointer_t<N_Vector>, NVectorDeleter>;

struct SunMatrixDeleter {
  void operator()(SUNMatrix m) const noexcept { SUNMatDestroy(m); }
};
using SunMatrixPtr = std::unique_ptr<std::remove_pointer_t<SUNMatrix>, SunMatrixDeleter>;

struct SunLinearSolverDeleter {
  void operator()(SUNLinearSolver s) const noexcept { SUNLinSolFree(s); }
};
using SunLinearSolverPtr =
    std::unique_ptr<std::remove_pointer_t<SUNLinearSolver>, SunLinearSolverDeleter>;

struct SunNonlinearSolverDeleter {
  void operator()(SUNNonlinearSolver s) const noexcept { SUNNonlinSolFree(s); }
};
using SunNonlinearSolverPtr =
    std::unique_ptr<std::remove_pointer_t<SUNNonlinearSolver>, SunNonlinearSolverDeleter>;

// A new serial N_Vector of length n owned by the result. Throws SundialsError on failure.
NVectorPtr MakeNVector(Index n, SUNContext ctx);
// A new serial N_Vector holding a copy of values.
NVectorPtr MakeNVector(const Vector& values, SUNContext ctx);
// A serial N_Vector that wraps data without owning it (N_VDestroy leaves data alone).
// The caller keeps data alive and unmoved while the wrapper exists.
NVectorPtr WrapNVector(double* data, Index n, SUNContext ctx);

// Zero-copy views of an N_Vector's data: this process's part of it (all of it for a serial
// vector; the local part of SUNDIALS' MPI vector for a distributed state,
// core/state_distribution.hpp). The serial content is read directly: the generic N_VGetArrayPointer
// and the local length are out-of-line calls through the ops table, and these views are taken in
// every right-hand-side call.
inline bool IsSerialNVector(N_Vector v) { return v->ops->nvgetvectorid == N_VGetVectorID_Serial; }
inline double* NVectorData(N_Vector v) {
  return IsSerialNVector(v) ? NV_DATA_S(v) : N_VGetArrayPointer(v);
}
inline Index NVectorLocalLength(N_Vector v) {
  return IsSerialNVector(v) ? NV_LENGTH_S(v) : v->ops->nvgetlocallength(v);
}
inline Eigen::Map<Eigen::VectorXd> AsEigen(N_Vector v) {
  return Eigen::Map<Eigen::VectorXd>(NVectorData(v), NVectorLocalLength(v));
}
inline Eigen::Map<const Eigen::VectorXd> AsConstEigen(N_Vector v) {
  return Eigen::Map<const Eigen::VectorXd>(NVectorData(v), NVectorLocalLength(v));
}

}  // namespace snode
