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


@pytest.fixture
def one_torch_thread():
    """One torch intra-op thread: the batched matvecs are small, and on a shared 2-core machine
    OpenMP's spinning threads slow them tenfold (the benchmarks run one process per core the same
    way). Modules that run the torch batch use it (``pytestmark``)."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
