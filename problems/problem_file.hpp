#pragma once
// Problems from a small JSON file: a mass-action reaction network or a linear system
// z' = A z + b, with its output times, a loss and a stiffness parameter λ that any coefficient
// may carry ({"lambda": c} means c·λ). The format is documented in docs/file-formats.md
// ("snode problem file"); examples are in examples/problems/.
//
//   auto definition = LoadProblemFile("examples/problems/robertson.json");
//   ProblemSetup setup = definition->Make(1e5);
//
//   RegisterProblemFile(ProblemRegistry(), path);  // → the file's "name", e.g. "robertson_network"
//
// reaction_network: θ = the rate constants in reaction order, z = the species amounts in species
//   order; positive_states; no exact gradient (a study computes a reference).
// linear: θ = vec(A), all n² entries column-major (LinearField's layout), z = the states; the
//   loss must be linear (weights only) and ProblemSetup::exact_gradient is filled by the matrix
//   exponential (problems/linear_system.hpp).
//
// Every malformed file is refused when it is loaded with an InputError
//   "<path>: <JSON pointer>: <what is wrong>"   (e.g. "net.json: /reactions/3/products: unknown
//   species 'D'"), or "<path>: line L, column C: not valid JSON (...)";
// Make(λ) throws ConfigError (with the problem's name and file) for λ below the file's minimum or
// a λ that makes a rate or a time invalid (a negative rate, an end time before t0).
// A definition is immutable: Make may run concurrently on several threads.

#include <memory>
#include <string>

#include "problems/problem_registry.hpp"

namespace snode::problems {

// Limits of the format; a file over them is refused with an InputError naming the limit.
inline constexpr long long kMaxProblemFileBytes = 16LL * 1024 * 1024;
inline constexpr int kMaxSpecies = 10000;        // species of a network
inline constexpr int kMaxReactions = 10000;      // reactions of a network
inline constexpr int kMaxStoichiometry = 100;    // one coefficient in a reaction
inline constexpr int kMaxLinearDimension = 200;  // states of a linear system (exact gradient)
inline constexpr int kMaxOutputTimes = 100000;   // output times

// Reads and checks the file; the definition keeps no reference to it.
std::unique_ptr<ProblemDefinition> LoadProblemFile(const std::string& path);

// Loads the file (now, so errors surface here) and adds it to `registry` under its "name";
// returns that name. ConfigError naming the file and the name when the name is taken.
std::string RegisterProblemFile(ProblemRegistryType& registry, const std::string& path);

}  // namespace snode::problems
