import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _find_fixtures() -> Path | None:
    env = os.environ.get("TRAJLEN_FIXTURES")
    cands = [Path(env)] if env else []
    cands += [ROOT.parent / "shared" / "fixtures" / "octave-reference",
              ROOT / "tests" / "data" / "octave-reference"]
    for c in cands:
        if (c / "lengths.csv").exists():
            return c
    return None


@pytest.fixture(scope="session")
def octave_dir() -> Path:
    d = _find_fixtures()
    if d is None:
        pytest.skip("octave reference fixtures not found")
    return d
