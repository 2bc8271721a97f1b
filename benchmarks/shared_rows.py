"""The rows `python -m trajlen.reproduce all --samples committed` copies between studies, and the
worker time they cost in a run that computed them all (their rows' ``wall_s``, summed).

    python benchmarks/shared_rows.py RESULTS   # RESULTS: the --results folder of a full run

Prints one line per receiving study (study, semantics, networks, copied, worker wall s of the copied
rows), in the order `all` runs them, then the totals.
"""

from __future__ import annotations

import argparse

from trajlen.reproduce import _samples_arg, load_studies, store_path
from trajlen.results import read_results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", help="the --results folder of a full `reproduce all` run")
    root = p.parse_args().results
    per = _samples_arg("committed")
    seen: set[str] = set()
    n_total, s_total = 0, 0.0
    for st in load_studies().values():
        for sem in st.semantics:
            ids = [t.task_id for t in st.tasks(sem, samples=per(st.name, sem))]
            dup = set(ids) & seen
            seen |= set(ids)
            if not dup:
                continue
            t = read_results(store_path(root, False, st.name, sem))
            s = float(t.loc[t.task_id.isin(dup), "wall_s"].sum())
            print(f"{st.name},{sem},{len(ids)},{len(dup)},{s:.1f}")
            n_total, s_total = n_total + len(dup), s_total + s
    print(f"total copied {n_total} worker wall s {s_total:.1f} unique {len(seen)}")


if __name__ == "__main__":
    main()
