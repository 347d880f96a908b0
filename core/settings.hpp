#pragma once
// Settings: a method's own options as `name = value` text, the form in which command lines
// (`--gradient-option quadrature=gauss`), config files and plug-ins reach a registered method.
// Each method has a typed options struct and reads it from Settings with a SettingsReader,
// which converts and checks every value and rejects a name the method does not know, so a
// misspelt or foreign setting is a ConfigError instead of being ignored.
//
//   CvodesAdjointOptions o;                      // the defaults
//   SettingsReader reader(settings, "cvodes_adjoint");
//   reader.Read("checkpoint_interval", o.checkpoint_interval);           // long
//   reader.ReadChoice("quadrature", o.quadrature, {{"auto", Q::kAuto}, {"gauss", Q::kGauss}});
//   reader.Finish();                             // ConfigError for any name not read

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace snode {

class Settings {
 public:
  Settings() = default;
  Settings(std::initializer_list<std::pair<const std::string, std::string>> values)
      : values_(values) {}

  // Sets (or replaces) one value. Throws ConfigError for an empty name.
  void Set(const std::string& name, const std::string& value);
  // Parses "name=value" (spaces around either trimmed). Throws ConfigError when malformed.
  void SetFromText(const std::string& name_equals_value);
  std::optional<std::string> Get(const std::string& name) const;
  bool empty() const { return values_.empty(); }
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// Reads typed values out of Settings for one owner (a method's name, used in messages).
class SettingsReader {
 public:
  SettingsReader(const Settings& settings, std::string owner);

  // Leaves target unchanged when the name is absent. Throws ConfigError naming owner, name and
  // the text when the value does not convert (or is not finite, for doubles).
  void Read(const std::string& name, double& target);
  void Read(const std::string& name, long& target);
  void Read(const std::string& name, int& target);
  void Read(const std::string& name, std::string& target);
  // on|off, true|false, yes|no, 1|0.
  void Read(const std::string& name, bool& target);
  // One of the listed words, mapped to its value; the error lists the choices.
  template <class Enum>
  void ReadChoice(const std::string& name, Enum& target,
                  const std::vector<std::pair<std::string, Enum>>& choices) {
    const std::optional<std::string> text = Take(name);
    if (!text) return;
    for (const auto& [word, value] : choices) {
      if (word == *text) {
        target = value;
        return;
      }
    }
    std::vector<std::string> words;
    for (const auto& choice : choices) words.push_back(choice.first);
    ThrowBadChoice(name, *text, words);
  }
  // Throws ConfigError listing every name that no Read call asked for.
  void Finish() const;

 private:
  std::optional<std::string> Take(const std::string& name);
  [[noreturn]] void ThrowBadValue(const std::string& name, const std::string& text,
                                  const std::string& expected) const;
  [[noreturn]] void ThrowBadChoice(const std::string& name, const std::string& text,
                                   const std::vector<std::string>& words) const;

  const Settings& settings_;
  std::string owner_;
  std::map<std::string, bool> read_;
};

}  // namespace snode
