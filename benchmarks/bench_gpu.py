"""The CUDA measurement (run by ``benchmarks/gpu_check.sh`` on a machine with a GPU): the Table 2
workload on ``--backend torch --device cuda`` in float64 and float32, against the compiled CPU
kernel on the same networks — throughput, agreement (steps, L, lengths), float32's accuracy cost,
and whether a network's row depends on its batch on CUDA.

    python benchmarks/bench_gpu.py --samples 20 --out gpu-report

Writes ``OUT/gpu_report.json`` and ``OUT/gpu_report.md``. Nothing here is asserted: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def _tasks(samples: int, **solver):
    from trajlen.tasks import build_tasks

    grid = dict(model=["node", "ctrnn", "ltc"], activation=["tanh", "sigmoid", "relu", "hardtanh"],
                width=[100], semantics=["reference"], **{k: [v] for k, v in solver.items()})
    return build_tasks(grid, samples, 0)


def _run(tasks):
    from trajlen.pipeline import run_tasks

    t0 = time.perf_counter()
    rows = run_tasks(tasks)
    return rows, time.perf_counter() - t0


def _agreement(a, b) -> dict:
    ok = [(x, y) for x, y in zip(a, b) if x["status"] == y["status"] == "ok"]
    same = sum(x["n_accepted"] == y["n_accepted"] and x["nfev"] == y["nfev"] for x, y in ok)
    rel = [abs(x["length"] - y["length"]) / abs(y["length"]) for x, y in ok if y["length"]]
    return {"pairs": len(ok), "same_steps": int(same), "length_rel_diff_median": float(np.median(rel)),
            "length_rel_diff_max": float(np.max(rel)),
            "L_mean": [float(np.mean([x["L"] for x, _ in ok])), float(np.mean([y["L"] for _, y in ok]))]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--out", default="gpu-report")
    args = ap.parse_args()
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rep: dict = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                 "torch": torch.__version__, "samples_per_cell": args.samples,
                 "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if not torch.cuda.is_available():
        rep["error"] = "no CUDA device visible to torch"
    else:
        cpu_rows, cpu_s = _run(_tasks(args.samples, backend="numba"))
        rep["cpu_numba_s"] = cpu_s
        for dtype in ("float64", "float32"):
            tasks = _tasks(args.samples, backend="torch", device="cuda", dtype=dtype)
            _run(tasks[:12])                          # CUDA context and kernels warm
            rows, wall = _run(tasks)
            rep[f"cuda_{dtype}"] = {"wall_s": wall, "networks_per_s": len(tasks) / wall,
                                    "vs_cpu_numba": _agreement(rows, cpu_rows)}
        tasks = _tasks(max(2, args.samples // 4), backend="torch", device="cuda")
        batch, _ = _run(tasks)
        alone = [r for t in tasks for r in _run([t])[0]]
        same = sum(a["n_accepted"] == b["n_accepted"] and a["length"] == b["length"]
                   for a, b in zip(batch, alone))
        rep["cuda_batch_invariance"] = {"networks": len(tasks), "identical_alone_and_batched": int(same)}
    (out / "gpu_report.json").write_text(json.dumps(rep, indent=1))
    lines = [f"# GPU check, {rep['date']}", "", f"device: {rep['device']}, torch {rep['torch']}", ""]
    lines += [f"- {k}: {json.dumps(v)}" for k, v in rep.items() if k not in ("date", "device", "torch")]
    (out / "gpu_report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
