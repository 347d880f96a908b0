#pragma once
// The MNIST classifier's data: finding and loading the IDX files (io/idx_reader.hpp), the
// train/test split, the shuffled order of an epoch, batches gathered in that order and the
// random-shift augmentation of training images.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "io/idx_reader.hpp"

namespace snode::mnist {

inline constexpr Index kClasses = 10;
inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

// Where the data is and which samples to use.
struct DataOptions {
  // Holds {train,t10k}-{images-idx3,labels-idx1}-ubyte, each plain or .gz.
  std::string dir = kDefaultDataDir;
  // Explicit files; each one given replaces the file of that name in dir.
  std::string train_images, train_labels, test_images, test_labels;
  // > 0: use only the t10k files, the first `split` samples for training and the rest for
  // testing (the 8 000 / 2 000 split of the digits benchmark). 0: train and t10k files.
  long split = 0;
  long limit_train = 0;  // > 0: only the first N training samples
  long limit_test = 0;   // > 0: only the first N test samples
};

struct Data {
  IdxDataset train;
  IdxDataset test;
  std::string description;  // files and sample counts, for the report
};

// dir/base, or dir/base.gz; "" when neither exists.
std::string FindIdxFile(const std::string& dir, const std::string& base);

// Loads the training and test sets. need_training: an empty training set is an error (not when
// only evaluating). Throws InputError naming the directory or file (missing directory or file,
// unreadable IDX data, different image sizes, no samples) and ConfigError when `split` leaves no
// test samples.
Data LoadData(const DataOptions& options, bool need_training = true);

// A permutation of 0..n−1 drawn by Fisher–Yates with a bounded draw of our own (rng() % (k+1)):
// std::shuffle and std::uniform_int_distribution are implementation-defined, and a resumed run
// must draw exactly the permutation the interrupted one did.
std::vector<Index> Permutation(Index n, std::mt19937_64& rng);

// 0, 1, …, n−1.
std::vector<Index> Identity(Index n);

// Columns order[begin..begin+count) of pixels, and the matching labels.
Matrix GatherColumns(const Matrix& pixels, const std::vector<Index>& order, Index begin,
                     Index count);
std::vector<int> GatherLabels(const std::vector<int>& labels, const std::vector<Index>& order,
                              Index begin, Index count);

// Shifts each column of x, a rows × cols image stored row by row (as in IDX files), by its own
// (dx, dy) drawn uniformly from [−max_shift, max_shift]², filling uncovered pixels with 0. The
// generator is seeded from (seed, epoch, batch) alone, so a resumed run draws the same shifts
// without storing generator state; std::seed_seq's mixing is specified by the standard.
void ShiftImages(Matrix& x, Index rows, Index cols, long max_shift, std::uint64_t seed, long epoch,
                 long batch);

}  // namespace snode::mnist
