#include "studies/mnist_trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/errors.hpp"
#include "io/files.hpp"
#include "io/rng_text.hpp"
#include "optim/lr_schedule.hpp"
#include "studies/bench_util.hpp"
#include "studies/report.hpp"

namespace snode::mnist {
namespace {

void WriteEpochCsv(const std::string& path, const std::vector<EpochRecord>& history) {
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
  WriteCsv(path,
           {"epoch", "train_loss", "test_loss", "test_accuracy", "nfe_forward_per_batch",
            "nfe_backward_per_batch", "vjp_per_batch", "epoch_seconds", "eval_seconds",
            "skipped_batches"},
           rows);
}

// Train loss and test accuracy per epoch, as data and a gnuplot figure.
void PlotEpochs(const std::string& dir, const std::vector<EpochRecord>& history,
                std::ostream& out) {
  std::ostringstream dat;
  for (const EpochRecord& r : history) {
    dat << r.epoch << " " << r.train_loss << " " << 100.0 * r.test_accuracy << "\n";
  }
  AtomicWriteFile(dir + "/mnist_epochs.dat", dat.str());
  const std::string body =
      "set xlabel 'epoch'\nset ylabel 'train loss'\nset y2label 'test accuracy (%)'\n"
      "set ytics nomirror\nset y2tics\nset key center right\nset grid\n"
      "plot 'mnist_epochs.dat' using 1:2 with linespoints title 'train loss' axes x1y1, \\\n"
      "     'mnist_epochs.dat' using 1:3 with linespoints title 'test accuracy' axes x1y2\n";
  const PlotResult plot = RenderGnuplot(dir, "mnist_epochs", body);
  if (!plot.rendered) out << "note: " << plot.note << "\n";
}

void WriteOutputs(const Settings& s, const Model& model, const Data& data,
                  const std::vector<EpochRecord>& history, const nlohmann::json& extra,
                  std::ostream& out) {
  EnsureDirectory(s.out_dir);
  WriteEpochCsv(s.out_dir + "/mnist_epochs.csv", history);
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochRecord& r : history) epochs.push_back(ToJson(r));
  const IntegratorOptions& io = s.solver.integrator_options;
  nlohmann::json json = {{"app", "mnist_classifier"},
                         {"architecture", model.Architecture()},
                         {"parameters", model.num_params()},
                         {"data", data.description},
                         {"train_samples", data.train.size()},
                         {"test_samples", data.test.size()},
                         {"integrator", model.ode() ? s.solver.integrator : "none"},
                         {"gradient", model.ode() ? s.solver.gradient : "none"},
                         {"rtol", io.rtol},
                         {"atol", io.atol},
                         {"step", io.fixed_step},
                         {"lr", s.lr},
                         {"lr_schedule", s.lr_schedule},
                         {"hidden", model.hidden()},
                         {"augment", s.augment},
                         {"batch", s.batch},
                         {"threads", s.threads},
                         {"batch_parts", s.batch_parts},
                         {"seed", s.seed},
                         {"epochs", epochs}};
  json.update(extra);
  WriteJson(s.out_dir + "/mnist_results.json", json);
  if (history.size() >= 2) PlotEpochs(s.out_dir, history, out);
}

// The first training batch's gradient against central differences of the batch loss in a few
// components of every block (h = 1e-6·max(1, |p_i|)). With a fixed-step integrator and bptt both
// sides differentiate the same discrete map, so they agree to ~1e-7; adaptive steps and the
// continuous adjoints agree only to the solver tolerance.
void CheckGradients(const Settings& s, const Model& model, const Data& data, Worker& worker,
                    const Vector& params, std::ostream& out) {
  const Index count = std::min<Index>(s.batch, data.train.size());
  const std::vector<Index> order = Identity(count);
  const Matrix x = GatherColumns(data.train.images.pixels, order, 0, count);
  const std::vector<int> labels = GatherLabels(data.train.labels, order, 0, count);
  const double n = static_cast<double>(count);
  const Vector grad = worker.Train(params, x, labels, n).grad;
  std::mt19937_64 rng(s.seed + 17);
  Table table({"block", "index", "gradient", "finite difference", "|difference|"});
  double scale = 0, worst = 0;
  int checked = 0;
  for (const Model::BlockInfo& block : model.BlockLayout()) {
    for (int k = 0; k < 3; ++k, ++checked) {
      const Index i =
          block.offset + static_cast<Index>(rng() % static_cast<std::uint64_t>(block.size));
      const double h = 1e-6 * std::max(1.0, std::abs(params[i]));
      Vector p = params;
      p[i] = params[i] + h;
      const double plus = worker.Train(p, x, labels, n).loss;
      p[i] = params[i] - h;
      const double minus = worker.Train(p, x, labels, n).loss;
      const double fd = (plus - minus) / (2 * h);
      scale = std::max(scale, std::abs(fd));
      worst = std::max(worst, std::abs(grad[i] - fd));
      table.AddRow({block.name, std::to_string(i - block.offset), FormatScientific(grad[i], 6),
                    FormatScientific(fd, 6), FormatScientific(std::abs(grad[i] - fd), 2)});
    }
  }
  out << "gradient check on the first batch (" << count << " samples):\n";
  table.Print(out);
  out << "gradient check: max relative error "
      << FormatScientific(worst / std::max(scale, 1e-300), 2)
      << " (|difference| / largest |finite difference|) over " << checked << " components\n\n";
}

// Loads the data, raising first a gradient method's ConfigError for the integrator (before the
// data is read), then the memory limit's InputError for images too large to train on (before the
// model is allocated).
Data CheckSolverAndLoad(const Settings& s) {
  if (!s.no_ode) GradientRegistry().Create(s.solver.gradient, s.solver.gradient_options);
  Data data = LoadData(s.data);
  CheckMemoryFits(s, data.train.images.rows, data.train.images.cols, /*training=*/true);
  return data;
}

// The same error with what was being done in front: "<context>: <message>". The type is kept
// where it decides the exit code or a catch (ConfigError, InputError); numerical failures of any
// kind (NumericalError, SundialsError) become a NumericalError.
[[noreturn]] void RethrowWithContext(const Error& error, const std::string& context) {
  const std::string message = context + ": " + error.what();
  if (dynamic_cast<const ConfigError*>(&error) != nullptr) throw ConfigError(message);
  if (dynamic_cast<const InputError*>(&error) != nullptr) throw InputError(message);
  throw NumericalError(message);
}

// Where ranks other than 0 write: nowhere (a stream without a buffer drops what it is given).
std::ostream& Silent() {
  static std::ostream silent(nullptr);
  return silent;
}

// The settings with --batch-parts resolved: PartsFor(threads, batch) × the ranks when 0.
Settings Resolved(const Settings& s, const GradientReducer& ranks) {
  Settings resolved = s;
  if (resolved.batch_parts == 0) {
    resolved.batch_parts = static_cast<long>(PartsFor(s.threads, s.batch)) * ranks.size();
  }
  return resolved;
}

#ifdef NDEBUG
constexpr bool kDebugBuild = false;
#else
constexpr bool kDebugBuild = true;
#endif

// Rank 0 trains and reports; every other rank trains the same model on its parts of each batch
// and writes nothing (docs/distributed.md).
class Trainer {
 public:
  Trainer(const Settings& s, std::ostream& out, std::ostream& err, GradientReducer& ranks)
      : s_(Resolved(s, ranks)),
        ranks_(ranks),
        root_(ranks.rank() == 0),
        out_(root_ ? out : Silent()),
        err_(root_ ? err : Silent()),
        data_(CheckSolverAndLoad(s_)),
        model_(!s_.no_ode, data_.train.images.pixels.rows(), s_.hidden),
        n_(data_.train.size()),
        num_batches_((n_ + s_.batch - 1) / s_.batch),
        parts_(static_cast<std::size_t>(s_.batch_parts)),
        state_(StartState()),
        workers_(MakeWorkers(model_, s_.solver, s_.threads)),
        pool_(workers_.size()),
        checkpoint_path_(s_.out_dir + "/checkpoint.snode") {}

