// snode's C++ exceptions as Python exceptions with the same message (docs/python.md, "Errors").
#include "core/errors.hpp"

#include "python/src/bindings.hpp"

namespace snode::python {
namespace {

// Owned by the module object once added to it; these pointers stay valid while it is loaded.
PyObject* error_type = nullptr;
PyObject* config_error_type = nullptr;
PyObject* input_error_type = nullptr;
PyObject* numerical_error_type = nullptr;
PyObject* sundials_error_type = nullptr;

PyObject* NewException(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  const std::string qualified = std::string("snode.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(type));  // the module keeps a reference
  return type;
}

void RaiseSundialsError(const SundialsError& error) {
  py::object instance = py::reinterpret_steal<py::object>(
      PyObject_CallFunction(sundials_error_type, "s", error.what()));
  if (!instance) return;  // the failed call set a Python error already
  instance.attr("call") = error.call();
  instance.attr("flag") = error.flag();
  instance.attr("flag_name") = error.flag_name();
  PyErr_SetObject(sundials_error_type, instance.ptr());
}

}  // namespace

void BindErrors(py::module_& m) {
  error_type = NewException(m, "Error", PyExc_RuntimeError, "Base of every error snode raises.");
  const auto with_error = [](PyObject* other) {
    return py::make_tuple(py::handle(error_type), py::handle(other)).release().ptr();
  };
  config_error_type = NewException(
      m, "ConfigError", with_error(PyExc_ValueError),
      "Bad options, unknown names, wrong sizes or non-finite inputs (also a ValueError).");
  input_error_type = NewException(m, "InputError", with_error(PyExc_ValueError),
                                  "Bad data, model or plug-in files (also a ValueError).");
  numerical_error_type =
      NewException(m, "NumericalError", with_error(PyExc_ArithmeticError),
                   "NaN/Inf or another numerical breakdown (also an ArithmeticError).");
  sundials_error_type =
      NewException(m, "SundialsError", error_type,
                   "A SUNDIALS call failed; .call, .flag and .flag_name say which and how.");
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const Interrupted&) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
    } catch (const SundialsError& error) {
      RaiseSundialsError(error);
    } catch (const ConfigError& error) {
      PyErr_SetString(config_error_type, error.what());
    } catch (const InputError& error) {
      PyErr_SetString(input_error_type, error.what());
    } catch (const NumericalError& error) {
      PyErr_SetString(numerical_error_type, error.what());
    } catch (const Error& error) {
      PyErr_SetString(error_type, error.what());
    }
  });
}

}  // namespace snode::python
