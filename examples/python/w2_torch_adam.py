"""W2: a neural ODE (MLP 2-32-32-2, tanh) fitted to Lotka-Volterra data with torch.optim.Adam.

The ODE solve and its gradient are snode's, behind snode.torch.ode_loss; the parameters and the
optimiser are torch's. The configuration is the lotka_volterra app's W2 (--mode neural): the
initial weights w2_init_weights.json, the 101 noise-free observations on [0, 10] of
w2_truth.json, MSE loss, Adam lr 1e-2, 300 iterations, bptt/dopri5 at rtol 1e-6, atol 1e-8 with
interpolated outputs. The loss falls from 6.74 to about 3.0.

--peer torchdiffeq trains the same network the same way with torchdiffeq's odeint (dopri5,
backpropagation through the solver) and prints the time per iteration of both. torchdiffeq is
not a dependency of snode; it is imported only then.

Everything runs on one thread (torch.set_num_threads(1); snode's solves are sequential).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch

import snode
import snode.torch

REPO = Path(__file__).resolve().parents[2]
LAYERS = ("0", "2", "4")  # the nn.Sequential indices of the three nn.Linear layers
WIDTHS = [2, 32, 32, 2]
Z0 = [1.0, 1.0]


def default_data_dir() -> Path:
    """$SNODE_DATA_DIR/w2 when set, else ../shared/data/w2 from the repository root."""
    root = os.environ.get("SNODE_DATA_DIR")
    return Path(root) / "w2" if root else REPO.parent / "shared" / "data" / "w2"


def load_data(data_dir: Path):
    """The observation times (K,), the targets (K, 2) and the PyTorch state dict of the MLP."""
    truth = json.loads((data_dir / "w2_truth.json").read_text())
    weights = json.loads((data_dir / "w2_init_weights.json").read_text())["params"]
    times = np.asarray(truth["t"], dtype=np.float64)
    targets = np.ascontiguousarray(truth["xy"], dtype=np.float64)
    state = {k: torch.tensor(v, dtype=torch.float64) for k, v in weights.items()}
    return times, targets, state


def flat_theta(state: Dict[str, torch.Tensor]) -> np.ndarray:
    """snode's Mlp layout: per layer the weight row-major (as nn.Linear.weight), then the bias."""
    parts = []
    for layer in LAYERS:
        parts += [state[f"{layer}.weight"].reshape(-1), state[f"{layer}.bias"]]
    return torch.cat(parts).numpy()


Step = Callable[[], float]  # one training iteration (loss, backward, Adam update) -> the loss


def snode_trainer(args, times, targets, state) -> Step:
    """One iteration of the fit through snode.torch.ode_loss."""
    field = snode.Mlp(WIDTHS, activation="tanh")
    theta0 = flat_theta(state)
    problem = snode.Problem(field, np.array(Z0), theta0, times)
    loss = snode.MseLoss(targets)
    theta = torch.nn.Parameter(torch.from_numpy(theta0.copy()))
    optimizer = torch.optim.Adam([theta], lr=args.lr)
    options = dict(method=args.method, integrator=args.integrator, rtol=args.rtol,
                   atol=args.atol, interpolate_outputs=args.outputs == "interpolate")

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        value = snode.torch.ode_loss(theta, None, problem, loss, **options)
        value.backward()
        optimizer.step()
        return value.item()

    return step


def import_torchdiffeq() -> Callable:
    """torchdiffeq's odeint, or exit with a message: it is an optional peer, not a dependency."""
    try:
        from torchdiffeq import odeint
    except ImportError as error:
        sys.exit(f"--peer torchdiffeq: cannot import torchdiffeq ({error}); install it or put "
                 "its source directory on PYTHONPATH (snode itself does not need it)")
    return odeint


