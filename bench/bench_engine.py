"""Benchmark the numpy engine against PyTorch CPU autograd on the article's 2-3-2 network.

Both sides train the identical network on the identical numbers: the default
:class:`app.engine.Architecture` (2-3-2, sigmoid hidden and output units, L2 loss
0.5·Σ(y − t)², mean over a batch of one), parameters from ``init_parameters(arch, seed=0)``,
input x = [0.05, 0.10], target t = [0.01, 0.99], learning rate 0.5, biases trained.

Figures reported for each side: the median time of one full forward + backward + update step
(single steps timed one by one after a warm-up) and the total time of 10,000 steps. After the
10,000 steps both sides must hold the same weights and biases (max |difference| < 1e-9).

Run from the repository root (needs the ``bench`` extra: ``pip install -e '.[bench]'``)::

    python -m bench.bench_engine            # the comparison
    python -m bench.bench_engine --profile  # and a cProfile of the engine's train_step
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app import engine

try:
    import torch
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    if exc.name is None or not exc.name.startswith("torch"):
        raise
    sys.exit(
        "bench_engine: PyTorch is not installed, so there is nothing to compare the engine with.\n"
        "Install the benchmark extra from the repository root:  pip install -e '.[bench]'"
    )

INPUT = (0.05, 0.10)
TARGET = (0.01, 0.99)
LEARNING_RATE = 0.5
SEED = 0
WARMUP_STEPS = 200
TIMED_STEPS = 2_000
TOTAL_STEPS = 10_000
#: The engine should be at least this many times faster than PyTorch per step.
TARGET_SPEEDUP = 5.0
#: Largest max |difference| allowed between the two sides' parameters after TOTAL_STEPS steps.
TOLERANCE = 1e-9

Step = Callable[[], None]


# --------------------------------------------------------------------------------------------
# The two trainers
# --------------------------------------------------------------------------------------------


class EngineTrainer:
    """Training through app.engine.train_step, one sample, biases trained."""

    def __init__(self, arch: engine.Architecture, params: engine.Parameters) -> None:
        self.arch = arch
        self.params = params.copy()
        self.inputs: engine.Array = np.array(INPUT, dtype=np.float64)
        self.targets: engine.Array = np.array(TARGET, dtype=np.float64)

    def step(self) -> None:
        self.params, _ = engine.train_step(self.arch, self.params, self.inputs, self.targets, LEARNING_RATE)

    def parameters(self) -> list[engine.Array]:
        return [*self.params.weights, *self.params.biases]

    def loss(self) -> float:
        return engine.mean_loss(self.arch, self.params, self.inputs, self.targets)


class TorchTrainer:
    """The same network in PyTorch: float64 leaf tensors, a = h @ w + b, autograd, plain SGD."""

    def __init__(self, params: engine.Parameters) -> None:
        self.weights = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in params.weights]
        self.biases = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in params.biases]
        self.layers = list(zip(self.weights, self.biases, strict=True))
        self.all = [*self.weights, *self.biases]
        self.inputs = torch.tensor([INPUT], dtype=torch.float64)
        self.targets = torch.tensor([TARGET], dtype=torch.float64)

    def _loss(self) -> torch.Tensor:
        h = self.inputs
        for w, b in self.layers:
            h = torch.sigmoid(h @ w + b)
        return 0.5 * ((h - self.targets) ** 2).sum()

    def step(self) -> None:
        self._loss().backward()  # type: ignore[no-untyped-call, unused-ignore]
        with torch.no_grad():
            for p in self.all:
                grad = p.grad
                assert grad is not None
                p -= LEARNING_RATE * grad
                grad.zero_()

    def parameters(self) -> list[engine.Array]:
        return [p.detach().numpy().copy() for p in self.all]

    def loss(self) -> float:
        with torch.no_grad():
            return float(self._loss().item())


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def median_step_us(step: Step, warmup: int = WARMUP_STEPS, repetitions: int = TIMED_STEPS) -> float:
    """Median wall time of one call of ``step``, in microseconds, each call timed on its own."""
    for _ in range(warmup):
        step()
    clock = time.perf_counter_ns
    samples: list[int] = []
    for _ in range(repetitions):
        start = clock()
        step()
        samples.append(clock() - start)
    return statistics.median(samples) / 1_000.0


def total_seconds(step: Step, steps: int = TOTAL_STEPS) -> float:
    """Wall time of ``steps`` consecutive calls of ``step``, in seconds."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def max_abs_difference(a: Sequence[engine.Array], b: Sequence[engine.Array]) -> float:
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


