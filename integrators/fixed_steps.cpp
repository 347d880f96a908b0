#include "integrators/fixed_steps.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "integrators/integrator_support.hpp"

namespace snode {

double FixedStepRoundoff(double a, double b) {
  const double eps = std::numeric_limits<double>::epsilon();
  return 1e-12 * (b - a) + 16.0 * eps * (std::abs(a) + std::abs(b));
}

double FixedStepCount(double a, double b, double h) {
  return std::max(1.0, std::ceil((b - a - FixedStepRoundoff(a, b)) / h));
}

void AppendFixedStepTimes(double t0, const std::vector<double>& output_times, double h,
                          std::vector<double>& times) {
  double a = t0;
  for (const double b : output_times) {
    if (b <= a) continue;  // a first output time at t0
    const double n = FixedStepCount(a, b, h);
    double t = a;
    for (double k = 1; k < n; ++k) {
      t += h;
      times.push_back(t);
    }
    times.push_back(b);
    a = b;
  }
}

std::string FixedStepTooMuchWork(double a, double b, double h, long max_steps) {
  const double n = FixedStepCount(a, b, h);
  const std::string count =
      n < 1e15 ? std::to_string(static_cast<long long>(n)) : detail::FormatTime(n);
  return "more than max_steps=" + std::to_string(max_steps) +
         " steps before t=" + detail::FormatTime(b) + ": output interval [" +
         detail::FormatTime(a) + ", " + detail::FormatTime(b) + "] needs " + count +
         " steps of fixed_step " + detail::FormatTime(h) +
         "; raise max_steps or enlarge fixed_step";
}

}  // namespace snode
