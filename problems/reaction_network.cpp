#include "problems/reaction_network.hpp"

#include <map>

#include "core/errors.hpp"

namespace snode::problems {
namespace {

double IntegerPower(double x, int power) {
  double result = 1.0;
  for (int i = 0; i < power; ++i) result *= x;
  return result;
}

}  // namespace

ReactionNetworkField::ReactionNetworkField(std::string name, Index num_species,
                                           const std::vector<Reaction>& reactions)
    : name_(std::move(name)), n_(num_species) {
  Require(num_species > 0, name_ + ": a reaction network needs at least one species");
  auto check = [&](const std::pair<Index, int>& term, std::size_t r) {
    Require(term.first >= 0 && term.first < n_ && term.second > 0, [&] {
      return name_ + ": reaction " + std::to_string(r) + " has species " +
             std::to_string(term.first) + " with coefficient " + std::to_string(term.second) +
             " (species must lie in [0, " + std::to_string(n_) + "), coefficients ≥ 1)";
    });
  };
  for (std::size_t r = 0; r < reactions.size(); ++r) {
    std::map<Index, int> net;
    for (const auto& term : reactions[r].reactants) {
      check(term, r);
      net[term.first] -= term.second;
    }
    for (const auto& term : reactions[r].products) {
      check(term, r);
      net[term.first] += term.second;
    }
    reactants_.push_back(reactions[r].reactants);
    Terms changes;
    for (const auto& entry : net) {
      if (entry.second != 0) changes.emplace_back(entry.first, entry.second);
    }
    net_.push_back(std::move(changes));
  }
}

double ReactionNetworkField::Monomial(std::size_t r, ConstVectorRef z) const {
  double product = 1.0;
  for (const auto& term : reactants_[r]) product *= IntegerPower(z(term.first), term.second);
  return product;
}

double ReactionNetworkField::MonomialPartial(std::size_t r, std::size_t j, ConstVectorRef z) const {
  // Formed without dividing by y_s, so it is right where y_s = 0.
  const Terms& terms = reactants_[r];
  double product = terms[j].second * IntegerPower(z(terms[j].first), terms[j].second - 1);
  for (std::size_t i = 0; i < terms.size(); ++i) {
    if (i != j) product *= IntegerPower(z(terms[i].first), terms[i].second);
  }
  return product;
}

double ReactionNetworkField::NetDot(std::size_t r, ConstVectorRef a) const {
  double sum = 0.0;
  for (const auto& change : net_[r]) sum += change.second * a(change.first);
  return sum;
}

void ReactionNetworkField::CheckArguments(const char* method, ConstVectorRef z,
                                          ConstVectorRef theta) const {
  CheckState(method, "z", z.size());
  CheckParams(method, theta.size());
}

void ReactionNetworkField::F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckArguments("F", z, theta);
  CheckState("F", "out", out.size());
  out.setZero();
  for (std::size_t r = 0; r < reactants_.size(); ++r) {
    const double rate = theta(static_cast<Index>(r)) * Monomial(r, z);
    for (const auto& change : net_[r]) out(change.first) += change.second * rate;
  }
}

void ReactionNetworkField::Jvp(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                               VectorRef out) {
  CheckArguments("Jvp", z, theta);
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  out.setZero();
  for (std::size_t r = 0; r < reactants_.size(); ++r) {
    double d_rate = 0.0;  // ∂rate_r/∂y · v
    for (std::size_t j = 0; j < reactants_[r].size(); ++j) {
      d_rate += MonomialPartial(r, j, z) * v(reactants_[r][j].first);
    }
    d_rate *= theta(static_cast<Index>(r));
    for (const auto& change : net_[r]) out(change.first) += change.second * d_rate;
  }
}

void ReactionNetworkField::VjpState(double, ConstVectorRef z, ConstVectorRef theta,
                                    ConstVectorRef a, VectorRef out) {
  CheckArguments("VjpState", z, theta);
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  out.setZero();
  for (std::size_t r = 0; r < reactants_.size(); ++r) {
    const double weight = theta(static_cast<Index>(r)) * NetDot(r, a);
    if (weight == 0.0) continue;
    for (std::size_t j = 0; j < reactants_[r].size(); ++j) {
      out(reactants_[r][j].first) += weight * MonomialPartial(r, j, z);
    }
  }
}

void ReactionNetworkField::VjpParams(double, ConstVectorRef z, ConstVectorRef theta,
                                     ConstVectorRef a, VectorRef grad) {
  CheckArguments("VjpParams", z, theta);
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams (grad)", grad.size());
  for (std::size_t r = 0; r < reactants_.size(); ++r) {
    grad(static_cast<Index>(r)) += Monomial(r, z) * NetDot(r, a);
  }
}

void ReactionNetworkField::DenseJacobian(double, ConstVectorRef z, ConstVectorRef theta,
                                         MatrixRef jac) {
  CheckArguments("DenseJacobian", z, theta);
  Require(jac.rows() == n_ && jac.cols() == n_, name_ + ": DenseJacobian: jac has the wrong shape");
  jac.setZero();
  for (std::size_t r = 0; r < reactants_.size(); ++r) {
    for (std::size_t j = 0; j < reactants_[r].size(); ++j) {
      const double d_rate = theta(static_cast<Index>(r)) * MonomialPartial(r, j, z);
      for (const auto& change : net_[r]) {
        jac(change.first, reactants_[r][j].first) += change.second * d_rate;
      }
    }
  }
}

std::unique_ptr<VectorField> ReactionNetworkField::Clone() const {
  return std::make_unique<ReactionNetworkField>(*this);
}

}  // namespace snode::problems
