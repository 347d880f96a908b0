#pragma once
// The settings of an MNIST classifier run (training, evaluation or the bench), one field per
// mnist_classifier flag; each comment names the flag.

#include <cstdint>
#include <string>

#include "studies/mnist_data.hpp"
#include "studies/mnist_model.hpp"
#include "studies/mnist_worker.hpp"

namespace snode::mnist {

struct Settings {
  DataOptions data;        // --data, --split, --{train,test}-{images,labels}, --limit-*
  SolverOptions solver;    // --integrator, --gradient, --rtol, --atol, --step, ...
  std::uint64_t seed = 0;  // --seed: initial parameters, shuffling, augmentation
  std::string out_dir = "results/mnist";  // --out
  bool check_gradients = false;           // --check-gradients: on the first batch before training
  bool quiet = false;                     // --quiet: no progress line
  long epochs = 5;                        // --epochs: total (a resumed run continues up to it)
  long batch = 128;                       // --batch
  double lr = 1e-3;                       // --lr: Adam's learning rate
  std::string lr_schedule = "constant";   // --lr-schedule: "constant" or "cosine"
  long hidden = kDefaultHidden;           // --hidden: width of z
  long augment = 0;                       // --augment: max random shift of training images (px)
  long threads = 1;                       // --threads
  // --batch-parts: the parts a batch is cut into (0: PartsFor(threads, batch) × the ranks); they
  // decide the computation (studies/mnist_worker.hpp), the threads and ranks only who runs them.
  long batch_parts = 0;
  bool check_parameters = false;  // --check-parameters: same θ on every rank after every step
  bool step_losses = false;       // --step-losses: append every batch's loss to mnist_steps.csv
  bool no_ode = false;            // --no-ode: the ablation
  std::string resume;             // --resume: checkpoint to continue from
  std::string evaluate;           // --evaluate: model file to evaluate
  long checkpoint_every = 1;      // --checkpoint-every: epochs (0: only at the end)
  long checkpoint_batches = 0;    // --checkpoint-batches: batches (0: off)
  bool skip_bad_batches = false;  // --skip-bad-batches
  long stop_after_batches = 0;    // --stop-after-batches: testing aid, _Exit(3) after N batches
};

// Throws ConfigError naming the flag of the first value out of range (epochs, batch, lr,
// lr_schedule, hidden, augment, threads, split, limits, checkpoint intervals) or of flags that
// exclude each other or go together (--resume/--evaluate, image and label files).
void ValidateSettings(const Settings& s);

// The memory a run on rows × cols images may take, so an input layer sized by a hostile or
// mistaken image file (one 4096×4096 image: a billion parameters) is refused before it is
// allocated instead of ending in std::bad_alloc.
inline constexpr double kMaxClassifierBytes = 2.0 * (1 << 30);  // 2 GiB

// Bytes a run allocates that grow with the image size, the width and the batch: the parameter
// vector, the gradient, one gradient per thread, and when training Adam's m and v and the
// update's temporaries (7 + max(threads, batch_parts) parameter-sized vectors; 2 + threads when
// evaluating), plus
// the batch's images (twice: gathered and shifted) and ODE states.
double EstimatedBytes(const Settings& s, Index rows, Index cols, bool training);

// InputError when EstimatedBytes exceeds kMaxClassifierBytes: "images of RxC pixels need a model
// of N parameters: an estimated X GiB (...), more than the classifier's limit of 2 GiB; use smaller
// images, a smaller --hidden, --batch or --threads".
void CheckMemoryFits(const Settings& s, Index rows, Index cols, bool training);

}  // namespace snode::mnist
