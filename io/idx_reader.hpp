#pragma once
// Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.), plain or gzip-compressed.
//
// Format (all integers big-endian):
//   images (idx3-ubyte): magic 0x00000803, u32 count, u32 rows, u32 cols, count·rows·cols bytes
//   labels (idx1-ubyte): magic 0x00000801, u32 count, count bytes
// Compression is detected by the gzip magic (1f 8b): zlib's gzread reads both kinds
// transparently, so "x-idx3-ubyte" and "x-idx3-ubyte.gz" are read by the same call.
//
// Outputs: images as a (rows·cols) × count column-major matrix of doubles in [0, 1] (byte / 255),
// one image per column in row-major pixel order (the PyTorch flatten order); labels as ints.
//
// Everything is validated before it is returned; each failure is an InputError naming the file
// and the problem: missing or unreadable file, corrupt gzip stream, wrong magic, a header shorter
// than its fixed size, absurd dimensions (rows or cols 0 or > kMaxIdxSide, count > kMaxIdxCount,
// count·rows·cols > kMaxIdxPixels: checked on the header, before anything is allocated for the
// data),
// fewer bytes than the header claims (truncated, or a header claiming more items than the file
// holds), trailing bytes after the data, a label outside 0..num_classes−1, and (for a data set)
// image and label counts that differ.

#include <string>
#include <vector>

#include "core/types.hpp"

namespace snode {

inline constexpr unsigned kIdxImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
inline constexpr unsigned kIdxLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension
inline constexpr long kMaxIdxSide = 4096;                // largest accepted rows or cols
inline constexpr long kMaxIdxCount = 100000000;          // largest accepted item count
// Largest accepted pixel total of an image file: 2^27 pixels are 1 GiB as doubles (the returned
// matrix) plus 128 MiB of file bytes; MNIST's 60 000 28×28 training images are 47 million.
inline constexpr long kMaxIdxPixels = 1L << 27;

struct IdxImages {
  Index rows = 0;
  Index cols = 0;
  Matrix pixels;  // (rows·cols) × count, values byte/255
  Index count() const { return pixels.cols(); }
};

// Reads an idx3-ubyte image file (plain or gzip). Throws InputError (see file comment).
IdxImages ReadIdxImages(const std::string& path);

// Reads an idx1-ubyte label file (plain or gzip); every label must lie in 0..num_classes−1.
std::vector<int> ReadIdxLabels(const std::string& path, int num_classes = 10);

struct IdxDataset {
  IdxImages images;
  std::vector<int> labels;  // labels[j] belongs to images.pixels.col(j)
  Index size() const { return images.count(); }
};

// Reads a matching pair of files; throws InputError when the counts differ.
IdxDataset ReadIdxDataset(const std::string& images_path, const std::string& labels_path,
                          int num_classes = 10);

// Columns [begin, begin + count) of a data set, as a new data set. Throws ConfigError when the
// range does not fit.
IdxDataset SliceIdxDataset(const IdxDataset& dataset, Index begin, Index count);

}  // namespace snode
