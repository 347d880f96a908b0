#include "studies/mnist_data.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "core/errors.hpp"

namespace snode::mnist {
namespace {

bool PathExists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::string RequireIdxFile(const std::string& dir, const std::string& base, const char* hint) {
  const std::string path = FindIdxFile(dir, base);
  if (path.empty()) {
    throw InputError("data directory '" + dir + "' has no " + base + "[.gz]" + hint);
  }
  return path;
}

// One file set: the first `split` samples train, the rest test.
void LoadSplit(const std::string& images, const std::string& labels, long split, Data& data) {
  const IdxDataset all = ReadIdxDataset(images, labels, kClasses);
  if (split >= all.size()) {
    throw ConfigError("--split " + std::to_string(split) + " leaves no test samples ('" + images +
                      "' holds " + std::to_string(all.size()) + ")");
  }
  data.train = SliceIdxDataset(all, 0, split);
  data.test = SliceIdxDataset(all, split, all.size() - split);
  data.description =
      images + " split " + std::to_string(split) + "/" + std::to_string(all.size() - split);
}

void LoadSeparate(const DataOptions& o, const std::string& test_images,
                  const std::string& test_labels, Data& data) {
  const char* hint = " (a directory with only t10k files needs --split N)";
  std::string train_images = o.train_images, train_labels = o.train_labels;
  if (train_images.empty()) {
    train_images = RequireIdxFile(o.dir, "train-images-idx3-ubyte", hint);
  }
  if (train_labels.empty()) {
    train_labels = RequireIdxFile(o.dir, "train-labels-idx1-ubyte", hint);
  }
  data.train = ReadIdxDataset(train_images, train_labels, kClasses);
  data.test = ReadIdxDataset(test_images, test_labels, kClasses);
  data.description = train_images + " (" + std::to_string(data.train.size()) + ") / " +
                     test_images + " (" + std::to_string(data.test.size()) + ")";
}

}  // namespace

std::string FindIdxFile(const std::string& dir, const std::string& base) {
  for (const std::string& candidate : {dir + "/" + base, dir + "/" + base + ".gz"}) {
    if (PathExists(candidate)) return candidate;
  }
  return "";
}

Data LoadData(const DataOptions& o, bool need_training) {
  Data data;
  const bool explicit_files = !o.train_images.empty() || !o.test_images.empty();
  std::string test_images = o.test_images, test_labels = o.test_labels;
  if (!explicit_files || test_images.empty() || (o.split == 0 && o.train_images.empty())) {
    if (!IsDirectory(o.dir)) {
      throw InputError("data directory '" + o.dir + "' does not exist (set --data DIR)");
    }
  }
  if (test_images.empty()) test_images = RequireIdxFile(o.dir, "t10k-images-idx3-ubyte", "");
  if (test_labels.empty()) test_labels = RequireIdxFile(o.dir, "t10k-labels-idx1-ubyte", "");
  if (o.split > 0) {
    LoadSplit(test_images, test_labels, o.split, data);
  } else {
    LoadSeparate(o, test_images, test_labels, data);
  }
  if (data.train.images.pixels.rows() != data.test.images.pixels.rows()) {
    throw InputError("training images have " + std::to_string(data.train.images.pixels.rows()) +
                     " pixels but test images " + std::to_string(data.test.images.pixels.rows()));
  }
  if (o.limit_train > 0 && o.limit_train < data.train.size()) {
    data.train = SliceIdxDataset(data.train, 0, o.limit_train);
  }
  if (o.limit_test > 0 && o.limit_test < data.test.size()) {
    data.test = SliceIdxDataset(data.test, 0, o.limit_test);
  }
  if (data.train.size() == 0 && need_training) throw InputError("no training samples");
  if (data.test.size() == 0) throw InputError("no test samples");
  return data;
}

std::vector<Index> Identity(Index n) {
  std::vector<Index> order(n);
  for (Index k = 0; k < n; ++k) order[k] = k;
  return order;
}

std::vector<Index> Permutation(Index n, std::mt19937_64& rng) {
  std::vector<Index> order = Identity(n);
  for (Index k = n - 1; k > 0; --k) {
    const Index j = static_cast<Index>(rng() % static_cast<std::uint64_t>(k + 1));
    std::swap(order[k], order[j]);
  }
  return order;
}

Matrix GatherColumns(const Matrix& pixels, const std::vector<Index>& order, Index begin,
                     Index count) {
  Matrix x(pixels.rows(), count);
  for (Index j = 0; j < count; ++j) x.col(j) = pixels.col(order[begin + j]);
  return x;
}

std::vector<int> GatherLabels(const std::vector<int>& labels, const std::vector<Index>& order,
                              Index begin, Index count) {
  std::vector<int> out(count);
  for (Index j = 0; j < count; ++j) out[j] = labels[order[begin + j]];
  return out;
}

void ShiftImages(Matrix& x, Index rows, Index cols, long max_shift, std::uint64_t seed, long epoch,
                 long batch) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(batch), 0x5a1f7u};
  std::mt19937_64 rng(seq);
  const auto span = static_cast<std::uint64_t>(2 * max_shift + 1);
  Vector shifted(x.rows());
  for (Index j = 0; j < x.cols(); ++j) {
    const Index dx = static_cast<Index>(rng() % span) - max_shift;
    const Index dy = static_cast<Index>(rng() % span) - max_shift;
    shifted.setZero();
    for (Index r = std::max<Index>(0, dy); r < std::min(rows, rows + dy); ++r) {
      for (Index c = std::max<Index>(0, dx); c < std::min(cols, cols + dx); ++c) {
        shifted(r * cols + c) = x((r - dy) * cols + (c - dx), j);
      }
    }
    x.col(j) = shifted;
  }
}

}  // namespace snode::mnist
