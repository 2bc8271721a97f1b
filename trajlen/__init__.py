"""trajlen — trajectory length of random continuous-time networks (Hasani et al., AAAI 2021, §5).

Pipeline: spec → parameters → vector field → solver → trajectory → measures → results → figures/bounds.

``trajlen.measure(model, ...)`` measures your own network (a trained torch module or a Python vector
field; :func:`trajlen.user.measure`).
"""

__version__ = "0.1.0"
__all__ = ["measure", "__version__"]


def __getattr__(name: str):
    # imported on first use: ``import trajlen`` stays free of numpy, scipy and torch
    if name == "measure":
        from .user import measure

        return measure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
