#include "studies/mnist_settings.hpp"

#include <algorithm>
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
  Require(
      s.batch_parts >= 0 && s.batch_parts <= 4096,
      "--batch-parts must be in 0..4096 (0: the default), got " + std::to_string(s.batch_parts));
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

double EstimatedBytes(const Settings& s, Index rows, Index cols, bool training) {
  const double pixels = static_cast<double>(rows) * static_cast<double>(cols);
  const double params =
      static_cast<double>(Model(!s.no_ode, static_cast<Index>(pixels), s.hidden).num_params());
  const long gradients = training ? std::max(s.threads, s.batch_parts) : s.threads;
  const double vectors = static_cast<double>(training ? 7 + gradients : 2 + gradients);
  // A batch's images (gathered, shifted), and its ODE states: a few dozen stages of batch × H.
  const double batch = static_cast<double>(s.batch) * (2 * pixels + 64.0 * s.hidden);
  return 8.0 * (vectors * params + batch);
}

void CheckMemoryFits(const Settings& s, Index rows, Index cols, bool training) {
  const double bytes = EstimatedBytes(s, rows, cols, training);
  if (bytes <= kMaxClassifierBytes) return;
  const Index params = Model(!s.no_ode, rows * cols, s.hidden).num_params();
  const double gib = 1 << 30;
  throw InputError("images of " + std::to_string(rows) + "x" + std::to_string(cols) +
                   " pixels need a model of " + std::to_string(params) +
                   " parameters: an estimated " + FormatNumber(bytes / gib, 3) + " GiB (" +
                   (training ? "parameters, gradients, Adam state" : "parameters, gradients") +
                   " and a batch of " + std::to_string(s.batch) + " with --hidden " +
                   std::to_string(s.hidden) + " and --threads " + std::to_string(s.threads) +
                   "), more than the classifier's limit of " +
                   FormatNumber(kMaxClassifierBytes / gib, 3) +
                   " GiB; use smaller images, a smaller --hidden, --batch or --threads");
}

}  // namespace snode::mnist
