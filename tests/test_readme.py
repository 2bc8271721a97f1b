"""The README's examples run as written."""

from __future__ import annotations

import contextlib
import io
import math
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(section: str) -> str:
    """The first ```python block of the README's section ``section``."""
    text = README.read_text()
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end > 0 else None]
    return re.search(r"```python\n(.*?)```", body, re.S).group(1)


def test_measure_your_own_model_example_runs():
    """The five lines measure an ncps LTC: a finite length and L, a negative-or-positive finite
    λ_max and the module's parameter hash, printed."""
    pytest.importorskip("ncps")
    code = _block("Measuring your own (trained) model")
    assert len([ln for ln in code.splitlines() if ln.strip()]) == 5
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    length, L, lyap, sha = out.getvalue().split()
    assert all(math.isfinite(float(v)) for v in (length, L, lyap)) and float(length) > 0
    assert re.fullmatch(r"[0-9a-f]{64}", sha)
