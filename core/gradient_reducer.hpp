#pragma once
// Sums over the ranks of a data-parallel run, behind an interface that knows no MPI: the layers
// that split work over processes (the MNIST trainer; later the distributed state and study) take
// a GradientReducer&, the serial one (one rank, every operation a no-op) by default, and
// distributed/ implements it over MPI (distributed/mpi_reducer.hpp) for the apps built with
// SNODE_MPI and started by mpirun. Nothing below apps/ links MPI.
//
// Every operation is collective: all ranks call it, in the same order, with vectors of the same
// length; the result is the same on every rank. A rank that throws between collectives must not
// leave the others waiting in the next one: SumOverRanks below carries a failure through the sum
// so that every rank throws.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace snode {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;

  virtual int rank() const = 0;  // 0 .. size() − 1
  virtual int size() const = 0;  // number of ranks (1: serial)

  // v ← Σ over ranks of v, elementwise (one allreduce), the same result on every rank.
  virtual void SumInPlace(Vector& v) = 0;
  // text ← the root rank's text, on every rank.
  virtual void Broadcast(std::string& text, int root) = 0;
  // Throws NumericalError on every rank when the parameters differ between ranks (compared by
  // ParameterHash, so bit for bit), naming `where` (e.g. "after epoch 1, batch 3").
  virtual void CheckSameParameters(const Vector& params, const std::string& where) = 0;
  // Every rank's bytes, in rank order, on root (e.g. a rank's serialised share of a study);
  // the other ranks get an empty vector.
  virtual std::vector<std::string> Gather(const std::string& mine, int root) = 0;

  // x summed over the ranks (one SumInPlace).
  double Sum(double x);
};

// One rank: SumInPlace and Broadcast leave their argument as it is, CheckSameParameters passes.
class SerialReducer final : public GradientReducer {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void SumInPlace(Vector&) override {}
  void Broadcast(std::string&, int) override {}
  void CheckSameParameters(const Vector&, const std::string&) override {}
  std::vector<std::string> Gather(const std::string& mine, int) override { return {mine}; }
};

// A process-wide SerialReducer (it has no state), the default wherever a reducer is optional.
GradientReducer& SerialReduction();

// Every rank's bytes, in rank order, on every rank: Gather to rank 0, then one Broadcast.
std::vector<std::string> GatherToAll(GradientReducer& reducer, const std::string& mine);

// 64-bit FNV-1a of the bytes of v (its doubles as stored: −0.0 and 0.0 differ, and so do two
// NaNs with different payloads), for comparing parameters across ranks.
std::uint64_t ParameterHash(const Vector& v);

// Runs this rank's share of a step, work(), which returns its values (n of them), and sums them
// over the ranks with one SumInPlace. When work() throws on any rank, every rank throws after the
// sum: the failing rank (the lowest, if several) its own exception, the others the same kind of
// error (ConfigError, InputError, else NumericalError) with its message after "rank R: ".
// Serial (size() == 1): work()'s result as it is.
Vector SumOverRanks(GradientReducer& reducer, Index n, const std::function<Vector()>& work);

}  // namespace snode
