// Gradient records as bytes (studies/record_transfer.hpp): a record with every field set, the
// awkward doubles included, comes back bit for bit; truncated and corrupt bytes are InputErrors.
#include "studies/record_transfer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "core/errors.hpp"

namespace snode {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::uint64_t Bits(double x) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &x, sizeof x);
  return bits;
}

// Same bits: NaN equals NaN (same payload), −0.0 differs from 0.0.
#define EXPECT_SAME_DOUBLE(a, b) EXPECT_EQ(Bits(a), Bits(b)) << #a << ": " << (a) << " vs " << (b)

void ExpectSameVector(const Vector& a, const Vector& b) {
  ASSERT_EQ(a.size(), b.size());
  for (Index i = 0; i < a.size(); ++i) EXPECT_SAME_DOUBLE(a[i], b[i]);
}

IntegratorOptions AllSet(double base) {
  IntegratorOptions o;
  o.rtol = base;
  o.atol = -0.0;
  o.fixed_step = kInf;
  o.initial_step = kNaN;
  o.initial_step_estimate = "sundials";
  o.step_controller = "";
  o.max_step = 1e-300;
  o.max_steps = 123456789012L;
  o.linear_solver = "fgmres";
  o.preconditioner = "band";
  o.max_nonlinear_iters = -7;
  o.krylov_max_dim = 99;
  o.record_steps = true;
  o.interpolate_outputs = true;
  return o;
}

void ExpectSameOptions(const IntegratorOptions& a, const IntegratorOptions& b) {
  EXPECT_SAME_DOUBLE(a.rtol, b.rtol);
  EXPECT_SAME_DOUBLE(a.atol, b.atol);
  EXPECT_SAME_DOUBLE(a.fixed_step, b.fixed_step);
  EXPECT_SAME_DOUBLE(a.initial_step, b.initial_step);
  EXPECT_SAME_DOUBLE(a.max_step, b.max_step);
  EXPECT_EQ(a.initial_step_estimate, b.initial_step_estimate);
  EXPECT_EQ(a.step_controller, b.step_controller);
  EXPECT_EQ(a.linear_solver, b.linear_solver);
  EXPECT_EQ(a.preconditioner, b.preconditioner);
  EXPECT_EQ(a.max_steps, b.max_steps);
  EXPECT_EQ(a.max_nonlinear_iters, b.max_nonlinear_iters);
  EXPECT_EQ(a.krylov_max_dim, b.krylov_max_dim);
  EXPECT_EQ(a.record_steps, b.record_steps);
  EXPECT_EQ(a.interpolate_outputs, b.interpolate_outputs);
}

GradientStats AllSetStats() {
  GradientStats s;
  long n = 1;
  for (long* counter :
       {&s.forward_rhs_evals, &s.backward_rhs_evals, &s.vjp_evals, &s.jvp_evals, &s.forward_steps,
        &s.backward_steps, &s.checkpoints, &s.backward_restarts, &s.forward_nonlinear_iters,
        &s.backward_nonlinear_iters, &s.forward_linear_iters, &s.backward_linear_iters,
        &s.forward_preconditioner_setups, &s.forward_preconditioner_solves,
        &s.backward_preconditioner_setups, &s.backward_preconditioner_solves}) {
    *counter = n++ * 1000003;
  }
  s.stored_bytes = 4096.5;
  s.wall_seconds = 0.25;
  s.reconstruction_error = kNaN;
  s.reconstruction_failed = true;
  s.flagged = true;
  s.diagnosis = "ρ grew; twice";
  s.amplification = -kInf;
  s.error_estimate = -0.0;
  return s;
}

