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
  bool no_ode = false;                    // --no-ode: the ablation
  std::string resume;                     // --resume: checkpoint to continue from
  std::string evaluate;                   // --evaluate: model file to evaluate
  long checkpoint_every = 1;              // --checkpoint-every: epochs (0: only at the end)
  long checkpoint_batches = 0;            // --checkpoint-batches: batches (0: off)
  bool skip_bad_batches = false;          // --skip-bad-batches
  long stop_after_batches = 0;  // --stop-after-batches: testing aid, _Exit(3) after N batches
};

// Throws ConfigError naming the flag of the first value out of range (epochs, batch, lr,
// lr_schedule, hidden, augment, threads, split, limits, checkpoint intervals) or of flags that
// exclude each other or go together (--resume/--evaluate, image and label files).
void ValidateSettings(const Settings& s);

}  // namespace snode::mnist
