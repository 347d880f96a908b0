#pragma once
// The MNIST ODE-Net trainer behind mnist_classifier: Adam (PyTorch semantics) on minibatches
// drawn from a seeded permutation per epoch (studies/mnist_data.hpp), the batch split over
// threads (studies/mnist_worker.hpp), a test evaluation and a table row after every epoch,
// checkpoints and resume (studies/mnist_checkpoint.hpp), and the output files.
//
// Output of a training run, in s.out_dir: checkpoint.snode (every s.checkpoint_every epochs,
// every s.checkpoint_batches batches, and at the end), model.snode (the final state, same format,
// resumable), mnist_epochs.csv, mnist_results.json and, from two epochs on, mnist_epochs.{dat,gp}
// with their gnuplot figures. Evaluation writes mnist_evaluation.json.
//
// Errors: ConfigError (settings, a gradient method that cannot use the integrator, a checkpoint
// that does not fit the data), InputError (data or checkpoint files), NumericalError /
// SundialsError from a batch (skipped with a warning when s.skip_bad_batches).

#include <ostream>
#include <string>
#include <vector>

#include "studies/mnist_checkpoint.hpp"
#include "studies/mnist_settings.hpp"
#include "studies/mnist_worker.hpp"

namespace snode::mnist {

// Trains as s says (from s.resume when set) up to s.epochs and returns every epoch's record
// (those of a resumed checkpoint included). A resume already at (or past) s.epochs trains nothing,
// says so ("nothing left to train: ..."), writes no checkpoint.snode and only the final outputs
// (model.snode, mnist_epochs.csv, mnist_results.json: a run killed after its last checkpoint had
// not written them). Images too large for
// kMaxClassifierBytes are an InputError before the model is allocated (CheckMemoryFits); an error
// of the test-set pass after an epoch begins "evaluating the test set after epoch N: ". The run's
// report (settings, the per-epoch table, the files written) goes to out; warnings and notes go to
// err. s.stop_after_batches > 0 ends the process with std::_Exit(3) after that many batches, as
// abruptly as a kill (a testing aid).
//
// Data-parallel (ranks.size() > 1, docs/distributed.md): every rank runs this with the same
// settings; each batch's K = s.batch_parts parts (0: PartsFor(s.threads, s.batch) × the ranks) are
// dealt to the ranks in contiguous blocks and summed with one SumOverRanks per step, so every rank
// makes the same update, and the run equals a serial one with the same K up to the order of the
// sums. Rank 0 alone writes out, err, checkpoints and output files; the others return their
// history and print nothing (their errors are exceptions). The parameters are compared across
// ranks (GradientReducer::CheckSameParameters) at the start and the end, and after every step in
// Debug builds or with s.check_parameters. s.step_losses: rank 0 appends every update's loss to
// <out>/mnist_steps.csv ("epoch,batch,loss", 17 digits).
std::vector<EpochRecord> RunTraining(const Settings& s, std::ostream& out, std::ostream& err,
                                     GradientReducer& ranks = SerialReduction());

// Evaluates the model file s.evaluate (checked by ValidateTrainingCheckpoint, as
// `checkpoint_tool check` does) on the test data (its stored architecture decides between
// the ODE-Net and the ablation), prints the accuracy on out and writes
// <s.out_dir>/mnist_evaluation.json. With ranks, the test batches are split over them (Evaluate);
// rank 0 alone prints and writes.
Evaluation RunEvaluate(const Settings& s, std::ostream& out,
                       GradientReducer& ranks = SerialReduction());

// The per-epoch table's header, and the row of one record.
const std::vector<std::string>& EpochTableHeader();
std::vector<std::string> EpochTableRow(const EpochRecord& r);

}  // namespace snode::mnist
