"""How the exercises of chapter 2 ("Gradient analysis") are graded (instructor only).

The student writes, in numpy: the coefficients of the lemma (9.7.5) for matrix
sequences, and the share of each step in the lemma's sum; the forward recursion
(9.7.4) for the total derivatives dh_t/dW_hh of a vector RNN (what real-time
recurrent learning carries); the product of Jacobians dh_t/dh_k; and the bound
on its spectral norm that uses the slopes phi'(z_j) of the sequence.

The RNN exercises take data, not a network: the states H (T, h), the start
state h0, W_hh and the slopes (T, h) that a forward pass produced (rows hold
steps 1..T). Without the inputs, W_hx and the activation, no forward pass can be
run again, so the total derivatives cannot be had by differencing (finite or
complex step) or by autograd: the recursion is the only way. The fresh and
hidden cases draw their slopes from other activations than the visible ones
(sigmoid, softsign), among them a tanh with random gains per unit, which no
activation of a list fits: code that assumes an activation, or guesses one
from the data to rebuild a forward pass, fails.
"""

from __future__ import annotations

import numpy as np

from autograder.reference.judging import Case, Check, against
from bptt.probe import ACTIVATIONS

ASSIGNMENT = "ch02-gradient-analysis"
TOL = 1e-10


# --- The reference answers ---------------------------------------------------------------------

def lemma_coefficients(c: np.ndarray) -> np.ndarray:
    """c (T, h, h) -> C (T, T, h, h) with C[t, i] = J_t J_{t-1} ... J_{i+1} (I when i = t, 0 when i > t)."""
    T, h, _ = c.shape
    C = np.zeros((T, T, h, h))
    for t in range(T):
        product = np.eye(h)
        C[t, t] = product
        for i in range(t - 1, -1, -1):
            product = product @ c[i + 1]
            C[t, i] = product
    return C


