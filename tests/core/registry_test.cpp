#include "core/registry.hpp"

#include <gtest/gtest.h>

namespace snode {
namespace {

struct Widget {
  virtual ~Widget() = default;
  virtual int value() const = 0;
};
struct WidgetOptions {
  int offset = 0;
};
struct Constant : Widget {
  explicit Constant(int v) : v_(v) {}
  int value() const override { return v_; }
  int v_;
};

TEST(Registry, CreatesByNameWithOptions) {
  Registry<Widget, WidgetOptions> registry("widget");
  registry.Add("one",
               [](const WidgetOptions& o) { return std::make_unique<Constant>(1 + o.offset); });
  registry.Add("two",
               [](const WidgetOptions& o) { return std::make_unique<Constant>(2 + o.offset); });
  EXPECT_EQ(registry.Create("two", WidgetOptions{10})->value(), 12);
  EXPECT_EQ(registry.Names(), (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(registry.Contains("one"));
}

TEST(Registry, UnknownNameListsKnownOnes) {
  Registry<Widget, WidgetOptions> registry("widget");
  registry.Add("alpha", [](const WidgetOptions&) { return std::make_unique<Constant>(0); });
  registry.Add("beta", [](const WidgetOptions&) { return std::make_unique<Constant>(0); });
  try {
    registry.Create("gamma", {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "unknown widget 'gamma'; known: alpha, beta");
  }
}

TEST(Registry, RejectsDuplicateAndBadNames) {
  Registry<Widget, WidgetOptions> registry("widget");
  auto factory = [](const WidgetOptions&) { return std::make_unique<Constant>(0); };
  registry.Add("ok_name2", factory);
  EXPECT_THROW(registry.Add("ok_name2", factory), ConfigError);
  EXPECT_THROW(registry.Add("BadName", factory), ConfigError);
  EXPECT_THROW(registry.Add("", factory), ConfigError);
  EXPECT_THROW(registry.Add("has-dash", factory), ConfigError);
  EXPECT_THROW(registry.Add("empty_factory", nullptr), ConfigError);
}

}  // namespace
}  // namespace snode
