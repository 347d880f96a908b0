#pragma once

namespace snode {

// A sum kept as the unevaluated pair hi + lo (double-double: every addition's rounding error is
// kept in lo). Adding the same terms in any order and grouping gives the same hi + lo to within
// about n·2⁻¹⁰⁶ of the sum of their magnitudes, so Value() — hi + lo rounded once — is, but for
// sums that cancel to within that, the same double whatever the order: how a vector split over
// any number of ranks gets the norms and dot products of one rank.
struct CompensatedSum {
  double hi = 0.0, lo = 0.0;
  void Add(double x) {
    const double s = hi + x;
    const double shifted = s - hi;
    lo += (hi - (s - shifted)) + (x - shifted);  // Knuth's TwoSum: the exact error of hi + x
    hi = s;
  }
  void Add(const CompensatedSum& other) {
    Add(other.hi);
    lo += other.lo;
  }
  double Value() const { return hi + lo; }
};

}  // namespace snode
