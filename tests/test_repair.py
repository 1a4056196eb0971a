"""Rebuilding a submission never fills a gap with the instructor's answer."""

from __future__ import annotations

import copy

import nbformat
import pytest

from autograder.grade import out_of_step
from autograder.repair import is_answer, rebuild
from tests.conftest import ROOT, CH04, CH04_NOTEBOOK


def test_a_release_without_an_answer_stub_is_refused(tmp_path):
    source = nbformat.read(ROOT / "solutions" / CH04 / CH04_NOTEBOOK, as_version=4)
    released = nbformat.read(ROOT / "notebooks" / CH04 / CH04_NOTEBOOK, as_version=4)
    stale = copy.deepcopy(released)
    stale.cells = [c for c in stale.cells if not is_answer(c)]
    blank = tmp_path / CH04_NOTEBOOK
    nbformat.write(released, blank)
    with pytest.raises(RuntimeError, match="out of step with the solutions"):
        rebuild(blank, source, stale)
    graded, _ = rebuild(blank, source, released)
    solution_code = {c.source for c in source.cells if is_answer(c)}
    assert not [c for c in graded.cells if is_answer(c) and c.source in solution_code]


def test_the_committed_release_is_in_step():
    assert out_of_step() == []
