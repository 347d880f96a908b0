#include "distributed/mpi_state_distribution.hpp"

#include <nvector/nvector_parallel.h>

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

// The local parts by snode's compiled kernels (the packaged ones are unoptimised), then one
// MPI_Allreduce on the vector's communicator, as N_VDotProd_Parallel and N_VWrmsNorm_Parallel do.
double SumOverVectorRanks(N_Vector x, double local) {
  CheckMpi(MPI_Allreduce(MPI_IN_PLACE, &local, 1, MPI_DOUBLE, MPI_SUM, NV_COMM_P(x)),
           "MPI_Allreduce");
  return local;
}

sunrealtype DotProd(N_Vector x, N_Vector y) {
  const Charge charge(vector_reductions, 1);
  return SumOverVectorRanks(x, detail::LocalDotProd(x, y));
}
sunrealtype MaxNorm(N_Vector x) {
  const Charge charge(vector_reductions, 1);
  return N_VMaxNorm_Parallel(x);
}
sunrealtype WrmsNorm(N_Vector x, N_Vector w) {
  const Charge charge(vector_reductions, 1);
  return std::sqrt(SumOverVectorRanks(x, detail::LocalWSqrSum(x, w)) /
                   static_cast<double>(NV_GLOBLENGTH_P(x)));
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
  for (int v = 0; v < count; ++v) dots[v] = detail::LocalDotProd(x, y[v]);
  CheckMpi(MPI_Allreduce(MPI_IN_PLACE, dots, count, MPI_DOUBLE, MPI_SUM, NV_COMM_P(x)),
           "MPI_Allreduce");
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

MpiGridDistribution::MpiGridDistribution(MPI_Comm comm, Index points, Index species) : comm_(comm) {
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
  const Index base = points / size_, extra = points % size_;
  for (int r = 0; r < size_; ++r) {
    const Index mine = (base + (r < extra ? 1 : 0)) * species;
    offsets_[r + 1] = offsets_[r] + mine;
    counts_[r] = static_cast<int>(mine);
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
                                                                Index points, Index species) {
  const auto* mpi = dynamic_cast<const MpiReducer*>(&ranks);
  Require(mpi != nullptr, "a distributed state needs MPI ranks: start the program with mpirun");
  return std::make_shared<MpiGridDistribution>(mpi->comm(), points, species);
}

}  // namespace snode
