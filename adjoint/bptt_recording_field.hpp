#pragma once
// The field wrapper of bptt's recording solve (adaptive explicit methods): forwards every call to
// the wrapped field and, while armed, keeps each F call's (t, z, f) and the field's saved forward
// pass (VectorField::FSaving). The replay then takes the slopes ARKODE already computed at its
// accepted stages instead of evaluating f a second time. The record only grows up to a byte
// limit; past it the calls are forwarded unrecorded and the replay evaluates the rest itself.
// Storage is kept between solves (Clear() keeps capacity). Not thread-safe.

#include <cstddef>
#include <vector>

#include "core/forwarding_field.hpp"

namespace snode {
namespace detail {

class RecordingField final : public ForwardingField {
 public:
  // Wraps `inner` (state size n), drops any previous record and arms the recording.
  void Bind(VectorField* inner, Index n, double max_bytes);
  void Disarm() { armed_ = false; }
  // Drops the records (capacity kept): the replay then evaluates f itself.
  void Clear();

  // When the recording solve evaluated f at time t and state y (to round-off: the replay forms
  // the stage states as ERKStep does, but from the recorded step times), copies its state into y
  // and its slope into k and returns the record's index; −1 when none matches. Records are
  // searched in call order from the last one taken; stages of rejected attempts have other times
  // and are passed over.
  int Take(double t, double h, double* y, double* k);
  // What the record holds: per call t, z, f and the saved forward pass.
  double Bytes() const {
    return static_cast<double>(times_.size() + values_.size() + saved_used_) * sizeof(double);
  }
  // The field's saved forward pass of record `entry` (VectorField::FSaving), or null.
  const double* Saved(int entry) const {
    if (entry < 0 || save_size_ == 0) return nullptr;
    return saved_.data() + static_cast<std::size_t>(entry) * static_cast<std::size_t>(save_size_);
  }

  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;

 private:
  Index n_ = 0;
  double max_bytes_ = 0.0;
  bool armed_ = false;
  std::vector<double> times_;
  std::vector<double> values_;  // per call: z (n) then f (n)
  std::vector<double> saved_;   // per call: the field's saved forward pass (save_size_)
  std::size_t saved_used_ = 0;
  Index save_size_ = 0;
  std::size_t cursor_ = 0;
};

}  // namespace detail
}  // namespace snode
