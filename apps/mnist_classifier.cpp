// mnist_classifier: the MNIST ODE-Net of workload W4 (docs/apps.md, "mnist_classifier").
//
//   x ∈ R^784 (pixels / 255) → z0 = W_in x + b_in ∈ R^64
//   dz/dt = f(z, t; θ) = W_2 tanh(W_1 [z; t] + b_1) + b_2   on t ∈ [0, 1]   (MLP 65 → 64 → 64)
//   logits = W_out z(1) + b_out ∈ R^10,  loss = softmax cross-entropy averaged over the batch
//
// The ablation (--no-ode) replaces the ODE block by one tanh: logits = W_out tanh(W_in x + b_in)
// + b_out (784 → 64 → tanh → 64 → 10). Training: Adam (PyTorch semantics), minibatches drawn from
// a permutation made with a seeded std::mt19937_64. The ODE block's gradients come from the
// selected gradient method (bptt, backsolve_adjoint, cvodes_adjoint); the input layer's from
// dL/dz0: dL/dW_in = Σ_j (dL/dz0_j) x_jᵀ.
//
// Beyond W4 (all off by default, so the defaults are W4's exact setup): --hidden N sets the width
// 64 of z (input projection, ODE block N+1 → N → N, read-out N → 10); --lr-schedule cosine decays
// the learning rate over all updates; --augment N shifts each training image by a random, seeded
// (dx, dy) ∈ [−N, N]² pixels.
//
// Threads (--threads T ≥ 2, batch ≥ 64): each batch is cut into T contiguous parts, each solved
// by its own MlpField/integrator/gradient method on a thread of a pool that lives for the run
// (PartPool); the parts' losses are normalised by the full batch size so their gradients add up to
// the batch gradient. With a fixed-step integrator (rk4) every sample's ODE is independent, so this
// is the same computation as one thread (up to summation order). With an adaptive integrator
// (dopri5) the samples of a part share one step sequence, so splitting changes the steps (each part
// takes the steps its own samples need): a different, equally valid, deterministic run. Evaluation
// splits whole batches over the threads, so test accuracy does not depend on T.
//
// Resume: a checkpoint holds the parameters, Adam's m, v and step, the shuffling RNG's state at
// the start of the current epoch, the epoch and the batch within it, so --resume continues the
// very same sequence of updates: with the same flags the final parameters equal an
// uninterrupted run's bit for bit.
//
// --bench N: workload W4 of ../shared/docs/workloads.md N times (give --data
// /work/shared/data/mnist --split 8000): dopri5 rtol = atol = 1e-3 and rk4 with 4 steps (BPTT,
// or --gradient), each with --threads 1 and 2, and the no-ODE ablation; one epoch per repetition
// unless --epochs is given. Reports the median (min, max) time per epoch, NFE per batch and the
// test accuracy as a table and <out>/bench.json.

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adjoint/cross_entropy_loss.hpp"
#include "adjoint/gradient_method.hpp"
#include "apps/common/app_common.hpp"
#include "apps/common/bench_util.hpp"
#include "core/errors.hpp"
#include "optim/adam.hpp"
#include "io/checkpoint.hpp"
#include "io/idx_reader.hpp"
#include "models/mlp.hpp"

namespace snode::app {
namespace {

constexpr Index kDefaultHidden = 64;  // W4's width
constexpr Index kClasses = 10;
constexpr double kFinalTime = 1.0;
constexpr const char* kDefaultData = "/usr/share/datasets/fashion-mnist";

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

struct Settings {
  CommonOptions common;
  std::string data_dir;
  std::string train_images, train_labels, test_images, test_labels;
  long split = 0;
  long limit_train = 0;
  long limit_test = 0;
  long epochs = 5;
  long batch = 128;
  double lr = 1e-3;
  std::string lr_schedule = "constant";  // "constant" or "cosine"
  long hidden = kDefaultHidden;          // width of z (input projection and ODE block)
  long augment = 0;                      // max random shift in pixels of training images
  long threads = 1;
  bool no_ode = false;
  std::string resume;
  std::string evaluate;
  long checkpoint_every = 1;
  long checkpoint_batches = 0;
  bool skip_bad_batches = false;
  long stop_after_batches = 0;  // testing aid: exit abruptly (as if killed) after N batches
};

// -------------------------------------------------------------------------------- data

bool PathExists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// dir/base, or dir/base.gz; "" when neither exists.
std::string FindIdxFile(const std::string& dir, const std::string& base) {
  for (const std::string& candidate : {dir + "/" + base, dir + "/" + base + ".gz"}) {
    if (PathExists(candidate)) return candidate;
  }
  return "";
}

std::string RequireIdxFile(const std::string& dir, const std::string& base, const char* hint) {
  const std::string path = FindIdxFile(dir, base);
  if (path.empty()) {
    throw InputError("data directory '" + dir + "' has no " + base + "[.gz]" + hint);
  }
  return path;
}

struct Data {
  IdxDataset train;
  IdxDataset test;
  std::string description;
};

Data LoadData(const Settings& s) {
  Data data;
  const bool explicit_files = !s.train_images.empty() || !s.test_images.empty();
  std::string train_images = s.train_images, train_labels = s.train_labels;
  std::string test_images = s.test_images, test_labels = s.test_labels;
  if (!explicit_files || test_images.empty() || (s.split == 0 && train_images.empty())) {
    if (!IsDirectory(s.data_dir)) {
      throw InputError("data directory '" + s.data_dir + "' does not exist (set --data DIR)");
    }
  }
  if (test_images.empty()) {
    test_images = RequireIdxFile(s.data_dir, "t10k-images-idx3-ubyte", "");
  }
  if (test_labels.empty()) {
    test_labels = RequireIdxFile(s.data_dir, "t10k-labels-idx1-ubyte", "");
  }
  if (s.split > 0) {
    // One file set: the first `split` samples train, the rest test (W4: 8 000 / 2 000).
    const IdxDataset all = ReadIdxDataset(test_images, test_labels, kClasses);
    if (s.split >= all.size()) {
      throw ConfigError("--split " + std::to_string(s.split) + " leaves no test samples ('" +
                        test_images + "' holds " + std::to_string(all.size()) + ")");
    }
    data.train = SliceIdxDataset(all, 0, s.split);
    data.test = SliceIdxDataset(all, s.split, all.size() - s.split);
    data.description = test_images + " split " + std::to_string(s.split) + "/" +
                       std::to_string(all.size() - s.split);
  } else {
    const char* hint = " (a directory with only t10k files needs --split N)";
    if (train_images.empty()) {
      train_images = RequireIdxFile(s.data_dir, "train-images-idx3-ubyte", hint);
    }
    if (train_labels.empty()) {
      train_labels = RequireIdxFile(s.data_dir, "train-labels-idx1-ubyte", hint);
    }
    data.train = ReadIdxDataset(train_images, train_labels, kClasses);
    data.test = ReadIdxDataset(test_images, test_labels, kClasses);
    data.description = train_images + " (" + std::to_string(data.train.size()) + ") / " +
                       test_images + " (" + std::to_string(data.test.size()) + ")";
  }
  if (data.train.images.pixels.rows() != data.test.images.pixels.rows()) {
    throw InputError("training images have " + std::to_string(data.train.images.pixels.rows()) +
                     " pixels but test images " + std::to_string(data.test.images.pixels.rows()));
  }
  if (s.limit_train > 0 && s.limit_train < data.train.size()) {
    data.train = SliceIdxDataset(data.train, 0, s.limit_train);
  }
  if (s.limit_test > 0 && s.limit_test < data.test.size()) {
    data.test = SliceIdxDataset(data.test, 0, s.limit_test);
  }
  if (data.train.size() == 0 && s.evaluate.empty()) throw InputError("no training samples");
  if (data.test.size() == 0) throw InputError("no test samples");
  return data;
}

// -------------------------------------------------------------------------------- model

// Flat parameter vector, blocks in this order (all matrices column-major):
//   input.weight (64 × P), input.bias (64), [ode.theta (MlpField layout)], readout.weight
//   (10 × 64), readout.bias (10).
class Model {
 public:
  Model(bool ode, Index pixels, Index hidden = kDefaultHidden)
      : ode_(ode), pixels_(pixels), hidden_(hidden) {
    if (ode_) {
      field_options_.widths = {hidden_, hidden_, hidden_};
      // tanh after the hidden layer, identity on the output layer (torchdiffeq's
      // nn.Sequential(Linear(65, 64), Tanh(), Linear(64, 64))).
      field_options_.activations = {"tanh", "identity"};
      field_options_.time_input = true;
      field_options_.batch = 1;
      ode_params_ = MlpField(field_options_).num_params();
    }
    sizes_ = {hidden_ * pixels_, hidden_, ode_params_, kClasses * hidden_, kClasses};
    Index offset = 0;
    for (const Index size : sizes_) {
      offsets_.push_back(offset);
      offset += size;
    }
    num_params_ = offset;
  }

