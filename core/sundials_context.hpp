#pragma once
// RAII owner of a SUNContext. One per solver object (SUNDIALS 6.x: a context serves one
// simulation at a time). Move-only; the constructor checks SUNContext_Create and throws.

#include <sundials/sundials_context.h>

namespace snode {

class Context {
 public:
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  Context(Context&& other) noexcept;
  Context& operator=(Context&& other) noexcept;

  SUNContext get() const { return ctx_; }
  operator SUNContext() const { return ctx_; }  // NOLINT: implicit by design, as sundials::Context

 private:
  SUNContext ctx_ = nullptr;
};

}  // namespace snode
