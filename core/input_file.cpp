#include "core/input_file.hpp"

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
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw InputError(what + ": read error");
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

}  // namespace snode
