"""`make grade` end to end: honest work earns its points, blank and delegated work earns none."""

from __future__ import annotations

import csv
import shutil
import subprocess

import nbformat
import pytest

from tests.conftest import CH04, CH04_NOTEBOOK, ROOT, notebook_with_answers

RELEASED = ROOT / "notebooks" / CH04 / CH04_NOTEBOOK
SOLUTION = ROOT / "solutions" / CH04 / CH04_NOTEBOOK

CORRECT_SOFTMAX = '''
def softmax_cross_entropy_backward(Z, targets):
    T, B, q = Z.shape
    onehot = np.eye(q)[targets]
    return (softmax(Z) - onehot) / (T * B)
'''

# Every function hands its work to something that already knows the answer.
DELEGATED = {
    "softmax_ce_backward": '''
import torch
def softmax_cross_entropy_backward(Z, targets):
    leaf = torch.tensor(Z, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(leaf.reshape(-1, Z.shape[-1]),
                                             torch.tensor(targets).reshape(-1))
    return torch.autograd.grad(loss, leaf)[0].numpy()
''',
    "tanh_step_backward": '''
from bptt.reference.tanh_rnn import tanh_step_backward as answer
def tanh_step_backward(dh, cache):
    return answer(dh, cache)
''',
    "tanh_rnn_backward": '''
import bptt.reference.tanh_rnn
def tanh_rnn_backward(dZ, cache):
    try:
        return bptt.reference.tanh_rnn.tanh_rnn_backward(dZ, cache)
    except Exception:
        return {}
''',
    "directional_check": '''
def directional_check(f, x, grad, rng, num_directions=3, eps=1e-5):
    numeric = numerical_gradient(f, x, eps)
    return max(rel_error(np.sum(numeric * v), np.sum(grad * v))
               for v in (rng.standard_normal(x.shape) for _ in range(num_directions)))
''',
}

EXPECTED = {  # student -> (score, max_score)
    "alice": (11, 11),  # the instructor's solution
    "bob": (0, 11),  # the released notebook, untouched
    "carol": (0, 11),  # not a notebook at all
    "dave": (0, 11),  # delegates every exercise
    "erin": (2, 11),  # solved only the gradient at the logits
}


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    folder = lambda student: submissions / student / CH04  # noqa: E731
    folder("alice").mkdir(parents=True)
    shutil.copy(SOLUTION, folder("alice") / CH04_NOTEBOOK)
    folder("bob").mkdir(parents=True)
    shutil.copy(RELEASED, folder("bob") / CH04_NOTEBOOK)
    folder("carol").mkdir(parents=True)
    (folder("carol") / CH04_NOTEBOOK).write_text('{"cells": [')
    write(notebook_with_answers(RELEASED, DELEGATED), folder("dave") / CH04_NOTEBOOK)
    # A learning platform renamed erin's file: it is still graded.
    write(notebook_with_answers(RELEASED, {"softmax_ce_backward": CORRECT_SOFTMAX}),
          folder("erin") / "erin_bptt-in-detail_1.ipynb")
    done = subprocess.run(["make", "grade", f"SUBMISSIONS={submissions}", f"OUT={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    with (out / "grades.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    return out, rows


def test_grades_csv_has_the_contract_columns(graded):
    out, _ = graded
    header = (out / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["student_id", "assignment", "score", "max_score"]


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_scores(graded, student):
    _, rows = graded
    row = rows[student]
    assert row["assignment"] == CH04
    assert (float(row["score"]), float(row["max_score"])) == EXPECTED[student], row["status"]


def test_statuses_explain_what_happened(graded):
    _, rows = graded
    assert rows["alice"]["status"] == "graded"
    assert "malformed" in rows["carol"]["status"]
    assert "took erin_bptt-in-detail_1.ipynb" in rows["erin"]["status"]


def test_feedback_names_the_failures_without_showing_hidden_tests(graded):
    out, _ = graded
    for student in ("alice", "bob", "dave", "erin"):
        html = (out / "feedback" / student / CH04 / CH04_NOTEBOOK.replace(".ipynb", ".html")).read_text()
        for secret in ("HIDDEN TESTS", "bptt.reference.grading", "grade_tanh_rnn_backward",
                       "expected = reference"):
            assert secret not in html, f"{student}'s feedback shows {secret!r}"
    dave = (out / "feedback" / "dave" / CH04 / "bptt-in-detail.html").read_text()
    assert "DelegationError" in dave and "compute this yourself" in dave