def torchdiffeq_trainer(args, times, targets, state) -> Step:
    """The same iteration with torchdiffeq's dopri5, backpropagating through the solver."""
    odeint = import_torchdiffeq()
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32),
                              torch.nn.Tanh(), torch.nn.Linear(32, 2)).double()
    net.load_state_dict(state)
    z0 = torch.tensor(Z0, dtype=torch.float64)
    t = torch.from_numpy(times)
    target = torch.from_numpy(targets)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)

    def field(_t, z):
        return net(z)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        states = odeint(field, z0, t, rtol=args.rtol, atol=args.atol, method="dopri5")
        value = torch.mean((states - target) ** 2)
        value.backward()
        optimizer.step()
        return value.item()

    return step


def train(step: Step, iterations: int, label: str, verbose: bool) -> Dict[str, float]:
    """Runs the iterations; the loss every 50 and the mean/median times per iteration."""
    walls: List[float] = []
    cpus: List[float] = []
    losses: List[float] = []
    for _ in range(iterations):
        wall, cpu = time.perf_counter(), time.process_time()
        losses.append(step())
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    if verbose:
        shown = sorted(set(range(0, iterations, 50)) | {iterations - 1})
        print(f"{label}: loss " + ", ".join(f"{i}: {losses[i]:.4f}" for i in shown))
    return {"wall": statistics.fmean(walls), "cpu": statistics.fmean(cpus),
            "median": statistics.median(walls), "first": losses[0], "last": losses[-1]}


def run(name: str, make: Callable[[], Step], args) -> Dict[str, float]:
    """args.repeats training runs from the initial weights; medians over them."""
    runs = [train(make(), args.iterations, name, verbose=(r == 0)) for r in range(args.repeats)]
    result = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    note = f" (medians of {args.repeats} runs)" if args.repeats > 1 else ""
    print(f"{name}: loss {result['first']:.4f} -> {result['last']:.4f}; per iteration "
          f"mean wall {result['wall'] * 1e3:.3f} ms, mean CPU {result['cpu'] * 1e3:.3f} ms, "
          f"median wall {result['median'] * 1e3:.3f} ms{note}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="directory of w2_truth.json and w2_init_weights.json "
                        "(default: $SNODE_DATA_DIR/w2, else ../shared/data/w2 from the repository)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--method", default="bptt", help="snode gradient method")
    parser.add_argument("--integrator", default="dopri5", help="snode integrator")
    parser.add_argument("--outputs", choices=("interpolate", "stop"), default="interpolate")
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--atol", type=float, default=1e-8)
    parser.add_argument("--bench", action="store_true", help="3 runs each, medians")
    parser.add_argument("--peer", choices=("torchdiffeq",), help="also train with this library")
    args = parser.parse_args()
    if args.iterations < 1:
        parser.error("--iterations must be positive")
    args.repeats = 3 if args.bench else 1
    if not (args.data_dir / "w2_truth.json").is_file():
        sys.exit(f"W2 data not found in {args.data_dir} (give --data-dir or SNODE_DATA_DIR)")

    if args.peer == "torchdiffeq":
        import_torchdiffeq()  # before any work
    torch.set_num_threads(1)
    times, targets, state = load_data(args.data_dir)
    print(f"W2: MLP 2-32-32-2 tanh ({flat_theta(state).size} parameters), {len(times)} "
          f"observations, Adam lr {args.lr:g}, {args.iterations} iterations, rtol {args.rtol:g} "
          f"atol {args.atol:g}, one thread")
    ours = run(f"snode.torch {args.method}/{args.integrator} outputs={args.outputs}",
               lambda: snode_trainer(args, times, targets, state), args)
    if args.peer == "torchdiffeq":
        peer = run("torchdiffeq dopri5 (backprop through the solver)",
                   lambda: torchdiffeq_trainer(args, times, targets, state), args)
        print(f"torchdiffeq / snode.torch time per iteration: mean wall "
              f"{peer['wall'] / ours['wall']:.1f}x, mean CPU {peer['cpu'] / ours['cpu']:.1f}x")


if __name__ == "__main__":
    main()
