// mnist_classifier data-parallel under mpirun (label "mpi"): with the same --batch-parts, 2 and 4
// ranks give the serial loss curve to 1e-10 (relative, every step); a rank killed with SIGKILL
// ends the job within 30 s with a message, leaves a valid checkpoint, and one process resumes it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "io/checkpoint.hpp"
#include "tests/apps/app_run_util.hpp"
#include "tests/studies/mnist_test_data.hpp"

#if !defined(MNIST_CLASSIFIER_PATH) || !defined(MPIEXEC_PATH)
#error "MNIST_CLASSIFIER_PATH and MPIEXEC_PATH must name mnist_classifier and mpirun"
#endif

namespace snode {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// 1280 training samples = 20 batches of 64 (one epoch: 20 steps), 256 test samples, 8×8 images;
// dopri5 (adaptive: the parts decide the steps) and bptt, the app's defaults.
std::string Training(const test_mnist::TempDir& data, const std::string& out, int parts = 4) {
  return "--data " + data.path() + " --split 1280 --batch 64 --batch-parts " +
         std::to_string(parts) + " --quiet --out " + out;
}

std::string Mpirun(int ranks, const std::string& args) {
  return "--oversubscribe -np " + std::to_string(ranks) + " '" + MNIST_CLASSIFIER_PATH + "' " +
         args;
}

std::vector<double> StepLosses(const std::string& out) {
  std::vector<double> losses;
  for (const auto& row : test_util::ReadCsv(out + "/mnist_steps.csv")) {
    losses.push_back(std::stod(row.at("loss")));
  }
  return losses;
}

void ExpectSameCurveAsSerial(int ranks) {
  test_mnist::TempDir data;
  test_mnist::WriteMnistSet(data.path(), "t10k", 1280 + 256, 5);
  const std::string serial = data.path() + "/serial", parallel = data.path() + "/parallel";
  const test_util::AppResult one = test_util::RunApp(
      MNIST_CLASSIFIER_PATH, Training(data, serial) + " --epochs 1 --step-losses");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const test_util::AppResult many = test_util::RunApp(
      MPIEXEC_PATH, Mpirun(ranks, Training(data, parallel) + " --epochs 1 --step-losses "
                                                             "--check-parameters"));
  ASSERT_EQ(many.exit_code, 0) << many.out << many.err;
  const std::vector<double> expected = StepLosses(serial), got = StepLosses(parallel);
  ASSERT_EQ(expected.size(), 20u);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    EXPECT_LE(std::abs(got[k] - expected[k]), 1e-10 * std::abs(expected[k]))
        << "step " << k + 1 << ": " << got[k] << " vs " << expected[k];
  }
  const auto a = test_util::ReadCsv(serial + "/mnist_epochs.csv");
  const auto b = test_util::ReadCsv(parallel + "/mnist_epochs.csv");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].at("test_accuracy"), a[0].at("test_accuracy"));
  EXPECT_NEAR(std::stod(b[0].at("test_loss")), std::stod(a[0].at("test_loss")),
              1e-9 * std::stod(a[0].at("test_loss")));
  // Rank 0 alone reports: one header, one table.
  const std::string header = "mnist_classifier: ODE-Net";
  EXPECT_EQ(many.out.find(header), many.out.rfind(header)) << many.out;
  EXPECT_NE(many.out.find("4 parts per batch over " + std::to_string(ranks) + " ranks"),
            std::string::npos)
      << many.out;
}

TEST(MnistMpi, SameLossCurveAsSerialOn2Ranks) { ExpectSameCurveAsSerial(2); }
TEST(MnistMpi, SameLossCurveAsSerialOn4Ranks) { ExpectSameCurveAsSerial(4); }

// The process of rank `rank` among the children of mpirun (its environment names the rank), or 0.
pid_t RankProcess(pid_t mpirun, int rank) {
  const std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const std::size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2 || ppid != mpirun) {
      continue;
    }
    std::ifstream environ(entry.path() / "environ");
    std::string variable;
    while (std::getline(environ, variable, '\0')) {
      if (variable == wanted) return static_cast<pid_t>(std::stoi(name));
    }
  }
  return 0;
}

// Starts `command` through /bin/sh (exec'd, so the pid is the command's own).
pid_t Start(const std::string& command) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string line = "exec " + command;
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits for pid up to `limit`; its exit status (128 + signal when killed), or -1 on timeout.
int WaitFor(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

TEST(MnistMpi, KilledRankEndsTheJobAndOneRankResumes) {
  test_mnist::TempDir data;
  test_mnist::WriteMnistSet(data.path(), "t10k", 1280 + 256, 6);
  const std::string out = data.path() + "/run", checkpoint = out + "/checkpoint.snode";
  const std::string log = data.path() + "/mpirun.log";
  // Far more epochs than it lives for; a checkpoint every 2 batches.
  const pid_t mpirun =
      Start(std::string("'") + MPIEXEC_PATH + "' " +
            Mpirun(2, Training(data, out, 2) + " --epochs 10000 --checkpoint-batches 2") + " > '" +
            log + "' 2>&1");
  ASSERT_GT(mpirun, 0);
  const auto started = Clock::now();
  while (!fs::exists(checkpoint) && Clock::now() - started < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(fs::exists(checkpoint)) << "no checkpoint after 30 s";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // mid-run, between checkpoints
  const pid_t victim = RankProcess(mpirun, 1);
  ASSERT_GT(victim, 0) << "rank 1 not found among mpirun's children";
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  const auto killed = Clock::now();
  const int status = WaitFor(mpirun, std::chrono::seconds(30));
  const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  if (status < 0) kill(mpirun, SIGKILL), waitpid(mpirun, nullptr, 0);
  ASSERT_GE(status, 0) << "mpirun still running 30 s after rank 1 was killed";
  EXPECT_NE(status, 0);
  const std::string text = test_util::ReadFile(log);
  EXPECT_NE(text.find("rank 1"), std::string::npos) << text;
  EXPECT_NE(text.find("signal 9"), std::string::npos) << text;
  RecordProperty("seconds_to_end_the_job", std::to_string(seconds));

  // The last checkpoint is whole, and one process (no mpirun) continues it to a later end.
  const Checkpoint c = LoadCheckpoint(checkpoint);
  EXPECT_NO_THROW(ValidateTrainingCheckpoint(c, checkpoint));
  const long target = static_cast<long>(c.epoch) + 2;
  const test_util::AppResult resumed = test_util::RunApp(
      MNIST_CLASSIFIER_PATH, Training(data, out, 2) + " --epochs " + std::to_string(target) +
                                 " --resume '" + checkpoint + "'");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.err, "");  // same settings: no "resuming with" note
  EXPECT_EQ(test_util::ReadCsv(out + "/mnist_epochs.csv").size(), static_cast<std::size_t>(target));
  EXPECT_EQ(LoadCheckpoint(out + "/model.snode").epoch, static_cast<std::uint64_t>(target));
}

}  // namespace
}  // namespace snode
