"""How the exercises of chapter 1 ("Recurrent networks, unrolled") are graded (instructor only).

The student writes the vanilla RNN in the concatenated form
``h_t = phi(W [x_t; h_{t-1}] + b)`` with ``W`` of shape (h, d + h), for a given
activation ``phi``; the heads ``o = W_qh h + b_q`` on the last step (many-to-one)
or on every step (many-to-many); and the number of parameters of a stack of
such layers (which the package, with its single layer, does not build). The hidden checks
use other sizes and other activations (ReLU, the logistic sigmoid), so the
package's tanh forward pass cannot stand in for the student's.
"""

from __future__ import annotations

import numpy as np

from bptt.probe import Activation
from autograder.reference.judging import Case, Check, against, compare

TOL = 1e-12
SIZES = [(11, 1, 1, 1, 1, 1), (12, 5, 3, 4, 6, 2), (13, 8, 2, 3, 5, 4), (14, 2, 4, 6, 2, 3)]


def rnn_step(x, h_prev, W, b, phi):
    """x (B, d), h_prev (B, h), W (h, d + h), b (h,) -> h (B, h)."""
    return phi(np.concatenate([x, h_prev], axis=1) @ W.T + b)


def rnn_forward(X, h0, W, b, phi):
    """X (T, B, d), h0 (B, h) -> H (T, B, h)."""
    states, h = [], h0
    for x in X:
        h = rnn_step(x, h, W, b, phi)
        states.append(h)
    return np.stack(states)


def count_parameters(d: int, h: int, q: int, layers: int) -> int:
    """Parameters of ``layers`` stacked recurrent layers and the output layer.

    Layer 1 has W (h, d + h) and b (h,); every further layer reads the states
    of the one below, W (h, h + h) and b (h,); the output layer W_qh (q, h), b_q (q,).
    """
    return h * (d + h) + h + (layers - 1) * (2 * h * h + h) + q * h + q


def _problem(seed: int, T: int, B: int, d: int, h: int, q: int):
    rng = np.random.default_rng(seed)
    return {"X": rng.standard_normal((T, B, d)), "h0": rng.standard_normal((B, h)),
            "W": rng.standard_normal((h, d + h)) / np.sqrt(d + h),
            "b": 0.1 * rng.standard_normal(h), "W_qh": rng.standard_normal((q, h)) / np.sqrt(h),
            "b_q": 0.1 * rng.standard_normal(q)}


def _label(seed, T, B, d, h, q, phi="tanh") -> str:
    return f"T={T}, B={B}, d={d}, h={h}, q={q}, phi={phi}"


def _step_cases(visible: bool) -> list[Case]:
    sizes = SIZES[1:2] if visible else SIZES
    # The visible case is also judged with ReLU, so the package's tanh RNN cannot stand in.
    activations = ("tanh", "relu") if visible else ("tanh", "relu", "sigmoid")
    cases = []
    for size in sizes:
        p = _problem(*size)
        for name in activations:
            cases.append(Case(_label(*size, name), (p["X"][0], p["h0"], p["W"], p["b"],
                                                    Activation(name))))
    return cases


def _forward_cases(visible: bool) -> list[Case]:
    sizes = SIZES[1:2] if visible else SIZES
    activations = ("tanh", "relu") if visible else ("relu", "sigmoid", "identity")
    return [Case(_label(*size, name), (p["X"], p["h0"], p["W"], p["b"], Activation(name)))
            for size in sizes for p in [_problem(*size)] for name in activations]


def _head_cases(visible: bool) -> list[Case]:
    sizes = SIZES[1:2] if visible else SIZES
    cases = []
    for size in sizes:
        p = _problem(*size)
        H = rnn_forward(p["X"], p["h0"], p["W"], p["b"], np.tanh)
        cases.append(Case(_label(*size), (H, p["W_qh"], p["b_q"])))
    return cases



def _many_to_one(H, W_qh, b_q):
    return H[-1] @ W_qh.T + b_q


def _many_to_many(H, W_qh, b_q):
    return H @ W_qh.T + b_q


def _heads_verdict(case: Case, result) -> str | None:
    """The probed function returns (many_to_one(...), many_to_many(...))."""
    if not isinstance(result, list) or len(result) != 2:
        return "expected the pair (many_to_one(...), many_to_many(...))"
    return (compare("many-to-one output", result[0], _many_to_one(*case.value), TOL)
            or compare("many-to-many outputs", result[1], _many_to_many(*case.value), TOL))


def _count_cases(visible: bool) -> list[Case]:
    sizes = ([(4, 6, 2, 1), (4, 6, 2, 3)] if visible else
             [(1, 1, 1, 1), (5, 7, 3, 2), (10, 2, 9, 4), (64, 128, 32, 1), (3, 8, 5, 3)])
    return [Case(f"d={d}, h={h}, q={q}, layers={n}", (d, h, q, n)) for d, h, q, n in sizes]


def _count_verdict(case: Case, result) -> str | None:
    expected = count_parameters(*case.value)
    if not isinstance(result, np.ndarray) or result.size != 1:
        return "expected a single whole number"
    if float(result.reshape(())) != expected:
        return f"got {float(result.reshape(())):g} parameters, which is wrong"
    return None


CHECKS = {
    "test_step_visible": Check("call", lambda: _step_cases(True), against(rnn_step, "h_t", TOL)),
    "test_step_hidden": Check("call", lambda: _step_cases(False), against(rnn_step, "h_t", TOL)),
    "test_forward_visible": Check("call", lambda: _forward_cases(True),
                                  against(rnn_forward, "H", TOL)),
    "test_forward_hidden": Check("call", lambda: _forward_cases(False),
                                 against(rnn_forward, "H", TOL)),
    "test_heads_visible": Check("call", lambda: _head_cases(True), _heads_verdict),
    "test_heads_hidden": Check("call", lambda: _head_cases(False), _heads_verdict),
    "test_count_visible": Check("call", lambda: _count_cases(True), _count_verdict),
    "test_count_hidden": Check("call", lambda: _count_cases(False), _count_verdict),
}
