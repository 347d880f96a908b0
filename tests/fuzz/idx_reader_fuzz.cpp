// libFuzzer target for io/idx_reader.hpp: the input is the content of an IDX file (plain or
// gzip), read as images and as labels. An InputError is the expected answer to a bad file; any
// other exception, crash, leak or sanitizer report is a bug. A successful read is checked for
// consistency (shape, pixel range, label range).

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/errors.hpp"
#include "io/idx_reader.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static snode::fuzz::MemFile file("idx_reader_fuzz");
  file.Write(data, size);
  try {
    const snode::IdxImages images = snode::ReadIdxImages(file.path());
    if (images.pixels.rows() != images.rows * images.cols) std::abort();
    for (snode::Index k = 0; k < images.pixels.size(); ++k) {
      const double v = images.pixels.data()[k];
      if (!(v >= 0.0 && v <= 1.0)) std::abort();
    }
  } catch (const snode::InputError&) {
  }
  try {
    const std::vector<int> labels = snode::ReadIdxLabels(file.path(), 10);
    for (const int label : labels) {
      if (label < 0 || label > 9) std::abort();
    }
  } catch (const snode::InputError&) {
  }
  return 0;
}
