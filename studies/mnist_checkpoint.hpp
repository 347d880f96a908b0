#pragma once
// The MNIST trainer's state and its mapping to and from a checkpoint (io/checkpoint.hpp).
//
// A checkpoint holds the parameters, Adam's m, v and step, the shuffling RNG's state at the start
// of the current epoch, the epoch and the batch within it, the running sums of the current epoch
// and the records of the finished epochs, so a resumed run continues the very same sequence of
// updates: with the same settings its final parameters equal an uninterrupted run's bit for bit.
// The run's settings are kept as text metadata (doubles as hex floats, exact).

#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "optim/adam.hpp"
#include "studies/mnist_model.hpp"
#include "studies/mnist_settings.hpp"

namespace snode::mnist {

// One finished epoch.
struct EpochRecord {
  long epoch = 0;  // 1-based
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double nfe_forward = 0;   // per batch
  double nfe_backward = 0;  // per batch
  double vjp = 0;           // per batch
  double epoch_seconds = 0;
  double eval_seconds = 0;
  long skipped_batches = 0;
  // CPU seconds of the process (all threads) in the same spans, for the benchmark; not written to
  // the CSV, the JSON or checkpoints (a resumed epoch counts only this run's part).
  double epoch_cpu_seconds = 0;
  double eval_cpu_seconds = 0;
};

// {"epoch", "train_loss", "test_loss", "test_accuracy", "nfe_forward_per_batch",
//  "nfe_backward_per_batch", "vjp_per_batch", "epoch_seconds", "eval_seconds",
//  "skipped_batches"} (non-finite numbers as null); FromJson reads missing or null numbers as NaN.
nlohmann::json ToJson(const EpochRecord& r);
EpochRecord FromJson(const nlohmann::json& j);

// Everything that must survive a restart, in one place.
struct TrainingState {
  Vector params;
  std::unique_ptr<Adam> adam;
  std::mt19937_64 rng;
  std::string epoch_rng;  // RNG state at the start of the current epoch (io/rng_text.hpp)
  long epoch = 0;         // completed epochs
  long batch = 0;         // completed batches of the current epoch
  // Running sums of the current epoch (so a resumed epoch reports the whole epoch).
  double loss_sum = 0, nfe_forward_sum = 0, nfe_backward_sum = 0, vjp_sum = 0, seconds = 0;
  double cpu_seconds = 0;  // this run's part of the epoch only (not in checkpoints)
  long batches_done = 0, skipped = 0;
  std::vector<EpochRecord> history;
};

// The checkpoint of state (state.adam must be set) for a run with settings s.
Checkpoint MakeCheckpoint(const Model& model, const Settings& s, const TrainingState& state);

// Loads the checkpoint at path into state (whose adam must be sized for the model). Throws
// InputError for an unreadable file, one ValidateTrainingCheckpoint refuses (io/checkpoint.hpp:
// the validation `checkpoint_tool check` runs), another architecture or a model file without Adam
// state,
// and ConfigError when the file was saved inside an epoch with another batch size. Settings that
// differ from the stored ones (so the run will not repeat an uninterrupted one) are reported on
// notes, one "note: ..." line each.
void RestoreCheckpoint(const Model& model, const Settings& s, const std::string& path,
                       TrainingState& state, std::ostream& notes);

}  // namespace snode::mnist
