#pragma once
// ReactionNetworkField: a chemical reaction network under mass-action kinetics,
//   rate_r(y) = k_r Π_s y_s^{ν_rs},     y_s' = Σ_r (μ_rs − ν_rs) rate_r(y),
// with ν the reactant and μ the product stoichiometries (non-negative integers) and θ = k, one
// rate constant per reaction in reaction order. The field stores each reaction's reactants and
// net changes sparsely, so F and every derivative product cost O(Σ_r (reactants + changes));
// DenseJacobian is assembled in the same sweep. Networks of 10–100 species and reactions with
// up to a few reactants each are the intended size.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/vector_field.hpp"

namespace snode::problems {

struct Reaction {
  std::vector<std::pair<Index, int>> reactants;  // (species, order ν ≥ 1), each species once
  std::vector<std::pair<Index, int>> products;   // (species, μ ≥ 1), each species once
};

class ReactionNetworkField final : public VectorField {
 public:
  // ConfigError for no species, a species index outside [0, num_species) or a non-positive
  // stoichiometric coefficient.
  ReactionNetworkField(std::string name, Index num_species, const std::vector<Reaction>& reactions);

  std::string name() const override { return name_; }
  Index state_size() const override { return n_; }
  Index num_params() const override { return static_cast<Index>(reactants_.size()); }

  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override;
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override;
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override;
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override;
  std::unique_ptr<VectorField> Clone() const override;

 private:
  using Terms = std::vector<std::pair<Index, int>>;
  // Π_s y_s^{ν_rs} (the rate without its constant).
  double Monomial(std::size_t r, ConstVectorRef z) const;
  // ∂/∂y_s of that monomial, for the j-th reactant s of reaction r.
  double MonomialPartial(std::size_t r, std::size_t j, ConstVectorRef z) const;
  // Σ_s (μ_rs − ν_rs) a_s.
  double NetDot(std::size_t r, ConstVectorRef a) const;
  void CheckArguments(const char* method, ConstVectorRef z, ConstVectorRef theta) const;

  std::string name_;
  Index n_;
  std::vector<Terms> reactants_;  // ν, per reaction
  std::vector<Terms> net_;        // nonzero μ − ν, per reaction
};

}  // namespace snode::problems
