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
// mismatch, malformed contents, architecture mismatch, NaN/Inf in any block, a counter (epoch,
// iteration, optimiser step) above its bound below.
//
// ValidateTrainingCheckpoint checks what a loaded file holds against what a training run needs
// (RNG state, Adam moments, the position inside an epoch). It is the one validation shared by
// `checkpoint_tool check`, `mnist_classifier --resume` and `--evaluate`, so the checker is never
// weaker than the reader.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace snode {

inline constexpr char kCheckpointMagic[8] = {'S', 'N', 'O', 'D', 'E', 'C', 'K', 'P'};
inline constexpr std::uint32_t kCheckpointVersion = 1;

// Bounds on the counters of a checkpoint; a file beyond one is rejected by ParseCheckpoint with
// InputError "checkpoint '<file>': <field> <value> exceeds the bound <bound> (<why>)".
inline constexpr std::uint64_t kMaxCheckpointEpoch =
    1000000;  // completed epochs (= --epochs bound)
// Completed batches of the current epoch: at most one per sample, and an IDX file holds at most
// kMaxIdxCount (io/idx_reader.hpp) samples.
inline constexpr std::uint64_t kMaxCheckpointIteration = 100000000;
// Optimiser steps: a count a double holds exactly (Adam's bias correction uses it as one).
inline constexpr std::uint64_t kMaxCheckpointOptimizerStep = std::uint64_t{1} << 53;

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

// Largest file LoadCheckpoint reads: 2^31 bytes, 268 million doubles (a model of 90 million
// parameters with Adam's two moments).
inline constexpr std::uint64_t kMaxCheckpointBytes = std::uint64_t{1} << 31;

// Reads and validates (see file comment); the file must be a regular file of at most
// kMaxCheckpointBytes (InputError naming it otherwise).
Checkpoint LoadCheckpoint(const std::string& path, const std::string& expected_architecture = "");

// The training-position metadata of a checkpoint saved inside an epoch (the MNIST trainer's):
// completed batches that updated the parameters and skipped ones; each at most the iteration.
inline constexpr char kBatchesDoneKey[] = "epoch_batches_done";
inline constexpr char kSkippedKey[] = "epoch_skipped";

// The metadata value for key as a counter in 0..bound (0 when absent); InputError naming source,
// the key and the bound for anything else (not a decimal integer, or out of range).
std::uint64_t MetadataCounter(const Checkpoint& checkpoint, const std::string& key,
                              std::uint64_t bound, const std::string& source);

// The validation shared by `checkpoint_tool check`, --resume and --evaluate (see the file comment);
// source names the file in messages. Throws InputError for:
//  * optimiser "adam": a missing or unreadable RNG state (io/rng_text.hpp); optimiser blocks other
//    than one "m.<name>" and one "v.<name>" of the same length per parameter block; a negative v;
//  * any optimiser: a non-empty RNG state that does not read; optimiser blocks without an
//    optimiser name, or a step without one;
//  * metadata: epoch_batches_done or epoch_skipped not a counter, or together above the iteration;
//    the running sums (epoch_*_sum, epoch_seconds) not finite numbers >= 0; a history that is not
//    a JSON array of at most `epoch` objects with "epoch" in 1..epoch.
void ValidateTrainingCheckpoint(const Checkpoint& checkpoint, const std::string& source);

}  // namespace snode
