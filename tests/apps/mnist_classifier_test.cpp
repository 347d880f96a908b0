// Runs the built mnist_classifier binary on tiny generated IDX data: a short training run, the
// ablation, --evaluate, every bad-input case (one-line error, exit code 1), and resume: a run
// interrupted and resumed ends with the same parameters, bit for bit, as an uninterrupted one.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/checkpoint.hpp"

#ifndef MNIST_CLASSIFIER_PATH
#error "MNIST_CLASSIFIER_PATH must name the mnist_classifier binary"
#endif

namespace snode {
namespace {

using Bytes = std::vector<unsigned char>;
constexpr int kSide = 8;  // 8×8 images keep the input layer (and the runs) small

void PutU32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back((value >> shift) & 0xFF);
}

// Images whose class is a bright 6-pixel stripe at a class-dependent place, plus noise:
// separable, so a few epochs reach a high accuracy.
void MakeData(int count, unsigned seed, Bytes& images, Bytes& labels) {
  std::mt19937 rng(seed);
  images.clear();
  labels.clear();
  PutU32(images, 0x803);
  PutU32(images, count);
  PutU32(images, kSide);
  PutU32(images, kSide);
  PutU32(labels, 0x801);
  PutU32(labels, count);
  for (int j = 0; j < count; ++j) {
    const int label = static_cast<int>(rng() % 10);
    labels.push_back(static_cast<unsigned char>(label));
    for (int p = 0; p < kSide * kSide; ++p) {
      const bool on = p >= label * 6 && p < label * 6 + 6;
      images.push_back(static_cast<unsigned char>(on ? 200 + rng() % 56 : rng() % 60));
    }
  }
}

void WriteFile(const std::string& path, const Bytes& bytes, bool gzip) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
  } else {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};

class MnistClassifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/mnist_classifier_test.XXXXXX";
    dir_ = mkdtemp(name);
    data_ = dir_ + "/data";
    mkdir(data_.c_str(), 0755);
    Bytes images, labels;
    MakeData(300, 1, images, labels);
    WriteFile(data_ + "/train-images-idx3-ubyte.gz", images, true);
    WriteFile(data_ + "/train-labels-idx1-ubyte", labels, false);
    MakeData(100, 2, images, labels);
    WriteFile(data_ + "/t10k-images-idx3-ubyte", images, false);
    WriteFile(data_ + "/t10k-labels-idx1-ubyte.gz", labels, true);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  // shell_prefix runs in the same shell before the binary (e.g. "ulimit -v 4000000;").
  RunResult Run(const std::string& args, const std::string& shell_prefix = "") const {
    const std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    const std::string command =
        shell_prefix + std::string(MNIST_CLASSIFIER_PATH) + " " + args + " > " + out + " 2> " + err;
    const int raw = std::system(command.c_str());
    RunResult result;
    result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    result.out = ReadText(out);
    result.err = ReadText(err);
    return result;
  }

  // Fast defaults for every training run here.
  std::string Train(const std::string& extra, int batch = 32) const {
    return "--data " + data_ + " --batch " + std::to_string(batch) +
           " --lr 0.01 --integrator rk4 --step 0.5 " + extra;
  }

  // The flags of an --evaluate run on this data (training flags do not apply there).
  std::string Evaluate(const std::string& model, const std::string& extra = "") const {
    return "--data " + data_ + " --batch 32 --integrator rk4 --step 0.5 --evaluate " + model + " " +
           extra;
  }

  // Exit code 1 and exactly one line on stderr, "error: ..." containing fragment.
  void ExpectBadInput(const std::string& args, const std::string& fragment,
                      const std::string& shell_prefix = "") const {
    const RunResult r = Run(args, shell_prefix);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    ASSERT_FALSE(r.err.empty()) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos)
        << "expected '" << fragment << "' in " << r.err;
  }

  std::string dir_;
  std::string data_;
};

void ExpectSameParameters(const std::string& a_path, const std::string& b_path) {
  const Checkpoint a = LoadCheckpoint(a_path);
  const Checkpoint b = LoadCheckpoint(b_path);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (std::size_t k = 0; k < a.parameters.size(); ++k) {
    const Vector& x = a.parameters[k].values;
    const Vector& y = b.parameters[k].values;
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), sizeof(double) * x.size()), 0)
        << "block " << a.parameters[k].name << " differs; max |diff| "
        << (x - y).cwiseAbs().maxCoeff();
  }
  EXPECT_EQ(a.optimizer_step, b.optimizer_step);
  EXPECT_EQ(a.rng_state, b.rng_state);
}

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

