#include "adjoint/forward_sensitivity.hpp"

#include <cvodes/cvodes.h>
#include <cvodes/cvodes_ls.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "core/callbacks.hpp"
#include "core/errors.hpp"
#include "core/nvector.hpp"
#include "core/sundials_context.hpp"
#include "integrators/sundials_check.hpp"

namespace snode {

namespace {

const std::string kContext = "(forward_sensitivity reference)";
const char* const kSolverName = "cvodes_bdf forward sensitivities";

void Check(int flag, const char* call) { detail::CheckCvodes(flag, call, kContext); }

template <class T>
T* Created(T* pointer, const char* call) {
  detail::CheckNotNull(pointer, call, kContext);
  return pointer;
}

// The callbacks' data: the field and θ (CallbackData) plus ∂f/∂θ at the last (t, z) asked for.
struct SensitivityData : CallbackData {
  Index n = 0;
  Index p = 0;
  Matrix dfdtheta;  // n × P
  Vector unit;      // e_i
  Vector cached_z;
  double cached_t = 0.0;
  bool cached = false;
  long vjp_evals = 0;

  // dfdtheta = ∂f/∂θ(t, z), row i = e_iᵀ ∂f/∂θ from VjpParams; reused while (t, z) is unchanged.
  void UpdateParameterJacobian(double t, ConstVectorRef z) {
    if (cached && t == cached_t && z == cached_z) return;
    Vector row(p);
    for (Index i = 0; i < n; ++i) {
      unit.setZero();
      unit(i) = 1.0;
      row.setZero();
      field->VjpParams(t, z, *theta, unit, row);
      dfdtheta.row(i) = row.transpose();
    }
    vjp_evals += n;
    cached_z = z;
    cached_t = t;
    cached = true;
  }
};

// ySdot = (∂f/∂z) yS + ∂f/∂θ_iS (the last term only for a parameter sensitivity, iS < P).
int SensitivityRhs(int /*Ns*/, sunrealtype t, N_Vector y, N_Vector /*ydot*/, int iS, N_Vector yS,
                   N_Vector ySdot, void* user_data, N_Vector /*tmp1*/, N_Vector /*tmp2*/) {
  auto& data = static_cast<SensitivityData&>(*static_cast<CallbackData*>(user_data));
  try {
    const auto z = AsConstEigen(y);
    auto out = AsEigen(ySdot);
    data.field->Jvp(t, z, *data.theta, AsConstEigen(yS), out);
    ++data.jvp_evals;
    if (iS < data.p) {
      data.UpdateParameterJacobian(t, z);
      out += data.dfdtheta.col(iS);
    }
    return AllFinite(out) ? 0 : 1;
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// Owner of an N_Vector array made by N_VCloneVectorArray.
struct VectorArray {
  N_Vector* vectors = nullptr;
  int count = 0;
  VectorArray(int n, N_Vector like) : vectors(N_VCloneVectorArray(n, like)), count(n) {
    detail::CheckNotNull(vectors, "N_VCloneVectorArray", kContext);
  }
  ~VectorArray() { N_VDestroyVectorArray(vectors, count); }
  VectorArray(const VectorArray&) = delete;
  VectorArray& operator=(const VectorArray&) = delete;
};

class SensitivitySolver {
 public:
  SensitivitySolver(const OdeProblem& problem, double rtol, double atol, long max_steps)
      : n_(problem.field->state_size()),
        p_(problem.field->num_params()),
        y_(MakeNVector(problem.z0, context_)),
        sens_(static_cast<int>(p_ + n_), y_.get()) {
    data_.Bind(problem.field.get(), &problem.theta);
    data_.n = n_;
    data_.p = p_;
    data_.dfdtheta.resize(n_, p_);
    data_.unit.resize(n_);
    for (int j = 0; j < sens_.count; ++j) {
      auto s = AsEigen(sens_.vectors[j]);
      s.setZero();
      if (j >= p_) s(j - p_) = 1.0;
    }
    Initialise(problem, rtol, atol, max_steps);
  }

  // Advances to t_out (a stop time) and returns z(t_out); sensitivities into sens_.
  Eigen::Map<const Vector> Advance(double t_out) {
    void* m = mem_.get();
    Check(CVodeSetStopTime(m, t_out), "CVodeSetStopTime");
    sunrealtype t_reached = 0;
    const int flag = CVode(m, t_out, y_.get(), &t_reached, CV_NORMAL);
    if (flag < 0) {
      detail::ThrowSolveFailure(detail::SolverFamily::kCvodes, "CVode", flag, t_reached,
                                kSolverName, data_, errors_);
    }
    data_.RethrowPending();
    Check(CVodeGetSens(m, &t_reached, sens_.vectors), "CVodeGetSens");
    detail::CheckStateFinite(AsConstEigen(y_.get()), t_out, kSolverName);
    return AsConstEigen(y_.get());
  }

  // Adds S(t)ᵀ w to [dθ; dz0].
  void AddTransposed(const Vector& w, Vector& dtheta, Vector& dz0) const {
    for (Index j = 0; j < p_ + n_; ++j) {
      const double value = AsConstEigen(sens_.vectors[j]).dot(w);
      if (j < p_) {
        dtheta(j) += value;
      } else {
        dz0(j - p_) += value;
      }
    }
  }

  void FillStats(GradientStats& stats) const {
    long steps = 0;
    Check(CVodeGetNumSteps(mem_.get(), &steps), "CVodeGetNumSteps");
    stats.forward_steps = steps;
    stats.forward_rhs_evals = data_.rhs_evals;
    stats.jvp_evals = data_.jvp_evals;
    stats.vjp_evals = data_.vjp_evals;
  }

 private:
  void Initialise(const OdeProblem& problem, double rtol, double atol, long max_steps) {
    mem_.reset(Created(CVodeCreate(CV_BDF, context_), "CVodeCreate"));
    void* m = mem_.get();
    Check(CVodeSetErrHandlerFn(m, detail::RecordingErrorHandler, &errors_), "CVodeSetErrHandlerFn");
    Check(CVodeInit(m, RhsTrampoline, problem.t0, y_.get()), "CVodeInit");
    Check(CVodeSStolerances(m, rtol, atol), "CVodeSStolerances");
    Check(CVodeSetUserData(m, static_cast<CallbackData*>(&data_)), "CVodeSetUserData");
    Check(CVodeSetMaxNumSteps(m, max_steps), "CVodeSetMaxNumSteps");
    CheckDenseNewtonSize(n_, "ForwardSensitivityGradient");
    matrix_.reset(Created(SUNDenseMatrix(n_, n_, context_), "SUNDenseMatrix"));
    solver_.reset(Created(SUNLinSol_Dense(y_.get(), matrix_.get(), context_), "SUNLinSol_Dense"));
    Check(CVodeSetLinearSolver(m, solver_.get(), matrix_.get()), "CVodeSetLinearSolver");
    Check(CVodeSetJacFn(m, DenseJacobianTrampoline), "CVodeSetJacFn");
    Check(CVodeSensInit1(m, sens_.count, CV_STAGGERED, SensitivityRhs, sens_.vectors),
          "CVodeSensInit1");
    std::vector<sunrealtype> abstol(static_cast<std::size_t>(sens_.count), atol);
    Check(CVodeSensSStolerances(m, rtol, abstol.data()), "CVodeSensSStolerances");
    Check(CVodeSetSensErrCon(m, SUNTRUE), "CVodeSetSensErrCon");
  }

  Context context_;
  Index n_;
  Index p_;
  NVectorPtr y_;
  VectorArray sens_;
  SensitivityData data_;
  detail::ErrorRecord errors_;
  SunMatrixPtr matrix_;
  SunLinearSolverPtr solver_;
  detail::CvodeMemPtr mem_;  // declared last: freed first
};

void CheckArguments(const OdeProblem& problem, const Loss& loss, double rtol, double atol,
                    long max_steps) {
  problem.Validate();
  Require(rtol > 0.0 && std::isfinite(rtol), "ForwardSensitivityGradient: rtol must be > 0");
  Require(atol > 0.0 && std::isfinite(atol), "ForwardSensitivityGradient: atol must be > 0");
  Require(max_steps > 0, "ForwardSensitivityGradient: max_steps must be > 0");
  Require(!loss.HasRunningCost(),
          "ForwardSensitivityGradient: a loss with a running cost is not supported");
  Require(loss.num_readout_params() == 0,
          "ForwardSensitivityGradient: a loss with read-out parameters is not supported");
  Require(!problem.at_output && !problem.after_step,
          "ForwardSensitivityGradient: problems with at_output or after_step hooks are not "
          "supported");
}

}  // namespace

LossAndGradient ForwardSensitivityGradient(const OdeProblem& problem, const Loss& loss, double rtol,
                                           double atol, long max_steps) {
  const auto start = std::chrono::steady_clock::now();
  CheckArguments(problem, loss, rtol, atol, max_steps);
  const Index n = problem.field->state_size();
  LossAndGradient result;
  result.dtheta = Vector::Zero(problem.field->num_params());
  result.dz0 = Vector::Zero(n);
  result.forward.times = problem.output_times;
  SensitivitySolver solver(problem, rtol, atol, max_steps);
  Vector dl_dz(n);
  Vector no_readout;
  for (std::size_t k = 0; k < problem.output_times.size(); ++k) {
    const double t = problem.output_times[k];
    Vector z = problem.z0;
    if (t > problem.t0) {
      z = solver.Advance(t);
    }
    result.loss += loss.Term(k, t, z, dl_dz, no_readout);
    if (t > problem.t0) {
      solver.AddTransposed(dl_dz, result.dtheta, result.dz0);
    } else {
      result.dz0 += dl_dz;  // S(t0) = [0, I]
    }
    result.forward.states.push_back(std::move(z));
  }
  solver.FillStats(result.stats);
  result.stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace snode
