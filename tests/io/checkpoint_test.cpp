#include "io/checkpoint.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.hpp"

namespace snode {
namespace {

Checkpoint Example(Index size = 7) {
  Checkpoint checkpoint;
  checkpoint.architecture =
      "mnist_odenet input=784-64 ode=mlp:65-64-64:tanh,identity readout=64-10";
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal;
  Vector weights(size);
  for (Index k = 0; k < size; ++k) weights[k] = normal(rng);
  Vector bias(2);
  bias << 1234.5, -0.0;
  checkpoint.parameters = {{"input.weight", weights}, {"input.bias", bias}, {"empty", Vector()}};
  checkpoint.optimizer = "adam";
  checkpoint.optimizer_step = 123456789012345ULL;
  checkpoint.optimizer_state = {{"m", weights * 0.5}, {"v", weights.cwiseAbs2()}};
  std::ostringstream state;
  state << rng;
  checkpoint.rng_state = state.str();
  checkpoint.epoch = 3;
  checkpoint.iteration = 17;
  checkpoint.metadata = {{"integrator", "dopri5"}, {"note", std::string("a\0b", 3)}};
  return checkpoint;
}

void ExpectSame(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.architecture, b.architecture);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (std::size_t k = 0; k < a.parameters.size(); ++k) {
    EXPECT_EQ(a.parameters[k].name, b.parameters[k].name);
    ASSERT_EQ(a.parameters[k].values.size(), b.parameters[k].values.size());
    // Bit for bit, including the sign of zero. An empty block has data() == nullptr, which
    // memcmp must not receive even with a zero length (UBSan reports it).
    if (a.parameters[k].values.size() == 0) continue;
    EXPECT_EQ(std::memcmp(a.parameters[k].values.data(), b.parameters[k].values.data(),
                          sizeof(double) * a.parameters[k].values.size()),
              0);
  }
  EXPECT_EQ(a.optimizer, b.optimizer);
  EXPECT_EQ(a.optimizer_step, b.optimizer_step);
  ASSERT_EQ(a.optimizer_state.size(), b.optimizer_state.size());
  for (std::size_t k = 0; k < a.optimizer_state.size(); ++k) {
    EXPECT_EQ(a.optimizer_state[k].name, b.optimizer_state[k].name);
    EXPECT_EQ(a.optimizer_state[k].values, b.optimizer_state[k].values);
  }
  EXPECT_EQ(a.rng_state, b.rng_state);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.iteration, b.iteration);
  EXPECT_EQ(a.metadata, b.metadata);
}

// Recomputes the trailing CRC-32 after a deliberate edit, so a test reaches the check after it.
void FixChecksum(std::string& bytes) {
  const std::size_t n = bytes.size() - 4;
  const std::uint32_t crc = static_cast<std::uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), n));
  for (int k = 0; k < 4; ++k) bytes[n + k] = static_cast<char>((crc >> (8 * k)) & 0xFF);
}

template <class F>
void ExpectInputError(F&& load, const std::string& fragment) {
  try {
    load();
    ADD_FAILURE() << "no InputError; expected one mentioning '" << fragment << "'";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/checkpoint_test.XXXXXX";
    path_ = mkdtemp(name);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    DIR* dir = opendir(path_.c_str());
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(dir);
    return names;
  }

 private:
  std::string path_;
};

TEST(Checkpoint, RoundTripInMemoryIsExact) {
  const Checkpoint original = Example();
  const std::string bytes = SerializeCheckpoint(original);
  EXPECT_EQ(bytes.compare(0, 8, "SNODECKP"), 0);
  ExpectSame(original, ParseCheckpoint(bytes, "memory", original.architecture));
}

TEST(Checkpoint, RoundTripThroughFileIsExactAndRngResumes) {
  TempDir dir;
  const std::string path = dir.path() + "/model.ckpt";
  const Checkpoint original = Example(1000);
  SaveCheckpoint(original, path);
  const Checkpoint loaded = LoadCheckpoint(path, original.architecture);
  ExpectSame(original, loaded);
  EXPECT_EQ(loaded.Parameter("input.bias").values[0], 1234.5);
  EXPECT_EQ(loaded.OptimizerState("v").values.size(), 1000);
  EXPECT_EQ(loaded.Metadata("integrator"), "dopri5");
  EXPECT_EQ(loaded.Metadata("absent", "x"), "x");
  EXPECT_THROW(loaded.Parameter("absent"), InputError);
  // The restored generator continues the saved one's sequence.
  std::mt19937_64 a(42), b;
  std::istringstream(loaded.rng_state) >> b;
  std::normal_distribution<double> normal;
  for (int k = 0; k < 1000; ++k) normal(a);
  EXPECT_EQ(a(), b());
  // Only the checkpoint remains: no temporary files.
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"model.ckpt"});
}

