"""`make grade` on chapters 1, 2, 3 and 5: honest work earns its points, shortcuts earn none,
and written answers wait for the instructor without leaking the model answer."""

from __future__ import annotations

import csv
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.grade import gradebook_url

from tests.conftest import ROOT, copy_with_manual_score, notebook_with_answers

CH01, CH02, CH03 = "ch01-recurrent-networks-unrolled", "ch02-gradient-analysis", "ch03-truncation"
CH05, CH06 = "ch05-vanishing-exploding", "ch06-eigenvalues-of-powers"
NOTEBOOK = {CH01: "recurrent-networks-unrolled.ipynb", CH02: "gradient-analysis.ipynb",
            CH03: "truncation.ipynb", CH05: "vanishing-exploding.ipynb",
            CH06: "eigenvalues-of-powers.ipynb"}
POINTS = {CH01: 9, CH02: 11, CH03: 8, CH05: 13, CH06: 27}

# Chapter 1 through the package's tanh RNN, which ignores the activation it is given.
VIA_PACKAGE = {
    "rnn_step": '''
from bptt import tanh_step_forward
def rnn_step(x, h_prev, W, b, phi):
    d = x.shape[1]
    return tanh_step_forward(x, h_prev, W[:, :d], W[:, d:], b)[0]
''',
    "rnn_forward": '''
def rnn_forward(X, h0, W, b, phi):
    d, h = X.shape[2], h0.shape[1]
    params = {"W_hx": W[:, :d], "W_hh": W[:, d:], "b_h": b, "W_qh": np.zeros((1, h)), "b_q": np.zeros(1)}
    return tanh_rnn_forward(X, h0, params)[1].H
''',
    "heads": '''
def many_to_one(H, W_qh, b_q):
    return H[-1] @ W_qh.T + b_q

def many_to_many(H, W_qh, b_q):
    return H @ W_qh.T + b_q
''',
    "count_parameters": '''
def count_parameters(d, h, q, layers):
    return (d + h + 1) * h + (layers - 1) * (2 * h + 1) * h + (h + 1) * q
''',
}

# Chapter 2 with torch's autograd in place of the forward recursion, and the products reversed.
SHORTCUTS = {
    "rtrl": '''
import torch
def dh_dWhh(X, h0, W_hx, W_hh, b_h):
    def states(W):
        s, out = torch.tensor(h0), []
        for x in torch.tensor(X):
            s = torch.tanh(torch.tensor(W_hx) @ x + W @ s + torch.tensor(b_h))
            out.append(s)
        return torch.stack(out)
    return torch.func.jacrev(states)(torch.tensor(W_hh)).numpy()
''',
    "lemma": '''
def lemma_coefficients(c):
    T, n, _ = c.shape
    C = np.zeros((T, T, n, n))
    for t in range(T):
        product = np.eye(n)
        C[t, t] = product
        for i in range(t - 1, -1, -1):
            product = c[i + 1] @ product
            C[t, i] = product
    return C

def lemma_closed_form(b, c):
    return np.einsum("tinm,im->tn", lemma_coefficients(c), b)
''',
}

# Chapter 3 through torch's hooks, the multipliers ignored, and a Monte Carlo that never samples.
DELEGATED = {
    "truncated": '''
from bptt.autograd import tanh_regression_autograd
def truncated_gradient(X, Y, h0, params, tau):
    _, grads, h_T = tanh_regression_autograd(X, h0, params, Y, regular_multipliers(len(X), tau))
    return grads, h_T
''',
    "randomized": '''
from bptt.autograd import tanh_regression_autograd
def randomized_gradient(X, Y, h0, params, xi):
    return tanh_regression_autograd(X, h0, params, Y)[1]
''',
    "monte_carlo": '''
def monte_carlo_gradient(X, Y, h0, params, pi, n, seed):
    exact = randomized_gradient(X, Y, h0, params, np.ones(len(X)))["W_hh"]
    return exact, np.full_like(exact, 1e-3)
''',
}

