"""What the default install needs: a sweep on the numba or scipy backend never imports torch (an
optional extra, ≈ 190 MB and ≈ 1 CPU-s per worker), nor dask; a flag that needs a missing extra says
which one to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROBE = """
import sys
from trajlen.sweep import main
rc = main(["--width", "6", "--samples", "2", "--jobs", "{jobs}", "--backend", "{backend}",
           "--out", {out!r}, "--quiet"])
heavy = sorted(m for m in ("torch", "distributed", "dask") if m in sys.modules)
print(rc, ",".join(heavy) or "-")
"""


@pytest.mark.parametrize("backend, jobs", [("numba", 1), ("scipy", 1), ("auto", 2)])
def test_a_cpu_sweep_never_imports_torch(tmp_path, backend, jobs):
    code = _PROBE.format(jobs=jobs, backend=backend, out=str(tmp_path / "s"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "-"], out.stdout


def test_missing_torch_is_one_line_naming_the_extra(monkeypatch):
    import importlib.util

    from trajlen.spec import SolverSpec, SpecError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(SpecError, match=r"trajlen\[torch\]"):
        SolverSpec(backend="torch")
    with pytest.raises(SpecError, match=r"trajlen\[torch\]"):
        SolverSpec(method="euler")      # auto picks torch, the only backend of the fixed-step methods
    assert SolverSpec(method="RK45").backend == "numba"
