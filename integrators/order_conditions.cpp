#include "integrators/order_conditions.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <tuple>

#include "core/errors.hpp"

namespace snode {

namespace {

constexpr const char* kIndexLetters = "ijklmnopqrstuvwxyz";

void Canonicalise(RootedTree& tree) {
  for (RootedTree& child : tree.children) Canonicalise(child);
  std::sort(tree.children.begin(), tree.children.end());
}

// Every tree made by hanging one new leaf off one vertex of `tree` (not yet canonical).
std::vector<RootedTree> WithOneMoreLeaf(const RootedTree& tree) {
  std::vector<RootedTree> grown;
  RootedTree at_root = tree;
  at_root.children.emplace_back();
  grown.push_back(std::move(at_root));
  for (std::size_t k = 0; k < tree.children.size(); ++k) {
    for (RootedTree& child : WithOneMoreLeaf(tree.children[k])) {
      RootedTree copy = tree;
      copy.children[k] = std::move(child);
      grown.push_back(std::move(copy));
    }
  }
  return grown;
}

// Index notation of the factors below the vertex with index letter `letter`, e.g. "c_i^2 a_ij c_j"
// (leaf children as powers of c first, then one a per other child). next_letter is the next
// unused index letter.
std::string Factors(const RootedTree& tree, char letter, std::size_t& next_letter) {
  std::string text;
  const auto leaves = std::count_if(tree.children.begin(), tree.children.end(),
                                    [](const RootedTree& child) { return child.children.empty(); });
  if (leaves > 0) {
    text += std::string(" c_") + letter;
    if (leaves > 1) text += "^" + std::to_string(leaves);
  }
  for (const RootedTree& child : tree.children) {
    if (child.children.empty()) continue;
    const char child_letter = kIndexLetters[next_letter++];
    text += std::string(" a_") + letter + child_letter;
    text += Factors(child, child_letter, next_letter);
  }
  return text;
}

// Φ_i(t) for every stage i.
Vector StageWeights(const RootedTree& tree, const Matrix& a, const Vector& c) {
  Vector phi = Vector::Ones(a.rows());
  for (const RootedTree& child : tree.children) {
    if (child.children.empty()) {
      phi = phi.cwiseProduct(c);
    } else {
      phi = phi.cwiseProduct(a * StageWeights(child, a, c));
    }
  }
  return phi;
}

}  // namespace

int RootedTree::Order() const {
  int order = 1;
  for (const RootedTree& child : children) order += child.Order();
  return order;
}

int RootedTree::Height() const {
  int height = 0;
  for (const RootedTree& child : children) height = std::max(height, child.Height() + 1);
  return height;
}

long RootedTree::Density() const {
  long density = Order();
  for (const RootedTree& child : children) density *= child.Density();
  return density;
}

bool RootedTree::operator==(const RootedTree& other) const { return children == other.children; }

bool RootedTree::operator<(const RootedTree& other) const {
  const int order = Order(), other_order = other.Order();
  if (order != other_order) return order < other_order;
  return std::lexicographical_compare(children.begin(), children.end(), other.children.begin(),
                                      other.children.end());
}

std::vector<RootedTree> RootedTrees(int order) {
  Require(order >= 1 && order <= kMaxOrderConditionOrder, [&] {
    return "rooted trees: order " + std::to_string(order) + " is out of range 1.." +
           std::to_string(kMaxOrderConditionOrder);
  });
  std::set<RootedTree> trees = {RootedTree{}};
  for (int n = 2; n <= order; ++n) {
    std::set<RootedTree> next;
    for (const RootedTree& tree : trees) {
      for (RootedTree& grown : WithOneMoreLeaf(tree)) {
        Canonicalise(grown);
        next.insert(std::move(grown));
      }
    }
    trees = std::move(next);
  }
  std::vector<RootedTree> sorted(trees.begin(), trees.end());
  // Bushy first (Σ b_i c_i^(p-1)), the tall tree (Σ b_i a_ij a_jk ...) last, as in the textbooks.
  std::stable_sort(sorted.begin(), sorted.end(), [](const RootedTree& x, const RootedTree& y) {
    return std::make_tuple(x.Height(), -static_cast<long>(x.children.size())) <
           std::make_tuple(y.Height(), -static_cast<long>(y.children.size()));
  });
  return sorted;
}

std::vector<OrderCondition> OrderConditions(int max_order) {
  std::vector<OrderCondition> conditions;
  for (int order = 1; order <= max_order; ++order) {
    for (RootedTree& tree : RootedTrees(order)) {
      OrderCondition condition;
      condition.number = static_cast<int>(conditions.size()) + 1;
      condition.order = order;
      std::size_t next_letter = 1;
      condition.formula = "Σ b_i" + Factors(tree, kIndexLetters[0], next_letter);
      condition.density = tree.Density();
      condition.tree = std::move(tree);
      conditions.push_back(std::move(condition));
    }
  }
  return conditions;
}

double ElementaryWeight(const RootedTree& tree, const Matrix& a, const Vector& weights) {
  const Vector c = a.rowwise().sum();
  return weights.dot(StageWeights(tree, a, c));
}

std::string OrderConditionFailure::Describe() const {
  char numbers[96];
  std::snprintf(numbers, sizeof(numbers), ": got %.4g (residual %.1e)", value, residual);
  return "order condition " + std::to_string(condition.number) + " of order " +
         std::to_string(condition.order) + ", " + condition.formula + " = " +
         (condition.density == 1 ? std::string("1") : "1/" + std::to_string(condition.density)) +
         numbers;
}

std::optional<OrderConditionFailure> FirstFailedOrderCondition(const Matrix& a,
                                                               const Vector& weights, int order,
                                                               double tolerance) {
  for (OrderCondition& condition : OrderConditions(order)) {
    const double value = ElementaryWeight(condition.tree, a, weights);
    const double residual = value - 1.0 / static_cast<double>(condition.density);
    if (!(std::abs(residual) <= tolerance)) {
      return OrderConditionFailure{std::move(condition), value, residual};
    }
  }
  return std::nullopt;
}

}  // namespace snode