# Chapter 5 through torch: clipping, Jacobians and the LSTM step; the written answer is honest.
THROUGH_TORCH = {
    "clip": '''
import torch
def clip_by_norm(grads, theta):
    tensors = {k: torch.tensor(v) for k, v in grads.items()}
    torch.nn.utils.clip_grad_norm_(list(tensors.values()), theta)
    return {k: v.numpy() for k, v in tensors.items()}

def clip_elementwise(grads, threshold):
    return {k: torch.tensor(v).clamp(-threshold, threshold).numpy() for k, v in grads.items()}
''',
    "lstm": '''
import torch
def lstm_step_backward(dh, dc, cache):
    d = cache.z.shape[1] - cache.c.shape[1]
    x, h_prev = (torch.tensor(a, requires_grad=True) for a in (cache.z[:, :d], cache.z[:, d:]))
    c_prev, W = (torch.tensor(a, requires_grad=True) for a in (cache.c_prev, cache.W))
    b = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    i, f, g, o = (torch.cat([x, h_prev], 1) @ W.T + b).chunk(4, 1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    ((torch.sigmoid(o) * torch.tanh(c) * torch.tensor(dh)).sum() + (c * torch.tensor(dc)).sum()).backward()
    return x.grad.numpy(), h_prev.grad.numpy(), c_prev.grad.numpy(), W.grad.numpy(), b.grad.numpy()
''',
    "written_clipping": "Clipping bounds the step; it cannot enlarge vanished gradients. Gates help.",
}

# Chapter 6 with matrix_power where power iteration is asked for, and M^k formed.
MATRIX_POWER = {
    "iteration": '''
def power_iteration(M, x0, k):
    rows = [np.linalg.matrix_power(M, j) @ x0 for j in range(k + 1)]
    return np.array([row / np.linalg.norm(row) for row in rows])
''',
    "eigenvalues": '''
def power_eigenvalues(M, k):
    return np.sort(np.linalg.eigvalsh(np.linalg.matrix_power(M, k)))
''',
    "written_rnn": "The gradient lines up with v_1 and scales like |lambda_1|^(T - t).",
}

EXPECTED = {("alice", CH01): 9, ("bob", CH01): 0, ("dave", CH01): 4,
            ("alice", CH02): 11, ("bob", CH02): 0, ("dave", CH02): 0,
            ("alice", CH03): 8, ("bob", CH03): 0, ("dave", CH03): 0,
            ("alice", CH05): 11, ("bob", CH05): 0, ("dave", CH05): 0,
            ("alice", CH06): 21, ("bob", CH06): 0, ("dave", CH06): 0}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    for chapter in (CH01, CH02, CH03, CH05, CH06):
        shutil.copytree(ROOT / "solutions" / chapter, submissions / "alice" / chapter)
        shutil.copytree(ROOT / "notebooks" / chapter, submissions / "bob" / chapter)
    for chapter, answers in ((CH01, VIA_PACKAGE), (CH02, SHORTCUTS), (CH03, DELEGATED),
                             (CH05, THROUGH_TORCH), (CH06, MATRIX_POWER)):
        target = submissions / "dave" / chapter / NOTEBOOK[chapter]
        target.parent.mkdir(parents=True)
        nbformat.write(notebook_with_answers(ROOT / "notebooks" / chapter / NOTEBOOK[chapter],
                                             answers), target)
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
    assert float(row["max_score"]) == POINTS[key[1]]


def test_delegation_to_the_package_torch_code_is_flagged(graded):
    assert "uses torch" in graded["rows"][("dave", CH03)]["flags"]
    assert "uses matrix_power" in graded["rows"][("dave", CH06)]["flags"]


def test_every_written_answer_of_chapter_6_reaches_the_formgrader_with_its_rubric(graded):
    autograded = (graded["out"] / "nbgrader" / "autograded" / "alice" / CH06 / NOTEBOOK[CH06]).read_text()
    assert autograded.count("Model answer and rubric (instructor's copy") == 3
    with Gradebook(gradebook_url(graded["out"] / "nbgrader")) as gradebook:
        pending = [g.name for g in gradebook.find_submission_notebook(
            "eigenvalues-of-powers", CH06, "alice").grades if g.needs_manual_grade]
    assert sorted(pending) == ["written_formal", "written_power", "written_rnn"]


def test_written_answers_wait_for_the_instructor(graded):
    rows, work = graded["rows"], graded["out"] / "nbgrader"
    assert all("written answers await grading" in rows[(s, CH05)]["status"] for s in ("alice", "dave"))
    assert "written answers" not in rows[("bob", CH05)]["status"], "a stub answer has nothing to grade"
    assert "written answers" not in rows[("alice", CH03)]["status"]
    with Gradebook(gradebook_url(work)) as gradebook:
        grade = gradebook.find_grade("written_clipping", "vanishing-exploding", CH05, "dave")
        assert grade.needs_manual_grade and grade.max_score == 2
    autograded = (work / "autograded" / "dave" / CH05 / NOTEBOOK[CH05]).read_text()
    assert THROUGH_TORCH["written_clipping"] in autograded, "the formgrader would not see the answer"
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    assert MATRIX_POWER["written_rnn"] in page, "the formgrader does not show the written answer"
    assert page.count("Rubric (2 points)") == 3
    for cell in ("written_power", "written_formal", "written_rnn"):
        assert f'id="{cell}"' in page, f"no score box for {cell}"
