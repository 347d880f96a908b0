#pragma once
// Helpers for the unit tests of an app's command-line reading (apps/cli): parse an argument list
// with the app's options, as StartCommandLine does, without running the app.

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "apps/common/app_common.hpp"

namespace test_util {

// The flags of `app` given `args` (without the program name).
inline snode::app::Flags ParseArgs(const snode::app::AppCommandLine& app,
                                   const std::vector<std::string>& args) {
  boost::program_options::options_description desc(app.name + " options");
  app.add_options(desc);
  std::vector<const char*> argv = {app.name.c_str()};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return snode::app::ParseCommandLine(static_cast<int>(argv.size()), argv.data(), desc);
}

// The message of the snode::Error (or options error) that reading args throws; "" when none.
inline std::string ReadError(const snode::app::AppCommandLine& app,
                             const std::vector<std::string>& args) {
  try {
    app.read(ParseArgs(app, args));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Expects reading args to fail with a message holding `needle`.
inline void ExpectReadError(const snode::app::AppCommandLine& app,
                            const std::vector<std::string>& args, const std::string& needle) {
  std::string joined;
  for (const std::string& arg : args) joined += arg + " ";
  const std::string message = ReadError(app, args);
  EXPECT_NE(message, "") << joined << ": no error";
  EXPECT_NE(message.find(needle), std::string::npos) << joined << ": " << message;
}

}  // namespace test_util
