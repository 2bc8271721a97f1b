"""End-to-end sweep wall time, ``--jobs 1`` against ``--jobs 2``: the command a user types, from process
start to exit (imports, task building, workers, shard writes, consolidation, the summary). Run by
hand on an otherwise idle machine::

    python benchmarks/bench_sweep_e2e.py --repeats 3

Workload: Table 2's grid — reference semantics (the sweep's default), k = 100, N-ODE + CT-RNN + LTC ×
tanh, sigmoid, relu, hard-tanh, ``--samples`` networks each (default 100: 1 200 networks), the numba
kernel (loaded from its cache: one untimed run first), ``--perturb 0``. Each run writes a fresh
store. The two commands alternate, ``--repeats`` times; printed: each run's wall and CPU seconds
(the process and its children), and the per-repeat wall ratio jobs 1 / jobs 2 as median [min, max].
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def command(jobs: int, samples: int, out: Path) -> list[str]:
    return [sys.executable, "-m", "trajlen.sweep", "--activation", "tanh", "sigmoid", "relu", "hardtanh",
            "--samples", str(samples), "--jobs", str(jobs), "--perturb", "0", "--quiet", "--out", str(out)]


def run(jobs: int, samples: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="trajlen-e2e-") as d:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(command(jobs, samples, Path(d) / "s"), cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.2f}; {12 * args.samples} networks")
    run(1, 2)   # compile or load the kernel, warm the file cache: untimed
    walls = {1: [], 2: []}
    for r in range(args.repeats):
        for jobs in ((1, 2) if r % 2 == 0 else (2, 1)):
            wall, cpu = run(jobs, args.samples)
            walls[jobs].append(wall)
            print(f"repeat {r + 1}: --jobs {jobs}: {wall:6.1f} s wall, {cpu:6.1f} CPU-s", flush=True)
    ratio = sorted(a / b for a, b in zip(walls[1], walls[2]))
    print(f"--jobs 1 / --jobs 2 wall: median {statistics.median(ratio):.2f}× [{ratio[0]:.2f}, "
          f"{ratio[-1]:.2f}]; load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
