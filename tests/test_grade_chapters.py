"""`make grade` on chapters 1, 2, 3, 5, 6 and 7: honest work earns its points, shortcuts earn none,
and written answers wait for the instructor without leaking the model answer.

Each chapter's whole-notebook variants (an honest answer written apart from the reference, and
the shortcuts that issue 13 and its red team found) live in ``tests/variants/chNN.py``.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.grade import gradebook_url
from autograder.repair import is_test

from tests.conftest import ROOT, copy_with_manual_score, free_port, notebook_with_answers
from tests.variants import ch01, ch02, ch03, ch05, ch06, ch07

CH01, CH02, CH03 = "ch01-recurrent-networks-unrolled", "ch02-gradient-analysis", "ch03-truncation"
CH05, CH06, CH07 = "ch05-vanishing-exploding", "ch06-eigenvalues-of-powers", "ch07-beyond-bptt"
NOTEBOOK = {CH01: "recurrent-networks-unrolled.ipynb", CH02: "gradient-analysis.ipynb",
            CH03: "truncation.ipynb", CH05: "vanishing-exploding.ipynb",
            CH06: "eigenvalues-of-powers.ipynb", CH07: "beyond-bptt.ipynb"}
VARIANTS = {CH01: ch01, CH02: ch02, CH03: ch03, CH05: ch05, CH06: ch06, CH07: ch07}

# Written answers a student gave (dave), for the formgrader and feedback tests.
WRITTEN = {
    CH05: {"written_clipping": "Clipping bounds the step; it cannot enlarge vanished gradients. Gates help."},
    CH06: {"written_rnn": "The gradient lines up with v_1 and scales like |lambda_1|^(T - t).",
           "written_power": "The other components shrink by |lambda_j / lambda_1|^k.",
           "written_formal": "Expand x0 in the eigenvectors and divide by lambda_1^k.",
           "written_remedies": "Orthogonal initialisation and clipping the singular values."},
    CH07: {"written_choice": "Checkpointed BPTT on windows of 2000 steps; UORO for updates at every step."},
}


def student_id(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")


def points(chapter: str) -> tuple[float, float]:
    """(automatic points, all points) of a chapter's notebook."""
    cells = nbformat.read(ROOT / "solutions" / chapter / NOTEBOOK[chapter], as_version=4).cells
    graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    return (sum(c.metadata.nbgrader.points for c in graded if is_test(c)),
            sum(c.metadata.nbgrader.points for c in graded))


