"""Sweep throughput (networks/s): one process, two local joblib workers, a dask LocalCluster of two
worker processes — side by side on one fixed workload, written to BENCHMARKS.md.

Run by hand (not part of the tests)::

    python benchmarks/bench_sweep.py                 # ~3 min on 2 cores
    python benchmarks/bench_sweep.py --samples 4 --repeats 1 --no-write   # a quick look

Workload: reference semantics, width k = 100, tanh, N-ODE + CT-RNN + LTC, ``--samples`` networks each
(default 10: 30 networks), scipy RK45, default chunking. Every mode writes to a fresh store; worker
pools are started and warmed up (trajlen imported) before the clock starts, so the figures compare
steady-state throughput, and pool start-up is reported separately. Modes run interleaved, ``--repeats``
times, and the best (least disturbed) time of each is reported next to the median: on a machine shared
with other work the spread is part of the result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trajlen.driver import run_sweep  # noqa: E402
from trajlen.tasks import build_tasks  # noqa: E402

SECTION = "## Sweep throughput"


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        if m:
            return m.group(1).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def workload(samples: int, backend: str):
    return build_tasks({"model": ["node", "ctrnn", "ltc"], "activation": ["tanh"], "width": [100],
                        "semantics": ["reference"], "backend": [backend]}, samples, 0)


def timed(tasks, **kw) -> float:
    with tempfile.TemporaryDirectory(prefix="trajlen-bench-") as d:
        start = time.perf_counter()
        res = run_sweep(tasks, Path(d) / "s", progress=False, **kw)
        wall = time.perf_counter() - start
    assert res.n_computed == len(tasks) and (res.table["status"] == "ok").all()
    return wall


def autogroup_note() -> str:
    """Why two workers may not help on a shared machine (Linux autogroup scheduling)."""
    try:
        on = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return ""
    if not on:
        return ""
    return ("\nLinux autogroup scheduling is on here: the kernel shares CPU time fairly between "
            "*sessions*, not processes. A sweep — driver and all its workers — is one session, so "
            "while other sessions keep both cores busy it gets one session's share however many "
            "workers it starts; the ratios above then measure contention, not the sweep. On an "
            "otherwise idle machine the two-worker ratio is bounded by the largest chunk (an LTC "
            "chunk can cost several N-ODE chunks) and by shard writing in the driver.")


def write_section(path: Path, body: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{SECTION}\n\n{body.strip()}\n"
    if SECTION in text:
        start = text.index(SECTION)
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + block + (text[nxt:] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=None,
                    help="networks per model (default: 10 on scipy, 200 on numba)")
    ap.add_argument("--backend", default="numba", choices=["scipy", "numba"],
                    help="solver backend of every network (numba: the default 'auto' of a sweep)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()

    from distributed import Client, LocalCluster

    if args.samples is None:
        args.samples = 200 if args.backend == "numba" else 10
    tasks = workload(args.samples, args.backend)
    warm = workload(1, args.backend)[:2]
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    timed(warm, jobs=2, chunk_size=1)  # start and warm the loky pool (reused by later jobs=2 runs)
    loky_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    timed(warm, scheduler=client, chunk_size=1)
    dask_start = time.perf_counter() - t0
    timed(warm, jobs=1)  # imports and caches of this process

    modes = {"--jobs 1": dict(jobs=1), "--jobs 2": dict(jobs=2),
             "dask LocalCluster, 2 workers": dict(scheduler=client)}
    walls: dict[str, list[float]] = {m: [] for m in modes}
    for rep in range(args.repeats):
        for name, kw in modes.items():
            w = timed(tasks, chunk_size=args.chunk_size, **kw)
            walls[name].append(w)
            print(f"repeat {rep + 1}: {name:30s} {w:7.2f} s  {len(tasks) / w:6.2f} networks/s",
                  flush=True)
    client.close()
    cluster.close()
    load_after = os.getloadavg()

    n = len(tasks)
    base_best = n / min(walls["--jobs 1"])
    base_med = n / statistics.median(walls["--jobs 1"])
    rows = []
    for name, ws in walls.items():
        best, med = n / min(ws), n / statistics.median(ws)
        rows.append(f"| {name} | {best:.2f} | {best / base_best:.2f}× | {med:.2f} | "
                    f"{med / base_med:.2f}× | {', '.join(f'{w:.1f}' for w in ws)} |")
    ratio2 = (n / min(walls["--jobs 2"])) / base_best
    ratiod = (n / min(walls["dask LocalCluster, 2 workers"])) / base_best
    cs = args.chunk_size or (64 if args.backend == "numba" else 4)
    ctrl = "MATLAB" if args.backend == "numba" else "scipy"
    met2, metd = ("met" if r >= 1.8 else "missed" for r in (ratio2, ratiod))
    # the load *after* includes this benchmark's own workers; only the load before says "shared"
    busy = load_before[0] > 1.0
    shared = (": **the machine was shared with other jobs while this ran**, so every figure is noisy "
              "and the parallel ones are pessimistic (a second worker only helps if a second core is "
              "free)") if busy else " (no other work on the machine)"
    body = f"""
Workload: {n} networks — reference semantics, k = 100, tanh, N-ODE + CT-RNN + LTC ({args.samples} each),
{args.backend} RK45 ({ctrl} controller, refine 4), chunk size {cs}, {args.repeats} interleaved repeats.
`python benchmarks/bench_sweep.py --backend {args.backend}`.
Machine: {cpu_model()}, {os.cpu_count()} cores; {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC;
trajlen run from the working tree. 1-minute load average {load_before[0]:.1f} before, {load_after[0]:.1f}
after, on {os.cpu_count()} cores{shared}.

| mode | networks/s (best) | vs --jobs 1 | networks/s (median) | vs --jobs 1 | wall times (s) |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Pool start-up, not in the figures above (the first sweep of a session pays it): local joblib
workers {loky_start:.1f} s, dask LocalCluster {dask_start:.1f} s (each worker imports trajlen, scipy
and scikit-learn).

Target ≥ 1.8× with two workers: local joblib workers {met2}
({ratio2:.2f}×, best of {args.repeats}); dask LocalCluster {metd} ({ratiod:.2f}×).{autogroup_note()}
"""
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", body)
        print(f"written to {ROOT / 'BENCHMARKS.md'} under '{SECTION}'")


if __name__ == "__main__":
    main()