  bool ode() const { return ode_; }
  Index pixels() const { return pixels_; }
  Index hidden() const { return hidden_; }
  Index num_params() const { return num_params_; }

  std::string Architecture() const {
    // For the default width this is W4's string, so older files keep loading.
    const std::string p = std::to_string(pixels_);
    const std::string h = std::to_string(hidden_);
    const std::string h1 = std::to_string(hidden_ + 1);
    if (ode_) {
      return "mnist_odenet v1: linear " + p + "->" + h + "; ode mlp [z,t] " + h1 + "->" + h + "->" +
             h + " tanh,identity on t in [0,1]; linear " + h + "->10; column-major";
    }
    return "mnist_ablation v1: linear " + p + "->" + h + "; tanh; linear " + h +
           "->10; column-major";
  }

  std::unique_ptr<MlpField> MakeField(Index batch) const {
    MlpOptions options = field_options_;
    options.batch = batch;
    return std::make_unique<MlpField>(options);
  }

  // Views of the blocks inside a flat vector.
  Eigen::Map<const Matrix> InputWeight(const Vector& p) const {
    return {p.data() + offsets_[0], hidden_, pixels_};
  }
  Eigen::Map<const Vector> InputBias(const Vector& p) const {
    return {p.data() + offsets_[1], hidden_};
  }
  Eigen::Map<const Vector> OdeTheta(const Vector& p) const {
    return {p.data() + offsets_[2], ode_params_};
  }
  Eigen::Map<const Vector> Readout(const Vector& p) const {  // φ = (W_out, b_out), flat
    return {p.data() + offsets_[3], kClasses * hidden_ + kClasses};
  }
  Eigen::Map<const Matrix> ReadoutWeight(const Vector& p) const {
    return {p.data() + offsets_[3], kClasses, hidden_};
  }
  Eigen::Map<const Vector> ReadoutBias(const Vector& p) const {
    return {p.data() + offsets_[4], kClasses};
  }
  Eigen::Map<Matrix> InputWeight(Vector& p) const {
    return {p.data() + offsets_[0], hidden_, pixels_};
  }
  Eigen::Map<Vector> InputBias(Vector& p) const { return {p.data() + offsets_[1], hidden_}; }
  Eigen::Map<Vector> OdeTheta(Vector& p) const { return {p.data() + offsets_[2], ode_params_}; }
  Eigen::Map<Vector> Readout(Vector& p) const {
    return {p.data() + offsets_[3], kClasses * hidden_ + kClasses};
  }
  Eigen::Map<Matrix> ReadoutWeight(Vector& p) const {
    return {p.data() + offsets_[3], kClasses, hidden_};
  }
  Eigen::Map<Vector> ReadoutBias(Vector& p) const { return {p.data() + offsets_[4], kClasses}; }

  // PyTorch's nn.Linear default, U(−1/√in, 1/√in), for the linear layers; MlpField's own
  // deterministic scheme for the ODE block. The same bit pattern on every platform.
  Vector InitialParams(std::uint64_t seed) const {
    Vector p = Vector::Zero(num_params_);
    std::mt19937_64 rng(seed);
    auto fill = [&rng](double* data, Index count, Index fan_in) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      for (Index k = 0; k < count; ++k) {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        data[k] = (2.0 * u - 1.0) * bound;
      }
    };
    fill(p.data() + offsets_[0], sizes_[0], pixels_);
    fill(p.data() + offsets_[1], sizes_[1], pixels_);
    fill(p.data() + offsets_[3], sizes_[3], hidden_);
    fill(p.data() + offsets_[4], sizes_[4], hidden_);
    if (ode_) OdeTheta(p) = MlpField(field_options_).InitialParams(static_cast<unsigned>(seed + 1));
    return p;
  }

  std::vector<NamedBlock> Blocks(const Vector& p) const {
    std::vector<NamedBlock> blocks;
    for (std::size_t k = 0; k < sizes_.size(); ++k) {
      if (sizes_[k] == 0) continue;
      blocks.push_back({kBlockNames[k], p.segment(offsets_[k], sizes_[k])});
    }
    return blocks;
  }

  // Reassembles a flat vector from named blocks (parameters or one optimiser moment split the
  // same way); InputError when a block is missing or has the wrong length.
  Vector FromBlocks(const std::vector<NamedBlock>& blocks, const std::string& prefix,
                    const std::string& source) const {
    Vector p(num_params_);
    for (std::size_t k = 0; k < sizes_.size(); ++k) {
      if (sizes_[k] == 0) continue;
      const std::string name = prefix + kBlockNames[k];
      const NamedBlock* found = nullptr;
      for (const NamedBlock& block : blocks) {
        if (block.name == name) found = &block;
      }
      if (found == nullptr) {
        throw InputError("checkpoint '" + source + "' has no block '" + name + "'");
      }
      if (found->values.size() != sizes_[k]) {
        throw InputError("checkpoint '" + source + "': block '" + name + "' has " +
                         std::to_string(found->values.size()) + " values, the model needs " +
                         std::to_string(sizes_[k]));
      }
      p.segment(offsets_[k], sizes_[k]) = found->values;
    }
    return p;
  }

  // (name, offset, size) of every non-empty block.
  struct BlockInfo {
    const char* name;
    Index offset;
    Index size;
  };
  std::vector<BlockInfo> BlockLayout() const {
    std::vector<BlockInfo> layout;
    for (std::size_t k = 0; k < sizes_.size(); ++k) {
      if (sizes_[k] > 0) layout.push_back({kBlockNames[k], offsets_[k], sizes_[k]});
    }
    return layout;
  }

  std::vector<NamedBlock> PrefixedBlocks(const Vector& p, const std::string& prefix) const {
    std::vector<NamedBlock> blocks = Blocks(p);
    for (NamedBlock& block : blocks) block.name = prefix + block.name;
    return blocks;
  }

 private:
  static constexpr const char* kBlockNames[5] = {"input.weight", "input.bias", "ode.theta",
                                                 "readout.weight", "readout.bias"};
  bool ode_;
  Index pixels_;
  Index hidden_;
  MlpOptions field_options_;
  Index ode_params_ = 0;
  std::vector<Index> sizes_, offsets_;
  Index num_params_ = 0;
};

// -------------------------------------------------------------------------------- computation

struct PartResult {
  double loss = 0;  // normalised by the full batch size
  Vector grad;      // full-length gradient
  long nfe_forward = 0;
  long nfe_backward = 0;
  long vjp = 0;
  Index correct = 0;  // evaluation only
};

// Everything one thread needs: per batch size a field, a gradient method and an integrator
// (the last, partial batch has its own size; SUNDIALS memory is sized per state length).
class Worker {
 public:
  Worker(const Model& model, const Settings& settings) : model_(model), settings_(settings) {}

