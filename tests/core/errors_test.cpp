#include "core/errors.hpp"

#include <gtest/gtest.h>

#include "core/nvector.hpp"
#include "core/sundials_context.hpp"

namespace snode {
namespace {

TEST(SundialsError, MessageNamesCallFlagAndNumber) {
  const SundialsError error("CVode", -1, "CV_TOO_MUCH_WORK", "at t=0.5; raise --max-steps");
  EXPECT_EQ(error.call(), "CVode");
  EXPECT_EQ(error.flag(), -1);
  EXPECT_EQ(error.flag_name(), "CV_TOO_MUCH_WORK");
  EXPECT_STREQ(error.what(), "CVode failed with CV_TOO_MUCH_WORK (-1) at t=0.5; raise --max-steps");
}

TEST(ErrorHierarchy, AllDeriveFromError) {
  EXPECT_THROW(throw ConfigError("x"), Error);
  EXPECT_THROW(throw InputError("x"), Error);
  EXPECT_THROW(throw NumericalError("x"), Error);
  EXPECT_THROW(throw SundialsError("a", -1, "b"), Error);
  EXPECT_THROW(Require(false, "bad"), ConfigError);
  EXPECT_NO_THROW(Require(true, "fine"));
}

TEST(Context, CreatesMovesAndFrees) {
  Context a;
  EXPECT_NE(a.get(), nullptr);
  Context b(std::move(a));
  EXPECT_EQ(a.get(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is defined
  EXPECT_NE(b.get(), nullptr);
}

TEST(NVector, WrapIsZeroCopyAndMakeCopies) {
  Context ctx;
  Vector data = Vector::LinSpaced(4, 1.0, 4.0);
  NVectorPtr wrapped = WrapNVector(data.data(), data.size(), ctx);
  AsEigen(wrapped.get())[2] = 42.0;
  EXPECT_EQ(data[2], 42.0);
  NVectorPtr copy = MakeNVector(data, ctx);
  AsEigen(copy.get())[0] = -1.0;
  EXPECT_EQ(data[0], 1.0);
  EXPECT_EQ(AsConstEigen(copy.get())[2], 42.0);
  EXPECT_THROW(MakeNVector(Index{0}, ctx), ConfigError);
}

}  // namespace
}  // namespace snode