def contributions(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """b (T, h), c (T, h, h) -> K (T, T, h): K[t, i] = C[t, i] b_i, the term of step i in a_t."""
    return np.einsum("tinm,im->tin", lemma_coefficients(c), b)


def dh_dWhh(H, h0, W_hh, slopes) -> np.ndarray:
    """D (T, h, h, h) with D[t, i, j, k] = d h_t[i] / d W_hh[j, k], by the forward recursion.

    H (T, h) the states h_1..h_T, h0 (h,), W_hh (h, h), slopes (T, h) the phi'(z_t).
    """
    n = h0.shape[0]
    D, carried, h_prev = np.zeros((len(H), n, n, n)), np.zeros((n, n, n)), h0
    for t, (h, s) in enumerate(zip(H, slopes)):
        direct = np.einsum("ij,k->ijk", np.eye(n), h_prev)
        D[t] = s[:, None, None] * (direct + np.einsum("il,ljk->ijk", W_hh, carried))
        carried, h_prev = D[t], h
    return D


def jacobian_product(slopes, W_hh, t: int, k: int) -> np.ndarray:
    """dh_t/dh_k = J_t ... J_{k+1}, J_j = diag(slopes[j - 1]) W_hh; (h, h)."""
    product = np.eye(W_hh.shape[0])
    for j in range(k + 1, t + 1):
        product = (slopes[j - 1][:, None] * W_hh) @ product
    return product


def jacobian_bound(slopes, W_hh, t: int, k: int) -> float:
    """prod_{j=k+1}^{t} ||diag(phi'(z_j))||_2 ||W_hh||_2, a bound on ||dh_t/dh_k||_2."""
    steepest = np.max(np.abs(slopes[k:t]), axis=1) if t > k else np.ones(0)
    return float(np.prod(steepest) * np.linalg.norm(W_hh, 2) ** (t - k))


# --- Data: random sequences for the lemma, RNN trajectories for the rest ----------------------

# The notebook draws its lemma data as `rng = np.random.default_rng(0)` and this line.
def visible_lemma() -> tuple[np.ndarray, np.ndarray]:
    """b (4, 2), c (4, 2, 2) of the notebook's visible checks."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 2)), rng.standard_normal((4, 2, 2))


def _lemma_draw(rng, T: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((T, h)), rng.standard_normal((T, h, h)) / np.sqrt(h)


# Recurrent scale per activation: the states neither die nor saturate over a dozen steps.
SCALES = {"tanh": 1.2, "tanh with gains": 1.0, "softsign": 1.5, "sigmoid": 3.0, "relu": 0.9}


def _activation(name: str, rng, h: int):
    """phi and phi' by name; "tanh with gains" is tanh(g z) with gains g in [0.5, 2] per unit."""
    if name == "tanh with gains":
        g = rng.uniform(0.5, 2.0, h)
        return (lambda z: np.tanh(g * z)), (lambda z: g * (1.0 - np.tanh(g * z) ** 2))
    return ACTIVATIONS[name], ACTIVATIONS["d_" + name]


def trajectory(rng, T: int, h: int, activation: str, growth: float = 1.0):
    """(H (T, h), h0 (h,), W_hh (h, h), slopes (T, h)) of a random RNN with d = 2 inputs."""
    phi, dphi = _activation(activation, rng, h)
    X, W_hx = rng.standard_normal((T, 2)), rng.standard_normal((h, 2)) / np.sqrt(2)
    W_hh = growth * SCALES[activation] * rng.standard_normal((h, h)) / np.sqrt(h)
    b_h, h0 = 0.1 * rng.standard_normal(h), 0.5 * rng.standard_normal(h)
    states, slopes, state = [], [], h0
    for x in X:
        z = W_hx @ x + W_hh @ state + b_h
        state = phi(z)
        states.append(state)
        slopes.append(dphi(z))
    return np.array(states), h0, W_hh, np.array(slopes)


def visible_rnn():
    """The sigmoid RNN of the notebook's visible checks, T = 5, h = 3 (stored with the package)."""
    return trajectory(np.random.default_rng(2), 5, 3, "sigmoid")


def second_rnn():
    """A softsign RNN of the same shapes: the visible RTRL check catches code that assumes one activation."""
    return trajectory(np.random.default_rng(3), 5, 3, "softsign")


def _fresh_rnn(seed: int, label: int, activations=("softsign", "tanh with gains", "tanh")):
    """An RNN of the visible shapes drawn from the seed, with one of ``activations``."""
    rng = np.random.default_rng([seed, label])
    activation = activations[rng.integers(len(activations))]
    return activation, trajectory(rng, 5, 3, activation)


def _pair_table(function, slopes, W_hh) -> np.ndarray:
    """(T + 1, T + 1) table of function(slopes, W_hh, t, k) for k <= t, zero above."""
    T = len(slopes)
    table = np.zeros((T + 1, T + 1))
    for t in range(T + 1):
        for k in range(t + 1):
            table[t, k] = function(slopes, W_hh, t, k)
    return table


VISIBLE_DATA = {
    "C": lambda: lemma_coefficients(visible_lemma()[1]),
    "K": lambda: contributions(*visible_lemma()),
    **{f"{name}/{key}": (lambda make, i: lambda: make()[i])(make, i)
       for name, make in (("rnn", visible_rnn), ("second_rnn", second_rnn))
       for i, key in enumerate(("H", "h0", "W_hh", "slopes"))},
    "D": lambda: dh_dWhh(*visible_rnn()),
    "second_D": lambda: dh_dWhh(*second_rnn()),
    "product": lambda: jacobian_product(visible_rnn()[3], visible_rnn()[2], 4, 1),
    "bounds": lambda: _pair_table(jacobian_bound, visible_rnn()[3], visible_rnn()[2]),
    "beta_W": lambda: np.linalg.norm(visible_rnn()[2], 2),
    "norms": lambda: _pair_table(lambda s, W, t, k: np.linalg.norm(jacobian_product(s, W, t, k), 2),
                                 visible_rnn()[3], visible_rnn()[2]),
}


# --- Cases drawn from the grader's seed --------------------------------------------------------

LEMMA_HIDDEN = [(1, 1), (4, 1), (5, 3), (7, 2), (3, 4)]


def _lemma_cases(seed: int, visible: bool, with_b: bool) -> list[Case]:
    if visible:
        drawn = [("the notebook's b, c", visible_lemma()),
                 ("fresh b, c, T=4, h=2", _lemma_draw(np.random.default_rng([seed, 0]), 4, 2))]
    else:
        drawn = [(f"T={T}, h={h}", _lemma_draw(np.random.default_rng([seed, 1 + i]), T, h))
                 for i, (T, h) in enumerate(LEMMA_HIDDEN)]
    return [Case(label, (b, c) if with_b else (c,)) for label, (b, c) in drawn]


# (T, h, activation) of the hidden RNN cases: a single step, a single unit, every activation.
RNN_HIDDEN = [(1, 1, "tanh"), (5, 3, "softsign"), (8, 4, "tanh with gains"), (6, 5, "relu"),
              (3, 2, "sigmoid"), (7, 3, "tanh with gains")]


def _rtrl_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        # Gains per unit: no activation of a list fits, so no forward pass can be rebuilt.
        activation, fresh = _fresh_rnn(seed, 0, ("tanh with gains",))
        return [Case("the notebook's sigmoid RNN", visible_rnn()),
                Case("the notebook's second RNN", second_rnn()),
                Case(f"a fresh RNN of the same shapes ({activation})", fresh)]
    return [Case(f"T={T}, h={h}, {activation}",
                 trajectory(np.random.default_rng([seed, 10 + i]), T, h, activation))
            for i, (T, h, activation) in enumerate(RNN_HIDDEN)]


# (T, h, activation, t, k) of the hidden products and bounds: k = 0, t = k, t < T, h = 1.
PAIRS_HIDDEN = [(6, 4, "tanh", 6, 0), (9, 3, "softsign", 7, 7), (4, 1, "tanh with gains", 4, 1),
                (12, 5, "tanh with gains", 12, 3), (7, 3, "sigmoid", 5, 2), (8, 4, "relu", 7, 1),
                (10, 2, "softsign", 9, 0)]


def _fresh_pairs(seed: int) -> list[Case]:
    activation, (_, _, W_hh, slopes) = _fresh_rnn(seed, 1)
    rng = np.random.default_rng([seed, 2])
    k = int(rng.integers(0, 4))
    t = int(rng.integers(k + 1, 6))
    return [Case(f"a fresh RNN of the same shapes ({activation}), t={t}, k={k}", (slopes, W_hh, t, k)),
            Case(f"a fresh RNN of the same shapes ({activation}), t=5, k=0", (slopes, W_hh, 5, 0))]


def _product_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        _, _, W_hh, slopes = visible_rnn()
        return [Case("the notebook's RNN, t=4, k=1", (slopes, W_hh, 4, 1)),
                Case("the notebook's RNN, t=2, k=2", (slopes, W_hh, 2, 2)), *_fresh_pairs(seed)]
    return _hidden_pairs(seed)


def _hidden_pairs(seed: int) -> list[Case]:
    cases = []
    for i, (T, h, activation, t, k) in enumerate(PAIRS_HIDDEN):
        _, _, W_hh, slopes = trajectory(np.random.default_rng([seed, 20 + i]), T, h, activation, 1.5)
        cases.append(Case(f"T={T}, h={h}, {activation}, t={t}, k={k}", (slopes, W_hh, t, k)))
    return cases


def _bound_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        _, _, W_hh, slopes = visible_rnn()
        shown = [Case(f"the notebook's RNN, t={t}, k={k}", (slopes, W_hh, t, k))
                 for t in range(6) for k in range(t + 1)]
        return shown + _fresh_pairs(seed)
    return _hidden_pairs(seed)


def _check(cases, reference, name: str) -> Check:
    return Check("call", cases, against(reference, name, TOL))


CHECKS = {
    "test_coefficients_visible": _check(lambda seed: _lemma_cases(seed, True, False),
                                        lemma_coefficients, "C"),
    "test_coefficients_hidden": _check(lambda seed: _lemma_cases(seed, False, False),
                                       lemma_coefficients, "C"),
    "test_contributions_visible": _check(lambda seed: _lemma_cases(seed, True, True),
                                         contributions, "K"),
    "test_contributions_hidden": _check(lambda seed: _lemma_cases(seed, False, True),
                                        contributions, "K"),
    "test_rtrl_visible": _check(lambda seed: _rtrl_cases(seed, True), dh_dWhh, "dh_t/dW_hh"),
    "test_rtrl_hidden": _check(lambda seed: _rtrl_cases(seed, False), dh_dWhh, "dh_t/dW_hh"),
    "test_product_visible": _check(lambda seed: _product_cases(seed, True), jacobian_product,
                                   "dh_t/dh_k"),
    "test_product_hidden": _check(lambda seed: _product_cases(seed, False), jacobian_product,
                                  "dh_t/dh_k"),
    "test_bound_visible": _check(lambda seed: _bound_cases(seed, True), jacobian_bound, "the bound"),
    "test_bound_hidden": _check(lambda seed: _bound_cases(seed, False), jacobian_bound, "the bound"),
}
