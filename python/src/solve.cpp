// Solving and differentiating from Python (docs/python.md, "Solving and differentiating"): the
// integrator and gradient-method objects, snode.solve, snode.gradient and snode.check_gradient.
// Every solve runs with the GIL released and Ctrl-C armed (InterruptScope).
#include <pybind11/stl.h>

#include <functional>
#include <map>

#include "adjoint/gradient_checker.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/tolerance_check.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "python/src/bindings.hpp"

namespace snode::python {
namespace {

template <typename T>
T CastOption(const std::string& name, const py::handle& value, const char* type) {
  try {
    return value.cast<T>();
  } catch (const py::cast_error&) {
    throw ConfigError("integrator option '" + name + "' must be " + type + ", got " +
                      py::str(py::type::of(value)).cast<std::string>());
  }
}

using OptionSetter = std::function<void(IntegratorOptions&, const std::string&, const py::handle&)>;

template <typename T>
OptionSetter Member(T IntegratorOptions::*member, const char* type) {
  return [member, type](IntegratorOptions& o, const std::string& name, const py::handle& value) {
    o.*member = CastOption<T>(name, value, type);
  };
}

const std::map<std::string, OptionSetter>& OptionSetters() {
  static const std::map<std::string, OptionSetter> setters = {
      {"rtol", Member(&IntegratorOptions::rtol, "a number")},
      {"atol", Member(&IntegratorOptions::atol, "a number")},
      {"fixed_step", Member(&IntegratorOptions::fixed_step, "a number")},
      {"initial_step", Member(&IntegratorOptions::initial_step, "a number")},
      {"initial_step_estimate", Member(&IntegratorOptions::initial_step_estimate, "a string")},
      {"step_controller", Member(&IntegratorOptions::step_controller, "a string")},
      {"max_step", Member(&IntegratorOptions::max_step, "a number")},
      {"max_steps", Member(&IntegratorOptions::max_steps, "an integer")},
      {"linear_solver", Member(&IntegratorOptions::linear_solver, "a string")},
      {"preconditioner", Member(&IntegratorOptions::preconditioner, "a string")},
      {"max_nonlinear_iters", Member(&IntegratorOptions::max_nonlinear_iters, "an integer")},
      {"krylov_max_dim", Member(&IntegratorOptions::krylov_max_dim, "an integer")},
      {"interpolate_outputs", Member(&IntegratorOptions::interpolate_outputs, "a bool")},
      {"record_steps", Member(&IntegratorOptions::record_steps, "a bool")},
  };
  return setters;
}

// IntegratorOptions from rtol, atol and the keyword arguments; ConfigError for an unknown one.
IntegratorOptions MakeIntegratorOptions(double rtol, double atol, const py::kwargs& extra) {
  IntegratorOptions options;
  options.rtol = rtol;
  options.atol = atol;
  for (const auto& item : extra) {
    const std::string name = py::str(item.first);
    const auto setter = OptionSetters().find(name);
    if (setter == OptionSetters().end()) {
      std::string known;
      for (const auto& entry : OptionSetters()) known += (known.empty() ? "" : ", ") + entry.first;
      throw ConfigError("unknown integrator option '" + name + "'; known: " + known);
    }
    setter->second(options, name, item.second);
  }
  options.Validate();
  return options;
}

py::dict IntegratorStatsDict(const IntegratorStats& s) {
  py::dict d;
  d["steps"] = s.steps;
  d["rejected_steps"] = s.rejected_steps;
  d["rhs_evals"] = s.rhs_evals;
  d["jvp_evals"] = s.jvp_evals;
  d["jacobian_evals"] = s.jacobian_evals;
  d["linear_iters"] = s.linear_iters;
  d["nonlinear_iters"] = s.nonlinear_iters;
  d["preconditioner_setups"] = s.preconditioner_setups;
  d["preconditioner_solves"] = s.preconditioner_solves;
  d["krylov_dim_max"] = s.krylov_dim_max;
  d["krylov_dim_mean"] = s.krylov_dim_mean;
  d["wall_seconds"] = s.wall_seconds;
  d["first_step"] = s.first_step;
  return d;
}

py::dict GradientStatsDict(const GradientStats& s) {
  py::dict d;
  d["forward_rhs_evals"] = s.forward_rhs_evals;
  d["backward_rhs_evals"] = s.backward_rhs_evals;
  d["vjp_evals"] = s.vjp_evals;
  d["jvp_evals"] = s.jvp_evals;
  d["forward_steps"] = s.forward_steps;
  d["backward_steps"] = s.backward_steps;
  d["checkpoints"] = s.checkpoints;
  d["backward_restarts"] = s.backward_restarts;
  d["forward_nonlinear_iters"] = s.forward_nonlinear_iters;
  d["backward_nonlinear_iters"] = s.backward_nonlinear_iters;
  d["forward_linear_iters"] = s.forward_linear_iters;
  d["backward_linear_iters"] = s.backward_linear_iters;
  d["forward_preconditioner_setups"] = s.forward_preconditioner_setups;
  d["forward_preconditioner_solves"] = s.forward_preconditioner_solves;
  d["backward_preconditioner_setups"] = s.backward_preconditioner_setups;
  d["backward_preconditioner_solves"] = s.backward_preconditioner_solves;
  d["stored_bytes"] = s.stored_bytes;
  d["wall_seconds"] = s.wall_seconds;
  d["reconstruction_error"] = s.reconstruction_error;
  d["reconstruction_failed"] = s.reconstruction_failed;
  d["amplification"] = s.amplification;
  d["error_estimate"] = s.error_estimate;
  d["flagged"] = s.flagged;
  d["diagnosis"] = s.diagnosis;
  return d;
}

// Runs work() with the GIL released, the solver object and the field locked (FieldLock), and
// Ctrl-C armed; KeyboardInterrupt when SIGINT came.
template <typename Work>
auto RunSolverWork(std::mutex& object, const VectorField* field, Work&& work) {
  InterruptScope scope;
  auto result = [&] {
    py::gil_scoped_release release;
    const std::lock_guard<std::mutex> object_lock(object);
    const FieldLock field_lock(field);
    return work();
  }();
  if (scope.interrupted()) throw Interrupted();
  return result;
}

// The solution of snode.solve.
struct Solution {
  py::array_t<double> times, states, step_times;
  py::dict stats;
};

class PyIntegrator {
 public:
  PyIntegrator(const std::string& name, double rtol, double atol, const py::kwargs& extra)
      : integrator_(IntegratorRegistry().Create(name, MakeIntegratorOptions(rtol, atol, extra))) {}

