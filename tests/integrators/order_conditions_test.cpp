// Tests of the order conditions generated from rooted trees: tree counts, the textbook conditions
// up to order 4, the built-in tableaus at their orders (and not one order higher), and a
// perturbed coefficient named by its failed condition.
#include "integrators/order_conditions.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/errors.hpp"
#include "integrators/butcher_tableau.hpp"

namespace snode {
namespace {

TEST(OrderConditions, CountsOfRootedTreesPerOrder) {
  const std::vector<std::size_t> expected = {1, 1, 2, 4, 9, 20, 48, 115};
  for (std::size_t p = 1; p <= expected.size(); ++p) {
    const std::vector<RootedTree> trees = RootedTrees(static_cast<int>(p));
    EXPECT_EQ(trees.size(), expected[p - 1]) << "order " << p;
    for (const RootedTree& tree : trees) EXPECT_EQ(tree.Order(), static_cast<int>(p));
  }
  EXPECT_EQ(OrderConditions(5).size(), 17u);  // dopri5
  EXPECT_THROW(RootedTrees(0), ConfigError);
  EXPECT_THROW(RootedTrees(kMaxOrderConditionOrder + 1), ConfigError);
}

TEST(OrderConditions, TextbookFormulasAndDensitiesUpToOrderFour) {
  // Hairer, Nørsett & Wanner I, Table II.2.1.
  const std::vector<std::pair<std::string, long>> expected = {{"Σ b_i", 1},
                                                              {"Σ b_i c_i", 2},
                                                              {"Σ b_i c_i^2", 3},
                                                              {"Σ b_i a_ij c_j", 6},
                                                              {"Σ b_i c_i^3", 4},
                                                              {"Σ b_i c_i a_ij c_j", 8},
                                                              {"Σ b_i a_ij c_j^2", 12},
                                                              {"Σ b_i a_ij a_jk c_k", 24}};
  const std::vector<OrderCondition> conditions = OrderConditions(4);
  ASSERT_EQ(conditions.size(), expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(conditions[k].number, static_cast<int>(k) + 1);
    EXPECT_EQ(conditions[k].formula, expected[k].first);
    EXPECT_EQ(conditions[k].density, expected[k].second) << conditions[k].formula;
  }
}

TEST(OrderConditions, DensitiesDivideTheFactorial) {
  // p!/γ(t) = σ(t)·α(t) counts labellings, so it is an integer for every tree of order p.
  long factorial = 1;
  for (int p = 1; p <= 6; ++p) {
    factorial *= p;
    for (const OrderCondition& condition : OrderConditions(p)) {
      if (condition.order != p) continue;
      EXPECT_EQ(condition.density, condition.tree.Density());
      EXPECT_EQ(factorial % condition.density, 0) << condition.formula;
    }
  }
}

struct BuiltinCase {
  std::string name;
  bool implicit;
  int order;
};

TEST(OrderConditions, BuiltinTableausHaveTheirOrderAndNoMore) {
  const std::vector<BuiltinCase> cases = {{"euler", false, 1}, {"heun", false, 2},
                                          {"rk4", false, 4},   {"dopri5", false, 5},
                                          {"sdirk", true, 4},  {"backward_euler", true, 1}};
  for (const BuiltinCase& c : cases) {
    const ButcherTableau t = c.implicit ? ImplicitTableau(c.name) : ExplicitTableau(c.name);
    ASSERT_EQ(t.order, c.order) << c.name;
    EXPECT_FALSE(FirstFailedOrderCondition(t.a, t.b, c.order)) << c.name;
    const auto above = FirstFailedOrderCondition(t.a, t.b, c.order + 1);
    ASSERT_TRUE(above) << c.name << " satisfies order " << c.order + 1;
    EXPECT_EQ(above->condition.order, c.order + 1) << c.name;
    if (t.HasEmbedding()) {
      EXPECT_FALSE(FirstFailedOrderCondition(t.a, t.b_embedded, t.embedded_order)) << c.name;
    }
  }
}

TEST(OrderConditions, PerturbedCoefficientFailsNamingTheCondition) {
  // Classic RK4 with row 3 of A = (0.1, 0.4) instead of (0, 0.5): the nodes c are unchanged, so
  // every condition on b and c alone holds, but Σ b_i a_ij c_j = 1/6 does not (it is 0.15).
  ButcherTableau t = ExplicitTableau("rk4");
  t.a(2, 0) = 0.1;
  t.a(2, 1) = 0.4;
  const auto failure = FirstFailedOrderCondition(t.a, t.b, 4);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->condition.number, 4);
  EXPECT_EQ(failure->condition.order, 3);
  EXPECT_NEAR(failure->value, 0.15, 1e-15);
  EXPECT_EQ(failure->Describe(),
            "order condition 4 of order 3, Σ b_i a_ij c_j = 1/6: got 0.15 (residual -1.7e-02)");
  // The same coefficients pass up to order 2.
  EXPECT_FALSE(FirstFailedOrderCondition(t.a, t.b, 2));
}

TEST(OrderConditions, ElementaryWeightsOfTheTallTree) {
  // Σ b_i a_ij a_jk c_k for rk4 is 1/24 exactly.
  const ButcherTableau t = ExplicitTableau("rk4");
  const std::vector<RootedTree> trees = RootedTrees(4);
  EXPECT_NEAR(ElementaryWeight(trees.back(), t.a, t.b), 1.0 / 24.0, 1e-15);
  EXPECT_EQ(trees.back().Height(), 3);
}

}  // namespace
}  // namespace snode
