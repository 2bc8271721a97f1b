"""Borrowed views: the kernel's arrays without numba's reference counting on the hot path.

An array numba receives from Python carries a *meminfo* (a reference count on the Python object), and
every view of it shares that count. numba increfs and decrefs it whenever a compiled function takes
an array as an argument, unpacks one from a tuple or slices it, and its refcount-pruning pass
removes those pairs only within a function. The kernel's loops call small functions (the stage sums,
the field, each layer's product) with the field's and the solver's arrays many times per step, and
each of those increments is an atomic instruction: measured with ``perf`` on an AVX-512 Xeon (k = 25,
RK45), ``NRT_incref``/``NRT_decref`` took 45 % of a solve's CPU time.

:func:`borrowed` returns the same arrays (same data, shape and strides) with a null meminfo, which
numba's ``NRT_incref``/``NRT_decref`` skip without an atomic operation (as for arrays from
``numba.carray``). The caller must keep the owners alive while the views are in use: each kernel
entry point borrows its own arguments, which Python holds for the whole call, and the work arrays it
allocates, which it holds until it returns; a borrowed view never leaves the call.
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

__all__ = ["borrowed"]


def _borrow_value(context, builder, ty, value):
    if isinstance(ty, types.Array):
        src = make_array(ty)(context, builder, value=value)
        view = make_array(ty)(context, builder)
        for field in ("parent", "nitems", "itemsize", "data", "shape", "strides"):
            setattr(view, field, getattr(src, field))
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        return view._getvalue()
    if isinstance(ty, types.BaseTuple):
        out = value
        for i, member in enumerate(ty):
            item = builder.extract_value(value, i)
            out = builder.insert_value(out, _borrow_value(context, builder, member, item), i)
        return out
    return value


@intrinsic
def borrowed(typingctx, x):
    """``x`` (an array, or a (named) tuple nesting arrays and scalars) with every array replaced by a
    view of the same memory that numba does not reference-count; compiled code only."""
    def codegen(context, builder, signature, args):
        return _borrow_value(context, builder, signature.args[0], args[0])
    return x(x), codegen
