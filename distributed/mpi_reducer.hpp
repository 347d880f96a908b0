#pragma once
// GradientReducer (core/gradient_reducer.hpp) over an MPI communicator, and the collectives it is
// made of, for other distributed code to reuse. Every call is collective on the communicator
// and throws MpiError when MPI reports a failure (the communicator must have MPI_ERRORS_RETURN,
// as MpiSession's has).

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/gradient_reducer.hpp"
#include "core/types.hpp"

namespace snode {

// data[0..count) ← Σ over ranks, in place (MPI_Allreduce, MPI_SUM on doubles).
void AllreduceSum(MPI_Comm comm, double* data, Index count);
// text ← root's text (its length, then its bytes).
void BroadcastText(MPI_Comm comm, std::string& text, int root);
// v ← root's v (its length, then its values), e.g. parameters read by one rank.
void BroadcastVector(MPI_Comm comm, Vector& v, int root);
// Completes a non-blocking operation without spinning: MPI_Test, then 1 ms sleeps between tests.
// For collectives where ranks arrive far apart (a rank done with its share of a study waits for
// the slowest): OpenMPI's blocking calls poll and would take the CPU from the ranks still working.
void WaitIdly(MPI_Request& request, const char* call);
// Every rank's text on root, in rank order (MPI_Igather of the lengths, MPI_Igatherv of the
// bytes, each completed by WaitIdly); other ranks get an empty vector. The texts together must fit
// an int count of bytes.
std::vector<std::string> GatherTexts(MPI_Comm comm, const std::string& mine, int root);
// The smallest and largest value over the ranks, with one MPI_Allreduce (MPI_MAX of {x, ~x}).
void AllreduceMinMax(MPI_Comm comm, std::uint64_t x, std::uint64_t& min, std::uint64_t& max);

class MpiReducer final : public GradientReducer {
 public:
  explicit MpiReducer(MPI_Comm comm);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void SumInPlace(Vector& v) override;
  void Broadcast(std::string& text, int root) override;
  // ParameterHash on every rank; min ≠ max over the ranks: NumericalError on all of them.
  void CheckSameParameters(const Vector& params, const std::string& where) override;
  std::vector<std::string> Gather(const std::string& mine, int root) override;
  MPI_Comm comm() const { return comm_; }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace snode
