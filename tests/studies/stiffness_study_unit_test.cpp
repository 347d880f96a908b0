// studies/stiffness_study (unit level; tests/apps/stiffness_study_test.cpp runs the binary):
// the summary in words and the bench's target choice on hand-made records, the method
// selection, the Robertson reference's description, and the study over ranks simulated by
// threads (the MPI runs are tests/distributed/stiffness_mpi_test.cpp).
#include <gtest/gtest.h>

#include <condition_variable>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

#include "studies/record_transfer.hpp"
#include "studies/stiffness_study.hpp"

namespace snode {
namespace {

GradientRecord MakeRecord(const std::string& problem, double lambda, const MethodSpec& spec,
                          const std::string& status, double rel = 1e-8) {
  GradientRecord r;
  r.problem = problem;
  r.lambda = lambda;
  r.run.spec = spec;
  r.run.loss = 1.0;
  r.run.gradient = Vector::Ones(2);
  r.error.rel = rel;
  r.status = status;
  return r;
}

const MethodSpec kBdf = MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-10, 1e-12);
const MethodSpec kRk4 = MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-3);

TEST(StiffnessSummary, SweepProblemsNameTheLambdas) {
  std::vector<GradientRecord> records = {
      MakeRecord("W1b", 1, kRk4, "ok"), MakeRecord("W1b", 1, kBdf, "ok"),
      MakeRecord("W1b", 1e4, kRk4, "failed"), MakeRecord("W1b", 1e4, kBdf, "ok"),
      MakeRecord("W5 T=40", 3e3, kRk4, "inaccurate")};
  records[2].run.threw = true;
  records[2].run.gradient.resize(0);
  const std::vector<std::string> lines = SummarizeProblems(records);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "W1b: ok at every λ: cvodes_adjoint/cvodes_bdf tol=1e-10/1e-12.");
  EXPECT_EQ(lines[1], "W1b: bptt/rk4 h=1e-3 fails at λ = 1e4 (failed); ok at λ = 1.");
  EXPECT_EQ(lines[2], "W5 T=40: bptt/rk4 h=1e-3 fails (inaccurate).");
}

TEST(StiffnessSummary, FlaggedReconstructionsAreReported) {
  const MethodSpec backsolve = MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6);
  std::vector<GradientRecord> records = {MakeRecord("W1", 100, backsolve, "ok"),
                                         MakeRecord("W1", 1e4, backsolve, "non-finite")};
  records[1].run.stats.reconstruction_failed = true;
  const std::vector<std::string> lines = SummarizeProblems(records);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1],
            "W1: the method itself flagged its gradient "
            "(backsolve_adjoint/dopri5 tol=1e-6 at λ = 1e4).");
}

TEST(StiffnessSummary, AnyMethodsOwnFlagIsReportedWithoutNameChecks) {
  std::vector<GradientRecord> records = {MakeRecord("nonnormal", 1e5, kRk4, "flagged"),
                                         MakeRecord("nonnormal", 1e5, kBdf, "ok")};
  records[0].run.stats.Flag("bptt: reverse pass amplified round-off");
  const std::vector<std::string> lines = SummarizeProblems(records);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "nonnormal: bptt/rk4 h=1e-3 fails (flagged).");
  EXPECT_EQ(lines[2], "nonnormal: the method itself flagged its gradient (bptt/rk4 h=1e-3).");
}

TEST(StiffnessStudyProblems, NonNormalIsTheExact4x4) {
  EXPECT_TRUE(problems::ProblemRegistry().Contains("nonnormal"));
  const StudyProblem problem = NonNormalStudyProblem(kNonNormalStiffness);
  EXPECT_EQ(problem.name, "nonnormal");
  EXPECT_EQ(problem.lambda, 1e5);
  EXPECT_EQ(problem.exact.size(), 20);
  EXPECT_FALSE(problem.abs_for_all);
}

TEST(StiffnessSummary, NeuralBestAndBreakdowns) {
  NeuralRecord good, better, broken;
  good.spec = kRk4;
  good.rescored = 0.5;
  better.spec = kBdf;
  better.rescored = 0.25;
  better.seconds = 0.5;
  broken.spec = MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-8);
  broken.status = "non-finite";
  const std::vector<std::string> lines = SummarizeNeural({good, better, broken});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "Neural ODE: lowest re-scored loss after training: cvodes_adjoint/cvodes_bdf "
            "tol=1e-10/1e-12 (2.500e-01, 500.0 ms).");
  EXPECT_EQ(lines[1],
            "Neural ODE: training broke down with backsolve_adjoint/dopri5 tol=1e-6/1e-8 "
            "(non-finite).");
}