TEST_F(MnistClassifierTest, UnknownFlagIsOneLineError) {
  ExpectBadInput("--data " + data_ + " --frobnicate 3", "unrecognised option '--frobnicate'");
}

TEST_F(MnistClassifierTest, UnknownIntegratorIsOneLineError) {
  ExpectBadInput("--data " + data_ + " --integrator rk45", "unknown integrator 'rk45'");
}

TEST_F(MnistClassifierTest, UnknownGradientIsOneLineError) {
  ExpectBadInput("--data " + data_ + " --gradient magic", "unknown gradient method 'magic'");
}

TEST_F(MnistClassifierTest, NegativeToleranceIsOneLineError) {
  ExpectBadInput("--data " + data_ + " --rtol -1e-3", "--rtol must be positive");
}

TEST_F(MnistClassifierTest, BadNumbersAreOneLineErrors) {
  ExpectBadInput("--data " + data_ + " --epochs 0", "--epochs");
  ExpectBadInput("--data " + data_ + " --batch 0", "--batch");
  ExpectBadInput("--data " + data_ + " --lr -1", "--lr");
  ExpectBadInput("--data " + data_ + " --threads 0", "--threads");
  ExpectBadInput("--data " + data_ + " --epochs many", "epochs");
  ExpectBadInput("--data " + data_ + " --hidden 0", "--hidden");
  ExpectBadInput("--data " + data_ + " --augment -1", "--augment");
  ExpectBadInput("--data " + data_ + " --augment 9", "--augment");
  ExpectBadInput("--data " + data_ + " --lr-schedule linear", "--lr-schedule");
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

TEST_F(MnistClassifierTest, IncompatibleGradientAndIntegratorIsOneLineError) {
  ExpectBadInput(Train("--epochs 1 --gradient cvodes_adjoint --out " + dir_ + "/o"),
                 "cvodes_adjoint");
}

TEST_F(MnistClassifierTest, MissingDataDirectoryIsOneLineError) {
  ExpectBadInput("--data " + dir_ + "/nowhere", "does not exist");
}

TEST_F(MnistClassifierTest, DirectoryWithoutTrainFilesNeedsSplit) {
  unlink((data_ + "/train-images-idx3-ubyte.gz").c_str());
  ExpectBadInput("--data " + data_, "needs --split");
  // With --split the t10k files alone suffice.
  EXPECT_EQ(Run(Train("--split 70 --epochs 1 --out " + dir_ + "/o")).status, 0);
  ExpectBadInput(Train("--split 100 --out " + dir_ + "/o"), "leaves no test samples");
}

TEST_F(MnistClassifierTest, WrongMagicIsOneLineError) {
  Bytes bytes = {0, 0, 8, 4, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 8};
  bytes.resize(16 + 64);
  WriteFile(data_ + "/t10k-images-idx3-ubyte", bytes, false);
  ExpectBadInput(Train("--out " + dir_ + "/o"), "wrong magic number 0x00000804");
}

TEST_F(MnistClassifierTest, TruncatedIdxIsOneLineError) {
  Bytes images, labels;
  MakeData(100, 2, images, labels);
  images.resize(images.size() - 10);
  WriteFile(data_ + "/t10k-images-idx3-ubyte", images, false);
  ExpectBadInput(Train("--out " + dir_ + "/o"), "truncated");
}

TEST_F(MnistClassifierTest, HeaderClaimingMoreImagesIsOneLineError) {
  Bytes images, labels;
  MakeData(100, 2, images, labels);
  images[7] = 200;  // header count 100 → 200
  WriteFile(data_ + "/t10k-images-idx3-ubyte", images, false);
  ExpectBadInput(Train("--out " + dir_ + "/o"), "header claims 200 images");
}

TEST_F(MnistClassifierTest, CountMismatchIsOneLineError) {
  Bytes images, labels;
  MakeData(90, 2, images, labels);
  WriteFile(data_ + "/t10k-images-idx3-ubyte", images, false);
  ExpectBadInput(Train("--out " + dir_ + "/o"), "holds 90 images but");
}

TEST_F(MnistClassifierTest, LabelOutOfRangeIsOneLineError) {
  Bytes images, labels;
  MakeData(100, 2, images, labels);
  labels[8 + 5] = 11;
  WriteFile(data_ + "/t10k-labels-idx1-ubyte.gz", labels, true);
  ExpectBadInput(Train("--out " + dir_ + "/o"), "label 11 at index 5");
}

TEST_F(MnistClassifierTest, BadCheckpointsAreOneLineErrors) {
  ASSERT_EQ(Run(Train("--epochs 1 --out " + dir_ + "/out")).status, 0);
  const std::string good = ReadText(dir_ + "/out/model.snode");
  const std::string bad = dir_ + "/bad.snode";
  auto write = [&](const std::string& bytes) {
    std::ofstream(bad, std::ios::binary).write(bytes.data(), bytes.size());
  };
  const std::string evaluate = Evaluate(bad, "--out " + dir_ + "/e");
  const std::string resume = Train("--epochs 2 --out " + dir_ + "/e --resume " + bad);

  ExpectBadInput(Evaluate(dir_ + "/none.snode", "--out " + dir_ + "/e"),
                 "--evaluate '" + dir_ + "/none.snode': no such file");
  std::string bytes = good;
  bytes[bytes.size() / 2] ^= 1;
  write(bytes);
  ExpectBadInput(evaluate, "checksum mismatch");
  write(good.substr(0, good.size() - 100));
  ExpectBadInput(resume, "truncated");
  write("GARBAGE!" + good.substr(8));
  ExpectBadInput(evaluate, "wrong magic");

  // NaN in a parameter, with a valid checksum (as a buggy writer would produce).
  const Checkpoint model = LoadCheckpoint(dir_ + "/out/model.snode");
  const double marker = model.Parameter("readout.bias").values[3];
  std::string pattern(8, '\0');
  std::memcpy(pattern.data(), &marker, 8);
  const std::size_t at = good.find(pattern);
  ASSERT_NE(at, std::string::npos);
  bytes = good;
  const double nan = std::nan("");
  std::memcpy(bytes.data() + at, &nan, 8);
  const std::size_t n = bytes.size() - 4;
  const std::uint32_t crc = static_cast<std::uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), n));
  for (int k = 0; k < 4; ++k) bytes[n + k] = static_cast<char>((crc >> (8 * k)) & 0xFF);
  write(bytes);
  ExpectBadInput(evaluate, "non-finite");
  ExpectBadInput(resume, "non-finite");

  // An ablation checkpoint cannot resume the ODE-Net.
  ASSERT_EQ(Run(Train("--no-ode --epochs 1 --out " + dir_ + "/abl")).status, 0);
  ExpectBadInput(Train("--epochs 2 --out " + dir_ + "/e --resume " + dir_ + "/abl/model.snode"),
                 "architecture mismatch");
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