  PartResult Train(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                   double normaliser) {
    return model_.ode() ? TrainOde(p, x, labels, normaliser)
                        : TrainAblation(p, x, labels, normaliser);
  }

  // Loss (normalised by the part's size) and the number of correct predictions.
  PartResult Evaluate(const Vector& p, const Matrix& x, const std::vector<int>& labels) {
    PartResult result;
    Matrix logits;
    if (model_.ode()) {
      Slot& slot = SlotFor(x.cols());
      if (!slot.integrator) {
        slot.integrator = IntegratorRegistry().Create(settings_.common.integrator,
                                                      settings_.common.integrator_options);
      }
      const OdeProblem problem = Problem(slot, p, x);
      const Trajectory trajectory = slot.integrator->Solve(problem);
      result.nfe_forward = trajectory.stats.rhs_evals;
      const Eigen::Map<const Matrix> z1(trajectory.states.back().data(), model_.hidden(), x.cols());
      logits = model_.ReadoutWeight(p) * z1;
    } else {
      logits = model_.ReadoutWeight(p) * Hidden(p, x).array().tanh().matrix();
    }
    logits.colwise() += model_.ReadoutBias(p);
    result.loss = SoftmaxCrossEntropy(logits, labels, static_cast<double>(labels.size()), nullptr);
    for (Index j = 0; j < logits.cols(); ++j) {
      Index best = 0;
      logits.col(j).maxCoeff(&best);
      if (best == labels[static_cast<std::size_t>(j)]) ++result.correct;
    }
    return result;
  }

 private:
  struct Slot {
    std::shared_ptr<MlpField> field;
    std::unique_ptr<GradientMethod> gradient;
    std::unique_ptr<Integrator> integrator;
  };

  Slot& SlotFor(Index batch) {
    Slot& slot = slots_[batch];
    if (!slot.field) slot.field = model_.MakeField(batch);
    return slot;
  }

  Matrix Hidden(const Vector& p, const Matrix& x) const {
    Matrix h = model_.InputWeight(p) * x;
    h.colwise() += model_.InputBias(p);
    return h;
  }

  OdeProblem Problem(const Slot& slot, const Vector& p, const Matrix& x) const {
    OdeProblem problem;
    problem.field = slot.field;
    const Matrix z0 = Hidden(p, x);
    problem.z0 = Eigen::Map<const Vector>(z0.data(), z0.size());
    problem.theta = model_.OdeTheta(p);
    problem.t0 = 0.0;
    problem.output_times = {kFinalTime};
    return problem;
  }

  PartResult TrainOde(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                      double normaliser) {
    Slot& slot = SlotFor(x.cols());
    if (!slot.gradient) {
      slot.gradient =
          GradientRegistry().Create(settings_.common.gradient, settings_.common.gradient_options);
    }
    const OdeProblem problem = Problem(slot, p, x);
    const CrossEntropyReadoutLoss loss(model_.hidden(), kClasses, labels, model_.Readout(p), 1,
                                       normaliser);
    const LossAndGradient r = slot.gradient->Compute(problem, loss);
    RequireUsableGradient(r, settings_.common.gradient, "a training batch");
    PartResult result;
    result.loss = r.loss;
    result.nfe_forward = r.stats.forward_rhs_evals;
    result.nfe_backward = r.stats.backward_rhs_evals;
    result.vjp = r.stats.vjp_evals;
    result.grad = Vector::Zero(model_.num_params());
    model_.OdeTheta(result.grad) = r.dtheta;
    model_.Readout(result.grad) = r.dreadout;
    const Eigen::Map<const Matrix> dz0(r.dz0.data(), model_.hidden(), x.cols());
    model_.InputWeight(result.grad).noalias() = dz0 * x.transpose();
    model_.InputBias(result.grad) = dz0.rowwise().sum();
    return result;
  }

  PartResult TrainAblation(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                           double normaliser) {
    const Matrix a = Hidden(p, x).array().tanh().matrix();
    Matrix logits = model_.ReadoutWeight(p) * a;
    logits.colwise() += model_.ReadoutBias(p);
    Matrix dlogits;
    PartResult result;
    result.loss = SoftmaxCrossEntropy(logits, labels, normaliser, &dlogits);
    result.grad = Vector::Zero(model_.num_params());
    model_.ReadoutWeight(result.grad).noalias() = dlogits * a.transpose();
    model_.ReadoutBias(result.grad) = dlogits.rowwise().sum();
    const Matrix dh =
        ((model_.ReadoutWeight(p).transpose() * dlogits).array() * (1.0 - a.array().square()))
            .matrix();
    model_.InputWeight(result.grad).noalias() = dh * x.transpose();
    model_.InputBias(result.grad) = dh.rowwise().sum();
    return result;
  }

  const Model& model_;
  const Settings& settings_;
  std::map<Index, Slot> slots_;
};

// Runs fn(k) for k = 0..count−1, part 0 on the calling thread and the others on threads that
// live as long as the pool: creating threads per batch cost more than the second core gave back
// (glibc returns an exited thread's stack pages with madvise, so every new thread faulted in
// Eigen's on-stack GEMM blocks again, plus a TLB shootdown per batch). Rethrows the first
// exception in part order, so the error does not depend on timing.
class PartPool {
 public:
  explicit PartPool(std::size_t threads) {
    for (std::size_t k = 1; k < threads; ++k) threads_.emplace_back([this, k] { Serve(k); });
  }
  PartPool(const PartPool&) = delete;
  PartPool& operator=(const PartPool&) = delete;
  ~PartPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  std::size_t size() const { return threads_.size() + 1; }

  template <class Fn>
  void Run(std::size_t count, Fn&& fn) {
    if (count > size()) throw ConfigError("PartPool: more parts than threads");
    errors_.assign(count, nullptr);
    std::function<void(std::size_t)> task = std::forward<Fn>(fn);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      count_ = count;
      pending_ = count - 1;
      ++generation_;
    }
    if (count > 1) wake_.notify_all();
    RunPart(0);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return pending_ == 0; });
      task_ = nullptr;
    }
    for (const std::exception_ptr& error : errors_) {
      if (error) std::rethrow_exception(error);
    }
  }

 private:
  void RunPart(std::size_t k) {
    try {
      (*task_)(k);
    } catch (...) {
      errors_[k] = std::current_exception();
    }
  }

  void Serve(std::size_t k) {
    std::uint64_t seen = 0;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (k >= count_) continue;
      }
      RunPart(k);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --pending_;
      }
      done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  std::uint64_t generation_ = 0;
  std::size_t count_ = 0;
  std::size_t pending_ = 0;
  std::function<void(std::size_t)>* task_ = nullptr;
  std::vector<std::exception_ptr> errors_;
};

Matrix GatherColumns(const Matrix& pixels, const std::vector<Index>& order, Index begin,
                     Index count) {
  Matrix x(pixels.rows(), count);
  for (Index j = 0; j < count; ++j) x.col(j) = pixels.col(order[begin + j]);
  return x;
}

std::vector<int> GatherLabels(const std::vector<int>& labels, const std::vector<Index>& order,
                              Index begin, Index count) {
  std::vector<int> out(count);
  for (Index j = 0; j < count; ++j) out[j] = labels[order[begin + j]];
  return out;
}

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  Index correct = 0;
  Index total = 0;
  double seconds = 0;
};

