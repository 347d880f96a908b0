#pragma once
// A periodic 1-D grid field, "diffusion + the same pointwise network at every point"
// (OperatorPlusPointwiseField), with its points split over ranks (core/state_distribution.hpp):
// each rank holds a contiguous run of points, all species of a point on one rank.
//
//  * HaloDiffusion1D: this rank's rows of PeriodicDiffusion1D; each product exchanges one point
//    with each neighbour (ExchangeHalo) and otherwise computes what the serial operator computes,
//    term for term.
//  * DistributedGridField: f on this rank's points (HaloDiffusion1D + the rank's network), the
//    θ-products summed over the ranks on every call (so every rank holds the same dL/dθ
//    integrand and CVODES' quadrature takes the same steps everywhere) — reproducibly: each chunk
//    of a ChunkedPointwiseField network is one term of a compensated sum over all ranks
//    (StateDistribution::SumReproducibly), so when the ranks' runs are aligned with the chunks
//    (MpiGridDistribution's align_points) the sum is the same on any number of ranks — and
//    non-finite values
//    reported on every rank when any rank has one (a SUNDIALS callback that fails on one rank
//    only would leave the ranks on different paths). Every evaluation is collective and needs a
//    solver that accepts distributed states (StateDistribution::RequireBound).
//  * Its preconditioner is the serial field's exact one, replicated: Setup gathers z and the
//    pointwise Jacobian blocks (each rank computes its own points' blocks), every rank factorises
//    the whole periodic block-tridiagonal matrix (O(N) per rank), and Solve gathers r, solves and
//    keeps its part. The same linear algebra as one process, so the same Krylov iterations; the
//    cost is two allgathers of the state per Solve and O(N) work per rank that does not shrink
//    with P (docs/distributed.md, the scaling model).

#include <memory>
#include <string>
#include <vector>

#include "core/state_distribution.hpp"
#include "models/operator_field.hpp"

namespace snode {

// The rows of PeriodicDiffusion1D(global_points, diffusion, length) that belong to this rank.
// ConfigError when the distribution does not split the grid by whole points of
// diffusion.size() species, or a rank holds no point.
class HaloDiffusion1D final : public LinearOperator {
 public:
  HaloDiffusion1D(std::shared_ptr<const StateDistribution> distribution, Index global_points,
                  std::vector<double> diffusion_per_species, double length = 1.0);
  std::string name() const override;
  Index size() const override { return distribution_->local_size(); }
  void Apply(ConstVectorRef x, VectorRef out) const override;
  void ApplyTranspose(ConstVectorRef x, VectorRef out) const override { Apply(x, out); }
  std::unique_ptr<LinearOperator> Clone() const override;
  void Diagonal(VectorRef out) const override;

 private:
  std::shared_ptr<const StateDistribution> distribution_;
  PeriodicDiffusion1D serial_;        // the coefficients and the checks of the whole grid
  mutable std::vector<double> halo_;  // left then right neighbour point
};

// The replicated preconditioner's time on this rank (steady clock): all of its Setup, UpdateGamma
// and Solve calls, and the part of it spent in the rank's own JVPs for the blocks. What remains
// after the gathers (StateDistribution's collectives) is the whole-grid arithmetic every rank
// repeats, the term that does not shrink with P (docs/distributed.md, the scaling model).
struct ReplicatedPreconditionerCosts {
  double seconds = 0.0;
  double local_jvp_seconds = 0.0;
  long calls = 0;
};

class DistributedGridField final : public VectorField {
 public:
  // local_pointwise: the network on this rank's points (state size local_size()). ConfigError
  // when the sizes disagree.
  DistributedGridField(std::shared_ptr<const StateDistribution> distribution, Index global_points,
                       std::vector<double> diffusion_per_species,
                       std::unique_ptr<VectorField> local_pointwise);

  std::string name() const override;
  Index state_size() const override { return local_.state_size(); }
  Index num_params() const override { return local_.num_params(); }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override;
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override;
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override;
  void VjpParamsSum(const double* times, ConstMatrixRef z, ConstVectorRef theta, ConstMatrixRef a,
                    VectorRef grad) override;
  void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef a_state,
           VectorRef grad) override;
  Index ForwardSaveSize() const override { return local_.ForwardSaveSize(); }
  void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
               double* saved) override;
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                ConstVectorRef a, VectorRef a_state, VectorRef grad) override;
  bool IsAutonomous() const override { return local_.IsAutonomous(); }
  void TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  std::unique_ptr<VectorField> Clone() const override;
  std::unique_ptr<Preconditioner> MakePreconditioner(PreconditionerSide side) override;

  const StateDistribution& distribution() const { return *distribution_; }
  // Shared with the preconditioners it makes (a clone has its own).
  const std::shared_ptr<ReplicatedPreconditionerCosts>& preconditioner_costs() const {
    return costs_;
  }

 private:
  // NumericalError-free failure on every rank: out ← NaN everywhere when any rank has a
  // non-finite value, so the solver's callbacks fail (recoverably) on all ranks alike.
  void ShareNonFinite(VectorRef out) const;
  // grad += the sum over the ranks of the local product that `local` adds to a zeroed vector:
  // reproducibly, each chunk of the network (ChunkedPointwiseField's sink) one compensated term.
  template <class LocalProduct>
  void SumOverRanks(VectorRef grad, LocalProduct&& local);
  void AddChunk(ConstVectorRef chunk_grad);

  std::shared_ptr<const StateDistribution> distribution_;
  Index global_points_;
  std::vector<double> diffusion_;
  OperatorPlusPointwiseField local_;
  VectorField* network_;  // local_'s pointwise field
  // The whole grid's field for the replicated exact preconditioner: PeriodicDiffusion1D plus a
  // network whose JVP is the ranks' local JVPs gathered.
  std::unique_ptr<OperatorPlusPointwiseField> gathered_;
  Vector grad_scratch_;
  std::vector<CompensatedSum> chunk_sums_;  // per θ entry, over this rank's chunks
  std::shared_ptr<ReplicatedPreconditionerCosts> costs_;
};

}  // namespace snode
