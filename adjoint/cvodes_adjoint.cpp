#include "adjoint/cvodes_adjoint.hpp"

#include <cvodes/cvodes.h>
#include <cvodes/cvodes_ls.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include <Eigen/LU>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <utility>
#include <vector>

#include "adjoint/jump_layer.hpp"
#include "adjoint/quadrature_batch.hpp"
#include "core/callbacks.hpp"
#include "core/errors.hpp"
#include "core/nvector.hpp"
#include "core/sundials_context.hpp"

namespace snode {

namespace {

// Private CVODES helpers. They live in this file (unnamed namespace) so they cannot clash with
// the integrators' shared helpers.

struct CvodeMemDeleter {
  void operator()(void* mem) const noexcept { CVodeFree(&mem); }
};
using CvodeMemPtr = std::unique_ptr<void, CvodeMemDeleter>;

std::string FlagName(int flag) {
  std::unique_ptr<char, decltype(&std::free)> name(CVodeGetReturnFlagName(flag), &std::free);
  return name ? std::string(name.get()) : std::string("unknown flag");
}

// Records the last error CVODES reported, so our exception can quote it. Never throws
// (it runs inside a C frame).
struct ErrorRecord {
  std::string last_message;
};

void RecordCvodesError(int error_code, const char* module, const char* function, char* msg,
                       void* eh_data) {
  if (error_code >= 0 || eh_data == nullptr) return;  // warnings are not errors
  try {
    auto& record = *static_cast<ErrorRecord*>(eh_data);
    record.last_message = std::string(module ? module : "") + "::" + (function ? function : "") +
                          ": " + (msg ? msg : "");
  } catch (...) {
  }
}

// Setup call: throws SundialsError on a negative flag.
void Check(int flag, const char* call) {
  if (flag < 0) throw SundialsError(call, flag, FlagName(flag), "(gradient 'cvodes_adjoint')");
}

template <class T>
T* CheckAlloc(T* ptr, const char* call) {
  if (ptr == nullptr) throw SundialsError(call, -1, "allocation failure");
  return ptr;
}

// ---------------------------------------------------------------------------------------------
// Callback data. The forward problem uses core's trampolines, whose user_data is a CallbackData;
// ForwardData derives from it and adds the loss for the running-cost quadrature.
struct ForwardData : CallbackData {
  const Loss* loss = nullptr;
};

// fQ = g(t, z): the running cost, integrated forward to give ∫ g dt.
int RunningCostTrampoline(sunrealtype t, N_Vector y, N_Vector q_dot, void* user_data) {
  auto& data = static_cast<ForwardData&>(*static_cast<CallbackData*>(user_data));
  try {
    auto out = AsEigen(q_dot);
    out(0) = data.loss->HasRunningCost() ? data.loss->RunningCost(t, AsConstEigen(y)) : 0.0;
    return std::isfinite(out(0)) ? 0 : 1;
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// The backward problem's user_dataB.
struct BackwardData {
  VectorField* field = nullptr;
  const Vector* theta = nullptr;
  const Loss* loss = nullptr;
  Vector work;      // length n: ∂g/∂z
  Matrix jacobian;  // n × n: ∂f/∂z for the dense backward Jacobian
  std::exception_ptr pending;
  std::string nonfinite_message;
  long rhs_evals = 0;
  long vjp_evals = 0;
  long jacobian_evals = 0;
  // yB holds `columns` adjoint vectors of length n side by side: 1 (a itself) or, with
  // GradientOptions::cvodes_observations "fundamental", the n columns of U and the running
  // cost's particular solution v. The running cost gradient enters column running_cost_column
  // only (−1: none).
  Index columns = 1;
  Index running_cost_column = -1;
  // The field's forward pass at the (t, z) of the last fB call (VectorField::FSaving): CVODES'
  // corrector iterations call fB again at the same t and the same interpolated z, with only a
  // changed (W2: 1 490 fB calls at 975 distinct times per gradient).
  Vector saved_pass;
  Vector saved_z;
  Vector saved_f;  // FSaving's f, unused
  double saved_t = 0.0;
  bool saved_valid = false;

  void Reset() {
    pending = nullptr;
    nonfinite_message.clear();
    rhs_evals = vjp_evals = jacobian_evals = 0;
    saved_valid = false;  // θ (or the field) may have changed since the last call
    const Index size = field != nullptr ? field->ForwardSaveSize() : 0;
    if (saved_pass.size() != size) saved_pass.resize(size);
  }
  int Finite(const char* what, double t, const Eigen::Ref<const Eigen::MatrixXd>& out) {
    if (out.allFinite()) return 0;
    if (nonfinite_message.empty()) {
      std::ostringstream message;
      message << what << " of the adjoint of field '" << field->name()
              << "' returned NaN or Inf at t=" << t;
      nonfinite_message = message.str();
    }
    return 1;  // recoverable: CVODES may retry with a smaller step
  }
};

// adjoint ODE (SUNDIALS' fB is the literal time derivative, integrated toward decreasing t):
// da/dt = −(∂f/∂z)ᵀ a − (∂g/∂z)ᵀ, for each column of yB (the running cost in one column only).
int AdjointRhs(sunrealtype t, N_Vector y, N_Vector yB, N_Vector yB_dot, void* user_data) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.rhs_evals;
    data.vjp_evals += data.columns;
    const auto z = AsConstEigen(y);
    const Index n = z.size();
    const bool saved = data.saved_pass.size() > 0;
    if (saved && (!data.saved_valid || t != data.saved_t || z != data.saved_z)) {
      data.saved_z = z;
      data.saved_f.resize(n);
      data.field->FSaving(t, z, *data.theta, data.saved_f, data.saved_pass.data());
      data.saved_t = t;
      data.saved_valid = true;
    }
    auto all_in = AsConstEigen(yB);
    auto all_out = AsEigen(yB_dot);
    for (Index column = 0; column < data.columns; ++column) {
      const auto in = all_in.segment(column * n, n);
      auto out = all_out.segment(column * n, n);
      if (saved) {
        data.field->VjpSaved(t, z, *data.theta, data.saved_pass.data(), in, out,
                             VectorRef(data.saved_f.head(0)));
      } else {
        data.field->VjpState(t, z, *data.theta, in, out);
      }
      out = -out;
      if (column == data.running_cost_column) {
        data.loss->RunningCostGradient(t, z, data.work);
        out -= data.work;
      }
    }
    return data.Finite("fB", t, all_out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// dq/dt = −(∂f/∂θ)ᵀ a, so that q(t0) = +dL/dθ when q(T) = 0.
int AdjointQuadRhs(sunrealtype t, N_Vector y, N_Vector yB, N_Vector qB_dot, void* user_data) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.vjp_evals;
    auto out = AsEigen(qB_dot);
    out.setZero();
    data.field->VjpParams(t, AsConstEigen(y), *data.theta, AsConstEigen(yB), out);
    out = -out;
    return data.Finite("fQB", t, out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// Dense Jacobian of fB with respect to yB: −(∂f/∂z)ᵀ in each column's diagonal block.
int AdjointJacobian(sunrealtype t, N_Vector y, N_Vector /*yB*/, N_Vector /*fyB*/, SUNMatrix JB,
                    void* user_data, N_Vector /*tmp1*/, N_Vector /*tmp2*/, N_Vector /*tmp3*/) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.jacobian_evals;
    const Index size = static_cast<Index>(SUNDenseMatrix_Rows(JB));
    const Index n = size / data.columns;
    Eigen::Map<Eigen::MatrixXd> jac(SUNDenseMatrix_Data(JB), size, size);  // column-major
    data.field->DenseJacobian(t, AsConstEigen(y), *data.theta, data.jacobian);
    if (data.columns > 1) jac.setZero();
    for (Index column = 0; column < data.columns; ++column) {
      jac.block(column * n, column * n, n, n) = -data.jacobian.transpose();
    }
    return data.Finite("Jacobian", t, jac);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// Matrix-free product for SPGMR: JvB = −(∂f/∂z)ᵀ vB (minus the VJP), column by column.
int AdjointJacTimes(N_Vector vB, N_Vector JvB, sunrealtype t, N_Vector y, N_Vector /*yB*/,
                    N_Vector /*fyB*/, void* user_data, N_Vector /*tmpB*/) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    data.vjp_evals += data.columns;
    const auto z = AsConstEigen(y);
    const Index n = z.size();
    auto all_in = AsConstEigen(vB);
    auto all_out = AsEigen(JvB);
    for (Index column = 0; column < data.columns; ++column) {
      auto out = all_out.segment(column * n, n);
      data.field->VjpState(t, z, *data.theta, all_in.segment(column * n, n), out);
      out = -out;
    }
    return data.Finite("jtimesB", t, all_out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

int LmmFor(const std::string& integrator) {
  return integrator == "cvodes_adams" ? CV_ADAMS : CV_BDF;
}

bool IsCvodesName(const std::string& name) {
  return name == "cvodes_bdf" || name == "cvodes_adams";
}

// cvodes_quadrature "auto": Gauss–Legendre once P > 8·n. The CVODES backward quadrature costs
// O(P) vector work per step (Nordsieck update, error norm, restarts), which dominates the O(n)
// adjoint for a neural field (W2: P = 1 218, n = 2: 55 ms of 58 ms per gradient); for small P it
// is cheap and its error control is what keeps dL/dθ accurate on stiff kinetics (Robertson).
constexpr Index kAutoGaussRatio = 8;

// GradientOptions::cvodes_jump_layer: "on" needs a CVODES backward (checked in the
// constructor). "auto" also needs BDF (the layer exists to spare BDF the stiff transients), a
// backward system small enough for dense m × m exponentials, and the Gauss–Legendre quadrature:
// the layer reads z(t) from the recorded forward step polynomials, which only the Gauss
// quadrature records anyway; with the CVODES quadrature the recording would make the stored
// memory grow with the forward steps instead of the checkpoints.
bool UseJumpLayer(const GradientOptions& options, Index n, Index p, bool gauss) {
  const std::string& backward = options.EffectiveBackwardIntegrator();
  if (options.cvodes_jump_layer == "on") return IsCvodesName(backward);
  if (options.cvodes_jump_layer == "off") return false;
  // An explicit fundamental matrix has no restarts for the layer to start from.
  if (options.cvodes_observations == "fundamental") return false;
  return gauss && backward == "cvodes_bdf" && n + p + 1 <= JumpLayer::kMaxSize;
}

// GradientOptions::cvodes_observations "auto": the fundamental matrix up to n = 8 states and for
// at least n observations strictly inside (t0, T). Its fB costs n VJPs (one per column) against
// the restart's one, but the restarts begin every segment at order 1 with CVODES' tiny first
// step: W2 (n = 2, 99 inside) takes ≈ 5–10 backward steps per segment with restarts. W2's MLP
// with fewer observations, VJPs per gradient fundamental / restart: none inside 318 / 222, one
// 321 / 255, ten 348 / 535 (Adams).
constexpr Index kAutoFundamentalMaxStates = 8;

// The fundamental-matrix backward restarts (U ← I) at an observation where the 1-norm condition
// number of U(t_i) exceeds this: c = U(t_i)⁻¹ ∂ℓ_i/∂z amplifies U's relative error by up to
// cond(U). For non-stiff fields U stays well-conditioned over many observations; under stiff
// decay its columns align within one segment and the solve restarts at each observation.
constexpr double kMaxFundamentalCondition = 1e3;

bool UseFundamental(const GradientOptions& options, Index n, bool gauss, bool jump_layer,
                    bool many_observations) {
  if (options.cvodes_observations == "restart") return false;
  if (options.cvodes_observations == "fundamental") return true;
  return gauss && !jump_layer && n <= kAutoFundamentalMaxStates && many_observations;
}

// "auto"'s observation count: at least n output times strictly inside (t0, T).
bool ManyObservations(const OdeProblem& problem) {
  const std::vector<double>& times = problem.output_times;
  const auto inside = std::count_if(times.begin(), times.end(),
                                    [&](double t) { return t > problem.t0 && t < times.back(); });
  return inside >= problem.field->state_size();
}

// m-point Gauss–Legendre rules on [0, 1], m = 1, 2, 3 (row m − 1; exact for degree 2m − 1).
constexpr double kGaussRuleNodes[3][3] = {
    {0.5, 0.0, 0.0},
    {0.5 - 0.2886751345948128823, 0.5 + 0.2886751345948128823, 0.0},
    {0.5 - 0.3872983346207416885, 0.5, 0.5 + 0.3872983346207416885}};
constexpr double kGaussRuleWeights[3][3] = {
    {1.0, 0.0, 0.0}, {0.5, 0.5, 0.0}, {5.0 / 18.0, 8.0 / 18.0, 5.0 / 18.0}};

// ---------------------------------------------------------------------------------------------
// Forward solution recorded at every step (for the "epi2" backward): cubic Hermite pieces.
struct DenseTrajectory {
  std::vector<double> t;
  std::vector<Vector> z;
  std::vector<Vector> z_dot;

  void Clear() {
    t.clear();
    z.clear();
    z_dot.clear();
  }
  void Add(double time, const Vector& state, const Vector& derivative) {
    t.push_back(time);
    z.push_back(state);
    z_dot.push_back(derivative);
  }
  // Cubic Hermite interpolant on the step [t_k, t_{k+1}] containing time (clamped to the ends).
  void Evaluate(double time, VectorRef out) const {
    const std::size_t count = t.size();
    if (count == 1 || time <= t.front()) {
      out = z.front();
      return;
    }
    if (time >= t.back()) {
      out = z.back();
      return;
    }
    const std::size_t k =
        static_cast<std::size_t>(std::upper_bound(t.begin(), t.end(), time) - t.begin()) - 1;
    const double h = t[k + 1] - t[k];
    const double s = (time - t[k]) / h;
    const double h00 = (1 + 2 * s) * (1 - s) * (1 - s);
    const double h10 = s * (1 - s) * (1 - s);
    const double h01 = s * s * (3 - 2 * s);
    const double h11 = s * s * (s - 1);
    out = h00 * z[k] + (h10 * h) * z_dot[k] + h01 * z[k + 1] + (h11 * h) * z_dot[k + 1];
  }
  // Length of the recorded step containing time (for difference quotients in time).
  double StepLength(double time) const {
    if (t.size() < 2) return 1.0;
    auto it = std::upper_bound(t.begin(), t.end(), time);
    if (it == t.begin()) ++it;
    if (it == t.end()) --it;
    return *it - *(it - 1);
  }
  double Bytes() const {
    if (t.empty()) return 0.0;
    return 8.0 * static_cast<double>(t.size()) * (2.0 * static_cast<double>(z[0].size()) + 1.0);
  }
};

// The backward system [a, q] as a VectorField in reversed time s = −t, so that an ordinary
// forward integrator ("epi2") can solve it from s = −T to s = −t0:
//   da/ds = (∂f/∂z)ᵀ(z(t)) a + (∂g/∂z)ᵀ(t, z(t)),  dq/ds = (∂f/∂θ)ᵀ(z(t)) a,   t = −s,
// with z(t) from the recorded forward trajectory. It is linear in [a, q] (affine with g), and its
// Jacobian-vector product is [Jᵀ v_a; (∂f/∂θ)ᵀ v_a]: one VJP pair, no second derivatives.
// Its own VJPs would need J v and (∂f/∂θ) v products of the original field, so they are not
// provided (no backward integrator needs them).
class ReversedAdjointField final : public VectorField {
 public:
  ReversedAdjointField(VectorField* field, const Vector* theta, const Loss* loss,
                       const DenseTrajectory* trajectory)
      : field_(field),
        theta_(theta),
        loss_(loss),
        trajectory_(trajectory),
        n_(field->state_size()),
        p_(field->num_params()),
        z_(n_),
        g_(n_) {}

  std::string name() const override { return "reversed adjoint of " + field_->name(); }
  Index state_size() const override { return n_ + p_; }
  Index num_params() const override { return 0; }
  bool IsAutonomous() const override { return false; }

  void F(double s, ConstVectorRef w, ConstVectorRef /*theta*/, VectorRef out) override {
    CheckState("F", "w", w.size());
    ++rhs_evals;
    const double t = -s;
    trajectory_->Evaluate(t, z_);
    Apply(t, w.head(n_), out);
    if (loss_->HasRunningCost()) {
      loss_->RunningCostGradient(t, z_, g_);
      out.head(n_) += g_;
    }
  }
  void Jvp(double s, ConstVectorRef /*w*/, ConstVectorRef /*theta*/, ConstVectorRef v,
           VectorRef out) override {
    CheckState("Jvp", "v", v.size());
    const double t = -s;
    trajectory_->Evaluate(t, z_);
    Apply(t, v.head(n_), out);
  }
  // ∂F/∂s (used by epi2 for non-autonomous fields) by a central difference whose step stays well
  // inside one recorded forward step, where the interpolant is a smooth cubic; the default step
  // 1e-6·max(1, |s|) can span many of the tiny steps of a stiff transient.
  void TimeDerivative(double s, ConstVectorRef w, ConstVectorRef theta, VectorRef out) override {
    const double delta =
        std::min(1e-6 * std::max(1.0, std::abs(s)), 1e-3 * trajectory_->StepLength(-s));
    Vector plus(w.size());
    F(s + delta, w, theta, plus);
    F(s - delta, w, theta, out);
    out = (plus - out) / (2.0 * delta);
  }
  void VjpState(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw ConfigError("the reversed adjoint field has no VJP (cvodes_adjoint with epi2)");
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw ConfigError("the reversed adjoint field has no VJP (cvodes_adjoint with epi2)");
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<ReversedAdjointField>(field_, theta_, loss_, trajectory_);
  }

  long rhs_evals = 0;
  long vjp_evals = 0;

 private:
  // out = [Jᵀ a; (∂f/∂θ)ᵀ a] at z_ = z(t).
  void Apply(double t, ConstVectorRef a, VectorRef out) {
    vjp_evals += 2;
    auto head = out.head(n_);
    field_->VjpState(t, z_, *theta_, a, head);
    auto tail = out.tail(p_);
    tail.setZero();
    if (p_ > 0) field_->VjpParams(t, z_, *theta_, a, tail);
  }

  VectorField* field_;
  const Vector* theta_;
  const Loss* loss_;
  const DenseTrajectory* trajectory_;
  Index n_, p_;
  Vector z_, g_;
};

// Forward solution recorded at every CVODES step as the step's own interpolating polynomial:
// the step ending at t_k with order q_k is z(t) = Σ_{j ≤ q_k} c_{k,j} (t − t_k)^j with
// c_{k,j} = z^{(j)}(t_k)/j! (CVodeGetDky at t_k), i.e. exactly CVODES' dense output on
// [t_{k−1}, t_k]. A cubic Hermite piece would lose accuracy on Adams' long high-order steps.
// Storage is kept across calls (clear() keeps the capacity).
class StepPolynomials {
 public:
  void Start(double t0, Index n) {
    n_ = n;
    t_.clear();
    order_.clear();
    offset_.clear();
    coefficients_.clear();
    t_.push_back(t0);
  }
  // Appends the step that CVODES (mem) just took, ending at t_end; work has length n.
  void AddStep(void* mem, double t_end, N_Vector work) {
    int order = 0;
    Check(CVodeGetLastOrder(mem, &order), "CVodeGetLastOrder");
    t_.push_back(t_end);
    order_.push_back(order);
    offset_.push_back(coefficients_.size());
    double factorial = 1.0;
    for (int j = 0; j <= order; ++j) {
      if (j > 1) factorial *= j;
      Check(CVodeGetDky(mem, t_end, j, work), "CVodeGetDky");
      const auto derivative = AsConstEigen(work);
      for (Index i = 0; i < n_; ++i) coefficients_.push_back(derivative(i) / factorial);
    }
  }
  // z(time) from the step containing time (clamped to the recorded interval).
  void Evaluate(double time, VectorRef out) const {
    const std::size_t steps = order_.size();
    std::size_t k = static_cast<std::size_t>(std::lower_bound(t_.begin() + 1, t_.end(), time) -
                                             (t_.begin() + 1));
    if (k >= steps) k = steps - 1;
    const double dt = std::min(time, t_[k + 1]) - t_[k + 1];
    const double* c = coefficients_.data() + offset_[k];
    const int order = order_[k];
    out = Eigen::Map<const Eigen::VectorXd>(c + order * n_, n_);
    for (int j = order - 1; j >= 0; --j) {
      out = out * dt + Eigen::Map<const Eigen::VectorXd>(c + j * n_, n_);
    }
  }
  bool Empty() const { return order_.empty(); }
  // Step boundaries t_0 < t_1 < … (the pieces of the interpolant).
  const std::vector<double>& Times() const { return t_; }
  double Bytes() const {
    return 8.0 * static_cast<double>(coefficients_.size() + t_.size()) +
           4.0 * static_cast<double>(order_.size());
  }

 private:
  Index n_ = 0;
  std::vector<double> t_;
  std::vector<int> order_;
  std::vector<std::size_t> offset_;
  std::vector<double> coefficients_;
};

// The adjoint state equation alone in reversed time s = −t, for an integrator from the
// registry (the "interpolating adjoint"):
//   da/ds = (∂f/∂z)ᵀ(z(t)) a + (∂g/∂z)ᵀ(t, z(t)),   t = −s,
// with z(t) from the recorded forward polynomials. dL/dθ is not part of the state: it is summed
// by Gauss–Legendre over each backward step (OdeProblem::after_step). Its JVP is the VJP of the
// original field; its own VJPs would need second derivatives and are not provided.
class ReversedStateAdjointField final : public VectorField {
 public:
  ReversedStateAdjointField(VectorField* field, const Vector* theta, const Loss* loss,
                            const StepPolynomials* forward)
      : field_(field),
        theta_(theta),
        loss_(loss),
        forward_(forward),
        n_(field->state_size()),
        z_(n_),
        g_(n_) {}

  std::string name() const override { return "reversed state adjoint of " + field_->name(); }
  Index state_size() const override { return n_; }
  Index num_params() const override { return 0; }
  bool IsAutonomous() const override { return false; }

  void F(double s, ConstVectorRef a, ConstVectorRef /*theta*/, VectorRef out) override {
    CheckState("F", "a", a.size());
    ++rhs_evals;
    ++vjp_evals;
    const double t = -s;
    forward_->Evaluate(t, z_);
    field_->VjpState(t, z_, *theta_, a, out);
    if (loss_->HasRunningCost()) {
      loss_->RunningCostGradient(t, z_, g_);
      out += g_;
    }
  }
  void Jvp(double s, ConstVectorRef /*a*/, ConstVectorRef /*theta*/, ConstVectorRef v,
           VectorRef out) override {
    CheckState("Jvp", "v", v.size());
    ++vjp_evals;
    const double t = -s;
    forward_->Evaluate(t, z_);
    field_->VjpState(t, z_, *theta_, v, out);
  }
  void VjpState(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw ConfigError("the reversed state adjoint field has no VJP (cvodes_adjoint)");
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw ConfigError("the reversed state adjoint field has no VJP (cvodes_adjoint)");
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<ReversedStateAdjointField>(field_, theta_, loss_, forward_);
  }

  long rhs_evals = 0;
  long vjp_evals = 0;

 private:
  VectorField* field_;
  const Vector* theta_;
  const Loss* loss_;
  const StepPolynomials* forward_;
  Index n_;
  Vector z_, g_;
};

}  // namespace

// =============================================================================================
// SUNDIALS state of one CvodesAdjoint. Members are declared in creation order, so they are
// destroyed in reverse: the CVODES memory (which also frees the backward memory) first, the
// context last.
struct CvodesAdjoint::Impl {
  // running_cost: the loss has one; many_observations: ManyObservations(problem) (for "auto").
  Impl(const GradientOptions& options, Index state_size, Index param_count, bool running_cost,
       bool many_observations);

  // Runs the forward pass and the backward pass; fills result.
  void Run(const OdeProblem& problem, const Loss& loss, LossAndGradient& result);

  // Backward pass with the Gauss–Legendre parameter quadrature: from a(t_high) = a down to
  // t_low, one CVODES step at a time; grad += ∫_{t_low}^{t_high} (∂f/∂θ)ᵀ a dt; a ← a(t_low).
  // Returns the number of backward steps.
  long GaussSegment(const OdeProblem& problem, double t_high, double t_low, Vector& a,
                    Vector& grad);
  // Backward pass with the fundamental matrix (GradientOptions::cvodes_observations): one CVODES
  // solve from t_high = T down to t0 of yB = [U, v], the jumps folded into c (a = U c + v), the
  // Gauss quadrature split at the observations as well. a holds ∂ℓ_N/∂z on entry and dL/dz0 on
  // return. Returns the number of backward steps.
  long FundamentalBackward(const OdeProblem& problem, const std::vector<Vector>& dl_dz,
                           double t_high, Vector& a, Vector& grad);
  // One CVODES backward step toward t_out (CV_ONE_STEP; it may overshoot); t_current ← where it
  // ended. Returns the Gauss nodes per piece for the step's order.
  int BackwardStep(double t_out, double& t_current);
  // Sets yB to U = I, v = 0 and restarts the backward solve at t.
  void RestartFundamental(double t);
  // a(t) = U(t) c + v(t) (fundamental) or a(t) (restart) from the last backward step's dense
  // output.
  void AdjointAt(double t, VectorRef out);
  // Interpolating adjoint: a from t_high = T down to t0 by the registry integrator over the
  // recorded forward polynomials, jumps at the output times, dL/dθ by Gauss–Legendre over each
  // backward step. a holds ∂ℓ_N/∂z on entry and dL/dz0 on return. Returns the backward steps.
  long InterpolatingBackward(const OdeProblem& problem, const Loss& loss,
                             const std::vector<Vector>& dl_dz, double t_high, Vector& a,
                             Vector& grad);
  // grad += ∫_{lo}^{hi} (∂f/∂θ)ᵀ a dt over a part of the last backward step, split at the
  // forward steps (the forward z is a piecewise interpolant between them).
  // nodes: points of the Gauss–Legendre rule per piece (1, 2 or 3).
  void GaussOver(const OdeProblem& problem, double lo, double hi, int nodes, Vector& grad);

  // Throws for a failed solver call: a stored callback exception first, then NumericalError for
  // NaN/Inf, else SundialsError with the CVODES message and a remedy.
  [[noreturn]] void Fail(const char* call, int flag, double t, const std::string& phase);

  const GradientOptions& options;
  const Index n;  // state size the objects were created for
  const Index p;  // parameter count
  const bool backward_epi2;
  const bool backward_registry;  // a registry integrator over the recorded forward polynomials
  const bool gauss;       // Gauss–Legendre parameter quadrature (no CVODES backward quadrature)
  const bool jump_layer;  // exponential layer after each jump (GradientOptions::cvodes_jump_layer)
  const bool running_cost;       // the loss the objects were created for has a running cost
  const bool many_observations;  // ManyObservations() of the problem they were created for
  const bool fundamental;  // fundamental-matrix backward (GradientOptions::cvodes_observations)
  const Index columns;     // adjoint vectors in yB: 1, or n (+ 1 with a running cost)
  JumpLayer layer;
  Context ctx;
  ErrorRecord errors;
  ForwardData forward;
  BackwardData backward;
  NVectorPtr y, y_work, q, yB, qB;
  SunMatrixPtr matrix, matrix_b;
  SunLinearSolverPtr solver, solver_b;
  SunNonlinearSolverPtr nonlinear, nonlinear_b;
  CvodeMemPtr mem;
  int which = -1;
  void* mem_b = nullptr;  // owned by mem
  std::unique_ptr<Integrator> epi2;
  DenseTrajectory trajectory;
  // Gauss quadrature: the backward solution at a node (the forward z at the
  // nodes comes from the recorded step polynomials below, not from CVodeGetAdjY, whose lookup
  // shares its cache with CVODES' own fB calls).
  NVectorPtr a_node;
  QuadratureBatch quadrature;  // the nodes' parameter products, in batches (VjpParamsSum)
  long quadrature_vjps = 0;
  // Interpolating adjoint (backward_registry): recorded forward, the backward integrator, the
  // reversed field and problem, and node buffers for the quadrature.
  StepPolynomials polynomials;
  std::unique_ptr<Integrator> backward_solver;
  std::shared_ptr<ReversedStateAdjointField> reversed_state;
  OdeProblem backward_problem;
  Vector z_value, a_value;
  // Fundamental matrix: c of a = U c + v, and the LU factors and inverse of U(t_i).
  Vector combination;
  Eigen::PartialPivLU<Matrix> u_factors;
  Matrix u_inverse;
  long reinits = 0;  // CVodeReInitB calls of this Run
};

CvodesAdjoint::Impl::Impl(const GradientOptions& opts, Index state_size, Index param_count,
                          bool with_running_cost, bool with_many_observations)
    : options(opts),
      n(state_size),
      p(param_count),
      backward_epi2(opts.EffectiveBackwardIntegrator() == "epi2"),
      backward_registry(!backward_epi2 && !IsCvodesName(opts.EffectiveBackwardIntegrator())),
      gauss(!backward_epi2 && !backward_registry &&
            (opts.cvodes_quadrature == "gauss" ||
             (opts.cvodes_quadrature == "auto" && param_count > kAutoGaussRatio * state_size))),
      jump_layer(UseJumpLayer(opts, state_size, param_count, gauss)),
      running_cost(with_running_cost),
      many_observations(with_many_observations),
      fundamental(!backward_epi2 && !backward_registry &&
                  UseFundamental(opts, state_size, gauss, jump_layer, with_many_observations)),
      columns(fundamental ? state_size + (with_running_cost ? 1 : 0) : 1) {
  Require(!fundamental || (gauss && !jump_layer),
          "gradient 'cvodes_adjoint' with cvodes_observations 'fundamental' needs the Gauss "
          "quadrature (cvodes_quadrature 'gauss', or 'auto' with P > 8·n) and no jump layer "
          "(cvodes_jump_layer 'off', or 'auto' without a cvodes_bdf backward)");
  const IntegratorOptions& fo = options.integrator_options;
  const IntegratorOptions& bo = options.EffectiveBackwardOptions();
  const bool forward_bdf = LmmFor(options.integrator) == CV_BDF;

  y = MakeNVector(n, ctx);
  AsEigen(y.get()).setZero();
  y_work = MakeNVector(n, ctx);
  q = MakeNVector(1, ctx);
  AsEigen(q.get()).setZero();

  mem.reset(CheckAlloc(CVodeCreate(LmmFor(options.integrator), ctx), "CVodeCreate"));
  void* m = mem.get();
  // The handler must be set before CVodeCreateB, which copies it to the backward memory.
  Check(CVodeSetErrHandlerFn(m, RecordCvodesError, &errors), "CVodeSetErrHandlerFn");
  Check(CVodeInit(m, RhsTrampoline, 0.0, y.get()), "CVodeInit");
  Check(CVodeSStolerances(m, fo.rtol, fo.atol), "CVodeSStolerances");
  Check(CVodeSetUserData(m, static_cast<CallbackData*>(&forward)), "CVodeSetUserData");
  Check(CVodeSetMaxNumSteps(m, fo.max_steps), "CVodeSetMaxNumSteps");
  if (fo.max_step > 0) Check(CVodeSetMaxStep(m, fo.max_step), "CVodeSetMaxStep");
  if (forward_bdf) {
    if (fo.linear_solver == "dense") {
      matrix.reset(CheckAlloc(SUNDenseMatrix(n, n, ctx), "SUNDenseMatrix"));
      solver.reset(CheckAlloc(SUNLinSol_Dense(y.get(), matrix.get(), ctx), "SUNLinSol_Dense"));
      Check(CVodeSetLinearSolver(m, solver.get(), matrix.get()), "CVodeSetLinearSolver");
      Check(CVodeSetJacFn(m, DenseJacobianTrampoline), "CVodeSetJacFn");
    } else {
      solver.reset(CheckAlloc(SUNLinSol_SPGMR(y.get(), SUN_PREC_NONE, fo.krylov_max_dim, ctx),
                              "SUNLinSol_SPGMR"));
      Check(CVodeSetLinearSolver(m, solver.get(), nullptr), "CVodeSetLinearSolver");
      Check(CVodeSetJacTimes(m, nullptr, JacTimesTrampoline), "CVodeSetJacTimes");
    }
  } else {
    // Adams is for non-stiff problems: fixed-point iteration needs no Jacobian.
    nonlinear.reset(
        CheckAlloc(SUNNonlinSol_FixedPoint(y.get(), 0, ctx), "SUNNonlinSol_FixedPoint"));
    Check(CVodeSetNonlinearSolver(m, nonlinear.get()), "CVodeSetNonlinearSolver");
  }
  Check(CVodeSetMaxNonlinIters(m, fo.max_nonlinear_iters), "CVodeSetMaxNonlinIters");
  // ∫ g dt as a quadrature under error control, so L is as accurate as the states.
  Check(CVodeQuadInit(m, RunningCostTrampoline, q.get()), "CVodeQuadInit");
  Check(CVodeSetQuadErrCon(m, SUNTRUE), "CVodeSetQuadErrCon");
  Check(CVodeQuadSStolerances(m, fo.rtol, fo.atol), "CVodeQuadSStolerances");
  Check(CVodeAdjInit(m, options.checkpoint_interval,
                     options.interpolation == "polynomial" ? CV_POLYNOMIAL : CV_HERMITE),
        "CVodeAdjInit");

  backward.work.resize(n);
  backward.jacobian.resize(n, n);
  if (backward_epi2) {
    epi2 = IntegratorRegistry().Create("epi2", bo);
    return;
  }
  if (backward_registry) {
    // The backward problem stops at every observation (its jumps), so it never interpolates.
    IntegratorOptions stop_options = bo;
    stop_options.interpolate_outputs = false;
    backward_solver =
        IntegratorRegistry().Create(options.EffectiveBackwardIntegrator(), stop_options);
    z_value.resize(n);
    a_value.resize(n);
    return;
  }
  const int lmm_b = LmmFor(options.EffectiveBackwardIntegrator());
  Check(CVodeCreateB(m, lmm_b, &which), "CVodeCreateB");
  const Index size_b = n * columns;
  yB = MakeNVector(size_b, ctx);
  AsEigen(yB.get()).setZero();
  Check(CVodeInitB(m, which, AdjointRhs, 0.0, yB.get()), "CVodeInitB");
  Check(CVodeSStolerancesB(m, which, bo.rtol, bo.atol), "CVodeSStolerancesB");
  Check(CVodeSetUserDataB(m, which, &backward), "CVodeSetUserDataB");
  Check(CVodeSetMaxNumStepsB(m, which, bo.max_steps), "CVodeSetMaxNumStepsB");
  if (bo.max_step > 0) Check(CVodeSetMaxStepB(m, which, bo.max_step), "CVodeSetMaxStepB");
  if (lmm_b == CV_BDF) {
    if (bo.linear_solver == "dense") {
      matrix_b.reset(CheckAlloc(SUNDenseMatrix(size_b, size_b, ctx), "SUNDenseMatrix"));
      solver_b.reset(CheckAlloc(SUNLinSol_Dense(yB.get(), matrix_b.get(), ctx), "SUNLinSol_Dense"));
      Check(CVodeSetLinearSolverB(m, which, solver_b.get(), matrix_b.get()),
            "CVodeSetLinearSolverB");
      Check(CVodeSetJacFnB(m, which, AdjointJacobian), "CVodeSetJacFnB");
    } else {
      solver_b.reset(CheckAlloc(SUNLinSol_SPGMR(yB.get(), SUN_PREC_NONE, bo.krylov_max_dim, ctx),
                                "SUNLinSol_SPGMR"));
      Check(CVodeSetLinearSolverB(m, which, solver_b.get(), nullptr), "CVodeSetLinearSolverB");
      Check(CVodeSetJacTimesB(m, which, nullptr, AdjointJacTimes), "CVodeSetJacTimesB");
    }
  } else {
    nonlinear_b.reset(
        CheckAlloc(SUNNonlinSol_FixedPoint(yB.get(), 0, ctx), "SUNNonlinSol_FixedPoint"));
    Check(CVodeSetNonlinearSolverB(m, which, nonlinear_b.get()), "CVodeSetNonlinearSolverB");
  }
  mem_b = CheckAlloc(CVodeGetAdjCVodeBmem(m, which), "CVodeGetAdjCVodeBmem");
  Check(CVodeSetMaxNonlinIters(mem_b, bo.max_nonlinear_iters), "CVodeSetMaxNonlinIters");
  if (gauss) {
    a_node = MakeNVector(size_b, ctx);
    z_value.resize(n);
    a_value.resize(n);
    if (fundamental) {
      combination.resize(n);
      u_factors = Eigen::PartialPivLU<Matrix>(n);
      u_inverse.resize(n, n);
    }
  } else if (p > 0) {
    qB = MakeNVector(p, ctx);
    AsEigen(qB.get()).setZero();
    Check(CVodeQuadInitB(m, which, AdjointQuadRhs, qB.get()), "CVodeQuadInitB");
    // dL/dθ under error control: without it the quadrature rides on steps chosen for a alone,
    // which is not accurate enough on stiff problems.
    Check(CVodeSetQuadErrConB(m, which, SUNTRUE), "CVodeSetQuadErrConB");
    Check(CVodeQuadSStolerancesB(m, which, bo.rtol, bo.atol), "CVodeQuadSStolerancesB");
  }
}

void CvodesAdjoint::Impl::Fail(const char* call, int flag, double t, const std::string& phase) {
  forward.RethrowPending();
  if (backward.pending) {
    std::exception_ptr stored = backward.pending;
    backward.pending = nullptr;
    std::rethrow_exception(stored);
  }
  std::ostringstream detail;
  detail << "at t=" << t << " (gradient 'cvodes_adjoint', " << phase << " '"
         << (phase == "forward" ? options.integrator : options.EffectiveBackwardIntegrator())
         << "')";
  const std::string& nonfinite =
      !forward.nonfinite_message.empty() ? forward.nonfinite_message : backward.nonfinite_message;
  if (!nonfinite.empty()) {
    throw NumericalError(nonfinite + "; " + call + " failed with " + FlagName(flag) + " " +
                         detail.str());
  }
  if (!errors.last_message.empty()) detail << ": " << errors.last_message;
  switch (flag) {
    case CV_TOO_MUCH_WORK:
      detail << "; raise max_steps or loosen rtol";
      break;
    case CV_TOO_MUCH_ACC:
      detail << "; loosen rtol/atol";
      break;
    case CV_ERR_FAILURE:
    case CV_CONV_FAILURE:
      detail << "; the problem may be stiff: use cvodes_bdf, or loosen rtol/atol";
      break;
    default:
      detail << "; check the field, the loss and the tolerances";
  }
  throw SundialsError(call, flag, FlagName(flag), detail.str());
}

void CvodesAdjoint::Impl::Run(const OdeProblem& problem, const Loss& loss,
                              LossAndGradient& result) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  void* m = mem.get();
  const std::vector<double>& times = problem.output_times;
  const std::size_t num_times = times.size();
  const double t0 = problem.t0;
  const double t_final = times.back();

  forward.field = problem.field.get();
  forward.theta = &problem.theta;
  forward.loss = &loss;
  forward.ResetCounters();
  backward.field = problem.field.get();
  backward.theta = &problem.theta;
  backward.loss = &loss;
  backward.Reset();
  backward.columns = columns;
  backward.running_cost_column = loss.HasRunningCost() ? (fundamental ? n : 0) : -1;
  errors.last_message.clear();

  Trajectory& fwd = result.forward;
  fwd.times = times;
  fwd.states.assign(num_times, Vector());
  result.dreadout = Vector::Zero(loss.num_readout_params());

  // ---- forward pass -----------------------------------------------------------------------
  std::size_t next = 0;
  while (next < num_times && times[next] == t0) fwd.states[next++] = problem.z0;
  double t_reached = t0;  // where the forward really ended (tB0)
  int ncheck = 0;
  long forward_steps = 0;
  trajectory.Clear();
  if (next < num_times) {
    AsEigen(y.get()) = problem.z0;
    AsEigen(q.get()).setZero();
    Check(CVodeReInit(m, t0, y.get()), "CVodeReInit");
    Check(CVodeQuadReInit(m, q.get()), "CVodeQuadReInit");
    // The previous backward pass re-set the initial step (CVODES replays the first checkpoint
    // interval with the recorded h0); restore ours so a reused object equals a fresh one.
    Check(CVodeSetInitStep(m, options.integrator_options.initial_step), "CVodeSetInitStep");
    // Without this the checkpoints of the previous call stay in the list, and the gradients are
    // silently wrong once z0 or θ change (sundials-notes §5).
    Check(CVodeAdjReInit(m), "CVodeAdjReInit");
    // Only T is a stop time. CVODES recomputes each checkpoint interval in CVodeB with the last
    // stop time only, so intermediate stop times would make the replay take other steps than
    // the forward pass (and CVAdataStore does not bound the number of replayed steps by Nd).
    Check(CVodeSetStopTime(m, t_final), "CVodeSetStopTime");
    if (backward_epi2) {
      Vector f0(n);
      forward.field->F(t0, problem.z0, problem.theta, f0);
      ++forward.rhs_evals;
      trajectory.Add(t0, problem.z0, f0);
    }
    long steps_since_output = 0;
    double tret = t0;
    // The Gauss quadrature, the interpolating adjoint and the jump layer read z(t) from the
    // recorded step polynomials.
    const bool record = backward_registry || gauss || jump_layer;
    if (record) polynomials.Start(t0, n);
    // The backward passes that do not use CVODES' checkpoints step the forward with CVode
    // (CVodeF would store checkpoints nobody reads).
    const bool plain = backward_epi2 || backward_registry;
    while (next < num_times) {
      // One step at a time, so each output time is read from the step that contains it. The
      // "epi2" backward needs no checkpoints, so it steps with CVode (CVodeF would store them).
      const int flag = plain ? CVode(m, t_final, y.get(), &tret, CV_ONE_STEP)
                             : CVodeF(m, t_final, y.get(), &tret, CV_ONE_STEP, &ncheck);
      if (flag < 0) Fail(plain ? "CVode" : "CVodeF", flag, tret, "forward");
      ++steps_since_output;
      if (record) polynomials.AddStep(m, tret, y_work.get());
      if (backward_epi2) {
        Check(CVodeGetDky(m, tret, 1, y_work.get()), "CVodeGetDky");
        trajectory.Add(tret, AsEigen(y.get()), AsEigen(y_work.get()));
      }
      while (next < num_times && (times[next] <= tret || flag == CV_TSTOP_RETURN)) {
        Check(CVodeGetDky(m, std::min(times[next], tret), 0, y_work.get()), "CVodeGetDky");
        fwd.states[next++] = AsEigen(y_work.get());
        steps_since_output = 0;
      }
      if (steps_since_output >= options.integrator_options.max_steps) {
        Fail(plain ? "CVode" : "CVodeF", CV_TOO_MUCH_WORK, tret, "forward");
      }
    }
    sunrealtype t_current = t0;
    Check(CVodeGetCurrentTime(m, &t_current), "CVodeGetCurrentTime");
    // CVodeB accepts tB0 only inside the forward interval, without tolerance; 6.4.1 ends the
    // last step exactly on the stop time, but guard against a last step short of T by rounding.
    t_reached = std::min(t_final, static_cast<double>(t_current));
    Check(CVodeGetNumSteps(m, &forward_steps), "CVodeGetNumSteps");
  }
  const long forward_rhs = forward.rhs_evals;

  // ---- loss ---------------------------------------------------------------------------------
  std::vector<Vector> dl_dz(num_times, Vector(n));
  double value = 0.0;
  for (std::size_t i = 0; i < num_times; ++i) {
    value += loss.Term(i, times[i], fwd.states[i], dl_dz[i], result.dreadout);
  }
  if (loss.HasRunningCost() && t_final > t0) {
    sunrealtype tq = 0;
    Check(CVodeGetQuad(m, &tq, q.get()), "CVodeGetQuad");
    value += AsEigen(q.get())(0);
  }
  result.loss = value;

  // ---- backward pass ------------------------------------------------------------------------
  Vector a = dl_dz[num_times - 1];
  Vector grad = Vector::Zero(p);
  long backward_steps = 0;
  quadrature_vjps = 0;
  quadrature.Reset(n);
  std::shared_ptr<ReversedAdjointField> reversed;
  if (backward_epi2) {
    reversed =
        std::make_shared<ReversedAdjointField>(forward.field, &problem.theta, &loss, &trajectory);
  }
  double t_high = t_reached;
  const JumpLayer::ForwardSolution z_of_t = [this](double t, VectorRef out) {
    polynomials.Evaluate(t, out);
  };
  const bool layered = jump_layer && t_reached > t0 && !polynomials.Empty();
  if (layered) layer.Start(*problem.field, problem.theta, loss, z_of_t, &polynomials.Times());
  reinits = 0;
  if (backward_registry) {
    backward_steps = InterpolatingBackward(problem, loss, dl_dz, t_reached, a, grad);
  } else if (fundamental) {
    backward_steps = FundamentalBackward(problem, dl_dz, t_reached, a, grad);
  }
  // Segment by segment between the output times (CVODES or epi2 backward); the interpolating
  // adjoint and the fundamental matrix above have done all of them in one solve, so the loop
  // starts below its end for them.
  const bool one_solve = backward_registry || fundamental;
  for (std::ptrdiff_t i = one_solve ? -2 : static_cast<std::ptrdiff_t>(num_times) - 2; i >= -1;
       --i) {
    const double t_low = i >= 0 ? times[static_cast<std::size_t>(i)] : t0;
    if (t_low < t_high) {
      if (backward_epi2) {
        OdeProblem reversed_problem;
        reversed_problem.field = reversed;
        reversed_problem.z0.resize(n + p);
        reversed_problem.z0 << a, grad;
        reversed_problem.t0 = -t_high;
        reversed_problem.output_times = {-t_low};
        const Trajectory segment = epi2->Solve(reversed_problem);
        a = segment.states[0].head(n);
        grad = segment.states[0].tail(p);
        backward_steps += segment.stats.steps;
      } else {
        // The jump layer takes [t_start, t_high] (a and the quadrature move on to t_start), or
        // the whole segment (t_start = t_low), or nothing (t_start = t_high).
        const double t_start = layered ? layer.Apply(t_high, t_low, a, grad) : t_high;
        if (t_start <= t_low) {
          // Nothing left for CVODES (CVodeB would reject tout == tB0).
        } else if (gauss) {
          backward_steps += GaussSegment(problem, t_start, t_low, a, grad);
        } else {
          AsEigen(yB.get()) = a;
          Check(CVodeReInitB(m, which, t_start, yB.get()), "CVodeReInitB");
          ++reinits;
          if (p > 0) {
            AsEigen(qB.get()) = grad;
            // The current q, so the quadrature keeps accumulating across the jumps.
            Check(CVodeQuadReInitB(m, which, qB.get()), "CVodeQuadReInitB");
          }
          const int flag = CVodeB(m, t_low, CV_NORMAL);
          sunrealtype t_b = t_low;
          if (flag < 0) {
            CVodeGetCurrentTime(mem_b, &t_b);
            Fail("CVodeB", flag, t_b, "backward");
          }
          Check(CVodeGetB(m, which, &t_b, yB.get()), "CVodeGetB");
          a = AsEigen(yB.get());
          if (p > 0) {
            Check(CVodeGetQuadB(m, which, &t_b, qB.get()), "CVodeGetQuadB");
            grad = AsEigen(qB.get());
          }
          // Counters restart at every CVodeReInitB: sum them per segment.
          long segment_steps = 0;
          Check(CVodeGetNumSteps(mem_b, &segment_steps), "CVodeGetNumSteps");
          backward_steps += segment_steps;
        }
      }
    }
    if (i >= 0) a += dl_dz[static_cast<std::size_t>(i)];
    t_high = t_low;
  }
  quadrature.Flush(*problem.field, problem.theta, grad);
  result.dz0 = a;
  result.dtheta = grad;
  // The layers' CF4 steps count as backward steps, their F_θ columns as VJPs.
  if (layered) backward_steps += layer.stats().steps;

  // ---- statistics ---------------------------------------------------------------------------
  GradientStats& stats = result.stats;
  stats.forward_rhs_evals = forward_rhs;
  stats.forward_steps = forward_steps;
  stats.backward_steps = backward_steps;
  stats.jvp_evals = forward.jvp_evals;
  stats.checkpoints = ncheck;
  stats.backward_restarts = reinits;
  if (backward_epi2) {
    stats.backward_rhs_evals = reversed ? reversed->rhs_evals : 0;
    stats.vjp_evals = reversed ? reversed->vjp_evals : 0;
    stats.stored_bytes = trajectory.Bytes();
  } else if (backward_registry) {
    stats.backward_rhs_evals = reversed_state ? reversed_state->rhs_evals : 0;
    stats.vjp_evals = (reversed_state ? reversed_state->vjp_evals : 0) + quadrature_vjps;
    stats.stored_bytes = polynomials.Bytes();
  } else {
    // fB calls plus the forward recomputation from checkpoints during CVodeB.
    stats.backward_rhs_evals = backward.rhs_evals + (forward.rhs_evals - forward_rhs);
    stats.vjp_evals =
        backward.vjp_evals + quadrature_vjps + (layered ? layer.stats().vjp_evals : 0);
    double bytes = 0.0;
    if (t_final > t0) {
      std::vector<CVadjCheckPointRec> records(static_cast<std::size_t>(ncheck) + 1);
      Check(CVodeGetAdjCheckPointsInfo(m, records.data()), "CVodeGetAdjCheckPointsInfo");
      for (const CVadjCheckPointRec& record : records) {
        bytes += 8.0 * static_cast<double>(record.order + 1) * static_cast<double>(n + 1);
      }
      const double per_point = options.interpolation == "polynomial" ? 1.0 : 2.0;
      bytes += 8.0 * static_cast<double>(options.checkpoint_interval + 1) * per_point *
               static_cast<double>(n);
    }
    // The recorded forward polynomials (Gauss quadrature, jump layer) grow with the steps.
    if (gauss || jump_layer) bytes += polynomials.Bytes();
    stats.stored_bytes = bytes;
  }
  fwd.stats.steps = forward_steps;
  fwd.stats.rhs_evals = forward_rhs;
  fwd.stats.jvp_evals = forward.jvp_evals;
  fwd.stats.jacobian_evals = forward.jacobian_evals;
  stats.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
}

long CvodesAdjoint::Impl::InterpolatingBackward(const OdeProblem& problem, const Loss& loss,
                                                const std::vector<Vector>& dl_dz, double t_high,
                                                Vector& a, Vector& grad) {
  const std::vector<double>& times = problem.output_times;
  const std::size_t num_times = times.size();
  if (!(t_high > problem.t0) || polynomials.Empty()) {
    for (std::size_t i = num_times - 1; i-- > 0;) a += dl_dz[i];
    return 0;
  }
  if (!reversed_state) {
    reversed_state = std::make_shared<ReversedStateAdjointField>(
        problem.field.get(), &problem.theta, &loss, &polynomials);
  } else {
    *reversed_state =
        ReversedStateAdjointField(problem.field.get(), &problem.theta, &loss, &polynomials);
  }
  OdeProblem& bp = backward_problem;
  bp.field = reversed_state;
  bp.theta.resize(0);
  bp.z0 = a;
  bp.t0 = -t_high;
  bp.store_all_states = false;  // only a(t0) is read; the jumps see the others
  // Reversed time s = −t: stops at −t_{N−2}, …, −t_1 (and −t0 when t0 < t_1), each with the jump
  // a += ∂ℓ_i/∂z applied by the solver, which keeps its step size across it.
  bp.output_times.clear();
  for (std::size_t i = num_times - 1; i-- > 0;) bp.output_times.push_back(-times[i]);
  if (problem.t0 < times.front()) bp.output_times.push_back(-problem.t0);
  const std::size_t num_jumps = num_times - 1;
  bp.at_output = [&dl_dz, num_jumps](std::size_t index, double, VectorRef state) {
    if (index >= num_jumps) return false;
    state += dl_dz[num_jumps - 1 - index];
    return true;
  };
  const std::vector<double>& pieces = polynomials.Times();
  VectorField& field = *problem.field;
  const Vector& theta = problem.theta;
  // dL/dθ += ∫ (∂f/∂θ)ᵀ a dt over the accepted backward step [s0, s1] = [−t_hi, −t_lo], by
  // 3-point Gauss–Legendre on each piece between forward steps (both interpolants are smooth
  // polynomials there).
  bp.after_step = [&, this](double s0, double s1, const DenseOutput& dense) {
    const double lo = -s1, hi = -s0;
    auto next = std::upper_bound(pieces.begin(), pieces.end(), lo);
    double left = lo;
    while (left < hi) {
      const double right = (next != pieces.end() && *next < hi) ? *next : hi;
      const double h = right - left;
      for (int k = 0; k < 3; ++k) {
        const double t = left + kGaussRuleNodes[2][k] * h;
        VectorRef weighted_a = quadrature.NextAdjoint();
        dense.Evaluate(-t, weighted_a);
        weighted_a *= kGaussRuleWeights[2][k] * h;
        polynomials.Evaluate(t, quadrature.NextState());
        quadrature.Commit(t, field, theta, grad);
      }
      quadrature_vjps += 3;
      left = right;
      if (next != pieces.end()) ++next;
    }
  };
  const Trajectory solution = backward_solver->Solve(bp);
  a = solution.states.back();
  if (!a.allFinite()) {
    throw NumericalError("the adjoint of field '" + field.name() +
                         "' became NaN or Inf (gradient 'cvodes_adjoint', backward '" +
                         options.EffectiveBackwardIntegrator() + "')");
  }
  // Drop the references into this call's data.
  bp.at_output = nullptr;
  bp.after_step = nullptr;
  return solution.stats.steps;
}

long CvodesAdjoint::Impl::GaussSegment(const OdeProblem& problem, double t_high, double t_low,
                                       Vector& a, Vector& grad) {
  void* m = mem.get();
  AsEigen(yB.get()) = a;
  Check(CVodeReInitB(m, which, t_high, yB.get()), "CVodeReInitB");
  ++reinits;
  double t_prev = t_high;
  double t_current = t_high;
  long steps = 0;
  // CV_ONE_STEP: every call takes exactly one backward step (CVodeB stops it at checkpoint
  // boundaries), and the step may overshoot t_low; the quadrature then stops at t_low and
  // a(t_low) comes from the step's dense output.
  while (t_current > t_low) {
    const int nodes = BackwardStep(t_low, t_current);
    ++steps;
    const double lo = std::max(static_cast<double>(t_current), t_low);
    if (p > 0 && lo < t_prev) GaussOver(problem, lo, t_prev, nodes, grad);
    t_prev = t_current;
  }
  Check(CVodeGetDky(mem_b, t_low, 0, a_node.get()), "CVodeGetDky");
  a = AsEigen(a_node.get());
  // Counters restart at every CVodeReInitB: the caller sums the segments' steps.
  return steps;
}

void CvodesAdjoint::Impl::GaussOver(const OdeProblem& problem, double lo, double hi, int nodes,
                                    Vector& grad) {
  // First forward step end strictly inside (lo, hi): the pieces are [lo, s_1], [s_1, s_2], ….
  const std::vector<double>& step_times = polynomials.Times();
  const double* rule_nodes = kGaussRuleNodes[nodes - 1];
  const double* rule_weights = kGaussRuleWeights[nodes - 1];
  auto next = std::upper_bound(step_times.begin(), step_times.end(), lo);
  double left = lo;
  while (left < hi) {
    const double right = (next != step_times.end() && *next < hi) ? *next : hi;
    const double h = right - left;
    for (int k = 0; k < nodes; ++k) {
      const double t = left + rule_nodes[k] * h;
      VectorRef weighted_a = quadrature.NextAdjoint();
      AdjointAt(t, weighted_a);
      weighted_a *= rule_weights[k] * h;
      polynomials.Evaluate(t, quadrature.NextState());
      quadrature.Commit(t, *problem.field, problem.theta, grad);
    }
    quadrature_vjps += nodes;
    left = right;
    if (next != step_times.end()) ++next;
  }
}

int CvodesAdjoint::Impl::BackwardStep(double t_out, double& t_current) {
  const int flag = CVodeB(mem.get(), t_out, CV_ONE_STEP);
  sunrealtype t_now = t_current;
  if (flag < 0) {
    CVodeGetCurrentTime(mem_b, &t_now);
    Fail("CVodeB", flag, t_now, "backward");
  }
  Check(CVodeGetCurrentTime(mem_b, &t_now), "CVodeGetCurrentTime");
  t_current = t_now;
  // As many Gauss nodes as the step's order asks for: m nodes have local error O(h^(2m+1)),
  // and m = ⌈(q+1)/2⌉ keeps that at least one order above the step's O(h^(q+1)), up to 3
  // nodes. After each restart the steps run at q = 1, 2 (W2: 24% fewer VJPs per gradient, the
  // error against a tight reference unchanged at 1.19e-5); ⌈q/2⌉ saved 34% but doubled W5's
  // error with the jump layer (1.2e-7 → 2.9e-7).
  int order = 0;
  Check(CVodeGetLastOrder(mem_b, &order), "CVodeGetLastOrder");
  return std::clamp((order + 2) / 2, 1, 3);
}

void CvodesAdjoint::Impl::AdjointAt(double t, VectorRef out) {
  Check(CVodeGetDky(mem_b, t, 0, a_node.get()), "CVodeGetDky");
  if (!fundamental) {
    out = AsEigen(a_node.get());
    return;
  }
  const Eigen::Map<const Matrix> values(NV_DATA_S(a_node.get()), n, columns);
  out.noalias() = values.leftCols(n) * combination;
  if (columns > n) out += values.col(n);
}

void CvodesAdjoint::Impl::RestartFundamental(double t) {
  Eigen::Map<Matrix> values(NV_DATA_S(yB.get()), n, columns);
  values.setZero();
  values.leftCols(n).setIdentity();
  Check(CVodeReInitB(mem.get(), which, t, yB.get()), "CVodeReInitB");
  ++reinits;
}

long CvodesAdjoint::Impl::FundamentalBackward(const OdeProblem& problem,
                                              const std::vector<Vector>& dl_dz, double t_high,
                                              Vector& a, Vector& grad) {
  const std::vector<double>& times = problem.output_times;
  const double t0 = problem.t0;
  // The observations below T and above t0, from the top; those at t0 are added to a(t0) last.
  std::ptrdiff_t i = static_cast<std::ptrdiff_t>(times.size()) - 2;
  if (!(t_high > t0) || polynomials.Empty()) {
    for (; i >= 0; --i) a += dl_dz[static_cast<std::size_t>(i)];
    return 0;
  }
  combination = a;  // U(T) = I, v(T) = 0: a(T) = c
  RestartFundamental(t_high);
  long steps = 0;
  double t_prev = t_high;  // the quadrature has reached t_prev
  double t_current = t_high;
  while (t_prev > t0) {
    const int nodes = BackwardStep(t0, t_current);
    ++steps;
    const double lo = std::max(static_cast<double>(t_current), t0);
    // The observations inside this step, from the top: c jumps there, so the quadrature splits.
    bool restarted = false;
    while (i >= 0 && times[static_cast<std::size_t>(i)] > t0 &&
           times[static_cast<std::size_t>(i)] >= lo) {
      const double t_obs = times[static_cast<std::size_t>(i)];
      const Vector& jump = dl_dz[static_cast<std::size_t>(i)];
      --i;
      if (p > 0 && t_obs < t_prev) GaussOver(problem, t_obs, t_prev, nodes, grad);
      t_prev = t_obs;
      Check(CVodeGetDky(mem_b, t_obs, 0, a_node.get()), "CVodeGetDky");
      const Eigen::Map<const Matrix> values(NV_DATA_S(a_node.get()), n, columns);
      u_factors.compute(values.leftCols(n));
      u_inverse = u_factors.solve(Matrix::Identity(n, n));
      const double condition = values.leftCols(n).cwiseAbs().colwise().sum().maxCoeff() *
                               u_inverse.cwiseAbs().colwise().sum().maxCoeff();
      if (std::isfinite(condition) && condition <= kMaxFundamentalCondition) {
        a_value.noalias() = u_inverse * jump;
        combination += a_value;
        continue;
      }
      // U(t_obs) too ill-conditioned to carry the jump: restart from a(t_obs⁻) with U = I.
      AdjointAt(t_obs, a_value);
      combination = a_value + jump;
      RestartFundamental(t_obs);
      restarted = true;
      break;
    }
    if (restarted) continue;
    if (p > 0 && lo < t_prev) GaussOver(problem, lo, t_prev, nodes, grad);
    t_prev = lo;
  }
  AdjointAt(t0, a);
  for (; i >= 0; --i) a += dl_dz[static_cast<std::size_t>(i)];
  return steps;
}

CvodesAdjoint::CvodesAdjoint(const GradientOptions& options) : options_(options) {
  options_.Validate();
  Require(options_.cvodes_quadrature == "auto" || options_.cvodes_quadrature == "gauss" ||
              options_.cvodes_quadrature == "cvodes",
          "gradient 'cvodes_adjoint' needs cvodes_quadrature 'auto', 'gauss' or 'cvodes', got '" +
              options_.cvodes_quadrature + "'");
  Require(IsCvodesName(options_.integrator),
          "gradient 'cvodes_adjoint' needs integrator 'cvodes_bdf' or 'cvodes_adams', got '" +
              options_.integrator + "'");
  const std::string& backward = options_.EffectiveBackwardIntegrator();
  bool jumps = false;
  if (!IsCvodesName(backward) && backward != "epi2" && IntegratorRegistry().Contains(backward)) {
    jumps = IntegratorRegistry()
                .Create(backward, options_.EffectiveBackwardOptions())
                ->SupportsOutputJumps();
  }
  Require(IsCvodesName(backward) || backward == "epi2" || jumps,
          "gradient 'cvodes_adjoint' needs backward_integrator 'cvodes_bdf', 'cvodes_adams', "
          "'epi2', or a registered integrator with output jumps such as 'dopri5' (or empty for "
          "the forward's), got '" +
              backward + "'");
  Require(options_.integrator_options.fixed_step == 0.0 &&
              options_.EffectiveBackwardOptions().fixed_step == 0.0,
          "gradient 'cvodes_adjoint' is adaptive: integrator option fixed_step must be 0");
  Require(options_.cvodes_jump_layer != "on" || IsCvodesName(backward),
          "gradient 'cvodes_adjoint' with cvodes_jump_layer 'on' needs backward_integrator "
          "'cvodes_bdf' or 'cvodes_adams', got '" +
              backward + "'");
  Require(options_.cvodes_observations != "fundamental" || IsCvodesName(backward),
          "gradient 'cvodes_adjoint' with cvodes_observations 'fundamental' needs "
          "backward_integrator 'cvodes_bdf' or 'cvodes_adams', got '" +
              backward + "'");
  if (backward == "epi2") {
    Require(IntegratorRegistry().Contains("epi2"),
            "gradient 'cvodes_adjoint': backward_integrator 'epi2' is not registered; known: " +
                IntegratorRegistry().KnownNames());
  }
}

CvodesAdjoint::~CvodesAdjoint() = default;

LossAndGradient CvodesAdjoint::Compute(const OdeProblem& problem, const Loss& loss) {
  problem.Validate();
  const Index n = problem.field->state_size();
  const Index p = problem.field->num_params();
  // The backward problem's size depends on the running cost (one more column) and, with "auto",
  // on the number of observations (fundamental matrix or not).
  const bool many = ManyObservations(problem);
  if (!impl_ || impl_->n != n || impl_->p != p || impl_->running_cost != loss.HasRunningCost() ||
      (options_.cvodes_observations == "auto" && impl_->many_observations != many)) {
    impl_.reset();  // free the old SUNDIALS objects before creating new ones
    impl_ = std::make_unique<Impl>(options_, n, p, loss.HasRunningCost(), many);
  }
  LossAndGradient result;
  impl_->Run(problem, loss, result);
  return result;
}

}  // namespace snode
