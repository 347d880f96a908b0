// Problems and losses for Python (docs/python.md, "Problems", "Losses").
#include <pybind11/stl.h>

#include "core/errors.hpp"
#include "problems/problem_registry.hpp"
#include "python/src/bindings.hpp"

namespace snode::python {
namespace {

// ℓ_i from a Python callable term(i, t, z) -> (value, dvalue_dz), called with the GIL held.
class PythonLoss final : public Loss {
 public:
  explicit PythonLoss(py::function term) : term_(std::move(term)) {}
  ~PythonLoss() override {
    py::gil_scoped_acquire gil;
    term_ = py::function();
  }
  double Term(std::size_t i, double t, ConstVectorRef z, VectorRef dl_dz,
              VectorRef /*readout_grad*/) const override {
    py::gil_scoped_acquire gil;
    const py::object result = term_(i, t, ToNumpy(z));
    Require(py::isinstance<py::tuple>(result) && py::len(result) == 2,
            "PythonLoss term must return a tuple (value, dvalue_dz)");
    const auto pair = py::reinterpret_borrow<py::tuple>(result);
    double value = 0.0;
    try {
      value = pair[0].cast<double>();
    } catch (const py::cast_error&) {
      throw ConfigError("PythonLoss term must return a number as its value");
    }
    CopyResult(pair[1], dl_dz, "PythonLoss term (dvalue_dz)");
    return value;
  }

 private:
  py::function term_;
};

// A loss built from rows given in Python: the library's loss, and how many output times the rows
// were meant for (so a mismatch is an error, not rows silently ignored).
class RowsLoss : public Loss {
 public:
  RowsLoss(std::unique_ptr<Loss> inner, std::size_t rows, std::string kind)
      : inner_(std::move(inner)), rows_(rows), kind_(std::move(kind)) {}
  double Term(std::size_t i, double t, ConstVectorRef z, VectorRef dl_dz,
              VectorRef readout_grad) const override {
    return inner_->Term(i, t, z, dl_dz, readout_grad);
  }
  Index num_readout_params() const override { return inner_->num_readout_params(); }
  bool HasRunningCost() const override { return inner_->HasRunningCost(); }
  double RunningCost(double t, ConstVectorRef z) const override {
    return inner_->RunningCost(t, z);
  }
  void RunningCostGradient(double t, ConstVectorRef z, VectorRef out) const override {
    inner_->RunningCostGradient(t, z, out);
  }
  std::size_t rows() const { return rows_; }
  const std::string& kind() const { return kind_; }

 private:
  std::unique_ptr<Loss> inner_;
  std::size_t rows_;
  std::string kind_;
};

class PyMseLoss final : public RowsLoss {
 public:
  PyMseLoss(const py::handle& targets, double scale)
      : PyMseLoss(ToRows(targets, "targets"), scale) {}

 private:
  PyMseLoss(std::vector<Vector> rows, double scale)
      : RowsLoss(std::make_unique<MseLoss>(rows, scale), rows.size(), "MseLoss targets") {}
};

class PyLinearLoss final : public RowsLoss {
 public:
  PyLinearLoss(const py::handle& weights, const py::object& running)
      : PyLinearLoss(ToRows(weights, "weights"),
                     running.is_none() ? Vector() : ToVector(running, "running")) {}

