#include "distributed/mpi_reducer.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <thread>

#include "core/errors.hpp"
#include "distributed/mpi_session.hpp"

namespace snode {

void AllreduceSum(MPI_Comm comm, double* data, Index count) {
  // MPI counts are int: long vectors go in slices.
  for (Index done = 0; done < count;) {
    const int slice = static_cast<int>(std::min<Index>(count - done, INT_MAX));
    CheckMpi(MPI_Allreduce(MPI_IN_PLACE, data + done, slice, MPI_DOUBLE, MPI_SUM, comm),
             "MPI_Allreduce");
    done += slice;
  }
}

void BroadcastText(MPI_Comm comm, std::string& text, int root) {
  unsigned long long length = text.size();
  CheckMpi(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, root, comm), "MPI_Bcast");
  Require(length <= INT_MAX, "BroadcastText: a text of " + std::to_string(length) + " bytes");
  text.resize(static_cast<std::size_t>(length));
  CheckMpi(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, root, comm), "MPI_Bcast");
}

void BroadcastVector(MPI_Comm comm, Vector& v, int root) {
  long long length = v.size();
  CheckMpi(MPI_Bcast(&length, 1, MPI_LONG_LONG, root, comm), "MPI_Bcast");
  Require(length >= 0 && length <= INT_MAX,
          "BroadcastVector: a vector of " + std::to_string(length) + " values");
  v.resize(static_cast<Index>(length));
  CheckMpi(MPI_Bcast(v.data(), static_cast<int>(length), MPI_DOUBLE, root, comm), "MPI_Bcast");
}

void WaitIdly(MPI_Request& request, const char* call) {
  for (;;) {
    int done = 0;
    CheckMpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), call);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::vector<std::string> GatherTexts(MPI_Comm comm, const std::string& mine, int root) {
  int rank = 0, size = 1;
  CheckMpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  CheckMpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  unsigned long long length = mine.size();
  std::vector<unsigned long long> lengths(rank == root ? size : 0);
  MPI_Request request = MPI_REQUEST_NULL;
  CheckMpi(MPI_Igather(&length, 1, MPI_UNSIGNED_LONG_LONG, lengths.data(), 1,
                       MPI_UNSIGNED_LONG_LONG, root, comm, &request),
           "MPI_Igather");
  WaitIdly(request, "MPI_Igather");
  // Every rank checks its own length; the root, the total (MPI's displacements are int). A
  // check that fails throws on that rank alone, and RunOnRanks' abort ends the others.
  Require(length <= INT_MAX, "GatherTexts: a text of " + std::to_string(length) + " bytes");
  std::vector<int> counts(lengths.size()), displacements(lengths.size());
  unsigned long long total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    Require(total + lengths[r] <= INT_MAX,
            "GatherTexts: more than " + std::to_string(INT_MAX) + " bytes in all");
    counts[r] = static_cast<int>(lengths[r]);
    displacements[r] = static_cast<int>(total);
    total += lengths[r];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  CheckMpi(MPI_Igatherv(mine.data(), static_cast<int>(length), MPI_CHAR, all.data(), counts.data(),
                        displacements.data(), MPI_CHAR, root, comm, &request),
           "MPI_Igatherv");
  WaitIdly(request, "MPI_Igatherv");
  std::vector<std::string> texts;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    texts.push_back(all.substr(displacements[r], counts[r]));
  }
  return texts;
}

void AllreduceMinMax(MPI_Comm comm, std::uint64_t x, std::uint64_t& min, std::uint64_t& max) {
  std::uint64_t values[2] = {x, ~x};  // max of ~x is ~min of x
  CheckMpi(MPI_Allreduce(MPI_IN_PLACE, values, 2, MPI_UINT64_T, MPI_MAX, comm), "MPI_Allreduce");
  max = values[0];
  min = ~values[1];
}

MpiReducer::MpiReducer(MPI_Comm comm) : comm_(comm) {
  CheckMpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  CheckMpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

void MpiReducer::SumInPlace(Vector& v) {
  if (size_ > 1) AllreduceSum(comm_, v.data(), v.size());
}

void MpiReducer::Broadcast(std::string& text, int root) {
  if (size_ > 1) BroadcastText(comm_, text, root);
}

std::vector<std::string> MpiReducer::Gather(const std::string& mine, int root) {
  if (size_ == 1) return {mine};
  return GatherTexts(comm_, mine, root);
}

void MpiReducer::CheckSameParameters(const Vector& params, const std::string& where) {
  if (size_ == 1) return;
  std::uint64_t min = 0, max = 0;
  AllreduceMinMax(comm_, ParameterHash(params), min, max);
  if (min != max) {
    char text[80];
    std::snprintf(text, sizeof text, "hashes from %016llx to %016llx",
                  static_cast<unsigned long long>(min), static_cast<unsigned long long>(max));
    throw NumericalError("the parameters differ between the " + std::to_string(size_) + " ranks " +
                         where + " (" + text + "): the ranks no longer train one model");
  }
}

}  // namespace snode
