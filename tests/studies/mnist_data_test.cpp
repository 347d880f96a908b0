#include "studies/mnist_data.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/errors.hpp"
#include "tests/studies/mnist_test_data.hpp"

namespace snode::mnist {
namespace {

using test_mnist::TempDir;
using test_mnist::WriteMnistSet;

TEST(MnistData, SplitTrainsOnTheFirstSamplesAndTestsOnTheRest) {
  TempDir dir;
  WriteMnistSet(dir.path(), "t10k", 50, 3, 8, /*gzip=*/true);
  DataOptions options;
  options.dir = dir.path();
  options.split = 30;
  const Data data = LoadData(options);
  const IdxDataset all = ReadIdxDataset(dir.path() + "/t10k-images-idx3-ubyte.gz",
                                        dir.path() + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_EQ(data.train.size(), 30);
  ASSERT_EQ(data.test.size(), 20);
  EXPECT_EQ(data.train.images.pixels, all.images.pixels.leftCols(30));
  EXPECT_EQ(data.test.images.pixels, all.images.pixels.rightCols(20));
  EXPECT_EQ(data.test.labels, std::vector<int>(all.labels.begin() + 30, all.labels.end()));
  EXPECT_EQ(data.description, dir.path() + "/t10k-images-idx3-ubyte.gz split 30/20");
}

TEST(MnistData, SplitLeavingNoTestSamplesIsAConfigError) {
  TempDir dir;
  WriteMnistSet(dir.path(), "t10k", 20, 3);
  DataOptions options;
  options.dir = dir.path();
  options.split = 20;
  EXPECT_THROW(LoadData(options), ConfigError);
}

TEST(MnistData, SeparateFilesAndLimits) {
  TempDir dir;
  WriteMnistSet(dir.path(), "train", 40, 1);
  WriteMnistSet(dir.path(), "t10k", 25, 2, 8, /*gzip=*/true);
  DataOptions options;
  options.dir = dir.path();
  Data data = LoadData(options);
  EXPECT_EQ(data.train.size(), 40);
  EXPECT_EQ(data.test.size(), 25);
  EXPECT_EQ(data.description, dir.path() + "/train-images-idx3-ubyte (40) / " + dir.path() +
                                  "/t10k-images-idx3-ubyte.gz (25)");
  options.limit_train = 16;
  options.limit_test = 5;
  data = LoadData(options);
  EXPECT_EQ(data.train.size(), 16);
  EXPECT_EQ(data.test.size(), 5);
}

TEST(MnistData, MissingFilesAndDirectoriesAreInputErrors) {
  TempDir dir;
  DataOptions options;
  options.dir = dir.path() + "/absent";
  EXPECT_THROW(LoadData(options), InputError);
  options.dir = dir.path();
  WriteMnistSet(dir.path(), "t10k", 20, 3);
  try {
    LoadData(options);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("needs --split N"), std::string::npos) << error.what();
  }
  EXPECT_EQ(FindIdxFile(dir.path(), "train-images-idx3-ubyte"), "");
  EXPECT_EQ(FindIdxFile(dir.path(), "t10k-images-idx3-ubyte"),
            dir.path() + "/t10k-images-idx3-ubyte");
}

TEST(MnistData, EvaluationNeedsNoTrainingSamples) {
  TempDir dir;
  WriteMnistSet(dir.path(), "train", 0, 1);
  WriteMnistSet(dir.path(), "t10k", 10, 2);
  DataOptions options;
  options.dir = dir.path();
  EXPECT_THROW(LoadData(options), InputError);
  EXPECT_EQ(LoadData(options, /*need_training=*/false).test.size(), 10);
}

TEST(MnistData, PermutationIsAReproduciblePermutation) {
  std::mt19937_64 a(5), b(5);
  const std::vector<Index> order = Permutation(100, a);
  EXPECT_EQ(order, Permutation(100, b));
  EXPECT_EQ(a, b);
  std::vector<Index> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, Identity(100));
  EXPECT_NE(order, Identity(100));
}

TEST(MnistData, GatherTakesColumnsAndLabelsInOrder) {
  Matrix pixels(2, 4);
  pixels << 0, 1, 2, 3, 10, 11, 12, 13;
  const std::vector<Index> order = {3, 1, 0, 2};
  const Matrix x = GatherColumns(pixels, order, 1, 2);
  ASSERT_EQ(x.cols(), 2);
  EXPECT_EQ(x(0, 0), 1);
  EXPECT_EQ(x(1, 1), 10);
  EXPECT_EQ(GatherLabels({5, 6, 7, 8}, order, 0, 3), std::vector<int>({8, 6, 5}));
}

TEST(MnistData, ShiftImagesMovesEachImageByAtMostTheShiftAndIsReproducible) {
  const Index side = 5;
  Matrix x = Matrix::Zero(side * side, 30);
  for (Index j = 0; j < x.cols(); ++j) x(2 * side + 2, j) = 1.0;  // one pixel in the centre
  Matrix shifted = x;
  ShiftImages(shifted, side, side, 1, 9, 0, 3);
  bool moved = false;
  for (Index j = 0; j < x.cols(); ++j) {
    EXPECT_DOUBLE_EQ(shifted.col(j).sum(), 1.0);
    Index at = 0;
    shifted.col(j).maxCoeff(&at);
    EXPECT_LE(std::abs(at / side - 2), 1);
    EXPECT_LE(std::abs(at % side - 2), 1);
    moved = moved || at != 2 * side + 2;
  }
  EXPECT_TRUE(moved);
  Matrix again = x;
  ShiftImages(again, side, side, 1, 9, 0, 3);
  EXPECT_EQ(again, shifted);
  Matrix other = x;
  ShiftImages(other, side, side, 1, 9, 0, 4);
  EXPECT_NE(other, shifted);
  Matrix none = x;
  ShiftImages(none, side, side, 0, 9, 0, 3);
  EXPECT_EQ(none, x);
}

}  // namespace
}  // namespace snode::mnist
