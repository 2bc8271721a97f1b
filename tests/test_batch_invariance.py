"""A network's torch rows do not depend on its batch: the same steps and outputs alone, in chunks of
7 or 64, and in a shuffled order, for every model × activation × semantics and both controllers
(CPU). What broke it before: torch's vectorised ``pow`` and ``sigmoid`` round differently from their
scalar remainder loop, so a row's values depended on its position in the batch
(:func:`trajlen._xp.power`, :func:`trajlen._xp.logistic`)."""

from __future__ import annotations

import random

import pytest

from tests.helpers import CONTROLLER_NAMES, MODELS, SEMANTICS, SPEC_ACTIVATIONS
from trajlen.pipeline import run_tasks
from trajlen.tasks import build_tasks

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KEYS = ("n_accepted", "n_rejected", "nfev", "length", "var_pc1", "L")




def _rows(tasks, size=None):
    if size is None:
        return run_tasks(tasks)
    out = []
    for i in range(0, len(tasks), size):
        out += run_tasks(tasks[i:i + size])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("controller", CONTROLLER_NAMES)
def test_torch_rows_do_not_depend_on_their_batch(controller):
    tasks = []
    for semantics in SEMANTICS:
        tasks += build_tasks(dict(model=list(MODELS), activation=list(SPEC_ACTIVATIONS), width=[8],
                                  backend=["torch"], controller=[controller], semantics=[semantics],
                                  output=["refine"]), 3, 0)
    ref = [tuple(r[k] for k in KEYS) for r in _rows(tasks)]
    for size in (1, 7, 64):
        got = [tuple(r[k] for k in KEYS) for r in _rows(tasks, size)]
        assert got == ref, size
    order = list(range(len(tasks)))
    random.Random(1).shuffle(order)
    shuffled = _rows([tasks[i] for i in order])
    assert [tuple(r[k] for k in KEYS) for r in shuffled] == [ref[i] for i in order]