// A trained checkpoint at dir_/c/checkpoint.snode (2 epochs), rewritten after spoil() with a
// valid checksum, as dir_/<name>.
std::string SpoiledCheckpoint(const std::string& dir, const std::string& name,
                              const std::function<void(Checkpoint&)>& spoil) {
  Checkpoint c = LoadCheckpoint(dir + "/c/checkpoint.snode");
  spoil(c);
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << SerializeCheckpoint(c);
  return path;
}

// Case 1: the epoch 2^63 + 5 resumed "at epoch -9223372036854775803" and trained for ever;
// --evaluate accepted it. Case 5: --resume refuses what `checkpoint_tool check` refuses, in the
// same words (one validation).
TEST_F(MnistClassifierTest, ResumeAndEvaluateRefuseCheckpointsOutOfBounds) {
  ASSERT_EQ(Run(Train("--epochs 2 --out " + dir_ + "/c")).status, 0);
  const std::string epoch = SpoiledCheckpoint(
      dir_, "epoch.snode", [](Checkpoint& c) { c.epoch = (std::uint64_t{1} << 63) + 5; });
  const std::string bound =
      "the epoch 9223372036854775813 exceeds the bound 1000000 (completed "
      "epochs)";
  ExpectBadInput(Train("--epochs 3 --resume " + epoch + " --out " + dir_ + "/r"), bound);
  ExpectBadInput(Evaluate(epoch, "--out " + dir_ + "/e"), bound);
  const std::string v = SpoiledCheckpoint(dir_, "v.snode", [](Checkpoint& c) {
    for (NamedBlock& b : c.optimizer_state) {
      if (b.name == "v.readout.bias") b.values[0] = -1;
    }
  });
  ExpectBadInput(Train("--epochs 3 --resume " + v + " --out " + dir_ + "/r"),
                 "checkpoint '" + v +
                     "': Adam second moment 'v.readout.bias' is negative at index "
                     "0 (-1.000000); v must be >= 0");
  const std::string rng =
      SpoiledCheckpoint(dir_, "rng.snode", [](Checkpoint& c) { c.rng_state = "garbage"; });
  ExpectBadInput(Train("--epochs 3 --resume " + rng + " --out " + dir_ + "/r"),
                 "checkpoint '" + rng + "': unreadable RNG state");
  ExpectBadInput(Evaluate(rng, "--out " + dir_ + "/e"), "unreadable RNG state");
}

