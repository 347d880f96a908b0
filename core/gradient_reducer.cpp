#include "core/gradient_reducer.hpp"

#include <cstring>
#include <exception>

#include "core/errors.hpp"

namespace snode {
namespace {

// The message of an exception and the kind of error the other ranks rethrow it as.
std::string Describe(const std::exception_ptr& error, char& kind) {
  kind = 'N';
  try {
    std::rethrow_exception(error);
  } catch (const ConfigError& e) {
    kind = 'C';
    return e.what();
  } catch (const InputError& e) {
    kind = 'I';
    return e.what();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

[[noreturn]] void ThrowAs(char kind, const std::string& message) {
  if (kind == 'C') throw ConfigError(message);
  if (kind == 'I') throw InputError(message);
  throw NumericalError(message);
}

}  // namespace

double GradientReducer::Sum(double x) {
  Vector v(1);
  v[0] = x;
  SumInPlace(v);
  return v[0];
}

std::vector<std::string> GatherToAll(GradientReducer& reducer, const std::string& mine) {
  if (reducer.size() == 1) return {mine};
  // Rank 0 packs the texts as (8-byte length, bytes) for the one broadcast.
  std::string packed;
  for (const std::string& text : reducer.Gather(mine, 0)) {
    const std::uint64_t length = text.size();
    packed.append(reinterpret_cast<const char*>(&length), sizeof length);
    packed += text;
  }
  reducer.Broadcast(packed, 0);
  std::vector<std::string> texts;
  for (std::size_t at = 0; at < packed.size();) {
    std::uint64_t length = 0;
    Require(packed.size() - at >= sizeof length, "GatherToAll: truncated lengths");
    std::memcpy(&length, packed.data() + at, sizeof length);
    at += sizeof length;
    Require(packed.size() - at >= length, "GatherToAll: truncated text");
    texts.push_back(packed.substr(at, length));
    at += length;
  }
  Require(static_cast<int>(texts.size()) == reducer.size(),
          "GatherToAll: " + std::to_string(texts.size()) + " texts from " +
              std::to_string(reducer.size()) + " ranks");
  return texts;
}

GradientReducer& SerialReduction() {
  static SerialReducer serial;
  return serial;
}

std::uint64_t ParameterHash(const Vector& v) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis
  const auto* bytes = reinterpret_cast<const unsigned char*>(v.data());
  const std::size_t count = sizeof(double) * static_cast<std::size_t>(v.size());
  for (std::size_t i = 0; i < count; ++i) {
    hash ^= bytes[i];
    hash *= 1099511628211ull;  // FNV prime
  }
  return hash;
}

Vector SumOverRanks(GradientReducer& reducer, Index n, const std::function<Vector()>& work) {
  const int ranks = reducer.size();
  if (ranks == 1) return work();
  // The values, then one failure flag per rank: the sum tells every rank who failed.
  Vector packed = Vector::Zero(n + ranks);
  std::exception_ptr error;
  try {
    const Vector mine = work();
    Require(mine.size() == n, "SumOverRanks: this rank's share has " + std::to_string(mine.size()) +
                                  " values, not " + std::to_string(n));
    packed.head(n) = mine;
  } catch (...) {
    error = std::current_exception();
    packed[n + reducer.rank()] = 1;
  }
  reducer.SumInPlace(packed);
  int failed = -1;
  for (int r = 0; r < ranks && failed < 0; ++r) {
    if (packed[n + r] != 0) failed = r;
  }
  if (failed < 0) return packed.head(n);
  // The lowest failing rank tells the others what went wrong.
  char kind = 'N';
  std::string text;
  if (reducer.rank() == failed) {
    text = Describe(error, kind);
    text += kind;  // the kind travels as the last character
  }
  reducer.Broadcast(text, failed);
  if (reducer.rank() == failed) std::rethrow_exception(error);
  kind = text.empty() ? 'N' : text.back();
  if (!text.empty()) text.pop_back();
  ThrowAs(kind, "rank " + std::to_string(failed) + ": " + text);
}

}  // namespace snode
