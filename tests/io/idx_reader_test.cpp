#include "io/idx_reader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/errors.hpp"

namespace snode {
namespace {

using Bytes = std::vector<unsigned char>;

void PutU32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back((value >> shift) & 0xFF);
}

Bytes ImageFile(std::uint32_t claimed, std::uint32_t actual, std::uint32_t rows = 3,
                std::uint32_t cols = 2, std::uint32_t magic = kIdxImagesMagic) {
  Bytes out;
  PutU32(out, magic);
  PutU32(out, claimed);
  PutU32(out, rows);
  PutU32(out, cols);
  for (std::uint32_t k = 0; k < actual * rows * cols; ++k) out.push_back((k * 37) % 256);
  return out;
}

Bytes LabelFile(const std::vector<int>& labels, std::uint32_t magic = kIdxLabelsMagic) {
  Bytes out;
  PutU32(out, magic);
  PutU32(out, static_cast<std::uint32_t>(labels.size()));
  for (const int label : labels) out.push_back(static_cast<unsigned char>(label));
  return out;
}

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/idx_reader_test.XXXXXX";
    path_ = mkdtemp(name);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string Write(const std::string& name, const Bytes& bytes, bool gzip = false) const {
    const std::string path = path_ + "/" + name;
    if (gzip) {
      gzFile file = gzopen(path.c_str(), "wb");
      gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(file);
    } else {
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Expects InputError whose message contains `fragment`.
template <class F>
void ExpectInputError(F&& read, const std::string& fragment) {
  try {
    read();
    ADD_FAILURE() << "no InputError; expected one mentioning '" << fragment << "'";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

TEST(IdxReader, ReadsPlainImagesScaledAndInRowMajorOrder) {
  TempDir dir;
  const std::string path = dir.Write("images", ImageFile(4, 4));
  const IdxImages images = ReadIdxImages(path);
  ASSERT_EQ(images.rows, 3);
  ASSERT_EQ(images.cols, 2);
  ASSERT_EQ(images.count(), 4);
  ASSERT_EQ(images.pixels.rows(), 6);
  for (Index j = 0; j < 4; ++j) {
    for (Index p = 0; p < 6; ++p) {
      const std::uint32_t k = static_cast<std::uint32_t>(j * 6 + p);
      EXPECT_EQ(images.pixels(p, j), ((k * 37) % 256) / 255.0);
    }
  }
}

TEST(IdxReader, ReadsGzipImagesLikePlainOnes) {
  TempDir dir;
  const IdxImages plain = ReadIdxImages(dir.Write("a", ImageFile(5, 5)));
  const IdxImages gzip = ReadIdxImages(dir.Write("a.gz", ImageFile(5, 5), /*gzip=*/true));
  EXPECT_EQ(plain.pixels, gzip.pixels);
}

TEST(IdxReader, ReadsPlainAndGzipLabels) {
  TempDir dir;
  const std::vector<int> labels = {0, 9, 3, 3, 7};
  EXPECT_EQ(ReadIdxLabels(dir.Write("l", LabelFile(labels))), labels);
  EXPECT_EQ(ReadIdxLabels(dir.Write("l.gz", LabelFile(labels), true)), labels);
}

TEST(IdxReader, ReadsDatasetAndSlices) {
  TempDir dir;
  const IdxDataset dataset = ReadIdxDataset(dir.Write("i.gz", ImageFile(5, 5), true),
                                            dir.Write("l", LabelFile({1, 2, 3, 4, 5})));
  ASSERT_EQ(dataset.size(), 5);
  const IdxDataset slice = SliceIdxDataset(dataset, 1, 3);
  ASSERT_EQ(slice.size(), 3);
  EXPECT_EQ(slice.labels, (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(slice.images.pixels.col(0), dataset.images.pixels.col(1));
  EXPECT_THROW(SliceIdxDataset(dataset, 3, 3), ConfigError);
}

TEST(IdxReader, MissingFileIsInputError) {
  ExpectInputError([] { ReadIdxImages("/nonexistent/dir/images-idx3-ubyte.gz"); }, "No such file");
  ExpectInputError([] { ReadIdxLabels("/nonexistent/labels"); }, "No such file");
}

TEST(IdxReader, DirectoryIsInputError) {
  TempDir dir;
  ExpectInputError([&] { ReadIdxImages(dir.path()); }, "directory");
}

TEST(IdxReader, WrongImageMagicIsInputError) {
  TempDir dir;
  ExpectInputError([&] { ReadIdxImages(dir.Write("i", ImageFile(2, 2, 3, 2, 0x00000804))); },
                   "wrong magic number 0x00000804");
  // A label file given as images is named as such.
  ExpectInputError([&] { ReadIdxImages(dir.Write("l", LabelFile({1, 2}))); }, "label file");
}

TEST(IdxReader, WrongLabelMagicIsInputError) {
  TempDir dir;
  ExpectInputError([&] { ReadIdxLabels(dir.Write("l.gz", LabelFile({1}, 0x12345678), true)); },
                   "wrong magic number 0x12345678");
  ExpectInputError([&] { ReadIdxLabels(dir.Write("i", ImageFile(1, 1))); }, "image file");
}

TEST(IdxReader, EmptyAndShortHeaderAreInputErrors) {
  TempDir dir;
  ExpectInputError([&] { ReadIdxImages(dir.Write("e", {})); }, "too short");
  Bytes header = ImageFile(1, 1);
  header.resize(10);
  ExpectInputError([&] { ReadIdxImages(dir.Write("h", header)); }, "too short");
  Bytes labels = LabelFile({1});
  labels.resize(6);
  ExpectInputError([&] { ReadIdxLabels(dir.Write("lh", labels)); }, "too short");
}

TEST(IdxReader, TruncatedImageDataIsInputError) {
  TempDir dir;
  Bytes bytes = ImageFile(4, 4);
  bytes.resize(bytes.size() - 5);  // last image cut in the middle
  ExpectInputError([&] { ReadIdxImages(dir.Write("t", bytes)); }, "truncated");
  ExpectInputError([&] { ReadIdxImages(dir.Write("t.gz", bytes, true)); }, "truncated");
}

TEST(IdxReader, HeaderClaimingMoreImagesThanFileHoldsIsInputError) {
  TempDir dir;
  ExpectInputError([&] { ReadIdxImages(dir.Write("m", ImageFile(1000, 3))); },
                   "header claims 1000 images");
  // A large claim within the pixel limit must fail on the data, not on allocation.
  ExpectInputError([&] { ReadIdxImages(dir.Write("h", ImageFile(150000, 3, 28, 28))); },
                   "3 complete images");
}

// A header whose pixel total exceeds kMaxIdxPixels is refused from the header alone: a gzip file
// of a few KB can otherwise expand to gigabytes of zeros (nine 4096x4096 images: 151 million
// pixels, 1.2 GB as doubles).
TEST(IdxReader, PixelTotalAboveLimitIsRefusedFromTheHeader) {
  TempDir dir;
  const std::string expected =
      "9 images of 4096x4096 = 150994944 pixels, more than the "
      "reader's limit of 134217728";
  ExpectInputError([&] { ReadIdxImages(dir.Write("p", ImageFile(9, 0, 4096, 4096))); }, expected);
  ExpectInputError([&] { ReadIdxImages(dir.Write("p.gz", ImageFile(9, 0, 4096, 4096), true)); },
                   expected);
  ExpectInputError([&] { ReadIdxImages(dir.Write("q", ImageFile(90000000, 3, 28, 28))); },
                   "more than the reader's limit");
  // At the limit it is the data that is missing.
  ExpectInputError([&] { ReadIdxImages(dir.Write("r", ImageFile(8, 0, 4096, 4096))); },
                   "truncated");
}

TEST(IdxReader, HeaderClaimingMoreLabelsThanFileHoldsIsInputError) {
  TempDir dir;
  Bytes bytes = LabelFile({1, 2, 3});
  bytes[7] = 200;  // count 200 in the last header byte
  ExpectInputError([&] { ReadIdxLabels(dir.Write("l", bytes)); }, "header claims 200 labels");
}

TEST(IdxReader, TrailingDataIsInputError) {
  TempDir dir;
  ExpectInputError([&] { ReadIdxImages(dir.Write("x", ImageFile(2, 3))); }, "data after");
  Bytes labels = LabelFile({1, 2});
  labels.push_back(0);
  ExpectInputError([&] { ReadIdxLabels(dir.Write("y", labels)); }, "data after");
}

TEST(IdxReader, AbsurdDimensionsAreInputErrors) {
  TempDir dir;
  ExpectInputError([&] { ReadIdxImages(dir.Write("a", ImageFile(1, 0, 0, 28))); },
                   "absurd image size 0x28");
  ExpectInputError([&] { ReadIdxImages(dir.Write("b", ImageFile(1, 0, 28, 100000))); },
                   "absurd image size");
  ExpectInputError([&] { ReadIdxImages(dir.Write("c", ImageFile(0xFFFFFFFF, 0))); },
                   "absurd image count");
}

TEST(IdxReader, LabelOutOfRangeIsInputError) {
  TempDir dir;
  ExpectInputError(
      [&] {
        ReadIdxLabels(dir.Write("l", LabelFile({1, 2, 10, 3})));
      },
      "label 10 at index 2 is outside 0..9");
  EXPECT_EQ(ReadIdxLabels(dir.Write("k", LabelFile({1, 2, 10})), /*num_classes=*/11).size(), 3u);
}

TEST(IdxReader, CountMismatchIsInputError) {
  TempDir dir;
  const std::string images = dir.Write("i", ImageFile(4, 4));
  const std::string labels = dir.Write("l", LabelFile({1, 2, 3}));
  ExpectInputError([&] { ReadIdxDataset(images, labels); }, "holds 4 images but");
}

TEST(IdxReader, CorruptGzipStreamIsInputError) {
  TempDir dir;
  const std::string path = dir.Write("c.gz", ImageFile(50, 50), true);
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(20);
  const char garbage[8] = {'\x55', '\x13', '\x77', '\x01', '\x55', '\x13', '\x77', '\x01'};
  file.write(garbage, sizeof garbage);
  file.close();
  EXPECT_THROW(ReadIdxImages(path), InputError);
}

TEST(IdxReader, TruncatedGzipStreamIsInputError) {
  TempDir dir;
  const std::string full = dir.Write("f.gz", ImageFile(50, 50), true);
  std::ifstream in(full, std::ios::binary);
  Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() / 2);
  ExpectInputError([&] { ReadIdxImages(dir.Write("half.gz", bytes)); }, "truncated");
}

}  // namespace
}  // namespace snode
