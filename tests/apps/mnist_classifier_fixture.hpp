#pragma once
// The fixture of the mnist_classifier app tests (mnist_classifier_test.cpp: training, resume,
// evaluation; mnist_classifier_bad_input_test.cpp: bad input): tiny generated IDX data in a
// temporary directory and a runner for the built binary.

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

namespace snode::mnist_test {

using Bytes = std::vector<unsigned char>;
inline constexpr int kSide = 8;  // 8×8 images keep the input layer (and the runs) small

inline void PutU32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back((value >> shift) & 0xFF);
}

// Images whose class is a bright 6-pixel stripe at a class-dependent place, plus noise:
// separable, so a few epochs reach a high accuracy.
inline void MakeData(int count, unsigned seed, Bytes& images, Bytes& labels) {
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

inline void WriteFile(const std::string& path, const Bytes& bytes, bool gzip) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
  } else {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
}

inline std::string ReadText(const std::string& path) {
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

inline void ExpectSameParameters(const std::string& a_path, const std::string& b_path) {
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

}  // namespace snode::mnist_test
