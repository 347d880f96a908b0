#pragma once
// Gradient records as bytes, for moving them between the ranks of a distributed study (the
// stiffness study over MPI: each rank runs its share of the jobs, rank 0 gathers the records).
//
// Bit-exact: every double travels as its 8 bytes (NaN payloads, ±inf and −0.0 survive), every
// integer as 8 bytes, strings and vectors after an 8-byte length, a bool as one byte 0 or 1, all
// in the host's byte order (the ranks of one job run one build on one architecture). A record
// starts with the tag "SNR1"; every field of GradientRecord is written, nested ones (the method
// spec with its options, the run, its stats, the error) included. A field added to those structs
// must be added here too (docs/decisions.md, "Records between ranks").
//
// Reading checks every length against the bytes left: truncated or corrupt input is an
// InputError with a plain message, never a read past the end or a huge allocation.

#include <cstdint>
#include <string>
#include <utility>

#include "core/types.hpp"
#include "studies/gradient_study.hpp"

namespace snode {

// Appends values to a byte string in the format above.
class ByteWriter {
 public:
  void Double(double x);
  void Integer(std::int64_t x);
  void Bool(bool x);
  void Text(const std::string& text);                  // length, then bytes
  void Numbers(const Vector& v);                       // count, then the doubles
  void Tag(const std::string& tag) { bytes_ += tag; }  // as it is, no length
  const std::string& bytes() const { return bytes_; }

 private:
  void Raw(const void* data, std::size_t size) {
    bytes_.append(static_cast<const char*>(data), size);
  }
  std::string bytes_;
};

// Reads what a ByteWriter wrote, in the same order. `what` names the data in error messages
// ("a gradient record"); bytes must outlive the reader.
class ByteReader {
 public:
  ByteReader(const std::string& bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}
  double Double();
  std::int64_t Integer();
  bool Bool();
  std::string Text();
  Vector Numbers();
  // Reads `tag` (e.g. "SNR1"); InputError when the bytes there differ.
  void Expect(const std::string& tag);
  bool AtEnd() const { return at_ == bytes_.size(); }
  // InputError when bytes are left over.
  void Finish() const;

 private:
  void Raw(void* data, std::size_t size);
  [[noreturn]] void Fail(const std::string& problem) const;
  const std::string& bytes_;
  std::string what_;
  std::size_t at_ = 0;
};

void WriteRecord(ByteWriter& out, const GradientRecord& record);
GradientRecord ReadRecord(ByteReader& in);

// One record as bytes, and back (InputError for anything but exactly one whole record).
std::string Serialise(const GradientRecord& record);
GradientRecord Deserialise(const std::string& bytes);

}  // namespace snode
