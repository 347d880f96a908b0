#pragma once
// The step sequence of a fixed-step solve (IntegratorOptions::fixed_step = h > 0), shared by every
// fixed-step integrator (the SUNDIALS steppers' output loop, the step-level methods, epi2) and by
// code that replays it (bptt), so all of them take the same steps.
//
// Each output interval [a, b] (a = t0 or the previous output time) is covered by
// n = FixedStepCount(a, b, h) steps: n − 1 steps of h, each starting where the previous one ended
// (t ← t + h), and a last step that ends exactly on b. n is decided from a, b and h alone, before
// any step, so round-off in t + h (which grows with the number of steps) never adds a step: an
// interval that is a whole number of steps up to round-off takes exactly that many, and its last
// step is h up to round-off. The remainder of an interval counts as round-off, and is absorbed
// into the last step, when it is at most FixedStepRoundoff(a, b) (1e-12 of the interval plus a few
// ulps of its end points); a larger remainder is a short last step of its own.

#include <string>
#include <vector>

namespace snode {

// The largest remainder of [a, b] treated as round-off: 1e-12·(b − a) + 16·ε·(|a| + |b|).
double FixedStepRoundoff(double a, double b);

// The number of fixed steps of size h > 0 covering [a, b] (b > a): max(1, ⌈(b − a − r)/h⌉) with
// r = FixedStepRoundoff(a, b). A double so that an absurd count (a tiny h) cannot overflow.
double FixedStepCount(double a, double b, double h);

// The end times of the fixed steps from t0 through every output time (strictly increasing, the
// first ≥ t0), appended to `times` in order; every output time is among them (exactly).
void AppendFixedStepTimes(double t0, const std::vector<double>& output_times, double h,
                          std::vector<double>& times);

// "more than max_steps=M steps before t=b: output interval [a, b] needs N steps of fixed_step h;
// raise max_steps or enlarge fixed_step", for the *_TOO_MUCH_WORK error an integrator throws at
// the start of such an interval.
std::string FixedStepTooMuchWork(double a, double b, double h, long max_steps);

}  // namespace snode
