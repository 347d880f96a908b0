#include "models/distributed_grid_field.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "models/chunked_pointwise_field.hpp"

namespace snode {

namespace {

// ConfigError unless every rank holds a non-empty run of whole points of `species` values and
// the parts cover `points` points.
void CheckSplitByPoints(const StateDistribution& distribution, Index points, Index species,
                        const std::string& who) {
  Require(distribution.global_size() == points * species, [&] {
    return who + ": the distribution covers " + std::to_string(distribution.global_size()) +
           " values, the grid has " + std::to_string(points * species);
  });
  for (int r = 0; r < distribution.size(); ++r) {
    const Index begin = distribution.offset_of(r), end = distribution.offset_of(r + 1);
    Require(begin % species == 0 && end > begin && (end - begin) % species == 0, [&] {
      return who + ": rank " + std::to_string(r) + " must hold at least one whole grid point of " +
             std::to_string(species) + " values (it holds values " + std::to_string(begin) +
             " to " + std::to_string(end) + "); use fewer ranks";
    });
  }
}

// Adds the steady-clock seconds of its scope (and a call) to the given counters.
class Timer {
 public:
  explicit Timer(double& seconds, long* calls = nullptr)
      : seconds_(seconds), start_(std::chrono::steady_clock::now()) {
    if (calls != nullptr) ++*calls;
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer() {
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  double& seconds_;
  std::chrono::steady_clock::time_point start_;
};

// The whole grid's pointwise field as seen by the replicated preconditioner: its JVP is every
// rank's local JVP, gathered. Nothing else is needed (PointBlockPreconditioner's Setup takes only
// JVPs); the other products are ConfigErrors.
class GatheredPointwiseField final : public VectorField {
 public:
  GatheredPointwiseField(std::shared_ptr<const StateDistribution> distribution, VectorField* local,
                         std::shared_ptr<ReplicatedPreconditionerCosts> costs)
      : distribution_(std::move(distribution)),
        local_(local),
        costs_(std::move(costs)),
        column_(local->state_size()) {}

  std::string name() const override { return local_->name() + " (gathered over ranks)"; }
  Index state_size() const override { return distribution_->global_size(); }
  Index num_params() const override { return local_->num_params(); }
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    const Index offset = distribution_->local_offset(), n = local_->state_size();
    {
      const Timer timer(costs_->local_jvp_seconds);
      local_->Jvp(t, z.segment(offset, n), theta, v.segment(offset, n), column_);
    }
    distribution_->Allgather(column_.data(), out.data());
  }
  void F(double, ConstVectorRef, ConstVectorRef, VectorRef) override { Unsupported("F"); }
  void VjpState(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    Unsupported("VjpState");
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    Unsupported("VjpParams");
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<GatheredPointwiseField>(distribution_, local_, costs_);
  }

 private:
  [[noreturn]] void Unsupported(const char* what) const {
    throw ConfigError(name() + ": only Jvp is defined (the preconditioner's blocks), not " +
                      std::string(what));
  }

  std::shared_ptr<const StateDistribution> distribution_;
  VectorField* local_;
  std::shared_ptr<ReplicatedPreconditionerCosts> costs_;
  Vector column_;
};

// The serial exact preconditioner on gathered vectors (file comment of the header).
class GatheredPreconditioner final : public Preconditioner {
 public:
  GatheredPreconditioner(const StateDistribution& distribution,
                         std::unique_ptr<Preconditioner> whole,
                         std::shared_ptr<ReplicatedPreconditionerCosts> costs)
      : distribution_(distribution),
        whole_(std::move(whole)),
        costs_(std::move(costs)),
        z_(distribution.global_size()),
        r_(distribution.global_size()),
        x_(distribution.global_size()) {}

  void Setup(double t, ConstVectorRef z, ConstVectorRef theta, double gamma) override {
    CheckLocal(z.size(), "Setup");
    const Timer timer(costs_->seconds, &costs_->calls);
    distribution_.Allgather(z.data(), z_.data());
    whole_->Setup(t, z_, theta, gamma);
  }
  bool UpdateGamma(double gamma) override {
    const Timer timer(costs_->seconds, &costs_->calls);
    return whole_->UpdateGamma(gamma);
  }
  void Solve(ConstVectorRef r, VectorRef x) override {
    CheckLocal(r.size(), "Solve");
    CheckLocal(x.size(), "Solve");
    const Timer timer(costs_->seconds, &costs_->calls);
    distribution_.Allgather(r.data(), r_.data());
    whole_->Solve(r_, x_);
    // Every rank holds the whole x_: the failure is the same on all of them.
    if (!x_.allFinite())
      throw NumericalError("distributed preconditioner: the solve is not finite");
    x = x_.segment(distribution_.local_offset(), distribution_.local_size());
  }

