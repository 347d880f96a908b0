// The MPI reducer and its collectives, run by ctest under mpirun with 2 and 4 ranks (label
// "mpi"). Every test is collective: all ranks run it, in the same order.
#include "distributed/mpi_reducer.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "distributed/mpi_session.hpp"

namespace snode {
namespace {

MpiSession* session = nullptr;

TEST(MpiReducer, SumsAVectorOverTheRanks) {
  MpiReducer ranks(session->comm());
  ASSERT_EQ(ranks.size(), session->size());
  const int p = ranks.size();
  Vector v(3);
  v << ranks.rank() + 1.0, 0.5, -2.0 * ranks.rank();
  ranks.SumInPlace(v);
  EXPECT_EQ(v[0], p * (p + 1) / 2.0);
  EXPECT_EQ(v[1], 0.5 * p);
  EXPECT_EQ(v[2], -1.0 * p * (p - 1));
  EXPECT_EQ(ranks.Sum(1.0), static_cast<double>(p));
  Vector empty;
  EXPECT_NO_THROW(ranks.SumInPlace(empty));
}

TEST(MpiReducer, BroadcastsTextFromAnyRoot) {
  MpiReducer ranks(session->comm());
  const int root = ranks.size() - 1;
  std::string text = ranks.rank() == root ? std::string("from the last rank\0!", 20) : "x";
  ranks.Broadcast(text, root);
  EXPECT_EQ(text, std::string("from the last rank\0!", 20));
}

TEST(MpiReducer, GathersTextsOfDifferentLengthsOnTheRoot) {
  MpiReducer ranks(session->comm());
  const int root = ranks.size() - 1;
  // Rank r sends r bytes of value r (rank 0: an empty text).
  const std::string mine(static_cast<std::size_t>(ranks.rank()), static_cast<char>(ranks.rank()));
  const std::vector<std::string> texts = ranks.Gather(mine, root);
  if (ranks.rank() != root) {
    EXPECT_TRUE(texts.empty());
  } else {
    ASSERT_EQ(static_cast<int>(texts.size()), ranks.size());
    for (int r = 0; r < ranks.size(); ++r) {
      EXPECT_EQ(texts[r], std::string(static_cast<std::size_t>(r), static_cast<char>(r)));
    }
  }
  const std::vector<std::string> everywhere = GatherToAll(ranks, mine);
  ASSERT_EQ(static_cast<int>(everywhere.size()), ranks.size());
  EXPECT_EQ(everywhere[ranks.rank()], mine);
}

TEST(MpiReducer, BroadcastsAVector) {
  Vector v = Vector::Constant(session->rank() == 0 ? 5 : 2, session->rank() == 0 ? 2.5 : -1.0);
  BroadcastVector(session->comm(), v, 0);
  EXPECT_EQ(v, Vector::Constant(5, 2.5));
}

TEST(MpiReducer, AcceptsTheSameParametersAndNamesTheStepWhereTheyDiffer) {
  MpiReducer ranks(session->comm());
  Vector theta = Vector::LinSpaced(100, -1.0, 1.0);
  EXPECT_NO_THROW(ranks.CheckSameParameters(theta, "after epoch 1, batch 1"));
  // The last rank's θ differs by one unit in the last place of one entry: every rank must throw.
  if (ranks.rank() == ranks.size() - 1) theta[37] = std::nextafter(theta[37], 2.0);
  try {
    ranks.CheckSameParameters(theta, "after epoch 2, batch 7");
    ADD_FAILURE() << "rank " << ranks.rank() << " did not see the difference";
  } catch (const NumericalError& e) {
    EXPECT_NE(
        std::string(e.what()).find("the parameters differ between the " +
                                   std::to_string(ranks.size()) + " ranks after epoch 2, batch 7"),
        std::string::npos)
        << e.what();
  }
}

TEST(MpiReducer, AnErrorOnOneRankIsThrownOnEveryRank) {
  MpiReducer ranks(session->comm());
  const int failing = ranks.size() / 2;
  auto work = [&]() -> Vector {
    if (ranks.rank() == failing) throw InputError("cannot read part 3");
    return Vector::Ones(4);
  };
  try {
    SumOverRanks(ranks, 4, work);
    ADD_FAILURE() << "rank " << ranks.rank() << " did not throw";
  } catch (const InputError& e) {
    const std::string expected = ranks.rank() == failing
                                     ? "cannot read part 3"
                                     : "rank " + std::to_string(failing) + ": cannot read part 3";
    EXPECT_EQ(e.what(), expected);
  }
  // The ranks are still in step: the next collective works.
  EXPECT_EQ(SumOverRanks(ranks, 4, [] { return Vector::Ones(4); }),
            Vector::Constant(4, ranks.size()));
}

TEST(MpiReducer, MpiFailuresBecomeErrorsNamingTheCall) {
  // A root outside the communicator: MPI_ERRORS_RETURN turns it into an MpiError (no abort).
  try {
    std::string text = "x";
    BroadcastText(session->comm(), text, session->size() + 5);
    ADD_FAILURE() << "no error";
  } catch (const MpiError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("MPI_Bcast failed: ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace snode

int main(int argc, char** argv) {
  snode::MpiSession mpi(argc, argv);
  snode::session = &mpi;
  ::testing::InitGoogleTest(&argc, argv);
  if (mpi.rank() != 0) {  // one report: rank 0's (the others still fail the run on a failure)
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  // Any rank's failure fails every rank (and so mpirun).
  const double any = snode::MpiReducer(mpi.comm()).Sum(failed != 0 ? 1.0 : 0.0);
  return any > 0 ? 1 : 0;
}
