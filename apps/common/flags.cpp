#include "apps/common/flags.hpp"

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "core/errors.hpp"

namespace snode::app {

namespace {

// Numbers as a user would type them: 1e-06 → 1e-06, 10 → 10, 0.05 → 0.05.
std::string Shortest(double value) {
  std::ostringstream text;
  text.precision(6);
  text << value;
  return text.str();
}

std::string RangeText(const std::string& low, const std::string& high, const std::string& unit) {
  return "between " + low + " and " + high + (unit.empty() ? "" : " " + unit);
}

}  // namespace

const po::variable_value& Flags::operator[](const std::string& name) const {
  read_.insert(name);
  return vm_[name];
}

bool Flags::Given(const std::string& name) const {
  const auto found = vm_.find(name);
  return found != vm_.end() && !found->second.defaulted();
}

std::vector<std::string> Flags::GivenNames() const {
  std::vector<std::string> names;
  for (const auto& [name, value] : vm_) {
    if (!value.defaulted()) names.push_back(name);
  }
  return names;  // std::map order: sorted
}

std::vector<std::string> Flags::UnreadNames() const {
  std::vector<std::string> names;
  for (const std::string& name : GivenNames()) {
    if (read_.count(name) == 0) names.push_back(name);
  }
  return names;
}

void RejectUnusedFlags(const Flags& flags, const std::string& context) {
  const std::vector<std::string> unread = flags.UnreadNames();
  if (unread.empty()) return;
  std::string others;
  for (std::size_t i = 1; i < unread.size(); ++i) others += (i > 1 ? ", --" : "--") + unread[i];
  throw ConfigError("--" + unread.front() + " does not apply to " + context + "; leave it out" +
                    (others.empty() ? "" : " (the same holds for " + others + ")"));
}

std::string UnrepresentableNote(double value) {
  if (value == 0.0) {
    return " (a number below 2.2e-308 reads as 0)";
  }
  return "";
}

double Number(const Flags& flags, const std::string& name, double low, double high,
              const std::string& unit) {
  const double value = flags[name].as<double>();
  if (value >= low && value <= high) return value;
  const std::string why = UnrepresentableNote(value);
  throw ConfigError("--" + name + " must be " + RangeText(Shortest(low), Shortest(high), unit) +
                    ", got " + Shortest(value) + why);
}

long Count(const Flags& flags, const std::string& name, long low, long high,
           const std::string& unit) {
  const po::variable_value& raw = flags[name];
  const long value = raw.value().type() == typeid(int) ? raw.as<int>() : raw.as<long>();
  if (value >= low && value <= high) return value;
  throw ConfigError("--" + name + " must be " +
                    RangeText(std::to_string(low), std::to_string(high), unit) + ", got " +
                    std::to_string(value));
}

void RequireRegularFile(const std::string& path, const std::string& flag) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) throw InputError(flag + " '" + path + "': no such file");
  if (fs::is_directory(status)) {
    throw InputError(flag + " '" + path + "': is a directory, not a file");
  }
  if (!fs::is_regular_file(status)) {
    throw InputError(flag + " '" + path + "': is not a regular file");
  }
}

}  // namespace snode::app
