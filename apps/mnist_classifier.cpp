// mnist_classifier: trains the MNIST ODE-Net of docs/apps.md or its ablation, resumes, evaluates
// a model file, or runs the bench matrix (--bench N). The trainer is studies/mnist_trainer.hpp
// (model, threads, checkpoints: studies/mnist_*.hpp); this file parses the flags and reports.
// --check-gradient: CheckFirstBatch below, before training.

#include <malloc.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "adjoint/cross_entropy_loss.hpp"
#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "studies/bench_util.hpp"
#include "studies/mnist_bench.hpp"
#include "studies/mnist_data.hpp"
#include "studies/mnist_model.hpp"
#include "studies/mnist_trainer.hpp"

namespace snode::app {
namespace {

const char* const kUsage =
    "usage: mnist_classifier [options]\n"
    "Trains the W4 MNIST ODE-Net (784 -> 64, ODE block MLP([z,t]: 65 -> 64 -> 64, tanh) on\n"
    "t in [0,1], 64 -> 10, softmax cross-entropy) with Adam, or its no-ODE ablation.\n"
    "Examples:\n"
    "  mnist_classifier                                   # Fashion-MNIST 60k/10k, dopri5, bptt\n"
    "  mnist_classifier --data /work/shared/data/mnist --split 8000 --epochs 5\n"
    "  mnist_classifier --integrator rk4 --step 0.25 --threads 2\n"
    "  mnist_classifier --data /work/shared/data/mnist --split 8000 --integrator rk4 --lr 3e-3 \\\n"
    "      --lr-schedule cosine --augment 1 --epochs 30     # best digits setting, docs/apps.md\n"
    "  mnist_classifier --resume results/mnist/checkpoint.snode --epochs 10\n"
    "  mnist_classifier --evaluate results/mnist/model.snode --data /work/shared/data/mnist "
    "--split 8000";

// The flags of this app beyond the common ones, bound to the fields of s.
void AddMnistOptions(po::options_description& desc, mnist::Settings& s) {
  // clang-format off
  desc.add_options()
      ("data", po::value<std::string>(&s.data.dir)->default_value(mnist::kDefaultDataDir),
       "directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")
      ("split", po::value<long>(&s.data.split)->default_value(0),
       "use only the t10k files: the first N samples train, the rest test (W4: 8000)")
      ("train-images", po::value<std::string>(&s.data.train_images), "training images file (overrides --data)")
      ("train-labels", po::value<std::string>(&s.data.train_labels), "training labels file")
      ("test-images", po::value<std::string>(&s.data.test_images), "test images file")
      ("test-labels", po::value<std::string>(&s.data.test_labels), "test labels file")
      ("limit-train", po::value<long>(&s.data.limit_train)->default_value(0),
       "use only the first N training samples (0 = all)")
      ("limit-test", po::value<long>(&s.data.limit_test)->default_value(0),
       "use only the first N test samples (0 = all)")
      ("epochs", po::value<long>(&s.epochs)->default_value(5), "total number of epochs (a resumed run continues up to it)")
      ("batch", po::value<long>(&s.batch)->default_value(128), "minibatch size")
      ("lr", po::value<double>(&s.lr)->default_value(1e-3), "Adam learning rate")
      ("lr-schedule", po::value<std::string>(&s.lr_schedule)->default_value("constant"),
       "constant, or cosine: lr (1 + cos(pi k/K))/2 over the K updates of all --epochs")
      ("hidden", po::value<long>(&s.hidden)->default_value(mnist::kDefaultHidden),
       "width of z: input projection, ODE block MLP and read-out input (W4: 64)")
      ("augment", po::value<long>(&s.augment)->default_value(0),
       "shift each training image by a random (dx, dy) in [-N, N] pixels (0: off)")
      ("threads", po::value<long>(&s.threads)->default_value(1),
       "threads per batch (split when the batch has >= 64 samples) and for evaluation")
      ("no-ode", po::bool_switch(&s.no_ode), "ablation: 784 -> 64 -> tanh -> 64 -> 10, no ODE block")
      ("resume", po::value<std::string>(&s.resume), "continue training from this checkpoint")
      ("evaluate", po::value<std::string>(&s.evaluate), "only print the test accuracy of this model file")
      ("checkpoint-every", po::value<long>(&s.checkpoint_every)->default_value(1),
       "save <out>/checkpoint.snode every N epochs (0: only at the end)")
      ("checkpoint-batches", po::value<long>(&s.checkpoint_batches)->default_value(0),
       "also save it every N batches inside an epoch (0: off)")
      ("skip-bad-batches", po::bool_switch(&s.skip_bad_batches),
       "skip a batch whose solve or gradient fails (NaN, solver failure) with a warning instead of stopping")
      ("stop-after-batches", po::value<long>(&s.stop_after_batches)->default_value(0),
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

// --check-gradient: CheckGradient on the ODE block of the first training batch (the first
// --batch samples, in file order) at the initial parameters of --seed: θ = ode.theta, z0 =
// W_in x + b_in, the cross-entropy read-out loss, with the training solver. Then (as with
// --check-gradients before) the trainer's own check of every block (with --no-ode only that).
void CheckFirstBatch(const mnist::Settings& s, const GradientCheckOptions& check) {
  Require(s.evaluate.empty(), "--check-gradient checks training gradients, not with --evaluate");
  if (s.no_ode) {
    std::cout << "gradient check: --no-ode has no ODE block; only the block check below runs\n\n";
    return;
  }
  const mnist::Data data = mnist::LoadData(s.data);
  const mnist::Model model(true, data.train.images.pixels.rows(), s.hidden);
  const Vector params = model.InitialParams(s.seed);
  const Index count = std::min<Index>(s.batch, data.train.size());
  const std::vector<Index> order = mnist::Identity(count);
  const Matrix x = mnist::GatherColumns(data.train.images.pixels, order, 0, count);
  Matrix z0 = model.InputWeight(params) * x;
  z0.colwise() += model.InputBias(params);
  OdeProblem problem;
  problem.field = model.MakeField(count);
  problem.z0 = Eigen::Map<const Vector>(z0.data(), z0.size());
  problem.theta = model.OdeTheta(params);
  problem.output_times = {mnist::kFinalTime};
  const CrossEntropyReadoutLoss loss(model.hidden(), mnist::kClasses,
                                     mnist::GatherLabels(data.train.labels, order, 0, count),
                                     model.Readout(params));
  RunGradientCheck("the first batch (" + std::to_string(count) + " samples, initial parameters)",
                   problem, loss, s.solver.gradient, s.solver.gradient_options, check, std::cout);
}

int Main(int argc, char** argv) {
  CommonDefaults defaults;
  defaults.rtol = 1e-3;
  defaults.atol = 1e-3;
  defaults.out = "results/mnist";
  po::options_description desc("mnist_classifier options");
  AddCommonOptions(desc, defaults);
  mnist::Settings s;
  AddMnistOptions(desc, s);
  const Flags vm = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(vm, desc, kUsage, std::cout)) return 0;
  const CommonOptions common = ReadCommonOptions(vm);
  ApplyCommonOptions(common, s);
  mnist::ValidateSettings(s);
  if (common.check_gradient) {
    Require(vm.count("bench") == 0, "--check-gradient is not taken with --bench");
    CheckFirstBatch(s, common.gradient_check);
  }
  if (vm.count("bench")) {
    const long epochs = vm["epochs"].defaulted() ? 1 : s.epochs;
    mnist::RunBench(s, epochs, bench::CheckRepetitions(vm["bench"].as<long>()));
    return 0;
  }
  if (!s.evaluate.empty()) mnist::RunEvaluate(s, std::cout);
  if (s.evaluate.empty()) mnist::RunTraining(s, std::cout, std::cerr);
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  // Every batch allocates batch-sized temporaries (784 × 128 images, 59 274-long gradients);
  // glibc would mmap and unmap them, faulting in fresh pages each batch (epoch 1 took 1.4× the
  // time of the later ones) until its adaptive threshold grew. Keep them on an untrimmed heap.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  return snode::app::RunApp([&] { return snode::app::Main(argc, argv); });
}
