#include "io/idx_reader.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/errors.hpp"

namespace snode {
namespace {

struct GzFileCloser {
  void operator()(gzFile file) const noexcept { gzclose(file); }
};
using GzFilePtr = std::unique_ptr<std::remove_pointer_t<gzFile>, GzFileCloser>;

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw InputError("IDX file '" + path + "': " + what);
}

// Reads at most `limit` decompressed bytes. The limit keeps a header that claims billions of
// items from making us allocate for them: memory grows only with what the file really holds.
std::vector<unsigned char> ReadAtMost(const std::string& path, std::size_t limit) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    Fail(path, std::string("cannot open: ") + std::strerror(errno));
  }
  if (S_ISDIR(info.st_mode)) Fail(path, "is a directory, not a file");
  errno = 0;
  GzFilePtr file(gzopen(path.c_str(), "rb"));
  if (!file) {
    Fail(path, std::string("cannot open: ") + (errno ? std::strerror(errno) : "out of memory"));
  }
  std::vector<unsigned char> bytes;
  constexpr std::size_t kChunk = 1 << 20;
  while (bytes.size() < limit) {
    const std::size_t want = std::min(kChunk, limit - bytes.size());
    const std::size_t old_size = bytes.size();
    bytes.resize(old_size + want);
    const int got = gzread(file.get(), bytes.data() + old_size, static_cast<unsigned>(want));
    if (got < 0) {
      int code = Z_OK;
      const char* message = gzerror(file.get(), &code);
      Fail(path,
           std::string("corrupt compressed data (") + (message ? message : "gzread failed") + ")");
    }
    bytes.resize(old_size + static_cast<std::size_t>(got));
    if (static_cast<std::size_t>(got) < want) break;  // end of data
  }
  // A gzip stream that stops early reads as a short file plus Z_BUF_ERROR; say which it was.
  int code = Z_OK;
  const char* message = gzerror(file.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    Fail(path, std::string("corrupt or truncated compressed data (") +
                   (message ? message : "unknown zlib error") + ")");
  }
  return bytes;
}

std::uint32_t BigEndian32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::string Hex(std::uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08X", value);
  return buffer;
}

void CheckMagic(const std::string& path, std::uint32_t magic, std::uint32_t expected,
                const char* kind) {
  if (magic == expected) return;
  std::string hint;
  if (magic == kIdxImagesMagic) hint = " (this is an image file)";
  if (magic == kIdxLabelsMagic) hint = " (this is a label file)";
  Fail(path,
       "wrong magic number " + Hex(magic) + ", expected " + Hex(expected) + " for " + kind + hint);
}

}  // namespace

IdxImages ReadIdxImages(const std::string& path) {
  constexpr std::size_t kHeader = 16;
  // First the header alone, so the limit for the full read can come from it.
  std::vector<unsigned char> header = ReadAtMost(path, kHeader);
  if (header.size() < 4) {
    Fail(path, "too short for an IDX header (" + std::to_string(header.size()) + " bytes)");
  }
  CheckMagic(path, BigEndian32(header.data()), kIdxImagesMagic, "images (idx3-ubyte)");
  if (header.size() < kHeader) {
    Fail(path, "too short for an idx3 header (" + std::to_string(header.size()) + " of 16 bytes)");
  }
  const std::uint32_t count = BigEndian32(header.data() + 4);
  const std::uint32_t rows = BigEndian32(header.data() + 8);
  const std::uint32_t cols = BigEndian32(header.data() + 12);
  if (rows == 0 || cols == 0 || rows > kMaxIdxSide || cols > kMaxIdxSide) {
    Fail(path, "absurd image size " + std::to_string(rows) + "x" + std::to_string(cols) +
                   " (each side must be 1.." + std::to_string(kMaxIdxSide) + ")");
  }
  if (count > kMaxIdxCount) {
    Fail(path, "absurd image count " + std::to_string(count) + " (at most " +
                   std::to_string(kMaxIdxCount) + ")");
  }
  const std::size_t image_bytes = std::size_t{rows} * cols;
  if (image_bytes * count > static_cast<std::size_t>(kMaxIdxPixels)) {
    Fail(path, "header claims " + std::to_string(count) + " images of " + std::to_string(rows) +
                   "x" + std::to_string(cols) + " = " + std::to_string(image_bytes * count) +
                   " pixels, more than the reader's limit of " + std::to_string(kMaxIdxPixels) +
                   " (1 GiB as doubles)");
  }
  const std::size_t expected = kHeader + image_bytes * count;
  // One byte more than expected, to detect trailing data.
  const std::vector<unsigned char> bytes = ReadAtMost(path, expected + 1);
  if (bytes.size() < expected) {
    const std::size_t data = bytes.size() - kHeader;
    Fail(path, "truncated: header claims " + std::to_string(count) + " images of " +
                   std::to_string(rows) + "x" + std::to_string(cols) + " (" +
                   std::to_string(image_bytes * count) + " bytes) but the file holds " +
                   std::to_string(data) + " bytes (" + std::to_string(data / image_bytes) +
                   " complete images)");
  }
  if (bytes.size() > expected) {
    Fail(path, "has data after the " + std::to_string(count) + " images the header claims");
  }
  IdxImages images;
  images.rows = rows;
  images.cols = cols;
  images.pixels.resize(static_cast<Index>(image_bytes), count);
  const unsigned char* pixel = bytes.data() + kHeader;
  double* out = images.pixels.data();
  for (std::size_t k = 0; k < image_bytes * count; ++k) out[k] = pixel[k] / 255.0;
  return images;
}

