#include "adjoint/bptt_explicit_tape.hpp"

namespace snode {
namespace detail {
namespace {

void RecordExplicitStep(BpttTape& tape, std::size_t step) {
  BpttWorkspace& w = tape.w;
  const int s = tape.s;
  const double t = tape.times[step];
  const double h = tape.StepSize(step);
  const double* zn = tape.State(step);
  if (step > 0 && tape.scheme.fsal) {
    w.k.col(0) = w.k.col(s - 1);
  } else if (!tape.Take(t, h, tape.State(step), w.k.col(0), step, 0)) {
    tape.Evaluate(t, zn, w.k.col(0), step, 0);
  }
  if (step > 0 && tape.scheme.fsal) tape.Saved(step, 0) = tape.Saved(step - 1, s - 1);
  tape.AddStageCost(h, 0, t, zn);
  for (int i = 1; i < s; ++i) {
    double* y = tape.StageOutput(step, i);
    tape.CombineStages(h, tape.RowWeights(i), i, zn, y);
    const double ti = t + tape.tableau.c[i] * h;
    if (!tape.Take(ti, h, y, w.k.col(i), step, i)) tape.Evaluate(ti, y, w.k.col(i), step, i);
    tape.AddStageCost(h, i, ti, y);
  }
  tape.CombineStages(h, tape.SolutionWeights(), s, zn, tape.State(step + 1));
  tape.EndStep(step);
}

}  // namespace

void RecordExplicitSteps(BpttTape& tape) {
  for (std::size_t step = 0; step < tape.num_steps; ++step) RecordExplicitStep(tape, step);
}

}  // namespace detail
}  // namespace snode
