#include "io/rng_text.hpp"

#include <sstream>

#include "core/errors.hpp"

namespace snode {

std::string RngText(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

std::mt19937_64 RngFromText(const std::string& text, const std::string& source) {
  std::mt19937_64 rng;
  std::istringstream in(text);
  in >> rng;
  if (!in) throw InputError("checkpoint '" + source + "': unreadable RNG state");
  return rng;
}

}  // namespace snode
