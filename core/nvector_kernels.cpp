#include "core/nvector_kernels.hpp"

#include <sundials/sundials_nvector.h>

#include <algorithm>
#include <cmath>

#include "core/nvector.hpp"

namespace snode::detail {

namespace {

// Debian's libsundials (6.4.1) is built without optimisation: its serial kernels run with every
// index on the stack, and on the MNIST ODE block (8 192-long states) N_VLinearCombination_Serial
// alone took half as long as the network's GEMMs. These replacements compute exactly what the
// serial kernels compute — the same special cases, the same operation order, sequential sums — so
// results are bit for bit those of N_Vector_Serial (without -march=native); only the speed differs.

// This process's data: all of a serial vector, the local part of SUNDIALS' MPI vector.
double* Data(N_Vector v) { return NVectorData(v); }
sunindextype Length(N_Vector v) { return NVectorLocalLength(v); }

// y <- a x + y
void Axpy(double a, const double* x, double* y, sunindextype n) {
  if (a == 1.0) {
    for (sunindextype i = 0; i < n; ++i) y[i] += x[i];
  } else if (a == -1.0) {
    for (sunindextype i = 0; i < n; ++i) y[i] -= x[i];
  } else {
    for (sunindextype i = 0; i < n; ++i) y[i] += a * x[i];
  }
}

void LinearSum(double a, N_Vector x, double b, N_Vector y, N_Vector z) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  const double* yd = Data(y);
  double* zd = Data(z);
  if (b == 1.0 && z == y) return Axpy(a, xd, zd, n);
  if (a == 1.0 && z == x) return Axpy(b, yd, zd, n);
  if (a == 1.0 && b == 1.0) {
    for (sunindextype i = 0; i < n; ++i) zd[i] = xd[i] + yd[i];
    return;
  }
  if ((a == 1.0 && b == -1.0) || (a == -1.0 && b == 1.0)) {
    const double* plus = a == 1.0 ? xd : yd;
    const double* minus = a == 1.0 ? yd : xd;
    for (sunindextype i = 0; i < n; ++i) zd[i] = plus[i] - minus[i];
    return;
  }
  if (a == 1.0 || b == 1.0) {  // c v1 + v2
    const double c = a == 1.0 ? b : a;
    const double* v1 = a == 1.0 ? yd : xd;
    const double* v2 = a == 1.0 ? xd : yd;
    for (sunindextype i = 0; i < n; ++i) zd[i] = c * v1[i] + v2[i];
    return;
  }
  if (a == -1.0 || b == -1.0) {  // c v1 − v2
    const double c = a == -1.0 ? b : a;
    const double* v1 = a == -1.0 ? yd : xd;
    const double* v2 = a == -1.0 ? xd : yd;
    for (sunindextype i = 0; i < n; ++i) zd[i] = c * v1[i] - v2[i];
    return;
  }
  if (a == b) {
    for (sunindextype i = 0; i < n; ++i) zd[i] = a * (xd[i] + yd[i]);
    return;
  }
  if (a == -b) {
    for (sunindextype i = 0; i < n; ++i) zd[i] = a * (xd[i] - yd[i]);
    return;
  }
  for (sunindextype i = 0; i < n; ++i) zd[i] = a * xd[i] + b * yd[i];
}

void Const(double c, N_Vector z) {
  double* zd = Data(z);
  std::fill(zd, zd + Length(z), c);
}

void Prod(N_Vector x, N_Vector y, N_Vector z) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  const double* yd = Data(y);
  double* zd = Data(z);
  for (sunindextype i = 0; i < n; ++i) zd[i] = xd[i] * yd[i];
}

void Div(N_Vector x, N_Vector y, N_Vector z) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  const double* yd = Data(y);
  double* zd = Data(z);
  for (sunindextype i = 0; i < n; ++i) zd[i] = xd[i] / yd[i];
}

void Scale(double c, N_Vector x, N_Vector z) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  double* zd = Data(z);
  if (z == x) {
    for (sunindextype i = 0; i < n; ++i) zd[i] *= c;
  } else if (c == 1.0) {
    std::copy(xd, xd + n, zd);
  } else if (c == -1.0) {
    for (sunindextype i = 0; i < n; ++i) zd[i] = -xd[i];
  } else {
    for (sunindextype i = 0; i < n; ++i) zd[i] = c * xd[i];
  }
}

void Abs(N_Vector x, N_Vector z) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  double* zd = Data(z);
  for (sunindextype i = 0; i < n; ++i) zd[i] = std::abs(xd[i]);
}

void Inv(N_Vector x, N_Vector z) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  double* zd = Data(z);
  for (sunindextype i = 0; i < n; ++i) zd[i] = 1.0 / xd[i];
}

void AddConst(N_Vector x, double b, N_Vector z) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  double* zd = Data(z);
  for (sunindextype i = 0; i < n; ++i) zd[i] = xd[i] + b;
}

double DotProd(N_Vector x, N_Vector y) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  const double* yd = Data(y);
  double sum = 0.0;
  for (sunindextype i = 0; i < n; ++i) sum += xd[i] * yd[i];
  return sum;
}

