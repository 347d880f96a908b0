#include "io/checkpoint.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/errors.hpp"
#include "io/rng_text.hpp"

namespace snode {
namespace {

// Fixed header: magic (8) + version (4) + reserved (4) + body length (8); then the body; then
// the CRC-32 (4) of everything before it.
constexpr std::size_t kHeaderBytes = 24;
constexpr std::size_t kChecksumBytes = 4;

// ---- writing (explicit little-endian, so files move between machines) ----

class Writer {
 public:
  void U32(std::uint32_t value) {
    for (int k = 0; k < 4; ++k) out_.push_back(static_cast<char>((value >> (8 * k)) & 0xFF));
  }
  void U64(std::uint64_t value) {
    for (int k = 0; k < 8; ++k) out_.push_back(static_cast<char>((value >> (8 * k)) & 0xFF));
  }
  void F64(double value) {
    std::uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    U64(bits);
  }
  void Str(const std::string& text, const char* what) {
    Require(text.size() <= std::numeric_limits<std::uint32_t>::max(),
            std::string("checkpoint: ") + what + " is too long");
    U32(static_cast<std::uint32_t>(text.size()));
    out_ += text;
  }
  void Block(const NamedBlock& block, const char* kind) {
    for (Index k = 0; k < block.values.size(); ++k) {
      if (!std::isfinite(block.values[k])) {
        throw NumericalError(std::string("checkpoint: ") + kind + " block '" + block.name +
                             "' has a non-finite value at index " + std::to_string(k) +
                             "; refusing to save it");
      }
    }
    Str(block.name, "a block name");
    U64(static_cast<std::uint64_t>(block.values.size()));
    for (Index k = 0; k < block.values.size(); ++k) F64(block.values[k]);
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

// ---- reading: every read is bounds-checked against the body ----

class Reader {
 public:
  Reader(const std::string& bytes, std::size_t begin, std::size_t end, const std::string& source)
      : bytes_(bytes), pos_(begin), end_(end), source_(source) {}

  std::uint32_t U32(const char* what) {
    Need(4, what);
    std::uint32_t value = 0;
    for (int k = 0; k < 4; ++k) {
      value |= std::uint32_t{static_cast<unsigned char>(bytes_[pos_ + k])} << (8 * k);
    }
    pos_ += 4;
    return value;
  }
  std::uint64_t U64(const char* what) {
    Need(8, what);
    std::uint64_t value = 0;
    for (int k = 0; k < 8; ++k) {
      value |= std::uint64_t{static_cast<unsigned char>(bytes_[pos_ + k])} << (8 * k);
    }
    pos_ += 8;
    return value;
  }
  std::string Str(const char* what) {
    const std::uint32_t length = U32(what);
    Need(length, what);
    std::string text = bytes_.substr(pos_, length);
    pos_ += length;
    return text;
  }
  NamedBlock Block(const char* kind) {
    NamedBlock block;
    block.name = Str("a block name");
    const std::uint64_t count = U64("a block length");
    if (count > (end_ - pos_) / 8) {
      Malformed(std::string(kind) + " block '" + block.name + "' claims " + std::to_string(count) +
                " values, more than the file holds");
    }
    block.values.resize(static_cast<Index>(count));
    for (std::uint64_t k = 0; k < count; ++k) {
      const std::uint64_t bits = U64("a value");
      double value;
      std::memcpy(&value, &bits, sizeof value);
      if (!std::isfinite(value)) {
        throw InputError("checkpoint '" + source_ + "': " + kind + " block '" + block.name +
                         "' has a non-finite value (" + std::to_string(value) + ") at index " +
                         std::to_string(k));
      }
      block.values[static_cast<Index>(k)] = value;
    }
    return block;
  }
  std::size_t remaining() const { return end_ - pos_; }
  [[noreturn]] void Malformed(const std::string& what) const {
    throw InputError("checkpoint '" + source_ + "': malformed contents: " + what);
  }

 private:
  void Need(std::size_t count, const char* what) const {
    if (count > end_ - pos_) Malformed(std::string("body ends inside ") + what);
  }

  const std::string& bytes_;
  std::size_t pos_;
  std::size_t end_;
  const std::string& source_;
};

std::uint32_t Crc32(const char* data, std::size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // crc32 takes a uInt length; feed large images in pieces.
  while (size > 0) {
    const uInt piece = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), piece);
    data += piece;
    size -= piece;
  }
  return static_cast<std::uint32_t>(crc);
}

std::string Hex32(std::uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08X", value);
  return buffer;
}

const NamedBlock& FindBlock(const std::vector<NamedBlock>& blocks, const std::string& name,
                            const char* kind) {
  for (const NamedBlock& block : blocks) {
    if (block.name == name) return block;
  }
  throw InputError(std::string("checkpoint has no ") + kind + " block '" + name + "'");
}

// A counter above its documented bound (io/checkpoint.hpp) is a corrupt or hostile file: a run
// resumed from it would count for ever or from a negative position.
void CheckBound(std::uint64_t value, std::uint64_t bound, const char* field, const char* why,
                const std::string& source) {
  if (value <= bound) return;
  throw InputError("checkpoint '" + source + "': " + field + " " + std::to_string(value) +
                   " exceeds the bound " + std::to_string(bound) + " (" + why + ")");
}

[[noreturn]] void IoFail(const std::string& what, const std::string& path, int error) {
  throw InputError("cannot write checkpoint '" + path + "': " + what +
                   " failed: " + std::strerror(error));
}

std::string DirectoryOf(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Temporaries are named <file>.tmp.<pid>.XXXXXX. A process killed between mkstemp and rename
// leaves one behind; remove those whose writer no longer runs (kill(pid, 0) fails with ESRCH), and
// never another live process's. Best effort: a failure here must not stop the save.
void RemoveStaleTemporaries(const std::string& path, const std::string& directory) {
  const std::size_t slash = path.find_last_of('/');
  const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp.";
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) return;
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const std::size_t dot = rest.find('.');
    if (dot == std::string::npos || dot == 0) continue;  // not ours (an older naming)
    const std::string digits = rest.substr(0, dot);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t writer = static_cast<pid_t>(std::stol(digits));
    if (writer <= 0 || writer == getpid()) continue;
    if (kill(writer, 0) != 0 && errno == ESRCH) unlink((directory + "/" + name).c_str());
  }
  closedir(dir);
}

}  // namespace

