#pragma once
// StateDistribution: a state vector split over processes (MPI ranks), each holding one contiguous
// part, behind an interface that knows no MPI (distributed/ implements it over MPI with SUNDIALS'
// parallel N_Vector; docs/distributed.md).
//
// A problem whose state is distributed sets OdeProblem::distribution; its field, z0 and loss are
// then this rank's parts (field->state_size() == local_size()), and a solver that accepts such a
// problem creates its SUNDIALS vectors with MakeVector, so that every norm and dot product inside
// SUNDIALS runs over the whole state and every rank takes the same steps. Quantities that are not
// split (θ, the loss value, θ-products) must be the same on every rank: whoever computes a
// partial sum of one adds it over the ranks (SumInPlace).
//
// Only solvers that say so accept a distributed problem (cvodes_adjoint with CVODES BDF and a
// Krylov solver). A field whose state is distributed calls RequireBound() in its evaluations:
// such a solver binds the distribution (DistributedSolveScope) for the length of its solve, so a
// solver that does not know about distribution fails with a ConfigError at the first evaluation
// instead of computing a gradient of the wrong problem.
//
// Every operation below except the sizes is collective: all ranks call it, in the same order.

#include <sundials/sundials_context.h>

#include <string>

#include "core/compensated_sum.hpp"
#include "core/nvector.hpp"
#include "core/types.hpp"

namespace snode {

class StateDistribution {
 public:
  virtual ~StateDistribution() = default;

  virtual int rank() const = 0;  // 0 … size() − 1
  virtual int size() const = 0;  // number of ranks
  virtual Index global_size() const = 0;
  virtual Index local_size() const = 0;    // this rank's values
  virtual Index local_offset() const = 0;  // global index of this rank's first value
  // Where rank r's part starts (r = size(): global_size()); parts are in rank order.
  virtual Index offset_of(int r) const = 0;

  // A new N_Vector holding this rank's part of a global vector (local_size() values), whose
  // reductions (norms, dot products) run over all ranks.
  virtual NVectorPtr MakeVector(SUNContext ctx) const = 0;
  // data[0, count) ← the sum over the ranks, elementwise; the same on every rank.
  virtual void SumInPlace(double* data, Index count) const = 0;
  // values[v] ← Σ over ranks of parts[v], v < count: the ranks' compensated sums added in rank
  // order with compensation and rounded once, so that a sum split differently over the ranks
  // gives (but for near-total cancellation) the same double (core/compensated_sum.hpp).
  virtual void SumReproducibly(const CompensatedSum* parts, Index count, double* values) const = 0;
  // The largest x over the ranks.
  virtual double Max(double x) const = 0;
  // full[0, global_size()) ← every rank's local part, in rank order.
  virtual void Allgather(const double* local, double* full) const = 0;
  // Periodic halo exchange of `count` values: left ← the last `count` local values of the
  // previous rank (rank size() − 1 for rank 0), right ← the first `count` of the next rank.
  // local_size() ≥ count on every rank.
  virtual void ExchangeHalo(const double* local, Index count, double* left,
                            double* right) const = 0;

  double Sum(double x) const {
    SumInPlace(&x, 1);
    return x;
  }

  // Throws ConfigError, naming `who`, unless a solver that accepts distributed states has bound
  // this distribution (DistributedSolveScope).
  void RequireBound(const std::string& who) const;
  bool bound() const { return bound_ > 0; }

 private:
  friend class DistributedSolveScope;
  mutable int bound_ = 0;
};

// Binds a distribution for the scope of one solve (nothing when it is null).
class DistributedSolveScope {
 public:
  explicit DistributedSolveScope(const StateDistribution* distribution)
      : distribution_(distribution) {
    if (distribution_ != nullptr) ++distribution_->bound_;
  }
  DistributedSolveScope(const DistributedSolveScope&) = delete;
  DistributedSolveScope& operator=(const DistributedSolveScope&) = delete;
  ~DistributedSolveScope() {
    if (distribution_ != nullptr) --distribution_->bound_;
  }

 private:
  const StateDistribution* distribution_;
};

// A state vector for a solver: distribution's MakeVector when it is set (its local size must be
// n), otherwise MakeNVector(n, ctx).
NVectorPtr MakeStateVector(Index n, SUNContext ctx, const StateDistribution* distribution);

}  // namespace snode
