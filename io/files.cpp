#include "io/files.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/errors.hpp"

namespace snode {

namespace fs = std::filesystem;

void EnsureDirectory(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error || !fs::is_directory(dir)) {
    throw InputError("cannot create output directory '" + dir +
                     "': " + (error ? error.message() : "not a directory"));
  }
}

void PrepareOutputDirectory(const std::string& dir, const std::string& flag) {
  const auto fail = [&](const std::string& reason) {
    throw InputError(flag + " '" + dir + "': cannot write there (" + reason + ")");
  };
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) fail("creating it failed: " + error.message());
  if (!fs::is_directory(dir, error)) fail("it is not a directory");
  std::string probe = (fs::path(dir) / ".snode-write-probe.XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) fail(std::string("creating a file failed: ") + std::strerror(errno));
  const char byte = '\n';
  const bool written = ::write(fd, &byte, 1) == 1 && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  if (!written) fail(std::string("writing a file failed: ") + std::strerror(saved_errno));
}

void AtomicWriteFile(const std::string& path, const std::string& content) {
  const fs::path target(path);
  if (target.has_parent_path()) EnsureDirectory(target.parent_path().string());
  // Same directory as the target, so rename(2) is atomic (no cross-device move).
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (file == nullptr) {
    throw InputError("cannot write '" + temp + "': " + std::strerror(errno));
  }
  const bool written = std::fwrite(content.data(), 1, content.size(), file) == content.size() &&
                       std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
  const int saved_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    std::remove(temp.c_str());
    throw InputError("cannot write '" + temp + "': " + std::strerror(saved_errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(temp.c_str());
    throw InputError("cannot rename '" + temp + "' to '" + path +
                     "': " + std::strerror(rename_errno));
  }
}

std::string CsvEscape(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string quoted = "\"";
  for (const char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void WriteCsv(const std::string& path, const std::vector<std::string>& header,
              const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream text;
  auto write_row = [&](const std::vector<std::string>& row) {
    for (std::size_t j = 0; j < row.size(); ++j) text << (j ? "," : "") << CsvEscape(row[j]);
    text << "\n";
  };
  write_row(header);
  for (const auto& row : rows) write_row(row);
  AtomicWriteFile(path, text.str());
}

void WriteJson(const std::string& path, const nlohmann::json& value) {
  AtomicWriteFile(path, value.dump(2) + "\n");
}

nlohmann::json JsonNumber(double x) {
  if (!std::isfinite(x)) return nullptr;
  return x;
}

}  // namespace snode