// Case 3: an unwritable --out was found only after the first epoch's work.
TEST_F(MnistClassifierTest, UnwritableOutIsFoundBeforeAnyWork) {
  const RunResult r = Run(Train("--epochs 2 --out /proc/self"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "") << "work was done before --out was probed";
  EXPECT_EQ(r.err.rfind("error: --out '/proc/self': cannot write there", 0), 0u) << r.err;
}

// Case 3: a flag of another mode is an error naming both; numbers are range-checked.
TEST_F(MnistClassifierTest, FlagOfAnotherModeOrOutOfRangeIsAnError) {
  ASSERT_EQ(Run(Train("--epochs 1 --out " + dir_ + "/c")).status, 0);
  const std::string model = dir_ + "/c/model.snode";
  ExpectBadInput(Evaluate(model, "--lr 0.1 --out " + dir_ + "/e"),
                 "--lr does not apply to mnist_classifier --evaluate (a model file is only "
                 "evaluated); leave it out");
  ExpectBadInput(Evaluate(model, "--seed 3 --out " + dir_ + "/e"),
                 "--seed does not apply to mnist_classifier --evaluate");
  ExpectBadInput(Evaluate(model, "--no-ode --out " + dir_ + "/e"),
                 "--no-ode does not apply to mnist_classifier --evaluate");
  ExpectBadInput("--data " + data_ + " --bench 3 --threads 2 --out " + dir_ + "/b",
                 "--threads does not apply to mnist_classifier --bench");
  ExpectBadInput("--data " + data_ + " --bench 3 --rtol 1e-4 --out " + dir_ + "/b",
                 "--rtol does not apply to mnist_classifier --bench");
  ExpectBadInput(Train("--epochs 2000000 --out " + dir_ + "/o"),
                 "--epochs must be between 1 and 1000000 epochs, got 2000000");
  ExpectBadInput("--data " + data_ + " --lr 1e301 --out " + dir_ + "/o",
                 "--lr must be between 1e-300 and 1e+300 (Adam's learning rate), got 1e+301");
  ExpectBadInput(Train("--split -1 --out " + dir_ + "/o"), "--split must be between 0 and");
  ExpectBadInput(Train("--checkpoint-batches -2 --out " + dir_ + "/o"),
                 "--checkpoint-batches must be between 0 and 100000000");
}

// Case 3: every input path is a regular file, checked before anything is read.
TEST_F(MnistClassifierTest, InputPathsMustBeRegularFiles) {
  ExpectBadInput(Train("--resume " + dir_ + " --out " + dir_ + "/o"),
                 "--resume '" + dir_ + "': is a directory, not a file");
  ExpectBadInput(Train("--resume /dev/zero --out " + dir_ + "/o"),
                 "--resume '/dev/zero': is not a regular file");
  ExpectBadInput(Evaluate("/dev/null", "--out " + dir_ + "/o"),
                 "--evaluate '/dev/null': is not a regular file");
  ExpectBadInput(Train("--train-images " + data_ + " --train-labels " + data_ +
                       "/train-labels-idx1-ubyte --out " + dir_ + "/o"),
                 "--train-images '" + data_ + "': is a directory, not a file");
  const std::string odd = dir_ + "/odd";
  mkdir(odd.c_str(), 0755);
  mkdir((odd + "/t10k-images-idx3-ubyte").c_str(), 0755);
  ExpectBadInput("--data " + odd + " --out " + dir_ + "/o",
                 "--data '" + odd + "/t10k-images-idx3-ubyte': is a directory, not a file");
}

// Case 4: a changed setting on resume was printed as a hex float (0x1.89374bc6a7efap-9).
TEST_F(MnistClassifierTest, ChangedSettingsOnResumeArePrintedAsDecimals) {
  ASSERT_EQ(Run(Train("--epochs 1 --out " + dir_ + "/c")).status, 0);
  const RunResult r =
      Run("--data " + data_ + " --batch 32 --lr 0.003 --integrator rk4 " +
          "--step 0.5 --epochs 2 --resume " + dir_ + "/c/checkpoint.snode --out " + dir_ + "/r");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: resuming with lr = 0.003; the checkpoint was made with 0.01 "),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("0x"), std::string::npos) << r.err;
}

// Case 5: an error of the test-set evaluation said nothing of where it came from.
TEST_F(MnistClassifierTest, EvaluationFailureSaysSo) {
  // One step is too few for dopri5: the training batch is skipped, the evaluation fails.
  const RunResult r = Run("--data " + data_ + " --batch 300 --max-steps 1 --skip-bad-batches " +
                          "--epochs 1 --quiet --out " + dir_ + "/o");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("\nerror: evaluating the test set after epoch 1: ERKStepEvolve failed"),
            std::string::npos)
      << r.err;
  // The case: --lr 1e200 blows the parameters up in the one training step of the epoch.
  const RunResult lr = Run("--data " + data_ + " --batch 300 --lr 1e200 --integrator rk4 " +
                           "--step 0.5 --epochs 1 --quiet --out " + dir_ + "/l");
  EXPECT_EQ(lr.status, 1);
  EXPECT_EQ(lr.err.rfind("error: evaluating the test set after epoch 1: ", 0), 0u) << lr.err;
}

