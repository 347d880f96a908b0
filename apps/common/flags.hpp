#pragma once
// Flags: the parsed command line and --config file of an app, with a record of which flags the
// app read. It is the one place behind three promises every app makes:
//
//  * A flag the run does not use is an error, not silently ignored. An app reads a flag
//  (operator[])
//    only where its value enters the run's configuration, so a flag given explicitly (command line
//    or config file) but never read does not apply to what the app was asked to do;
//    RejectUnusedFlags() turns it into one ConfigError naming the flag and the app's context
//    ("--lr does not apply to --mode discover --optimizer lbfgs").
//  * Every number is range-checked in the user's units (Number(), PositiveCount()).
//  * Every input path is a regular file (RequireRegularFile()).
//
// count() and Given() do not mark a flag read: asking whether a flag is there is not using it.

#include <boost/program_options.hpp>
#include <set>
#include <string>
#include <vector>

namespace snode::app {

namespace po = boost::program_options;

class Flags {
 public:
  Flags() = default;
  explicit Flags(po::variables_map vm) : vm_(std::move(vm)) {}

  // The flag's value (given or its default); marks it read.
  const po::variable_value& operator[](const std::string& name) const;
  // 1 when the flag has a value (given or a default), else 0. Does not mark it read.
  std::size_t count(const std::string& name) const { return vm_.count(name); }
  // True when the flag was given explicitly (command line or config file). Does not mark it.
  bool Given(const std::string& name) const;
  // Marks a flag read without reading it (a flag honoured by its presence alone).
  void MarkRead(const std::string& name) const { read_.insert(name); }

  // The explicitly given flags, sorted.
  std::vector<std::string> GivenNames() const;
  // The explicitly given flags never read, sorted.
  std::vector<std::string> UnreadNames() const;

  const po::variables_map& map() const { return vm_; }

 private:
  po::variables_map vm_;
  mutable std::set<std::string> read_;
};

// ConfigError for the first explicitly given flag that was never read:
// "--<flag> does not apply to <context>; leave it out". context describes what the app was asked
// to do, e.g. "--mode discover --optimizer lbfgs" or "exponential_decay".
void RejectUnusedFlags(const Flags& flags, const std::string& context);

// A double flag within [low, high], else ConfigError "--<name> must be between <low> and <high>
// <unit>, got <value>"; values a double cannot hold read as 0 or inf, which the message explains.
// Marks the flag read.
double Number(const Flags& flags, const std::string& name, double low, double high,
              const std::string& unit = "");

// " (a number below 2.2e-308 reads as 0)" for 0, else "": why a value typed as 1e-400 is reported
// as 0. (A number beyond 1.8e308 is refused by the parser: "the argument ('1e400') for option
// '--lr' is invalid".)
std::string UnrepresentableNote(double value);

// An integer flag within [low, high], else ConfigError "--<name> must be between <low> and <high>
// <unit>, got <value>". Marks the flag read.
long Count(const Flags& flags, const std::string& name, long low, long high,
           const std::string& unit = "");

// InputError unless path names an existing regular file (or a symlink to one): "<flag> '<path>':
// no such file" / "is a directory, not a file" / "is not a regular file". flag is e.g. "--weights".
void RequireRegularFile(const std::string& path, const std::string& flag);

}  // namespace snode::app