const NamedBlock& Checkpoint::Parameter(const std::string& name) const {
  return FindBlock(parameters, name, "parameter");
}

const NamedBlock& Checkpoint::OptimizerState(const std::string& name) const {
  return FindBlock(optimizer_state, name, "optimiser state");
}

std::string Checkpoint::Metadata(const std::string& key, const std::string& fallback) const {
  for (const auto& entry : metadata) {
    if (entry.first == key) return entry.second;
  }
  return fallback;
}

std::string SerializeCheckpoint(const Checkpoint& checkpoint) {
  Writer body;
  body.Str(checkpoint.architecture, "the architecture");
  body.U64(checkpoint.epoch);
  body.U64(checkpoint.iteration);
  body.Str(checkpoint.rng_state, "the RNG state");
  Require(checkpoint.metadata.size() <= std::numeric_limits<std::uint32_t>::max(),
          "checkpoint: too many metadata entries");
  body.U32(static_cast<std::uint32_t>(checkpoint.metadata.size()));
  for (const auto& entry : checkpoint.metadata) {
    body.Str(entry.first, "a metadata key");
    body.Str(entry.second, "a metadata value");
  }
  body.U32(static_cast<std::uint32_t>(checkpoint.parameters.size()));
  for (const NamedBlock& block : checkpoint.parameters) body.Block(block, "parameter");
  body.Str(checkpoint.optimizer, "the optimiser name");
  body.U64(checkpoint.optimizer_step);
  body.U32(static_cast<std::uint32_t>(checkpoint.optimizer_state.size()));
  for (const NamedBlock& block : checkpoint.optimizer_state) body.Block(block, "optimiser state");

  Writer file;
  file.bytes().append(kCheckpointMagic, sizeof kCheckpointMagic);
  file.U32(kCheckpointVersion);
  file.U32(0);  // reserved
  file.U64(body.bytes().size());
  file.bytes() += body.bytes();
  file.U32(Crc32(file.bytes().data(), file.bytes().size()));
  return std::move(file.bytes());
}

