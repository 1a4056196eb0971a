"""Solution and student notebooks: in step with each other, solved and unsolved as they should be."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from autograder.course import NOTEBOOKS, SOLUTIONS
from autograder.grade import checks_of
from autograder.repair import is_test
from autograder.release import release_all
from tests.conftest import nbgrader_meta, secret_lines

SOLUTION_NOTEBOOKS = sorted(SOLUTIONS.glob("*/*.ipynb"))
IDS = [f"{p.parent.name}/{p.name}" for p in SOLUTION_NOTEBOOKS]


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run(path: Path, allow_errors: bool) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def grade_cells(nb) -> list:
    return [c for c in nb.cells if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]


def seconds(cell) -> float:
    timing = cell.metadata["execution"]
    start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def test_there_are_assignments():
    assert SOLUTION_NOTEBOOKS, "no solution notebooks under solutions/"


def test_released_notebooks_are_what_release_makes(tmp_path):
    release_all(tmp_path / "a")
    release_all(tmp_path / "b")
    first, again = files_under(tmp_path / "a"), files_under(tmp_path / "b")
    assert first == again, "make release is not deterministic"
    committed = files_under(NOTEBOOKS)
    assert sorted(committed) == sorted(first), "notebooks/ holds other files than make release makes"
    drifted = [name for name in first if committed[name] != first[name]]
    assert not drifted, f"notebooks/ drifted from solutions/ in {drifted}: run `make release`"


@pytest.mark.parametrize("assignment", sorted({p.parent.name for p in SOLUTION_NOTEBOOKS}))
def test_visible_data_is_what_release_makes(assignment):
    """The stored expected values of the visible checks are the reference's (`make release`)."""
    from autograder.release import visible_data
    from bptt.checks import DATA

    data, path = visible_data(assignment), DATA / f"{assignment}.npz"
    if not data:
        assert not path.exists(), f"{path} is stale: run `make release`"
        return
    assert path.exists(), f"no {path}: run `make release`"
    with np.load(path, allow_pickle=False) as stored:
        assert sorted(stored.files) == sorted(data), f"{path} drifted: run `make release`"
        for name, value in data.items():
            assert np.array_equal(stored[name], value), f"{path}[{name!r}] drifted: run `make release`"


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=IDS)
def test_student_notebook_holds_no_answers(path):
    student = NOTEBOOKS / path.parent.name / path.name
    text = student.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "autograder.reference"):
        assert marker not in text, f"{student} contains {marker!r}"
    code = "\n".join(c.source for c in nbformat.read(student, as_version=4).cells)
    for line in secret_lines():
        assert line not in code, f"{student} contains solution or hidden test code: {line!r}"


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=IDS)
def test_solution_notebook_passes_all_its_tests_quickly(path):
    nb = run(path, allow_errors=False)
    slow = {nbgrader_meta(c)["grade_id"]: seconds(c) for c in grade_cells(nb) if seconds(c) > 2.0}
    assert not slow, f"test cells slower than 2 s: {slow}"
    total = sum(seconds(c) for c in nb.cells if c.cell_type == "code")
    assert total < 30, f"{path.name} takes {total:.1f} s to run, over 30 s"


def hidden_only(cell) -> bool:
    """A test cell whose student version only announces its hidden checks."""
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    return all(line.startswith("#") or line.startswith("print(") for line in lines)


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=IDS)
def test_student_notebook_fails_every_visible_test(path):
    nb = run(NOTEBOOKS / path.parent.name / path.name, allow_errors=True)
    cells = grade_cells(nb)
    assert any(not hidden_only(c) for c in cells), "no visible test cells"
    passing = [nbgrader_meta(c)["grade_id"] for c in cells
               if not hidden_only(c) and not any(o.output_type == "error" for o in c.outputs)]
    assert not passing, f"visible test cells that pass without any student code: {passing}"


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=IDS)
def test_every_test_cell_is_probed_and_has_a_check(path):
    checks = checks_of(path.parent.name)
    tests = [c for c in nbformat.read(path, as_version=4).cells if is_test(c)]
    assert tests, f"{path.name} has no test cells"
    for cell in tests:
        gid = nbgrader_meta(cell)["grade_id"]
        assert gid in checks, f"test cell {gid} has no check in autograder.reference"
        assert f'probe("{gid}", ' in cell.source, f"test cell {gid} does not probe itself"
    assert set(checks) == {nbgrader_meta(c)["grade_id"] for c in tests}, "checks without a cell"


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=IDS)
def test_written_answers_are_released_blank(path):
    """A cell graded by hand reaches the student as a stub, without the model answer or rubric."""
    released = {nbgrader_meta(c).get("grade_id"): c
                for c in nbformat.read(NOTEBOOKS / path.parent.name / path.name, as_version=4).cells}
    for cell in nbformat.read(path, as_version=4).cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and meta.get("solution"):
            stub = released[meta["grade_id"]]
            assert stub.cell_type == "markdown" and nbgrader_meta(stub).get("points") == meta["points"]
            shared = {line for line in cell.source.splitlines() if len(line) > 25} & \
                set(stub.source.splitlines())
            assert not shared, f"{meta['grade_id']} is released with its model answer: {shared}"
