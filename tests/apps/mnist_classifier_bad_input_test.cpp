// Runs the built mnist_classifier binary on bad input: every case ends with one line `error: …` and
// exit status 1 (unknown names and flags, bad numbers, flags of another mode, bad data and
// checkpoint files, an unwritable --out, images too large for memory), and the messages of resume
// and evaluation say what happened.

#include "tests/apps/mnist_classifier_fixture.hpp"

namespace snode {
namespace {

using namespace mnist_test;  // the fixture and its data helpers

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
  ExpectBadInput("--data " + data_ + " --batch-parts -1", "--batch-parts");
  ExpectBadInput("--data " + data_ + " --batch-parts 4097", "--batch-parts");
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
  ExpectBadInput(Evaluate(model, "--batch-parts 2 --out " + dir_ + "/e"),
                 "--batch-parts does not apply to mnist_classifier --evaluate");
  ExpectBadInput(Evaluate(model, "--step-losses --out " + dir_ + "/e"),
                 "--step-losses does not apply to mnist_classifier --evaluate");
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
  EXPECT_EQ(lr.status, 1) << lr.err << lr.out;
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
