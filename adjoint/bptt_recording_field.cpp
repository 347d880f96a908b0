#include "adjoint/bptt_recording_field.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace snode {
namespace detail {

void RecordingField::Bind(VectorField* inner, Index n, double max_bytes) {
  ForwardingField::Bind(inner);
  n_ = n;
  save_size_ = inner->ForwardSaveSize();
  max_bytes_ = max_bytes;
  Clear();
  armed_ = true;
}

void RecordingField::Clear() {
  times_.clear();
  values_.clear();
  saved_used_ = 0;
  cursor_ = 0;
}

int RecordingField::Take(double t, double h, double* y, double* k) {
  constexpr double kUnitRoundoff = std::numeric_limits<double>::epsilon();
  const double t_tolerance = 64.0 * kUnitRoundoff * std::max(std::abs(t), std::abs(h));
  const std::size_t un = static_cast<std::size_t>(n_);
  for (std::size_t e = cursor_; e < times_.size(); ++e) {
    if (std::abs(times_[e] - t) > t_tolerance) continue;
    const double* recorded_z = values_.data() + 2 * e * un;
    double scale = 0.0, difference = 0.0;
    for (std::size_t i = 0; i < un; ++i) {
      scale = std::max(scale, std::abs(y[i]));
      difference = std::max(difference, std::abs(y[i] - recorded_z[i]));
    }
    if (difference > 1e-13 * std::max(scale, 1e-300)) continue;
    std::copy(recorded_z, recorded_z + un, y);
    std::copy(recorded_z + un, recorded_z + 2 * un, k);
    cursor_ = e + 1;
    return static_cast<int>(e);
  }
  return -1;
}

void RecordingField::F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  const std::size_t save = static_cast<std::size_t>(save_size_);
  const double next_bytes =
      static_cast<double>(values_.size() + saved_used_ + 2 * static_cast<std::size_t>(n_) + save) *
      sizeof(double);
  if (next_bytes > max_bytes_) armed_ = false;  // the replay evaluates the rest itself
  if (!armed_ || z.size() != n_) {
    inner()->F(t, z, theta, out);
    return;
  }
  if (save > 0) {
    // saved_ only grows (no zero-filling once it is large enough); saved_used_ is its extent.
    if (saved_.size() < saved_used_ + save) saved_.resize(saved_used_ + save);
    inner()->FSaving(t, z, theta, out, saved_.data() + saved_used_);
    saved_used_ += save;
  } else {
    inner()->F(t, z, theta, out);
  }
  times_.push_back(t);
  values_.insert(values_.end(), z.data(), z.data() + n_);
  values_.insert(values_.end(), out.data(), out.data() + n_);
}

}  // namespace detail
}  // namespace snode