Checkpoint ParseCheckpoint(const std::string& bytes, const std::string& source,
                           const std::string& expected_architecture) {
  const std::string where = "checkpoint '" + source + "': ";
  const std::size_t size = bytes.size();
  const std::size_t magic_size = sizeof kCheckpointMagic;
  // Magic first, even on a short file, so a wrong kind of file is named as such.
  if (bytes.compare(0, std::min(size, magic_size), kCheckpointMagic, std::min(size, magic_size)) !=
      0) {
    throw InputError(where + "wrong magic number (not an snode checkpoint file)");
  }
  if (size < kHeaderBytes + kChecksumBytes) {
    throw InputError(where + "truncated: " + std::to_string(size) + " bytes, shorter than the " +
                     std::to_string(kHeaderBytes + kChecksumBytes) + "-byte minimum");
  }
  Reader header(bytes, magic_size, kHeaderBytes, source);
  const std::uint32_t version = header.U32("the version");
  if (version != kCheckpointVersion) {
    throw InputError(where + "unsupported format version " + std::to_string(version) +
                     " (this build reads version " + std::to_string(kCheckpointVersion) + ")");
  }
  header.U32("the reserved field");
  const std::uint64_t body_size = header.U64("the body length");
  if (body_size > size - kHeaderBytes - kChecksumBytes) {
    throw InputError(where + "truncated: the header announces " +
                     std::to_string(kHeaderBytes + body_size + kChecksumBytes) +
                     " bytes but the file holds " + std::to_string(size));
  }
  const std::size_t body_end = kHeaderBytes + static_cast<std::size_t>(body_size);
  if (size != body_end + kChecksumBytes) {
    throw InputError(where + "has " + std::to_string(size - body_end - kChecksumBytes) +
                     " unexpected bytes after the checksum");
  }
  Reader trailer(bytes, body_end, size, source);
  const std::uint32_t stored = trailer.U32("the checksum");
  const std::uint32_t actual = Crc32(bytes.data(), body_end);
  if (stored != actual) {
    throw InputError(where + "checksum mismatch (stored " + Hex32(stored) + ", computed " +
                     Hex32(actual) + "): the file is corrupt");
  }

  Reader body(bytes, kHeaderBytes, body_end, source);
  Checkpoint checkpoint;
  checkpoint.architecture = body.Str("the architecture");
  if (!expected_architecture.empty() && checkpoint.architecture != expected_architecture) {
    throw InputError(where + "architecture mismatch: the file holds '" + checkpoint.architecture +
                     "' but the model is '" + expected_architecture + "'");
  }
  checkpoint.epoch = body.U64("the epoch");
  CheckBound(checkpoint.epoch, kMaxCheckpointEpoch, "the epoch", "completed epochs", source);
  checkpoint.iteration = body.U64("the iteration");
  CheckBound(checkpoint.iteration, kMaxCheckpointIteration, "the iteration",
             "completed batches of an epoch, at most one per sample", source);
  checkpoint.rng_state = body.Str("the RNG state");
  const std::uint32_t num_metadata = body.U32("the metadata count");
  for (std::uint32_t k = 0; k < num_metadata; ++k) {
    std::string key = body.Str("a metadata key");
    std::string value = body.Str("a metadata value");
    checkpoint.metadata.emplace_back(std::move(key), std::move(value));
  }
  const std::uint32_t num_parameters = body.U32("the parameter block count");
  for (std::uint32_t k = 0; k < num_parameters; ++k) {
    checkpoint.parameters.push_back(body.Block("parameter"));
  }
  checkpoint.optimizer = body.Str("the optimiser name");
  checkpoint.optimizer_step = body.U64("the optimiser step");
  CheckBound(checkpoint.optimizer_step, kMaxCheckpointOptimizerStep, "the optimiser step",
             "2^53, the largest count a double holds exactly", source);
  const std::uint32_t num_state = body.U32("the optimiser block count");
  for (std::uint32_t k = 0; k < num_state; ++k) {
    checkpoint.optimizer_state.push_back(body.Block("optimiser state"));
  }
  if (body.remaining() != 0) {
    body.Malformed(std::to_string(body.remaining()) + " unread bytes at the end of the body");
  }
  return checkpoint;
}

