#include "studies/mnist_checkpoint.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sstream>

#include "core/errors.hpp"
#include "io/rng_text.hpp"
#include "tests/studies/mnist_test_data.hpp"

namespace snode::mnist {
namespace {

bool SameBits(const Vector& a, const Vector& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0;
}

EpochRecord Record(long epoch) {
  EpochRecord r;
  r.epoch = epoch;
  r.train_loss = 1.0 / 3.0 + static_cast<double>(epoch);
  r.test_loss = 0.7;
  r.test_accuracy = 0.9123;
  r.nfe_forward = 16;
  r.nfe_backward = 0;
  r.vjp = 16;
  r.epoch_seconds = 0.25;
  r.eval_seconds = 0.125;
  r.skipped_batches = epoch - 1;
  return r;
}

// A state in the middle of epoch 3, with Adam moments from two steps.
TrainingState MidEpochState(const Model& model) {
  TrainingState state;
  state.adam = std::make_unique<Adam>(model.num_params());
  state.params = model.InitialParams(5);
  state.adam->Step(state.params, Vector::Constant(model.num_params(), 0.1));
  state.adam->Step(state.params, Vector::LinSpaced(model.num_params(), -1.0, 1.0));
  state.rng = std::mt19937_64(8);
  for (int k = 0; k < 77; ++k) state.rng();
  state.epoch_rng = RngText(state.rng);
  state.epoch = 2;
  state.batch = 5;
  state.loss_sum = 2.0 / 7.0;
  state.nfe_forward_sum = 80;
  state.nfe_backward_sum = 3;
  state.vjp_sum = 80;
  state.seconds = 1.0 / 9.0;
  state.batches_done = 4;
  state.skipped = 1;
  state.history = {Record(1), Record(2)};
  return state;
}

TEST(MnistCheckpoint, EpochRecordJsonRoundTripsAndMissingNumbersAreNan) {
  const EpochRecord r = FromJson(ToJson(Record(4)));
  EXPECT_EQ(r.epoch, 4);
  EXPECT_EQ(r.train_loss, Record(4).train_loss);
  EXPECT_EQ(r.skipped_batches, 3);
  EXPECT_EQ(r.vjp, 16);
  const EpochRecord partial = FromJson({{"epoch", 2}, {"test_loss", nullptr}});
  EXPECT_EQ(partial.epoch, 2);
  EXPECT_TRUE(std::isnan(partial.test_loss));
  EXPECT_TRUE(std::isnan(partial.train_loss));
  EXPECT_EQ(partial.skipped_batches, 0);
}

TEST(MnistCheckpoint, SaveAndRestoreGiveTheSameStateBitForBit) {
  test_mnist::TempDir dir;
  const Model model(true, 16, 4);
  Settings s;
  s.batch = 32;
  const TrainingState saved = MidEpochState(model);
  const std::string path = dir.path() + "/checkpoint.snode";
  SaveCheckpoint(MakeCheckpoint(model, s, saved), path);

  TrainingState restored;
  restored.adam = std::make_unique<Adam>(model.num_params());
  std::ostringstream notes;
  RestoreCheckpoint(model, s, path, restored, notes);
  EXPECT_EQ(notes.str(), "");
  EXPECT_TRUE(SameBits(restored.params, saved.params));
  EXPECT_TRUE(SameBits(restored.adam->m(), saved.adam->m()));
  EXPECT_TRUE(SameBits(restored.adam->v(), saved.adam->v()));
  EXPECT_EQ(restored.adam->step(), 2);
  EXPECT_EQ(restored.rng, saved.rng);
  EXPECT_EQ(restored.epoch_rng, saved.epoch_rng);
  EXPECT_EQ(restored.epoch, 2);
  EXPECT_EQ(restored.batch, 5);
  EXPECT_EQ(restored.loss_sum, saved.loss_sum);  // hex floats: exact
  EXPECT_EQ(restored.seconds, saved.seconds);
  EXPECT_EQ(restored.nfe_backward_sum, 3);
  EXPECT_EQ(restored.batches_done, 4);
  EXPECT_EQ(restored.skipped, 1);
  ASSERT_EQ(restored.history.size(), 2u);
  EXPECT_EQ(restored.history[1].train_loss, saved.history[1].train_loss);
  EXPECT_EQ(restored.history[1].epoch, 2);
}

TEST(MnistCheckpoint, ChangedSettingsAreNotedAndAnotherBatchInsideAnEpochRefused) {
  test_mnist::TempDir dir;
  const Model model(false, 16, 4);
  Settings s;
  const std::string path = dir.path() + "/checkpoint.snode";
  SaveCheckpoint(MakeCheckpoint(model, s, MidEpochState(model)), path);
  Settings changed = s;
  changed.lr = 5e-4;
  TrainingState state;
  state.adam = std::make_unique<Adam>(model.num_params());
  std::ostringstream notes;
  RestoreCheckpoint(model, changed, path, state, notes);
  EXPECT_NE(notes.str().find("note: resuming with lr = "), std::string::npos) << notes.str();
  changed.batch = 64;
  EXPECT_THROW(RestoreCheckpoint(model, changed, path, state, notes), ConfigError);
}

TEST(MnistCheckpoint, WrongArchitectureOrNoAdamStateIsAnInputError) {
  test_mnist::TempDir dir;
  const Model ode(true, 16, 4), ablation(false, 16, 4);
  const Settings s;
  const std::string path = dir.path() + "/checkpoint.snode";
  SaveCheckpoint(MakeCheckpoint(ablation, s, MidEpochState(ablation)), path);
  TrainingState state;
  state.adam = std::make_unique<Adam>(ode.num_params());
  std::ostringstream notes;
  EXPECT_THROW(RestoreCheckpoint(ode, s, path, state, notes), InputError);

  Checkpoint model_file = MakeCheckpoint(ablation, s, MidEpochState(ablation));
  model_file.optimizer = "none";
  model_file.optimizer_state.clear();
  SaveCheckpoint(model_file, path);
  state.adam = std::make_unique<Adam>(ablation.num_params());
  EXPECT_THROW(RestoreCheckpoint(ablation, s, path, state, notes), InputError);
}

}  // namespace
}  // namespace snode::mnist
