"""Load balance of a sweep on two workers: fixed chunks of 64 (what a sweep did before
:mod:`trajlen.balance`, and what ``--chunk-size 64`` still does) against the default units
(:func:`trajlen.balance.plan_units`: heaviest predicted first, shrinking towards the end). Run by
hand on an otherwise idle machine::

    python benchmarks/bench_balance.py --repeats 3

Workload: three committed-sample studies: Fig 2E (reference; 300 networks, a few of them costing
most of the study), λ_max vs σ_w² (reference; 15 networks, fewer than one chunk) and the static grid
(paper; 40 networks, fewer than one chunk). Each run solves every network of the study into a fresh
store with ``run_sweep(jobs=2)`` (the compiled kernel loaded from its cache: one untimed warm-up
sweep first). The two variants alternate, ``--repeats`` times; printed: each run's wall seconds
and, per study, the wall ratio fixed / default as median [min, max] over the repeats, and whether
the two variants' rows are identical (timings aside).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT = ["fig2e:reference", "lyap_sigma:reference", "static_grid:paper"]


def study_tasks(name: str, semantics: str) -> list:
    from studies import BY_NAME, COMMITTED_SAMPLES

    n = COMMITTED_SAMPLES.get(name)
    n = n.get(semantics) if isinstance(n, dict) else n
    return BY_NAME[name].tasks(semantics, samples=n)


def timed(tasks, chunk_size: int | None):
    from trajlen.driver import run_sweep

    with tempfile.TemporaryDirectory(prefix="trajlen-balance-") as d:
        t0 = time.perf_counter()
        res = run_sweep(tasks, Path(d) / "s", jobs=2, chunk_size=chunk_size, progress=False)
        return time.perf_counter() - t0, res.table.drop(columns="wall_s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--studies", nargs="+", default=DEFAULT, metavar="NAME:SEMANTICS")
    args = p.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}", flush=True)
    work = [(s, study_tasks(*s.split(":"))) for s in args.studies]
    timed(work[0][1][:4], None)  # the kernel from its cache, the worker pool's first start
    walls = {s: {"fixed": [], "default": []} for s, _ in work}
    same = {s: True for s, _ in work}
    for r in range(args.repeats):
        for s, tasks in work:
            order = [("fixed", 64), ("default", None)]
            if r % 2:
                order.reverse()
            tables = {}
            for label, size in order:
                wall, tables[label] = timed(tasks, size)
                walls[s][label].append(wall)
                print(f"repeat {r}: {s:24s} {label:8s} {len(tasks):4d} networks {wall:7.1f} s wall",
                      flush=True)
            same[s] &= tables["fixed"].equals(tables["default"])
    print(f"load average after: {os.getloadavg()}")
    for s, _ in work:
        ratio = [f / b for f, b in zip(walls[s]["fixed"], walls[s]["default"])]
        print(f"{s:24s} fixed {statistics.median(walls[s]['fixed']):6.1f} s, default "
              f"{statistics.median(walls[s]['default']):6.1f} s (medians); fixed / default "
              f"{statistics.median(ratio):.2f} [{min(ratio):.2f}, {max(ratio):.2f}]; "
              f"rows identical: {same[s]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
