// CompensatedSum: the same terms added in any order and grouping give the same rounded value,
// where plain double sums differ; and the value is the exact sum's rounding on sums a plain
// sum gets wrong.
#include "core/compensated_sum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace snode {
namespace {

std::vector<double> Terms(unsigned seed, int n) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<double> terms(static_cast<std::size_t>(n));
  for (double& t : terms) t = uniform(rng) * std::pow(10.0, 4.0 * uniform(rng));
  return terms;
}

double PlainSum(const std::vector<double>& terms) {
  double sum = 0.0;
  for (const double t : terms) sum += t;
  return sum;
}

double Compensated(const std::vector<double>& terms) {
  CompensatedSum sum;
  for (const double t : terms) sum.Add(t);
  return sum.Value();
}

// Split into `parts` contiguous pieces, each summed on its own, then the pieces added in order:
// a vector split over `parts` ranks.
double CompensatedInParts(const std::vector<double>& terms, int parts) {
  CompensatedSum total;
  const std::size_t n = terms.size();
  for (int p = 0; p < parts; ++p) {
    CompensatedSum piece;
    for (std::size_t i = n * p / parts; i < n * (p + 1) / parts; ++i) piece.Add(terms[i]);
    total.Add(piece);
  }
  return total.Value();
}

TEST(CompensatedSum, OrderAndSplitDoNotChangeTheValue) {
  int plain_differences = 0;
  for (unsigned seed = 0; seed < 50; ++seed) {
    std::vector<double> terms = Terms(seed, 20000);
    const double reference = Compensated(terms);
    for (const int parts : {2, 3, 4, 7}) {
      EXPECT_EQ(CompensatedInParts(terms, parts), reference) << "seed " << seed << ", " << parts;
    }
    const double plain = PlainSum(terms);
    std::shuffle(terms.begin(), terms.end(), std::mt19937(seed + 1000));
    EXPECT_EQ(Compensated(terms), reference) << "seed " << seed << ", shuffled";
    if (PlainSum(terms) != plain) ++plain_differences;
  }
  EXPECT_GT(plain_differences, 25);  // the plain sum does depend on the order
}

TEST(CompensatedSum, KeepsWhatAPlainSumLoses) {
  const std::vector<double> terms = {1e16, 1.0, -1e16, 1.0};
  EXPECT_EQ(PlainSum(terms), 1.0);  // the first 1 is lost
  EXPECT_EQ(Compensated(terms), 2.0);
}

}  // namespace
}  // namespace snode
