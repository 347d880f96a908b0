#include "studies/mnist_settings.hpp"

#include <cmath>

#include "core/errors.hpp"
#include "studies/report.hpp"

namespace snode::mnist {

void ValidateSettings(const Settings& s) {
  Require(s.epochs >= 1, "--epochs must be at least 1, got " + std::to_string(s.epochs));
  Require(s.batch >= 1, "--batch must be at least 1, got " + std::to_string(s.batch));
  Require(std::isfinite(s.lr) && s.lr > 0, "--lr must be positive, got " + FormatNumber(s.lr, 6));
  Require(s.lr_schedule == "constant" || s.lr_schedule == "cosine",
          "--lr-schedule must be constant or cosine, got '" + s.lr_schedule + "'");
  Require(s.hidden >= 1 && s.hidden <= 4096,
          "--hidden must be in 1..4096, got " + std::to_string(s.hidden));
  Require(s.augment >= 0 && s.augment <= 8,
          "--augment must be in 0..8 pixels, got " + std::to_string(s.augment));
  Require(s.threads >= 1 && s.threads <= 64,
          "--threads must be in 1..64, got " + std::to_string(s.threads));
  Require(s.data.split >= 0, "--split must be positive (or 0 for separate files)");
  Require(s.data.limit_train >= 0 && s.data.limit_test >= 0,
          "--limit-train/--limit-test must be >= 0");
  Require(s.checkpoint_every >= 0 && s.checkpoint_batches >= 0,
          "--checkpoint-every/--checkpoint-batches must be >= 0");
  Require(s.stop_after_batches >= 0, "--stop-after-batches must be >= 0");
  Require(s.resume.empty() || s.evaluate.empty(), "--resume and --evaluate exclude each other");
  Require(s.data.train_images.empty() == s.data.train_labels.empty(),
          "--train-images and --train-labels go together");
  Require(s.data.test_images.empty() == s.data.test_labels.empty(),
          "--test-images and --test-labels go together");
}

}  // namespace snode::mnist
