#include "studies/mnist_checkpoint.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "core/errors.hpp"
#include "io/files.hpp"
#include "io/rng_text.hpp"

namespace snode::mnist {
namespace {

// Exact text for doubles kept in checkpoint metadata (hex float round-trips every bit).
std::string ExactText(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a", x);
  return buffer;
}

double ParseExact(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

// A stored setting as a user reads it: a hex float (ExactText) in the shortest decimal that
// names the same double (0x1.47ae147ae147bp-7 -> 0.01); any other text as it is.
std::string Readable(const std::string& stored) {
  char* end = nullptr;
  const double x = std::strtod(stored.c_str(), &end);
  if (stored.find("0x") == std::string::npos || end == stored.c_str() || *end != '\0') {
    return stored;
  }
  char buffer[64];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, x);
    if (std::strtod(buffer, nullptr) == x) break;
  }
  return buffer;
}

// The settings whose change makes a resumed run differ from an uninterrupted one. The parts of a
// batch, not the threads or ranks that run them, decide the computation: s.batch_parts is the
// trainer's resolved count (never 0 here). Files from before it stored "threads" instead.
std::vector<std::pair<std::string, std::string>> RunIdentity(const Settings& s) {
  return {{"integrator", s.solver.integrator},
          {"gradient", s.solver.gradient},
          {"rtol", ExactText(s.solver.integrator_options.rtol)},
          {"atol", ExactText(s.solver.integrator_options.atol)},
          {"step", ExactText(s.solver.integrator_options.fixed_step)},
          {"lr", ExactText(s.lr)},
          {"lr_schedule", s.lr_schedule},
          {"augment", std::to_string(s.augment)},
          {"batch", std::to_string(s.batch)},
          {"batch_parts", std::to_string(s.batch_parts)}};
}

void RestoreEpochSums(const Checkpoint& c, const std::string& path, TrainingState& state) {
  state.loss_sum = ParseExact(c.Metadata("epoch_loss_sum", "0"));
  state.nfe_forward_sum = ParseExact(c.Metadata("epoch_nfe_forward_sum", "0"));
  state.nfe_backward_sum = ParseExact(c.Metadata("epoch_nfe_backward_sum", "0"));
  state.vjp_sum = ParseExact(c.Metadata("epoch_vjp_sum", "0"));
  state.seconds = ParseExact(c.Metadata("epoch_seconds", "0"));
  // Validated by ValidateTrainingCheckpoint: counters up to the iteration.
  state.batches_done = static_cast<long>(MetadataCounter(c, kBatchesDoneKey, c.iteration, path));
  state.skipped = static_cast<long>(MetadataCounter(c, kSkippedKey, c.iteration, path));
  const nlohmann::json history = nlohmann::json::parse(c.Metadata("history", "[]"), nullptr,
                                                       /*allow_exceptions=*/false);
  if (history.is_array()) {
    for (const auto& entry : history) {
      if (entry.is_object()) state.history.push_back(FromJson(entry));
    }
  }
}

// Bit-identical continuation needs the same settings; say which differ instead of refusing, so a
// run can deliberately continue with, e.g., a smaller learning rate.
void NoteChangedSettings(const Checkpoint& c, const Settings& s, std::ostream& notes) {
  for (const auto& [key, value] : RunIdentity(s)) {
    const std::string stored = c.Metadata(key);
    if (!stored.empty() && stored != value) {
      notes << "note: resuming with " << key << " = " << Readable(value)
            << "; the checkpoint was made with " << Readable(stored)
            << " (the run will not repeat an uninterrupted one)\n";
    }
  }
  // The cosine schedule spans all epochs, so a longer run changes the rates already used.
  const std::string stored_epochs = c.Metadata("epochs");
  if (s.lr_schedule == "cosine" && !stored_epochs.empty() &&
      stored_epochs != std::to_string(s.epochs)) {
    notes << "note: resuming with epochs = " << s.epochs << "; the checkpoint was made with "
          << stored_epochs << ", so the cosine schedule is stretched from here on\n";
  }
}

}  // namespace