  Solution Solve(const PyProblem& problem) {
    const OdeProblem ode = Interruptible(problem.ode);
    const Trajectory trajectory =
        RunSolverWork(*mutex_, problem.ode.field.get(), [&] { return integrator_->Solve(ode); });
    Solution solution;
    solution.times = ToNumpy(trajectory.times);
    solution.states = ToNumpy(trajectory.states);
    solution.step_times = ToNumpy(trajectory.step_times);
    solution.stats = IntegratorStatsDict(trajectory.stats);
    return solution;
  }
  std::string name() const { return integrator_->name(); }

 private:
  std::unique_ptr<Integrator> integrator_;
  std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();  // one solve at a time
};

// The result of snode.gradient.
struct GradientResult {
  double loss = 0.0;
  py::array_t<double> dtheta, dz0, dreadout, states;
  py::dict stats;
  bool flagged = false;
  std::string diagnosis;
};

GradientOptions MakeGradientOptions(const std::string& integrator, double rtol, double atol,
                                    const py::object& backward_integrator,
                                    const py::object& backward_rtol,
                                    const py::object& backward_atol,
                                    const py::object& method_options, bool tolerance_check,
                                    const py::kwargs& extra) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options = MakeIntegratorOptions(rtol, atol, extra);
  if (!backward_integrator.is_none())
    options.backward_integrator = backward_integrator.cast<std::string>();
  if (!backward_rtol.is_none() || !backward_atol.is_none()) {
    IntegratorOptions backward = options.integrator_options;
    if (!backward_rtol.is_none())
      backward.rtol = CastOption<double>("backward_rtol", backward_rtol, "a number");
    if (!backward_atol.is_none())
      backward.atol = CastOption<double>("backward_atol", backward_atol, "a number");
    options.backward_options = backward;
  }
  if (!method_options.is_none()) {
    for (const auto& item : method_options.cast<py::dict>()) {
      options.method_settings.Set(py::str(item.first), py::str(item.second));
    }
  }
  options.tolerance_check = tolerance_check;
  options.Validate();
  return options;
}

const Loss& ChooseLoss(const PyProblem& problem, const std::shared_ptr<Loss>& loss) {
  if (loss) {
    CheckLossRows(*loss, problem.ode.output_times.size());
    return *loss;
  }
  Require(problem.loss != nullptr,
          "this problem has no loss: pass loss= (snode.MseLoss, snode.LinearLoss, "
          "snode.PythonLoss)");
  return *problem.loss;
}

class PyGradientMethod {
 public:
  PyGradientMethod(const std::string& method, GradientOptions options)
      : method_(CreateGradientMethod(method, options)) {}