void SaveCheckpoint(const Checkpoint& checkpoint, const std::string& path) {
  Require(!path.empty(), "SaveCheckpoint: empty path");
  const std::string image = SerializeCheckpoint(checkpoint);
  const std::string directory = DirectoryOf(path);
  // The temporary lives in the destination's directory: rename() is atomic only within one
  // file system.
  RemoveStaleTemporaries(path, directory);
  std::string temp = path + ".tmp." + std::to_string(getpid()) + ".XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0) IoFail("creating a temporary file in '" + directory + "'", path, errno);
  temp = name.data();
  auto fail = [&](const std::string& what, int error) {
    unlink(temp.c_str());
    IoFail(what, path, error);
  };
  std::size_t written = 0;
  while (written < image.size()) {
    const ssize_t n = write(fd, image.data() + written, image.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      close(fd);
      fail("writing '" + temp + "'", error);
    }
    written += static_cast<std::size_t>(n);
  }
  // fsync before rename: otherwise a power loss can leave the new name pointing at no data.
  if (fsync(fd) != 0) {
    const int error = errno;
    close(fd);
    fail("fsync of '" + temp + "'", error);
  }
  if (close(fd) != 0) fail("closing '" + temp + "'", errno);
  // mkstemp creates 0600; a checkpoint is ordinary user data.
  chmod(temp.c_str(), 0644);
  if (rename(temp.c_str(), path.c_str()) != 0) fail("renaming '" + temp + "'", errno);
  // The rename itself is durable only once the directory entry is on disk.
  const int dir_fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    const int status = fsync(dir_fd);
    const int error = errno;
    close(dir_fd);
    // Some file systems cannot fsync a directory (EINVAL); the file itself is complete then.
    if (status != 0 && error != EINVAL)
      IoFail("fsync of directory '" + directory + "'", path, error);
  }
}

Checkpoint LoadCheckpoint(const std::string& path, const std::string& expected_architecture) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    throw InputError("checkpoint '" + path + "': cannot open: " + std::strerror(errno));
  }
  if (S_ISDIR(info.st_mode)) throw InputError("checkpoint '" + path + "': is a directory");
  // A device or pipe (/dev/zero) could be read for ever.
  if (!S_ISREG(info.st_mode)) {
    throw InputError("checkpoint '" + path + "': is not a regular file");
  }
  const auto too_large = [&](std::uint64_t bytes) {
    return InputError("checkpoint '" + path + "': " + std::to_string(bytes) +
                      " bytes, more than the limit of " + std::to_string(kMaxCheckpointBytes));
  };
  if (static_cast<std::uint64_t>(info.st_size) > kMaxCheckpointBytes) throw too_large(info.st_size);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("checkpoint '" + path + "': cannot open for reading");
  // At most one byte beyond the limit, in case the file grew since stat().
  std::string bytes(static_cast<std::size_t>(info.st_size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) throw InputError("checkpoint '" + path + "': read error");
  if (in) {
    char more[4096];
    while (in.read(more, sizeof more) || in.gcount() > 0) {
      bytes.append(more, static_cast<std::size_t>(in.gcount()));
      if (bytes.size() > kMaxCheckpointBytes) throw too_large(bytes.size());
    }
    if (in.bad()) throw InputError("checkpoint '" + path + "': read error");
  }
  return ParseCheckpoint(bytes, path, expected_architecture);
}

