"""trajlen — trajectory length of random continuous-time networks (Hasani et al., AAAI 2021, §5).

Pipeline: spec → parameters → vector field → solver → trajectory → measures → results → figures/bounds.
"""

__version__ = "0.1.0"
