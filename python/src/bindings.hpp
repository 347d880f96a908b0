#pragma once
// Shared parts of the Python bindings (python/src/*.cpp, docs/python.md): the array conversions,
// the problem object Python sees, and the Bind* functions module.cpp calls in order.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "core/types.hpp"

namespace snode::python {

namespace py = pybind11;

// ---------------------------------------------------------------- arrays (arrays.cpp)
// A 1-D float64 view of `value` for reading: a C-contiguous float64 numpy array is read in place;
// a Python list, tuple or scalar is converted (kept alive in `keep`). Raises TypeError for a numpy
// array of another dtype, ValueError for a non-contiguous one or another number of dimensions, both
// naming `what`. expected_size ≥ 0: ConfigError naming `what` when the length differs.
Eigen::Map<const Vector> ReadVector(const py::handle& value, const char* what, py::object& keep,
                                    Index expected_size = -1);
// A copy of ReadVector's view.
Vector ToVector(const py::handle& value, const char* what, Index expected_size = -1);
// Rows of a 2-D float64 array (rows × columns, C-contiguous, same rules as ReadVector), each a
// Vector; columns ≥ 0: ConfigError when the column count differs.
std::vector<Vector> ToRows(const py::handle& value, const char* what, Index columns = -1);
// New numpy arrays owning their data.
py::array_t<double> ToNumpy(ConstVectorRef vector);
py::array_t<double> ToNumpy(const std::vector<Vector>& rows);  // rows × (size of each)
py::array_t<double> ToNumpy(const std::vector<double>& values);
// A Python callback's result copied into out: anything numpy converts to a float64 array of
// out.size() elements (any shape with that many); ConfigError naming `what` otherwise.
void CopyResult(const py::handle& result, VectorRef out, const char* what);

// ---------------------------------------------------------------- problems (problems.cpp)
// What Python calls a Problem: the ODE and, for registry problems, the loss and exact gradient.
struct PyProblem {
  OdeProblem ode;
  std::shared_ptr<const Loss> loss;  // may be null (user problems)
  std::string name;
  double stiffness = 0.0;
  std::optional<Vector> exact_gradient;
};

// A loss built from Python rows (MseLoss, LinearLoss) knows how many output times it expects:
// ConfigError naming both counts when the problem has another number. Other losses pass.
void CheckLossRows(const Loss& loss, std::size_t output_times);

// ---------------------------------------------------------------- interrupts (interrupt.cpp)
// While alive on the thread that imported the module, SIGINT sets a flag instead of Python's
// handler; fields wrapped by Interruptible() then throw Interrupted at their next evaluation,
// which the module turns into KeyboardInterrupt. Nested scopes are no-ops. Construct with the
// GIL held.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  // True when SIGINT arrived during this scope (checked by the caller after the work).
  bool interrupted() const;

 private:
  bool installed_ = false;
};
// Thrown from inside a solve when SIGINT arrived.
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted by SIGINT"; }
};
// The problem with its field wrapped so that every evaluation checks the interrupt flag.
OdeProblem Interruptible(const OdeProblem& problem);
// Records the module's thread (called at import).
void RecordMainThread();

// ---------------------------------------------------------------- field locks (field_lock.cpp)
// A field's workspace is not thread-safe, and solves release the GIL, so two Python threads could
// evaluate one field at once. FieldLock serialises every use of one field object from the bindings
// (solves, gradients, Field.f/jvp/vjp); different fields run in parallel. Construct without the
// GIL (a PythonField's callbacks take it while their solve holds the lock). Recursive: a
// PythonField's callback may evaluate its own field again on the same thread.
class FieldLock {
 public:
  explicit FieldLock(const VectorField* field);

 private:
  std::shared_ptr<std::recursive_mutex> mutex_;
  std::unique_lock<std::recursive_mutex> lock_;
};

// ---------------------------------------------------------------- binders
void BindErrors(py::module_& m);
void BindRegistries(py::module_& m);
void BindFields(py::module_& m);
void BindProblems(py::module_& m);
void BindSolve(py::module_& m);
void BindStudy(py::module_& m);

}  // namespace snode::python
