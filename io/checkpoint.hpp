#pragma once
// Model and training checkpoints: a versioned, checksummed binary file (layout in
// docs/file-formats.md, "snode checkpoint").
//
// A checkpoint holds the architecture (free text that the loader compares with the model it is
// building), named parameter blocks, the optimiser's name, step count and named state blocks
// (Adam: "m" and "v"), the RNG state (text from std::mt19937_64::operator<<), the training
// position (epoch, iteration) and text metadata (the options of the run, for the record).
//
// SaveCheckpoint writes atomically: a temporary file in the destination's directory is written,
// flushed and fsync()ed, then rename()d over the destination, and the directory is fsync()ed.
// A crash or kill at any instant leaves either the old file or the new one, never a torn file;
// on failure the temporary is removed, the old file is untouched and InputError is thrown.
// The temporary is named <path>.tmp.<pid>.XXXXXX; a save first removes such temporaries left by
// writers that no longer run (a kill between creating and renaming one).
//
// LoadCheckpoint validates everything and throws InputError naming the file and the problem:
// missing file, wrong magic, unsupported version, truncated or over-long file, checksum
// mismatch, malformed contents, architecture mismatch, NaN/Inf in any block.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace snode {

inline constexpr char kCheckpointMagic[8] = {'S', 'N', 'O', 'D', 'E', 'C', 'K', 'P'};
inline constexpr std::uint32_t kCheckpointVersion = 1;

struct NamedBlock {
  std::string name;
  Vector values;
};

struct Checkpoint {
  std::string architecture;                 // e.g. "mnist_odenet input=784-64 ode=mlp ..."
  std::vector<NamedBlock> parameters;       // model parameters, in model order
  std::string optimizer;                    // e.g. "adam"; "" when none
  std::uint64_t optimizer_step = 0;         // Adam's t
  std::vector<NamedBlock> optimizer_state;  // e.g. {"m", …}, {"v", …}
  std::string rng_state;                    // std::mt19937_64 state as text ("" when none)
  std::uint64_t epoch = 0;                  // completed epochs
  std::uint64_t iteration = 0;              // completed batches in the current epoch
  std::vector<std::pair<std::string, std::string>> metadata;  // free key/value text

  // The block with this name; throws InputError when absent.
  const NamedBlock& Parameter(const std::string& name) const;
  const NamedBlock& OptimizerState(const std::string& name) const;
  // The metadata value for key, or fallback when absent.
  std::string Metadata(const std::string& key, const std::string& fallback = "") const;
};

// The file image of a checkpoint (what SaveCheckpoint writes). Throws ConfigError for names or
// strings longer than the format allows (2^32−1 bytes) and NumericalError for NaN/Inf values,
// so a checkpoint that could not be loaded is never written.
std::string SerializeCheckpoint(const Checkpoint& checkpoint);

// Parses and validates a file image; `source` names it in error messages.
// expected_architecture: when non-empty, must equal the stored architecture exactly.
Checkpoint ParseCheckpoint(const std::string& bytes, const std::string& source,
                           const std::string& expected_architecture = "");

// Writes atomically (see file comment). Throws InputError on any I/O failure.
void SaveCheckpoint(const Checkpoint& checkpoint, const std::string& path);

// Reads and validates (see file comment).
Checkpoint LoadCheckpoint(const std::string& path, const std::string& expected_architecture = "");

}  // namespace snode