double MaxNorm(N_Vector x) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  double largest = 0.0;
  for (sunindextype i = 0; i < n; ++i) largest = std::max(largest, std::abs(xd[i]));
  return largest;
}

double WSqrSumLocal(N_Vector x, N_Vector w) {
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  const double* wd = Data(w);
  double sum = 0.0;
  for (sunindextype i = 0; i < n; ++i) {
    const double product = xd[i] * wd[i];
    sum += product * product;
  }
  return sum;
}

double WrmsNorm(N_Vector x, N_Vector w) {
  return std::sqrt(WSqrSumLocal(x, w) / static_cast<double>(Length(x)));
}

// z = Σ_v c_v X_v in blocks small enough for L1, so z is written once per block instead of once
// per term; per element the sum runs in the serial kernel's order (c_0 x_0 first, then each
// term). z may be X[0], as the serial kernel allows.
int LinearCombination(int nvec, double* c, N_Vector* X, N_Vector z) {
  if (nvec < 1) return -1;
  if (nvec == 1) {
    Scale(c[0], X[0], z);
    return 0;
  }
  if (nvec == 2) {
    LinearSum(c[0], X[0], c[1], X[1], z);
    return 0;
  }
  constexpr sunindextype kBlock = 512;
  const sunindextype n = Length(z);
  double* zd = Data(z);
  const bool scale_first = !(X[0] == z && c[0] == 1.0);
  for (sunindextype start = 0; start < n; start += kBlock) {
    const sunindextype end = std::min(n, start + kBlock);
    if (scale_first) {
      const double* x0 = Data(X[0]);
      const double c0 = c[0];
      for (sunindextype i = start; i < end; ++i) zd[i] = c0 * x0[i];
    }
    for (int v = 1; v < nvec; ++v) {
      const double* xv = Data(X[v]);
      const double cv = c[v];
      for (sunindextype i = start; i < end; ++i) zd[i] += cv * xv[i];
    }
  }
  return 0;
}

// Z_v = a_v x + Y_v.
int ScaleAddMulti(int nvec, double* a, N_Vector x, N_Vector* Y, N_Vector* Z) {
  if (nvec < 1) return -1;
  if (nvec == 1) {
    LinearSum(a[0], x, 1.0, Y[0], Z[0]);
    return 0;
  }
  const sunindextype n = Length(x);
  const double* xd = Data(x);
  for (int v = 0; v < nvec; ++v) {
    const double av = a[v];
    const double* yd = Data(Y[v]);
    double* zd = Data(Z[v]);
    if (Y[v] == Z[v]) {
      for (sunindextype i = 0; i < n; ++i) zd[i] += av * xd[i];
    } else {
      for (sunindextype i = 0; i < n; ++i) zd[i] = av * xd[i] + yd[i];
    }
  }
  return 0;
}

// d_v = x · Y_v.
int DotProdMulti(int nvec, N_Vector x, N_Vector* Y, double* dotprods) {
  if (nvec < 1) return -1;
  for (int v = 0; v < nvec; ++v) dotprods[v] = DotProd(x, Y[v]);
  return 0;
}

}  // namespace

void InstallFastElementwiseKernels(N_Vector v) {
  N_Vector_Ops ops = v->ops;
  ops->nvlinearsum = LinearSum;
  ops->nvconst = Const;
  ops->nvprod = Prod;
  ops->nvdiv = Div;
  ops->nvscale = Scale;
  ops->nvabs = Abs;
  ops->nvinv = Inv;
  ops->nvaddconst = AddConst;
  ops->nvlinearcombination = LinearCombination;
  ops->nvscaleaddmulti = ScaleAddMulti;
}

namespace {

// Σ term(i) over the local part in kLanes independent compensated sums (instruction-level
// parallelism: each lane's TwoSum chain waits only on itself), combined at the end.
template <class Term>
CompensatedSum CompensatedLocalSum(sunindextype n, Term&& term) {
  constexpr int kLanes = 8;
  CompensatedSum lanes[kLanes];
  sunindextype i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) lanes[k].Add(term(i + k));
  }
  for (; i < n; ++i) lanes[0].Add(term(i));
  for (int k = 1; k < kLanes; ++k) lanes[0].Add(lanes[k]);
  return lanes[0];
}

}  // namespace

CompensatedSum LocalDotProdCompensated(N_Vector x, N_Vector y) {
  const double* xd = Data(x);
  const double* yd = Data(y);
  return CompensatedLocalSum(Length(x), [&](sunindextype i) { return xd[i] * yd[i]; });
}

CompensatedSum LocalWSqrSumCompensated(N_Vector x, N_Vector w) {
  const double* xd = Data(x);
  const double* wd = Data(w);
  return CompensatedLocalSum(Length(x), [&](sunindextype i) {
    const double product = xd[i] * wd[i];
    return product * product;
  });
}

void InstallFastKernels(N_Vector v) {
  InstallFastElementwiseKernels(v);
  N_Vector_Ops ops = v->ops;
  ops->nvdotprod = DotProd;
  ops->nvmaxnorm = MaxNorm;
  ops->nvwrmsnorm = WrmsNorm;
  ops->nvwsqrsumlocal = WSqrSumLocal;
  ops->nvdotprodmulti = DotProdMulti;
}

}  // namespace snode::detail