  std::vector<EpochRecord> Run();

 private:
  TrainingState StartState() const;
  void PrintHeader() const;
  void RunEpoch();
  void RunBatch(const std::vector<Index>& order, ProgressLine& progress);
  void Step(const Matrix& x, const std::vector<int>& labels);
  void FinishEpoch();
  void PrintEpochRow() const;
  // Rank 0 alone writes (atomically: io/checkpoint.hpp).
  void Save(const std::string& path) const {
    if (root_) SaveCheckpoint(MakeCheckpoint(model_, s_, state_), path);
  }
  void CheckRanksAgree(const std::string& where) const {
    ranks_.CheckSameParameters(state_.params, where);
  }
  void LogStep(double loss);

  const Settings s_;
  GradientReducer& ranks_;
  const bool root_;
  std::ostream& out_;
  std::ostream& err_;
  const Data data_;
  const Model model_;
  const Index n_;
  const Index num_batches_;
  const std::size_t parts_;
  TrainingState state_;
  std::vector<Worker> workers_;
  PartPool pool_;
  const std::string checkpoint_path_;
  long batches_this_run_ = 0;
  std::chrono::steady_clock::time_point batch_clock_;
  double batch_cpu_clock_ = 0;
};

TrainingState Trainer::StartState() const {
  AdamOptions adam_options;
  adam_options.lr = s_.lr;
  TrainingState state;
  state.adam = std::make_unique<Adam>(model_.num_params(), adam_options);
  if (!s_.resume.empty()) {
    RestoreCheckpoint(model_, s_, s_.resume, state, err_);
  } else {
    state.params = model_.InitialParams(s_.seed);
    state.rng = std::mt19937_64(s_.seed);
    state.epoch_rng = RngText(state.rng);
  }
  if (state.batch > num_batches_) {
    throw ConfigError("checkpoint '" + s_.resume + "' is at batch " + std::to_string(state.batch) +
                      " of an epoch, but this data has only " + std::to_string(num_batches_));
  }
  return state;
}

void Trainer::PrintHeader() const {
  const IntegratorOptions& io = s_.solver.integrator_options;
  out_ << "mnist_classifier: " << (model_.ode() ? "ODE-Net" : "ablation (no ODE block)") << ", "
       << model_.num_params() << " parameters\n"
       << "data        " << data_.description << "\n";
  if (model_.ode()) {
    out_ << "ODE block   " << s_.solver.integrator << " (rtol " << io.rtol << ", atol " << io.atol
         << (io.fixed_step > 0 ? ", step " + FormatNumber(io.fixed_step, 6) : std::string())
         << "), gradient " << s_.solver.gradient << "\n";
  }
  out_ << "training    Adam lr " << s_.lr
       << (s_.lr_schedule == "cosine" ? " (cosine decay to 0)" : "");
  if (s_.augment > 0) out_ << ", shifts up to " << s_.augment << " px";
  if (s_.hidden != kDefaultHidden) out_ << ", width " << s_.hidden;
  out_ << ", batch " << s_.batch << " (" << num_batches_ << " per epoch, last "
       << (n_ - (num_batches_ - 1) * s_.batch) << "), seed " << s_.seed << ", " << parts_
       << (parts_ == 1 ? " part" : " parts per batch");
  if (ranks_.size() > 1) out_ << " over " << ranks_.size() << " ranks";
  out_ << " (" << s_.threads << (s_.threads == 1 ? " thread" : " threads")
       << (ranks_.size() > 1 ? " each)\n" : ")\n");
  if (!s_.resume.empty()) {
    out_ << "resumed     " << s_.resume << " at epoch " << state_.epoch << ", batch "
         << state_.batch << "\n";
  }
  out_ << "\n";
}

std::vector<EpochRecord> Trainer::Run() {
  PrintHeader();
  CheckRanksAgree("at the start (after " + (s_.resume.empty() ? "the initialisation" : s_.resume) +
                  ")");
  if (s_.check_gradients && root_) {
    CheckGradients(s_, model_, data_, workers_[0], state_.params, out_);
  }
  Table table(EpochTableHeader());
  for (const EpochRecord& r : state_.history) table.AddRow(EpochTableRow(r));
  if (!table.empty()) table.Print(out_);
  // A resume at (or past) its target trains nothing and writes no checkpoint; it still writes the
  // final outputs, which a run killed after its last checkpoint had not written yet.
  const bool trains = state_.epoch < s_.epochs;
  if (!trains) {
    out_ << "nothing left to train: " << s_.resume << " is at epoch " << state_.epoch
         << " and --epochs is " << s_.epochs << " (raise --epochs to continue)\n";
  }
  if (root_) EnsureDirectory(s_.out_dir);
  while (state_.epoch < s_.epochs) RunEpoch();
  CheckRanksAgree("at the end of training");
  if (!root_) return state_.history;

  // The final model: the same format (optimiser state included, so it can also be resumed).
  Save(s_.out_dir + "/model.snode");
  nlohmann::json extra = {{"checkpoint", trains ? checkpoint_path_ : s_.resume},
                          {"model", s_.out_dir + "/model.snode"},
                          {"ranks", ranks_.size()}};
  if (!state_.history.empty()) {
    extra["final_test_accuracy"] = state_.history.back().test_accuracy;
  }
  WriteOutputs(s_, model_, data_, state_.history, extra, out_);
  out_ << "\nwrote " << s_.out_dir << "/{mnist_epochs.csv, mnist_results.json, "
       << (trains ? "checkpoint.snode, " : "") << "model.snode}\n";
  return state_.history;
}

void Trainer::RunEpoch() {
  // The permutation comes from the RNG state at the epoch's start, which the checkpoint keeps,
  // so a resume inside an epoch redraws the same order.
  state_.rng = RngFromText(state_.epoch_rng, "epoch state");
  const std::vector<Index> order = Permutation(n_, state_.rng);
  ProgressLine progress(
      "epoch " + std::to_string(state_.epoch + 1) + "/" + std::to_string(s_.epochs), num_batches_,
      s_.quiet || !root_);
  batch_clock_ = std::chrono::steady_clock::now();
  batch_cpu_clock_ = bench::ProcessCpuSeconds();
  while (state_.batch < num_batches_) RunBatch(order, progress);
  progress.Finish();
  FinishEpoch();
}

void Trainer::RunBatch(const std::vector<Index>& order, ProgressLine& progress) {
  const Index begin = state_.batch * s_.batch;
  const Index count = std::min<Index>(s_.batch, n_ - begin);
  Matrix x = GatherColumns(data_.train.images.pixels, order, begin, count);
  if (s_.augment > 0) {
    ShiftImages(x, data_.train.images.rows, data_.train.images.cols, s_.augment, s_.seed,
                state_.epoch, state_.batch);
  }
  const std::vector<int> labels = GatherLabels(data_.train.labels, order, begin, count);
  try {
    Step(x, labels);
  } catch (const Error& error) {
    // NumericalError/SundialsError in one batch: skip it when asked (the parameters and the
    // optimiser are untouched, since Step() runs only on a finite gradient).
    if (!s_.skip_bad_batches || dynamic_cast<const ConfigError*>(&error) != nullptr) throw;
    ++state_.skipped;
    progress.Finish();
    err_ << "warning: skipped batch " << state_.batch + 1 << " of epoch " << state_.epoch + 1
         << ": " << error.what() << "\n";
  }
  ++state_.batch;
  const auto now = std::chrono::steady_clock::now();
  state_.seconds += std::chrono::duration<double>(now - batch_clock_).count();
  batch_clock_ = now;
  const double cpu_now = bench::ProcessCpuSeconds();
  state_.cpu_seconds += cpu_now - batch_cpu_clock_;
  batch_cpu_clock_ = cpu_now;
  progress.Update(state_.batch,
                  state_.batches_done > 0 ? state_.loss_sum / state_.batches_done : 0.0,
                  static_cast<long>(state_.nfe_forward_sum + state_.nfe_backward_sum));
  if (s_.checkpoint_batches > 0 && state_.batch % s_.checkpoint_batches == 0 &&
      state_.batch < num_batches_) {
    Save(checkpoint_path_);
  }
  if (s_.stop_after_batches > 0 && ++batches_this_run_ >= s_.stop_after_batches) {
    out_ << std::flush;
    std::_Exit(3);  // as abrupt as a kill: no destructors, no further output
  }
}

void Trainer::Step(const Matrix& x, const std::vector<int>& labels) {
  const BatchResult r = TrainBatch(pool_, workers_, parts_, state_.params, x, labels, ranks_);
  if (!std::isfinite(r.loss)) {
    throw NumericalError("non-finite training loss at epoch " + std::to_string(state_.epoch + 1) +
                         ", batch " + std::to_string(state_.batch + 1));
  }
  if (s_.lr_schedule == "cosine") {
    state_.adam->set_lr(CosineLearningRate(s_.lr, state_.epoch * num_batches_ + state_.batch,
                                           s_.epochs * num_batches_));
  }
  state_.adam->Step(state_.params, r.grad);
  if (ranks_.size() > 1 && (s_.check_parameters || kDebugBuild)) {
    CheckRanksAgree("after epoch " + std::to_string(state_.epoch + 1) + ", batch " +
                    std::to_string(state_.batch + 1));
  }
  if (s_.step_losses && root_) LogStep(r.loss);
  state_.loss_sum += r.loss;
  state_.nfe_forward_sum += r.nfe_forward;
  state_.nfe_backward_sum += r.nfe_backward;
  state_.vjp_sum += r.vjp;
  ++state_.batches_done;
}

void Trainer::FinishEpoch() {
  Evaluation e;
  try {
    e = Evaluate(pool_, workers_, state_.params, data_.test, s_.batch, ranks_);
  } catch (const Error& error) {
    RethrowWithContext(error,
                       "evaluating the test set after epoch " + std::to_string(state_.epoch + 1));
  }
  const double done = static_cast<double>(state_.batches_done);
  EpochRecord record;
  record.epoch = state_.epoch + 1;
  record.train_loss = state_.batches_done > 0 ? state_.loss_sum / done : std::nan("");
  record.test_loss = e.loss;
  record.test_accuracy = e.accuracy;
  record.nfe_forward = state_.batches_done > 0 ? state_.nfe_forward_sum / done : 0;
  record.nfe_backward = state_.batches_done > 0 ? state_.nfe_backward_sum / done : 0;
  record.vjp = state_.batches_done > 0 ? state_.vjp_sum / done : 0;
  record.epoch_seconds = state_.seconds;
  record.eval_seconds = e.seconds;
  // CPU time of all ranks (one sum; wall times are rank 0's).
  Vector cpu(2);
  cpu << state_.cpu_seconds, e.cpu_seconds;
  ranks_.SumInPlace(cpu);
  record.epoch_cpu_seconds = cpu[0];
  record.eval_cpu_seconds = cpu[1];
  record.skipped_batches = state_.skipped;
  state_.history.push_back(record);
  PrintEpochRow();

  ++state_.epoch;
  state_.batch = 0;
  state_.epoch_rng = RngText(state_.rng);
  state_.loss_sum = state_.nfe_forward_sum = state_.nfe_backward_sum = state_.vjp_sum = 0;
  state_.seconds = state_.cpu_seconds = 0;
  state_.batches_done = state_.skipped = 0;
  if ((s_.checkpoint_every > 0 && state_.epoch % s_.checkpoint_every == 0) ||
      state_.epoch == s_.epochs) {
    Save(checkpoint_path_);
  }
}

// <out>/mnist_steps.csv: "epoch,batch,loss" per update, the loss to 17 digits, appended (a
// resumed run continues the file; a batch redone after a resume appears again, the later row
// counts).
void Trainer::LogStep(double loss) {
  const std::string path = s_.out_dir + "/mnist_steps.csv";
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) throw InputError("cannot append to '" + path + "'");
  if (std::ftell(file) == 0) std::fputs("epoch,batch,loss\n", file);
  std::fprintf(file, "%ld,%ld,%.17g\n", state_.epoch + 1, state_.batch + 1, loss);
  const bool failed = std::fclose(file) != 0;
  if (failed) throw InputError("cannot write '" + path + "'");
}

