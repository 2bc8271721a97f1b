"""Benchmark: the kernel's layer product ``_pre`` (``out = u @ W + b``) against bit-identical variants.

Each variant computes every ``out[j]`` with the same additions in the same order as ``_pre`` (the
script checks the bits), so any of them could replace it without touching the solver fixture:

* ``padded8`` / ``padded16``: ``W``'s columns zero-padded to a multiple of 8 / 16 (no scalar
  remainder after the vector loop);
* ``halves``: each row's two halves in one loop (two independent addition chains per iteration);
* ``zmm``: ``_pre`` itself compiled with LLVM's 256-bit preference off (512-bit vectors on an
  AVX-512 CPU), which only a process-wide numba setting can do, so it runs in a subprocess with
  ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` set, alternating with one without.

In-process variants are interleaved repeat by repeat; the table gives variant / ``_pre`` time,
median [min, max] over the repeats. Usage: ``python benchmarks/bench_product.py --repeats 3``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from numba import njit

from trajlen.solve.compiled.field import _pre

WIDTHS = (25, 50, 100, 200)


@njit(cache=False)
def _halves(u, W, k_in, b, out):
    k = W.shape[1]
    for j in range(k):
        out[j] = 0.0
    h = k // 2
    i = 0
    while i + 8 <= k_in:   # _pre's eight-row blocks, each row's two halves in one loop
        u0, u1, u2, u3, u4, u5, u6, u7 = u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], \
            u[i + 5], u[i + 6], u[i + 7]
        w0, w1, w2, w3, w4, w5, w6, w7 = W[i], W[i + 1], W[i + 2], W[i + 3], W[i + 4], W[i + 5], \
            W[i + 6], W[i + 7]
        for j in range(h):
            m = j + h
            a = ((((((((out[j] + u0 * w0[j]) + u1 * w1[j]) + u2 * w2[j]) + u3 * w3[j])
                     + u4 * w4[j]) + u5 * w5[j]) + u6 * w6[j]) + u7 * w7[j])
            c = ((((((((out[m] + u0 * w0[m]) + u1 * w1[m]) + u2 * w2[m]) + u3 * w3[m])
                     + u4 * w4[m]) + u5 * w5[m]) + u6 * w6[m]) + u7 * w7[m])
            out[j] = a
            out[m] = c
        for j in range(2 * h, k):
            out[j] = ((((((((out[j] + u0 * w0[j]) + u1 * w1[j]) + u2 * w2[j]) + u3 * w3[j])
                         + u4 * w4[j]) + u5 * w5[j]) + u6 * w6[j]) + u7 * w7[j])
        i += 8
    while i < k_in:
        ui = u[i]
        for j in range(k):
            out[j] += ui * W[i, j]
        i += 1
    for j in range(k):
        out[j] = out[j] + b[j]


def _looped(f):
    @njit(cache=False)
    def loop(u, W, k_in, b, out, n):
        s = 0.0
        for _ in range(n):
            f(u, W, k_in, b, out)
            s += out[0]
            u[0] = out[1] * 1e-3   # a dependency between calls, so none is skipped
        return s
    return loop


def _case(k: int):
    rng = np.random.default_rng(k)
    return rng.standard_normal((k, k)), rng.standard_normal(k), rng.standard_normal(k)


def _time(loop, u, W, k, b, out, n) -> tuple[float, np.ndarray]:
    uu = u.copy()
    t = time.perf_counter()
    loop(uu, W, k, b, out, n)
    return (time.perf_counter() - t) / n * 1e9, out[:k].copy()


def in_process(repeats: int) -> dict:
    """ns per call of ``_pre`` and each in-process variant, per width and repeat."""
    pre, halves = _looped(_pre), _looped(_halves)
    out = {}
    for k in WIDTHS:
        W, b, u = _case(k)
        ins = {"pre": (pre, W, b), "halves": (halves, W, b)}
        for pad in (8, 16):
            kp = -(-k // pad) * pad
            Wp, bp = np.zeros((k, kp)), np.zeros(kp)
            Wp[:, :k], bp[:k] = W, b
            ins[f"padded{pad}"] = (pre, Wp, bp)
        n = int(2e7 / (k * k)) + 1000
        times = {v: [] for v in ins}
        for _ in range(repeats + 1):   # the first round compiles and warms up
            ref = None
            for v, (loop, Wv, bv) in ins.items():
                dt, got = _time(loop, u, Wv, k, bv, np.empty(Wv.shape[1]), n)
                times[v].append(dt)
                ref = got if ref is None else ref
                if not np.array_equal(got, ref):
                    sys.exit(f"bench_product: {v} at k={k} is not bit-identical to _pre")
        out[k] = {v: t[1:] for v, t in times.items()}
    return out


def _child() -> None:
    res = {}
    for k in WIDTHS:
        W, b, u = _case(k)
        loop, o, n = _looped(_pre), np.empty(k), int(2e7 / (k * k)) + 1000
        _time(loop, u, W, k, b, o, 10)
        dt, got = _time(loop, u, W, k, b, o, n)
        res[k] = (dt, got.tobytes().hex())
    print(json.dumps(res))


def zmm(repeats: int) -> dict:
    """``_pre`` with and without 512-bit vectors, one subprocess each, alternating."""
    import llvmlite.binding as ll

    wide = dict(os.environ, NUMBA_CPU_NAME=ll.get_host_cpu_name(),
                NUMBA_CPU_FEATURES=ll.get_host_cpu_features().flatten() + ",-prefer-256-bit")
    runs = {"ymm": [], "zmm": []}
    for _ in range(repeats):
        for v, env in (("ymm", dict(os.environ)), ("zmm", wide)):
            p = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True,
                               capture_output=True, text=True)
            runs[v].append(json.loads(p.stdout))
    out = {}
    for k in WIDTHS:
        if any(r[str(k)][1] != runs["ymm"][0][str(k)][1] for r in runs["ymm"] + runs["zmm"]):
            sys.exit(f"bench_product: 512-bit _pre at k={k} is not bit-identical")
        out[k] = {"pre": [r[str(k)][0] for r in runs["ymm"]],
                  "zmm": [r[str(k)][0] for r in runs["zmm"]]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}")
    print("| variant | " + " | ".join(f"k = {k}" for k in WIDTHS) + " |")
    print("|---|" + "---|" * len(WIDTHS))
    for res in (in_process(args.repeats), zmm(args.repeats)):
        for v in [v for v in res[WIDTHS[0]] if v != "pre"]:
            cells = []
            for k in WIDTHS:
                r = np.array(res[k][v]) / np.array(res[k]["pre"])
                cells.append(f"{np.median(r):.2f} [{r.min():.2f}, {r.max():.2f}] "
                             f"({np.median(res[k]['pre']):.0f} ns)")
            print(f"| {v} / _pre | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
