"""Shared paths and helpers of the test suite."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from functools import cache
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
CH04 = "ch04-bptt-in-detail"
CH04_NOTEBOOK = "bptt-in-detail.ipynb"


SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)


@cache
def secret_lines() -> frozenset[str]:
    """Distinctive lines (over 25 characters) of the hidden tests and graded answers.

    An answer is graded when a hidden test names the function it defines.
    Lines that an ungraded warm-up answer shares, or that the student
    notebook's instructions quote, are given away on purpose and are not secret.
    """
    hidden, answers, probed, quoted = [], [], set(), []
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for region in HIDDEN_REGION.findall(cell.source):
                hidden.append(region)
                probed |= set(re.findall(r"\w+", region))
            answers += [(cell.source, r) for r in SOLUTION_REGION.findall(cell.source)]
        released = ROOT / "notebooks" / path.parent.name / path.name
        quoted += [c.source for c in nbformat.read(released, as_version=4).cells
                   if c.cell_type == "markdown"]
    graded = [any(f"def {name}(" in source for name in probed) for source, _ in answers]

    def lines(texts):
        return {line.strip().strip("`") for text in texts for line in text.splitlines()
                if len(line.strip()) > 25}

    secret = lines(hidden + [r for (_, r), g in zip(answers, graded) if g])
    return frozenset(secret - lines([r for (_, r), g in zip(answers, graded) if not g])
                     - {line for line in secret if any(line in text for text in quoted)})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


# Seeds of the grader's secret case draws. Honest work must pass every one of them; the
# default draw keeps `make test` fast, BPTT_SEEDS=2000 runs the long sweep.
SEED_EXAMPLES = int(os.environ.get("BPTT_SEEDS", "25"))
seeds = st.integers(min_value=0, max_value=2**63 - 1)
over_seeds = settings(max_examples=SEED_EXAMPLES, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])


@pytest.fixture
def judged(tmp_path):
    """judged(checks, check_id, function, seed=0): None if ``function`` passes, else the message.

    The probe runs in this process, as it would in the sandbox, and its record goes through
    JSON to the judge, as it would through the grading channel. ``seed`` is the grader's
    secret seed for the case draw.
    """
    from autograder.reference.judging import judge, write_inputs
    from bptt.probe import results

    def run(checks, check_id, function, seed=0):
        cases = write_inputs(check_id, checks[check_id], tmp_path, seed)
        record = json.loads(json.dumps(results(check_id, function, tmp_path)))
        return judge(checks[check_id], cases, record)

    return run


def copy_with_manual_score(out: Path, copy: Path, cell: str, notebook: str, assignment: str,
                           student: str, score: float) -> Path:
    """A copy of the grading output ``out`` in which an instructor gave ``score`` to ``cell``."""
    from nbgrader.api import Gradebook

    from autograder.grade import gradebook_url

    shutil.copytree(out, copy)
    with Gradebook(gradebook_url(copy / "nbgrader")) as gradebook:
        gradebook.find_grade(cell, notebook, assignment, student).manual_score = score
        gradebook.db.commit()
    return copy
