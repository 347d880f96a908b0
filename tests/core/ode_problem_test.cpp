#include "core/ode_problem.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/errors.hpp"
#include "models/analytic_fields.hpp"

namespace snode {
namespace {

OdeProblem ValidProblem() {
  OdeProblem p;
  p.field = std::make_shared<DecayField>(2);
  p.z0 = Vector::Ones(2);
  p.theta = Vector::Ones(2);
  p.t0 = 0.0;
  p.output_times = {0.5, 1.0};
  return p;
}

TEST(OdeProblem, AcceptsValidProblem) { EXPECT_NO_THROW(ValidProblem().Validate()); }

TEST(OdeProblem, RejectsEachBadMember) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::pair<std::string, std::function<void(OdeProblem&)>>> cases = {
      {"field is null", [](OdeProblem& p) { p.field.reset(); }},
      {"z0 has length", [](OdeProblem& p) { p.z0 = Vector::Ones(3); }},
      {"theta has length", [](OdeProblem& p) { p.theta = Vector::Ones(1); }},
      {"z0 contains NaN", [nan](OdeProblem& p) { p.z0[0] = nan; }},
      {"theta contains NaN", [nan](OdeProblem& p) { p.theta[1] = nan; }},
      {"output_times is empty", [](OdeProblem& p) { p.output_times.clear(); }},
      {"strictly increasing",
       [](OdeProblem& p) {
         p.output_times = {0.5, 0.5};
       }},
      {"after the first output time", [](OdeProblem& p) { p.t0 = 0.7; }},
      {"not finite",
       [nan](OdeProblem& p) {
         p.output_times = {0.5, nan};
       }},
  };
  for (auto& [expected, mutate] : cases) {
    OdeProblem p = ValidProblem();
    mutate(p);
    try {
      p.Validate();
      ADD_FAILURE() << "no error for: " << expected;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
          << "message '" << e.what() << "' lacks '" << expected << "'";
    }
  }
}

}  // namespace
}  // namespace snode
