#pragma once
// The snode exception hierarchy. Library code throws these; apps catch snode::Error,
// print what() on one line and exit non-zero.

#include <stdexcept>
#include <string>
#include <type_traits>

namespace snode {

// Base of every error snode throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Bad options, flags, unknown or incompatible plug-in names, wrong sizes passed to an API.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message) : Error(message) {}
};

// Bad data, model or checkpoint files.
class InputError : public Error {
 public:
  explicit InputError(const std::string& message) : Error(message) {}
};

// NaN/Inf or another numerical breakdown; the message says where it appeared.
class NumericalError : public Error {
 public:
  explicit NumericalError(const std::string& message) : Error(message) {}
};

// A SUNDIALS call returned a failure flag. Carries the call, the flag number and its name.
class SundialsError : public Error {
 public:
  // call: the SUNDIALS function, e.g. "CVode"; flag/flag_name: its return code;
  // detail: where and what to try (may be empty).
  SundialsError(std::string call, int flag, std::string flag_name, const std::string& detail = "");

  const std::string& call() const { return call_; }
  int flag() const { return flag_; }
  const std::string& flag_name() const { return flag_name_; }

 private:
  std::string call_;
  int flag_;
  std::string flag_name_;
};

// Throws ConfigError(message) when condition is false. For argument checks that must stay
// active in Release builds (assert() is for internal invariants only).
inline void Require(bool condition, const std::string& message) {
  if (!condition) throw ConfigError(message);
}
// The same for a literal message: no std::string is built unless the check fails.
inline void Require(bool condition, const char* message) {
  if (!condition) throw ConfigError(message);
}
// The same with the message built by make_message() only when the check fails, for checks run on
// every solve: Require(ok, [&] { return "x = " + std::to_string(x); }). (An eagerly built message
// with std::to_string costs ~1 µs, which on a small problem is more than the solver's own work.)
template <typename MakeMessage,
          typename = std::enable_if_t<std::is_invocable_r_v<std::string, MakeMessage&>>>
void Require(bool condition, MakeMessage&& make_message) {
  if (!condition) throw ConfigError(make_message());
}

}  // namespace snode