Evaluation Evaluate(PartPool& pool, std::vector<Worker>& workers, const Vector& p,
                    const IdxDataset& test, Index batch) {
  const auto start = std::chrono::steady_clock::now();
  const Index n = test.size();
  const Index num_batches = (n + batch - 1) / batch;
  std::vector<Index> order(n);
  for (Index k = 0; k < n; ++k) order[k] = k;
  std::vector<double> losses(num_batches);
  std::vector<Index> correct(num_batches);
  // Whole batches per thread (round-robin), so the result does not depend on the thread count.
  pool.Run(workers.size(), [&](std::size_t w) {
    for (Index b = static_cast<Index>(w); b < num_batches; b += workers.size()) {
      const Index begin = b * batch;
      const Index count = std::min(batch, n - begin);
      const PartResult r =
          workers[w].Evaluate(p, GatherColumns(test.images.pixels, order, begin, count),
                              GatherLabels(test.labels, order, begin, count));
      losses[b] = r.loss * static_cast<double>(count);
      correct[b] = r.correct;
    }
  });
  Evaluation e;
  for (Index b = 0; b < num_batches; ++b) {
    e.loss += losses[b];
    e.correct += correct[b];
  }
  e.total = n;
  e.loss /= static_cast<double>(n);
  e.accuracy = static_cast<double>(e.correct) / static_cast<double>(n);
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return e;
}

// Fisher–Yates with our own bounded draw: std::shuffle and std::uniform_int_distribution are
// implementation-defined, and a resumed run must draw exactly the permutation the killed one did.
std::vector<Index> Permutation(Index n, std::mt19937_64& rng) {
  std::vector<Index> order(n);
  for (Index k = 0; k < n; ++k) order[k] = k;
  for (Index k = n - 1; k > 0; --k) {
    const Index j = static_cast<Index>(rng() % static_cast<std::uint64_t>(k + 1));
    std::swap(order[k], order[j]);
  }
  return order;
}

std::string RngText(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

std::mt19937_64 RngFromText(const std::string& text, const std::string& source) {
  std::mt19937_64 rng;
  std::istringstream in(text);
  in >> rng;
  if (!in) throw InputError("checkpoint '" + source + "': unreadable RNG state");
  return rng;
}

// Exact text for doubles kept in checkpoint metadata (hex float round-trips every bit).
std::string ExactText(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a", x);
  return buffer;
}

double ParseExact(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

struct EpochRecord {
  long epoch = 0;
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double nfe_forward = 0;   // per batch
  double nfe_backward = 0;  // per batch
  double vjp = 0;           // per batch
  double epoch_seconds = 0;
  double eval_seconds = 0;
  long skipped_batches = 0;
};

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

std::vector<std::string> TableRow(const EpochRecord& r) {
  return {std::to_string(r.epoch),
          FormatNumber(r.train_loss, 4),
          FormatNumber(100.0 * r.test_accuracy, 4) + "%",
          FormatNumber(r.test_loss, 4),
          FormatNumber(r.nfe_forward, 4),
          FormatNumber(r.nfe_backward, 4),
          FormatNumber(r.vjp, 4),
          FormatSeconds(r.epoch_seconds),
          FormatSeconds(r.eval_seconds)};
}

const std::vector<std::string> kTableHeader = {"epoch",     "train loss",    "test acc",
                                               "test loss", "NFE fwd/batch", "NFE bwd/batch",
                                               "VJP/batch", "epoch time",    "eval time"};

// Shifts each column of x, a rows × cols image stored row by row (as in IDX files), by its own
// (dx, dy) drawn uniformly from [−max_shift, max_shift]², filling uncovered pixels with 0. The
// generator is seeded from (seed, epoch, batch) alone, so a resumed run draws the same shifts
// without storing generator state; std::seed_seq's mixing is specified by the standard.
void ShiftImages(Matrix& x, Index rows, Index cols, long max_shift, std::uint64_t seed, long epoch,
                 long batch) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(batch), 0x5a1f7u};
  std::mt19937_64 rng(seq);
  const auto span = static_cast<std::uint64_t>(2 * max_shift + 1);
  Vector shifted(x.rows());
  for (Index j = 0; j < x.cols(); ++j) {
    const Index dx = static_cast<Index>(rng() % span) - max_shift;
    const Index dy = static_cast<Index>(rng() % span) - max_shift;
    shifted.setZero();
    for (Index r = std::max<Index>(0, dy); r < std::min(rows, rows + dy); ++r) {
      for (Index c = std::max<Index>(0, dx); c < std::min(cols, cols + dx); ++c) {
        shifted(r * cols + c) = x((r - dy) * cols + (c - dx), j);
      }
    }
    x.col(j) = shifted;
  }
}

// lr · (1 + cos(π k / K)) / 2 for update k of K: from lr down to 0 at the end of the last epoch.
double CosineLearningRate(double lr, long k, long total) {
  return 0.5 * lr *
         (1.0 + std::cos(std::acos(-1.0) * static_cast<double>(k) / static_cast<double>(total)));
}

// Everything that must survive a restart, in one place.
struct TrainingState {
  Vector params;
  std::unique_ptr<Adam> adam;
  std::mt19937_64 rng;
  std::string epoch_rng;  // RNG state at the start of the current epoch
  long epoch = 0;         // completed epochs
  long batch = 0;         // completed batches of the current epoch
  // Running sums of the current epoch (so a resumed epoch reports the whole epoch).
  double loss_sum = 0, nfe_forward_sum = 0, nfe_backward_sum = 0, vjp_sum = 0, seconds = 0;
  long batches_done = 0, skipped = 0;
  std::vector<EpochRecord> history;
};

Checkpoint MakeCheckpoint(const Model& model, const Settings& s, const TrainingState& state) {
  Checkpoint c;
  c.architecture = model.Architecture();
  c.parameters = model.Blocks(state.params);
  c.optimizer = "adam";
  c.optimizer_step = state.adam->step();
  for (NamedBlock& block : model.PrefixedBlocks(state.adam->m(), "m.")) {
    c.optimizer_state.push_back(std::move(block));
  }
  for (NamedBlock& block : model.PrefixedBlocks(state.adam->v(), "v.")) {
    c.optimizer_state.push_back(std::move(block));
  }
  c.rng_state = state.epoch_rng;
  c.epoch = static_cast<std::uint64_t>(state.epoch);
  c.iteration = static_cast<std::uint64_t>(state.batch);
  nlohmann::json history = nlohmann::json::array();
  for (const EpochRecord& r : state.history) history.push_back(ToJson(r));
  c.metadata = {{"app", "mnist_classifier"},
                {"integrator", s.common.integrator},
                {"gradient", s.common.gradient},
                {"rtol", ExactText(s.common.integrator_options.rtol)},
                {"atol", ExactText(s.common.integrator_options.atol)},
                {"step", ExactText(s.common.integrator_options.fixed_step)},
                {"lr", ExactText(s.lr)},
                {"lr_schedule", s.lr_schedule},
                {"epochs", std::to_string(s.epochs)},
                {"augment", std::to_string(s.augment)},
                {"batch", std::to_string(s.batch)},
                {"threads", std::to_string(s.threads)},
                {"seed", std::to_string(s.common.seed)},
                {"epoch_loss_sum", ExactText(state.loss_sum)},
                {"epoch_nfe_forward_sum", ExactText(state.nfe_forward_sum)},
                {"epoch_nfe_backward_sum", ExactText(state.nfe_backward_sum)},
                {"epoch_vjp_sum", ExactText(state.vjp_sum)},
                {"epoch_seconds", ExactText(state.seconds)},
                {"epoch_batches_done", std::to_string(state.batches_done)},
                {"epoch_skipped", std::to_string(state.skipped)},
                {"history", history.dump()}};
  return c;
}