TEST(Checkpoint, OverwriteReplacesOldFile) {
  TempDir dir;
  const std::string path = dir.path() + "/model.ckpt";
  Checkpoint first = Example();
  SaveCheckpoint(first, path);
  Checkpoint second = Example();
  second.epoch = 4;
  SaveCheckpoint(second, path);
  EXPECT_EQ(LoadCheckpoint(path).epoch, 4u);
  EXPECT_EQ(dir.Files().size(), 1u);
}

TEST(Checkpoint, SaveRemovesTemporariesOfDeadWritersOnly) {
  TempDir dir;
  const std::string path = dir.path() + "/model.ckpt";
  // A writer that has exited: a child that ends at once and has been reaped.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  const std::string stale = path + ".tmp." + std::to_string(child) + ".abc123";
  const std::string live = path + ".tmp." + std::to_string(getppid()) + ".def456";  // running
  const std::string foreign = path + ".tmp.Qx81zz";  // not of this naming: left alone
  for (const std::string& name : {stale, live, foreign}) std::ofstream(name) << "partial";
  SaveCheckpoint(Example(), path);
  std::vector<std::string> files = dir.Files();
  std::sort(files.begin(), files.end());
  std::vector<std::string> expected = {"model.ckpt", live.substr(dir.path().size() + 1),
                                       foreign.substr(dir.path().size() + 1)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(files, expected);
  EXPECT_EQ(LoadCheckpoint(path).epoch, Example().epoch);
}

TEST(Checkpoint, MissingFileIsInputError) {
  ExpectInputError([] { LoadCheckpoint("/nonexistent/model.ckpt"); }, "No such file");
}

TEST(Checkpoint, WrongMagicIsInputError) {
  std::string bytes = SerializeCheckpoint(Example());
  bytes[3] = 'X';
  ExpectInputError([&] { ParseCheckpoint(bytes, "m"); }, "wrong magic");
  ExpectInputError([&] { ParseCheckpoint("P6\n28 28\n255\n", "m"); }, "wrong magic");
}

TEST(Checkpoint, UnsupportedVersionIsInputError) {
  std::string bytes = SerializeCheckpoint(Example());
  bytes[8] = 2;
  FixChecksum(bytes);
  ExpectInputError([&] { ParseCheckpoint(bytes, "v"); }, "unsupported format version 2");
}

TEST(Checkpoint, FlippedByteIsChecksumMismatch) {
  std::string bytes = SerializeCheckpoint(Example());
  bytes[bytes.size() / 2] ^= 0x10;
  ExpectInputError([&] { ParseCheckpoint(bytes, "f"); }, "checksum mismatch");
}

TEST(Checkpoint, EveryFlippedBitIsRejected) {
  const std::string good = SerializeCheckpoint(Example());
  for (std::size_t k = 0; k < good.size(); ++k) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::string bytes = good;
      bytes[k] ^= static_cast<char>(1 << bit);
      EXPECT_THROW(ParseCheckpoint(bytes, "f"), InputError) << "byte " << k << " bit " << bit;
    }
  }
}

TEST(Checkpoint, TruncationAtEveryOffsetIsInputError) {
  const std::string good = SerializeCheckpoint(Example());
  for (std::size_t length = 0; length < good.size(); ++length) {
    try {
      ParseCheckpoint(good.substr(0, length), "t");
      ADD_FAILURE() << "truncation to " << length << " bytes accepted";
    } catch (const InputError& error) {
      const std::string message = error.what();
      EXPECT_TRUE(message.find("truncated") != std::string::npos ||
                  (length == 0 && message.find("magic") != std::string::npos))
          << length << ": " << message;
    }
  }
}

TEST(Checkpoint, TruncatedFileOnDiskIsInputError) {
  TempDir dir;
  const std::string path = dir.path() + "/model.ckpt";
  const std::string good = SerializeCheckpoint(Example());
  std::ofstream(path, std::ios::binary).write(good.data(), good.size() - 9);
  ExpectInputError([&] { LoadCheckpoint(path); }, "truncated");
}