nlohmann::json ToJson(const EpochRecord& r) {
  return {{"epoch", r.epoch},
          {"train_loss", JsonNumber(r.train_loss)},
          {"test_loss", JsonNumber(r.test_loss)},
          {"test_accuracy", JsonNumber(r.test_accuracy)},
          {"nfe_forward_per_batch", JsonNumber(r.nfe_forward)},
          {"nfe_backward_per_batch", JsonNumber(r.nfe_backward)},
          {"vjp_per_batch", JsonNumber(r.vjp)},
          {"epoch_seconds", JsonNumber(r.epoch_seconds)},
          {"eval_seconds", JsonNumber(r.eval_seconds)},
          {"skipped_batches", r.skipped_batches}};
}

EpochRecord FromJson(const nlohmann::json& j) {
  auto number = [&j](const char* key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
  };
  EpochRecord r;
  r.epoch = j.value("epoch", 0L);
  r.train_loss = number("train_loss");
  r.test_loss = number("test_loss");
  r.test_accuracy = number("test_accuracy");
  r.nfe_forward = number("nfe_forward_per_batch");
  r.nfe_backward = number("nfe_backward_per_batch");
  r.vjp = number("vjp_per_batch");
  r.epoch_seconds = number("epoch_seconds");
  r.eval_seconds = number("eval_seconds");
  r.skipped_batches = j.value("skipped_batches", 0L);
  return r;
}

Checkpoint MakeCheckpoint(const Model& model, const Settings& s, const TrainingState& state) {
  Checkpoint c;
  c.architecture = model.Architecture();
  c.parameters = model.Blocks(state.params);
  c.optimizer = "adam";
  c.optimizer_step = state.adam->step();
  for (NamedBlock& block : model.Blocks(state.adam->m(), "m.")) {
    c.optimizer_state.push_back(std::move(block));
  }
  for (NamedBlock& block : model.Blocks(state.adam->v(), "v.")) {
    c.optimizer_state.push_back(std::move(block));
  }
  c.rng_state = state.epoch_rng;
  c.epoch = static_cast<std::uint64_t>(state.epoch);
  c.iteration = static_cast<std::uint64_t>(state.batch);
  nlohmann::json history = nlohmann::json::array();
  for (const EpochRecord& r : state.history) history.push_back(ToJson(r));
  // The run's identity, with the settings that may change on resume (epochs, seed) in between.
  c.metadata = {{"app", "mnist_classifier"}};
  for (const auto& entry : RunIdentity(s)) {
    c.metadata.push_back(entry);
    if (entry.first == "lr_schedule") c.metadata.emplace_back("epochs", std::to_string(s.epochs));
  }
  c.metadata.emplace_back("seed", std::to_string(s.seed));
  c.metadata.insert(c.metadata.end(),
                    {{"epoch_loss_sum", ExactText(state.loss_sum)},
                     {"epoch_nfe_forward_sum", ExactText(state.nfe_forward_sum)},
                     {"epoch_nfe_backward_sum", ExactText(state.nfe_backward_sum)},
                     {"epoch_vjp_sum", ExactText(state.vjp_sum)},
                     {"epoch_seconds", ExactText(state.seconds)},
                     {kBatchesDoneKey, std::to_string(state.batches_done)},
                     {kSkippedKey, std::to_string(state.skipped)},
                     {"history", history.dump()}});
  return c;
}

void RestoreCheckpoint(const Model& model, const Settings& s, const std::string& path,
                       TrainingState& state, std::ostream& notes) {
  const Checkpoint c = LoadCheckpoint(path, model.Architecture());
  ValidateTrainingCheckpoint(c, path);  // what `checkpoint_tool check` runs
  state.params = model.FromBlocks(c.parameters, "", path);
  if (c.optimizer != "adam") {
    throw InputError("checkpoint '" + path + "' holds no Adam state (optimiser '" + c.optimizer +
                     "'); it is a model file, not a training checkpoint");
  }
  state.adam->SetState(model.FromBlocks(c.optimizer_state, "m.", path),
                       model.FromBlocks(c.optimizer_state, "v.", path), c.optimizer_step);
  state.epoch_rng = c.rng_state;
  state.rng = RngFromText(c.rng_state, path);
  state.epoch = static_cast<long>(c.epoch);
  state.batch = static_cast<long>(c.iteration);
  RestoreEpochSums(c, path, state);
  NoteChangedSettings(c, s, notes);
  if (state.batch > 0 && c.Metadata("batch") != std::to_string(s.batch)) {
    throw ConfigError("checkpoint '" + path + "' was saved inside an epoch with --batch " +
                      c.Metadata("batch") + "; resume it with the same --batch");
  }
}

}  // namespace snode::mnist
