// Fields for Python (docs/python.md, "Fields"): the VectorField interface with numpy arguments,
// the library's fields, and PythonField, a field whose f, JVP and VJP are Python callables.
#include <pybind11/stl.h>

#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "models/operator_field.hpp"
#include "problems/reaction_diffusion.hpp"
#include "python/src/bindings.hpp"

namespace snode::python {
namespace {

// A fresh read-only copy for a callback: it may keep the array, and writing to it would change
// nothing in the solver.
py::array_t<double> CallbackArray(ConstVectorRef values) {
  py::array_t<double> array = ToNumpy(values);
  py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return array;
}

// f, jvp and vjp from Python. Every call takes the GIL and passes fresh read-only arrays (a
// callback may keep them); results are copied out after their size is checked.
class PythonCallableField final : public VectorField {
 public:
  PythonCallableField(Index state_size, Index num_params, py::function f, py::function jvp,
                      py::function vjp, std::string name)
      : n_(state_size),
        p_(num_params),
        f_(std::move(f)),
        jvp_(std::move(jvp)),
        vjp_(std::move(vjp)),
        name_(std::move(name)) {
    Require(n_ > 0, "PythonField state_size must be positive");
    Require(p_ >= 0, "PythonField num_params must be non-negative");
  }
  ~PythonCallableField() override {
    py::gil_scoped_acquire gil;
    f_ = py::function();
    jvp_ = py::function();
    vjp_ = py::function();
  }

  std::string name() const override { return name_; }
  Index state_size() const override { return n_; }
  Index num_params() const override { return p_; }

  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    CheckState("F", "z", z.size());
    py::gil_scoped_acquire gil;
    CopyResult(f_(t, CallbackArray(z), CallbackArray(theta)), out, "PythonField f");
  }
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    CheckState("Jvp", "v", v.size());
    py::gil_scoped_acquire gil;
    CopyResult(jvp_(t, CallbackArray(z), CallbackArray(theta), CallbackArray(v)), out,
               "PythonField jvp");
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    Vector unused(p_);
    CallVjp(t, z, theta, a, out, unused);
  }
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    Vector unused(n_);
    CallVjp(t, z, theta, a, unused, grad);
  }
  void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef a_state,
           VectorRef grad) override {
    CallVjp(t, z, theta, a, a_state, grad);
  }
  std::unique_ptr<VectorField> Clone() const override {
    py::gil_scoped_acquire gil;
    return std::make_unique<PythonCallableField>(n_, p_, f_, jvp_, vjp_, name_);
  }

 private:
  // a_state = (∂f/∂z)ᵀa, grad += (∂f/∂θ)ᵀa from one call of vjp.
  void CallVjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
               VectorRef a_state, VectorRef grad) {
    CheckState("Vjp", "a", a.size());
    CheckParams("Vjp", grad.size());
    py::gil_scoped_acquire gil;
    const py::object result = vjp_(t, CallbackArray(z), CallbackArray(theta), CallbackArray(a));
    Require(py::isinstance<py::tuple>(result) && py::len(result) == 2,
            "PythonField vjp must return a tuple (vjp_z, vjp_theta)");
    const auto pair = py::reinterpret_borrow<py::tuple>(result);
    CopyResult(pair[0], a_state, "PythonField vjp (vjp_z)");
    Vector params(p_);
    CopyResult(pair[1], params, "PythonField vjp (vjp_theta)");
    grad += params;
  }

  Index n_, p_;
  py::function f_, jvp_, vjp_;
  std::string name_;
};

using FieldClass = py::class_<VectorField, std::shared_ptr<VectorField>>;

py::array_t<double> EvaluateF(VectorField& field, double t, const py::handle& z,
                              const py::handle& theta) {
  py::object keep_z, keep_theta;
  const auto zv = ReadVector(z, "z", keep_z, field.state_size());
  const auto th = ReadVector(theta, "theta", keep_theta, field.num_params());
  Vector out(field.state_size());
  {
    py::gil_scoped_release release;  // a PythonField takes it back in its callbacks
    const FieldLock lock(&field);
    field.F(t, zv, th, out);
  }
  return ToNumpy(out);
}