void RestoreCheckpoint(const Model& model, const Settings& s, const std::string& path,
                       TrainingState& state) {
  const Checkpoint c = LoadCheckpoint(path, model.Architecture());
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
  state.loss_sum = ParseExact(c.Metadata("epoch_loss_sum", "0"));
  state.nfe_forward_sum = ParseExact(c.Metadata("epoch_nfe_forward_sum", "0"));
  state.nfe_backward_sum = ParseExact(c.Metadata("epoch_nfe_backward_sum", "0"));
  state.vjp_sum = ParseExact(c.Metadata("epoch_vjp_sum", "0"));
  state.seconds = ParseExact(c.Metadata("epoch_seconds", "0"));
  state.batches_done = std::atol(c.Metadata("epoch_batches_done", "0").c_str());
  state.skipped = std::atol(c.Metadata("epoch_skipped", "0").c_str());
  const nlohmann::json history = nlohmann::json::parse(c.Metadata("history", "[]"), nullptr,
                                                       /*allow_exceptions=*/false);
  if (history.is_array()) {
    for (const auto& entry : history) {
      if (entry.is_object()) state.history.push_back(FromJson(entry));
    }
  }
  // Bit-identical continuation needs the same flags; say which differ instead of refusing, so a
  // run can deliberately continue with, e.g., a smaller learning rate.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"integrator", s.common.integrator},
      {"gradient", s.common.gradient},
      {"rtol", ExactText(s.common.integrator_options.rtol)},
      {"atol", ExactText(s.common.integrator_options.atol)},
      {"step", ExactText(s.common.integrator_options.fixed_step)},
      {"lr", ExactText(s.lr)},
      {"lr_schedule", s.lr_schedule},
      {"augment", std::to_string(s.augment)},
      {"batch", std::to_string(s.batch)},
      {"threads", std::to_string(s.threads)}};
  for (const auto& [key, value] : expected) {
    const std::string stored = c.Metadata(key);
    if (!stored.empty() && stored != value) {
      std::cerr << "note: resuming with " << key << " = " << value << "; the checkpoint was made "
                << "with " << stored << " (the run will not repeat an uninterrupted one)\n";
    }
  }
  // The cosine schedule spans all --epochs, so a longer run changes the rates already used.
  const std::string stored_epochs = c.Metadata("epochs");
  if (s.lr_schedule == "cosine" && !stored_epochs.empty() &&
      stored_epochs != std::to_string(s.epochs)) {
    std::cerr << "note: resuming with epochs = " << s.epochs << "; the checkpoint was made with "
              << stored_epochs << ", so the cosine schedule is stretched from here on\n";
  }
  if (state.batch > 0 && c.Metadata("batch") != std::to_string(s.batch)) {
    throw ConfigError("checkpoint '" + path + "' was saved inside an epoch with --batch " +
                      c.Metadata("batch") + "; resume it with the same --batch");
  }
}

void WriteOutputs(const Settings& s, const Model& model, const Data& data,
                  const std::vector<EpochRecord>& history, const nlohmann::json& extra) {
  EnsureDirectory(s.common.out_dir);
  std::vector<std::vector<std::string>> rows;
  for (const EpochRecord& r : history) {
    char buffer[512];
    std::snprintf(buffer, sizeof buffer, "%ld,%.10g,%.10g,%.10g,%.6g,%.6g,%.6g,%.6g,%.6g,%ld",
                  r.epoch, r.train_loss, r.test_loss, r.test_accuracy, r.nfe_forward,
                  r.nfe_backward, r.vjp, r.epoch_seconds, r.eval_seconds, r.skipped_batches);
    std::vector<std::string> row;
    std::stringstream stream(buffer);
    std::string cell;
    while (std::getline(stream, cell, ',')) row.push_back(cell);
    rows.push_back(row);
  }
  WriteCsv(s.common.out_dir + "/mnist_epochs.csv",
           {"epoch", "train_loss", "test_loss", "test_accuracy", "nfe_forward_per_batch",
            "nfe_backward_per_batch", "vjp_per_batch", "epoch_seconds", "eval_seconds",
            "skipped_batches"},
           rows);
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochRecord& r : history) epochs.push_back(ToJson(r));
  nlohmann::json json = {{"app", "mnist_classifier"},
                         {"architecture", model.Architecture()},
                         {"parameters", model.num_params()},
                         {"data", data.description},
                         {"train_samples", data.train.size()},
                         {"test_samples", data.test.size()},
                         {"integrator", model.ode() ? s.common.integrator : "none"},
                         {"gradient", model.ode() ? s.common.gradient : "none"},
                         {"rtol", s.common.integrator_options.rtol},
                         {"atol", s.common.integrator_options.atol},
                         {"step", s.common.integrator_options.fixed_step},
                         {"lr", s.lr},
                         {"lr_schedule", s.lr_schedule},
                         {"hidden", model.hidden()},
                         {"augment", s.augment},
                         {"batch", s.batch},
                         {"threads", s.threads},
                         {"seed", s.common.seed},
                         {"epochs", epochs}};
  json.update(extra);
  WriteJson(s.common.out_dir + "/mnist_results.json", json);
  if (history.size() >= 2) {
    std::ostringstream dat;
    for (const EpochRecord& r : history) {
      dat << r.epoch << " " << r.train_loss << " " << 100.0 * r.test_accuracy << "\n";
    }
    AtomicWriteFile(s.common.out_dir + "/mnist_epochs.dat", dat.str());
    const std::string body =
        "set xlabel 'epoch'\nset ylabel 'train loss'\nset y2label 'test accuracy (%)'\n"
        "set ytics nomirror\nset y2tics\nset key center right\nset grid\n"
        "plot 'mnist_epochs.dat' using 1:2 with linespoints title 'train loss' axes x1y1, \\\n"
        "     'mnist_epochs.dat' using 1:3 with linespoints title 'test accuracy' axes x1y2\n";
    const PlotResult plot = RenderGnuplot(s.common.out_dir, "mnist_epochs", body);
    if (!plot.rendered) std::cout << "note: " << plot.note << "\n";
  }
}

// -------------------------------------------------------------------------------- modes

// --check-gradients: the first training batch's gradient against central differences of the
// batch loss in a few components of every block (h = 1e-6·max(1, |p_i|)). With a fixed-step
// integrator and bptt both sides differentiate the same discrete map, so they agree to ~1e-7;
// adaptive steps and the continuous adjoints agree only to the solver tolerance.
void CheckGradients(const Settings& s, const Model& model, const Data& data, Worker& worker,
                    const Vector& params) {
  const Index count = std::min<Index>(s.batch, data.train.size());
  std::vector<Index> order(count);
  for (Index k = 0; k < count; ++k) order[k] = k;
  const Matrix x = GatherColumns(data.train.images.pixels, order, 0, count);
  const std::vector<int> labels = GatherLabels(data.train.labels, order, 0, count);
  const double n = static_cast<double>(count);
  const Vector grad = worker.Train(params, x, labels, n).grad;
  std::mt19937_64 rng(s.common.seed + 17);
  Table table({"block", "index", "gradient", "finite difference", "|difference|"});
  std::vector<double> analytic, numeric;
  for (const Model::BlockInfo& block : model.BlockLayout()) {
    for (int k = 0; k < 3; ++k) {
      const Index i =
          block.offset + static_cast<Index>(rng() % static_cast<std::uint64_t>(block.size));
      const double h = 1e-6 * std::max(1.0, std::abs(params[i]));
      Vector p = params;
      p[i] = params[i] + h;
      const double plus = worker.Train(p, x, labels, n).loss;
      p[i] = params[i] - h;
      const double minus = worker.Train(p, x, labels, n).loss;
      const double fd = (plus - minus) / (2 * h);
      analytic.push_back(grad[i]);
      numeric.push_back(fd);
      table.AddRow({block.name, std::to_string(i - block.offset), FormatScientific(grad[i], 6),
                    FormatScientific(fd, 6), FormatScientific(std::abs(grad[i] - fd), 2)});
    }
  }
  double scale = 0, worst = 0;
  for (std::size_t k = 0; k < numeric.size(); ++k) scale = std::max(scale, std::abs(numeric[k]));
  for (std::size_t k = 0; k < numeric.size(); ++k) {
    worst = std::max(worst, std::abs(analytic[k] - numeric[k]));
  }
  std::cout << "gradient check on the first batch (" << count << " samples):\n";
  table.Print(std::cout);
  std::cout << "gradient check: max relative error "
            << FormatScientific(worst / std::max(scale, 1e-300), 2)
            << " (|difference| / largest |finite difference|) over " << numeric.size()
            << " components\n\n";
}