void ExpectSameStats(const GradientStats& a, const GradientStats& b) {
  EXPECT_EQ(a.forward_rhs_evals, b.forward_rhs_evals);
  EXPECT_EQ(a.backward_rhs_evals, b.backward_rhs_evals);
  EXPECT_EQ(a.vjp_evals, b.vjp_evals);
  EXPECT_EQ(a.jvp_evals, b.jvp_evals);
  EXPECT_EQ(a.forward_steps, b.forward_steps);
  EXPECT_EQ(a.backward_steps, b.backward_steps);
  EXPECT_EQ(a.checkpoints, b.checkpoints);
  EXPECT_EQ(a.backward_restarts, b.backward_restarts);
  EXPECT_EQ(a.forward_nonlinear_iters, b.forward_nonlinear_iters);
  EXPECT_EQ(a.backward_nonlinear_iters, b.backward_nonlinear_iters);
  EXPECT_EQ(a.forward_linear_iters, b.forward_linear_iters);
  EXPECT_EQ(a.backward_linear_iters, b.backward_linear_iters);
  EXPECT_EQ(a.forward_preconditioner_setups, b.forward_preconditioner_setups);
  EXPECT_EQ(a.forward_preconditioner_solves, b.forward_preconditioner_solves);
  EXPECT_EQ(a.backward_preconditioner_setups, b.backward_preconditioner_setups);
  EXPECT_EQ(a.backward_preconditioner_solves, b.backward_preconditioner_solves);
  EXPECT_SAME_DOUBLE(a.stored_bytes, b.stored_bytes);
  EXPECT_SAME_DOUBLE(a.wall_seconds, b.wall_seconds);
  EXPECT_SAME_DOUBLE(a.reconstruction_error, b.reconstruction_error);
  EXPECT_EQ(a.reconstruction_failed, b.reconstruction_failed);
  EXPECT_EQ(a.flagged, b.flagged);
  EXPECT_EQ(a.diagnosis, b.diagnosis);
  EXPECT_SAME_DOUBLE(a.amplification, b.amplification);
  EXPECT_SAME_DOUBLE(a.error_estimate, b.error_estimate);
}

GradientRecord AllSetRecord() {
  GradientRecord r;
  r.problem = "W5 T=1e5 sum";
  r.lambda = -0.0;
  r.parameter = "μ";
  MethodSpec& spec = r.run.spec;
  spec.gradient = "cvodes_adjoint";
  spec.integrator = "cvodes_bdf";
  spec.settings = "";
  spec.options.integrator = "cvodes_bdf";
  spec.options.integrator_options = AllSet(1e-8);
  spec.options.backward_integrator = "epi2";
  spec.options.backward_options = AllSet(3e-9);
  spec.options.method_settings.Set("quadrature", "gauss");
  spec.options.method_settings.Set("empty", "");
  spec.options.tolerance_check = true;
  r.run.threw = true;
  r.run.message = std::string("with a \0 byte\n", 14);
  r.run.loss = kNaN;
  r.run.gradient = (Vector(4) << 1.0, -0.0, kInf, std::nextafter(0.0, 1.0)).finished();
  r.run.forward_states = {Vector(), (Vector(2) << kNaN, -kInf).finished()};
  r.run.stats = AllSetStats();
  r.run.seconds = 1.5;
  r.run.cpu_seconds = 1.25;
  r.exact = (Vector(3) << 0.1, 0.2, -0.0).finished();
  r.error = {kNaN, kInf, true, 1e-320};
  r.status = "flagged";
  r.reference = "";
  return r;
}

