#pragma once
// Tiny generated MNIST-like IDX files for the studies' unit tests: side × side images whose class
// is a bright stripe at a class-dependent place plus noise (separable, so a short run learns),
// written plain or gzip-compressed into a temporary directory removed at the end of the test.

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace snode::test_mnist {

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/snode_mnist_study.XXXXXX";
    path_ = mkdtemp(name);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteBytes(const std::string& path, const std::vector<unsigned char>& bytes,
                       bool gzip) {
  if (!gzip) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return;
  }
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

// Writes <dir>/<set>-images-idx3-ubyte and <dir>/<set>-labels-idx1-ubyte (".gz" and compressed
// when gzip) with `count` samples; set is "train" or "t10k".
inline void WriteMnistSet(const std::string& dir, const std::string& set, int count, unsigned seed,
                          int side = 8, bool gzip = false) {
  std::vector<unsigned char> images, labels;
  auto header = [](std::vector<unsigned char>& out, std::vector<std::uint32_t> fields) {
    for (const std::uint32_t field : fields) {
      for (int shift = 24; shift >= 0; shift -= 8) out.push_back((field >> shift) & 0xFF);
    }
  };
  header(images, {0x803u, static_cast<std::uint32_t>(count), static_cast<std::uint32_t>(side),
                  static_cast<std::uint32_t>(side)});
  header(labels, {0x801u, static_cast<std::uint32_t>(count)});
  std::mt19937 rng(seed);
  const int stripe = side * side / 10;
  for (int j = 0; j < count; ++j) {
    const int label = static_cast<int>(rng() % 10);
    labels.push_back(static_cast<unsigned char>(label));
    for (int p = 0; p < side * side; ++p) {
      const bool on = p >= label * stripe && p < (label + 1) * stripe;
      images.push_back(static_cast<unsigned char>(on ? 200 + rng() % 56 : rng() % 60));
    }
  }
  const std::string suffix = gzip ? ".gz" : "";
  WriteBytes(dir + "/" + set + "-images-idx3-ubyte" + suffix, images, gzip);
  WriteBytes(dir + "/" + set + "-labels-idx1-ubyte" + suffix, labels, gzip);
}

}  // namespace snode::test_mnist
