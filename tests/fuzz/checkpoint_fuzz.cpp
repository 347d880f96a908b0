// libFuzzer target for io/checkpoint.hpp ParseCheckpoint.
//
// The CRC-32 at the end of a checkpoint stops almost every mutation at the checksum test, so the
// first input byte chooses the mode: even — the rest is a whole file image, parsed as is (magic,
// version, length, checksum checks); odd — the rest is a body, wrapped in a valid header and
// checksum before parsing, so the mutations reach the body parser. An InputError is the expected
// answer to a bad image; any other exception, crash, leak or sanitizer report is a bug. A
// successful parse must serialise again to the same image (round trip) and re-parse, and its
// ValidateTrainingCheckpoint may only throw InputError.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/errors.hpp"
#include "io/checkpoint.hpp"

namespace {

void PutLe(std::string& out, std::uint64_t value, int bytes) {
  for (int k = 0; k < bytes; ++k) out.push_back(static_cast<char>((value >> (8 * k)) & 0xFF));
}

// Header (magic, version, reserved, body length) + body + CRC-32 of everything before it, as
// docs/file-formats.md describes the snode checkpoint.
std::string WrapBody(const std::string& body) {
  std::string image(snode::kCheckpointMagic, sizeof snode::kCheckpointMagic);
  PutLe(image, snode::kCheckpointVersion, 4);
  PutLe(image, 0, 4);
  PutLe(image, body.size(), 8);
  image += body;
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(image.data()),
                          static_cast<uInt>(image.size()));
  PutLe(image, crc, 4);
  return image;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string image = (data[0] & 1) ? WrapBody(rest) : rest;
  try {
    const snode::Checkpoint parsed = snode::ParseCheckpoint(image, "fuzz");
    const std::string again = snode::SerializeCheckpoint(parsed);
    // One image per checkpoint, except the reserved header field (bytes 12..15: read, ignored,
    // written as 0) and hence the checksum.
    if (again.size() != image.size() || again.compare(0, 12, image, 0, 12) != 0 ||
        again.compare(16, again.size() - 20, image, 16, image.size() - 20) != 0) {
      std::abort();
    }
    snode::ParseCheckpoint(again, "fuzz", parsed.architecture);
    // The validation shared by checkpoint_tool check, --resume and --evaluate: InputError only.
    snode::ValidateTrainingCheckpoint(parsed, "fuzz");
  } catch (const snode::InputError&) {
  }
  try {
    snode::ParseCheckpoint(image, "fuzz", "mnist_odenet input=784-64");
  } catch (const snode::InputError&) {
  }
  return 0;
}