 private:
  void CheckLocal(Index size, const char* what) const {
    Require(size == distribution_.local_size(), [&] {
      return std::string("distributed preconditioner: ") + what + ": vectors must have this " +
             "rank's length " + std::to_string(distribution_.local_size()) + ", got " +
             std::to_string(size);
    });
  }

  const StateDistribution& distribution_;
  std::unique_ptr<Preconditioner> whole_;
  std::shared_ptr<ReplicatedPreconditionerCosts> costs_;
  Vector z_, r_, x_;
};

}  // namespace

// ------------------------------------------------------------ HaloDiffusion1D

HaloDiffusion1D::HaloDiffusion1D(std::shared_ptr<const StateDistribution> distribution,
                                 Index global_points, std::vector<double> diffusion_per_species,
                                 double length)
    : distribution_(std::move(distribution)),
      serial_(global_points, std::move(diffusion_per_species), length),
      halo_(static_cast<std::size_t>(2 * serial_.species())) {
  Require(distribution_ != nullptr, "HaloDiffusion1D: the distribution must not be null");
  CheckSplitByPoints(*distribution_, global_points, serial_.species(), "HaloDiffusion1D");
}

std::string HaloDiffusion1D::name() const {
  return "halo_diffusion_1d " + std::to_string(serial_.points()) + "x" +
         std::to_string(serial_.species()) + " on " + std::to_string(distribution_->size()) +
         " ranks";
}

void HaloDiffusion1D::Apply(ConstVectorRef x, VectorRef out) const {
  const Index s = serial_.species(), n = size();
  Require(x.size() == n && out.size() == n, [&] {
    return name() + ": Apply: x and out must have this rank's length " + std::to_string(n);
  });
  double* left = halo_.data();
  double* right = halo_.data() + s;
  distribution_->ExchangeHalo(x.data(), s, left, right);
  const double* in = x.data();
  double* o = out.data();
  const double* c = serial_.coefficients().data();
  const Index points = n / s;
  // The same expression as PeriodicDiffusion1D: c·((right − 2·centre) + left).
  for (Index i = 0; i < points; ++i) {
    const Index base = i * s;
    const double* l = i > 0 ? in + base - s : left;
    const double* r = i + 1 < points ? in + base + s : right;
    for (Index k = 0; k < s; ++k) o[base + k] = c[k] * (r[k] - 2.0 * in[base + k] + l[k]);
  }
}

std::unique_ptr<LinearOperator> HaloDiffusion1D::Clone() const {
  return std::make_unique<HaloDiffusion1D>(*this);
}

void HaloDiffusion1D::Diagonal(VectorRef out) const {
  const Index s = serial_.species();
  Require(out.size() == size(), name() + ": Diagonal: out has the wrong length");
  for (Index i = 0; i < size() / s; ++i) out.segment(i * s, s) = -2.0 * serial_.coefficients();
}

// ------------------------------------------------------------ DistributedGridField

DistributedGridField::DistributedGridField(std::shared_ptr<const StateDistribution> distribution,
                                           Index global_points,
                                           std::vector<double> diffusion_per_species,
                                           std::unique_ptr<VectorField> local_pointwise)
    : distribution_(std::move(distribution)),
      global_points_(global_points),
      diffusion_(diffusion_per_species),
      local_(std::make_unique<HaloDiffusion1D>(distribution_, global_points, diffusion_),
             std::move(local_pointwise), static_cast<Index>(diffusion_.size())),
      network_(&local_.pointwise()),
      costs_(std::make_shared<ReplicatedPreconditionerCosts>()) {
  const Index species = static_cast<Index>(diffusion_.size());
  gathered_ = std::make_unique<OperatorPlusPointwiseField>(
      std::make_unique<PeriodicDiffusion1D>(global_points_, diffusion_),
      std::make_unique<GatheredPointwiseField>(distribution_, network_, costs_), species);
  grad_scratch_.resize(local_.num_params());
  chunk_sums_.resize(static_cast<std::size_t>(local_.num_params()));
  if (auto* chunked = dynamic_cast<ChunkedPointwiseField*>(network_)) {
    chunked->SetChunkParamsSink([this](ConstVectorRef chunk_grad) { AddChunk(chunk_grad); });
  }
}

std::string DistributedGridField::name() const {
  return "distributed grid field (" + std::to_string(global_points_) + " points on " +
         std::to_string(distribution_->size()) + " ranks): " + local_.name();
}

void DistributedGridField::ShareNonFinite(VectorRef out) const {
  const double bad = out.allFinite() ? 0.0 : 1.0;
  if (distribution_->Max(bad) > 0.0) out.setConstant(std::numeric_limits<double>::quiet_NaN());
}

template <class LocalProduct>
void DistributedGridField::SumOverRanks(VectorRef grad, LocalProduct&& local) {
  Require(grad.size() == grad_scratch_.size(), [&] {
    return name() + ": grad must have length " + std::to_string(grad_scratch_.size());
  });
  std::fill(chunk_sums_.begin(), chunk_sums_.end(), CompensatedSum{});
  // A chunked network hands each chunk's product to AddChunk; a single batch lands here.
  grad_scratch_.setZero();
  local(VectorRef(grad_scratch_));
  AddChunk(grad_scratch_);
  distribution_->SumReproducibly(chunk_sums_.data(), static_cast<Index>(chunk_sums_.size()),
                                 grad_scratch_.data());
  grad += grad_scratch_;
}

void DistributedGridField::AddChunk(ConstVectorRef chunk_grad) {
  for (Index k = 0; k < chunk_grad.size(); ++k)
    chunk_sums_[static_cast<std::size_t>(k)].Add(chunk_grad[k]);
}

void DistributedGridField::F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  distribution_->RequireBound(name());
  local_.F(t, z, theta, out);
  ShareNonFinite(out);
}

void DistributedGridField::Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                               VectorRef out) {
  distribution_->RequireBound(name());
  local_.Jvp(t, z, theta, v, out);
  ShareNonFinite(out);
}

