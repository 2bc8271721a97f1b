"""Supplement — trajectory length vs the input step size δt.

The input is ``n_samples`` points of the circle, linearly interpolated (the original code's input),
with δt = 2π/(n_samples − 1) ≈ 0.2, 0.1, 0.02, 0.01, 0.001. L's denominator is n_samples (SPEC §2).
"""

import math

from trajlen.study import Study

from ._draw import boxes

#: n_samples giving input steps 2π/(n−1) ≈ 0.2, 0.1, 0.02, 0.01, 0.001.
N_SAMPLES = [32, 64, 315, 629, 6284]


def input_dt(samples):
    """The input step δt = 2π/(n_samples − 1), rounded to the value the supplement names."""
    return (2 * math.pi / (samples["n_samples"] - 1)).round(4)


STUDY = Study(
    name="supp_input_step",
    title="Supplement: trajectory length vs input step size (tanh, k=100, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh"], "input_kind": ["samples"],
          "n_samples": N_SAMPLES},
    samples=100,
    draw=boxes("supp_input_step", "input_dt",
               "input step δt = 2π/(N − 1) of the N = 32 … 6 284 input samples",
               numeric=True, logx=True, derive={"input_dt": input_dt},
               title="Supplement: length vs the input step size δt"),
    quick_grid={"width": [10], "n_samples": [32, 629]},
    notes="Both semantics use the sampled, interpolated input here (the paper semantics' exact circle "
          "has no step). The supplement does not name the activation; tanh is used.",
)
