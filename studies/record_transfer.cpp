#include "studies/record_transfer.hpp"

#include <array>
#include <cstring>

#include "core/errors.hpp"

namespace snode {

// ---------------------------------------------------------------- bytes

void ByteWriter::Double(double x) { Raw(&x, sizeof x); }
void ByteWriter::Integer(std::int64_t x) { Raw(&x, sizeof x); }
void ByteWriter::Bool(bool x) { bytes_ += x ? '\1' : '\0'; }

void ByteWriter::Text(const std::string& text) {
  Integer(static_cast<std::int64_t>(text.size()));
  bytes_ += text;
}

void ByteWriter::Numbers(const Vector& v) {
  Integer(static_cast<std::int64_t>(v.size()));
  Raw(v.data(), sizeof(double) * static_cast<std::size_t>(v.size()));
}

void ByteReader::Fail(const std::string& problem) const {
  throw InputError("cannot read " + what_ + ": " + problem + " at byte " + std::to_string(at_) +
                   " of " + std::to_string(bytes_.size()));
}

void ByteReader::Raw(void* data, std::size_t size) {
  if (bytes_.size() - at_ < size) Fail("truncated (" + std::to_string(size) + " bytes wanted)");
  if (size == 0) return;  // an empty vector's data() may be null, which memcpy must not get
  std::memcpy(data, bytes_.data() + at_, size);
  at_ += size;
}

double ByteReader::Double() {
  double x = 0;
  Raw(&x, sizeof x);
  return x;
}

std::int64_t ByteReader::Integer() {
  std::int64_t x = 0;
  Raw(&x, sizeof x);
  return x;
}

bool ByteReader::Bool() {
  char c = 0;
  Raw(&c, 1);
  if (c != '\0' && c != '\1') Fail("a flag that is neither 0 nor 1");
  return c == '\1';
}

std::string ByteReader::Text() {
  const std::int64_t length = Integer();
  // Checked against what is left before allocating: a corrupt length is an error, not a bad_alloc.
  if (length < 0 || static_cast<std::uint64_t>(length) > bytes_.size() - at_) {
    Fail("a text of " + std::to_string(length) + " bytes");
  }
  std::string text = bytes_.substr(at_, static_cast<std::size_t>(length));
  at_ += static_cast<std::size_t>(length);
  return text;
}

Vector ByteReader::Numbers() {
  const std::int64_t count = Integer();
  if (count < 0 || static_cast<std::uint64_t>(count) > (bytes_.size() - at_) / sizeof(double)) {
    Fail("a vector of " + std::to_string(count) + " numbers");
  }
  Vector v(static_cast<Index>(count));
  Raw(v.data(), sizeof(double) * static_cast<std::size_t>(count));
  return v;
}

void ByteReader::Expect(const std::string& tag) {
  if (bytes_.compare(at_, tag.size(), tag) != 0) Fail("no '" + tag + "' tag");
  at_ += tag.size();
}

void ByteReader::Finish() const {
  if (!AtEnd()) Fail(std::to_string(bytes_.size() - at_) + " bytes left over");
}

// ---------------------------------------------------------------- records

namespace {

constexpr const char* kRecordTag = "SNR1";

void WriteIntegratorOptions(ByteWriter& out, const IntegratorOptions& o) {
  for (const double x : {o.rtol, o.atol, o.fixed_step, o.initial_step, o.max_step}) out.Double(x);
  for (const std::string* s :
       {&o.initial_step_estimate, &o.step_controller, &o.linear_solver, &o.preconditioner}) {
    out.Text(*s);
  }
  for (const std::int64_t n : {std::int64_t{o.max_steps}, std::int64_t{o.max_nonlinear_iters},
                               std::int64_t{o.krylov_max_dim}}) {
    out.Integer(n);
  }
  out.Bool(o.record_steps);
  out.Bool(o.interpolate_outputs);
}

IntegratorOptions ReadIntegratorOptions(ByteReader& in) {
  IntegratorOptions o;
  for (double* x : {&o.rtol, &o.atol, &o.fixed_step, &o.initial_step, &o.max_step}) {
    *x = in.Double();
  }
  for (std::string* s :
       {&o.initial_step_estimate, &o.step_controller, &o.linear_solver, &o.preconditioner}) {
    *s = in.Text();
  }
  o.max_steps = static_cast<long>(in.Integer());
  o.max_nonlinear_iters = static_cast<int>(in.Integer());
  o.krylov_max_dim = static_cast<int>(in.Integer());
  o.record_steps = in.Bool();
  o.interpolate_outputs = in.Bool();
  return o;
}

void WriteSpec(ByteWriter& out, const MethodSpec& spec) {
  out.Text(spec.gradient);
  out.Text(spec.integrator);
  out.Text(spec.settings);
  const GradientOptions& o = spec.options;
  out.Text(o.integrator);
  WriteIntegratorOptions(out, o.integrator_options);
  out.Text(o.backward_integrator);
  out.Bool(o.backward_options.has_value());
  if (o.backward_options) WriteIntegratorOptions(out, *o.backward_options);
  out.Integer(static_cast<std::int64_t>(o.method_settings.values().size()));
  for (const auto& [name, value] : o.method_settings.values()) {
    out.Text(name);
    out.Text(value);
  }
  out.Bool(o.tolerance_check);
}

MethodSpec ReadSpec(ByteReader& in) {
  MethodSpec spec;
  spec.gradient = in.Text();
  spec.integrator = in.Text();
  spec.settings = in.Text();
  GradientOptions& o = spec.options;
  o.integrator = in.Text();
  o.integrator_options = ReadIntegratorOptions(in);
  o.backward_integrator = in.Text();
  if (in.Bool()) o.backward_options = ReadIntegratorOptions(in);
  const std::int64_t settings = in.Integer();
  for (std::int64_t k = 0; k < settings; ++k) {
    std::string name = in.Text();
    if (name.empty()) throw InputError("cannot read a method spec: a setting without a name");
    o.method_settings.Set(name, in.Text());
  }
  o.tolerance_check = in.Bool();
  return spec;
}

// The counters of GradientStats, in one order for writing and reading.
template <class Stats>
auto Counters(Stats& s) {
  return std::array{&s.forward_rhs_evals,
                    &s.backward_rhs_evals,
                    &s.vjp_evals,
                    &s.jvp_evals,
                    &s.forward_steps,
                    &s.backward_steps,
                    &s.checkpoints,
                    &s.backward_restarts,
                    &s.forward_nonlinear_iters,
                    &s.backward_nonlinear_iters,
                    &s.forward_linear_iters,
                    &s.backward_linear_iters,
                    &s.forward_preconditioner_setups,
                    &s.forward_preconditioner_solves,
                    &s.backward_preconditioner_setups,
                    &s.backward_preconditioner_solves};
}

template <class Stats>
auto Reals(Stats& s) {
  return std::array{&s.stored_bytes, &s.wall_seconds, &s.reconstruction_error, &s.amplification,
                    &s.error_estimate};
}

void WriteStats(ByteWriter& out, const GradientStats& s) {
  for (const long* n : Counters(s)) out.Integer(*n);
  for (const double* x : Reals(s)) out.Double(*x);
  out.Bool(s.reconstruction_failed);
  out.Bool(s.flagged);
  out.Text(s.diagnosis);
}

GradientStats ReadStats(ByteReader& in) {
  GradientStats s;
  for (long* n : Counters(s)) *n = static_cast<long>(in.Integer());
  for (double* x : Reals(s)) *x = in.Double();
  s.reconstruction_failed = in.Bool();
  s.flagged = in.Bool();
  s.diagnosis = in.Text();
  return s;
}

void WriteRun(ByteWriter& out, const GradientRun& run) {
  WriteSpec(out, run.spec);
  out.Bool(run.threw);
  out.Text(run.message);
  out.Double(run.loss);
  out.Numbers(run.gradient);
  out.Integer(static_cast<std::int64_t>(run.forward_states.size()));
  for (const Vector& z : run.forward_states) out.Numbers(z);
  WriteStats(out, run.stats);
  out.Double(run.seconds);
  out.Double(run.cpu_seconds);
}

GradientRun ReadRun(ByteReader& in) {
  GradientRun run;
  run.spec = ReadSpec(in);
  run.threw = in.Bool();
  run.message = in.Text();
  run.loss = in.Double();
  run.gradient = in.Numbers();
  const std::int64_t states = in.Integer();
  // Each state takes at least its 8-byte count, so a corrupt count runs out of bytes quickly.
  for (std::int64_t k = 0; k < states; ++k) run.forward_states.push_back(in.Numbers());
  run.stats = ReadStats(in);
  run.seconds = in.Double();
  run.cpu_seconds = in.Double();
  return run;
}

}  // namespace

void WriteRecord(ByteWriter& out, const GradientRecord& record) {
  out.Tag(kRecordTag);
  out.Text(record.problem);
  out.Double(record.lambda);
  out.Text(record.parameter);
  WriteRun(out, record.run);
  out.Numbers(record.exact);
  const GradientError& e = record.error;
  for (const double x : {e.rel, e.abs, e.underflow_abs}) out.Double(x);
  out.Bool(e.underflow);
  out.Text(record.status);
  out.Text(record.reference);
}

GradientRecord ReadRecord(ByteReader& in) {
  in.Expect(kRecordTag);
  GradientRecord record;
  record.problem = in.Text();
  record.lambda = in.Double();
  record.parameter = in.Text();
  record.run = ReadRun(in);
  record.exact = in.Numbers();
  GradientError& e = record.error;
  for (double* x : {&e.rel, &e.abs, &e.underflow_abs}) *x = in.Double();
  e.underflow = in.Bool();
  record.status = in.Text();
  record.reference = in.Text();
  return record;
}

std::string Serialise(const GradientRecord& record) {
  ByteWriter out;
  WriteRecord(out, record);
  return out.bytes();
}

GradientRecord Deserialise(const std::string& bytes) {
  ByteReader in(bytes, "a gradient record");
  GradientRecord record = ReadRecord(in);
  in.Finish();
  return record;
}

}  // namespace snode