py::array_t<double> EvaluateJvp(VectorField& field, double t, const py::handle& z,
                                const py::handle& theta, const py::handle& v) {
  py::object keep_z, keep_theta, keep_v;
  const auto zv = ReadVector(z, "z", keep_z, field.state_size());
  const auto th = ReadVector(theta, "theta", keep_theta, field.num_params());
  const auto vv = ReadVector(v, "v", keep_v, field.state_size());
  Vector out(field.state_size());
  {
    py::gil_scoped_release release;  // a PythonField takes it back in its callbacks
    const FieldLock lock(&field);
    field.Jvp(t, zv, th, vv, out);
  }
  return ToNumpy(out);
}

py::tuple EvaluateVjp(VectorField& field, double t, const py::handle& z, const py::handle& theta,
                      const py::handle& a) {
  py::object keep_z, keep_theta, keep_a;
  const auto zv = ReadVector(z, "z", keep_z, field.state_size());
  const auto th = ReadVector(theta, "theta", keep_theta, field.num_params());
  const auto av = ReadVector(a, "a", keep_a, field.state_size());
  Vector a_state(field.state_size());
  Vector grad = Vector::Zero(field.num_params());
  {
    py::gil_scoped_release release;  // a PythonField takes it back in its callbacks
    const FieldLock lock(&field);
    field.Vjp(t, zv, th, av, a_state, grad);
  }
  return py::make_tuple(ToNumpy(a_state), ToNumpy(grad));
}

py::array_t<double> EvaluateJacobian(VectorField& field, double t, const py::handle& z,
                                     const py::handle& theta) {
  py::object keep_z, keep_theta;
  const auto zv = ReadVector(z, "z", keep_z, field.state_size());
  const auto th = ReadVector(theta, "theta", keep_theta, field.num_params());
  const Index n = field.state_size();
  Require(n <= 4096, "dense_jacobian refuses more than 4096 states (an n × n matrix)");
  Matrix jac(n, n);
  {
    py::gil_scoped_release release;  // a PythonField takes it back in its callbacks
    const FieldLock lock(&field);
    field.DenseJacobian(t, zv, th, jac);
  }
  py::array_t<double> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(n)});
  Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      out.mutable_data(), n, n) = jac;
  return out;
}

void BindFieldBase(FieldClass& field) {
  field.def_property_readonly("name", &VectorField::name)
      .def_property_readonly("state_size", &VectorField::state_size,
                             "Length of the state z (batch × width for a batched field).")
      .def_property_readonly("num_params", &VectorField::num_params, "Length of θ.")
      .def("f", &EvaluateF, py::arg("t"), py::arg("z"), py::arg("theta"),
           "f(t, z; θ) as a new array.")
      .def("jvp", &EvaluateJvp, py::arg("t"), py::arg("z"), py::arg("theta"), py::arg("v"),
           "(∂f/∂z) v, the Jacobian-vector product.")
      .def("vjp", &EvaluateVjp, py::arg("t"), py::arg("z"), py::arg("theta"), py::arg("a"),
           "(aᵀ ∂f/∂z, aᵀ ∂f/∂θ), the two vector-Jacobian products, as a tuple of arrays.")
      .def("dense_jacobian", &EvaluateJacobian, py::arg("t"), py::arg("z"), py::arg("theta"),
           "∂f/∂z as an (n, n) array (closed form where the field has one, else n JVPs).")
      .def_property_readonly("is_autonomous", &VectorField::IsAutonomous)
      .def("__repr__", [](const VectorField& f) { return "<snode.Field " + f.name() + ">"; });
}

std::shared_ptr<MlpField> MakeMlp(std::vector<Index> widths, const py::object& activation,
                                  bool time_input, Index batch) {
  MlpOptions options;
  options.widths = std::move(widths);
  if (py::isinstance<py::str>(activation)) {
    options.activations = {activation.cast<std::string>()};
  } else {
    options.activations = activation.cast<std::vector<std::string>>();
  }
  options.time_input = time_input;
  options.batch = batch;
  return std::make_shared<MlpField>(options);
}

