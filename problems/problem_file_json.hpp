#pragma once
// Checked access to the JSON of a problem file (problems/problem_file.hpp): every failure is an
// InputError "<path>: <JSON pointer>: <message>", so a user can find the place in the file.

#include <cstddef>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

namespace snode::problems {

using Json = nlohmann::json;

// "<parent>/<key>" with '~' and '/' escaped as RFC 6901 says.
std::string JsonPointer(const std::string& parent, const std::string& key);
std::string JsonPointer(const std::string& parent, std::size_t index);

// A number that may carry the stiffness parameter: {"lambda": c} means c·λ.
struct Coefficient {
  double value = 0.0;
  bool lambda = false;
  double At(double lambda_value) const { return lambda ? value * lambda_value : value; }
};

class JsonReader {
 public:
  explicit JsonReader(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  // The whole file parsed: InputError for a missing file, a directory, an unreadable or
  // oversized file (max_bytes), an empty file, text that is not JSON (with line and column) or
  // a top level that is not an object.
  Json ReadFile(long long max_bytes) const;

  [[noreturn]] void Fail(const std::string& pointer, const std::string& message) const;

  // Members of `object` must be among `allowed` (a misspelt key is an error, not ignored).
  void CheckKeys(const Json& object, const std::string& pointer,
                 std::initializer_list<const char*> allowed) const;
  // object[key], which must exist.
  const Json& Required(const Json& object, const std::string& pointer, const char* key) const;
  // object[key] or nullptr.
  static const Json* Optional(const Json& object, const char* key);

  const Json& Object(const Json& value, const std::string& pointer) const;
  // An array of 1 … max_size elements.
  const Json& Array(const Json& value, const std::string& pointer, std::size_t max_size) const;
  std::string String(const Json& value, const std::string& pointer) const;
  // A finite number.
  double Number(const Json& value, const std::string& pointer) const;
  // An integer in [min, max] (1.0 counts as 1; 1.5 does not).
  int Integer(const Json& value, const std::string& pointer, int min, int max) const;
  // A number, or {"lambda": c} when allow_lambda (otherwise that form is an error naming the
  // place). Records the first place λ is used.
  Coefficient Coef(const Json& value, const std::string& pointer, bool allow_lambda) const;

  bool uses_lambda() const { return !first_lambda_.empty(); }
  const std::string& first_lambda() const { return first_lambda_; }

 private:
  std::string path_;
  mutable std::string first_lambda_;  // pointer of the first {"lambda": c}
};

}  // namespace snode::problems
