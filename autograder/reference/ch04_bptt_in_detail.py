"""How the exercises of chapter 4 ("BPTT in detail") are graded (instructor only).

``CHECKS`` maps every graded test cell of the assignment ch04-bptt-in-detail
to its ``Check``. Visible cells are graded on the case the student sees; the
hidden cells on other shapes and seeds, a single step and a single sequence
included. Gradients must match the reference answers to 1e-10.
"""

from __future__ import annotations

import numpy as np

from bptt.gradcheck import TOL_AUTOGRAD
from autograder.reference import tanh_rnn as reference
from autograder.reference.judging import Case, Check, compare, compare_named
from bptt.rnn import tanh_rnn_forward, tanh_step_forward
from bptt.tasks import tanh_problem

SHAPES = [(101, 1, 1, 2, 3, 2), (102, 4, 3, 5, 4, 3), (103, 9, 2, 3, 6, 5), (104, 2, 5, 1, 2, 4)]
STEP_OUTPUTS = ("dx", "dh_prev", "dW_hx", "dW_hh", "db_h")
RNN_KEYS = ("W_qh", "b_q", "W_hx", "W_hh", "b_h", "h0")


def _logits(seed: int, T: int, B: int, d: int, h: int, q: int):
    problem = tanh_problem(seed, T, B, d, h, q)
    O, cache = tanh_rnn_forward(problem.X, problem.h0, problem.params)
    return problem, O, cache


def _softmax_cases(visible: bool) -> list[Case]:
    if visible:
        problem, O, _ = _logits(0, 4, 3, 5, 6, 3)
        return [Case("T=4, B=3, q=3", (O, problem.targets))]
    cases = []
    for seed, T, B, _, _, q in SHAPES:
        rng = np.random.default_rng(seed)
        for scale in (3.0, 800.0):
            O = scale * rng.standard_normal((T, B, q))
            cases.append(Case(f"T={T}, B={B}, q={q}, logits of size ~{scale:g}",
                              (O, rng.integers(0, q, size=(T, B)))))
    return cases


def _softmax_verdict(case: Case, result) -> str | None:
    O, targets = case.value
    return compare("dL/dO", result, reference.softmax_cross_entropy_backward(O, targets),
                   TOL_AUTOGRAD)


def _visible_step_case() -> Case:
    """The step of the notebook's visible checks, drawn in the same order."""
    rng = np.random.default_rng(1)
    B, d, h = 3, 4, 5
    x, h_prev = rng.standard_normal((B, d)), rng.standard_normal((B, h))
    W_hx, W_hh = rng.standard_normal((h, d)) / 2, rng.standard_normal((h, h)) / 2
    b_h = rng.standard_normal(h)
    dh = rng.standard_normal((B, h))
    return Case("B=3, d=4, h=5", (dh, tanh_step_forward(x, h_prev, W_hx, W_hh, b_h)[1]))


def _step_cases() -> list[Case]:
    cases = []
    for seed, _, B, d, h, q in SHAPES:
        problem = tanh_problem(seed, 1, B, d, h, q)
        P = problem.params
        _, cache = tanh_step_forward(problem.X[0], problem.h0, P["W_hx"], P["W_hh"], P["b_h"])
        dh = np.random.default_rng(seed + 1000).standard_normal((B, h))
        cases.append(Case(f"B={B}, d={d}, h={h}, seed {seed}", (dh, cache)))
    return cases


def _step_verdict(names: tuple[str, ...]):
    def verdict(case: Case, result) -> str | None:
        expected = dict(zip(STEP_OUTPUTS, reference.tanh_step_backward(*case.value)))
        return compare_named(result, {n: expected[n] for n in names}, TOL_AUTOGRAD,
                             order=STEP_OUTPUTS)
    return verdict


def _rnn_cases(visible: bool) -> list[Case]:
    shapes = [(2, 6, 3, 4, 5, 3)] if visible else SHAPES
    cases = []
    for seed, T, B, d, h, q in shapes:
        problem, O, cache = _logits(seed, T, B, d, h, q)
        dO = reference.softmax_cross_entropy_backward(O, problem.targets)
        cases.append(Case(f"T={T}, B={B}, d={d}, h={h}, q={q}", (dO, cache)))
    return cases