int RunEvaluate(const Settings& s) {
  // The stored architecture decides the model, so an ablation file needs no --no-ode.
  const Checkpoint c = LoadCheckpoint(s.evaluate);
  const Data data = LoadData(s);
  const Index pixels = data.test.images.pixels.rows();
  const Model ode(true, pixels, s.hidden), ablation(false, pixels, s.hidden);
  const Model* model = nullptr;
  if (c.architecture == ode.Architecture()) model = &ode;
  if (c.architecture == ablation.Architecture()) model = &ablation;
  if (model == nullptr) {
    throw InputError("checkpoint '" + s.evaluate + "': architecture mismatch: the file holds '" +
                     c.architecture + "' but this data needs '" + ode.Architecture() + "' or '" +
                     ablation.Architecture() + "'");
  }
  const Vector params = model->FromBlocks(c.parameters, "", s.evaluate);
  std::vector<Worker> workers;
  for (long k = 0; k < s.threads; ++k) workers.emplace_back(*model, s);
  PartPool pool(workers.size());
  const Evaluation e = Evaluate(pool, workers, params, data.test, s.batch);
  std::cout << "model       " << s.evaluate << " (epoch " << c.epoch << ")\n"
            << "architecture " << c.architecture << "\n"
            << "test data   " << data.description << "\n";
  if (model->ode()) {
    std::cout << "integrator  " << s.common.integrator << " (rtol "
              << s.common.integrator_options.rtol << ", atol " << s.common.integrator_options.atol
              << ", step " << s.common.integrator_options.fixed_step << ")\n";
  }
  std::cout << "test accuracy " << FormatNumber(100.0 * e.accuracy, 4) << "% (" << e.correct << "/"
            << e.total << "), test loss " << FormatNumber(e.loss, 5) << ", "
            << FormatSeconds(e.seconds) << "\n";
  EnsureDirectory(s.common.out_dir);
  WriteJson(s.common.out_dir + "/mnist_evaluation.json", {{"model", s.evaluate},
                                                          {"architecture", c.architecture},
                                                          {"epoch", c.epoch},
                                                          {"data", data.description},
                                                          {"test_accuracy", e.accuracy},
                                                          {"test_correct", e.correct},
                                                          {"test_samples", e.total},
                                                          {"test_loss", JsonNumber(e.loss)},
                                                          {"seconds", e.seconds}});
  return 0;
}

