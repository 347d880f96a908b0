#include "core/errors.hpp"

#include <utility>

namespace snode {

namespace {
std::string FormatSundialsMessage(const std::string& call, int flag, const std::string& flag_name,
                                  const std::string& detail) {
  std::string message = call + " failed with " + flag_name + " (" + std::to_string(flag) + ")";
  if (!detail.empty()) message += " " + detail;
  return message;
}
}  // namespace

SundialsError::SundialsError(std::string call, int flag, std::string flag_name,
                             const std::string& detail)
    : Error(FormatSundialsMessage(call, flag, flag_name, detail)),
      call_(std::move(call)),
      flag_(flag),
      flag_name_(std::move(flag_name)) {}

}  // namespace snode
