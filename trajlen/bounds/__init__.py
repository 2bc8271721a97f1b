"""Pipeline stage 8 — bounds: Theorems 4–5 of the paper (and the authors' code variants), Raghu et al.
2017's static-network bound, user conjectures, and the mean-field theory of static networks (SPEC §4).

Everything here reads the results table; nothing is integrated again.

How σ_w, σ_b relate to the spec fields
---------------------------------------
The theorems assume weights ``~ N(0, σ_w²/k)`` and biases ``~ N(0, σ_b²)`` — σ_w, σ_b are *standard
deviations* of the un-scaled draws. A spec stores the *labels* ``sigma_w2, sigma_b2`` of the paper's
figures, and their meaning depends on ``weight_init``:

* ``weight_init="var_over_k"`` (``semantics="paper"``): weights have variance ``sigma_w2/k``, biases
  variance ``sigma_b2``, so **σ_w = sqrt(sigma_w2), σ_b = sqrt(sigma_b2)** exactly as in the theorems.
* ``weight_init="std_label"`` (``semantics="reference"``, the authors' code): weights have *standard
  deviation* ``s = sigma_w2`` with no 1/k, biases std ``s_b = sigma_b2``. These draws are *not* of the
  theorems' form for any fixed σ_w; the σ_w that gives the same weight variance is
  **σ_w = sigma_w2·√k** (it grows with the width), and **σ_b = sigma_b2**. The theorems' assumption is
  then violated in spirit (σ_w depends on k) and every report says so.

:func:`theorem_columns` computes σ_w, σ_b per row under one of two conventions: ``"theorem"`` (the
default: the σ of the draws actually made, as just described) or ``"label"`` (σ_w = sqrt(sigma_w2),
σ_b = sqrt(sigma_b2) whatever the initialisation — how the authors' commented bound reads the labels).

The authors' commented bound (``main.m``) uses the labels directly: its ``sigma`` is ``sigma_w2`` and
its ``sigma_b`` is ``sigma_b2`` (the numbers it used as *standard deviations* to draw the weights, but
which ``sqrt(k*sigma)`` treats as a variance). The ``code_*`` bounds below take ``sigma_w2, sigma_b2``
for exactly that reason.

All bounds are lower bounds "up to O(·)": a hidden constant. Reports give ratios measured/bound and
compare growth exponents, never only "≥ with constant 1". A row whose bound is NaN, ±inf, zero or
negative gets no verdict: it is counted as *undefined* (:func:`check_bound`).

Conjectures are data
--------------------
``bound=`` / ``--bound`` is ``"auto"``, a name in :data:`BOUNDS` or a formula
(:func:`compile_formula`: an AST whitelist, evaluated on copies of the columns); it never imports or
runs code. A Python function as a bound is a separate opt-in that *does* run code:
``bound_function="pkg.mod:fn"`` / ``--bound-function`` (:func:`resolve_bound_function`; never from
the current directory unless given as a file path).
"""

from .check import (
    AXES,
    CONFIG_COLUMNS,
    BoundReport,
    bound_values,
    check_bound,
    fit_growth,
    format_report,
    recurrent_weights_zero,
    undefined_reason,
)
from .cli import main
from .columns import DERIVED_COLUMNS, evaluate_bound, theorem_columns
from .formula import (
    FORMULA_ARITY,
    FORMULA_FUNCTIONS,
    Formula,
    FormulaError,
    compile_formula,
    resolve_bound,
)
from .plot import plot_report
from .plugin import resolve_bound_function
from .theorems import (
    AUTO_BOUNDS,
    BOUNDS,
    CODE_L_INPUT,
    Bound,
    beta,
    code_ctrnn,
    code_ltc,
    code_node,
    raghu_hardtanh,
    raghu_relu,
    thm4_ctrnn,
    thm4_node,
    thm5_ltc,
)

__all__ = [
    "beta", "thm4_node", "thm4_ctrnn", "thm5_ltc", "code_node", "code_ctrnn", "code_ltc",
    "raghu_hardtanh", "raghu_relu", "BOUNDS", "AUTO_BOUNDS", "Bound", "CODE_L_INPUT", "resolve_bound",
    "resolve_bound_function", "compile_formula", "Formula", "FormulaError", "FORMULA_FUNCTIONS",
    "FORMULA_ARITY", "theorem_columns", "undefined_reason",
    "evaluate_bound", "DERIVED_COLUMNS", "check_bound", "bound_values", "fit_growth", "BoundReport",
    "format_report", "plot_report", "recurrent_weights_zero", "AXES", "CONFIG_COLUMNS", "main",
]
