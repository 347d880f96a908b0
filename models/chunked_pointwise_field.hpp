#pragma once
// ChunkedPointwiseField: a batched pointwise field over `points` points (species values each,
// Jacobian block-diagonal over the points) evaluated chunk by chunk, each chunk by its own
// field for a batch of at most chunk_points points.
//
// Why: a network applied at 10⁵ grid points in one batch streams every layer's activations
// (16 × 10⁵ doubles, 13 MB each) through memory once per layer; in chunks of ~10³ points each
// chunk's passes through all layers stay in cache (the reaction–diffusion gradient at N = 10⁵:
// docs/performance-scaling.md, "Reaction–diffusion at scale"). Results are those of the
// unchunked field up to the rounding of the parameter products' summation order.
//
// make_chunk(b) must return the pointwise field for a batch of b points (state size b·species,
// the same parameters θ for every b). Saved forward passes (FSaving) are the chunks' back to
// back. Clone() builds new chunk fields from the same factory. ConfigError for points < 1,
// species < 1, chunk_points < 1, a null chunk field or one whose sizes disagree.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/vector_field.hpp"

namespace snode {

class ChunkedPointwiseField final : public VectorField {
 public:
  using ChunkFactory = std::function<std::unique_ptr<VectorField>(Index points)>;

  ChunkedPointwiseField(ChunkFactory make_chunk, Index points, Index species, Index chunk_points);

  std::string name() const override;
  Index state_size() const override { return points_ * species_; }
  Index num_params() const override { return params_; }
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
  // block = species: each chunk's own JacobianBlocks; other blocks: the default comb JVPs.
  void JacobianBlocks(double t, ConstVectorRef z, ConstVectorRef theta, Index block,
                      double* blocks) override;
  bool IsAutonomous() const override { return full_->IsAutonomous(); }
  void TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  Index ForwardSaveSize() const override { return save_size_; }
  void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
               double* saved) override;
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                ConstVectorRef a, VectorRef a_state, VectorRef grad) override;
  std::unique_ptr<VectorField> Clone() const override;

  Index chunks() const { return static_cast<Index>(chunks_.size()); }

  // When set, each chunk's θ-product (VjpParams, VjpParamsSum, Vjp, VjpSaved) is computed into a
  // zeroed vector and handed to sink in chunk order instead of being added to grad, which is
  // left as it is: for a caller that adds them itself (DistributedGridField, reproducibly over
  // ranks). Not copied by Clone().
  using ChunkParamsSink = std::function<void(ConstVectorRef chunk_grad)>;
  void SetChunkParamsSink(ChunkParamsSink sink) { sink_ = std::move(sink); }

 private:
  struct Chunk {
    Index offset;       // first state index
    Index size;         // state values
    Index save_offset;  // first saved double
    VectorField* field;
  };
  // f(chunk, offset, size) for every chunk.
  template <class Body>
  void ForEachChunk(Body&& body) const {
    for (const Chunk& chunk : chunks_) body(chunk);
  }
  // product(g) adds one chunk's θ-product to g: grad itself, or (with a sink) a zeroed scratch
  // vector that then goes to the sink.
  template <class Product>
  void ChunkParams(VectorRef grad, Product&& product) {
    if (!sink_) {
      product(grad);
      return;
    }
    params_scratch_.setZero(params_);
    product(VectorRef(params_scratch_));
    sink_(params_scratch_);
  }

  ChunkFactory make_chunk_;
  Index points_, species_, chunk_points_;
  std::unique_ptr<VectorField> full_;  // batch chunk_points (or points when fewer)
  std::unique_ptr<VectorField> rest_;  // the last, shorter chunk (null when none)
  std::vector<Chunk> chunks_;
  Index params_ = 0;
  Index save_size_ = 0;
  ChunkParamsSink sink_;
  Vector params_scratch_;
};

}  // namespace snode
