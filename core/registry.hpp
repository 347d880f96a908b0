#pragma once
// Registry<Base, Options>: an explicit table from a snake_case name to a factory
// std::unique_ptr<Base>(const Options&). Built-ins are added in one .cpp per plug-in kind;
// user code may Add() its own at run time and is then usable by name everywhere.

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.hpp"

namespace snode {

template <class Base, class Options>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(const Options&)>;

  // kind: what the entries are ("integrator", "gradient method"), used in error messages.
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Adds a factory. Throws ConfigError if the name is taken or not snake_case.
  void Add(const std::string& name, Factory factory) {
    Require(IsSnakeCase(name), kind_ + " name '" + name + "' must be lowercase snake_case");
    Require(factories_.count(name) == 0, kind_ + " '" + name + "' is already registered");
    Require(static_cast<bool>(factory), kind_ + " '" + name + "' needs a factory");
    factories_.emplace(name, std::move(factory));
  }

  // Creates the named entry. Throws ConfigError listing the known names when unknown.
  std::unique_ptr<Base> Create(const std::string& name, const Options& options) const {
    const auto it = factories_.find(name);
    if (it == factories_.end()) {
      throw ConfigError("unknown " + kind_ + " '" + name + "'; known: " + KnownNames());
    }
    return it->second(options);
  }

  bool Contains(const std::string& name) const { return factories_.count(name) != 0; }

  // Registered names, sorted.
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& entry : factories_) names.push_back(entry.first);
    return names;
  }

  // "a, b, c"
  std::string KnownNames() const {
    std::string joined;
    for (const auto& entry : factories_) joined += (joined.empty() ? "" : ", ") + entry.first;
    return joined;
  }

  const std::string& kind() const { return kind_; }

 private:
  static bool IsSnakeCase(const std::string& name) {
    if (name.empty() || !(name[0] >= 'a' && name[0] <= 'z')) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
  }

  std::string kind_;
  std::map<std::string, Factory> factories_;
};

}  // namespace snode