TEST(Checkpoint, TrailingBytesAreInputError) {
  std::string bytes = SerializeCheckpoint(Example()) + "xyz";
  ExpectInputError([&] { ParseCheckpoint(bytes, "x"); }, "unexpected bytes");
}

TEST(Checkpoint, ArchitectureMismatchIsInputError) {
  const std::string bytes = SerializeCheckpoint(Example());
  ExpectInputError([&] { ParseCheckpoint(bytes, "a", "mnist_ablation 784-64-tanh-10"); },
                   "architecture mismatch");
}

TEST(Checkpoint, NanOrInfValueIsInputError) {
  const std::string good = SerializeCheckpoint(Example());
  // Find the stored 1234.5 (input.bias[0]) and replace it by NaN, then +Inf.
  const double marker = 1234.5;
  std::string pattern(8, '\0');
  std::memcpy(pattern.data(), &marker, 8);  // the file is little-endian, as is this machine
  const std::size_t at = good.find(pattern);
  ASSERT_NE(at, std::string::npos);
  for (const double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    std::string bytes = good;
    std::memcpy(bytes.data() + at, &bad, 8);
    FixChecksum(bytes);
    ExpectInputError([&] { ParseCheckpoint(bytes, "n"); },
                     "parameter block 'input.bias' has a non-finite value");
  }
}

TEST(Checkpoint, SavingNanIsRefused) {
  TempDir dir;
  Checkpoint checkpoint = Example();
  checkpoint.optimizer_state[1].values[2] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(SaveCheckpoint(checkpoint, dir.path() + "/x.ckpt"), NumericalError);
  EXPECT_TRUE(dir.Files().empty());
}

TEST(Checkpoint, BlockClaimingHugeLengthIsInputError) {
  Checkpoint checkpoint;
  checkpoint.parameters = {{"w", Vector::Constant(1, 3.0)}};
  std::string bytes = SerializeCheckpoint(checkpoint);
  // The count of block "w" follows its name; set its high byte.
  const std::size_t at = bytes.find('w') + 1;
  bytes[at + 7] = 0x7F;
  FixChecksum(bytes);
  ExpectInputError([&] { ParseCheckpoint(bytes, "h"); }, "malformed");
}

// A counter beyond its bound (here the epoch 2^63 + 5, which a resume read as
// -9223372036854775803 and then trained for ever) is refused, naming the field and the bound.
TEST(Checkpoint, CounterAboveItsBoundIsInputError) {
  Checkpoint epoch = Example();
  epoch.epoch = (std::uint64_t{1} << 63) + 5;
  ExpectInputError([&] { ParseCheckpoint(SerializeCheckpoint(epoch), "e"); },
                   "checkpoint 'e': the epoch 9223372036854775813 exceeds the bound 1000000 "
                   "(completed epochs)");
  Checkpoint iteration = Example();
  iteration.iteration = 1000000000000ULL;
  ExpectInputError([&] { ParseCheckpoint(SerializeCheckpoint(iteration), "i"); },
                   "the iteration 1000000000000 exceeds the bound 100000000");
  Checkpoint step = Example();
  step.optimizer_step = (std::uint64_t{1} << 53) + 1;
  ExpectInputError([&] { ParseCheckpoint(SerializeCheckpoint(step), "s"); },
                   "the optimiser step 9007199254740993 exceeds the bound 9007199254740992");
  Checkpoint at_bounds = Example();
  at_bounds.epoch = kMaxCheckpointEpoch;
  at_bounds.iteration = kMaxCheckpointIteration;
  at_bounds.optimizer_step = kMaxCheckpointOptimizerStep;
  EXPECT_NO_THROW(ParseCheckpoint(SerializeCheckpoint(at_bounds), "b"));
}

// A training checkpoint as the MNIST trainer writes one: m./v. blocks per parameter block, an
// RNG state and the position metadata.
Checkpoint TrainingExample() {
  Checkpoint c = Example();
  c.parameters.pop_back();  // no empty block
  c.optimizer_state.clear();
  for (const char* moment : {"m.", "v."}) {
    for (const NamedBlock& p : c.parameters) {
      c.optimizer_state.push_back({moment + p.name, p.values.cwiseAbs()});
    }
  }
  c.optimizer_step = 40;
  c.metadata = {{"epoch_batches_done", "15"},
                {"epoch_skipped", "2"},
                {"epoch_loss_sum", "0x1.8p+3"},
                {"epoch_seconds", "1.5"},
                {"history", R"([{"epoch":1},{"epoch":2,"skipped_batches":0}])"}};
  return c;
}

