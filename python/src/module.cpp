// The compiled part of the Python package snode (docs/python.md): snode._snode.
#include "python/src/bindings.hpp"

PYBIND11_MODULE(_snode, m) {
  using namespace snode::python;
  m.doc() = "snode's C++ core: fields, solvers, gradient methods and studies (docs/python.md)";
  RecordMainThread();
  BindErrors(m);
  BindRegistries(m);
  BindFields(m);
  BindProblems(m);
  BindSolve(m);
  BindStudy(m);
}
