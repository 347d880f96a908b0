#include "apps/cli/mnist_classifier_cli.hpp"

#include <initializer_list>
#include <string>

#include "core/errors.hpp"
#include "io/checkpoint.hpp"
#include "io/idx_reader.hpp"

namespace snode::app {
namespace {

const char* const kUsage =
    "usage: mnist_classifier [options]\n"
    "Trains the MNIST ODE-Net (784 -> 64, ODE block MLP([z,t]: 65 -> 64 -> 64, tanh) on\n"
    "t in [0,1], 64 -> 10, softmax cross-entropy) with Adam, or its no-ODE ablation.\n"
    "Examples:\n"
    "  mnist_classifier                                   # Fashion-MNIST 60k/10k, dopri5, bptt\n"
    "  mnist_classifier --data /work/shared/data/mnist --split 8000 --epochs 5\n"
    "  mnist_classifier --integrator rk4 --step 0.25 --threads 2\n"
    "  mpirun -np 2 mnist_classifier --data /work/shared/data/mnist --split 8000 --batch-parts 2\n"
    "  mnist_classifier --data /work/shared/data/mnist --split 8000 --integrator rk4 --lr 3e-3 \\\n"
    "      --lr-schedule cosine --augment 1 --epochs 30     # best digits setting, docs/apps.md\n"
    "  mnist_classifier --resume results/mnist/checkpoint.snode --epochs 10\n"
    "  mnist_classifier --evaluate results/mnist/model.snode --data /work/shared/data/mnist "
    "--split 8000";

void AddMnistOptions(po::options_description& desc) {
  CommonDefaults defaults;
  defaults.rtol = 1e-3;
  defaults.atol = 1e-3;
  defaults.out = "results/mnist";
  AddCommonOptions(desc, defaults);
  // clang-format off
  desc.add_options()
      ("data", po::value<std::string>()->default_value(mnist::kDefaultDataDir),
       "directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")
      ("split", po::value<long>()->default_value(0),
       "use only the t10k files: the first N samples train, the rest test (W4: 8000)")
      ("train-images", po::value<std::string>(), "training images file (overrides --data)")
      ("train-labels", po::value<std::string>(), "training labels file")
      ("test-images", po::value<std::string>(), "test images file")
      ("test-labels", po::value<std::string>(), "test labels file")
      ("limit-train", po::value<long>()->default_value(0),
       "use only the first N training samples (0 = all)")
      ("limit-test", po::value<long>()->default_value(0),
       "use only the first N test samples (0 = all)")
      ("epochs", po::value<long>()->default_value(5), "total number of epochs (a resumed run continues up to it)")
      ("batch", po::value<long>()->default_value(128), "minibatch size")
      ("lr", po::value<double>()->default_value(1e-3), "Adam learning rate")
      ("lr-schedule", po::value<std::string>()->default_value("constant"),
       "constant, or cosine: lr (1 + cos(pi k/K))/2 over the K updates of all --epochs")
      ("hidden", po::value<long>()->default_value(mnist::kDefaultHidden),
       "width of z: input projection, ODE block MLP and read-out input (W4: 64)")
      ("augment", po::value<long>()->default_value(0),
       "shift each training image by a random (dx, dy) in [-N, N] pixels (0: off)")
      ("threads", po::value<long>()->default_value(1),
       "threads per batch (split when the batch has >= 64 samples) and for evaluation")
      ("batch-parts", po::value<long>()->default_value(0),
       "cut each batch of >= 64 samples into K parts, dealt to the ranks and their threads; the "
       "parts decide the result (0: --threads x the MPI ranks; docs/distributed.md)")
      ("check-parameters", po::bool_switch(),
       "compare the parameters of all MPI ranks (a hash) after every step (always in Debug builds)")
      ("step-losses", po::bool_switch(),
       "append every update's loss to <out>/mnist_steps.csv (epoch, batch, loss to 17 digits)")
      ("no-ode", po::bool_switch(), "ablation: 784 -> 64 -> tanh -> 64 -> 10, no ODE block")
      ("resume", po::value<std::string>(), "continue training from this checkpoint")
      ("evaluate", po::value<std::string>(), "only print the test accuracy of this model file")
      ("checkpoint-every", po::value<long>()->default_value(1),
       "save <out>/checkpoint.snode every N epochs (0: only at the end)")
      ("checkpoint-batches", po::value<long>()->default_value(0),
       "also save it every N batches inside an epoch (0: off)")
      ("skip-bad-batches", po::bool_switch(),
       "skip a batch whose solve or gradient fails (NaN, solver failure) with a warning instead of stopping")
      ("stop-after-batches", po::value<long>()->default_value(0),
       "testing aid: exit abruptly (status 3, like a kill) after N batches of this run (0: off)")
      ("bench", po::value<long>(),
       "run workload W4 N times (dopri5 and rk4 with 1 and 2 threads, the ablation; 1 epoch each "
       "unless --epochs): medians of the time per epoch, NFE, accuracy; writes <out>/bench.json");
  // clang-format on
}

// The common flags in the study's terms; rk4 without --step takes four fixed steps on [0, 1].
void ApplyCommonOptions(const CommonOptions& c, mnist::Settings& s) {
  s.solver = {c.integrator, c.integrator_options, c.gradient, c.gradient_options,
              RequireUsableGradient};
  if (c.integrator == "rk4" && !c.step_set) {
    s.solver.integrator_options.fixed_step = 0.25;
    s.solver.gradient_options.integrator_options.fixed_step = 0.25;
  }
  s.seed = c.seed;
  s.out_dir = c.out_dir;
  s.check_gradients = c.check_gradient;  // --check-gradient(s) also runs the block check
  s.quiet = c.quiet;
}

// ReadCommonOptions reads every common flag; those a mode has no use for are refused here, in
// RejectUnusedFlags's words.
void RejectGiven(const Flags& flags, std::initializer_list<const char*> names,
                 const std::string& context) {
  for (const char* name : names) {
    if (flags.Given(name)) {
      throw ConfigError(std::string("--") + name + " does not apply to " + context +
                        "; leave it out");
    }
  }
}

// The IDX files the run reads, each a regular file: given one by one, or found in --data.
void ReadDataFlags(const Flags& flags, bool training, mnist::DataOptions& data) {
  const long max_count = static_cast<long>(kMaxIdxCount);
  data.dir = flags["data"].as<std::string>();
  data.split = Count(flags, "split", 0, max_count, "samples (0: separate train and t10k files)");
  data.limit_test = Count(flags, "limit-test", 0, max_count, "samples (0: all)");
  auto file = [&](const char* flag, std::string& path, const char* base) {
    if (flags.count(flag)) {
      path = flags[flag].as<std::string>();
      RequireRegularFile(path, std::string("--") + flag);
    } else if (!mnist::FindIdxFile(data.dir, base).empty()) {
      RequireRegularFile(mnist::FindIdxFile(data.dir, base), "--data");
    }  // a missing file is LoadData's error, which names the directory
  };
  file("test-images", data.test_images, "t10k-images-idx3-ubyte");
  file("test-labels", data.test_labels, "t10k-labels-idx1-ubyte");
  if (!training) return;  // --evaluate reads the test files alone
  data.limit_train = Count(flags, "limit-train", 0, max_count, "samples (0: all)");
  if (data.split > 0) return;  // the t10k files hold the training samples too
  file("train-images", data.train_images, "train-images-idx3-ubyte");
  file("train-labels", data.train_labels, "train-labels-idx1-ubyte");
}

// The flags of training (and of each --bench run).
void ReadTrainingFlags(const Flags& flags, bool bench, mnist::Settings& s) {
  const long max_epochs = static_cast<long>(kMaxCheckpointEpoch);
  s.epochs = Count(flags, "epochs", 1, max_epochs, "epochs");
  // Wide on purpose: a huge rate is a legitimate way to provoke faults (--skip-bad-batches).
  s.lr = Number(flags, "lr", 1e-300, 1e300, "(Adam's learning rate)");
  s.lr_schedule = flags["lr-schedule"].as<std::string>();
  Require(s.lr_schedule == "constant" || s.lr_schedule == "cosine",
          "--lr-schedule must be constant or cosine, got '" + s.lr_schedule + "'");
  s.augment = Count(flags, "augment", 0, 8, "pixels");
  s.skip_bad_batches = flags["skip-bad-batches"].as<bool>();
  if (bench) return;  // each bench run has its own ODE block, threads and output
  s.no_ode = flags["no-ode"].as<bool>();
  s.checkpoint_every = Count(flags, "checkpoint-every", 0, max_epochs, "epochs (0: at the end)");
  s.checkpoint_batches =
      Count(flags, "checkpoint-batches", 0, static_cast<long>(kMaxIdxCount), "batches (0: off)");
  s.stop_after_batches =
      Count(flags, "stop-after-batches", 0, static_cast<long>(kMaxIdxCount), "batches (0: off)");
  s.batch_parts = Count(flags, "batch-parts", 0, 4096, "parts (0: --threads x the ranks)");
  s.check_parameters = flags["check-parameters"].as<bool>();
  s.step_losses = flags["step-losses"].as<bool>();
  if (flags.count("resume")) {
    s.resume = flags["resume"].as<std::string>();
    RequireRegularFile(s.resume, "--resume");
  }
}

}  // namespace

MnistCommandLine ReadMnistCommandLine(const Flags& flags) {
  MnistCommandLine line;
  mnist::Settings& s = line.settings;
  const bool evaluate = flags.count("evaluate") > 0;
  const bool bench = flags.count("bench") > 0;
  line.common = ReadCommonOptions(flags);
  ApplyCommonOptions(line.common, s);
  Require(!(line.common.check_gradient && evaluate),
          "--check-gradient checks training gradients, not with --evaluate");
  Require(!(line.common.check_gradient && bench), "--check-gradient is not taken with --bench");
  std::string context = "mnist_classifier training";
  if (evaluate) {
    context = "mnist_classifier --evaluate (a model file is only evaluated)";
    Require(!flags.Given("resume"), "--resume and --evaluate exclude each other");
    RejectGiven(flags,
                {"bench", "gradient", "seed", "backward-integrator", "gradient-option", "seminorm",
                 "backsolve-quadrature", "backsolve-checkpoints", "cvodes-observations"},
                context);
    s.evaluate = flags["evaluate"].as<std::string>();
    RequireRegularFile(s.evaluate, "--evaluate");
  } else if (bench) {
    context = "mnist_classifier --bench (it sets the ODE block, threads and checkpoints itself)";
    RejectGiven(flags, {"integrator", "rtol", "atol", "step", "resume"}, context);
    line.bench_repetitions = Count(flags, "bench", 1, 1000, "(repetitions)");
  }
  ReadDataFlags(flags, !evaluate, s.data);
  s.batch = Count(flags, "batch", 1, static_cast<long>(kMaxIdxCount), "samples");
  s.hidden = Count(flags, "hidden", 1, 4096, "(the width of z)");
  s.threads = bench ? 1 : Count(flags, "threads", 1, 64, "threads");
  if (!evaluate) ReadTrainingFlags(flags, bench, s);
  if (bench) line.bench_epochs = flags.Given("epochs") ? s.epochs : 1;
  mnist::ValidateSettings(s);
  RejectUnusedFlags(flags, context);
  return line;
}

AppCommandLine MnistClassifierCommandLine() {
  return {"mnist_classifier", kUsage, AddMnistOptions,
          [](const Flags& flags) { ReadMnistCommandLine(flags); }};
}

}  // namespace snode::app
