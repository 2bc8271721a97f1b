"""What vector transcendental functions would buy the numba kernel, and what they would do to its bits.
Run by hand on an x86-64 Linux machine with AVX-512 and glibc ≥ 2.35 (libmvec with ``tanh``)::

    python benchmarks/bench_vector_math.py --repeats 3

The kernel calls libm's scalar ``tanh``/``exp`` (numba's ``math.tanh``); numpy's own float64 loops are
SIMD on AVX-512. glibc's libmvec exports 8-wide AVX-512 variants (``_ZGVeN8v_tanh``, ``_ZGVeN8v_exp``)
that a numba intrinsic can call on a row of pre-activations. Printed: ns per element for libm scalar,
libmvec 8-wide (from compiled loops over a row of k values) and numpy's ufunc on the same row, median
over the repeats; and on 10⁶ values ~ N(0, 3²) how often and by how many ULP each pair of
implementations differs. An experiment for issue 14, not a kernel change: using libmvec would change
the kernel's last bits wherever it differs from libm.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import llvmlite.binding as llb
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _vector_call(symbol: str):
    """A numba intrinsic ``f(src, dst, i)``: ``dst[i:i+8] = symbol(src[i:i+8])`` (8 doubles, zmm ABI)."""
    @intrinsic
    def call8(typingctx, src, dst, i):
        def codegen(context, builder, signature, args):
            s = context.make_array(signature.args[0])(context, builder, args[0])
            d = context.make_array(signature.args[1])(context, builder, args[1])
            vty = ir.VectorType(ir.DoubleType(), 8)
            sp = builder.bitcast(builder.gep(s.data, [args[2]]), vty.as_pointer())
            dp = builder.bitcast(builder.gep(d.data, [args[2]]), vty.as_pointer())
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), symbol)
            builder.store(builder.call(fn, [builder.load(sp, align=8)]), dp, align=8)
            return context.get_dummy_value()
        return types.void(src, dst, i), codegen
    return call8


def _kernels(name: str):
    scalar_fn = {"tanh": math.tanh, "exp": math.exp}[name]
    call8 = _vector_call(f"_ZGVeN8v_{name}")

    @numba.njit
    def scalar(x, out):
        for j in range(x.shape[0]):
            out[j] = scalar_fn(x[j])

    @numba.njit
    def vector(x, out):
        i = 0
        while i + 8 <= x.shape[0]:
            call8(x, out, i)
            i += 8
        for j in range(i, x.shape[0]):
            out[j] = scalar_fn(x[j])

    return scalar, vector


@numba.njit
def _loop(f, reps, x, out):
    s = 0.0
    for r in range(reps):
        f(x, out)
        s += out[1]
    return s


def _ulp(a, b):
    return float((np.abs(a - b) / np.spacing(np.abs(a))).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    llb.load_library_permanently("libmvec.so.1")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}; "
          f"numba {numba.__version__}, numpy {np.__version__}")
    print("| function | k | libm scalar ns/element | libmvec 8-wide | numpy ufunc | "
          "libmvec ≠ libm (share, max ULP) | numpy ≠ libm | numpy ≠ libmvec |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    big = rng.standard_normal(1_000_000) * 3.0
    ufunc = {"tanh": np.tanh, "exp": np.exp}
    for name in ("tanh", "exp"):
        scalar, vector = _kernels(name)
        a, b, c = np.empty_like(big), np.empty_like(big), ufunc[name](big)
        scalar(big, a)
        vector(big, b)
        bits = [f"{np.mean(p != q):.3f}, {_ulp(p, q):.0f}" for p, q in ((a, b), (a, c), (b, c))]
        for k in (24, 104):
            x = rng.standard_normal(k) * 2.0
            out = np.empty(k)
            reps = 20_000_000 // k
            _loop(scalar, 10, x, out)
            _loop(vector, 10, x, out)
            t = {"s": [], "v": [], "n": []}
            for _ in range(args.repeats):
                for key, f in (("s", scalar), ("v", vector)):
                    t0 = time.process_time()
                    _loop(f, reps, x, out)
                    t[key].append((time.process_time() - t0) / reps / k)
                t0 = time.process_time()
                for _r in range(reps // 50):
                    ufunc[name](x, out=out)
                t["n"].append((time.process_time() - t0) / (reps // 50) / k)
            med = {key: statistics.median(v) * 1e9 for key, v in t.items()}
            print(f"| {name} | {k} | {med['s']:.2f} | {med['v']:.2f} | {med['n']:.2f} | "
                  f"{bits[0]} | {bits[1]} | {bits[2]} |")


if __name__ == "__main__":
    main()
