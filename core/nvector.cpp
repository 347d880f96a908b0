#include "core/nvector.hpp"

#include "core/errors.hpp"
#include "core/nvector_kernels.hpp"

namespace snode {

NVectorPtr MakeNVector(Index n, SUNContext ctx) {
  Require(n > 0, "MakeNVector: length must be positive, got " + std::to_string(n));
  NVectorPtr v(N_VNew_Serial(static_cast<sunindextype>(n), ctx));
  if (!v) throw SundialsError("N_VNew_Serial", -1, "allocation failure");
  // Fused kernels (one pass for a stage's linear combination instead of one per term); clones
  // made inside the solvers inherit them.
  N_VEnableFusedOps_Serial(v.get(), SUNTRUE);
  detail::InstallFastKernels(v.get());
  return v;
}

NVectorPtr MakeNVector(const Vector& values, SUNContext ctx) {
  NVectorPtr v = MakeNVector(values.size(), ctx);
  AsEigen(v.get()) = values;
  return v;
}

NVectorPtr WrapNVector(double* data, Index n, SUNContext ctx) {
  Require(n > 0, "WrapNVector: length must be positive, got " + std::to_string(n));
  NVectorPtr v(N_VMake_Serial(static_cast<sunindextype>(n), data, ctx));
  if (!v) throw SundialsError("N_VMake_Serial", -1, "allocation failure");
  N_VEnableFusedOps_Serial(v.get(), SUNTRUE);
  detail::InstallFastKernels(v.get());
  return v;
}

}  // namespace snode
