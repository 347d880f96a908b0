"""The seed's experiment: dy/dt = -λy, y(0) = 1, L = y(1); exactly dL/dλ = -e^(-λ). The backsolve
adjoint (dopri5, tolerances of the exponential_decay app) solves y backward, where it grows like
e^(λt): right at λ = 100, it cannot work at λ = 1e4, and snode says so."""
import math

import snode

for lam in (100.0, 1e4):
    exact = -math.exp(-lam) or 0.0  # 0 at λ = 1e4 (underflow): the error is then absolute
    try:
        g = snode.gradient(snode.problem("w1", stiffness=lam), method="backsolve_adjoint",
                           integrator="dopri5", rtol=1e-8, atol=1e-60)
    except snode.Error as error:
        print(f"λ = {lam:g}: FAILS, the gradient raised {type(error).__name__}: {error}")
        continue
    d, kind = g.dtheta[0], "relative" if exact else "absolute"
    err = abs(d - exact) / (abs(exact) or 1.0)
    verdict = "reasonable" if math.isfinite(d) and err < 1e-4 and not g.flagged else "FAILS"
    flag = f"flagged: {g.diagnosis}" if g.flagged else "not flagged"
    print(f"λ = {lam:g}: dL/dλ = {d:.4e} (exact {exact:.4e}, {kind} error {err:.1e}): "
          f"{verdict}; {flag}")
