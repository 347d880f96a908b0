#pragma once
// The observation intervals of a backward pass that integrates one interval at a time (internal
// to snode_adjoint): used when the backward integrator does not declare output jumps
// (IntegratorCapabilities::output_jumps), by backsolve_adjoint and by cvodes_adjoint's
// registry and exponential strategies. The jump at each observation is applied between two
// solves instead of by the solver.

#include <cstddef>
#include <vector>

namespace snode {

// From t_top down to t0 over the output times t_0 < … < t_N (t_top is t_N or where the forward
// pass really ended): for i = N−1, …, 0, −1 with t_low = t_i (t0 for i = −1) and t_high the
// previous t_low (t_top first), segment(t_high, t_low) when t_low < t_high, then, for i ≥ 0,
// jump(i) at t_i. segment returns false to stop the sweep (a failed solve).
template <class Segment, class Jump>
void SweepObservationIntervals(const std::vector<double>& times, double t0, double t_top,
                               Segment&& segment, Jump&& jump) {
  double t_high = t_top;
  for (std::size_t k = times.size(); k-- > 0;) {
    // k = i + 1: the interval below t_high ends at t_{k−1}, or at t0 for k = 0.
    const double t_low = k > 0 ? times[k - 1] : t0;
    if (t_low < t_high && !segment(t_high, t_low)) return;
    if (k > 0) jump(k - 1);
    t_high = t_low;
  }
}

}  // namespace snode