TEST(StiffnessBench, TargetIsTheFastestAccurateLadderRung) {
  RobertsonBench bench;
  bench.problems.resize(2);
  bench.problems[0].lambda = 40;  // no target below T = 1e5
  bench.problems[1].lambda = 1e5;
  auto cell = [](std::size_t problem, bool ladder, double dk_rel) {
    RobertsonBenchCell c;
    c.problem = problem;
    c.ladder = ladder;
    c.dk_rel = dk_rel;
    return c;
  };
  bench.cells = {cell(0, true, 1e-9), cell(1, false, 1e-9), cell(1, true, 1e-7),
                 cell(1, true, 1e-8), cell(1, true, 1e-3)};
  EXPECT_EQ(TargetRungs(bench, {1, 0.001, 0.004, 0.003, 0.0001}), std::vector<std::size_t>{3});
  // None accurate: the most accurate rung.
  bench.cells = {cell(1, true, 1e-3), cell(1, true, 1e-5), cell(1, true, 1e-4)};
  EXPECT_EQ(TargetRungs(bench, {1, 2, 3}), std::vector<std::size_t>{1});
}

TEST(StiffnessMethods, SelectFiltersAndOverrides) {
  MethodOverrides overrides;
  overrides.gradient = "bptt";
  overrides.gradient_set = true;
  const std::vector<MethodSpec> matrix = {kRk4, kBdf, MakeMethod("bptt", "dopri5", 1e-6, 1e-6),
                                          MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6)};
  std::vector<MethodSpec> selected = SelectMethods(matrix, overrides);
  EXPECT_EQ(selected.size(), 2u);
  for (const MethodSpec& spec : selected) EXPECT_EQ(spec.gradient, "bptt");

  overrides.rtol_set = overrides.atol_set = true;
  overrides.given.rtol = 1e-7;
  overrides.given.atol = 1e-9;
  selected = SelectMethods({WithBackward(kBdf, "epi2"), kRk4}, overrides);
  ASSERT_EQ(selected.size(), 1u);                     // the BDF pair is filtered out
  EXPECT_EQ(selected[0].Label(), "bptt/rk4 h=1e-3");  // fixed step: tolerances do not apply

  overrides.gradient = "cvodes_adjoint";
  selected = SelectMethods({WithBackward(kBdf, "epi2")}, overrides);
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0].Label(), "cvodes_adjoint/cvodes_bdf tol=1e-7/1e-9 bwd=epi2");
  EXPECT_EQ(selected[0].options.integrator_options.rtol, 1e-7);

  overrides.integrator = "sdirk";  // outside the matrix: run with the given settings
  overrides.integrator_set = true;
  selected = SelectMethods(matrix, overrides);
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0].Label(), "cvodes_adjoint/sdirk tol=1e-7/1e-9");
}

TEST(StiffnessReference, DescriptionSaysWhatTheReferenceIs) {
  problems::RobertsonReference ref;
  ref.adjoint = Vector::Ones(6);
  ref.finite_difference = Vector::Ones(6);
  ref.finite_difference(0) = 1.0 + 2e-6;
  ref.spectral_radius = 3.4e3;
  StudyReference described = DescribeReference(ref, 3);
  EXPECT_TRUE(described.ok);
  EXPECT_EQ(described.lambda, 3.4e3);
  EXPECT_EQ(described.description,
            "reference: cvodes_adjoint/cvodes_bdf rtol=1e-12,atol=1e-20; central differences of "
            "cvodes_bdf (rtol=1e-12) agree on dL/dk to 2.0e-06 relative");

  ref.adjoint.resize(0);
  ref.adjoint_message = "not registered";
  ref.fd_integrator = "sdirk";
  described = DescribeReference(ref, 3);
  EXPECT_TRUE(described.ok);
  EXPECT_EQ(described.gradient, ref.finite_difference);
  EXPECT_EQ(described.description,
            "reference: central differences of sdirk at rtol=1e-12,atol=1e-20 (cvodes_adjoint "
            "unavailable: not registered)");

  ref.finite_difference.resize(0);
  ref.fd_message = "too much work";
  described = DescribeReference(ref, 3);
  EXPECT_FALSE(described.ok);
  EXPECT_EQ(described.description, "no reference gradient: too much work");
}

