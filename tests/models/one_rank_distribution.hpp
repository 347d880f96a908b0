#pragma once
// A StateDistribution of one rank in this process (serial N_Vectors, every collective the
// identity), for testing distributed code paths without MPI.

#include "core/state_distribution.hpp"

namespace snode::test_util {

class OneRankDistribution final : public StateDistribution {
 public:
  explicit OneRankDistribution(Index size) : size_(size) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Index global_size() const override { return size_; }
  Index local_size() const override { return size_; }
  Index local_offset() const override { return 0; }
  Index offset_of(int r) const override { return r == 0 ? 0 : size_; }
  NVectorPtr MakeVector(SUNContext ctx) const override { return MakeNVector(size_, ctx); }
  void SumInPlace(double*, Index) const override {}
  void SumReproducibly(const CompensatedSum* parts, Index count, double* values) const override {
    for (Index v = 0; v < count; ++v) values[v] = parts[v].Value();
  }
  double Max(double x) const override { return x; }
  void Allgather(const double* local, double* full) const override {
    for (Index i = 0; i < size_; ++i) full[i] = local[i];
  }
  void ExchangeHalo(const double* local, Index count, double* left, double* right) const override {
    for (Index i = 0; i < count; ++i) {
      left[i] = local[size_ - count + i];
      right[i] = local[i];
    }
  }

 private:
  Index size_;
};

}  // namespace snode::test_util