// Case 6: a resume already at its target epoch printed a false "wrote …checkpoint.snode": it
// trains nothing, writes no checkpoint and names only what it wrote (the final outputs, which a
// run killed after its last checkpoint has not written yet).
TEST_F(MnistClassifierTest, ResumeAtTargetEpochTrainsNothingAndSaysWhatItWrote) {
  ASSERT_EQ(Run(Train("--epochs 2 --out " + dir_ + "/c")).status, 0);
  const std::string checkpoint = dir_ + "/c/checkpoint.snode";
  const RunResult r = Run(Train("--epochs 2 --resume " + checkpoint + " --out " + dir_ + "/r"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("nothing left to train: " + checkpoint +
                       " is at epoch 2 and --epochs is 2 (raise --epochs to continue)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("wrote " + dir_ + "/r/{mnist_epochs.csv, mnist_results.json, model.snode}"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("checkpoint.snode,"), std::string::npos) << r.out;
  struct stat info {};
  EXPECT_NE(stat((dir_ + "/r/checkpoint.snode").c_str(), &info), 0);
  ExpectSameParameters(dir_ + "/c/model.snode", dir_ + "/r/model.snode");
}

// Case 7: one 4096x4096 image per file (16 KB gzipped) ended in std::bad_alloc (exit 2) under a
// 4 GB address-space limit, and wanted more than 34 GB without one. The memory estimate refuses
// it before the model is allocated, under the same limit.
TEST_F(MnistClassifierTest, HugeImagesAreRefusedBeforeAllocation) {
  const std::string big = dir_ + "/big";
  mkdir(big.c_str(), 0755);
  Bytes images;
  PutU32(images, 0x803);
  PutU32(images, 1);
  PutU32(images, 4096);
  PutU32(images, 4096);
  images.resize(images.size() + 4096 * 4096, 0);
  Bytes labels;
  PutU32(labels, 0x801);
  PutU32(labels, 1);
  labels.push_back(3);
  for (const char* set : {"train", "t10k"}) {
    WriteFile(big + "/" + set + "-images-idx3-ubyte.gz", images, true);
    WriteFile(big + "/" + set + "-labels-idx1-ubyte.gz", labels, true);
  }
  const std::string message =
      "images of 4096x4096 pixels need a model of 1073750922 parameters: an estimated 96 GiB "
      "(parameters, gradients, Adam state and a batch of 128 with --hidden 64 and --threads 1), "
      "more than the classifier's limit of 2 GiB";
  // Under a 4 GB address-space limit, as the failure was seen. A sanitized binary cannot start
  // under one (its shadow memory alone reserves terabytes); without the limit, its allocator
  // would abort on a 96 GiB request, so the check still shows that nothing was allocated.
#if defined(__SANITIZE_ADDRESS__)
  const std::string limit;
#else
  const std::string limit = "ulimit -v 4000000; ";
#endif
  ExpectBadInput("--data " + big + " --epochs 1 --out " + dir_ + "/o", message, limit);
}

}  // namespace
}  // namespace snode
