#include "studies/mnist_settings.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "core/errors.hpp"

namespace snode::mnist {
namespace {

void ExpectConfigError(const std::function<void(Settings&)>& change, const std::string& flag) {
  Settings s;
  change(s);
  try {
    ValidateSettings(s);
    FAIL() << "expected a ConfigError naming " << flag;
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find(flag), std::string::npos) << error.what();
  }
}

TEST(MnistSettings, DefaultsAreValid) { EXPECT_NO_THROW(ValidateSettings(Settings())); }

TEST(MnistSettings, OutOfRangeValuesNameTheirFlag) {
  ExpectConfigError([](Settings& s) { s.epochs = 0; }, "--epochs");
  ExpectConfigError([](Settings& s) { s.batch = 0; }, "--batch");
  ExpectConfigError([](Settings& s) { s.lr = std::nan(""); }, "--lr");
  ExpectConfigError([](Settings& s) { s.lr_schedule = "linear"; }, "--lr-schedule");
  ExpectConfigError([](Settings& s) { s.hidden = 4097; }, "--hidden");
  ExpectConfigError([](Settings& s) { s.augment = 9; }, "--augment");
  ExpectConfigError([](Settings& s) { s.threads = 65; }, "--threads");
  ExpectConfigError([](Settings& s) { s.data.split = -1; }, "--split");
  ExpectConfigError([](Settings& s) { s.data.limit_test = -1; }, "--limit-test");
  ExpectConfigError([](Settings& s) { s.checkpoint_batches = -1; }, "--checkpoint-batches");
  ExpectConfigError([](Settings& s) { s.stop_after_batches = -1; }, "--stop-after-batches");
}

TEST(MnistSettings, FlagsThatExcludeEachOtherOrGoTogether) {
  ExpectConfigError(
      [](Settings& s) {
        s.resume = "a";
        s.evaluate = "b";
      },
      "--resume and --evaluate");
  ExpectConfigError([](Settings& s) { s.data.train_images = "x"; }, "--train-labels");
  ExpectConfigError([](Settings& s) { s.data.test_labels = "y"; }, "--test-images");
}

}  // namespace
}  // namespace snode::mnist
