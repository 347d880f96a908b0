#include "io/rng_text.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/errors.hpp"

namespace snode {
namespace {

TEST(RngText, RoundTripContinuesTheSameDraws) {
  std::mt19937_64 rng(42);
  for (int k = 0; k < 1000; ++k) rng();
  std::mt19937_64 restored = RngFromText(RngText(rng), "test");
  EXPECT_EQ(restored, rng);
  for (int k = 0; k < 100; ++k) EXPECT_EQ(restored(), rng());
}

TEST(RngText, TextOfAFreshGeneratorNamesItsSeedState) {
  EXPECT_EQ(RngText(std::mt19937_64(7)), RngText(std::mt19937_64(7)));
  EXPECT_NE(RngText(std::mt19937_64(7)), RngText(std::mt19937_64(8)));
}

TEST(RngText, UnreadableTextIsAnInputErrorNamingTheSource) {
  try {
    RngFromText("not a generator state", "run/checkpoint.snode");
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()), "checkpoint 'run/checkpoint.snode': unreadable RNG state");
  }
  EXPECT_THROW(RngFromText("", "x"), InputError);
}

}  // namespace
}  // namespace snode
