#pragma once
// StateDistribution (core/state_distribution.hpp) over an MPI communicator: a grid of `points`
// points of `species` values split into contiguous runs of whole blocks of align_points points
// (rank r takes blocks ⌊B·r/P⌋ … ⌊B·(r+1)/P⌋ − 1 of the B blocks; the last block may be short),
// or of single points when there are fewer than P blocks; SUNDIALS' MPI N_Vector
// (nvector_parallel) for the solver's vectors. Aligning the runs with the network's chunks
// (problems/reaction_diffusion.hpp) gives every chunk the same points on any P, which makes the
// θ-products' sum the same on any P (DistributedGridField). The communicator must have
// MPI_ERRORS_RETURN (MpiSession's has): a failed MPI call throws MpiError.

#include <mpi.h>

#include <memory>
#include <vector>

#include "core/gradient_reducer.hpp"
#include "core/state_distribution.hpp"

namespace snode {

// Time this rank spent in communication (steady clock), by kind, with calls and doubles sent:
// the halo exchanges, the sums and maxima over ranks (θ-products, loss terms, finiteness), the
// allgathers of the replicated preconditioner, and the reductions inside SUNDIALS' vector
// operations (norms and dot products of the MPI N_Vector; their time includes the local part).
struct CommunicationCost {
  double seconds = 0.0;
  long calls = 0;
  double doubles = 0.0;
};
struct MpiCommunicationCosts {
  CommunicationCost halo, reduce, gather, vector_reductions;
};

class MpiGridDistribution final : public StateDistribution {
 public:
  // ConfigError when a rank would get no point (points < ranks), species < 1 or
  // align_points < 1.
  MpiGridDistribution(MPI_Comm comm, Index points, Index species, Index align_points = 1);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Index global_size() const override { return offsets_.back(); }
  Index local_size() const override { return offsets_[rank_ + 1] - offsets_[rank_]; }
  Index local_offset() const override { return offsets_[rank_]; }
  Index offset_of(int r) const override { return offsets_.at(static_cast<std::size_t>(r)); }

  NVectorPtr MakeVector(SUNContext ctx) const override;
  void SumInPlace(double* data, Index count) const override;
  void SumReproducibly(const CompensatedSum* parts, Index count, double* values) const override;
  double Max(double x) const override;
  void Allgather(const double* local, double* full) const override;
  void ExchangeHalo(const double* local, Index count, double* left, double* right) const override;

  // What this process has spent so far (all distributions of the process share the SUNDIALS
  // vector counters).
  MpiCommunicationCosts Costs() const;

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  std::vector<Index> offsets_;               // size_ + 1 value offsets
  std::vector<int> counts_, displacements_;  // for MPI_Allgatherv (values)
  mutable MpiCommunicationCosts costs_;
};

// The grid distribution over the ranks of a reducer made by RunOnRanks (an MpiReducer; for the
// serial reducer, a ConfigError: start the program with mpirun).
std::shared_ptr<const MpiGridDistribution> GridDistributionOver(const GradientReducer& ranks,
                                                                Index points, Index species,
                                                                Index align_points = 1);

}  // namespace snode
