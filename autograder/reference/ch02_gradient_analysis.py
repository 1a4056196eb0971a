"""How the exercises of chapter 2 ("Gradient analysis") are graded (instructor only).

The student writes, in numpy: the coefficients of the lemma (9.7.5) for matrix
sequences and the closed form built from them; the forward recursion (9.7.4)
for the total derivatives dh_t/dW_hh of a vector tanh RNN (what real-time
recurrent learning carries); the product of Jacobians dh_t/dh_k; and its bound
||W_hh||_2^(t-k). Rows of time-indexed arrays hold steps 1..T.
"""

from __future__ import annotations

import numpy as np

from autograder.reference.judging import Case, Check, against

TOL = 1e-10


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


def lemma_closed_form(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """b (T, h), c (T, h, h) -> a (T, h) by (9.7.5); row t - 1 of b holds the partial dh_t/dw, of c J_t."""
    return np.einsum("tinm,im->tn", lemma_coefficients(c), b)


def tanh_states(X, h0, W_hx, W_hh, b_h) -> np.ndarray:
    """X (T, d), h0 (h,) -> H (T, h), one sequence of the tanh RNN."""
    states, h = [], h0
    for x in X:
        h = np.tanh(W_hx @ x + W_hh @ h + b_h)
        states.append(h)
    return np.array(states)


def dh_dWhh(X, h0, W_hx, W_hh, b_h) -> np.ndarray:
    """D (T, h, h, h) with D[t, i, j, k] = d h_t[i] / d W_hh[j, k], by the forward recursion."""
    H = tanh_states(X, h0, W_hx, W_hh, b_h)
    n = h0.shape[0]
    D, previous, h_prev = np.zeros((len(X), n, n, n)), np.zeros((n, n, n)), h0
    for t, h in enumerate(H):
        direct = np.einsum("ij,k->ijk", np.eye(n), h_prev)
        D[t] = (1 - h ** 2)[:, None, None] * (direct + np.einsum("il,ljk->ijk", W_hh, previous))
        previous, h_prev = D[t], h
    return D


def jacobian_product(H, W_hh, t: int, k: int) -> np.ndarray:
    """dh_t/dh_k = J_t ... J_{k+1}, J_j = diag(1 - h_j^2) W_hh; H (T, h) holds h_1..h_T."""
    product = np.eye(W_hh.shape[0])
    for j in range(k + 1, t + 1):
        product = ((1 - H[j - 1] ** 2)[:, None] * W_hh) @ product
    return product


def jacobian_bound(W_hh, gap: int) -> float:
    """||W_hh||_2 ** gap, the bound on ||dh_t/dh_k||_2 when tanh' <= 1."""
    return float(np.linalg.norm(W_hh, 2) ** gap)


def _matrices(seed: int, T: int, h: int):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, h)), rng.standard_normal((T, h, h)) / np.sqrt(h)


LEMMA_SIZES = [(21, 1, 1), (22, 4, 1), (23, 5, 3), (24, 7, 2)]


def _lemma_cases(visible: bool, with_b: bool) -> list[Case]:
    sizes = [(20, 4, 2)] if visible else LEMMA_SIZES
    cases = []
    for seed, T, h in sizes:
        b, c = _matrices(seed, T, h)
        cases.append(Case(f"T={T}, h={h}", (b, c) if with_b else (c,)))
    return cases


def _rnn(seed: int, T: int, d: int, h: int, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((T, d)), 0.5 * rng.standard_normal(h),
            rng.standard_normal((h, d)) / np.sqrt(d), scale * rng.standard_normal((h, h)) / np.sqrt(h),
            0.1 * rng.standard_normal(h))


RNN_SIZES = [(31, 1, 1, 1), (32, 5, 2, 3), (33, 8, 3, 4), (34, 3, 1, 5)]


def _rtrl_cases(visible: bool) -> list[Case]:
    sizes = [(30, 4, 2, 3)] if visible else RNN_SIZES
    return [Case(f"T={T}, d={d}, h={h}", _rnn(seed, T, d, h)) for seed, T, d, h in sizes]


def _product_cases(visible: bool) -> list[Case]:
    if visible:
        X, h0, W_hx, W_hh, b_h = _rnn(40, 6, 2, 3)
        return [Case("T=6, h=3, t=5, k=2", (tanh_states(X, h0, W_hx, W_hh, b_h), W_hh, 5, 2))]
    cases = []
    for seed, T, h, t, k in ((41, 6, 4, 6, 0), (42, 9, 3, 7, 7), (43, 4, 1, 4, 1), (44, 12, 5, 12, 3)):
        X, h0, W_hx, W_hh, b_h = _rnn(seed, T, 2, h, scale=1.5)
        cases.append(Case(f"T={T}, h={h}, t={t}, k={k}",
                          (tanh_states(X, h0, W_hx, W_hh, b_h), W_hh, t, k)))
    return cases


def _bound_cases(visible: bool) -> list[Case]:
    gaps = [(50, 3, 2)] if visible else [(51, 4, 0), (52, 2, 1), (53, 5, 7), (54, 1, 3)]
    return [Case(f"h={h}, gap={gap}", (_rnn(seed, 1, 1, h, scale=1.3)[3], gap))
            for seed, h, gap in gaps]



CHECKS = {
    "test_coefficients_visible": Check("call", lambda: _lemma_cases(True, False),
                                       against(lemma_coefficients, "C", TOL)),
    "test_coefficients_hidden": Check("call", lambda: _lemma_cases(False, False),
                                      against(lemma_coefficients, "C", TOL)),
    "test_closed_form_visible": Check("call", lambda: _lemma_cases(True, True),
                                      against(lemma_closed_form, "a", TOL)),
    "test_closed_form_hidden": Check("call", lambda: _lemma_cases(False, True),
                                     against(lemma_closed_form, "a", TOL)),
    "test_rtrl_visible": Check("call", lambda: _rtrl_cases(True), against(dh_dWhh, "dh_t/dW_hh", TOL)),
    "test_rtrl_hidden": Check("call", lambda: _rtrl_cases(False), against(dh_dWhh, "dh_t/dW_hh", TOL)),
    "test_product_visible": Check("call", lambda: _product_cases(True),
                                  against(jacobian_product, "dh_t/dh_k", TOL)),
    "test_product_hidden": Check("call", lambda: _product_cases(False),
                                 against(jacobian_product, "dh_t/dh_k", TOL)),
    "test_bound_visible": Check("call", lambda: _bound_cases(True),
                                against(jacobian_bound, "the bound", TOL)),
    "test_bound_hidden": Check("call", lambda: _bound_cases(False),
                               against(jacobian_bound, "the bound", TOL)),
}