void BindLibraryFields(py::module_& m) {
  py::class_<MlpField, VectorField, std::shared_ptr<MlpField>>(
      m, "Mlp",
      "The batched multilayer perceptron f(t, z; θ) (θ: per layer W row-major as nn.Linear.weight, "
      "then b).")
      .def(py::init(&MakeMlp), py::arg("widths"), py::arg("activation") = "tanh",
           py::arg("time_input") = false, py::arg("batch") = 1)
      .def(
          "initial_params",
          [](const MlpField& mlp, unsigned seed) { return ToNumpy(mlp.InitialParams(seed)); },
          py::arg("seed") = 0, "PyTorch's default nn.Linear initialisation, reproducible by seed.")
      .def_property_readonly("widths", [](const MlpField& mlp) { return mlp.options().widths; })
      .def_property_readonly("batch", [](const MlpField& mlp) { return mlp.options().batch; });
  py::class_<DecayField, VectorField, std::shared_ptr<DecayField>>(m, "DecayField", "z' = −θ ∘ z.")
      .def(py::init<Index>(), py::arg("dimension") = 1);
  py::class_<LinearField, VectorField, std::shared_ptr<LinearField>>(
      m, "LinearField", "z' = A z + b with θ = vec(A), column-major.")
      .def(py::init([](Index dimension, const py::object& offset) {
             return std::make_shared<LinearField>(
                 dimension, offset.is_none() ? Vector() : ToVector(offset, "offset", dimension));
           }),
           py::arg("dimension"), py::arg("offset") = py::none());
  py::class_<LotkaVolterraField, VectorField, std::shared_ptr<LotkaVolterraField>>(
      m, "LotkaVolterraField", "Lotka–Volterra with θ = (α, β, δ, γ).")
      .def(py::init<>());
  py::class_<RobertsonField, VectorField, std::shared_ptr<RobertsonField>>(
      m, "RobertsonField", "Robertson's kinetics with θ = (k1, k2, k3).")
      .def(py::init<>());
}

void BindOperatorFields(py::module_& m) {
  py::class_<OperatorPlusPointwiseField, VectorField, std::shared_ptr<OperatorPlusPointwiseField>>
      op(m, "OperatorPointwiseField",
         "Periodic 1-D diffusion plus a pointwise field applied at every grid point, with the "
         "exact block-tridiagonal preconditioner for implicit solves.");
  op.def(py::init([](Index points, std::vector<double> diffusion,
                     const std::shared_ptr<VectorField>& pointwise, Index species) {
           Require(pointwise != nullptr, "OperatorPointwiseField needs a pointwise field");
           return std::make_shared<OperatorPlusPointwiseField>(
               std::make_unique<PeriodicDiffusion1D>(points, std::move(diffusion)),
               pointwise->Clone(), species);
         }),
         py::arg("points"), py::arg("diffusion"), py::arg("pointwise"), py::arg("species"));
  m.def(
      "ReactionDiffusionField",
      [](Index points, Index hidden, double diffusion, Index chunk_points) {
        problems::ReactionDiffusionOptions options;
        options.points = points;
        options.hidden = hidden;
        options.diffusion = diffusion;
        options.chunk_points = chunk_points;
        options.Validate();
        return std::shared_ptr<OperatorPlusPointwiseField>(
            problems::MakeNeuralReactionDiffusionField(options));
      },
      py::arg("points"), py::arg("hidden") = 16, py::arg("diffusion") = 1e-3,
      py::arg("chunk_points") = 1024,
      "The neural reaction–diffusion field: periodic diffusion on `points` points plus the MLP "
      "2-h-h-2 at every point (2·points states).");
}

}  // namespace

void BindFields(py::module_& m) {
  FieldClass field(m, "Field", "A vector field f(t, z; θ) with its derivative products.");
  BindFieldBase(field);
  BindLibraryFields(m);
  BindOperatorFields(m);
  py::class_<PythonCallableField, VectorField, std::shared_ptr<PythonCallableField>>(
      m, "PythonField",
      "A field from Python callables f(t, z, theta), jvp(t, z, theta, v) and vjp(t, z, theta, a) "
      "-> (vjp_z, vjp_theta). Each call holds the GIL and gets fresh arrays.")
      .def(py::init<Index, Index, py::function, py::function, py::function, std::string>(),
           py::arg("state_size"), py::arg("num_params"), py::arg("f"), py::arg("jvp"),
           py::arg("vjp"), py::arg("name") = "python");
}

}  // namespace snode::python