  GradientResult Compute(const PyProblem& problem, const std::shared_ptr<Loss>& loss_override) {
    const Loss& loss = ChooseLoss(problem, loss_override);
    const OdeProblem ode = Interruptible(problem.ode);
    const LossAndGradient r = RunSolverWork(*mutex_, problem.ode.field.get(),
                                            [&] { return method_->Compute(ode, loss); });
    GradientResult result;
    result.loss = r.loss;
    result.dtheta = ToNumpy(r.dtheta);
    result.dz0 = ToNumpy(r.dz0);
    result.dreadout = ToNumpy(r.dreadout);
    result.states = ToNumpy(r.forward.states);
    result.stats = GradientStatsDict(r.stats);
    result.flagged = r.stats.flagged;
    result.diagnosis = r.stats.diagnosis;
    return result;
  }
  std::string name() const { return method_->name(); }

 private:
  std::unique_ptr<GradientMethod> method_;
  std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();  // one gradient at a time
};

PyGradientMethod MakeGradientMethod(const std::string& method, const std::string& integrator,
                                    double rtol, double atol, const py::object& backward_integrator,
                                    const py::object& backward_rtol,
                                    const py::object& backward_atol,
                                    const py::object& method_options, bool tolerance_check,
                                    const py::kwargs& extra) {
  return PyGradientMethod(
      method, MakeGradientOptions(integrator, rtol, atol, backward_integrator, backward_rtol,
                                  backward_atol, method_options, tolerance_check, extra));
}

GradientCheckResult CheckGradientPy(const PyProblem& problem, const std::shared_ptr<Loss>& loss,
                                    const std::string& method, const std::string& integrator,
                                    double rtol, double atol, const std::string& reference,
                                    double relative_tolerance, Index max_components, int directions,
                                    std::uint64_t seed, const py::kwargs& extra) {
  const GradientOptions options = MakeGradientOptions(
      integrator, rtol, atol, py::none(), py::none(), py::none(), py::none(), false, extra);
  GradientCheckOptions check;
  check.reference = reference;
  check.relative_tolerance = relative_tolerance;
  check.max_components = max_components;
  check.directions = directions;
  check.seed = seed;
  check.Validate();
  const Loss& chosen = ChooseLoss(problem, loss);
  const OdeProblem ode = Interruptible(problem.ode);
  std::mutex unshared;  // the checker's methods are its own
  return RunSolverWork(unshared, problem.ode.field.get(),
                       [&] { return CheckGradient(ode, chosen, method, options, check); });
}

#define SNODE_GRADIENT_ARGS                                                                    \
  py::arg("rtol") = 1e-6, py::arg("atol") = 1e-8, py::arg("backward_integrator") = py::none(), \
  py::arg("backward_rtol") = py::none(), py::arg("backward_atol") = py::none(),                \
  py::arg("method_options") = py::none(), py::arg("tolerance_check") = false

void BindSolution(py::module_& m) {
  py::class_<Solution>(m, "Solution", "States at the output times and the solver's statistics.")
      .def_readonly("times", &Solution::times)
      .def_readonly("states", &Solution::states, "(len(times), state_size)")
      .def_readonly("step_times", &Solution::step_times, "with record_steps=True")
      .def_readonly("stats", &Solution::stats);
  py::class_<GradientResult>(m, "GradientResult",
                             "L, dL/dθ, dL/dz0, dL/dφ, the forward states, statistics and flag.")
      .def_readonly("loss", &GradientResult::loss)
      .def_readonly("dtheta", &GradientResult::dtheta)
      .def_readonly("dz0", &GradientResult::dz0)
      .def_readonly("dreadout", &GradientResult::dreadout)
      .def_readonly("states", &GradientResult::states)
      .def_readonly("stats", &GradientResult::stats)
      .def_readonly("flagged", &GradientResult::flagged,
                    "True when the method's own evidence says the gradient may be wrong")
      .def_readonly("diagnosis", &GradientResult::diagnosis);
}

void BindIntegrator(py::module_& m) {
  py::class_<PyIntegrator>(m, "Integrator",
                           "A reusable integrator: create once, solve many problems.")
      .def(py::init<const std::string&, double, double, const py::kwargs&>(),
           py::arg("name") = "dopri5", py::arg("rtol") = 1e-6, py::arg("atol") = 1e-8)
      .def_property_readonly("name", &PyIntegrator::name)
      .def("solve", &PyIntegrator::Solve, py::arg("problem"));
  m.def(
      "solve",
      [](const PyProblem& problem, const std::string& integrator, double rtol, double atol,
         const py::kwargs& extra) {
        return PyIntegrator(integrator, rtol, atol, extra).Solve(problem);
      },
      py::arg("problem"), py::arg("integrator") = "dopri5", py::arg("rtol") = 1e-6,
      py::arg("atol") = 1e-8,
      "Solves problem with the named integrator; keyword arguments are IntegratorOptions "
      "fields (fixed_step, max_steps, linear_solver, ...). Returns a Solution.");
}

void BindGradient(py::module_& m) {
  py::class_<PyGradientMethod>(m, "GradientMethod",
                               "A reusable gradient method (a training loop creates it once).")
      .def(py::init(&MakeGradientMethod), py::arg("method") = "cvodes_adjoint",
           py::arg("integrator") = "cvodes_bdf", SNODE_GRADIENT_ARGS)
      .def_property_readonly("name", &PyGradientMethod::name)
      .def("compute", &PyGradientMethod::Compute, py::arg("problem"),
           py::arg("loss") = std::shared_ptr<Loss>(),
           "L and its gradients on problem (loss None: the problem's own).");
  m.def(
      "gradient",
      [](const PyProblem& problem, const std::shared_ptr<Loss>& loss, const std::string& method,
         const std::string& integrator, double rtol, double atol,
         const py::object& backward_integrator, const py::object& backward_rtol,
         const py::object& backward_atol, const py::object& method_options, bool tolerance_check,
         const py::kwargs& extra) {
        return MakeGradientMethod(method, integrator, rtol, atol, backward_integrator,
                                  backward_rtol, backward_atol, method_options, tolerance_check,
                                  extra)
            .Compute(problem, loss);
      },
      py::arg("problem"), py::arg("loss") = std::shared_ptr<Loss>(),
      py::arg("method") = "cvodes_adjoint", py::arg("integrator") = "cvodes_bdf",
      SNODE_GRADIENT_ARGS,
      "L = loss(z(t_1..t_K)) and dL/dθ, dL/dz0 by the named gradient method (bptt, "
      "backsolve_adjoint, cvodes_adjoint, plug-ins) through the named integrator. Keyword "
      "arguments are IntegratorOptions fields; method_options a dict of the method's own "
      "settings. Returns a GradientResult; check .flagged.");
}

void BindChecker(py::module_& m) {
  py::class_<GradientComponentCheck>(m, "GradientComponentCheck")
      .def_readonly("name", &GradientComponentCheck::name)
      .def_readonly("method", &GradientComponentCheck::method)
      .def_readonly("reference", &GradientComponentCheck::reference)
      .def_readonly("relative_error", &GradientComponentCheck::relative_error);
  py::class_<GradientCheckResult>(m, "GradientCheckResult")
      .def_property_readonly("verdict",
                             [](const GradientCheckResult& r) { return VerdictName(r.verdict); })
      .def_readonly("method", &GradientCheckResult::method)
      .def_readonly("reference", &GradientCheckResult::reference)
      .def_readonly("components", &GradientCheckResult::components)
      .def_readonly("max_relative_error", &GradientCheckResult::max_relative_error)
      .def_readonly("tolerance", &GradientCheckResult::tolerance)
      .def_readonly("subset", &GradientCheckResult::subset)
      .def_readonly("loss", &GradientCheckResult::loss)
      .def_readonly("reference_loss", &GradientCheckResult::reference_loss)
      .def_readonly("method_flagged", &GradientCheckResult::method_flagged)
      .def_readonly("method_diagnosis", &GradientCheckResult::method_diagnosis)
      .def_readonly("reference_flagged", &GradientCheckResult::reference_flagged)
      .def_readonly("reference_diagnosis", &GradientCheckResult::reference_diagnosis);
  m.def("check_gradient", &CheckGradientPy, py::arg("problem"),
        py::arg("loss") = std::shared_ptr<Loss>(), py::arg("method") = "bptt",
        py::arg("integrator") = "dopri5", py::arg("rtol") = 1e-6, py::arg("atol") = 1e-8,
        py::arg("reference") = "finite_difference", py::arg("relative_tolerance") = 0.0,
        py::arg("max_components") = 32, py::arg("directions") = 3, py::arg("seed") = 0,
        "Compares the method's [dL/dθ; dL/dz0] with central differences (or another method) and "
        "gives a verdict: pass, FAIL, flagged or inconclusive.");
}

}  // namespace

void BindSolve(py::module_& m) {
  BindSolution(m);
  BindIntegrator(m);
  BindGradient(m);
  BindChecker(m);
}

}  // namespace snode::python
