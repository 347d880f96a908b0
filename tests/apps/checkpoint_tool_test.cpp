// Runs the built checkpoint_tool binary: `check` must refuse every checkpoint that
// mnist_classifier --resume refuses (they share ValidateTrainingCheckpoint), with exit code 2 and
// one line "error: ..." naming the file and the problem, and accept a valid one.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "io/checkpoint.hpp"
#include "io/rng_text.hpp"

#ifndef CHECKPOINT_TOOL_PATH
#error "CHECKPOINT_TOOL_PATH must name the checkpoint_tool binary"
#endif

namespace snode {
namespace {

struct RunResult {
  int status = -1;
  std::string out, err;
};

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class CheckpointToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/checkpoint_tool_test.XXXXXX";
    dir_ = mkdtemp(name);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  RunResult Run(const std::string& args) const {
    const std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    const int raw = std::system(
        (std::string(CHECKPOINT_TOOL_PATH) + " " + args + " > " + out + " 2> " + err).c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, ReadText(out), ReadText(err)};
  }

  // A training checkpoint shaped as the MNIST trainer writes one, after spoil(), saved as name.
  std::string Save(const std::string& name, const std::function<void(Checkpoint&)>& spoil) const {
    Checkpoint c;
    c.architecture = "mnist_odenet test";
    c.parameters = {{"w", Vector::Constant(3, 0.5)}, {"b", Vector::Constant(1, -0.25)}};
    c.optimizer = "adam";
    c.optimizer_step = 12;
    for (const char* moment : {"m.", "v."}) {
      for (const NamedBlock& p : c.parameters)
        c.optimizer_state.push_back({moment + p.name, p.values.cwiseAbs()});
    }
    c.rng_state = RngText(std::mt19937_64(5));
    c.epoch = 2;
    c.iteration = 4;
    c.metadata = {{"epoch_batches_done", "4"}, {"epoch_skipped", "0"}};
    spoil(c);
    const std::string path = dir_ + "/" + name;
    SaveCheckpoint(c, path);
    return path;
  }

  void ExpectRefused(const std::string& path, const std::string& fragment) const {
    const RunResult r = Run("check " + path);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(r.err.rfind("error: checkpoint '" + path + "': ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos)
        << "expected '" << fragment << "' in " << r.err;
  }

  std::string dir_;
};

TEST_F(CheckpointToolTest, CheckAcceptsAValidTrainingCheckpoint) {
  const std::string path = Save("ok.snode", [](Checkpoint&) {});
  const RunResult r = Run("check " + path);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "ok " + path +
                ": epoch 2, iteration 4, optimiser step 12, 2 parameter blocks (4 values), 4 "
                "optimiser blocks (8 values)\n");
}

// Issue 19, case 5: check said "ok" on each of these, which --resume refused.
TEST_F(CheckpointToolTest, CheckRefusesWhatResumeRefuses) {
  ExpectRefused(Save("v.snode", [](Checkpoint& c) { c.optimizer_state[2].values[1] = -1; }),
                "Adam second moment 'v.w' is negative at index 1 (-1.000000); v must be >= 0");
  ExpectRefused(Save("rng.snode", [](Checkpoint& c) { c.rng_state = "garbage"; }),
                "unreadable RNG state");
  ExpectRefused(Save("it.snode", [](Checkpoint& c) { c.iteration = 1000000000000ULL; }),
                "the iteration 1000000000000 exceeds the bound 100000000 (completed batches of an "
                "epoch, at most one per sample)");
  ExpectRefused(Save("e.snode", [](Checkpoint& c) { c.epoch = (std::uint64_t{1} << 63) + 5; }),
                "the epoch 9223372036854775813 exceeds the bound 1000000 (completed epochs)");
  ExpectRefused(Save("d.snode", [](Checkpoint& c) { c.metadata[0].second = "9"; }),
                "metadata epoch_batches_done = '9' is not a counter in 0..4");
}

// A device is refused before any read (check /dev/zero read without bound before).
TEST_F(CheckpointToolTest, CheckRefusesADeviceWithoutReadingIt) {
  ExpectRefused("/dev/zero", "is not a regular file");
}

TEST_F(CheckpointToolTest, CompareValidatesBothFiles) {
  const std::string good = Save("a.snode", [](Checkpoint&) {});
  const std::string bad = Save("b.snode", [](Checkpoint& c) { c.rng_state = "x"; });
  const RunResult r = Run("compare " + good + " " + bad);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unreadable RNG state"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace snode
