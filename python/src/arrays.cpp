#include <string>

#include "core/errors.hpp"
#include "python/src/bindings.hpp"

namespace snode::python {
namespace {

// The float64 array behind value: numpy arrays are checked (no silent conversion), everything
// else goes through numpy's conversion.
py::array_t<double> AsFloatArray(const py::handle& value, const char* what) {
  if (py::isinstance<py::array>(value)) {
    const auto array = py::reinterpret_borrow<py::array>(value);
    if (!array.dtype().is(py::dtype::of<double>())) {
      throw py::type_error(std::string(what) + " must be a float64 array, got dtype " +
                           py::str(array.dtype()).cast<std::string>());
    }
    if (!(array.flags() & py::array::c_style)) {
      throw py::value_error(std::string(what) +
                            " must be a C-contiguous array (use numpy.ascontiguousarray)");
    }
    return py::reinterpret_borrow<py::array_t<double>>(value);
  }
  if (value.is_none()) throw py::type_error(std::string(what) + " must be an array, got None");
  try {
    return py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(value);
  } catch (const py::error_already_set&) {
  }
  throw py::type_error(std::string(what) + " must be a float64 array or a sequence of numbers");
}

}  // namespace

Eigen::Map<const Vector> ReadVector(const py::handle& value, const char* what, py::object& keep,
                                    Index expected_size) {
  auto array = AsFloatArray(value, what);
  if (!array) {
    throw py::type_error(std::string(what) + " must be a float64 array or a sequence of numbers");
  }
  if (array.ndim() != 1) {
    throw py::value_error(std::string(what) + " must be 1-D, got " + std::to_string(array.ndim()) +
                          " dimensions");
  }
  const Index size = static_cast<Index>(array.shape(0));
  Require(expected_size < 0 || size == expected_size, [&] {
    return std::string(what) + " has length " + std::to_string(size) + ", expected " +
           std::to_string(expected_size);
  });
  keep = array;
  return Eigen::Map<const Vector>(array.data(), size);
}

Vector ToVector(const py::handle& value, const char* what, Index expected_size) {
  py::object keep;
  return ReadVector(value, what, keep, expected_size);
}

std::vector<Vector> ToRows(const py::handle& value, const char* what, Index columns) {
  auto array = AsFloatArray(value, what);
  if (!array) throw py::type_error(std::string(what) + " must be a 2-D float64 array");
  if (array.ndim() != 2) {
    throw py::value_error(std::string(what) + " must be 2-D (rows × state size), got " +
                          std::to_string(array.ndim()) + " dimensions");
  }
  const Index rows = static_cast<Index>(array.shape(0));
  const Index cols = static_cast<Index>(array.shape(1));
  Require(columns < 0 || cols == columns, [&] {
    return std::string(what) + " has " + std::to_string(cols) + " columns, expected " +
           std::to_string(columns);
  });
  std::vector<Vector> result(static_cast<std::size_t>(rows));
  for (Index i = 0; i < rows; ++i) {
    result[static_cast<std::size_t>(i)] = Eigen::Map<const Vector>(array.data() + i * cols, cols);
  }
  return result;
}

py::array_t<double> ToNumpy(ConstVectorRef vector) {
  py::array_t<double> out(static_cast<py::ssize_t>(vector.size()));
  std::copy(vector.data(), vector.data() + vector.size(), out.mutable_data());
  return out;
}

py::array_t<double> ToNumpy(const std::vector<double>& values) {
  py::array_t<double> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

py::array_t<double> ToNumpy(const std::vector<Vector>& rows) {
  const Index cols = rows.empty() ? 0 : rows.front().size();
  py::array_t<double> out({static_cast<py::ssize_t>(rows.size()), static_cast<py::ssize_t>(cols)});
  double* data = out.mutable_data();
  for (const Vector& row : rows) {
    Require(row.size() == cols, "rows of different lengths cannot form an array");
    std::copy(row.data(), row.data() + cols, data);
    data += cols;
  }
  return out;
}

void CopyResult(const py::handle& result, VectorRef out, const char* what) {
  py::array_t<double, py::array::c_style | py::array::forcecast> array;
  try {
    array = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(result);
  } catch (const py::error_already_set&) {
  }
  if (!array) {
    throw ConfigError(std::string(what) + " must return an array of numbers, got " +
                      py::str(py::type::of(result)).cast<std::string>());
  }
  Require(static_cast<Index>(array.size()) == out.size(), [&] {
    return std::string(what) + " returned " + std::to_string(array.size()) + " values, expected " +
           std::to_string(out.size());
  });
  std::copy(array.data(), array.data() + out.size(), out.data());
}

}  // namespace snode::python
