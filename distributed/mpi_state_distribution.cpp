#include "distributed/mpi_state_distribution.hpp"

#include <nvector/nvector_parallel.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <string>

#include "core/errors.hpp"
#include "core/nvector_kernels.hpp"
#include "distributed/mpi_reducer.hpp"
#include "distributed/mpi_session.hpp"

namespace snode {

namespace {

using Clock = std::chrono::steady_clock;

// Adds a call's time (and doubles) to a cost.
class Charge {
 public:
  Charge(CommunicationCost& cost, double doubles) : cost_(cost), start_(Clock::now()) {
    ++cost_.calls;
    cost_.doubles += doubles;
  }
  Charge(const Charge&) = delete;
  Charge& operator=(const Charge&) = delete;
  ~Charge() { cost_.seconds += std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  CommunicationCost& cost_;
  Clock::time_point start_;
};

// The reductions of SUNDIALS' MPI vector, counted: each is the parallel vector's own operation
// behind a Charge (one MPI_Allreduce each; the fused ones one for all their vectors).
CommunicationCost vector_reductions;

// The sums of the MPI vector's norms and dot products, reproducible: each rank's part is a
// compensated sum of its terms (CompensatedSum), the ranks' parts are gathered and added
// in rank order with the same compensation, and the value is rounded once. The result is then, to
// within the rounding of sums that cancel almost exactly, the same double for any number of
// ranks, where MPI_SUM of plain partial sums changes in the last bits with P; a stiff solve at
// rtol 1e-6 turns a one-ulp change in its norms into ~2e-10 in the gradient
// (docs/distributed.md). count sums at once (one MPI_Allgather).
void SumOverRanks(MPI_Comm comm, const CompensatedSum* parts, int count, double* values) {
  int ranks = 1;
  CheckMpi(MPI_Comm_size(comm, &ranks), "MPI_Comm_size");
  thread_local std::vector<double> mine, all;
  mine.resize(2 * static_cast<std::size_t>(count));
  all.resize(mine.size() * static_cast<std::size_t>(ranks));
  for (int v = 0; v < count; ++v) {
    mine[2 * v] = parts[v].hi;
    mine[2 * v + 1] = parts[v].lo;
  }
  CheckMpi(
      MPI_Allgather(mine.data(), 2 * count, MPI_DOUBLE, all.data(), 2 * count, MPI_DOUBLE, comm),
      "MPI_Allgather");
  for (int v = 0; v < count; ++v) {
    CompensatedSum sum;
    for (int r = 0; r < ranks; ++r) {
      const double* part = all.data() + 2 * (static_cast<std::size_t>(r) * count + v);
      sum.Add(CompensatedSum{part[0], part[1]});
    }
    values[v] = sum.Value();
  }
}

sunrealtype DotProd(N_Vector x, N_Vector y) {
  const Charge charge(vector_reductions, 1);
  CompensatedSum part = detail::LocalDotProdCompensated(x, y);
  double value = 0.0;
  SumOverRanks(NV_COMM_P(x), &part, 1, &value);
  return value;
}
sunrealtype MaxNorm(N_Vector x) {
  const Charge charge(vector_reductions, 1);
  return N_VMaxNorm_Parallel(x);
}
sunrealtype WrmsNorm(N_Vector x, N_Vector w) {
  const Charge charge(vector_reductions, 1);
  CompensatedSum part = detail::LocalWSqrSumCompensated(x, w);
  double value = 0.0;
  SumOverRanks(NV_COMM_P(x), &part, 1, &value);
  return std::sqrt(value / static_cast<double>(NV_GLOBLENGTH_P(x)));
}
sunrealtype WrmsNormMask(N_Vector x, N_Vector w, N_Vector id) {
  const Charge charge(vector_reductions, 1);
  return N_VWrmsNormMask_Parallel(x, w, id);
}
sunrealtype Min(N_Vector x) {
  const Charge charge(vector_reductions, 1);
  return N_VMin_Parallel(x);
}
sunrealtype WL2Norm(N_Vector x, N_Vector w) {
  const Charge charge(vector_reductions, 1);
  return N_VWL2Norm_Parallel(x, w);
}
sunrealtype L1Norm(N_Vector x) {
  const Charge charge(vector_reductions, 1);
  return N_VL1Norm_Parallel(x);
}
booleantype InvTest(N_Vector x, N_Vector z) {
  const Charge charge(vector_reductions, 1);
  return N_VInvTest_Parallel(x, z);
}
booleantype ConstrMask(N_Vector c, N_Vector x, N_Vector m) {
  const Charge charge(vector_reductions, 1);
  return N_VConstrMask_Parallel(c, x, m);
}
sunrealtype MinQuotient(N_Vector num, N_Vector denom) {
  const Charge charge(vector_reductions, 1);
  return N_VMinQuotient_Parallel(num, denom);
}
int DotProdMulti(int count, N_Vector x, N_Vector* y, sunrealtype* dots) {
  const Charge charge(vector_reductions, count);
  thread_local std::vector<CompensatedSum> parts;
  parts.resize(static_cast<std::size_t>(count));
  for (int v = 0; v < count; ++v) parts[v] = detail::LocalDotProdCompensated(x, y[v]);
  SumOverRanks(NV_COMM_P(x), parts.data(), count, dots);
  return 0;
}
int WrmsNormVectorArray(int count, N_Vector* x, N_Vector* w, sunrealtype* norms) {
  const Charge charge(vector_reductions, count);
  return N_VWrmsNormVectorArray_Parallel(count, x, w, norms);
}
int WrmsNormMaskVectorArray(int count, N_Vector* x, N_Vector* w, N_Vector id, sunrealtype* norms) {
  const Charge charge(vector_reductions, count);
  return N_VWrmsNormMaskVectorArray_Parallel(count, x, w, id, norms);
}

int DotProdMultiAllReduce(int count, N_Vector x, sunrealtype* sums) {
  const Charge charge(vector_reductions, count);
  return N_VDotProdMultiAllReduce_Parallel(count, x, sums);
}

// Clones copy the ops table, so the solvers' work vectors are counted too.
void CountReductions(N_Vector v) {
  N_Vector_Ops ops = v->ops;
  ops->nvdotprod = DotProd;
  ops->nvmaxnorm = MaxNorm;
  ops->nvwrmsnorm = WrmsNorm;
  ops->nvwrmsnormmask = WrmsNormMask;
  ops->nvmin = Min;
  ops->nvwl2norm = WL2Norm;
  ops->nvl1norm = L1Norm;
  ops->nvinvtest = InvTest;
  ops->nvconstrmask = ConstrMask;
  ops->nvminquotient = MinQuotient;
  if (ops->nvdotprodmulti != nullptr) ops->nvdotprodmulti = DotProdMulti;
  if (ops->nvdotprodmultiallreduce != nullptr) {
    ops->nvdotprodmultiallreduce = DotProdMultiAllReduce;
  }
  if (ops->nvwrmsnormvectorarray != nullptr) ops->nvwrmsnormvectorarray = WrmsNormVectorArray;
  if (ops->nvwrmsnormmaskvectorarray != nullptr) {
    ops->nvwrmsnormmaskvectorarray = WrmsNormMaskVectorArray;
  }
}

}  // namespace

MpiGridDistribution::MpiGridDistribution(MPI_Comm comm, Index points, Index species,
                                         Index align_points)
    : comm_(comm) {
  CheckMpi(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
  CheckMpi(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
  Require(species >= 1, "MpiGridDistribution: species must be at least 1");
  Require(points >= size_, [&] {
    return "the grid of " + std::to_string(points) + " points cannot be split over " +
           std::to_string(size_) + " ranks (each needs at least one point); use fewer ranks";
  });
  Require(points * species <= INT_MAX, "MpiGridDistribution: the state is too long for MPI counts");
  offsets_.assign(static_cast<std::size_t>(size_) + 1, 0);
  counts_.resize(static_cast<std::size_t>(size_));
  displacements_.resize(static_cast<std::size_t>(size_));
  Require(align_points >= 1, "MpiGridDistribution: align_points must be at least 1");
  // Whole blocks of align_points points per rank when there are enough of them, else points.
  const Index block = points >= align_points * size_ ? align_points : 1;
  const Index blocks = (points + block - 1) / block;
  for (int r = 0; r < size_; ++r) {
    const Index end_block = blocks * (r + 1) / size_;
    offsets_[r + 1] = std::min(points, end_block * block) * species;
    counts_[r] = static_cast<int>(offsets_[r + 1] - offsets_[r]);
    displacements_[r] = static_cast<int>(offsets_[r]);
  }
}

NVectorPtr MpiGridDistribution::MakeVector(SUNContext ctx) const {
  NVectorPtr v(N_VNew_Parallel(comm_, static_cast<sunindextype>(local_size()),
                               static_cast<sunindextype>(global_size()), ctx));
  if (!v) throw SundialsError("N_VNew_Parallel", -1, "allocation failure");
  // Fused operations: one reduction for several dot products (GMRES' orthogonalisation).
  N_VEnableFusedOps_Parallel(v.get(), SUNTRUE);
  detail::InstallFastElementwiseKernels(v.get());
  CountReductions(v.get());
  return v;
}

void MpiGridDistribution::SumInPlace(double* data, Index count) const {
  const Charge charge(costs_.reduce, static_cast<double>(count));
  AllreduceSum(comm_, data, count);
}

void MpiGridDistribution::SumReproducibly(const CompensatedSum* parts, Index count,
                                          double* values) const {
  Require(count <= INT_MAX / 2, "SumReproducibly: too many sums for one MPI call");
  const Charge charge(costs_.reduce, 2.0 * static_cast<double>(count));
  SumOverRanks(comm_, parts, static_cast<int>(count), values);
}

double MpiGridDistribution::Max(double x) const {
  const Charge charge(costs_.reduce, 1);
  CheckMpi(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_MAX, comm_), "MPI_Allreduce");
  return x;
}

void MpiGridDistribution::Allgather(const double* local, double* full) const {
  const Charge charge(costs_.gather, static_cast<double>(local_size()));
  CheckMpi(MPI_Allgatherv(local, counts_[rank_], MPI_DOUBLE, full, counts_.data(),
                          displacements_.data(), MPI_DOUBLE, comm_),
           "MPI_Allgatherv");
}

void MpiGridDistribution::ExchangeHalo(const double* local, Index count, double* left,
                                       double* right) const {
  const Index n = local_size();
  Require(count >= 0 && count <= n, "ExchangeHalo: count exceeds this rank's part");
  const int previous = (rank_ + size_ - 1) % size_, next = (rank_ + 1) % size_;
  const int c = static_cast<int>(count);
  const Charge charge(costs_.halo, 2.0 * static_cast<double>(count));
  // My last values go to the next rank (its left halo); my right halo comes from it.
  CheckMpi(MPI_Sendrecv(local + n - count, c, MPI_DOUBLE, next, 0, left, c, MPI_DOUBLE, previous, 0,
                        comm_, MPI_STATUS_IGNORE),
           "MPI_Sendrecv");
  CheckMpi(MPI_Sendrecv(local, c, MPI_DOUBLE, previous, 1, right, c, MPI_DOUBLE, next, 1, comm_,
                        MPI_STATUS_IGNORE),
           "MPI_Sendrecv");
}

MpiCommunicationCosts MpiGridDistribution::Costs() const {
  MpiCommunicationCosts costs = costs_;
  costs.vector_reductions = vector_reductions;
  return costs;
}

std::shared_ptr<const MpiGridDistribution> GridDistributionOver(const GradientReducer& ranks,
                                                                Index points, Index species,
                                                                Index align_points) {
  const auto* mpi = dynamic_cast<const MpiReducer*>(&ranks);
  Require(mpi != nullptr, "a distributed state needs MPI ranks: start the program with mpirun");
  return std::make_shared<MpiGridDistribution>(mpi->comm(), points, species, align_points);
}

}  // namespace snode
