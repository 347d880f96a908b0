// Tests of core/settings.hpp: typed reads, defaults kept when absent, every bad value and every
// unknown name a ConfigError that names the owner and the setting.
#include "core/settings.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/errors.hpp"

namespace snode {
namespace {

enum class Mode { kAuto, kOn, kOff };

std::string MessageOf(const std::function<void()>& body) {
  try {
    body();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Settings, ReadsTypedValuesAndKeepsDefaultsForAbsentNames) {
  Settings settings;
  settings.SetFromText(" interval = 25 ");
  settings.Set("tolerance", "1e-3");
  settings.Set("seminorm", "off");
  settings.Set("mode", "on");
  long interval = 100;
  double tolerance = 1e-2, absent = 7.0;
  bool seminorm = true;
  Mode mode = Mode::kAuto;
  SettingsReader reader(settings, "method");
  reader.Read("interval", interval);
  reader.Read("tolerance", tolerance);
  reader.Read("seminorm", seminorm);
  reader.Read("absent", absent);
  reader.ReadChoice("mode", mode, {{"auto", Mode::kAuto}, {"on", Mode::kOn}, {"off", Mode::kOff}});
  reader.Finish();
  EXPECT_EQ(interval, 25);
  EXPECT_EQ(tolerance, 1e-3);
  EXPECT_FALSE(seminorm);
  EXPECT_EQ(absent, 7.0);
  EXPECT_EQ(mode, Mode::kOn);
}

TEST(Settings, BadValuesAreConfigErrorsNamingOwnerAndSetting) {
  const Settings settings{
      {"interval", "ten"}, {"tolerance", "nan"}, {"mode", "sometimes"}, {"flag", "maybe"}};
  long interval = 0;
  double tolerance = 0;
  bool flag = false;
  Mode mode = Mode::kAuto;
  SettingsReader reader(settings, "cvodes_adjoint");
  const std::string interval_message = MessageOf([&] { reader.Read("interval", interval); });
  EXPECT_NE(interval_message.find("cvodes_adjoint setting interval must be an integer, got 'ten'"),
            std::string::npos)
      << interval_message;
  EXPECT_NE(MessageOf([&] { reader.Read("tolerance", tolerance); }).find("finite number"),
            std::string::npos);
  const std::string mode_message = MessageOf([&] {
    reader.ReadChoice("mode", mode, {{"auto", Mode::kAuto}, {"on", Mode::kOn}});
  });
  EXPECT_NE(mode_message.find("one of auto, on, got 'sometimes'"), std::string::npos)
      << mode_message;
  EXPECT_NE(MessageOf([&] { reader.Read("flag", flag); }).find("flag"), std::string::npos);
  EXPECT_EQ(interval, 0);  // unchanged by a failed read
}

TEST(Settings, UnknownNamesAreRejectedWithTheKnownOnes) {
  const Settings settings{{"quadrature", "gauss"}, {"quadratur", "gauss"}};
  std::string quadrature;
  SettingsReader reader(settings, "cvodes_adjoint");
  reader.Read("quadrature", quadrature);
  const std::string message = MessageOf([&] { reader.Finish(); });
  EXPECT_NE(message.find("has no setting quadratur; its settings: quadrature"), std::string::npos)
      << message;
  SettingsReader none(settings, "bptt");
  EXPECT_NE(MessageOf([&] { none.Finish(); }).find("(it takes none)"), std::string::npos);
}

TEST(Settings, MalformedTextIsConfigError) {
  Settings settings;
  EXPECT_THROW(settings.SetFromText("no_equals_sign"), ConfigError);
  EXPECT_THROW(settings.SetFromText("=value"), ConfigError);
  settings.SetFromText("name=");
  EXPECT_EQ(settings.Get("name").value_or("absent"), "");
}

}  // namespace
}  // namespace snode