TEST(Checkpoint, ValidTrainingCheckpointPassesValidation) {
  EXPECT_NO_THROW(ValidateTrainingCheckpoint(TrainingExample(), "t"));
  Checkpoint model_file = TrainingExample();  // no optimiser: a model file
  model_file.optimizer.clear();
  model_file.optimizer_state.clear();
  model_file.optimizer_step = 0;
  model_file.rng_state.clear();
  EXPECT_NO_THROW(ValidateTrainingCheckpoint(model_file, "t"));
}

// What --resume refused and `checkpoint_tool check` accepted: one validation now rejects each.
TEST(Checkpoint, ValidationRejectsWhatAResumeCannotUse) {
  auto expect = [](const std::function<void(Checkpoint&)>& spoil, const std::string& fragment) {
    Checkpoint c = TrainingExample();
    spoil(c);
    // Through the file image too: nothing the format keeps makes it valid again.
    const Checkpoint parsed = ParseCheckpoint(SerializeCheckpoint(c), "t");
    ExpectInputError([&] { ValidateTrainingCheckpoint(parsed, "t"); }, fragment);
  };
  expect([](Checkpoint& c) { c.optimizer_state[3].values[1] = -1; },
         "checkpoint 't': Adam second moment 'v.input.bias' is negative at index 1 (-1.000000); "
         "v must be >= 0");
  expect([](Checkpoint& c) { c.rng_state = "garbage"; }, "checkpoint 't': unreadable RNG state");
  expect([](Checkpoint& c) { c.rng_state.clear(); }, "has no RNG state");
  expect([](Checkpoint& c) { c.optimizer_state.pop_back(); }, "expected 2 per parameter block");
  expect([](Checkpoint& c) { c.optimizer_state[0].name = "m.other"; },
         "no state block 'm.input.weight'");
  expect([](Checkpoint& c) { c.optimizer_state[1].values = Vector::Ones(5); },
         "'m.input.bias' has 5 values but parameter block 'input.bias' has 2");
  expect([](Checkpoint& c) { c.metadata[0].second = "-3"; },
         "metadata epoch_batches_done = '-3' is not a counter in 0..17");
  expect([](Checkpoint& c) { c.metadata[1].second = "18"; },
         "metadata epoch_skipped = '18' is not a counter in 0..17");
  expect([](Checkpoint& c) { c.metadata[1].second = "3"; },
         "epoch_batches_done (15) + epoch_skipped (3) exceed the iteration 17");
  expect([](Checkpoint& c) { c.metadata[2].second = "nan"; },
         "metadata epoch_loss_sum = 'nan' is not a finite number >= 0");
  expect([](Checkpoint& c) { c.metadata[3].second = "-1"; }, "epoch_seconds = '-1'");
  expect([](Checkpoint& c) { c.metadata[4].second = "{}"; }, "history is not a JSON array");
  expect([](Checkpoint& c) { c.metadata[4].second = R"([{"epoch":"1"}])"; },
         "history has a malformed record");
  expect([](Checkpoint& c) { c.metadata[4].second = "[{},{},{},{}]"; },
         "history holds 4 epochs, more than the 3 completed");
  expect(
      [](Checkpoint& c) {
        c.optimizer.clear();
        c.optimizer_step = 0;
      },
      "optimiser state without an optimiser name");
}

TEST(Checkpoint, WriteIntoMissingDirectoryFailsCleanly) {
  ExpectInputError([] { SaveCheckpoint(Example(), "/nonexistent/dir/model.ckpt"); },
                   "cannot write checkpoint");
}

// A write that fails midway (file-size limit reached, as on a full disk) leaves the old
// checkpoint intact and no temporary behind. RLIMIT_FSIZE applies to root too, unlike a
// read-only directory.
TEST(Checkpoint, FailedWriteMidwayLeavesOldFileIntact) {
  TempDir dir;
  const std::string path = dir.path() + "/model.ckpt";
  const Checkpoint old = Example(10);
  SaveCheckpoint(old, path);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  auto previous = std::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  bool threw = false;
  std::string message;
  try {
    SaveCheckpoint(Example(100000), path);  // 1.6 MB: fails after 64 KiB
  } catch (const InputError& error) {
    threw = true;
    message = error.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);
  EXPECT_TRUE(threw);
  EXPECT_NE(message.find("writing"), std::string::npos) << message;
  ExpectSame(old, LoadCheckpoint(path, old.architecture));
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"model.ckpt"});
}

}  // namespace
}  // namespace snode
