#pragma once
// Text form of a std::mt19937_64's state, as its standard stream operators write and read it, so
// a checkpoint can hold a shuffling generator and a resumed run continues the very same draws.

#include <random>
#include <string>

namespace snode {

// The generator's full state as text (std::mt19937_64::operator<<).
std::string RngText(const std::mt19937_64& rng);

// The generator RngText() wrote. Throws InputError "checkpoint '<source>': unreadable RNG state"
// when the text is not such a state; source names the file (or place) the text came from.
std::mt19937_64 RngFromText(const std::string& text, const std::string& source);

}  // namespace snode
