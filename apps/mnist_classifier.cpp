// mnist_classifier: trains the MNIST ODE-Net of docs/apps.md or its ablation, resumes, evaluates
// a model file, or runs the bench matrix (--bench N). The trainer is studies/mnist_trainer.hpp
// (model, threads, checkpoints: studies/mnist_*.hpp); the flags are read in
// apps/cli/mnist_classifier_cli.hpp; this file prepares --out and runs the chosen mode.
// --check-gradient: CheckFirstBatch below, before training.
// Built with SNODE_MPI and started by mpirun, training and evaluation are data-parallel over the
// ranks (distributed/mpi_session.hpp, RunOnRanks; docs/distributed.md); otherwise serial.

#include <malloc.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "adjoint/cross_entropy_loss.hpp"
#include "apps/cli/mnist_classifier_cli.hpp"
#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "core/gradient_reducer.hpp"
#ifdef SNODE_MPI
#include "distributed/mpi_session.hpp"
#endif
#include "studies/bench_util.hpp"
#include "studies/mnist_bench.hpp"
#include "studies/mnist_data.hpp"
#include "studies/mnist_model.hpp"
#include "studies/mnist_trainer.hpp"

namespace snode::app {
namespace {

// --check-gradient: CheckGradient on the ODE block of the first training batch (the first
// --batch samples, in file order) at the initial parameters of --seed: θ = ode.theta, z0 =
// W_in x + b_in, the cross-entropy read-out loss, with the training solver. Then (as with
// --check-gradients before) the trainer's own check of every block (with --no-ode only that).
void CheckFirstBatch(const mnist::Settings& s, const GradientCheckOptions& check) {
  if (s.no_ode) {
    std::cout << "gradient check: --no-ode has no ODE block; only the block check below runs\n\n";
    return;
  }
  const mnist::Data data = mnist::LoadData(s.data);
  mnist::CheckMemoryFits(s, data.train.images.rows, data.train.images.cols, /*training=*/true);
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

int Main(int argc, char** argv, GradientReducer& ranks) {
  const std::optional<Flags> flags =
      StartCommandLine(argc, argv, MnistClassifierCommandLine(), std::cout);
  if (!flags) return 0;
  const MnistCommandLine line = ReadMnistCommandLine(*flags);
  const mnist::Settings& s = line.settings;
  // Before any work (loading data included): an unwritable --out is found now, not after training.
  // Rank 0 alone writes there.
  if (ranks.rank() == 0) PrepareOutputDirectory(s.out_dir);
  if (line.common.check_gradient && ranks.rank() == 0) {
    CheckFirstBatch(s, line.common.gradient_check);
  }
  if (line.bench_repetitions) {
    Require(ranks.size() == 1, "--bench measures one process; run it without mpirun");
    mnist::RunBench(s, line.bench_epochs, bench::CheckRepetitions(*line.bench_repetitions));
    return 0;
  }
  if (!s.evaluate.empty()) {
    mnist::RunEvaluate(s, std::cout, ranks);
  } else {
    mnist::RunTraining(s, std::cout, std::cerr, ranks);
  }
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
  auto run = [&](snode::GradientReducer& ranks) {
    return snode::app::RunApp([&] { return snode::app::Main(argc, argv, ranks); });
  };
#ifdef SNODE_MPI
  return snode::RunOnRanks(argc, argv, run);
#else
  return run(snode::SerialReduction());
#endif
}