EXPECTED = {**{("alice", chapter): points(chapter)[0] for chapter in VARIANTS},
            **{("bob", chapter): 0 for chapter in VARIANTS},
            **{("dave", chapter): 0 for chapter in WRITTEN},
            **{(student_id(label), chapter): score for chapter, module in VARIANTS.items()
               for label, score in module.EXPECTED.items()}}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    for chapter in VARIANTS:
        shutil.copytree(ROOT / "solutions" / chapter, submissions / "alice" / chapter)
        shutil.copytree(ROOT / "notebooks" / chapter, submissions / "bob" / chapter)
    answers = [("dave", chapter, written) for chapter, written in WRITTEN.items()]
    answers += [(student_id(label), chapter, variant) for chapter, module in VARIANTS.items()
                for label, variant in module.ANSWERS.items()]
    for student, chapter, variant in answers:
        target = submissions / student / chapter / NOTEBOOK[chapter]
        target.parent.mkdir(parents=True)
        nbformat.write(notebook_with_answers(ROOT / "notebooks" / chapter / NOTEBOOK[chapter],
                                             variant), target)
    done = subprocess.run(["make", "grade", f"SUBMISSIONS={submissions}", f"OUT={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (out / "grades.csv").open() as handle:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(handle)}
    return {"rows": rows, "out": out, "submissions": submissions}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_scores(graded, key):
    row = graded["rows"][key]
    assert float(row["score"]) == EXPECTED[key], row["status"]
    assert float(row["max_score"]) == points(key[1])[1]


def test_shortcuts_are_flagged(graded):
    rows = graded["rows"]
    assert "uses torch" in rows[(student_id("torch through a rebuilt tanh forward pass"), CH02)]["flags"]
    assert "uses torch" in rows[(student_id("clipping_through_torch"), CH05)]["flags"]
    assert "uses matrix_power" in rows[(student_id("matrix_power"), CH06)]["flags"]
    for label, flag in ch07.FLAGS.items():
        assert flag in rows[(student_id(label), CH07)]["flags"], label
    assert not [key for key, row in rows.items() if key[0] in ("alice", "bob") and row["flags"]]


def test_every_written_answer_of_chapter_6_reaches_the_formgrader_with_its_rubric(graded):
    autograded = (graded["out"] / "nbgrader" / "autograded" / "alice" / CH06 / NOTEBOOK[CH06]).read_text()
    assert autograded.count("Model answer and rubric (instructor's copy") == len(WRITTEN[CH06])
    with Gradebook(gradebook_url(graded["out"] / "nbgrader")) as gradebook:
        pending = [g.name for g in gradebook.find_submission_notebook(
            "eigenvalues-of-powers", CH06, "alice").grades if g.needs_manual_grade]
    assert sorted(pending) == sorted(WRITTEN[CH06])


def test_written_answers_wait_for_the_instructor(graded):
    rows, work = graded["rows"], graded["out"] / "nbgrader"
    assert all("written answers await grading" in rows[(s, CH05)]["status"] for s in ("alice", "dave"))
    assert "written answers" not in rows[("bob", CH05)]["status"], "a stub answer has nothing to grade"
    assert "written answers" not in rows[("alice", CH03)]["status"]
    with Gradebook(gradebook_url(work)) as gradebook:
        grade = gradebook.find_grade("written_clipping", "vanishing-exploding", CH05, "dave")
        assert grade.needs_manual_grade and grade.max_score == 2
    autograded = (work / "autograded" / "dave" / CH05 / NOTEBOOK[CH05]).read_text()
    assert WRITTEN[CH05]["written_clipping"] in autograded, "the formgrader would not see the answer"
    assert "Rubric (2 points)" in autograded, "the formgrader would not show the rubric"


def test_feedback_never_shows_the_model_answer(graded):
    model = next(c.source for c in nbformat.read(ROOT / "solutions" / CH05 / NOTEBOOK[CH05],
                                                 as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "written_clipping")
    lines = [line for line in model.splitlines() if len(line) > 25]
    for student, verdict in (("bob", "no answer to grade"), ("dave", "not graded yet")):
        page = (graded["out"] / "feedback" / student / CH05 / "vanishing-exploding.html").read_text()
        assert verdict in page
        assert not [line for line in lines if line in page], f"{student}'s feedback shows the model answer"


def test_a_hand_grade_counts_after_the_next_run(graded, tmp_path):
    out = copy_with_manual_score(graded["out"], tmp_path / "out", "written_clipping",
                                 "vanishing-exploding", CH05, "dave", 1.5)
    done = subprocess.run(["make", "grade", f"SUBMISSIONS={graded['submissions']}", f"OUT={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (out / "grades.csv").open() as handle:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(handle)}
    assert rows[("dave", CH05)]["score"] == "1.5"
    assert "written answers" not in rows[("dave", CH05)]["status"]
    page = (out / "feedback" / "dave" / CH05 / "vanishing-exploding.html").read_text()
    assert "1.5 / 2 points" in page and "graded by hand" in page


def test_nothing_handed_in_leaves_no_written_answer_pending(graded, tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "erin").mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / CH01, submissions / "erin" / CH01)
    done = subprocess.run([sys.executable, "-m", "autograder.grade", str(submissions),
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with (tmp_path / "out" / "grades.csv").open() as handle:
        rows = {r["assignment"]: r for r in csv.DictReader(handle)}
    assert rows[CH06]["status"] == "nothing handed in"


def test_the_formgrader_shows_written_answers_with_their_rubrics(graded):
    """The page an instructor grades on: dave's text, the rubric beside it, a score box per answer."""
    work = graded["out"] / "nbgrader"
    with Gradebook(gradebook_url(work)) as gradebook:
        notebook_id = gradebook.find_submission_notebook("eigenvalues-of-powers", CH06, "dave").id
    port, token = free_port(), "formgrader-test"
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "jupyter"), "server", "--no-browser",
                               "--allow-root", f"--port={port}", f"--IdentityProvider.token={token}"],
                              cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/formgrader/submissions/{notebook_id}/?token={token}"
    try:
        for _ in range(120):
            try:
                page = urllib.request.urlopen(url, timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the formgrader did not answer")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert WRITTEN[CH06]["written_rnn"] in page, "the formgrader does not show the written answer"
    assert page.count("Rubric (2 points)") == len(WRITTEN[CH06])
    for cell in ("written_power", "written_formal", "written_rnn"):
        assert f'id="{cell}"' in page, f"no score box for {cell}"
