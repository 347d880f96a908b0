#include "core/sundials_context.hpp"

#include <utility>

#include "core/errors.hpp"

namespace snode {

Context::Context() {
  // SUNDIALS 6.x takes a void* communicator; 7.x takes SUNComm (SUN_COMM_NULL).
#if SUNDIALS_VERSION_MAJOR >= 7
  const int flag = SUNContext_Create(SUN_COMM_NULL, &ctx_);
#else
  const int flag = SUNContext_Create(nullptr, &ctx_);
#endif
  if (flag < 0 || ctx_ == nullptr) {
    throw SundialsError("SUNContext_Create", flag, "SUNContext creation failure");
  }
}

Context::~Context() {
  if (ctx_ != nullptr) SUNContext_Free(&ctx_);
}

Context::Context(Context&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Context& Context::operator=(Context&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) SUNContext_Free(&ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

}  // namespace snode