// history (optional) receives every epoch's record.
int RunTraining(const Settings& s, std::vector<EpochRecord>* history = nullptr) {
  // An integrator the gradient method cannot use is a ConfigError; raise it before reading data.
  if (!s.no_ode) GradientRegistry().Create(s.common.gradient, s.common.gradient_options);
  const Data data = LoadData(s);
  const Model model(!s.no_ode, data.train.images.pixels.rows(), s.hidden);
  AdamOptions adam_options;
  adam_options.lr = s.lr;

  TrainingState state;
  state.adam = std::make_unique<Adam>(model.num_params(), adam_options);
  if (!s.resume.empty()) {
    RestoreCheckpoint(model, s, s.resume, state);
  } else {
    state.params = model.InitialParams(s.common.seed);
    state.rng = std::mt19937_64(s.common.seed);
    state.epoch_rng = RngText(state.rng);
  }

  const Index n = data.train.size();
  const Index batch = s.batch;
  const Index num_batches = (n + batch - 1) / batch;
  if (state.batch > num_batches) {
    throw ConfigError("checkpoint '" + s.resume + "' is at batch " + std::to_string(state.batch) +
                      " of an epoch, but this data has only " + std::to_string(num_batches));
  }
  const std::size_t parts =
      (s.threads >= 2 && batch >= 64) ? static_cast<std::size_t>(s.threads) : 1;
  std::vector<Worker> workers;
  for (long k = 0; k < std::max<long>(s.threads, 1); ++k) workers.emplace_back(model, s);
  PartPool pool(workers.size());

  std::cout << "mnist_classifier: " << (model.ode() ? "ODE-Net" : "ablation (no ODE block)") << ", "
            << model.num_params() << " parameters\n"
            << "data        " << data.description << "\n";
  if (model.ode()) {
    std::cout << "ODE block   " << s.common.integrator << " (rtol "
              << s.common.integrator_options.rtol << ", atol " << s.common.integrator_options.atol
              << (s.common.integrator_options.fixed_step > 0
                      ? ", step " + FormatNumber(s.common.integrator_options.fixed_step, 6)
                      : std::string())
              << "), gradient " << s.common.gradient << "\n";
  }
  std::cout << "training    Adam lr " << s.lr
            << (s.lr_schedule == "cosine" ? " (cosine decay to 0)" : "");
  if (s.augment > 0) std::cout << ", shifts up to " << s.augment << " px";
  if (s.hidden != kDefaultHidden) std::cout << ", width " << s.hidden;
  std::cout << ", batch " << batch << " (" << num_batches << " per epoch, last "
            << (n - (num_batches - 1) * batch) << "), seed " << s.common.seed << ", " << parts
            << (parts == 1 ? " thread" : " threads per batch") << "\n";
  if (!s.resume.empty()) {
    std::cout << "resumed     " << s.resume << " at epoch " << state.epoch << ", batch "
              << state.batch << "\n";
  }
  std::cout << "\n";
  if (s.common.check_gradients) CheckGradients(s, model, data, workers[0], state.params);
  Table table(kTableHeader);
  for (const EpochRecord& r : state.history) table.AddRow(TableRow(r));
  if (!table.empty()) table.Print(std::cout);

  const std::string checkpoint_path = s.common.out_dir + "/checkpoint.snode";
  EnsureDirectory(s.common.out_dir);
  long batches_this_run = 0;

  while (state.epoch < s.epochs) {
    // The permutation comes from the RNG state at the epoch's start, which the checkpoint keeps,
    // so a resume inside an epoch redraws the same order.
    state.rng = RngFromText(state.epoch_rng, "epoch state");
    const std::vector<Index> order = Permutation(n, state.rng);
    ProgressLine progress(
        "epoch " + std::to_string(state.epoch + 1) + "/" + std::to_string(s.epochs), num_batches,
        s.common.quiet);
    auto batch_clock = std::chrono::steady_clock::now();
    while (state.batch < num_batches) {
      const Index begin = state.batch * batch;
      const Index count = std::min(batch, n - begin);
      Matrix x = GatherColumns(data.train.images.pixels, order, begin, count);
      if (s.augment > 0) {
        ShiftImages(x, data.train.images.rows, data.train.images.cols, s.augment, s.common.seed,
                    state.epoch, state.batch);
      }
      const std::vector<int> labels = GatherLabels(data.train.labels, order, begin, count);
      const std::size_t used = count >= 64 ? parts : 1;
      std::vector<PartResult> results(used);
      try {
        pool.Run(used, [&](std::size_t k) {
          const Index part_begin = count * static_cast<Index>(k) / static_cast<Index>(used);
          const Index part_end = count * static_cast<Index>(k + 1) / static_cast<Index>(used);
          const std::vector<int> part_labels(labels.begin() + part_begin,
                                             labels.begin() + part_end);
          results[k] =
              workers[k].Train(state.params, x.middleCols(part_begin, part_end - part_begin),
                               part_labels, static_cast<double>(count));
        });
        double loss = 0;
        Vector grad = results[0].grad;
        for (std::size_t k = 0; k < used; ++k) loss += results[k].loss;
        for (std::size_t k = 1; k < used; ++k) grad += results[k].grad;
        if (!std::isfinite(loss)) {
          throw NumericalError("non-finite training loss at epoch " +
                               std::to_string(state.epoch + 1) + ", batch " +
                               std::to_string(state.batch + 1));
        }
        if (s.lr_schedule == "cosine") {
          state.adam->set_lr(CosineLearningRate(s.lr, state.epoch * num_batches + state.batch,
                                                s.epochs * num_batches));
        }
        state.adam->Step(state.params, grad);
        double nfe_f = 0, nfe_b = 0, vjp = 0;
        for (const PartResult& r : results) {
          nfe_f += static_cast<double>(r.nfe_forward) / static_cast<double>(used);
          nfe_b += static_cast<double>(r.nfe_backward) / static_cast<double>(used);
          vjp += static_cast<double>(r.vjp) / static_cast<double>(used);
        }
        state.loss_sum += loss;
        state.nfe_forward_sum += nfe_f;
        state.nfe_backward_sum += nfe_b;
        state.vjp_sum += vjp;
        ++state.batches_done;
      } catch (const Error& error) {
        // NumericalError/SundialsError in one batch: skip it when asked (the parameters and the
        // optimiser are untouched, since Step() runs only on a finite gradient).
        if (!s.skip_bad_batches || dynamic_cast<const ConfigError*>(&error) != nullptr) throw;
        ++state.skipped;
        progress.Finish();
        std::cerr << "warning: skipped batch " << state.batch + 1 << " of epoch " << state.epoch + 1
                  << ": " << error.what() << "\n";
      }
      ++state.batch;
      const auto now = std::chrono::steady_clock::now();
      state.seconds += std::chrono::duration<double>(now - batch_clock).count();
      batch_clock = now;
      progress.Update(state.batch,
                      state.batches_done > 0 ? state.loss_sum / state.batches_done : 0.0,
                      static_cast<long>(state.nfe_forward_sum + state.nfe_backward_sum));
      if (s.checkpoint_batches > 0 && state.batch % s.checkpoint_batches == 0 &&
          state.batch < num_batches) {
        SaveCheckpoint(MakeCheckpoint(model, s, state), checkpoint_path);
      }
      if (s.stop_after_batches > 0 && ++batches_this_run >= s.stop_after_batches) {
        std::cout << std::flush;
        std::_Exit(3);  // as abrupt as a kill: no destructors, no further output
      }
    }
    progress.Finish();
    const Evaluation e = Evaluate(pool, workers, state.params, data.test, batch);
    EpochRecord record;
    record.epoch = state.epoch + 1;
    record.train_loss = state.batches_done > 0 ? state.loss_sum / state.batches_done : std::nan("");
    record.test_loss = e.loss;
    record.test_accuracy = e.accuracy;
    record.nfe_forward = state.batches_done > 0 ? state.nfe_forward_sum / state.batches_done : 0;
    record.nfe_backward = state.batches_done > 0 ? state.nfe_backward_sum / state.batches_done : 0;
    record.vjp = state.batches_done > 0 ? state.vjp_sum / state.batches_done : 0;
    record.epoch_seconds = state.seconds;
    record.eval_seconds = e.seconds;
    record.skipped_batches = state.skipped;
    state.history.push_back(record);
    Table row(kTableHeader);
    row.AddRow(TableRow(record));
    // Print the header once, then one line per epoch as it finishes.
    std::ostringstream text;
    row.Print(text);
    std::string lines = text.str();
    if (state.history.size() > 1) {
      // Drop the header and rule lines; keep the row.
      std::istringstream in(lines);
      std::string line, last;
      while (std::getline(in, line)) {
        if (!line.empty()) last = line;
      }
      lines = last + "\n";
    }
    std::cout << lines << std::flush;

    ++state.epoch;
    state.batch = 0;
    state.epoch_rng = RngText(state.rng);
    state.loss_sum = state.nfe_forward_sum = state.nfe_backward_sum = state.vjp_sum = 0;
    state.seconds = 0;
    state.batches_done = state.skipped = 0;
    if ((s.checkpoint_every > 0 && state.epoch % s.checkpoint_every == 0) ||
        state.epoch == s.epochs) {
      SaveCheckpoint(MakeCheckpoint(model, s, state), checkpoint_path);
    }
  }

  // The final model: the same format (optimiser state included, so it can also be resumed).
  SaveCheckpoint(MakeCheckpoint(model, s, state), s.common.out_dir + "/model.snode");
  nlohmann::json extra = {{"checkpoint", checkpoint_path},
                          {"model", s.common.out_dir + "/model.snode"}};
  if (!state.history.empty()) {
    extra["final_test_accuracy"] = state.history.back().test_accuracy;
  }
  WriteOutputs(s, model, data, state.history, extra);
  if (history != nullptr) *history = state.history;
  std::cout << "\nwrote " << s.common.out_dir << "/{mnist_epochs.csv, mnist_results.json, "
            << "checkpoint.snode, model.snode}\n";
  return 0;
}