// The header once, then one line per epoch as it finishes.
void Trainer::PrintEpochRow() const {
  Table row(EpochTableHeader());
  row.AddRow(EpochTableRow(state_.history.back()));
  std::ostringstream text;
  row.Print(text);
  std::string lines = text.str();
  if (state_.history.size() > 1) {
    // Drop the header and rule lines; keep the row.
    std::istringstream in(lines);
    std::string line, last;
    while (std::getline(in, line)) {
      if (!line.empty()) last = line;
    }
    lines = last + "\n";
  }
  out_ << lines << std::flush;
}

// The model a file holds: the ODE-Net or the ablation, as its architecture says.
const Model& ModelOf(const Checkpoint& c, const std::string& path, const Model& ode,
                     const Model& ablation) {
  if (c.architecture == ode.Architecture()) return ode;
  if (c.architecture == ablation.Architecture()) return ablation;
  throw InputError("checkpoint '" + path + "': architecture mismatch: the file holds '" +
                   c.architecture + "' but this data needs '" + ode.Architecture() + "' or '" +
                   ablation.Architecture() + "'");
}

}  // namespace

const std::vector<std::string>& EpochTableHeader() {
  static const std::vector<std::string> header = {"epoch",     "train loss",    "test acc",
                                                  "test loss", "NFE fwd/batch", "NFE bwd/batch",
                                                  "VJP/batch", "epoch time",    "eval time"};
  return header;
}

