"""Shared paths and helpers of the test suite."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CH04 = "ch04-bptt-in-detail"
CH04_NOTEBOOK = "bptt-in-detail.ipynb"


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def notebook_with_answers(released: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the solution cells named in ``answers`` replaced.

    ``answers`` maps a solution cell's nbgrader grade_id to its new source; the
    other cells keep their stubs, as a student who skipped them would leave them.
    """
    nb = nbformat.read(released, as_version=4)
    ids = {nbgrader_meta(c).get("grade_id") for c in nb.cells}
    unknown = set(answers) - ids
    if unknown:
        raise KeyError(f"no cells {sorted(unknown)} in {released}")
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