 private:
  PyLinearLoss(std::vector<Vector> rows, Vector running)
      : RowsLoss(std::make_unique<LinearFunctionalLoss>(rows, std::move(running)), rows.size(),
                 "LinearLoss weights") {}
};

PyProblem MakeUserProblem(std::shared_ptr<VectorField> field, const py::handle& z0,
                          const py::handle& theta, const py::handle& times, double t0) {
  Require(field != nullptr, "Problem needs a field");
  PyProblem problem;
  problem.ode.field = std::move(field);
  problem.ode.z0 = ToVector(z0, "z0", problem.ode.field->state_size());
  problem.ode.theta = ToVector(theta, "theta", problem.ode.field->num_params());
  const Vector time_values = ToVector(times, "times");
  problem.ode.output_times.assign(time_values.data(), time_values.data() + time_values.size());
  problem.ode.t0 = t0;
  problem.ode.Validate();
  problem.name = problem.ode.field->name();
  return problem;
}

PyProblem MakeRegistryProblem(const std::string& name, const py::object& stiffness,
                              std::uint64_t seed) {
  problems::ProblemOptions options;
  options.seed = seed;
  const auto definition = problems::ProblemRegistry().Create(name, options);
  const auto capabilities = definition->Capabilities();
  double lambda = capabilities.default_lambdas.empty() ? 0.0 : capabilities.default_lambdas[0];
  if (!stiffness.is_none()) lambda = stiffness.cast<double>();
  problems::ProblemSetup setup = definition->Make(lambda);
  PyProblem problem;
  problem.ode = std::move(setup.ode);
  problem.loss = std::move(setup.loss);
  problem.name = name;
  problem.stiffness = setup.stiffness;
  problem.exact_gradient = std::move(setup.exact_gradient);
  return problem;
}

void BindProblemClass(py::module_& m) {
  py::class_<PyProblem>(m, "Problem",
                        "An ODE z' = f(t, z; θ), z(t0) = z0, observed at `times` (strictly "
                        "increasing, the first ≥ t0), with the loss of a registry problem.")
      .def(py::init(&MakeUserProblem), py::arg("field"), py::arg("z0"), py::arg("theta"),
           py::arg("times"), py::arg("t0") = 0.0)
      .def_property_readonly("field", [](const PyProblem& p) { return p.ode.field; })
      .def_property(
          "z0", [](const PyProblem& p) { return ToNumpy(p.ode.z0); },
          [](PyProblem& p, const py::handle& value) {
            py::object keep;
            p.ode.z0 = ReadVector(value, "z0", keep, p.ode.field->state_size());
          },
          "The initial state (a copy; assign to change it).")
      .def_property(
          "theta", [](const PyProblem& p) { return ToNumpy(p.ode.theta); },
          [](PyProblem& p, const py::handle& value) {
            py::object keep;
            p.ode.theta = ReadVector(value, "theta", keep, p.ode.field->num_params());
          },
          "The parameters θ (a copy; assign to change them).")
      .def_property(
          "times", [](const PyProblem& p) { return ToNumpy(p.ode.output_times); },
          [](PyProblem& p, const py::handle& value) {
            const Vector times = ToVector(value, "times");
            p.ode.output_times.assign(times.data(), times.data() + times.size());
          })
      .def_property(
          "t0", [](const PyProblem& p) { return p.ode.t0; },
          [](PyProblem& p, double t0) { p.ode.t0 = t0; })
      .def_property(
          "loss", [](const PyProblem& p) { return std::const_pointer_cast<Loss>(p.loss); },
          [](PyProblem& p, std::shared_ptr<Loss> loss) { p.loss = std::move(loss); },
          "The problem's loss (None for a problem built from a field).")
      .def_readonly("name", &PyProblem::name)
      .def_readonly("stiffness", &PyProblem::stiffness)
      .def_property_readonly(
          "exact_gradient",
          [](const PyProblem& p) -> py::object {
            if (!p.exact_gradient) return py::none();
            return ToNumpy(*p.exact_gradient);
          },
          "[dL/dθ; dL/dz0] in closed form, or None.")
      .def("__repr__", [](const PyProblem& p) {
        return "<snode.Problem " + p.name + ", " + std::to_string(p.ode.field->state_size()) +
               " states, " + std::to_string(p.ode.field->num_params()) + " parameters>";
      });
  m.def("problem", &MakeRegistryProblem, py::arg("name"), py::arg("stiffness") = py::none(),
        py::arg("seed") = 0,
        "A registered problem (snode.problems()) at the given stiffness (None: its first "
        "default value).");
}

void BindLosses(py::module_& m) {
  py::class_<Loss, std::shared_ptr<Loss>>(m, "Loss", "L = Σ_i ℓ_i(z(t_i)) (+ a running cost).")
      .def_property_readonly("num_readout_params", &Loss::num_readout_params);
  py::class_<PyMseLoss, Loss, std::shared_ptr<PyMseLoss>>(
      m, "MseLoss",
      "ℓ_i = scale·‖z(t_i) − targets[i]‖², targets of shape (len(times), n); scale ≤ 0: the mean "
      "over all values.")
      .def(py::init<const py::handle&, double>(), py::arg("targets"), py::arg("scale") = 0.0);
  py::class_<PyLinearLoss, Loss, std::shared_ptr<PyLinearLoss>>(
      m, "LinearLoss",
      "ℓ_i = weights[i]·z(t_i), weights of shape (len(times), n), plus ∫ running·z dt when "
      "running is given.")
      .def(py::init<const py::handle&, const py::object&>(), py::arg("weights"),
           py::arg("running") = py::none());
  py::class_<PythonLoss, Loss, std::shared_ptr<PythonLoss>>(
      m, "PythonLoss", "ℓ_i from term(i, t, z) -> (value, dvalue_dz), called with the GIL held.")
      .def(py::init<py::function>(), py::arg("term"));
}

}  // namespace

void CheckLossRows(const Loss& loss, std::size_t output_times) {
  const auto* rows = dynamic_cast<const RowsLoss*>(&loss);
  if (rows == nullptr) return;
  Require(rows->rows() == output_times, [&] {
    return rows->kind() + " have " + std::to_string(rows->rows()) + " rows but the problem has " +
           std::to_string(output_times) + " output times";
  });
}

void BindProblems(py::module_& m) {
  BindLosses(m);
  BindProblemClass(m);
}

}  // namespace snode::python