std::vector<std::string> EpochTableRow(const EpochRecord& r) {
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

std::vector<EpochRecord> RunTraining(const Settings& s, std::ostream& out, std::ostream& err,
                                     GradientReducer& ranks) {
  return Trainer(s, out, err, ranks).Run();
}

Evaluation RunEvaluate(const Settings& s, std::ostream& out, GradientReducer& ranks) {
  const Checkpoint c = LoadCheckpoint(s.evaluate);
  ValidateTrainingCheckpoint(c, s.evaluate);  // what `checkpoint_tool check` runs
  const Data data = LoadData(s.data, /*need_training=*/false);
  CheckMemoryFits(s, data.test.images.rows, data.test.images.cols, /*training=*/false);
  const Index pixels = data.test.images.pixels.rows();
  const Model ode(true, pixels, s.hidden), ablation(false, pixels, s.hidden);
  const Model& model = ModelOf(c, s.evaluate, ode, ablation);
  const Vector params = model.FromBlocks(c.parameters, "", s.evaluate);
  std::vector<Worker> workers = MakeWorkers(model, s.solver, s.threads);
  PartPool pool(workers.size());
  const Evaluation e = Evaluate(pool, workers, params, data.test, s.batch, ranks);
  if (ranks.rank() != 0) return e;
  out << "model       " << s.evaluate << " (epoch " << c.epoch << ")\n"
      << "architecture " << c.architecture << "\n"
      << "test data   " << data.description << "\n";
  if (model.ode()) {
    const IntegratorOptions& io = s.solver.integrator_options;
    out << "integrator  " << s.solver.integrator << " (rtol " << io.rtol << ", atol " << io.atol
        << ", step " << io.fixed_step << ")\n";
  }
  out << "test accuracy " << FormatNumber(100.0 * e.accuracy, 4) << "% (" << e.correct << "/"
      << e.total << "), test loss " << FormatNumber(e.loss, 5) << ", " << FormatSeconds(e.seconds)
      << "\n";
  EnsureDirectory(s.out_dir);
  WriteJson(s.out_dir + "/mnist_evaluation.json", {{"model", s.evaluate},
                                                   {"architecture", c.architecture},
                                                   {"epoch", c.epoch},
                                                   {"data", data.description},
                                                   {"test_accuracy", e.accuracy},
                                                   {"test_correct", e.correct},
                                                   {"test_samples", e.total},
                                                   {"test_loss", JsonNumber(e.loss)},
                                                   {"seconds", e.seconds}});
  return e;
}

}  // namespace snode::mnist
