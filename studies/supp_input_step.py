"""Supplement — trajectory length vs the input step size δt.

The input is ``n_samples`` points of the circle, linearly interpolated (the original code's input),
with δt = 2π/(n_samples − 1) ≈ 0.2, 0.1, 0.02, 0.01, 0.001. L's denominator is n_samples (SPEC §2).
"""

from trajlen.study import Study

from ._draw import boxes

#: n_samples giving input steps 2π/(n−1) ≈ 0.2, 0.1, 0.02, 0.01, 0.001.
N_SAMPLES = [32, 64, 315, 629, 6284]

STUDY = Study(
    name="supp_input_step",
    title="Supplement: trajectory length vs input step size (tanh, k=100, 1 layer)",
    grid={"model": ["node", "ctrnn", "ltc"], "activation": ["tanh"], "input_kind": ["samples"],
          "n_samples": N_SAMPLES},
    samples=100,
    draw=boxes("supp_input_step", "n_samples",
               "input samples n (δt = 2π/(n−1): 32→0.203, 64→0.0997, 315→0.0200, 629→0.0100, 6284→0.0010)",
               title="input step size"),
    quick_grid={"width": [10], "n_samples": [32, 629]},
    notes="Both semantics use the sampled, interpolated input here (the paper semantics' exact circle "
          "has no step). The supplement does not name the activation; tanh is used.",
)
