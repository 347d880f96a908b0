// Ctrl-C during a solve. Python's own SIGINT handler only sets a flag that the interpreter checks
// between bytecodes, which never run while C++ integrates. For the length of a solve the module
// installs a handler that sets an atomic flag, and a thin wrapper around the field checks it at
// every evaluation and unwinds the solve with Interrupted (KeyboardInterrupt in Python). Python's
// handler is restored afterwards, and a SIGINT that arrived is re-raised as KeyboardInterrupt.
#include <atomic>
#include <csignal>
#include <thread>

#include "core/forwarding_field.hpp"
#include "python/src/bindings.hpp"

namespace snode::python {
namespace {

std::atomic<bool> sigint_received{false};
std::thread::id main_thread;
int scope_depth = 0;  // only touched with the GIL held
struct sigaction previous_action {};

extern "C" void OnSigint(int) { sigint_received.store(true, std::memory_order_relaxed); }

void CheckInterrupt() {
  if (sigint_received.load(std::memory_order_relaxed)) throw Interrupted();
}

// The field with an interrupt check in every evaluation; owns the field it wraps.
class InterruptibleField final : public ForwardingField {
 public:
  explicit InterruptibleField(std::shared_ptr<VectorField> inner)
      : ForwardingField(inner.get()), owned_(std::move(inner)) {}

  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    CheckInterrupt();
    ForwardingField::F(t, z, theta, out);
  }
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    CheckInterrupt();
    ForwardingField::Jvp(t, z, theta, v, out);
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    CheckInterrupt();
    ForwardingField::VjpState(t, z, theta, a, out);
  }
  void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef a_state,
           VectorRef grad) override {
    CheckInterrupt();
    ForwardingField::Vjp(t, z, theta, a, a_state, grad);
  }
  void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
               double* saved) override {
    CheckInterrupt();
    ForwardingField::FSaving(t, z, theta, out, saved);
  }
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                ConstVectorRef a, VectorRef a_state, VectorRef grad) override {
    CheckInterrupt();
    ForwardingField::VjpSaved(t, z, theta, saved, a, a_state, grad);
  }

 private:
  std::shared_ptr<VectorField> owned_;
};

}  // namespace

void RecordMainThread() { main_thread = std::this_thread::get_id(); }

InterruptScope::InterruptScope() {
  if (std::this_thread::get_id() != main_thread || scope_depth++ > 0) return;
  sigint_received.store(false, std::memory_order_relaxed);
  struct sigaction action {};
  action.sa_handler = OnSigint;
  sigemptyset(&action.sa_mask);
  installed_ = sigaction(SIGINT, &action, &previous_action) == 0;
}

InterruptScope::~InterruptScope() {
  if (std::this_thread::get_id() != main_thread) return;
  --scope_depth;
  if (installed_) sigaction(SIGINT, &previous_action, nullptr);
}

bool InterruptScope::interrupted() const {
  return installed_ && sigint_received.load(std::memory_order_relaxed);
}

OdeProblem Interruptible(const OdeProblem& problem) {
  OdeProblem wrapped = problem;
  wrapped.field = std::make_shared<InterruptibleField>(problem.field);
  return wrapped;
}

}  // namespace snode::python
