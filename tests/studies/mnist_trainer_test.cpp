#include "studies/mnist_trainer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/studies/mnist_test_data.hpp"

namespace snode::mnist {
namespace {

// Fast settings on tiny generated data: 8×8 images, rk4 with two steps, batch 32.
Settings TinySettings(const test_mnist::TempDir& dir, const std::string& out) {
  Settings s;
  s.data.dir = dir.path();
  s.data.split = 160;
  s.solver.integrator = "rk4";
  s.solver.integrator_options.fixed_step = 0.5;
  s.solver.gradient_options.integrator = "rk4";
  s.solver.gradient_options.integrator_options = s.solver.integrator_options;
  s.batch = 32;
  s.lr = 0.01;
  s.epochs = 2;
  s.quiet = true;
  s.out_dir = dir.path() + "/" + out;
  return s;
}

bool Exists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

TEST(MnistTrainer, TrainsReportsEveryEpochAndWritesItsFiles) {
  test_mnist::TempDir dir;
  test_mnist::WriteMnistSet(dir.path(), "t10k", 200, 1);
  const Settings s = TinySettings(dir, "run");
  std::ostringstream out, err;
  const std::vector<EpochRecord> history = RunTraining(s, out, err);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].epoch, 2);
  EXPECT_LT(history[1].train_loss, history[0].train_loss);
  EXPECT_GT(history[1].test_accuracy, 0.5);
  EXPECT_EQ(history[0].nfe_forward, 8);  // two rk4 steps
  EXPECT_EQ(err.str(), "");
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("mnist_classifier: ODE-Net, ", 0), 0u) << text;
  EXPECT_NE(text.find("batch 32 (5 per epoch, last 32)"), std::string::npos) << text;
  EXPECT_NE(text.find("epoch  train loss"), std::string::npos) << text;
  EXPECT_NE(text.find("\nwrote " + s.out_dir + "/{"), std::string::npos) << text;
  for (const char* file : {"checkpoint.snode", "model.snode", "mnist_epochs.csv",
                           "mnist_results.json", "mnist_epochs.dat"}) {
    EXPECT_TRUE(Exists(s.out_dir + "/" + file)) << file;
  }

  Settings evaluate = s;
  evaluate.evaluate = s.out_dir + "/model.snode";
  evaluate.out_dir = dir.path() + "/eval";
  evaluate.threads = 2;
  std::ostringstream eval_out;
  const Evaluation e = RunEvaluate(evaluate, eval_out);
  EXPECT_EQ(e.accuracy, history[1].test_accuracy);
  EXPECT_EQ(e.total, 40);
  EXPECT_NE(eval_out.str().find("test accuracy "), std::string::npos);
  EXPECT_TRUE(Exists(evaluate.out_dir + "/mnist_evaluation.json"));
}

TEST(MnistTrainer, ResumedRunEndsWhereAnUninterruptedOneDoes) {
  test_mnist::TempDir dir;
  test_mnist::WriteMnistSet(dir.path(), "t10k", 200, 2);
  std::ostringstream out, err;
  const Settings whole = TinySettings(dir, "whole");
  const std::vector<EpochRecord> expected = RunTraining(whole, out, err);

  Settings first = TinySettings(dir, "part");
  first.epochs = 1;
  RunTraining(first, out, err);
  Settings rest = TinySettings(dir, "part");
  rest.resume = first.out_dir + "/checkpoint.snode";
  const std::vector<EpochRecord> resumed = RunTraining(rest, out, err);
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[1].train_loss, expected[1].train_loss);
  EXPECT_EQ(resumed[1].test_accuracy, expected[1].test_accuracy);
  const Checkpoint a = LoadCheckpoint(whole.out_dir + "/model.snode");
  const Checkpoint b = LoadCheckpoint(rest.out_dir + "/model.snode");
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (std::size_t k = 0; k < a.parameters.size(); ++k) {
    const Vector& x = a.parameters[k].values;
    const Vector& y = b.parameters[k].values;
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), sizeof(double) * x.size()), 0)
        << a.parameters[k].name;
  }
}

TEST(MnistTrainer, StepLossesAreTheCurveTheEpochLossAverages) {
  test_mnist::TempDir dir;
  test_mnist::WriteMnistSet(dir.path(), "t10k", 200, 3);
  Settings s = TinySettings(dir, "steps");
  s.step_losses = true;
  std::ostringstream out, err;
  const std::vector<EpochRecord> history = RunTraining(s, out, err);
  std::ifstream file(s.out_dir + "/mnist_steps.csv");
  std::string line;
  std::getline(file, line);
  EXPECT_EQ(line, "epoch,batch,loss");
  std::vector<double> sums(2, 0.0);
  int rows = 0;
  long epoch = 0, batch = 0;
  double loss = 0;
  while (std::getline(file, line)) {
    ASSERT_EQ(std::sscanf(line.c_str(), "%ld,%ld,%lf", &epoch, &batch, &loss), 3) << line;
    EXPECT_EQ(batch, rows % 5 + 1);
    sums[static_cast<std::size_t>(epoch - 1)] += loss;
    ++rows;
  }
  EXPECT_EQ(rows, 10);  // 2 epochs of 5 batches
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(sums[e] / 5, history[e].train_loss, 1e-14 * history[e].train_loss);
  }
}

TEST(MnistTrainer, EpochTableRowMatchesTheHeader) {
  EpochRecord r;
  r.epoch = 3;
  r.test_accuracy = 0.5;
  const std::vector<std::string> row = EpochTableRow(r);
  ASSERT_EQ(row.size(), EpochTableHeader().size());
  EXPECT_EQ(row[0], "3");
  EXPECT_EQ(row[2], "50%");
}

}  // namespace
}  // namespace snode::mnist