def _rnn_verdict(keys: tuple[str, ...]):
    def verdict(case: Case, result) -> str | None:
        expected = reference.tanh_rnn_backward(*case.value)
        return compare_named(result, {k: expected[k] for k in keys}, TOL_AUTOGRAD)
    return verdict


def _directional_cases(visible: bool) -> list[Case]:
    """Right and wrong gradients for the student's directional check; which is which is secret."""
    cases = []
    if visible:
        x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.25]])
        base = dict(loss="cube", x=x, A=x, seed=0, eps=1e-5)
        cases.append(Case("sum(x**3), the right gradient",
                          {**base, "grad": 3 * x ** 2, "directions": 4}, secret=True))
        cases.append(Case("sum(x**3), a wrong gradient",
                          {**base, "grad": 3 * x ** 2 + 0.1, "directions": 3}, secret=False))
        return cases
    for seed, shape, directions in ((1, (3,), 1), (2, (2, 3), 3), (3, (2, 1, 3), 4)):
        rng = np.random.default_rng(seed)
        x, A = rng.standard_normal(shape), rng.standard_normal(shape)
        grad = A * np.cos(x)
        one_entry = grad.copy()
        one_entry.flat[-1] += 0.5
        base = dict(loss="sine", x=x, A=A, seed=seed, eps=1e-5, directions=directions)
        where = f"x of shape {shape}, {directions} direction(s)"
        cases.append(Case(f"{where}, the right gradient", {**base, "grad": grad}, secret=True))
        for mistake, wrong in (("scaled by 1.1", 1.1 * grad), ("of the wrong sign", -grad),
                               ("with one wrong entry", one_entry)):
            cases.append(Case(f"{where}, a gradient {mistake}",
                              {**base, "grad": wrong, "seed": seed + 7}, secret=False))
    return cases


def _directional_verdict(case: Case, result) -> str | None:
    spec = case.value
    if not isinstance(result, dict) or set(result) != {"result", "calls", "x_after"}:
        return "the check could not be run"
    calls = float(result["calls"])
    if calls != 2 * spec["directions"]:
        return f"f was called {calls:g} times; expected {2 * spec['directions']}"
    if not np.array_equal(result["x_after"], spec["x"]):
        return "your check changed x: restore it exactly"
    value = result["result"]
    if not isinstance(value, np.ndarray) or value.size != 1 or not np.isfinite(value).all():
        return "expected a single finite number"
    value = float(value.reshape(()))
    if case.secret and not value <= 1e-7:
        return f"got {value:.2e} for a right gradient; expected at most 1e-7"
    if not case.secret and not value >= 1e-3:
        return f"got {value:.2e} for a wrong gradient; expected at least 1e-3"
    return None


CHECKS = {
    "test_softmax_ce_visible": Check("call", lambda: _softmax_cases(True), _softmax_verdict),
    "test_softmax_ce_hidden": Check("call", lambda: _softmax_cases(False), _softmax_verdict),
    "test_step_through_time": Check("call", lambda: [_visible_step_case()],
                                    _step_verdict(("dx", "dh_prev"))),
    "test_step_parameters": Check("call", lambda: [_visible_step_case()],
                                  _step_verdict(("dW_hx", "dW_hh", "db_h"))),
    "test_step_hidden": Check("call", _step_cases, _step_verdict(STEP_OUTPUTS)),
    "test_rnn_output_layer": Check("call", lambda: _rnn_cases(True), _rnn_verdict(("W_qh", "b_q"))),
    "test_rnn_recurrent": Check("call", lambda: _rnn_cases(True),
                                _rnn_verdict(("h0", "W_hh", "W_hx", "b_h"))),
    "test_rnn_hidden": Check("call", lambda: _rnn_cases(False), _rnn_verdict(RNN_KEYS)),
    "test_gradcheck_visible": Check("directional", lambda: _directional_cases(True),
                                    _directional_verdict),
    "test_gradcheck_hidden": Check("directional", lambda: _directional_cases(False),
                                   _directional_verdict),
}
