#pragma once
// Return-code checks of the cvodes_adjoint units (internal to snode_adjoint), on top of the
// integrators' helpers (integrators/sundials_check.hpp): every set-up call names the gradient
// method in its SundialsError.

#include <string>

#include "integrators/sundials_check.hpp"

namespace snode {

// A std::string once, so that a check in a per-step path allocates nothing.
inline const std::string kCvodesAdjointContext = "(gradient 'cvodes_adjoint')";

// Throws SundialsError for a negative flag of a CVODES set-up call.
inline void CheckCvodesCall(int flag, const char* call) {
  detail::CheckCvodes(flag, call, kCvodesAdjointContext);
}

// Returns ptr; throws SundialsError when a constructor-like call returned nullptr.
template <class T>
T* CheckCreated(T* ptr, const char* call) {
  detail::CheckNotNull(ptr, call, kCvodesAdjointContext);
  return ptr;
}

}  // namespace snode
