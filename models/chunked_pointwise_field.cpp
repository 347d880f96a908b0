#include "models/chunked_pointwise_field.hpp"

#include <algorithm>
#include <utility>

#include "core/errors.hpp"

namespace snode {
namespace {

std::unique_ptr<VectorField> MakeChunk(const ChunkedPointwiseField::ChunkFactory& make,
                                       Index points, Index species) {
  std::unique_ptr<VectorField> field = make(points);
  Require(field != nullptr, "ChunkedPointwiseField: the chunk factory returned no field");
  Require(field->state_size() == points * species,
          "ChunkedPointwiseField: the chunk field for " + std::to_string(points) +
              " points has state size " + std::to_string(field->state_size()) + ", expected " +
              std::to_string(points * species));
  return field;
}

}  // namespace

ChunkedPointwiseField::ChunkedPointwiseField(ChunkFactory make_chunk, Index points, Index species,
                                             Index chunk_points)
    : make_chunk_(std::move(make_chunk)),
      points_(points),
      species_(species),
      chunk_points_(chunk_points) {
  Require(points >= 1 && species >= 1 && chunk_points >= 1,
          "ChunkedPointwiseField: points, species and chunk_points must be >= 1, got " +
              std::to_string(points) + ", " + std::to_string(species) + ", " +
              std::to_string(chunk_points));
  Require(static_cast<bool>(make_chunk_), "ChunkedPointwiseField: no chunk factory");
  const Index full_points = std::min(points, chunk_points);
  full_ = MakeChunk(make_chunk_, full_points, species);
  const Index rest_points = points % full_points;
  if (rest_points > 0) {
    rest_ = MakeChunk(make_chunk_, rest_points, species);
    Require(rest_->num_params() == full_->num_params(),
            "ChunkedPointwiseField: chunk fields of different sizes have different parameters");
  }
  params_ = full_->num_params();
  for (Index first = 0; first < points; first += full_points) {
    VectorField* field = first + full_points <= points ? full_.get() : rest_.get();
    chunks_.push_back({first * species, field->state_size(), save_size_, field});
    save_size_ += field->ForwardSaveSize();
  }
}

std::string ChunkedPointwiseField::name() const {
  return full_->name() + " over " + std::to_string(points_) + " points in chunks of " +
         std::to_string(std::min(points_, chunk_points_));
}

void ChunkedPointwiseField::F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("F", "z", z.size());
  CheckState("F", "out", out.size());
  ForEachChunk([&](const Chunk& c) {
    c.field->F(t, z.segment(c.offset, c.size), theta, out.segment(c.offset, c.size));
  });
}

void ChunkedPointwiseField::Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                                VectorRef out) {
  CheckState("Jvp", "z", z.size());
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  ForEachChunk([&](const Chunk& c) {
    c.field->Jvp(t, z.segment(c.offset, c.size), theta, v.segment(c.offset, c.size),
                 out.segment(c.offset, c.size));
  });
}

void ChunkedPointwiseField::JacobianBlocks(double t, ConstVectorRef z, ConstVectorRef theta,
                                           Index block, double* blocks) {
  if (block != species_) {
    VectorField::JacobianBlocks(t, z, theta, block, blocks);
    return;
  }
  CheckState("JacobianBlocks", "z", z.size());
  CheckParams("JacobianBlocks", theta.size());
  ForEachChunk([&](const Chunk& c) {
    c.field->JacobianBlocks(t, z.segment(c.offset, c.size), theta, block,
                            blocks + c.offset * block);
  });
}

void ChunkedPointwiseField::VjpState(double t, ConstVectorRef z, ConstVectorRef theta,
                                     ConstVectorRef a, VectorRef out) {
  CheckState("VjpState", "z", z.size());
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  ForEachChunk([&](const Chunk& c) {
    c.field->VjpState(t, z.segment(c.offset, c.size), theta, a.segment(c.offset, c.size),
                      out.segment(c.offset, c.size));
  });
}

void ChunkedPointwiseField::VjpParams(double t, ConstVectorRef z, ConstVectorRef theta,
                                      ConstVectorRef a, VectorRef grad) {
  CheckState("VjpParams", "z", z.size());
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams", grad.size());
  ForEachChunk([&](const Chunk& c) {
    ChunkParams(grad, [&](VectorRef g) {
      c.field->VjpParams(t, z.segment(c.offset, c.size), theta, a.segment(c.offset, c.size), g);
    });
  });
}

void ChunkedPointwiseField::VjpParamsSum(const double* times, ConstMatrixRef z,
                                         ConstVectorRef theta, ConstMatrixRef a, VectorRef grad) {
  CheckState("VjpParamsSum", "z", z.rows());
  CheckState("VjpParamsSum", "a", a.rows());
  CheckParams("VjpParamsSum", grad.size());
  ForEachChunk([&](const Chunk& c) {
    ChunkParams(grad, [&](VectorRef g) {
      c.field->VjpParamsSum(times, z.middleRows(c.offset, c.size), theta,
                            a.middleRows(c.offset, c.size), g);
    });
  });
}

void ChunkedPointwiseField::Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                                VectorRef a_state, VectorRef grad) {
  CheckState("Vjp", "z", z.size());
  CheckState("Vjp", "a", a.size());
  CheckState("Vjp", "a_state", a_state.size());
  CheckParams("Vjp", grad.size());
  ForEachChunk([&](const Chunk& c) {
    ChunkParams(grad, [&](VectorRef g) {
      c.field->Vjp(t, z.segment(c.offset, c.size), theta, a.segment(c.offset, c.size),
                   a_state.segment(c.offset, c.size), g);
    });
  });
}

void ChunkedPointwiseField::TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta,
                                           VectorRef out) {
  CheckState("TimeDerivative", "out", out.size());
  ForEachChunk([&](const Chunk& c) {
    c.field->TimeDerivative(t, z.segment(c.offset, c.size), theta, out.segment(c.offset, c.size));
  });
}

void ChunkedPointwiseField::FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
                                    double* saved) {
  CheckState("FSaving", "z", z.size());
  CheckState("FSaving", "out", out.size());
  ForEachChunk([&](const Chunk& c) {
    c.field->FSaving(t, z.segment(c.offset, c.size), theta, out.segment(c.offset, c.size),
                     saved + c.save_offset);
  });
}

void ChunkedPointwiseField::VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta,
                                     const double* saved, ConstVectorRef a, VectorRef a_state,
                                     VectorRef grad) {
  CheckState("VjpSaved", "z", z.size());
  CheckState("VjpSaved", "a", a.size());
  CheckState("VjpSaved", "a_state", a_state.size());
  ForEachChunk([&](const Chunk& c) {
    const auto product = [&](VectorRef g) {
      c.field->VjpSaved(t, z.segment(c.offset, c.size), theta, saved + c.save_offset,
                        a.segment(c.offset, c.size), a_state.segment(c.offset, c.size), g);
    };
    if (grad.size() == 0) {
      product(grad);  // the state product alone
    } else {
      ChunkParams(grad, product);
    }
  });
}

std::unique_ptr<VectorField> ChunkedPointwiseField::Clone() const {
  return std::make_unique<ChunkedPointwiseField>(make_chunk_, points_, species_, chunk_points_);
}

}  // namespace snode
