// problems/lotka_volterra: the rates and initial state, the reference trajectory (its conserved
// quantity), the seeded noisy observations and the fit window.

#include <gtest/gtest.h>

#include <cmath>

#include "models/analytic_fields.hpp"
#include "problems/lotka_volterra.hpp"

namespace snode {
namespace {

// V = δx − γ ln x + βy − α ln y is constant along every Lotka–Volterra trajectory.
double ConservedQuantity(const Vector& z, const Vector& rates) {
  return rates[2] * z[0] - rates[3] * std::log(z[0]) + rates[1] * z[1] - rates[0] * std::log(z[1]);
}

TEST(LotkaVolterraProblem, RatesInitialStateAndTimes) {
  EXPECT_EQ(problems::LotkaVolterraTrueRates(), (Vector(4) << 1.5, 1.0, 1.0, 3.0).finished());
  EXPECT_EQ(problems::LotkaVolterraInitialState(), Vector::Ones(2));
  const std::vector<double> times = problems::EquallySpacedTimes(10.0, 101);
  ASSERT_EQ(times.size(), 101u);
  EXPECT_EQ(times.front(), 0.0);
  EXPECT_EQ(times.back(), 10.0);
  EXPECT_EQ(times[37], 10.0 * 37 / 100);
  const OdeProblem problem =
      problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), times);
  EXPECT_NE(dynamic_cast<const LotkaVolterraField*>(problem.field.get()), nullptr);
  EXPECT_EQ(problem.t0, 0.0);
  EXPECT_EQ(problem.z0, Vector::Ones(2));
  EXPECT_EQ(problem.output_times, times);
}

TEST(LotkaVolterraProblem, TruthKeepsTheConservedQuantity) {
  const Vector rates = problems::LotkaVolterraTrueRates();
  const std::vector<Vector> states =
      problems::LotkaVolterraTruth(problems::EquallySpacedTimes(10.0, 21));
  ASSERT_EQ(states.size(), 21u);
  EXPECT_EQ(states.front(), Vector::Ones(2));
  const double v0 = ConservedQuantity(Vector::Ones(2), rates);
  for (const Vector& z : states) EXPECT_NEAR(ConservedQuantity(z, rates), v0, 1e-6);
}

TEST(LotkaVolterraProblem, ObservationsAreSeededAndNoiseFreeAtZeroNoise) {
  const std::vector<double> times = problems::EquallySpacedTimes(5.0, 11);
  const problems::LotkaVolterraObservations a =
      problems::MakeLotkaVolterraObservations(times, 0.05, 7);
  const problems::LotkaVolterraObservations b =
      problems::MakeLotkaVolterraObservations(times, 0.05, 7);
  const problems::LotkaVolterraObservations c =
      problems::MakeLotkaVolterraObservations(times, 0.05, 8);
  const problems::LotkaVolterraObservations clean =
      problems::MakeLotkaVolterraObservations(times, 0.0, 7);
  EXPECT_EQ(a.times, times);
  EXPECT_EQ(a.clean, problems::LotkaVolterraTruth(times));
  EXPECT_EQ(a.noisy, b.noisy);
  EXPECT_NE(a.noisy, c.noisy);
  EXPECT_EQ(clean.noisy, clean.clean);
  double largest = 0.0;
  for (std::size_t i = 0; i < times.size(); ++i) {
    largest = std::max(largest, (a.noisy[i] - a.clean[i]).lpNorm<Eigen::Infinity>());
  }
  EXPECT_GT(largest, 0.0);
  EXPECT_LT(largest, 0.05 * 6);  // 6σ
}

TEST(LotkaVolterraProblem, RelativeRateErrorIsTheLargestRelativeDeviation) {
  EXPECT_EQ(problems::RelativeRateError(problems::LotkaVolterraTrueRates()), 0.0);
  EXPECT_NEAR(problems::RelativeRateError((Vector(4) << 1.5, 1.2, 1.0, 2.7).finished()), 0.2,
              1e-15);
}

TEST(LotkaVolterraProblem, FitWindowKeepsTheObservationsUpToTheHorizon) {
  const problems::LotkaVolterraObservations obs =
      problems::MakeLotkaVolterraObservations(problems::EquallySpacedTimes(10.0, 101), 0.05, 0);
  const problems::FitWindow window =
      problems::MakeFitWindow(std::make_shared<LotkaVolterraField>(), obs.times, obs.noisy, 2.0,
                              problems::LotkaVolterraTrueRates());
  ASSERT_EQ(window.problem.output_times.size(), 21u);
  EXPECT_EQ(window.problem.output_times.back(), obs.times[20]);
  EXPECT_EQ(window.problem.theta, problems::LotkaVolterraTrueRates());
  // The loss is the MSE against the first 21 noisy observations.
  Vector dl(2), readout(0);
  const double term = window.loss->Term(20, obs.times[20], obs.clean[20], dl, readout);
  EXPECT_GT(term, 0.0);
  EXPECT_LT(term, 1.0);
}

}  // namespace
}  // namespace snode