TEST(RecordTransfer, RoundTripKeepsEveryFieldBitForBit) {
  const GradientRecord a = AllSetRecord();
  const GradientRecord b = Deserialise(Serialise(a));
  EXPECT_EQ(b.problem, a.problem);
  EXPECT_SAME_DOUBLE(b.lambda, a.lambda);
  EXPECT_EQ(b.parameter, a.parameter);
  EXPECT_EQ(b.run.spec.gradient, a.run.spec.gradient);
  EXPECT_EQ(b.run.spec.integrator, a.run.spec.integrator);
  EXPECT_EQ(b.run.spec.settings, a.run.spec.settings);
  EXPECT_EQ(b.run.spec.Label(), a.run.spec.Label());
  const GradientOptions &x = a.run.spec.options, &y = b.run.spec.options;
  EXPECT_EQ(y.integrator, x.integrator);
  ExpectSameOptions(y.integrator_options, x.integrator_options);
  EXPECT_EQ(y.backward_integrator, x.backward_integrator);
  ASSERT_TRUE(y.backward_options.has_value());
  ExpectSameOptions(*y.backward_options, *x.backward_options);
  EXPECT_EQ(y.method_settings.values(), x.method_settings.values());
  EXPECT_EQ(y.tolerance_check, x.tolerance_check);
  EXPECT_EQ(b.run.threw, a.run.threw);
  EXPECT_EQ(b.run.message, a.run.message);
  EXPECT_SAME_DOUBLE(b.run.loss, a.run.loss);
  ExpectSameVector(b.run.gradient, a.run.gradient);
  ASSERT_EQ(b.run.forward_states.size(), 2u);
  ExpectSameVector(b.run.forward_states[0], a.run.forward_states[0]);
  ExpectSameVector(b.run.forward_states[1], a.run.forward_states[1]);
  ExpectSameStats(b.run.stats, a.run.stats);
  EXPECT_SAME_DOUBLE(b.run.seconds, a.run.seconds);
  EXPECT_SAME_DOUBLE(b.run.cpu_seconds, a.run.cpu_seconds);
  ExpectSameVector(b.exact, a.exact);
  EXPECT_SAME_DOUBLE(b.error.rel, a.error.rel);
  EXPECT_SAME_DOUBLE(b.error.abs, a.error.abs);
  EXPECT_EQ(b.error.underflow, a.error.underflow);
  EXPECT_SAME_DOUBLE(b.error.underflow_abs, a.error.underflow_abs);
  EXPECT_EQ(b.status, a.status);
  EXPECT_EQ(b.reference, a.reference);
  // And the bytes of the copy are those of the original.
  EXPECT_EQ(Serialise(b), Serialise(a));
}

TEST(RecordTransfer, ADefaultRecordWithoutBackwardOptionsRoundTrips) {
  const GradientRecord a;
  const GradientRecord b = Deserialise(Serialise(a));
  EXPECT_FALSE(b.run.spec.options.backward_options.has_value());
  EXPECT_EQ(b.parameter, "λ");
  EXPECT_EQ(b.reference, "exact");
  EXPECT_EQ(Serialise(b), Serialise(a));
}

TEST(RecordTransfer, RecordsFollowEachOtherInOneStream) {
  GradientRecord first = AllSetRecord(), second;
  second.problem = "W1";
  ByteWriter out;
  out.Integer(2);
  WriteRecord(out, first);
  WriteRecord(out, second);
  ByteReader in(out.bytes(), "two records");
  EXPECT_EQ(in.Integer(), 2);
  EXPECT_EQ(ReadRecord(in).problem, first.problem);
  EXPECT_EQ(ReadRecord(in).problem, "W1");
  EXPECT_TRUE(in.AtEnd());
}

void ExpectInputError(const std::string& bytes, const std::string& words) {
  try {
    Deserialise(bytes);
    ADD_FAILURE() << "no error for " << bytes.size() << " bytes";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read a gradient record"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(RecordTransfer, TruncatedInputIsAnInputErrorAtEveryLength) {
  const std::string bytes = Serialise(AllSetRecord());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(Deserialise(bytes.substr(0, n)), InputError) << n << " of " << bytes.size();
  }
  ExpectInputError(bytes.substr(0, bytes.size() - 1), "truncated");
}

TEST(RecordTransfer, CorruptInputIsAnInputError) {
  const std::string bytes = Serialise(AllSetRecord());
  ExpectInputError("", "no 'SNR1' tag");
  ExpectInputError("XNR1" + bytes.substr(4), "no 'SNR1' tag");
  ExpectInputError(bytes + "x", "1 bytes left over");
  // The problem name's length (the 8 bytes after the tag) made huge, then negative.
  std::string huge = bytes;
  const std::int64_t big = std::int64_t{1} << 60, negative = -5;
  std::memcpy(&huge[4], &big, sizeof big);
  ExpectInputError(huge, "a text of 1152921504606846976 bytes");
  std::memcpy(&huge[4], &negative, sizeof negative);
  ExpectInputError(huge, "a text of -5 bytes");
  // A flag that is neither 0 nor 1: the underflow flag, just before the status ("flagged") and
  // the reference ("") with their lengths.
  std::string flag = bytes;
  const std::size_t at = bytes.size() - (8 + 7) - 8 - 1;
  ASSERT_EQ(flag[at], '\1');
  flag[at] = '\2';
  ExpectInputError(flag, "neither 0 nor 1");
}

}  // namespace
}  // namespace snode
