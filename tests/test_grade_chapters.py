"""`make grade` on chapters 1, 2 and 3: honest work earns its points, shortcuts earn none."""

from __future__ import annotations

import csv
import shutil
import subprocess

import nbformat
import pytest

from tests.conftest import ROOT, notebook_with_answers

CH01, CH02, CH03 = "ch01-recurrent-networks-unrolled", "ch02-gradient-analysis", "ch03-truncation"
NOTEBOOK = {CH01: "recurrent-networks-unrolled.ipynb", CH02: "gradient-analysis.ipynb",
            CH03: "truncation.ipynb"}
POINTS = {CH01: 9, CH02: 11, CH03: 8}

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

EXPECTED = {("alice", CH01): 9, ("bob", CH01): 0, ("dave", CH01): 4,
            ("alice", CH02): 11, ("bob", CH02): 0, ("dave", CH02): 0,
            ("alice", CH03): 8, ("bob", CH03): 0, ("dave", CH03): 0}


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    for chapter in (CH01, CH02, CH03):
        shutil.copytree(ROOT / "solutions" / chapter, submissions / "alice" / chapter)
        shutil.copytree(ROOT / "notebooks" / chapter, submissions / "bob" / chapter)
    for chapter, answers in ((CH01, VIA_PACKAGE), (CH02, SHORTCUTS), (CH03, DELEGATED)):
        target = submissions / "dave" / chapter / NOTEBOOK[chapter]
        target.parent.mkdir(parents=True)
        nbformat.write(notebook_with_answers(ROOT / "notebooks" / chapter / NOTEBOOK[chapter],
                                             answers), target)
    done = subprocess.run(["make", "grade", f"SUBMISSIONS={submissions}", f"OUT={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (out / "grades.csv").open() as handle:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(handle)}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_scores(rows, key):
    assert float(rows[key]["score"]) == EXPECTED[key], rows[key]["status"]
    assert float(rows[key]["max_score"]) == POINTS[key[1]]


def test_delegation_to_the_package_torch_code_is_flagged(rows):
    assert "uses torch" in rows[("dave", CH03)]["flags"]