std::vector<int> ReadIdxLabels(const std::string& path, int num_classes) {
  Require(num_classes >= 1, "ReadIdxLabels: num_classes must be positive");
  constexpr std::size_t kHeader = 8;
  std::vector<unsigned char> header = ReadAtMost(path, kHeader);
  if (header.size() < 4) {
    Fail(path, "too short for an IDX header (" + std::to_string(header.size()) + " bytes)");
  }
  CheckMagic(path, BigEndian32(header.data()), kIdxLabelsMagic, "labels (idx1-ubyte)");
  if (header.size() < kHeader) {
    Fail(path, "too short for an idx1 header (" + std::to_string(header.size()) + " of 8 bytes)");
  }
  const std::uint32_t count = BigEndian32(header.data() + 4);
  if (count > kMaxIdxCount) {
    Fail(path, "absurd label count " + std::to_string(count) + " (at most " +
                   std::to_string(kMaxIdxCount) + ")");
  }
  const std::size_t expected = kHeader + count;
  const std::vector<unsigned char> bytes = ReadAtMost(path, expected + 1);
  if (bytes.size() < expected) {
    Fail(path, "truncated: header claims " + std::to_string(count) + " labels but the file holds " +
                   std::to_string(bytes.size() - kHeader));
  }
  if (bytes.size() > expected) {
    Fail(path, "has data after the " + std::to_string(count) + " labels the header claims");
  }
  std::vector<int> labels(count);
  for (std::size_t k = 0; k < count; ++k) {
    const int label = bytes[kHeader + k];
    if (label >= num_classes) {
      Fail(path, "label " + std::to_string(label) + " at index " + std::to_string(k) +
                     " is outside 0.." + std::to_string(num_classes - 1));
    }
    labels[k] = label;
  }
  return labels;
}

IdxDataset ReadIdxDataset(const std::string& images_path, const std::string& labels_path,
                          int num_classes) {
  IdxDataset dataset;
  dataset.images = ReadIdxImages(images_path);
  dataset.labels = ReadIdxLabels(labels_path, num_classes);
  if (static_cast<Index>(dataset.labels.size()) != dataset.images.count()) {
    throw InputError("IDX data set: '" + images_path + "' holds " +
                     std::to_string(dataset.images.count()) + " images but '" + labels_path +
                     "' holds " + std::to_string(dataset.labels.size()) + " labels");
  }
  return dataset;
}

IdxDataset SliceIdxDataset(const IdxDataset& dataset, Index begin, Index count) {
  Require(begin >= 0 && count >= 0 && begin + count <= dataset.size(),
          "SliceIdxDataset: range [" + std::to_string(begin) + ", " +
              std::to_string(begin + count) + ") outside a data set of " +
              std::to_string(dataset.size()));
  IdxDataset slice;
  slice.images.rows = dataset.images.rows;
  slice.images.cols = dataset.images.cols;
  slice.images.pixels = dataset.images.pixels.middleCols(begin, count);
  slice.labels.assign(dataset.labels.begin() + begin, dataset.labels.begin() + begin + count);
  return slice;
}

}  // namespace snode
