#include "core/gradient_reducer.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.hpp"

namespace snode {
namespace {

TEST(GradientReducer, SerialLeavesEverythingAsItIs) {
  GradientReducer& serial = SerialReduction();
  EXPECT_EQ(serial.rank(), 0);
  EXPECT_EQ(serial.size(), 1);
  Vector v(3);
  v << 1.0, -2.5, 3.0;
  const Vector before = v;
  serial.SumInPlace(v);
  EXPECT_EQ(v, before);
  EXPECT_EQ(serial.Sum(0.25), 0.25);
  std::string text = "unchanged";
  serial.Broadcast(text, 0);
  EXPECT_EQ(text, "unchanged");
  EXPECT_NO_THROW(serial.CheckSameParameters(v, "here"));
}

TEST(GradientReducer, ParameterHashSeesEveryBit) {
  Vector a(4);
  a << 1.0, 2.0, 3.0, 4.0;
  Vector b = a;
  EXPECT_EQ(ParameterHash(a), ParameterHash(b));
  b[2] = std::nextafter(b[2], 10.0);  // one unit in the last place
  EXPECT_NE(ParameterHash(a), ParameterHash(b));
  Vector zero = Vector::Zero(2), negative_zero = Vector::Zero(2);
  negative_zero[1] = -0.0;
  EXPECT_NE(ParameterHash(zero), ParameterHash(negative_zero));
  EXPECT_EQ(ParameterHash(Vector()), 14695981039346656037ull);  // FNV-1a of no bytes
}

TEST(GradientReducer, SerialSumOverRanksReturnsTheWorkAndRethrowsItsError) {
  const Vector sums = SumOverRanks(SerialReduction(), 2, [] { return Vector::Constant(2, 1.5); });
  EXPECT_EQ(sums, Vector::Constant(2, 1.5));
  EXPECT_THROW(SumOverRanks(SerialReduction(), 2, []() -> Vector { throw InputError("bad file"); }),
               InputError);
}

// Rank `rank` of two, the other rank simulated: its contribution is added by SumInPlace and its
// text arrives through Broadcast.
class TwoRanks : public GradientReducer {
 public:
  TwoRanks(int rank, Vector other, std::string other_text)
      : rank_(rank), other_(std::move(other)), other_text_(std::move(other_text)) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  void SumInPlace(Vector& v) override {
    ASSERT_EQ(v.size(), other_.size());
    v += other_;
  }
  void Broadcast(std::string& text, int root) override {
    broadcasts.push_back(root);
    if (root != rank_) text = other_text_;
  }
  void CheckSameParameters(const Vector&, const std::string&) override {}
  std::vector<std::string> Gather(const std::string& mine, int root) override {
    if (root != rank_) return {};
    return rank_ == 0 ? std::vector<std::string>{mine, other_text_}
                      : std::vector<std::string>{other_text_, mine};
  }
  std::vector<int> broadcasts;

 private:
  int rank_;
  Vector other_;
  std::string other_text_;
};

TEST(GradientReducer, SumOverRanksAddsTheValuesOfEveryRankWithOneSum) {
  Vector other(2 + 2);  // two values, then the failure flags of ranks 0 and 1
  other << 10.0, 20.0, 0.0, 0.0;
  TwoRanks ranks(0, other, "");
  const Vector sums = SumOverRanks(ranks, 2, [] { return Vector::Constant(2, 1.0); });
  EXPECT_EQ(sums, (Vector(2) << 11.0, 21.0).finished());
  EXPECT_TRUE(ranks.broadcasts.empty());
}

TEST(GradientReducer, AFailureOnAnotherRankIsThrownHereWithItsKindAndMessage) {
  Vector other = Vector::Zero(4);
  other[3] = 1;  // rank 1 failed
  for (const auto& [kind, name] :
       {std::pair<char, const char*>{'C', "config"}, {'I', "input"}, {'N', "numerical"}}) {
    TwoRanks ranks(0, other, std::string("the solve failed") + kind);
    try {
      SumOverRanks(ranks, 2, [] { return Vector::Constant(2, 1.0); });
      ADD_FAILURE() << "no error for " << name;
    } catch (const ConfigError& e) {
      EXPECT_EQ(kind, 'C');
      EXPECT_STREQ(e.what(), "rank 1: the solve failed");
    } catch (const InputError& e) {
      EXPECT_EQ(kind, 'I');
      EXPECT_STREQ(e.what(), "rank 1: the solve failed");
    } catch (const NumericalError& e) {
      EXPECT_EQ(kind, 'N');
      EXPECT_STREQ(e.what(), "rank 1: the solve failed");
    }
    EXPECT_EQ(ranks.broadcasts, std::vector<int>{1}) << name;
  }
}

TEST(GradientReducer, TheFailingRankRethrowsItsOwnErrorAfterTheSum) {
  TwoRanks ranks(1, Vector::Zero(4), "");
  EXPECT_THROW(SumOverRanks(ranks, 2, []() -> Vector { throw std::runtime_error("boom"); }),
               std::runtime_error);
  EXPECT_EQ(ranks.broadcasts, std::vector<int>{1});  // it told the others
  // A share of the wrong length is an error of that rank, carried like any other.
  TwoRanks wrong(1, Vector::Zero(4), "");
  EXPECT_THROW(SumOverRanks(wrong, 2, [] { return Vector::Zero(3); }), ConfigError);
}

TEST(GradientReducer, SerialGatherIsTheRanksOwnText) {
  const std::string bytes("a\0b", 3);
  EXPECT_EQ(SerialReduction().Gather(bytes, 0), std::vector<std::string>{bytes});
  EXPECT_EQ(GatherToAll(SerialReduction(), bytes), std::vector<std::string>{bytes});
}

TEST(GradientReducer, GatherToAllGivesEveryRanksTextInRankOrder) {
  TwoRanks ranks(0, Vector::Zero(1), std::string("second\0", 7));
  const std::vector<std::string> texts = GatherToAll(ranks, "");
  EXPECT_EQ(texts, (std::vector<std::string>{"", std::string("second\0", 7)}));
  EXPECT_EQ(ranks.broadcasts, std::vector<int>{0});
}

}  // namespace
}  // namespace snode
