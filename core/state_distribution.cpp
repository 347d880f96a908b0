#include "core/state_distribution.hpp"

#include "core/errors.hpp"

namespace snode {

void StateDistribution::RequireBound(const std::string& who) const {
  if (bound()) return;
  throw ConfigError(who + ": the state is distributed over " + std::to_string(size()) +
                    " ranks, and this solver does not support distributed states; use the "
                    "gradient method cvodes_adjoint (CVODES BDF with gmres or fgmres) with "
                    "OdeProblem::distribution set");
}

NVectorPtr MakeStateVector(Index n, SUNContext ctx, const StateDistribution* distribution) {
  if (distribution == nullptr) return MakeNVector(n, ctx);
  Require(distribution->local_size() == n, [&] {
    return "MakeStateVector: the distribution's local size is " +
           std::to_string(distribution->local_size()) + ", the state's " + std::to_string(n);
  });
  return distribution->MakeVector(ctx);
}

}  // namespace snode
