// Runs the built mnist_classifier binary on tiny generated IDX data: a short training run, the
// ablation, --evaluate, threads, the gradient check and resume: a run interrupted and resumed ends
// with the same parameters, bit for bit, as an uninterrupted one. Bad input:
// mnist_classifier_bad_input_test.cpp.

#include "tests/apps/mnist_classifier_fixture.hpp"

namespace snode {
namespace {

using namespace mnist_test;  // the fixture and its data helpers
TEST_F(MnistClassifierTest, ShortTrainingRunLearnsAndWritesOutputs) {
  const RunResult r = Run(Train("--epochs 3 --out " + dir_ + "/out"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("test acc"), std::string::npos) << r.out;
  const std::string csv = ReadText(dir_ + "/out/mnist_epochs.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;  // header + 3 epochs
  const std::string json = ReadText(dir_ + "/out/mnist_results.json");
  const std::size_t at = json.find("\"final_test_accuracy\":");
  ASSERT_NE(at, std::string::npos) << json;
  EXPECT_GT(std::atof(json.c_str() + at + 22), 0.8) << json;
  const Checkpoint model = LoadCheckpoint(dir_ + "/out/model.snode");
  EXPECT_EQ(model.epoch, 3u);
  EXPECT_EQ(model.architecture.rfind("mnist_odenet", 0), 0u);
}

TEST_F(MnistClassifierTest, AdaptiveDopri5WithAdjointRuns) {
  const RunResult r =
      Run("--data " + data_ + " --batch 50 --epochs 1 --gradient backsolve_adjoint --out " + dir_ +
          "/out");
  ASSERT_EQ(r.status, 0) << r.err;
}

TEST_F(MnistClassifierTest, AblationTrains) {
  const RunResult r = Run(Train("--no-ode --epochs 3 --out " + dir_ + "/out"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(LoadCheckpoint(dir_ + "/out/model.snode").architecture.rfind("mnist_ablation", 0), 0u);
}

TEST_F(MnistClassifierTest, EvaluatePrintsTheTrainedAccuracy) {
  ASSERT_EQ(Run(Train("--epochs 2 --out " + dir_ + "/out")).status, 0);
  const std::string json = ReadText(dir_ + "/out/mnist_results.json");
  const RunResult r = Run("--data " + data_ + " --integrator rk4 --step 0.5 --batch 32 " +
                          "--evaluate " + dir_ + "/out/model.snode --out " + dir_ + "/eval");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;
  const std::string eval = ReadText(dir_ + "/eval/mnist_evaluation.json");
  auto accuracy = [](const std::string& text, const std::string& key) {
    const std::size_t at = text.rfind("\"" + key + "\":");
    return at == std::string::npos ? -1.0 : std::atof(text.c_str() + at + key.size() + 3);
  };
  EXPECT_EQ(accuracy(eval, "test_accuracy"), accuracy(json, "final_test_accuracy"));
}

TEST_F(MnistClassifierTest, TwoThreadsGiveTheSameAccuracyWithFixedSteps) {
  ASSERT_EQ(Run(Train("--epochs 1 --out " + dir_ + "/one", 64)).status, 0);
  ASSERT_EQ(Run(Train("--epochs 1 --threads 2 --out " + dir_ + "/two", 64)).status, 0);
  const Checkpoint one = LoadCheckpoint(dir_ + "/one/model.snode");
  const Checkpoint two = LoadCheckpoint(dir_ + "/two/model.snode");
  // rk4: each sample's ODE is independent of the others, so splitting the batch over threads
  // changes only the summation order of the gradient.
  for (std::size_t k = 0; k < one.parameters.size(); ++k) {
    const Vector& a = one.parameters[k].values;
    const Vector& b = two.parameters[k].values;
    EXPECT_LT((a - b).cwiseAbs().maxCoeff(), 1e-9) << one.parameters[k].name;
  }
}

TEST_F(MnistClassifierTest, ResumeAfterOneEpochIsBitIdentical) {
  ASSERT_EQ(Run(Train("--epochs 2 --out " + dir_ + "/straight")).status, 0);
  ASSERT_EQ(Run(Train("--epochs 1 --out " + dir_ + "/split")).status, 0);
  const RunResult r = Run(
      Train("--epochs 2 --resume " + dir_ + "/split/checkpoint.snode --out " + dir_ + "/split"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;  // same flags: no "resuming with" note
  ExpectSameParameters(dir_ + "/straight/model.snode", dir_ + "/split/model.snode");
  // The resumed run's CSV holds both epochs.
  const std::string csv = ReadText(dir_ + "/split/mnist_epochs.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
}

TEST_F(MnistClassifierTest, ResumeInsideAnEpochIsBitIdentical) {
  ASSERT_EQ(Run(Train("--epochs 2 --out " + dir_ + "/straight")).status, 0);
  // 300 samples / 32 = 10 batches per epoch; stop abruptly after 13 with checkpoints every 2.
  const RunResult stopped =
      Run(Train("--epochs 2 --checkpoint-batches 2 --stop-after-batches 13 --out " + dir_ + "/k"));
  ASSERT_EQ(stopped.status, 3) << stopped.err;
  const Checkpoint mid = LoadCheckpoint(dir_ + "/k/checkpoint.snode");
  EXPECT_EQ(mid.epoch, 1u);
  EXPECT_EQ(mid.iteration, 2u);
  const RunResult r = Run(Train("--epochs 2 --checkpoint-batches 2 --resume " + dir_ +
                                "/k/checkpoint.snode --out " + dir_ + "/k"));
  ASSERT_EQ(r.status, 0) << r.err;
  ExpectSameParameters(dir_ + "/straight/model.snode", dir_ + "/k/model.snode");
}

// SIGKILL at random moments (checkpoints after every batch), each time resuming from whatever
// checkpoint exists: every checkpoint loads and the end result equals the uninterrupted run.
TEST_F(MnistClassifierTest, KilledRunsResumeBitIdentically) {
  ASSERT_EQ(Run(Train("--epochs 2 --out " + dir_ + "/straight")).status, 0);
  const std::string out = dir_ + "/killed";
  const std::string checkpoint = out + "/checkpoint.snode";
  std::mt19937 rng(7);
  for (int round = 0; round < 3; ++round) {
    std::string args = Train("--epochs 2 --checkpoint-batches 1 --out " + out);
    struct stat info {};
    if (stat(checkpoint.c_str(), &info) == 0) args += " --resume " + checkpoint;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string command =
          std::string("exec ") + MNIST_CLASSIFIER_PATH + " " + args + " > /dev/null 2> /dev/null";
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (stat(checkpoint.c_str(), &info) == 0) {
      EXPECT_NO_THROW(LoadCheckpoint(checkpoint)) << "after kill " << round;
    }
  }
  std::string args = Train("--epochs 2 --checkpoint-batches 1 --out " + out);
  struct stat info {};
  if (stat(checkpoint.c_str(), &info) == 0) args += " --resume " + checkpoint;
  const RunResult r = Run(args);
  ASSERT_EQ(r.status, 0) << r.err;
  ExpectSameParameters(dir_ + "/straight/model.snode", out + "/model.snode");
}

// The app's whole chain (input layer from dL/dz0, ODE block, read-out) against central
// differences of the batch loss: rk4 + bptt differentiate the same discrete map, so 1e-6 holds.
TEST_F(MnistClassifierTest, CheckGradientsAgreesWithFiniteDifferences) {
  for (const std::string mode : {"", "--no-ode"}) {
    const RunResult r = Run(
        Train("--epochs 1 --limit-train 40 --check-gradients " + mode + " --out " + dir_ + "/gc"));
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string key = "max relative error ";
    const std::size_t at = r.out.find(key);
    ASSERT_NE(at, std::string::npos) << r.out;
    EXPECT_LT(std::atof(r.out.c_str() + at + key.size()), 1e-6) << r.out;
  }
}

// --check-gradient: CheckGradient on the ODE block of the first batch before training (rk4 +
// bptt: the same discrete map as the reference, so it passes far inside its tolerance), and then
// the block check as with --check-gradients. Without the ODE block only the block check runs.
TEST_F(MnistClassifierTest, CheckGradientChecksTheFirstBatchBeforeTraining) {
  const RunResult r =
      Run(Train("--epochs 1 --limit-train 40 --check-gradient --out " + dir_ + "/cg"));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string head = "gradient check the first batch (32 samples, initial parameters): ";
  EXPECT_NE(r.out.find(head + "bptt/rk4 vs central differences"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(head + "pass"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a seeded random subset plus random directions"), std::string::npos);
  EXPECT_NE(r.out.find("gradient check on the first batch (32 samples)"), std::string::npos);
  const RunResult ablation =
      Run(Train("--epochs 1 --limit-train 40 --check-gradient --no-ode "
                "--out " +
                dir_ + "/cg2"));
  ASSERT_EQ(ablation.status, 0) << ablation.err;
  EXPECT_NE(ablation.out.find("--no-ode has no ODE block"), std::string::npos) << ablation.out;
}

TEST_F(MnistClassifierTest, CheckGradientBadInput) {
  ExpectBadInput(Train("--check-gradient --evaluate " + dir_ + "/none.snode"),
                 "--check-gradient checks training gradients, not with --evaluate");
  ExpectBadInput(Train("--check-gradient --bench 1"), "--check-gradient is not taken with --bench");
  ExpectBadInput(Train("--check-gradient --check-gradient-reference magic"),
                 "--check-gradient-reference: unknown gradient method 'magic'");
  ExpectBadInput(Train("--check-gradient-reference bptt"),
                 "--check-gradient-reference needs --check-gradient");
}

// --skip-bad-batches: a batch whose solve or gradient fails is skipped with a warning and
// counted, parameters and Adam state stay as they were, and every checkpoint written after the
// fault loads (LoadCheckpoint rejects NaN/Inf) and equals the one before it. The fault:
// --lr 1e200 makes Adam's first step move every parameter by about 1e200, so from batch 2 on the
// forward pass overflows (NaN/Inf in the solve, the loss or the gradient).
TEST_F(MnistClassifierTest, SkipBadBatchesSkipsFaultsAndKeepsCheckpointsValid) {
  // Train() sets --lr 0.01, so the flags are spelled out here.
  const auto faulty = [&](const std::string& extra) {
    return "--data " + data_ + " --batch 32 --integrator rk4 --step 0.5 --epochs 1 --lr 1e200 " +
           "--checkpoint-batches 1 " + extra;
  };
  // The checkpoint after the one good batch.
  ASSERT_EQ(Run(faulty("--stop-after-batches 1 --out " + dir_ + "/one")).status, 3);
  const Checkpoint one = LoadCheckpoint(dir_ + "/one/checkpoint.snode");
  EXPECT_EQ(one.iteration, 1u);

  // Without the option the first fault ends the run with a one-line error; the checkpoint on
  // disk is still the one after batch 1.
  const RunResult stopped = Run(faulty("--out " + dir_ + "/stop"));
  EXPECT_EQ(stopped.status, 1) << stopped.err;
  EXPECT_EQ(stopped.err.rfind("error: ", 0), 0u) << stopped.err;
  EXPECT_EQ(stopped.err.find('\n'), stopped.err.size() - 1) << "not one line: " << stopped.err;
  ExpectSameParameters(dir_ + "/one/checkpoint.snode", dir_ + "/stop/checkpoint.snode");

  // With it, batches 2..5 are skipped, one warning each, and counted in the checkpoint.
  const RunResult skipped =
      Run(faulty("--skip-bad-batches --stop-after-batches 5 --out " + dir_ + "/skip"));
  ASSERT_EQ(skipped.status, 3) << skipped.err;
  std::size_t warnings = 0;
  for (std::size_t at = skipped.err.find("warning: skipped batch "); at != std::string::npos;
       at = skipped.err.find("warning: skipped batch ", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 4u) << skipped.err;
  EXPECT_NE(skipped.err.find("warning: skipped batch 2 of epoch 1: "), std::string::npos)
      << skipped.err;
  const Checkpoint after = LoadCheckpoint(dir_ + "/skip/checkpoint.snode");
  EXPECT_EQ(after.iteration, 5u);
  EXPECT_EQ(after.Metadata("epoch_skipped"), "4");
  EXPECT_EQ(after.Metadata("epoch_batches_done"), "1");
  for (const NamedBlock& block : after.parameters) {
    EXPECT_TRUE(block.values.allFinite()) << block.name;
  }
  for (const NamedBlock& block : after.optimizer_state) {
    EXPECT_TRUE(block.values.allFinite()) << block.name;
  }
  ExpectSameParameters(dir_ + "/one/checkpoint.snode", dir_ + "/skip/checkpoint.snode");
  for (std::size_t k = 0; k < one.optimizer_state.size(); ++k) {
    EXPECT_TRUE(one.optimizer_state[k].values == after.optimizer_state[k].values)
        << one.optimizer_state[k].name;
  }
}

bool SameParameters(const std::string& a_path, const std::string& b_path) {
  const Checkpoint a = LoadCheckpoint(a_path);
  const Checkpoint b = LoadCheckpoint(b_path);
  if (a.parameters.size() != b.parameters.size()) return false;
  for (std::size_t k = 0; k < a.parameters.size(); ++k) {
    if (a.parameters[k].values != b.parameters[k].values) return false;
  }
  return true;
}

// --augment and --lr-schedule cosine change the updates, deterministically, and still learn.
TEST_F(MnistClassifierTest, AugmentAndCosineScheduleChangeTrainingDeterministically) {
  ASSERT_EQ(Run(Train("--epochs 3 --out " + dir_ + "/base")).status, 0);
  for (const std::string flags : {"--augment 1", "--lr-schedule cosine"}) {
    const RunResult r = Run(Train("--epochs 3 " + flags + " --out " + dir_ + "/a"));
    ASSERT_EQ(r.status, 0) << flags << "\n" << r.err;
    ASSERT_EQ(Run(Train("--epochs 3 " + flags + " --out " + dir_ + "/b")).status, 0);
    EXPECT_TRUE(SameParameters(dir_ + "/a/model.snode", dir_ + "/b/model.snode")) << flags;
    EXPECT_FALSE(SameParameters(dir_ + "/a/model.snode", dir_ + "/base/model.snode")) << flags;
    const std::string json = ReadText(dir_ + "/a/mnist_results.json");
    const std::size_t at = json.find("\"final_test_accuracy\":");
    ASSERT_NE(at, std::string::npos) << json;
    EXPECT_GT(std::atof(json.c_str() + at + 22), 0.5) << flags << "\n" << json;
  }
}

// The shifts and the learning rate depend only on (seed, epoch, batch), so a resume inside an
// epoch repeats an uninterrupted run bit for bit.
TEST_F(MnistClassifierTest, ResumeWithAugmentAndCosineIsBitIdentical) {
  const std::string flags = "--epochs 2 --augment 2 --lr-schedule cosine ";
  ASSERT_EQ(Run(Train(flags + "--out " + dir_ + "/straight")).status, 0);
  const RunResult stopped =
      Run(Train(flags + "--checkpoint-batches 2 --stop-after-batches 13 --out " + dir_ + "/k"));
  ASSERT_EQ(stopped.status, 3) << stopped.err;
  const RunResult r = Run(Train(flags + "--checkpoint-batches 2 --resume " + dir_ +
                                "/k/checkpoint.snode --out " + dir_ + "/k"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  ExpectSameParameters(dir_ + "/straight/model.snode", dir_ + "/k/model.snode");
}

// --hidden sets the width of z: the blocks have the stated sizes, the model learns, and
// --evaluate needs the same width (else a one-line architecture mismatch).
TEST_F(MnistClassifierTest, HiddenSetsTheWidth) {
  const RunResult r = Run(Train("--epochs 3 --hidden 16 --out " + dir_ + "/out"));
  ASSERT_EQ(r.status, 0) << r.err;
  const Checkpoint model = LoadCheckpoint(dir_ + "/out/model.snode");
  EXPECT_NE(model.architecture.find("17->16->16"), std::string::npos) << model.architecture;
  for (const NamedBlock& block : model.parameters) {
    if (block.name == "input.weight") {
      EXPECT_EQ(block.values.size(), 16 * kSide * kSide);
    }
    if (block.name == "input.bias") {
      EXPECT_EQ(block.values.size(), 16);
    }
    if (block.name == "ode.theta") {
      EXPECT_EQ(block.values.size(), 17 * 16 + 16 + 16 * 16 + 16);
    }
    if (block.name == "readout.weight") {
      EXPECT_EQ(block.values.size(), 10 * 16);
    }
  }
  const std::string json = ReadText(dir_ + "/out/mnist_results.json");
  const std::size_t at = json.find("\"final_test_accuracy\":");
  ASSERT_NE(at, std::string::npos) << json;
  EXPECT_GT(std::atof(json.c_str() + at + 22), 0.8) << json;
  const std::string eval = "--data " + data_ + " --integrator rk4 --step 0.5 --evaluate " + dir_ +
                           "/out/model.snode --out " + dir_ + "/eval";
  EXPECT_EQ(Run(eval + " --hidden 16").status, 0);
  ExpectBadInput(eval, "architecture mismatch");
}

TEST_F(MnistClassifierTest, HelpAndListsExitZero) {
  RunResult r = Run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--no-ode"), std::string::npos);
  r = Run("--list-integrators");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("dopri5"), std::string::npos);
  r = Run("--list-gradients");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("backsolve_adjoint"), std::string::npos);
}

TEST_F(MnistClassifierTest, ConfigFileSetsOptions) {
  std::ofstream(dir_ + "/run.cfg") << "epochs = 1\nno-ode = true\nbatch = 25\ndata = " << data_
                                   << "\nout = " << dir_ << "/cfg\n";
  const RunResult r = Run("--config " + dir_ + "/run.cfg");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("ablation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("batch 25"), std::string::npos) << r.out;
  ExpectBadInput("--config " + dir_ + "/missing.cfg", "cannot read --config file");
}

// ---- issue 19: reliability, round 2 ----

}  // namespace
}  // namespace snode
