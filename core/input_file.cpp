#include "core/input_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.hpp"

namespace snode {

InputFileKind KindOfInputFile(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) return InputFileKind::kMissing;
  if (fs::is_directory(status)) return InputFileKind::kDirectory;
  if (!fs::is_regular_file(status)) return InputFileKind::kNotRegular;
  return InputFileKind::kRegular;
}

std::string ReadInputFilePrefix(const std::string& path, std::size_t max_bytes,
                                const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(what + ": cannot open: " + std::strerror(errno));
  // In chunks, so memory follows what the file holds rather than the limit.
  constexpr std::size_t kChunk = 64 * 1024;
  std::string text;
  while (text.size() <= max_bytes) {
    const std::size_t want = std::min(kChunk, max_bytes + 1 - text.size());
    const std::size_t before = text.size();
    text.resize(before + want);
    in.read(text.data() + before, static_cast<std::streamsize>(want));
    text.resize(before + static_cast<std::size_t>(in.gcount()));
    if (in.bad()) throw InputError(what + ": read error");
    if (in.eof()) break;
  }
  return text;
}

}  // namespace snode