namespace {

[[noreturn]] void Invalid(const std::string& source, const std::string& what) {
  throw InputError("checkpoint '" + source + "': " + what);
}

// Adam keeps one "m.<name>" and one "v.<name>" block per parameter block, of its length, and its
// second moments v are averages of squares: never negative.
void ValidateAdamState(const Checkpoint& c, const std::string& source) {
  if (c.rng_state.empty())
    Invalid(source, "a training checkpoint (optimiser adam) has no RNG state");
  if (c.optimizer_state.size() != 2 * c.parameters.size()) {
    Invalid(source, "optimiser adam has " + std::to_string(c.optimizer_state.size()) +
                        " state blocks; expected 2 per parameter block (" +
                        std::to_string(2 * c.parameters.size()) + ")");
  }
  for (const NamedBlock& parameter : c.parameters) {
    for (const char* moment : {"m.", "v."}) {
      const std::string name = moment + parameter.name;
      const auto found = std::find_if(c.optimizer_state.begin(), c.optimizer_state.end(),
                                      [&](const NamedBlock& b) { return b.name == name; });
      if (found == c.optimizer_state.end()) {
        Invalid(source, "optimiser adam has no state block '" + name + "'");
      }
      if (found->values.size() != parameter.values.size()) {
        Invalid(source, "optimiser state block '" + name + "' has " +
                            std::to_string(found->values.size()) + " values but parameter block '" +
                            parameter.name + "' has " + std::to_string(parameter.values.size()));
      }
      if (moment[0] == 'v' && found->values.size() > 0 && found->values.minCoeff() < 0) {
        Index k = 0;
        found->values.minCoeff(&k);
        Invalid(source, "Adam second moment '" + name + "' is negative at index " +
                            std::to_string(k) + " (" + std::to_string(found->values[k]) +
                            "); v must be >= 0");
      }
    }
  }
}

// The running sums of the current epoch: finite and non-negative (losses, counts, seconds).
void ValidateEpochSums(const Checkpoint& c, const std::string& source) {
  for (const auto& [key, value] : c.metadata) {
    const bool sum = key.size() > 10 && key.compare(0, 6, "epoch_") == 0 &&
                     key.compare(key.size() - 4, 4, "_sum") == 0;
    if (!sum && key != "epoch_seconds") continue;
    char* end = nullptr;
    const double x = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !std::isfinite(x) || x < 0) {
      Invalid(source,
              "metadata " + key + " = '" + value.substr(0, 40) + "' is not a finite number >= 0");
    }
  }
}

// The finished epochs' records: a JSON array of at most `epoch` objects, each for an epoch in
// 1..epoch (the trainer reads them back into its history).
void ValidateHistory(const Checkpoint& c, const std::string& source) {
  const std::string text = c.Metadata("history", "[]");
  const nlohmann::json history = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!history.is_array()) Invalid(source, "metadata history is not a JSON array");
  if (history.size() > c.epoch) {
    Invalid(source, "metadata history holds " + std::to_string(history.size()) +
                        " epochs, more than the " + std::to_string(c.epoch) + " completed");
  }
  for (const nlohmann::json& entry : history) {
    const bool ok =
        entry.is_object() && entry.contains("epoch") && entry["epoch"].is_number_integer() &&
        entry["epoch"].get<std::int64_t>() >= 1 &&
        entry["epoch"].get<std::int64_t>() <= static_cast<std::int64_t>(c.epoch) &&
        (!entry.contains("skipped_batches") || entry["skipped_batches"].is_number_integer());
    if (!ok) {
      Invalid(source,
              "metadata history has a malformed record (each needs an integer epoch in 1.." +
                  std::to_string(c.epoch) + ")");
    }
  }
}

}  // namespace

std::uint64_t MetadataCounter(const Checkpoint& checkpoint, const std::string& key,
                              std::uint64_t bound, const std::string& source) {
  const std::string text = checkpoint.Metadata(key, "0");
  const bool digits = !text.empty() && text.size() <= 19 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const std::uint64_t value = digits ? std::stoull(text) : 0;
  if (!digits || value > bound) {
    Invalid(source, "metadata " + key + " = '" + text.substr(0, 40) + "' is not a counter in 0.." +
                        std::to_string(bound));
  }
  return value;
}

void ValidateTrainingCheckpoint(const Checkpoint& checkpoint, const std::string& source) {
  const Checkpoint& c = checkpoint;
  if (c.optimizer == "adam") {
    ValidateAdamState(c, source);
  } else if (c.optimizer.empty() && (!c.optimizer_state.empty() || c.optimizer_step != 0)) {
    Invalid(source, "optimiser state without an optimiser name");
  }
  if (!c.rng_state.empty()) RngFromText(c.rng_state, source);
  // Saved inside an epoch: every completed batch either updated the parameters or was skipped.
  const std::uint64_t done = MetadataCounter(c, kBatchesDoneKey, c.iteration, source);
  const std::uint64_t skipped = MetadataCounter(c, kSkippedKey, c.iteration, source);
  if (done + skipped > c.iteration) {
    Invalid(source, std::string("metadata ") + kBatchesDoneKey + " (" + std::to_string(done) +
                        ") + " + kSkippedKey + " (" + std::to_string(skipped) +
                        ") exceed the iteration " + std::to_string(c.iteration));
  }
  ValidateEpochSums(c, source);
  ValidateHistory(c, source);
}

}  // namespace snode
