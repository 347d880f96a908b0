#pragma once
// Runge–Kutta order conditions generated from rooted trees (Butcher; Hairer, Nørsett & Wanner,
// Solving ODEs I, II.2). A method with coefficients (A, b, c = A·1) has order p exactly when
//   Φ(t) = Σ_i b_i Φ_i(t) = 1/γ(t)   for every rooted tree t with |t| ≤ p vertices,
// where for a tree whose root has the subtrees u_1..u_m
//   Φ_i(t) = Π_k (Σ_j a_ij Φ_j(u_k))   (a single vertex: Φ_i = 1, so a leaf child gives c_i),
//   γ(t)   = |t| · Π_k γ(u_k).
// There are 1, 1, 2, 4, 9, 20, 48, 115 trees of order 1..8. The conditions are generated here
// for any order up to kMaxOrderConditionOrder, so a tableau read from a file is checked at the
// order it claims (dopri5: 17 conditions up to order 5).

#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace snode {

constexpr int kMaxOrderConditionOrder = 10;
// Residual |Φ(t) − 1/γ(t)| accepted as satisfied: coefficients given to double precision (or as
// exact fractions) pass with a wide margin; a coefficient given to fewer digits fails.
constexpr double kOrderConditionTolerance = 1e-10;

// A rooted tree: the subtrees hanging off the root, sorted into a canonical order (so equal trees
// compare equal). A single vertex has no children.
struct RootedTree {
  std::vector<RootedTree> children;

  int Order() const;     // |t|: number of vertices
  int Height() const;    // 0 for a single vertex
  long Density() const;  // γ(t)
  bool operator==(const RootedTree& other) const;
  bool operator<(const RootedTree& other) const;
};

// Every rooted tree with exactly `order` vertices (1 ≤ order ≤ kMaxOrderConditionOrder), each
// once, bushy trees first. Throws ConfigError for an order out of range.
std::vector<RootedTree> RootedTrees(int order);

struct OrderCondition {
  int number = 0;  // 1-based position in OrderConditions(max_order): 1..1 order 1, 2 order 2, ...
  int order = 0;   // |t|
  RootedTree tree;
  // Left-hand side in index notation with implied sums, e.g. "Σ b_i a_ij c_j"; the condition is
  // formula = 1/γ.
  std::string formula;
  long density = 0;  // γ(t)
};

// The conditions of every tree of order 1..max_order, numbered in that order.
std::vector<OrderCondition> OrderConditions(int max_order);

// Elementary weight Φ(t) = Σ_i weights_i Φ_i(t) with the stage matrix a (s × s; its row sums
// are used as c).
double ElementaryWeight(const RootedTree& tree, const Matrix& a, const Vector& weights);

struct OrderConditionFailure {
  OrderCondition condition;
  double value = 0.0;     // Φ(t)
  double residual = 0.0;  // Φ(t) − 1/γ(t)
  // "order condition 4 of order 3, Σ b_i a_ij c_j = 1/6: got 0.1944 (residual 2.8e-02)"
  std::string Describe() const;
};

// The first condition up to `order` that the weights (b, or the embedded weights) fail by more
// than tolerance, or nothing when the method has at least that order.
std::optional<OrderConditionFailure> FirstFailedOrderCondition(
    const Matrix& a, const Vector& weights, int order, double tolerance = kOrderConditionTolerance);

}  // namespace snode