def cpu_model() -> str:
    """The CPU's model name: platform.processor() is often empty on Linux, so read /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_info() -> list[tuple[str, str]]:
    return [
        ("python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("numpy", np.__version__),
        ("torch", str(torch.__version__)),
        ("platform", platform.platform()),
        ("processor", platform.processor() or "(empty)"),
        ("machine", platform.machine()),
        ("cpu model", cpu_model()),
        ("os.cpu_count()", str(os.cpu_count())),
        ("load average", load_average()),
    ]


def load_average() -> str:
    """1-, 5- and 15-minute load averages: a busy machine makes every figure here slower and noisier."""
    if not hasattr(os, "getloadavg"):
        return "unavailable"
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def profile_engine(arch: engine.Architecture, params: engine.Parameters, steps: int) -> None:
    """cProfile of ``steps`` engine steps, the top functions by own time and by cumulative time."""
    trainer = EngineTrainer(arch, params)
    profiler = cProfile.Profile()
    profiler.runcall(total_seconds, trainer.step, steps)
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    print(f"\ncProfile of {steps:,} engine steps (times include the profiler's own overhead)")
    stats.sort_stats(pstats.SortKey.TIME).print_stats(25)
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(25)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the engine's steps")
    parser.add_argument(
        "--skip-default-threads",
        action="store_true",
        help="do not also time PyTorch with its default number of threads",
    )
    args = parser.parse_args(argv)

    default_threads = torch.get_num_threads()
    arch = engine.Architecture()
    initial = engine.init_parameters(arch, seed=SEED)

    print("Backprop Visualizer: engine vs PyTorch CPU autograd")
    print("=" * 72)
    for key, value in machine_info():
        print(f"{key:>16}: {value}")
    print(
        f"\nnetwork {'-'.join(map(str, arch.layers))}, {arch.activation} hidden, "
        f"{arch.output_activation} output, {arch.loss} loss; init_parameters(seed={SEED}); "
        f"x={list(INPUT)}, t={list(TARGET)}, lr={LEARNING_RATE}, biases trained, float64"
    )
    print(
        f"per-step median: {TIMED_STEPS:,} single steps timed one by one after {WARMUP_STEPS} warm-up steps;"
        f"\ntotal: {TOTAL_STEPS:,} consecutive steps from the initial parameters"
    )

    # The engine: single steps through train_step, and the same steps through run_steps(), the
    # engine's multi-step call (it keeps a single sample's plain floats between steps and returns
    # bit-identical weights: tests/test_engine.py checks that).
    engine_median = median_step_us(EngineTrainer(arch, initial).step)
    engine_run = EngineTrainer(arch, initial)
    engine_total = total_seconds(engine_run.step)
    inputs, targets = np.array(INPUT), np.array(TARGET)
    start = time.perf_counter()
    trained, _ = engine.run_steps(arch, initial, inputs, targets, LEARNING_RATE, TOTAL_STEPS)
    train_total = time.perf_counter() - start
    if max_abs_difference([*trained.weights, *trained.biases], engine_run.parameters()) != 0.0:
        raise AssertionError("engine.run_steps and repeated engine.train_step disagree")

    # PyTorch, 1 thread (the headline figure).
    torch.set_num_threads(1)
    torch_median = median_step_us(TorchTrainer(initial).step)
    torch_run = TorchTrainer(initial)
    torch_total = total_seconds(torch_run.step)
    print(f"PyTorch: torch.set_num_threads(1) (default on this machine: {default_threads} threads)")

    difference = max_abs_difference(engine_run.parameters(), torch_run.parameters())
    moved = max_abs_difference(engine_run.parameters(), [*initial.weights, *initial.biases])
    print(
        f"\nafter {TOTAL_STEPS:,} steps: max |engine - PyTorch| over all weights and biases"
        f" = {difference:.3e} (tolerance {TOLERANCE:g}); largest change of a parameter = {moved:.3f}"
    )
    print(
        f"loss after {TOTAL_STEPS:,} steps: engine {engine_run.loss():.15e}, PyTorch {torch_run.loss():.15e}"
    )
    if not difference < TOLERANCE:
        raise AssertionError(
            f"the engine and PyTorch disagree after training: {difference:.3e} >= {TOLERANCE}"
        )

    speedup_step = torch_median / engine_median
    speedup_total = torch_total / engine_total
    rows = [
        ("engine (app.engine)", f"{engine_median:.1f}", f"{engine_total:.3f}"),
        ("engine, run_steps() in one call", "", f"{train_total:.3f}"),
        ("PyTorch, 1 thread", f"{torch_median:.1f}", f"{torch_total:.3f}"),
        ("speed-up (PyTorch / engine)", f"{speedup_step:.2f}×", f"{speedup_total:.2f}×"),
        ("speed-up, run_steps()", "", f"{torch_total / train_total:.2f}×"),
    ]
    header = ("", "median per step (µs)", f"{TOTAL_STEPS:,} steps (s)")
    print(f"\n{header[0]:<28} {header[1]:>22} {header[2]:>18}")
    print("-" * 70)
    for name, median, total in rows:
        print(f"{name:<28} {median:>22} {total:>18}")

    if not args.skip_default_threads and default_threads != 1:
        torch.set_num_threads(default_threads)
        threaded_median = median_step_us(TorchTrainer(initial).step)
        threaded_run = TorchTrainer(initial)
        threaded_total = total_seconds(threaded_run.step)
        torch.set_num_threads(1)
        threaded_difference = max_abs_difference(engine_run.parameters(), threaded_run.parameters())
        print(
            f"{f'(PyTorch, {default_threads} threads)':<28} {threaded_median:>22.1f} {threaded_total:>18.3f}"
            f"   max |diff| {threaded_difference:.1e}"
        )

    met = speedup_step >= TARGET_SPEEDUP
    print(
        f"\ntarget: engine at least {TARGET_SPEEDUP:g}× faster than PyTorch (median per step, 1 thread): "
        f"{'MET' if met else 'NOT MET'} ({speedup_step:.2f}×)"
    )

    if args.profile:
        profile_engine(arch, initial, TOTAL_STEPS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