// W4's bench matrix; see the file comment.
int RunBench(const Settings& base, bool epochs_given, int repetitions) {
  struct Config {
    std::string label;
    std::string integrator;  // "" for the ablation
    long threads;
  };
  const std::vector<Config> configs = {
      {"dopri5 1e-3, 1 thread", "dopri5", 1}, {"dopri5 1e-3, 2 threads", "dopri5", 2},
      {"rk4 4 steps, 1 thread", "rk4", 1},    {"rk4 4 steps, 2 threads", "rk4", 2},
      {"no-ODE ablation, 1 thread", "", 1},
  };
  const long epochs = epochs_given ? base.epochs : 1;
  std::vector<bench::BenchRow> rows;
  nlohmann::json details = nlohmann::json::array();
  Table table({"configuration", "time/epoch", "min", "max", "NFE fwd/batch", "NFE bwd/batch",
               "test acc", "train loss"});
  for (const Config& config : configs) {
    Settings s = base;
    s.epochs = epochs;
    s.threads = config.threads;
    s.no_ode = config.integrator.empty();
    s.checkpoint_every = 0;
    s.common.quiet = true;
    s.common.check_gradients = false;
    s.resume.clear();
    if (!s.no_ode) {
      IntegratorOptions io = s.common.integrator_options;
      io.rtol = io.atol = 1e-3;
      io.fixed_step = config.integrator == "rk4" ? 0.25 : 0.0;
      s.common.integrator = config.integrator;
      s.common.integrator_options = io;
      s.common.gradient_options.integrator = config.integrator;
      s.common.gradient_options.integrator_options = io;
    }
    std::string name;
    for (const char c : config.label) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') name += c;
      if (c == ' ') name += '_';
    }
    s.common.out_dir = base.common.out_dir + "/runs/" + name;
    std::vector<double> epoch_seconds, nfe_forward, nfe_backward, accuracy, train_loss;
    for (int rep = 0; rep < repetitions; ++rep) {
      std::vector<EpochRecord> history;
      {
        bench::SilenceStdout silence;
        RunTraining(s, &history);
      }
      std::vector<double> times;
      for (const EpochRecord& r : history) times.push_back(r.epoch_seconds);
      epoch_seconds.push_back(bench::Median(times));
      nfe_forward.push_back(history.back().nfe_forward);
      nfe_backward.push_back(history.back().nfe_backward);
      accuracy.push_back(100.0 * history.back().test_accuracy);
      train_loss.push_back(history.back().train_loss);
    }
    const bench::Spread time = bench::Summarize(epoch_seconds);
    const bench::Spread acc = bench::Summarize(accuracy);
    table.AddRow({config.label, FormatSeconds(time.median), FormatSeconds(time.min),
                  FormatSeconds(time.max), FormatNumber(bench::Median(nfe_forward), 4),
                  FormatNumber(bench::Median(nfe_backward), 4), FormatNumber(acc.median, 4) + "%",
                  FormatNumber(bench::Median(train_loss), 4)});
    bench::BenchRow row;
    row.workload = "W4";
    row.configuration = config.label;
    row.metric = "time per epoch";
    row.unit = "s";
    row.spread = time;
    if (config.integrator == "dopri5" && s.common.gradient == "bptt") {
      row.has_target = true;
      row.target = 0.18;
      row.target_text = "<= 0.18 s";
    }
    row.note = "NFE/batch fwd " + FormatNumber(bench::Median(nfe_forward), 4) + ", bwd " +
               FormatNumber(bench::Median(nfe_backward), 4) + ", test acc after " +
               std::to_string(epochs) + " epoch" + (epochs == 1 ? "" : "s") + " " +
               FormatNumber(acc.median, 4) + "%";
    rows.push_back(row);
    if (!s.no_ode && epochs == 1) {
      bench::BenchRow accuracy_row;
      accuracy_row.workload = "W4";
      accuracy_row.configuration = config.label;
      accuracy_row.metric = "test accuracy, epoch 1";
      accuracy_row.unit = "%";
      accuracy_row.spread = acc;
      accuracy_row.has_target = true;
      accuracy_row.target = 91.1;
      accuracy_row.upper_bound = false;
      accuracy_row.target_text = ">= 91.1% (torchdiffeq)";
      rows.push_back(accuracy_row);
    }
    details.push_back(
        {{"configuration", config.label},
         {"integrator", s.no_ode ? "none" : config.integrator},
         {"gradient", s.no_ode ? "none" : s.common.gradient},
         {"threads", config.threads},
         {"epochs_per_repetition", epochs},
         {"seconds_per_epoch", bench::SpreadJson(time)},
         {"nfe_forward_per_batch", bench::SpreadJson(bench::Summarize(nfe_forward))},
         {"nfe_backward_per_batch", bench::SpreadJson(bench::Summarize(nfe_backward))},
         {"test_accuracy_percent", bench::SpreadJson(acc)},
         {"train_loss", bench::SpreadJson(bench::Summarize(train_loss))}});
  }
  std::cout << "W4 bench: MNIST ODE-Net, " << base.data_dir << " split " << base.split << ", batch "
            << base.batch << ", Adam lr " << base.lr << ", gradient " << base.common.gradient
            << ", " << epochs << " epoch" << (epochs == 1 ? "" : "s")
            << " per repetition (epoch time excludes evaluation)\n";
  table.Print(std::cout);
  bench::WriteBenchReport(base.common.out_dir, "mnist_classifier", "W4", repetitions, rows,
                          {{"runs", details},
                           {"data", base.data_dir},
                           {"split", base.split},
                           {"epochs_per_repetition", epochs},
                           {"batch", base.batch}});
  return 0;
}

int Main(int argc, char** argv) {
  CommonDefaults defaults;
  defaults.integrator = "dopri5";
  defaults.gradient = "bptt";
  defaults.rtol = 1e-3;
  defaults.atol = 1e-3;
  defaults.out = "results/mnist";
  po::options_description desc("mnist_classifier options");
  AddCommonOptions(desc, defaults);
  Settings s;
  // clang-format off
  desc.add_options()
      ("data", po::value<std::string>(&s.data_dir)->default_value(kDefaultData),
       "directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")
      ("split", po::value<long>(&s.split)->default_value(0),
       "use only the t10k files: the first N samples train, the rest test (W4: 8000)")
      ("train-images", po::value<std::string>(&s.train_images), "training images file (overrides --data)")
      ("train-labels", po::value<std::string>(&s.train_labels), "training labels file")
      ("test-images", po::value<std::string>(&s.test_images), "test images file")
      ("test-labels", po::value<std::string>(&s.test_labels), "test labels file")
      ("limit-train", po::value<long>(&s.limit_train)->default_value(0),
       "use only the first N training samples (0 = all)")
      ("limit-test", po::value<long>(&s.limit_test)->default_value(0),
       "use only the first N test samples (0 = all)")
      ("epochs", po::value<long>(&s.epochs)->default_value(5), "total number of epochs (a resumed run continues up to it)")
      ("batch", po::value<long>(&s.batch)->default_value(128), "minibatch size")
      ("lr", po::value<double>(&s.lr)->default_value(1e-3), "Adam learning rate")
      ("lr-schedule", po::value<std::string>(&s.lr_schedule)->default_value("constant"),
       "constant, or cosine: lr (1 + cos(pi k/K))/2 over the K updates of all --epochs")
      ("hidden", po::value<long>(&s.hidden)->default_value(kDefaultHidden),
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
  const po::variables_map vm = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(vm, desc, kUsage, std::cout)) return 0;
  s.common = ReadCommonOptions(vm);
  // rk4 without --step takes W4's four fixed steps on [0, 1].
  if (s.common.integrator == "rk4" && !s.common.step_set) {
    s.common.integrator_options.fixed_step = 0.25;
    s.common.gradient_options.integrator_options.fixed_step = 0.25;
  }
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
  Require(s.split >= 0, "--split must be positive (or 0 for separate files)");
  Require(s.limit_train >= 0 && s.limit_test >= 0, "--limit-train/--limit-test must be >= 0");
  Require(s.checkpoint_every >= 0 && s.checkpoint_batches >= 0,
          "--checkpoint-every/--checkpoint-batches must be >= 0");
  Require(s.stop_after_batches >= 0, "--stop-after-batches must be >= 0");
  Require(s.resume.empty() || s.evaluate.empty(), "--resume and --evaluate exclude each other");
  Require(s.train_images.empty() == s.train_labels.empty(),
          "--train-images and --train-labels go together");
  Require(s.test_images.empty() == s.test_labels.empty(),
          "--test-images and --test-labels go together");
  if (vm.count("bench")) {
    return RunBench(s, !vm["epochs"].defaulted(), bench::CheckRepetitions(vm["bench"].as<long>()));
  }
  if (!s.evaluate.empty()) return RunEvaluate(s);
  return RunTraining(s);
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  // Every batch allocates batch-sized temporaries (the 784 × 128 images, 59 274-long gradients).
  // glibc serves blocks over 128 KiB with mmap and returns them at free, so each batch faults in
  // fresh zeroed pages until its adaptive threshold has grown: epoch 1 took 1.4× the time of the
  // later ones. Keeping such blocks on the heap (and the heap untrimmed) removes that.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  return snode::app::RunApp([&] { return snode::app::Main(argc, argv); });
}