// Ranks as threads of one process: Gather and Broadcast through shared slots between barriers.
class ThreadRanks {
 public:
  explicit ThreadRanks(int size) : size_(size), slots_(size) {}
  int size() const { return size_; }

  void Barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    const long generation = generation_;
    if (++waiting_ == size_) {
      waiting_ = 0;
      ++generation_;
      changed_.notify_all();
    } else {
      changed_.wait(lock, [&] { return generation_ != generation; });
    }
  }
  std::vector<std::string> Gather(int rank, const std::string& mine, int root) {
    slots_[rank] = mine;
    Barrier();
    std::vector<std::string> all;
    if (rank == root) all = slots_;
    Barrier();
    return all;
  }
  void Broadcast(int rank, std::string& text, int root) {
    if (rank == root) slots_[root] = text;
    Barrier();
    if (rank != root) text = slots_[root];
    Barrier();
  }

 private:
  int size_;
  std::vector<std::string> slots_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  long generation_ = 0;
};

class ThreadRank final : public GradientReducer {
 public:
  ThreadRank(ThreadRanks& ranks, int rank) : ranks_(ranks), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return ranks_.size(); }
  void SumInPlace(Vector&) override { FAIL() << "the study sums nothing"; }
  void Broadcast(std::string& text, int root) override { ranks_.Broadcast(rank_, text, root); }
  void CheckSameParameters(const Vector&, const std::string&) override {}
  std::vector<std::string> Gather(const std::string& mine, int root) override {
    return ranks_.Gather(rank_, mine, root);
  }

 private:
  ThreadRanks& ranks_;
  int rank_;
};

// A record's bytes without its times.
std::string Untimed(GradientRecord record) {
  record.run.seconds = record.run.cpu_seconds = record.run.stats.wall_seconds = 0;
  return Serialise(record);
}

TEST(StiffnessStudyOverRanks, RankZeroGetsTheSerialRecords) {
  StiffnessOptions options;
  options.preset = "quick";
  options.problems = {"w1b", "robertson"};  // robertson: a computed reference, dealt to a rank
  options.lambdas = {100, 1e4};
  options.quiet = true;
  options.plots = false;
  std::ostringstream serial_out;
  const StiffnessResults serial = RunStiffnessStudy(options, serial_out);
  ASSERT_GT(serial.records.size(), 10u);
  for (const int size : {2, 3}) {
    ThreadRanks ranks(size);
    std::vector<StiffnessResults> results(size);
    std::vector<std::ostringstream> outs(size);
    std::vector<std::thread> threads;
    for (int r = 0; r < size; ++r) {
      threads.emplace_back([&, r] {
        ThreadRank rank(ranks, r);
        results[r] = RunStiffnessStudy(options, outs[r], rank);
      });
    }
    for (std::thread& t : threads) t.join();
    const StiffnessResults& root = results[0];
    ASSERT_EQ(root.records.size(), serial.records.size()) << size << " ranks";
    for (std::size_t j = 0; j < serial.records.size(); ++j) {
      EXPECT_EQ(Untimed(root.records[j]), Untimed(serial.records[j]))
          << size << " ranks, run " << j << ": " << serial.records[j].run.spec.Label();
    }
    EXPECT_EQ(root.summary, serial.summary);
    EXPECT_EQ(root.notes, serial.notes);
    ASSERT_EQ(root.problems.size(), serial.problems.size());
    for (std::size_t p = 0; p < serial.problems.size(); ++p) {
      EXPECT_EQ(root.problems[p].references, serial.problems[p].references);
      EXPECT_EQ(root.problems[p].methods, serial.problems[p].methods);
    }
    EXPECT_NE(outs[0].str().find("the runs spread over " + std::to_string(size) + " ranks"),
              std::string::npos);
    for (int r = 1; r < size; ++r) {
      EXPECT_TRUE(results[r].records.empty());
      EXPECT_TRUE(outs[r].str().empty()) << outs[r].str();
    }
  }
}

}  // namespace
}  // namespace snode
