#include "core/settings.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/errors.hpp"

namespace snode {

namespace {

std::string Trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::string Joined(const std::vector<std::string>& words) {
  std::string joined;
  for (const std::string& word : words) joined += (joined.empty() ? "" : ", ") + word;
  return joined;
}

}  // namespace

void Settings::Set(const std::string& name, const std::string& value) {
  Require(!Trim(name).empty(), "a setting needs a name (got '=" + value + "')");
  values_[Trim(name)] = Trim(value);
}

void Settings::SetFromText(const std::string& name_equals_value) {
  const auto equals = name_equals_value.find('=');
  Require(equals != std::string::npos,
          "a setting is written name=value, got '" + name_equals_value + "'");
  Set(name_equals_value.substr(0, equals), name_equals_value.substr(equals + 1));
}

std::optional<std::string> Settings::Get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

SettingsReader::SettingsReader(const Settings& settings, std::string owner)
    : settings_(settings), owner_(std::move(owner)) {}

std::optional<std::string> SettingsReader::Take(const std::string& name) {
  read_[name] = true;
  return settings_.Get(name);
}

void SettingsReader::Read(const std::string& name, double& target) {
  const std::optional<std::string> text = Take(name);
  if (!text) return;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text->c_str(), &end);
  if (text->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(value)) {
    ThrowBadValue(name, *text, "a finite number");
  }
  target = value;
}

void SettingsReader::Read(const std::string& name, long& target) {
  const std::optional<std::string> text = Take(name);
  if (!text) return;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno == ERANGE) ThrowBadValue(name, *text, "an integer");
  target = value;
}

void SettingsReader::Read(const std::string& name, int& target) {
  long value = target;
  Read(name, value);
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    ThrowBadValue(name, *settings_.Get(name), "an integer of int range");
  }
  target = static_cast<int>(value);
}

void SettingsReader::Read(const std::string& name, std::string& target) {
  const std::optional<std::string> text = Take(name);
  if (text) target = *text;
}

void SettingsReader::Read(const std::string& name, bool& target) {
  ReadChoice(name, target,
             {{"on", true},
              {"off", false},
              {"true", true},
              {"false", false},
              {"yes", true},
              {"no", false},
              {"1", true},
              {"0", false}});
}

void SettingsReader::Finish() const {
  std::vector<std::string> unknown;
  for (const auto& entry : settings_.values()) {
    if (read_.count(entry.first) == 0) unknown.push_back(entry.first);
  }
  if (unknown.empty()) return;
  std::vector<std::string> known;
  for (const auto& entry : read_) known.push_back(entry.first);
  throw ConfigError(owner_ + " has no setting " + Joined(unknown) +
                    (known.empty() ? " (it takes none)" : "; its settings: " + Joined(known)));
}

void SettingsReader::ThrowBadValue(const std::string& name, const std::string& text,
                                   const std::string& expected) const {
  throw ConfigError(owner_ + " setting " + name + " must be " + expected + ", got '" + text + "'");
}

void SettingsReader::ThrowBadChoice(const std::string& name, const std::string& text,
                                    const std::vector<std::string>& words) const {
  throw ConfigError(owner_ + " setting " + name + " must be one of " + Joined(words) + ", got '" +
                    text + "'");
}

}  // namespace snode
