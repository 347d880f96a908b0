#pragma once
// A neural ODE on stiff data: the two-rate decay z' = diag(−1, −λ) z (problems/decay.hpp)
// from the four initial states (1, 1), (−1, 0.5), (0.5, −1), (−0.5, −0.5), observed at nine
// log-spaced times in [2e-3, 1]; the model is an MLP 2-16-2 (tanh) batched over the four
// trajectories (state of size 8: trajectory k is z[2k], z[2k+1]), the loss the mean squared
// error to the exact states.
// No exact gradient: the problem is for training.

#include <cstdint>

#include "problems/problem.hpp"

namespace snode::problems {

// name "stiff_neural", stiffness λ; ode.theta is the MLP's initial parameters for `seed`.
ProblemSetup MakeStiffNeural(double lambda, std::uint64_t seed);

}  // namespace snode::problems