void DistributedGridField::VjpState(double t, ConstVectorRef z, ConstVectorRef theta,
                                    ConstVectorRef a, VectorRef out) {
  distribution_->RequireBound(name());
  local_.VjpState(t, z, theta, a, out);
  ShareNonFinite(out);
}

void DistributedGridField::VjpParams(double t, ConstVectorRef z, ConstVectorRef theta,
                                     ConstVectorRef a, VectorRef grad) {
  distribution_->RequireBound(name());
  SumOverRanks(grad, [&](VectorRef local) { local_.VjpParams(t, z, theta, a, local); });
}

void DistributedGridField::VjpParamsSum(const double* times, ConstMatrixRef z, ConstVectorRef theta,
                                        ConstMatrixRef a, VectorRef grad) {
  distribution_->RequireBound(name());
  SumOverRanks(grad, [&](VectorRef local) { local_.VjpParamsSum(times, z, theta, a, local); });
}

void DistributedGridField::Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                               VectorRef a_state, VectorRef grad) {
  distribution_->RequireBound(name());
  SumOverRanks(grad, [&](VectorRef local) { local_.Vjp(t, z, theta, a, a_state, local); });
  ShareNonFinite(a_state);
}

void DistributedGridField::FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
                                   double* saved) {
  distribution_->RequireBound(name());
  local_.FSaving(t, z, theta, out, saved);
  ShareNonFinite(out);
}

void DistributedGridField::VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta,
                                    const double* saved, ConstVectorRef a, VectorRef a_state,
                                    VectorRef grad) {
  distribution_->RequireBound(name());
  if (grad.size() == 0) {
    local_.VjpSaved(t, z, theta, saved, a, a_state, grad);
  } else {
    SumOverRanks(grad,
                 [&](VectorRef local) { local_.VjpSaved(t, z, theta, saved, a, a_state, local); });
  }
  ShareNonFinite(a_state);
}

void DistributedGridField::TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta,
                                          VectorRef out) {
  distribution_->RequireBound(name());
  local_.TimeDerivative(t, z, theta, out);
  ShareNonFinite(out);
}

std::unique_ptr<VectorField> DistributedGridField::Clone() const {
  return std::make_unique<DistributedGridField>(distribution_, global_points_, diffusion_,
                                                network_->Clone());
}

std::unique_ptr<Preconditioner> DistributedGridField::MakePreconditioner(PreconditionerSide side) {
  return std::make_unique<GatheredPreconditioner>(*distribution_,
                                                  gathered_->MakePreconditioner(side), costs_);
}

}  // namespace snode
