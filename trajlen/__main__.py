"""``python -m trajlen``: what the commands are (it runs nothing)."""

import sys

USAGE = """trajlen — trajectory length of random continuous-time networks (Hasani et al. 2021, Section 5)

commands:
  python -m trajlen.sweep       run a grid of random networks into a result store (--help for every flag)
  python -m trajlen.reproduce   regenerate the paper's artifacts (Table 2, Figs 2-3, supplement)
  python -m trajlen.bounds      check Theorems 4-5 or a conjectured bound against a result store

the main job:  python -m trajlen.sweep --activation hardtanh --width 100
"""

if __name__ == "__main__":
    print(USAGE, end="")
    sys.exit(0 if len(sys.argv) == 1 or sys.argv[1:] in (["-h"], ["--help"]) else 2)
